#!/bin/sh
# clawdbot: the gateway's command line for the system service.
#
# It runs the upstream CLI as the system user @USER@ with the service's own state
# directory (@STATE_DIR@), so that `sudo clawdbot onboard` stores credentials
# where the gateway reads them, not in the administrator's home, and
# `sudo clawdbot gateway health` talks to the running service with its token.
set -eu

user='@USER@'
group='@GROUP@'
state='@STATE_DIR@'

if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != "$user" ]; then
    echo "clawdbot: this command acts on the system gateway, whose state belongs to the user '$user'." >&2
    echo "clawdbot: run it as root: sudo clawdbot $*" >&2
    exit 77
fi
if ! getent passwd "$user" >/dev/null; then
    echo "clawdbot: the system user '$user' does not exist; reinstall the clawdbot package" >&2
    exit 1
fi

set -- env -i \
    PATH='@NODE_BIN@':/usr/local/bin:/usr/bin:/bin \
    HOME="$state" \
    CLAWDBOT_STATE_DIR="$state" \
    CLAWDBOT_CONFIG_PATH="$state/clawdbot.json" \
    CLAWDBOT_GATEWAY_PORT='@PORT@' \
    SHELL='@SHELL@' \
    TMPDIR='@CACHE_DIR@' \
    NODE_COMPILE_CACHE='@CACHE_DIR@/node' \
    NODE_OPTIONS=--disable-warning=ExperimentalWarning \
    TERM="${TERM:-dumb}" \
    LANG="${LANG:-C.UTF-8}" \
    '@NODE@' '@ENTRY@' "$@"
if [ "$(id -u)" -eq 0 ]; then
    set -- setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs -- "$@"
fi

cd "$state"
exec "$@"
