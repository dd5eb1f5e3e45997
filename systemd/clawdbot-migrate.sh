#!/bin/sh
# clawdbot-migrate: `sudo clawdbot migrate [--from USER] [--dry-run] [--force]`
# moves a person's per-user gateway (upstream's systemd user unit @USER_UNIT@
# and its state, ~/.clawdbot unless the unit names another) into the system
# service @UNIT@:
#   - stops and disables the person's user unit, and only that;
#   - copies the state and the workspace into @STATE_DIR@ AS @USER@, inside the
#     service's sandbox (root writes nothing there): files 0600, directories
#     0700; what was there moves aside to @STATE_DIR@/pre-migrate-<time>;
#   - rewrites the configuration's paths to the system layout and keeps the
#     person's gateway token, so that paired clients keep working;
#   - starts the service and waits for its health answer.
# The person's files are read as the person (setpriv) and never changed. The
# steps are admin/migrate.sh's, shared with macOS; here is how Linux does each.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077
cd /

user='@USER@'
group='@GROUP@'
unit='@UNIT@'
service="the system service $unit"
service_log="sudo journalctl -u $unit"
state='@STATE_DIR@'
records='@CONFIG_DIR@/migrations'
node='@NODE@'
json5='@APP@/node_modules/json5'
person_service='@USER_UNIT@'
tmp_base=/run
chown=/bin/chown

#include admin/messages.sh

#include systemd/sandboxed.sh

person_lookup() {
    entry=$(/usr/bin/getent passwd -- "$1") || die "$1: no such user"
    uid=$(printf '%s\n' "$entry" | /usr/bin/cut -d: -f3)
    gid=$(printf '%s\n' "$entry" | /usr/bin/cut -d: -f4)
    home=$(printf '%s\n' "$entry" | /usr/bin/cut -d: -f6)
}

# as_person COMMAND...: COMMAND as the person, in a session of its own; what
# it says on stderr goes to a file of root's and is passed on, named.
as_person() {
    _status=0
    /usr/bin/setsid --wait /usr/bin/setpriv --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all -- \
        /usr/bin/env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@" </dev/null 2>"$tmp/said" || _status=$?
    /usr/bin/sed "s/^/clawdbot: ($from) /" "$tmp/said" >&2
    return "$_status"
}

as_service() {
    sandboxed "$@"
}

# The person's user manager, when it runs (logged in, or lingering), asked as
# the person on its own socket (no user D-Bus needed).
user_systemctl() {
    as_person XDG_RUNTIME_DIR="/run/user/$uid" /usr/bin/systemctl --quiet --user "$@"
}

person_definition() {
    as_person /bin/cat -- "$home/.config/systemd/user/$person_service" 2>/dev/null || true
}

definition_env() {
    printf '%s\n' "$definition" | /usr/bin/sed -n "s/^Environment=\"\{0,1\}$1=\([^\"]*\)\"\{0,1\}\$/\1/p" | /usr/bin/tail -n 1
}

# Also whether their user manager answers (reachable), for the plan.
person_probe() {
    reachable=1
    if user_systemctl is-active -- "$person_service" 2>/dev/null; then active=1; fi
    if user_systemctl is-enabled -- "$person_service" 2>/dev/null; then enabled=1; fi
    user_systemctl show-environment >/dev/null 2>&1 || reachable=0
}

person_plan() {
    if [ "$active" -eq 1 ] || [ "$enabled" -eq 1 ]; then
        echo "  1. stop and disable $from's user unit $person_service (the unit file stays)"
    elif [ "$reachable" -eq 0 ] && [ -n "$definition" ]; then
        echo "  1. $from's user manager is not running: disable $person_service at their next login (systemctl --user disable $person_service)"
    else
        echo "  1. $from's user unit $person_service is not running or enabled: nothing to stop"
    fi
}

person_stop() {
    if [ "$active" -eq 1 ] || [ "$enabled" -eq 1 ]; then
        user_systemctl disable --now -- "$person_service" >/dev/null ||
            die "could not stop $from's $person_service; as $from: systemctl --user disable --now $person_service"
        say "stopped and disabled $from's $person_service"
    fi
}

go_back() {
    echo "sudo clawdbot gateway stop; then, as $from: systemctl --user enable --now $person_service"
}

service_stop() {
    /usr/bin/systemctl stop -- "$unit"
    say "stopped $unit"
}

# It may have given up starting while the person's gateway held the port.
service_start() {
    /usr/bin/systemctl reset-failed -- "$unit" 2>/dev/null || true
    /usr/bin/systemctl start -- "$unit"
}

service_healthy() {
    sandboxed "$node" '@ENTRY@' gateway health </dev/null >/dev/null 2>&1
}

#include admin/migrate.sh
