#!/bin/sh
# @NAME@-port-check: says who holds the gateway's port when it is not the
# service, and how to move a per-user gateway into the service.
#
# Run as root by the package's scripts after they start the service and by the
# unit after the gateway stopped (ExecStopPost=+, outside the sandbox). Quiet
# when the port is free or the service holds it, and after a clean stop. Reads
# nothing of the state directory. Always exits 0.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

port=${CLAWDBOT_GATEWAY_PORT:-@PORT@}
case "$port" in
    '' | *[!0-9]*) exit 0 ;;
esac
[ "${SERVICE_RESULT:-}" != success ] || exit 0

# The sockets listening on the port (state 0A), from the kernel's tables.
hex=$(printf ':%04X' "$port")
inodes=$(awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
[ -n "$inodes" ] || exit 0

holders=''
for inode in $inodes; do
    fds=$(find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null)
    for fd in $fds; do
        pid=${fd#/proc/}
        pid=${pid%%/*}
        owner=$(stat -c %U "/proc/$pid" 2>/dev/null) || continue
        [ "$owner" != '@USER@' ] || exit 0
        case " $holders " in
            *" $pid:"*) ;;
            *) holders="$holders $pid:$owner" ;;
        esac
    done
done

if [ -z "$holders" ]; then
    echo "@NAME@: port $port is held by another process, not by the service @UNIT@, so the gateway cannot listen."
    echo "@NAME@: if it is a per-user gateway (upstream's clawdbot-gateway user service), move that person's setup"
    echo "@NAME@: into this service with: sudo clawdbot migrate --from THEIR-USER-NAME"
    exit 0
fi
for holder in $holders; do
    pid=${holder%%:*}
    owner=${holder#*:}
    what=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c 1-80 | sed 's/ *$//')
    echo "@NAME@: port $port is held by process $pid of the user $owner ($what), so the service @UNIT@ cannot listen."
    echo "@NAME@: if it is $owner's per-user gateway, move $owner's setup (configuration, token, channels, workspace)"
    echo "@NAME@: into the service and stop theirs with: sudo clawdbot migrate --from $owner   (--dry-run shows the plan)"
done
exit 0
