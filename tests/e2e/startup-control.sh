#!/bin/sh
# shellcheck disable=SC2317 # functions called through check
# The control of the install scenario's start-up promise ([service.startup] in
# clawdbot.toml): the same gateway without what makes its starts quick must
# break it, started and restarted as often. Otherwise the install scenario's
# check would prove nothing. Without them means: the package built without its
# transpile cache (--no-transpile-cache), and the unit without
# JITI_TRY_NATIVE, as upstream's per-user service runs (so jiti transpiles every
# module at the first start). Either alone is not enough: without the cache
# alone, the first start takes a few tenths of a second longer.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

dropin=/etc/systemd/system/$UNIT.d/60-startup-control.conf
without_native_loading() {
    mkdir -p "${dropin%/*}" &&
        printf '[Service]\nUnsetEnvironment=JITI_TRY_NATIVE\n' > "$dropin"
}

check "a drop-in takes JITI_TRY_NATIVE out of the unit's environment" without_native_loading || abort
check "apt-get install ./clawdbot_*.deb (built with --no-transpile-cache)" install_pkg bare || abort
check "the package ships no transpile cache" test ! -e "$SEED"
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "the gateway answers HTTP 200 on $URL (transpiling at its first start)" start_to_http control_first_start_to_http200_s || abort
check "its main process runs without JITI_TRY_NATIVE" fails main_env_has JITI_TRY_NATIVE
restarts 4
check "5 starts were timed" expect 5 timed_starts
check "upstream's own per-user start of the same app, timed 3 times after one that warms its caches (the reference)" upstream_starts 3 || abort
check_not "the first start and 4 restarts break [service.startup] against upstream's median start: median at most $STARTUP_MEDIAN_RATIO of it, each at most $STARTUP_MAX_RATIO" starts_kept_promise
finish
