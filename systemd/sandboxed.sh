# shellcheck shell=sh disable=SC2154
# Runs a command as @USER@ with the very sandbox of @UNIT@: included
# (#include) by the admin command and by `clawdbot migrate`, which define say
# and $unit and $user.

# The [Service] settings of the installed unit and its drop-ins, one a line:
# everything but how it is started, stopped and restarted. ExecStartPre stays:
# what runs as the service user before the gateway's code runs before the CLI's.
sandbox_properties() {
    /usr/bin/systemctl cat -- "$unit" | /usr/bin/awk '
        /^\[/ { section = $0; next }
        section != "[Service]" || /^[#;]/ || !/=/ { next }
        /^(Type|ExecStart|ExecStartPost|ExecCondition|ExecReload|ExecStop|ExecStopPost|Restart[A-Za-z]*|Timeout[A-Za-z]*|WatchdogSec|RuntimeMaxSec|RemainAfterExit|PIDFile|NotifyAccess|SuccessExitStatus)=/ { next }
        { print }'
}

# sandboxed COMMAND...: COMMAND as a transient service with the unit's user and
# sandbox. When any of the caller's streams is a terminal, the service gets a
# pseudo-terminal of its own (a terminal handed to the sandbox could be typed
# into with TIOCSTI or reconfigured); otherwise the caller's pipes and files.
# Returns the command's exit status.
sandboxed() {
    if [ -t 0 ] || [ -t 1 ] || [ -t 2 ]; then
        mode=--pty
    else
        mode=--pipe
    fi
    if ! props=$(sandbox_properties) || [ -z "$props" ]; then
        say "cannot read the unit $unit (systemctl cat $unit); is the @NAME@ package installed?"
        return 1
    fi
    count=$#
    set -f
    old_ifs=$IFS
    IFS='
'
    for prop in $props; do
        set -- "$@" -p "$prop"
    done
    IFS=$old_ifs
    set +f
    set -- "$@" --
    # Rotate the command behind the properties, each $ written $$: systemd
    # expands $NAME and ${NAME} in the command line of a unit (systemd-run has
    # --expand-environment=no only from systemd 254), and the admin's words
    # reach the CLI as typed.
    while [ "$count" -gt 0 ]; do
        arg=$1
        shift
        escaped=''
        while :; do
            case "$arg" in
                *'$'*)
                    escaped="$escaped${arg%%\$*}\$\$"
                    arg=${arg#*\$}
                    ;;
                *)
                    escaped="$escaped$arg"
                    break
                    ;;
            esac
        done
        set -- "$@" "$escaped"
        count=$((count - 1))
    done
    # Interrupted or hung up: the transient unit ends with the command.
    trap '/usr/bin/systemctl stop -- "clawdbot-cli-$$.service" 2>/dev/null; exit 130' INT TERM HUP
    status=0
    /usr/bin/systemd-run --quiet --wait --collect "$mode" \
        --unit="clawdbot-cli-$$" --description="clawdbot admin command (as $user, in the sandbox of $unit)" \
        "$@" || status=$?
    trap - INT TERM HUP
    return "$status"
}

