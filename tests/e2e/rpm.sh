#!/bin/sh
# The .rpm, installed, upgraded and erased with Debian's rpm under Debian's
# systemd: its scriptlets create the user, start, restart and stop the
# service, and keep the state. (Requires are not resolved here: --nodeps; no
# RPM-based distribution is involved.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

# Left readable by everyone, so that only the sandbox hides it.
add_person alice
install -d -m 0755 -o alice -g alice /home/alice/.ssh
echo "-----BEGIN OPENSSH PRIVATE KEY----- alice" > /home/alice/.ssh/id_rsa
chmod 0644 /home/alice/.ssh/id_rsa

check "rpm --initdb --dbpath $RPMDB" rpm --dbpath "$RPMDB" --initdb || abort
check_not "$PKG is not installed before" rpm_do -q "$PKG"

# Install.
t0=$(now_ms)
check "rpm -i --nodeps $(basename "$(rpm_file current)")" rpm_logged -i current || abort
check "rpm lists $PKG $(rpm_file_version current) as installed" expect "$(rpm_file_version current)" rpm_installed_version
check "the database is in $RPMDB, not in root's home" fails test -e /root/.rpmdb
check "user $SVC_USER exists with a system uid" system_id "$(passwd_field "$SVC_USER" 3)"
check "group $SVC_USER exists with a system gid" system_id "$(group_field "$SVC_USER" 3)"
check "user $SVC_USER has no login shell" expect /usr/sbin/nologin passwd_field "$SVC_USER" 7
check "$UNIT is enabled" expect enabled systemctl is-enabled "$UNIT"
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "the gateway answers HTTP 200 on $URL" start_to_http rpm_first_start_to_http200_s &&
    metric rpm_install_to_http200_s "$(seconds_since "$t0")"
check "the first start used the transpile cache shipped in the package" seeded_cache
check "its main process has started node" wait_until "$START_LIMIT" main_runs_node || abort
check "its main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "the state dir is 0700 $SVC_USER:$SVC_USER" expect "700 $SVC_USER $SVC_USER" stat -c '%a %U %G' "$STATE_DIR"
check "the config holds a gateway token" has_token
pid=$(main_pid)
check "(control) alice's key is readable outside the sandbox" cat /home/alice/.ssh/id_rsa
check "(control) $SVC_USER itself can read it outside the sandbox" runuser -u "$SVC_USER" -- cat /home/alice/.ssh/id_rsa
check_not "alice's key is not in the gateway's view of the file system" cat "/proc/$pid/root/home/alice/.ssh/id_rsa"
check "(control) the gateway's view has its config" test -f "/proc/$pid/root$CONFIG"

# Upgrade to a higher release.
old_pid=$(main_pid)
runuser -u "$SVC_USER" -- sh -c "echo 'state written by the service' > $STATE_DIR/e2e-marker"
old_config=$(sha "$CONFIG")
old_token=$(config_token)
old_marker=$(sha "$STATE_DIR/e2e-marker")
old_passwd=$(getent passwd "$SVC_USER")
old_group=$(getent group "$SVC_USER")
t0=$(now_ms)
check "rpm -U --nodeps $(basename "$(rpm_file next)")" rpm_logged -U next || abort
check "rpm lists $PKG $(rpm_file_version next) as installed" expect "$(rpm_file_version next)" rpm_installed_version
check "only one version of $PKG is installed" expect 1 rpm_count
check "the service was restarted: a new main PID (was $old_pid)" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200 after the upgrade" start_to_http rpm_upgrade_start_to_http200_s &&
    metric rpm_upgrade_to_http200_s "$(seconds_since "$t0")"
check "upstream's own per-user start of the same app, timed 3 times after one that warms its caches (the reference)" upstream_starts 3
check "the first start and the upgrade's each took at most $STARTUP_MAX_RATIO of upstream's median start ([service.startup])" starts_kept_promise
check "its main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "the config is byte-identical" expect "$old_config" sha "$CONFIG"
check "the token is unchanged" expect "$old_token" config_token
check "the marker in the state dir is byte-identical" expect "$old_marker" sha "$STATE_DIR/e2e-marker"
check "the user $SVC_USER is the same" expect "$old_passwd" getent passwd "$SVC_USER"
check "the group $SVC_USER is the same" expect "$old_group" getent group "$SVC_USER"
check "no second user or group $SVC_USER" expect "1 1" accounts_named

# A grant of alice's files, which the erase must take back (the user stays).
runuser -u alice -- sh -c 'mkdir -p /home/alice/Documents && echo notes > /home/alice/Documents/notes.txt && chmod 600 /home/alice/Documents/notes.txt'
check "clawdbot grant --no-restart /home/alice/Documents" clawdbot grant --no-restart /home/alice/Documents
check "(control) the grant added ACL entries of $SVC_USER" fails no_acl_of "$SVC_USER" /home/alice

# Erase.
check "rpm -e --nodeps $PKG" rpm_do -e --nodeps "$PKG" || abort
check "the erase removed every ACL entry of $SVC_USER" no_acl_of "$SVC_USER" /home/alice
check "and the grants' drop-in" test ! -e "/etc/systemd/system/$UNIT.d/50-grants.conf"
check_not "rpm no longer lists $PKG" rpm_do -q "$PKG"
check_not "the service is stopped" is_active
check_not "no process of $SVC_USER is left" pgrep -u "$SVC_USER"
check_not "the service is not enabled" test -e "/etc/systemd/system/multi-user.target.wants/$UNIT"
check_not "the unit file is gone" test -e "/usr/lib/systemd/system/$UNIT"
check "the state dir is kept, still 0700 $SVC_USER" expect "700 $SVC_USER" stat -c '%a %U' "$STATE_DIR"
check "the config is kept byte-identical" expect "$old_config" sha "$CONFIG"
check "the marker is kept byte-identical" expect "$old_marker" sha "$STATE_DIR/e2e-marker"
check "the user $SVC_USER is kept" expect "$old_passwd" getent passwd "$SVC_USER"
check "the group $SVC_USER is kept" expect "$old_group" getent group "$SVC_USER"
finish
