#!/bin/sh
# clawdbot: the gateway's command line for the system LaunchDaemon, run by
# administrators as `sudo clawdbot ...`.
#
# The service words go to launchd (see usage below); everything else runs the
# upstream CLI as the hidden account @USER@ with the daemon's own state
# directory (@STATE_DIR@), so that `sudo clawdbot onboard` stores credentials
# where the gateway reads them, not in the administrator's home.
#
# The account may be compromised (a prompt-injected model or a plugin runs code
# as it and owns everything in @STATE_DIR@), so as root this script:
#   - calls every program by its absolute path, with PATH reset, and works from
#     "/": it never changes into, reads or executes anything in @STATE_DIR@;
#   - runs the CLI through `sudo -u @USER@` with a fresh environment (`env -i`),
#     inside `script -q /dev/null`, which gives it a new session on a new
#     pseudo-terminal: it never shares root's controlling terminal, so it cannot
#     push keystrokes into root's shell (TIOCSTI). Always, not only when a
#     stream is a terminal.
# (`sudo -u` is the right tool: the account has no login session, so
# `launchctl asuser` has no per-user domain to enter.)
# Run as @USER@ itself, it runs the CLI directly with the same environment.
set -eu
PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
cd /
# Passed on by sudo: what the CLI writes as the account is the account's alone.
umask 077

user='@USER@'
state='@STATE_DIR@'
label='@LABEL@'
plist='@PLIST@'
service="system/$label"

word=''
# shellcheck source=admin/clawdbot-words.sh
. '@WORDS@'
clawdbot_word "$@"

# Runs nothing: for anyone.
if [ "$word" = version ]; then
    echo "@NAME@ @PKG_VERSION@ (system package)"
    exit 0
fi

uid=$(/usr/bin/id -u)
if [ "$uid" -eq 0 ]; then
    as=root
    if ! /usr/bin/id -u "$user" >/dev/null 2>&1; then
        echo "clawdbot: the account '$user' does not exist; reinstall the @NAME@ package" >&2
        exit 1
    fi
elif [ "$uid" = "$(/usr/bin/id -u "$user" 2>/dev/null || true)" ]; then
    as=account
else
    echo "clawdbot: this command acts on the system gateway, whose state belongs to the account '$user'." >&2
    echo "clawdbot: run it as an administrator: sudo clawdbot $*" >&2
    exit 77
fi

# cli run|exec ARGS...: the upstream CLI with ARGS, as the account, with the
# daemon's environment and nothing of the caller's but TERM and LANG.
cli() {
    how=$1
    shift
    set -- /usr/bin/env -i \
        @GATEWAY_ENV_WORDS@
        TERM="${TERM:-dumb}" \
        LANG="${LANG:-en_US.UTF-8}" \
        '@NODE@' '@ENTRY@' "$@"
    if [ "$as" = root ]; then
        set -- /usr/bin/script -q /dev/null /usr/bin/sudo -u "$user" -- "$@"
    fi
    if [ "$how" = exec ]; then
        exec "$@"
    fi
    "$@"
}

loaded() {
    /bin/launchctl print "$service" >/dev/null 2>&1
}

# The words that act on launchd need root.
need_root() {
    if [ "$as" != root ]; then
        echo "clawdbot: this acts on the LaunchDaemon $label: run it as an administrator: sudo clawdbot $*" >&2
        exit 77
    fi
}

bootstrap() {
    /bin/launchctl enable "$service"
    /bin/launchctl bootstrap system "$plist"
}

usage() {
    printf '%s\n' \
        "@NAME@ @PKG_VERSION@ (system package): the gateway is the LaunchDaemon $label," \
        "run as the hidden account $user, with its state in $state." \
        "  sudo clawdbot gateway start|stop|restart   launchctl bootstrap|bootout|kickstart -k" \
        "  sudo clawdbot gateway status               launchd's state and pid, then gateway health" \
        "  sudo clawdbot onboard                      upstream's onboarding, without a per-user service" \
        "  sudo clawdbot reset [--yes]                a new configuration and token (the old one kept aside)" \
        "  sudo clawdbot grant [--write] PATH...      lets the gateway read (or change) PATH, a person's file or directory" \
        "  sudo clawdbot revoke PATH...               takes a grant back; grants: lists them (clawdbot grant --help)" \
        "  sudo clawdbot migrate [--from USER]        moves a per-user gateway (~/.clawdbot, token, workspace) into the daemon" \
        "  sudo clawdbot gateway install|uninstall, node install|uninstall, uninstall, update:" \
        "                                             refused: a system package (see the next line)" \
        "  sudo @UNINSTALL@ [--purge]" \
        "                                             removes the package (--purge: the state and the account too)" \
        "  sudo clawdbot ...                          anything else: upstream's CLI, run as $user" \
        "" \
        "Upstream's help follows." \
        ""
}

case "$word" in
    help)
        usage
        cli exec --help
        ;;
    restart)
        need_root "$@"
        if loaded; then
            /bin/launchctl kickstart -k "$service"
            echo "clawdbot: restarted $label"
        else
            bootstrap
            echo "clawdbot: $label was not loaded; started it"
        fi
        ;;
    start)
        need_root "$@"
        /bin/launchctl enable "$service"
        if loaded; then
            echo "clawdbot: $label is already loaded"
        else
            /bin/launchctl bootstrap system "$plist"
            echo "clawdbot: started $label"
        fi
        ;;
    stop)
        need_root "$@"
        if loaded; then
            /bin/launchctl bootout "$service"
            echo "clawdbot: stopped $label (until the next boot, or sudo clawdbot gateway start)"
        else
            echo "clawdbot: $label is not loaded"
        fi
        ;;
    status)
        if ! summary=$(/bin/launchctl print "$service" 2>/dev/null); then
            echo "$label: not loaded (start it: sudo clawdbot gateway start)"
            exit 3
        fi
        echo "$label:"
        # Only the service's own lines (one tab deep), not those of its sections.
        printf '%s\n' "$summary" | /usr/bin/awk '/^\t(state|pid|last exit code) = / { sub(/^\t/, "  "); print }'
        cli exec gateway health
        ;;
    install)
        echo "clawdbot: the gateway already is a system service: the LaunchDaemon $label, run as $user." >&2
        echo "clawdbot: start or stop it with: sudo clawdbot gateway start|stop" >&2
        echo "clawdbot: remove the package with: sudo @UNINSTALL@ [--purge]" >&2
        exit 1
        ;;
    grant)
        exec '@GRANT@' "$@"
        ;;
    migrate)
        need_root "$@"
        exec '@MIGRATE@' "$@"
        ;;
    update)
        echo "clawdbot: this clawdbot comes from the macOS package @IDENTIFIER@; update it by installing a newer .pkg:" >&2
        echo "clawdbot:   sudo installer -pkg @NAME@-<version>-<arch>.pkg -target /" >&2
        exit 1
        ;;
    onboard)
        status=0
        cli run "$@" --no-install-daemon || status=$?
        if [ "$status" -eq 0 ]; then
            echo "clawdbot: the daemon reads its configuration when it starts: sudo clawdbot gateway restart"
        fi
        exit "$status"
        ;;
    foreground)
        if loaded; then
            echo "clawdbot: the gateway already runs as the LaunchDaemon $label; a second one in the foreground would compete for port @PORT@." >&2
            echo "clawdbot: stop the daemon first (sudo clawdbot gateway stop), or restart it: sudo clawdbot gateway restart" >&2
            exit 1
        fi
        cli exec "$@"
        ;;
    force)
        if loaded; then
            echo "clawdbot: --force kills whatever listens on port @PORT@, which is the LaunchDaemon $label (launchd would start it again)." >&2
            echo "clawdbot: stop the daemon first: sudo clawdbot gateway stop" >&2
            exit 1
        fi
        cli exec "$@"
        ;;
    reset)
        need_root "$@"
        yes=0
        for arg in "$@"; do
            case "$arg" in
                reset) ;;
                -y | --yes) yes=1 ;;
                *)
                    echo "clawdbot: usage: sudo clawdbot reset [--yes] (unknown argument $arg)" >&2
                    exit 2
                    ;;
            esac
        done
        if [ "$yes" -eq 0 ]; then
            if [ ! -t 0 ]; then
                echo "clawdbot: reset replaces the gateway's configuration and token; not on a terminal, so confirm with --yes" >&2
                exit 1
            fi
            printf '%s' "Stop $label, move $state/clawdbot.json aside and write a new one with a new token? [y/N] " >&2
            answer=''
            read -r answer || true
            case "$answer" in
                y | Y | yes | YES | Yes) ;;
                *)
                    echo "clawdbot: nothing changed" >&2
                    exit 1
                    ;;
            esac
        fi
        if loaded; then
            /bin/launchctl bootout "$service"
            echo "clawdbot: stopped $label"
        fi
        # As the account, in a session of its own; the script makes the token.
        status=0
        output=$(/usr/bin/script -q /dev/null /usr/bin/sudo -u "$user" -- \
            /usr/bin/env -i PATH=/usr/bin:/bin HOME="$state" /bin/sh '@FIRST_CONFIG@' reset "$state" </dev/null 2>&1) || status=$?
        cr=$(printf '\r')
        printf '%s\n' "$output" | while IFS= read -r line; do
            line=${line%"$cr"}
            [ -z "$line" ] || printf 'clawdbot: %s\n' "${line#@NAME@-first-config: }"
        done
        bootstrap
        if [ "$status" -ne 0 ]; then
            echo "clawdbot: the new configuration was not written; $label was started again with what is there" >&2
            exit 1
        fi
        echo "clawdbot: started $label with the new configuration; clients need the new token:"
        echo "clawdbot:   sudo clawdbot config get gateway.auth.token"
        ;;
    *)
        cli exec "$@"
        ;;
esac
