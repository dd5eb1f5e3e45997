#!/bin/sh
# Prepares the state of the clawdbot gateway: its state and cache directories
# (mode 0700, owned by @USER@) and, only if there is none yet, a first
# configuration with a random access token.
#
# Run as root by the package's install scripts after the user exists. Safe to
# run again at any time: it never replaces or loosens anything that exists, and
# every write inside the state directory is done as @USER@, so a link that the
# service user planted there cannot redirect a write of root's.
set -eu

user='@USER@'
group='@GROUP@'
state='@STATE_DIR@'
cache='@CACHE_DIR@'
config="$state/clawdbot.json"

if [ "$(id -u)" -ne 0 ]; then
    echo "clawdbot-setup: must be run as root" >&2
    exit 1
fi
if ! getent passwd "$user" >/dev/null; then
    echo "clawdbot-setup: the system user '$user' does not exist" >&2
    exit 1
fi

# The directories live in root-owned parents (/var/lib, /var/cache), so only
# root could have put a link there; refuse one all the same rather than follow it.
for dir in "$state" "$cache"; do
    if [ -L "$dir" ]; then
        echo "clawdbot-setup: $dir is a symbolic link; refusing to use it" >&2
        exit 1
    fi
done
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create '@TMPFILES_NAME@'
else
    install -d -m 0700 -o "$user" -g "$group" "$state" "$cache"
fi

as_user() {
    setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs -- "$@"
}

if as_user test -e "$config" || as_user test -L "$config"; then
    exit 0
fi

token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
# The token goes through standard input, never on a command line; "$1" is
# expanded by the inner shell.
# shellcheck disable=SC2016
as_user sh -c 'umask 077 && set -C && cat > "$1"' sh "$config" <<JSON
{
  "gateway": {
    "mode": "local",
    "port": @PORT@,
    "bind": "loopback",
    "auth": { "mode": "token", "token": "$token" }
  },
  "agents": { "defaults": { "workspace": "$state/workspace" } },
  "logging": { "file": "$state/logs/gateway.log" }
}
JSON
echo "clawdbot-setup: wrote $config with a new gateway token"
