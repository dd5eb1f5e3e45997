#!/bin/sh
# Install: apt-get installs the package as an administrator would, and the
# gateway comes up as its own locked-down system user.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

add_person alice
t0=$(now_ms)
check "apt-get install ./clawdbot_*.deb resolves Depends and installs" install_pkg current || abort
check "user $SVC_USER exists with a system uid" system_id "$(passwd_field "$SVC_USER" 3)"
check "group $SVC_USER exists with a system gid" system_id "$(group_field "$SVC_USER" 3)"
check "user $SVC_USER has no login shell" expect /usr/sbin/nologin passwd_field "$SVC_USER" 7
check "$UNIT is enabled" expect enabled systemctl is-enabled "$UNIT"
check "$UNIT is active" wait_until "$START_LIMIT" is_active
check "the gateway answers HTTP 200 on $URL" start_to_http first_start_to_http200_s &&
    metric install_to_http200_s "$(seconds_since "$t0")"
check "the first start used the transpile cache shipped in the package" seeded_cache
check "its main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "sudo clawdbot gateway health --json reports ok (token from the state dir)" gateway_healthy
check "the state dir is 0700 $SVC_USER:$SVC_USER" expect "700 $SVC_USER $SVC_USER" stat -c '%a %U %G' "$STATE_DIR"
check "the config holds a gateway token" has_token
check "the config is 0600 $SVC_USER" expect "600 $SVC_USER" stat -c '%a %U' "$CONFIG"
check_not "an ordinary user cannot read the config with the token" runuser -u alice -- cat "$CONFIG"
check_not "an ordinary user cannot list the state dir" runuser -u alice -- ls "$STATE_DIR"
check_not "the wrapper refuses an ordinary user" runuser -u alice -- clawdbot gateway health
check "systemctl restart $UNIT" systemctl restart "$UNIT"
check "the gateway answers HTTP 200 after a restart" start_to_http restart_to_http200_s
restarts 3
check "5 starts were timed" expect 5 timed_starts
check "upstream's own per-user start of the same app, timed 3 times after one that warms its caches (the reference)" upstream_starts 3
check "the first start and 4 restarts keep [service.startup] against upstream's median start: median at most $STARTUP_MEDIAN_RATIO of it, each at most $STARTUP_MAX_RATIO" starts_kept_promise
finish
