#!/bin/sh
# clawdbot: the gateway's command line for the system LaunchDaemon.
#
# It runs the upstream CLI as the hidden account @USER@ with the daemon's own
# state directory (@STATE_DIR@), so that `sudo clawdbot onboard` stores
# credentials where the gateway reads them, not in the administrator's home,
# and `sudo clawdbot gateway health` talks to the running daemon with its token.
# (`sudo -u` is the right tool: the account has no login session, so
# `launchctl asuser` has no per-user domain to enter.)
set -eu

user='@USER@'
state='@STATE_DIR@'

if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != "$user" ]; then
    echo "clawdbot: this command acts on the system gateway, whose state belongs to the account '$user'." >&2
    echo "clawdbot: run it as an administrator: sudo clawdbot $*" >&2
    exit 77
fi
if ! id -u "$user" >/dev/null 2>&1; then
    echo "clawdbot: the account '$user' does not exist; reinstall the @NAME@ package" >&2
    exit 1
fi

set -- /usr/bin/env -i \
    PATH='@PREFIX@/node/bin':/usr/bin:/bin:/usr/sbin:/sbin \
    HOME="$state" \
    CLAWDBOT_STATE_DIR="$state" \
    CLAWDBOT_CONFIG_PATH="$state/clawdbot.json" \
    CLAWDBOT_GATEWAY_PORT='@PORT@' \
    SHELL='@SHELL@' \
    NODE_OPTIONS=--disable-warning=ExperimentalWarning \
    TERM="${TERM:-dumb}" \
    LANG="${LANG:-en_US.UTF-8}" \
    '@NODE@' '@ENTRY@' "$@"
if [ "$(id -u)" -eq 0 ]; then
    set -- /usr/bin/sudo -u "$user" -- "$@"
fi

cd "$state"
exec "$@"
