#!/bin/sh
# Prepares the state of the clawdbot gateway: its state and cache directories
# (mode 0700, owned by @USER@). The first configuration and its token are not
# written here: the service writes them itself, as @USER@ inside its sandbox,
# before its first start (@FIRST_CONFIG@).
#
# Run as root by the package's install scripts after the user exists. Safe to
# run again at any time: it never replaces or loosens anything that exists and
# runs nothing as the service user, so nothing of the service user's ever gets
# the installer's terminal or session.
set -eu

user='@USER@'
group='@GROUP@'
state='@STATE_DIR@'
cache='@CACHE_DIR@'

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
