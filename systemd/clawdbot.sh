#!/bin/sh
# clawdbot: the administrator's command for the clawdbot gateway system service.
#
#   sudo clawdbot COMMAND [OPTIONS]      (clawdbot --help lists what it does)
#
# The upstream CLI runs as @USER@ in a transient systemd service with the very
# sandbox of @UNIT@: its [Service] settings are read from the installed unit
# and its drop-ins each time, so the two cannot drift. When any standard stream
# is a terminal, the CLI gets a pseudo-terminal of its own (systemd-run --pty),
# so that nothing it loads from the state directory (plugins, configuration,
# caches, all writable by @USER@) can type into the caller's terminal, reach
# the caller's session or outlive the command. Root never changes into, reads
# from or executes anything in @STATE_DIR@ or @CACHE_DIR@, and every program
# is called by its absolute path.
#
# Words that upstream maps to a per-user service act on the system service
# instead (see usage below and @WORDS@).
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
cd /

user='@USER@'
unit='@UNIT@'

say() {
    printf 'clawdbot: %s\n' "$*" >&2
}

usage() {
    cat <<EOF
clawdbot @VERSION@: the gateway as the system service $unit,
running as the user $user with its state in @STATE_DIR@.

usage: sudo clawdbot COMMAND [OPTIONS]

Every command runs the gateway's own CLI as $user inside the service's
sandbox, on a terminal of its own. These act on the system service instead:

  gateway restart|start|stop   systemctl restart|start|stop $unit
  gateway status               the service's state and last log lines, then a health probe
  gateway install|uninstall,   refused: it already is a system service
    node install, uninstall    (systemctl enable|disable $unit; apt/dnf remove @NAME@)
  update                       refused: the package manager updates it (apt upgrade, dnf upgrade)
  onboard                      passed on, never installs a per-user service; restart afterwards
  gateway [run], any --force   refused while the service runs (a second gateway, or a kill of it)
  reset                        asks, then writes a new first configuration (new token) and restarts
  grant [--write] PATH...      lets the gateway read (or change) PATH, a person's file or directory
  migrate [--from USER]        moves a per-user gateway (~/.clawdbot, token, workspace) into the service
  revoke PATH...               takes a grant back; grants: lists them (clawdbot grant --help)
  --version                    this package's version

EOF
}

# shellcheck source=admin/clawdbot-words.sh
. '@WORDS@'
clawdbot_word "$@"

if [ "$word" = version ]; then
    echo "clawdbot @VERSION@ (system package, service $unit)"
    exit 0
fi

if [ "$(/usr/bin/id -un)" = "$user" ]; then
    # Already the service's user, for example a tool the gateway runs: there is
    # no privilege to drop and no terminal of root's to protect.
    CLAWDBOT_STATE_DIR=${CLAWDBOT_STATE_DIR:-@STATE_DIR@}
    CLAWDBOT_CONFIG_PATH=${CLAWDBOT_CONFIG_PATH:-@STATE_DIR@/clawdbot.json}
    export CLAWDBOT_STATE_DIR CLAWDBOT_CONFIG_PATH
    exec '@NODE@' '@ENTRY@' "$@"
fi
if [ "$(/usr/bin/id -u)" -ne 0 ]; then
    if [ "$word" = help ]; then
        usage
        echo "(the gateway's own commands are listed for root: sudo clawdbot --help)"
        exit 0
    fi
    say "this command acts on the system gateway, whose state belongs to the user '$user'."
    say "run it as root: sudo clawdbot $*"
    exit 77
fi
if ! /usr/bin/getent passwd "$user" >/dev/null; then
    say "the system user '$user' does not exist; reinstall the @NAME@ package"
    exit 1
fi

if [ "$word" = help ]; then
    usage
fi
if [ ! -d /run/systemd/system ]; then
    [ "$word" = help ] && exit 0
    say "systemd is not running on this system: this command runs the gateway's CLI"
    say "inside the sandbox of $unit, which needs a running systemd."
    say "only 'clawdbot --version' and 'clawdbot --help' work without it."
    exit 1
fi

systemctl() {
    /usr/bin/systemctl "$@"
}

is_active() {
    systemctl is-active --quiet -- "$unit"
}

#include systemd/sandboxed.sh

# The upstream CLI, in the sandbox.
cli() {
    sandboxed '@NODE@' '@ENTRY@' "$@"
}

refuse_while_active() {
    if is_active; then
        say "$1"
        say "the system service $unit is running; stop it first: sudo clawdbot gateway stop"
        exit 1
    fi
}

case "$word" in
    help)
        echo "The gateway's own commands:"
        cli --help || true
        exit 0
        ;;
    restart)
        systemctl restart -- "$unit"
        say "restarted $unit (main PID $(systemctl show -P MainPID -- "$unit"))"
        ;;
    start)
        systemctl start -- "$unit"
        say "started $unit"
        ;;
    stop)
        systemctl stop -- "$unit"
        say "stopped $unit; it starts again at boot while enabled (systemctl disable $unit)"
        ;;
    status)
        systemctl status --no-pager --lines=10 -- "$unit" || true
        if ! is_active; then
            say "$unit is not running: sudo clawdbot gateway start"
            exit 3
        fi
        echo
        cli gateway health
        ;;
    install)
        say "the gateway already runs as the system service $unit, so '$command${subcommand:+ $subcommand}'"
        say "(which manages a per-user service) is not available here."
        say "at boot: systemctl enable|disable $unit; now: sudo clawdbot gateway start|stop"
        say "remove it: apt remove @NAME@ (apt purge @NAME@ also deletes @STATE_DIR@), or dnf remove @NAME@"
        exit 1
        ;;
    update)
        say "the gateway is updated by the system's package manager, not by itself:"
        say "apt update && apt upgrade   (or: dnf upgrade @NAME@)"
        exit 1
        ;;
    onboard)
        status=0
        cli "$@" --no-install-daemon || status=$?
        say "restart the service to use the new settings: sudo clawdbot gateway restart"
        exit "$status"
        ;;
    foreground)
        refuse_while_active "'clawdbot $command${subcommand:+ $subcommand}' would start a second gateway in the foreground."
        cli "$@"
        ;;
    force)
        refuse_while_active "--force kills whatever listens on the gateway's port, which is the service itself."
        cli "$@"
        ;;
    grant)
        exec '@GRANT@' "$@"
        ;;
    migrate)
        exec '@MIGRATE@' "$@"
        ;;
    reset)
        confirmed=0
        for arg in "$@"; do
            [ "$arg" = --yes ] && confirmed=1
        done
        if [ "$confirmed" -eq 0 ]; then
            if [ ! -t 0 ]; then
                say "reset replaces the gateway's configuration and token; confirm with: sudo clawdbot reset --yes"
                exit 1
            fi
            printf 'Replace the configuration of %s with a new first configuration and token?\n' "$unit"
            printf 'Paired clients must pair again; the current file is kept aside. [y/N] '
            read -r answer || answer=''
            case "$answer" in
                y | Y | yes | YES) ;;
                *)
                    say "nothing changed"
                    exit 1
                    ;;
            esac
        fi
        systemctl stop -- "$unit"
        sandboxed '@FIRST_CONFIG@' --reset
        systemctl start -- "$unit"
        say "wrote a new configuration and token, and started $unit again"
        ;;
    *)
        cli "$@"
        ;;
esac
