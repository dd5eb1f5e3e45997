#!/bin/sh
# Writes the gateway's first configuration, with a new random access token,
# when there is none:
#
#   @NAME@-first-config           only if @STATE_DIR@/clawdbot.json is absent
#   @NAME@-first-config --reset   keep the current one as clawdbot.json.reset-<time>
#                                 and write a new one (`sudo clawdbot reset`)
#
# Runs as @USER@ inside the service's sandbox: before every start of the
# gateway (ExecStartPre) and of the admin command's transient units. Never as
# root, never on an installer's terminal, and never through a link: the file is
# created with O_EXCL (noclobber), so an existing file, link or FIFO is not
# written through.
set -eu

state='@STATE_DIR@'
config="$state/clawdbot.json"

if [ "$(id -un)" != '@USER@' ]; then
    echo "@NAME@-first-config: runs as @USER@ inside the service's sandbox, not as $(id -un)" >&2
    exit 1
fi
umask 077

if [ "${1:-}" = --reset ]; then
    if [ -e "$config" ] || [ -L "$config" ]; then
        aside="$config.reset-$(date -u +%Y%m%dT%H%M%SZ)"
        mv -- "$config" "$aside"
        echo "@NAME@: the previous configuration is kept as $aside"
    fi
elif [ "$#" -gt 0 ]; then
    echo "usage: @NAME@-first-config [--reset]" >&2
    exit 2
fi

if [ -e "$config" ] || [ -L "$config" ]; then
    exit 0
fi

token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
set -C
printf '%s\n' @FIRST_CONFIG_WORD@ >"$config"
echo "@NAME@: wrote $config with a new gateway token"
