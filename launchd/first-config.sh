#!/bin/sh
# @NAME@-first-config: writes the gateway's first configuration. The one place
# that says what it contains; run by the postinstall script and by
# `sudo @NAME@ reset`, always AS THE ACCOUNT @USER@ (never as root: it refuses),
# so that nothing the account could have planted in its state directory
# (links, hard links, FIFOs) is ever opened by root.
#
#   @NAME@-first-config new DIR     write DIR/clawdbot.json if there is none
#   @NAME@-first-config reset DIR   move DIR/clawdbot.json aside to
#                                   clawdbot.json.reset-<UTC time>, then
#                                   write a new one
#
# The gateway token is made here, from /dev/urandom: it is never an argument,
# never passes through a pipe or a terminal, and is never printed.
set -eu
PATH=/usr/bin:/bin
umask 077

log() {
    echo "@NAME@-first-config: $*" >&2
}

if [ "$(/usr/bin/id -u)" -eq 0 ]; then
    log "refusing to run as root: run it as @USER@"
    exit 1
fi
if [ "$#" -ne 2 ]; then
    log "usage: $0 new|reset DIR"
    exit 2
fi
mode=$1
dir=$2
config="$dir/clawdbot.json"
token=$(/usr/bin/od -An -N32 -tx1 /dev/urandom | /usr/bin/tr -d ' \n')

# Created with O_EXCL (noclobber) and mode 0600: an existing file or link is
# never written through.
write() {
    (
        set -C
        printf '%s\n' @FIRST_CONFIG_WORD@ >"$config"
    )
}

case "$mode" in
    new)
        if [ -e "$config" ] || [ -L "$config" ]; then
            log "keeping the configuration $config"
            exit 0
        fi
        write
        log "wrote $config with a new gateway token"
        ;;
    reset)
        aside="$config.reset-$(/bin/date -u +%Y%m%dT%H%M%SZ)"
        if [ -e "$aside" ] || [ -L "$aside" ]; then
            log "$aside exists; try again in a second"
            exit 1
        fi
        if [ -e "$config" ] || [ -L "$config" ]; then
            # rename(2): a link is moved as the link, never followed.
            /bin/mv -- "$config" "$aside"
            log "moved the configuration aside to $aside"
        fi
        if ! write; then
            log "could not write $config"
            if [ -e "$aside" ] || [ -L "$aside" ]; then
                /bin/mv -- "$aside" "$config" && log "put the old configuration back"
            fi
            exit 1
        fi
        log "wrote $config with a new gateway token"
        ;;
    *)
        log "unknown mode $mode (new or reset)"
        exit 2
        ;;
esac
