# shellcheck shell=sh
# The grants of personal files to @USER@: what `clawdbot grant` records and
# how every entry it added is taken away again. Included (#include) by the
# grant command and by the package's removal scripts (purge, rpm erase), which
# must undo every grant after the command itself is gone.
#
# Records, one a line, tab-separated, in $grants_file (root's, 0644):
#   grant   r|rw    SECONDS   WHO   PATH     PATH shared (r: read, rw: read-write)
#   parent  PATH    FOR                      the search (x) entry grant FOR added on PATH
# Paths are canonical and contain no tab, newline or space (see clawdbot-grant).
# Commands are called by name: the grant command and the maintainer scripts run
# with PATH set to the system directories.

grants_file='@CONFIG_DIR@/grants'
grants_dropin_dir='/etc/systemd/system/@UNIT@.d'
grants_dropin="$grants_dropin_dir/50-grants.conf"

# grants_as UID COMMAND...: COMMAND as the user UID (with its groups; with
# nogroup when no account has that uid), in a session of its own; as root for
# UID 0. Callers give it no stream of root's: /dev/null, or pipes they read.
# A walk by path name done as a file's owner can change only what that owner
# could change anyway, wherever a swapped link leads it.
grants_as() {
    _uid=$1
    shift
    if [ "$_uid" = 0 ]; then
        "$@"
        return
    fi
    _gid=$(getent passwd "$_uid" | cut -d: -f4)
    if [ -n "$_gid" ]; then
        setsid --wait setpriv --reuid="$_uid" --regid="$_gid" --init-groups --inh-caps=-all -- "$@"
    else
        setsid --wait setpriv --reuid="$_uid" --regid=65534 --clear-groups --inh-caps=-all -- "$@"
    fi
}

# grants_pause: stops every process of @USER@ (SIGSTOP sent with kill(-1) as
# that user, which no fork escapes) and waits until each of their threads is
# stopped, so that none can swap a file for a link while entries are changed
# by name; grants_resume continues them. systemd must not start a new one
# meanwhile: the pause is taken only while @UNIT@ runs with its main process
# stopped, or does not run and is not about to (a gateway that exits is started
# again after RestartSec). While the unit starts or restarts, it waits for it
# (at most 30 s). Without the account, nothing to do.
grants_pause() {
    grants_uid=$(id -u '@USER@' 2>/dev/null) || grants_uid=''
    [ -n "$grants_uid" ] || return 0
    _waits=0
    while :; do
        if grants_settled; then
            grants_as "$grants_uid" sh -c 'kill -s STOP -- -1' </dev/null >/dev/null 2>&1 || true
            _tries=0
            while [ -n "$(grants_running)" ]; do
                _tries=$((_tries + 1))
                if [ "$_tries" -gt 100 ]; then
                    echo "@NAME@: these processes of @USER@ did not stop within 5 s: $(grants_running | tr '\n' ' ')" >&2
                    grants_resume
                    return 1
                fi
                sleep 0.05
            done
            # Still so, with everything stopped: no process exited meanwhile.
            grants_settled stopped && return 0
            grants_as "$grants_uid" sh -c 'kill -s CONT -- -1' </dev/null >/dev/null 2>&1 || true
        fi
        _waits=$((_waits + 1))
        if [ "$_waits" -gt 300 ]; then
            echo "@NAME@: @UNIT@ is starting or restarting and did not settle within 30 s; try again once it runs (systemctl status @UNIT@)" >&2
            grants_uid=''
            return 1
        fi
        sleep 0.1
    done
}

# grants_settled [stopped]: whether systemd would start no process of @UNIT@
# while its processes are stopped: it runs, with its main process alive (with
# "stopped": stopped), or it is dead or failed. Without systemd, nothing would.
grants_settled() {
    [ -d /run/systemd/system ] || return 0
    _sub=$(systemctl show -P SubState -- '@UNIT@' 2>/dev/null) || return 1
    case "$_sub" in
        # Not about to start: no start job queued (systemd moves a unit that
        # restarts through dead while the job waits).
        dead | failed)
            [ -z "$(systemctl show -P Job -- '@UNIT@' 2>/dev/null)" ]
            return
            ;;
        running) ;;
        *) return 1 ;;
    esac
    _main=$(systemctl show -P MainPID -- '@UNIT@' 2>/dev/null) || return 1
    _state=$(awk '/^State:/ { print $2 }' "/proc/${_main:-0}/status" 2>/dev/null) || return 1
    case "$_state" in
        T | t) return 0 ;;
        R | S | D | I) [ "${1:-}" != stopped ] ;;
        *) return 1 ;;
    esac
}

grants_resume() {
    if [ -n "${grants_uid:-}" ]; then
        grants_as "$grants_uid" sh -c 'kill -s CONT -- -1' </dev/null >/dev/null 2>&1 || true
        grants_uid=''
    fi
}

# grants_running: the threads of @USER@ that are not stopped.
grants_running() {
    cat /proc/[0-9]*/task/[0-9]*/status 2>/dev/null | awk -v uid="$grants_uid" '
        /^State:/ { state = $2 }
        /^Pid:/ { pid = $2 }
        /^Uid:/ { if (($2 == uid || $3 == uid) && state !~ /^[TtZX]$/) print pid }'
}

# Reads getfacl output (a blank line after each file); prints the files whose
# ACL has no entry of a named user or group left (only the mask, or a bare
# default ACL a grant made), for setfacl -b: their mode bits are then exactly
# as before the grant. getfacl writes \ooo for some bytes; a name with a
# newline is skipped. (No awk functions: lintian takes "function" for bash.)
# shellcheck disable=SC2016 # an awk program: its $ are awk's
grants_tidy_awk='
BEGIN { RS = ""; FS = "\n" }
{
    file = ""
    extended = 0
    named = 0
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^# file: /) file = substr($i, 9)
        else if ($i ~ /^(default:)?(user|group):[^:]+:/) named = 1
        else if ($i ~ /^mask::/ || $i ~ /^default:/) extended = 1
    }
    if (file == "" || !extended || named) next
    name = ""
    for (i = 1; i <= length(file); i++) {
        c = substr(file, i, 1)
        t = substr(file, i + 1, 3)
        if (c == "\\" && t ~ /^[0-7][0-7][0-7]$/) {
            name = name sprintf("%c", substr(t, 1, 1) * 64 + substr(t, 2, 1) * 8 + substr(t, 3, 1))
            i += 3
        } else {
            name = name c
        }
    }
    if (index(name, "\n") == 0) print name
}'

# grants_unshare_as UID -R|-d PATH: as the user UID, removes @USER@'s entries
# (access and default) from PATH, and with -R from everything below it, never
# following a link; then drops what is left of an ACL with no named entry.
grants_unshare_as() {
    if [ "$2" = -R ]; then
        grants_as "$1" setfacl -R -P -x 'u:@USER@' -- "$3" </dev/null >/dev/null 2>&1 || true
        grants_as "$1" find -P "$3" -type d -exec setfacl -x 'd:u:@USER@' -- {} + </dev/null >/dev/null 2>&1 || true
        grants_as "$1" getfacl -R -P --absolute-names -- "$3" </dev/null 2>/dev/null |
            LC_ALL=C awk "$grants_tidy_awk" |
            grants_as "$1" xargs -r -d '\n' setfacl -b -- >/dev/null 2>&1 || true
    else
        grants_as "$1" setfacl -x 'u:@USER@' -- "$3" </dev/null >/dev/null 2>&1 || true
        grants_as "$1" getfacl --absolute-names -- "$3" </dev/null 2>/dev/null |
            LC_ALL=C awk "$grants_tidy_awk" |
            grants_as "$1" xargs -r -d '\n' setfacl -b -- >/dev/null 2>&1 || true
    fi
}

# grants_unshare PATH: removes @USER@'s entries from PATH and everything below
# it: first as @USER@, while it can still reach them, from the files it owns
# (those it made under a read-write grant), then as PATH's owner. Call it
# between grants_pause and grants_resume.
grants_unshare() {
    if [ -L "$1" ] || [ ! -e "$1" ]; then
        return 0
    fi
    _owner=$(stat -c %u -- "$1")
    _svc=$(id -u '@USER@' 2>/dev/null || true)
    if [ -n "$_svc" ] && [ "$_svc" != "$_owner" ]; then
        grants_unshare_as "$_svc" -R "$1"
    fi
    grants_unshare_as "$_owner" -R "$1"
}

# grants_unshare_parent PATH: removes the search entry a grant added on PATH.
grants_unshare_parent() {
    if [ -d "$1" ] && [ ! -L "$1" ]; then
        grants_unshare_as "$(stat -c %u -- "$1")" -d "$1"
    fi
}

# grants_remove_all: every entry of every grant, the records and the drop-in.
grants_remove_all() {
    if [ -f "$grants_file" ] && ! command -v setfacl >/dev/null 2>&1; then
        # The records stay too, until setfacl can take the entries away.
        if [ -s "$grants_file" ]; then
            echo "@NAME@: setfacl is missing (package acl): the ACL entries of these grants stay (setfacl -R -x u:@USER@ PATH takes them away):" >&2
            cat -- "$grants_file" >&2
        fi
    elif [ -f "$grants_file" ]; then
        if grants_pause; then
            while IFS='	' read -r kind f2 _f3 _f4 f5; do
                case "$kind" in
                    grant) grants_unshare "$f5" ;;
                    parent) grants_unshare_parent "$f2" ;;
                esac
            done < "$grants_file"
            grants_resume
            rm -f -- "$grants_file"
        else
            echo "@NAME@: nothing was taken back; the ACL entries of these grants stay (setfacl -R -x u:@USER@ PATH takes them away):" >&2
            cat -- "$grants_file" >&2
        fi
    fi
    if [ -f "$grants_dropin" ]; then
        rm -f -- "$grants_dropin"
        rmdir -- "$grants_dropin_dir" 2>/dev/null || true
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload || true
        fi
    fi
}
