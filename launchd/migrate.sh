#!/bin/sh
# @NAME@-migrate (macOS): `sudo clawdbot migrate [--from USER] [--dry-run]
# [--force]` moves a person's per-user gateway (upstream's LaunchAgent
# gui/<uid>/@LABEL@ and its state, ~/.clawdbot unless the agent names another)
# into the LaunchDaemon system/@LABEL@:
#   - boots the person's LaunchAgent out and disables it (its plist stays);
#   - copies the state and the workspace into @STATE_DIR@ AS @USER@ (root
#     writes nothing there): files 0600, directories 0700; what was there moves
#     aside to @STATE_DIR@/pre-migrate-<time>;
#   - rewrites the configuration's paths to the system layout and keeps the
#     person's gateway token, so that paired clients keep working;
#   - starts the daemon and waits for its health answer.
# The person's files are read as the person (sudo -u, in a session of its own
# on a pseudo-terminal of its own: script) and never changed. The steps are
# admin/migrate.sh's, shared with Linux; here is how macOS does each.
set -eu
PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
umask 077
cd /

user='@USER@'
state='@STATE_DIR@'
records='@MIGRATIONS@'
node='@NODE@'
json5='@APP@/node_modules/json5'
label='@LABEL@'
service="the LaunchDaemon system/$label"
service_log="sudo tail @LOG_DIR@/gateway.err.log"
person_service="the LaunchAgent $label"
tmp_base=/var/run
chown=/usr/sbin/chown

#include admin/messages.sh

group=$(/usr/bin/id -g "$user") || die "the account $user does not exist; reinstall the package"

person_lookup() {
    uid=$(/usr/bin/id -u "$1" 2>/dev/null) || die "$1: no such user"
    gid=$(/usr/bin/dscl . -read "/Users/$1" PrimaryGroupID | /usr/bin/awk '{ print $2 }')
    home=$(/usr/bin/dscl . -read "/Users/$1" NFSHomeDirectory | /usr/bin/awk '{ $1 = ""; sub(/^ +/, ""); print }')
    if [ -z "$gid" ] || [ -z "$home" ]; then
        die "$1: the directory service gives no group or home"
    fi
}

# as_NAME COMMAND...: COMMAND as the account NAME, in a session of its own on a
# pseudo-terminal of its own (script), with no stream of root's; what it says
# (on the pseudo-terminal: stdout and stderr) on stdout, without carriage returns.
as_account() {
    _name=$1
    _home=$2
    shift 2
    _status=0
    _out=$(/usr/bin/script -q /dev/null /usr/bin/sudo -u "$_name" -- \
        /usr/bin/env -i HOME="$_home" PATH=/usr/bin:/bin:/usr/sbin:/sbin LANG=en_US.UTF-8 "$@" </dev/null) || _status=$?
    [ -z "$_out" ] || printf '%s\n' "$_out" | /usr/bin/tr -d '\r'
    return "$_status"
}

as_person() {
    as_account "$from" "$home" "$@"
}

as_service() {
    as_account "$user" "$state" "$@"
}

agent_plist() {
    printf '%s/Library/LaunchAgents/%s.plist\n' "$home" "$label"
}

person_definition() {
    if as_person /bin/test -f "$(agent_plist)"; then
        as_person /bin/cat -- "$(agent_plist)" || true
    fi
}

# KEY's value in the plist's EnvironmentVariables, written as upstream writes
# it (<key>KEY</key> and <string>VALUE</string> on the next line).
definition_env() {
    printf '%s\n' "$definition" | /usr/bin/awk -v key="<key>$1</key>" '
        want && /<string>/ { sub(/^[ \t]*<string>/, ""); sub(/<\/string>[ \t]*$/, ""); value = $0; want = 0; next }
        { want = ($0 ~ /^[ \t]*<key>/ && index($0, key) > 0) }
        END { print value }'
}

person_probe() {
    if /bin/launchctl print "gui/$uid/$label" >/dev/null 2>&1; then active=1; fi
    if [ -n "$definition" ] && ! /bin/launchctl print-disabled "gui/$uid" 2>/dev/null |
        /usr/bin/awk -v l="\"$label\"" '$1 == l && ($3 == "disabled" || $3 == "true") { found = 1 } END { exit !found }'; then
        enabled=1
    fi
}

person_plan() {
    if [ "$active" -eq 1 ] || [ "$enabled" -eq 1 ]; then
        echo "  1. boot out and disable $from's LaunchAgent gui/$uid/$label (its plist stays)"
    else
        echo "  1. $from's LaunchAgent gui/$uid/$label is not loaded or enabled: nothing to stop"
    fi
}

person_stop() {
    if [ "$active" -eq 1 ]; then
        /bin/launchctl bootout "gui/$uid/$label" ||
            die "could not stop $from's LaunchAgent; as $from: launchctl bootout gui/$uid/$label"
    fi
    if [ "$active" -eq 1 ] || [ "$enabled" -eq 1 ]; then
        /bin/launchctl disable "gui/$uid/$label"
        say "stopped and disabled $from's LaunchAgent gui/$uid/$label"
    fi
}

go_back() {
    echo "sudo clawdbot gateway stop; then sudo launchctl enable gui/$uid/$label; and, as $from: launchctl bootstrap gui/$uid $(agent_plist)"
}

loaded() {
    /bin/launchctl print "system/$label" >/dev/null 2>&1
}

service_stop() {
    if loaded; then
        /bin/launchctl bootout "system/$label"
        say "stopped system/$label"
    fi
}

service_start() {
    /bin/launchctl enable "system/$label"
    loaded || /bin/launchctl bootstrap system '@PLIST@'
}

# The admin command's own health check: the CLI as the account, with the
# daemon's environment.
service_healthy() {
    '@CLI@' gateway health </dev/null >/dev/null 2>&1
}

#include admin/migrate.sh
