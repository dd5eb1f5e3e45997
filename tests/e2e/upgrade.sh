#!/bin/sh
# Upgrade to a package of a higher version: the service restarts on the new
# code and keeps its token, configuration, state and user.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

check "apt-get install ./clawdbot_*.deb (the older version)" install_pkg current || abort
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "the gateway answers HTTP 200" start_to_http || abort
old_pid=$(main_pid)
old_config=$(sha "$CONFIG")
old_token=$(config_token)
runuser -u "$SVC_USER" -- sh -c "echo 'state written by the service' > $STATE_DIR/e2e-marker"
old_marker=$(sha "$STATE_DIR/e2e-marker")
old_passwd=$(getent passwd "$SVC_USER")
old_group=$(getent group "$SVC_USER")
old_accounts=$(wc -l < /etc/passwd)

t0=$(now_ms)
check "apt-get install ./clawdbot_*.deb of the higher version upgrades" install_pkg next || abort
check "dpkg has the higher version $(pkg_version next)" expect "$(pkg_version next)" installed_version
check "the service was restarted: a new main PID (was $old_pid)" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200 after the upgrade" start_to_http upgrade_start_to_http200_s &&
    metric upgrade_to_http200_s "$(seconds_since "$t0")"
check "its main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "the config is unchanged" expect "$old_config" sha "$CONFIG"
check "the token is unchanged" expect "$old_token" config_token
check "the marker in the state dir survived unchanged" expect "$old_marker" sha "$STATE_DIR/e2e-marker"
check "the user $SVC_USER is the same" expect "$old_passwd" getent passwd "$SVC_USER"
check "the group $SVC_USER is the same" expect "$old_group" getent group "$SVC_USER"
check "no account was added" expect "$old_accounts" wc -l < /etc/passwd
check "the state dir is still 0700 $SVC_USER" expect "700 $SVC_USER" stat -c '%a %U' "$STATE_DIR"
check "sudo clawdbot gateway health --json reports ok" gateway_healthy
check "upstream's own per-user start of the same app, timed 3 times after one that warms its caches (the reference)" upstream_starts 3
check "the first start and the upgrade's each took at most $STARTUP_MAX_RATIO of upstream's median start ([service.startup])" starts_kept_promise
finish
