#!/bin/sh
# @NAME@-grant (macOS): `sudo clawdbot grant|revoke|grants`, explicit and
# revocable access of the daemon account @USER@ to some of a person's files.
#
#   @NAME@-grant grant [--write] [--force] PATH...
#   @NAME@-grant revoke PATH...
#   @NAME@-grant revoke-all          (the uninstaller's --purge)
#   @NAME@-grant grants
#
# A grant is ACL entries for @USER@ (chmod +a), recorded in @GRANTS@ so that a
# revoke removes exactly those:
#   - on PATH and everything below it: read, or read-write; on directories
#     inherited by what is made in them later (file_inherit, directory_inherit);
#   - a bare search entry on each parent directory @USER@ could not traverse.
# macOS has no per-service file sandbox: what the entries allow, the daemon
# reaches, and nothing else of a person's.
# The entries are made as PATH's owner (sudo -u), who can share only what is
# theirs, while the gateway is stopped and every other process of @USER@ is
# paused (SIGSTOP), so that none can swap a file for a link under the walk. Run
# by the admin command as root.
set -eu
PATH=/usr/bin:/bin:/usr/sbin:/sbin
export PATH
umask 022
cd /

user='@USER@'
grants_file='@GRANTS@'
label='@LABEL@'
plist='@PLIST@'

# The rights of a grant, for files and for directories (macOS's ACL names).
file_r='read,readattr,readextattr,readsecurity'
file_rw="$file_r,write,append,writeattr,writeextattr"
dir_r='list,search,readattr,readextattr,readsecurity,file_inherit,directory_inherit'
dir_rw="$dir_r,add_file,add_subdirectory,delete_child,writeattr,writeextattr"

#include admin/messages.sh

usage() {
    cat <<EOF
usage: sudo clawdbot grant [--write] [--force] PATH...
       sudo clawdbot revoke PATH...
       sudo clawdbot grants

grant     lets the gateway (account $user) read PATH, or with --write also
          change it; a directory is shared with everything below it, now and
          later (ACL entries, chmod +a).
revoke    takes the grant of PATH back: every ACL entry it added goes.
grants    lists the grants: path, access, when, by whom, whether in effect.

While the entries change, the gateway is stopped and every other process of
$user paused (SIGSTOP), so that none can swap a file for a link under it; the
entries are made as the owner of PATH, who can share only what is theirs.

PATH is absolute. Refused without --force: /, a whole home directory or what
contains one, /etc, root's home, and stores of secrets (.ssh, .gnupg, keychains,
mail, browser profiles, cloud credentials). macOS's privacy protection may also
guard ~/Documents, ~/Desktop and ~/Downloads: the gateway reads there only if
@NODE@ has Full Disk Access (System Settings, Privacy & Security).
EOF
}

# How macOS names a path's owner, its canonical form and the homes.
owner_of() {
    /usr/bin/stat -f %u -- "$1"
}

canonical() {
    if [ -d "$1" ]; then
        (cd -P -- "$1" && pwd -P)
    else
        _dir=$(cd -P -- "$(/usr/bin/dirname -- "$1")" && pwd -P) || return 1
        _base=$(/usr/bin/basename -- "$1")
        [ ! -L "$_dir/$_base" ] || die "$1: is a symbolic link; grant what it points to"
        printf '%s/%s\n' "${_dir%/}" "$_base"
    fi
}

home_dirs() {
    /usr/bin/dscl . -list /Users NFSHomeDirectory | /usr/bin/awk '{ $1 = ""; sub(/^ +/, ""); print }' | /usr/bin/sort -u
}

#include admin/grant-paths.sh
#include admin/grant-records.sh

# name_of UID: the account name of UID.
name_of() {
    /usr/bin/dscl . -list /Users UniqueID | /usr/bin/awk -v u="$1" '$2 == u { print $1; exit }'
}

# as UID COMMAND...: COMMAND as the account UID, in a session of its own on a
# pseudo-terminal of its own (script), with no stream of root's; as root for 0.
as() {
    _uid=$1
    shift
    if [ "$_uid" = 0 ]; then
        "$@" </dev/null
        return
    fi
    _name=$(name_of "$_uid")
    [ -n "$_name" ] || { say "no account has the uid $_uid"; return 1; }
    /usr/bin/script -q /dev/null /usr/bin/sudo -u "$_name" -- "$@" </dev/null
}

# pause: stops the gateway and every other process of $user, and waits until
# all are stopped; resume continues them and starts the gateway again. launchd
# starts a daemon that exits again by itself (KeepAlive), and would start it
# unpaused in the middle of the walk: so the loaded daemon is unloaded first
# (bootout, which ends its processes) and loaded again by resume.
daemon_uid=''
reload=0
pause() {
    daemon_uid=$(service_uid) || exit 1
    if /bin/launchctl print "system/$label" >/dev/null 2>&1; then
        /bin/launchctl bootout "system/$label" >/dev/null 2>&1 ||
            die "nothing changed: the gateway could not be stopped (launchctl bootout system/$label)"
        reload=1
    fi
    _tries=0
    while :; do
        as "$daemon_uid" /bin/sh -c 'kill -s STOP -- -1' >/dev/null 2>&1 || true
        _running=$(/bin/ps -A -o uid=,state= | /usr/bin/awk -v u="$daemon_uid" '$1 == u && $2 !~ /^[TZ]/')
        [ -n "$_running" ] || return 0
        _tries=$((_tries + 1))
        if [ "$_tries" -gt 50 ]; then
            resume
            die "nothing changed: the processes of $user did not stop"
        fi
        /bin/sleep 0.1
    done
}

resume() {
    if [ -n "$daemon_uid" ]; then
        as "$daemon_uid" /bin/sh -c 'kill -s CONT -- -1' >/dev/null 2>&1 || true
        daemon_uid=''
    fi
    if [ "$reload" = 1 ]; then
        reload=0
        /bin/launchctl bootstrap system "$plist" >/dev/null 2>&1 ||
            say "the gateway did not start again (launchctl bootstrap system $plist); sudo clawdbot gateway start"
    fi
}

# entries PATH: the indices of $user's ACL entries on PATH (not following a
# link), highest first, so that removing one keeps the others' numbers.
entries() {
    /bin/ls -led -- "$1" 2>/dev/null | /usr/bin/awk -v u="user:$user" '
        $1 ~ /^[0-9]+:$/ && $2 == u { sub(/:$/, "", $1); print $1 }' | /usr/bin/sort -rn
}

# share PATH MODE: the entries of a grant, made as PATH's owner.
share() {
    _owner=$(owner_of "$1")
    if [ -d "$1" ]; then _top=$dir_r; else _top=$file_r; fi
    if [ "$2" = rw ]; then
        if [ -d "$1" ]; then _top=$dir_rw; else _top=$file_rw; fi
    fi
    if ! _out=$(as "$_owner" /bin/chmod +a "$user allow $_top" "$1" 2>&1); then
        case "$_out" in
            *"not supported"*) die "$1: its file system does not support ACLs; grant a path on another file system" ;;
            *) die "$1: chmod +a failed: $_out" ;;
        esac
    fi
    if [ -d "$1" ]; then
        _d=$dir_r _f=$file_r
        [ "$2" = rw ] && _d=$dir_rw _f=$file_rw
        # What $user made under a read-write grant is its own already. A file
        # with more names than one (hard links) is not shared: an entry is the
        # file's, under every name, and macOS lets $user link any file it can
        # reach into a directory it may write. The one walk names those
        # (left_unshared reads its output).
        _out=$(as "$_owner" /usr/bin/find -P "$1" -mindepth 1 ! -type l ! -user "$daemon_uid" \
            \( -type d -exec /bin/chmod +a "$user allow $_d" {} + -o -links 1 -exec /bin/chmod +a "$user allow $_f" {} + \
            -o -exec /usr/bin/printf 'linked\t%s\n' {} + \) 2>&1) || true
        left_unshared "$1" "$(name_of "$_owner")" "$_out"
    fi
}

# place_refused PATH r|rw: nothing on macOS, which binds no path anywhere: the
# entries are all a grant is.
place_refused() {
    :
}

# The parents of PATH that $user cannot search get a bare search entry, recorded.
open_parents() {
    _dir=$1
    while [ "$_dir" != / ]; do
        _dir=$(/usr/bin/dirname -- "$_dir")
        if ! as "$daemon_uid" /bin/test -x "$_dir" >/dev/null 2>&1; then
            if [ -n "$(entries "$_dir")" ]; then
                say "$_dir: has an ACL entry for $user without search permission; left as it is"
            elif as "$(owner_of "$_dir")" /bin/chmod +a "$user allow search" "$_dir" >/dev/null 2>&1; then
                printf 'parent\t%s\t%s\n' "$_dir" "$1" >> "$grants_file"
            else
                say "$_dir: its owner could not give $user the search entry; the gateway may not reach $1"
            fi
        fi
    done
}

# unshare_as UID PATH: as the account UID, removes $user's entries (inherited
# ones too) from PATH and everything below it, never following a link.
unshare_as() {
    /usr/bin/find -P "$2" ! -type l -print 2>/dev/null | while IFS= read -r _f; do
        for _i in $(entries "$_f"); do
            as "$1" /bin/chmod -a# "$_i" "$_f" >/dev/null 2>&1 || true
        done
    done
}

# unshare PATH: first as $user, whose own files (made under a read-write grant)
# only it may change, then as PATH's owner.
unshare() {
    if [ -L "$1" ] || [ ! -e "$1" ]; then
        return 0
    fi
    _owner=$(owner_of "$1")
    [ "$_owner" = "$daemon_uid" ] || unshare_as "$daemon_uid" "$1"
    unshare_as "$_owner" "$1"
}

unshare_parent() {
    if [ -d "$1" ] && [ ! -L "$1" ]; then
        for _i in $(entries "$1"); do
            as "$(owner_of "$1")" /bin/chmod -a# "$_i" "$1" >/dev/null 2>&1 || true
        done
    fi
}

# entries_left PATH: what forget (admin/grant-records.sh) says is left.
entries_left() {
    /usr/bin/find -P "$1" ! -type l -print 2>/dev/null | while IFS= read -r _f; do
        [ -z "$(entries "$_f")" ] || printf '%s: %s entries of %s\n' "$_f" "$(entries "$_f" | /usr/bin/wc -l | /usr/bin/tr -d ' ')" "$user"
    done
}

command=${1:-}
[ "$#" -gt 0 ] && shift
grant_options "$@"

case "$command" in
    grant | revoke | revoke-all)
        [ "$(/usr/bin/id -u)" -eq 0 ] || die "run it as root: sudo clawdbot $command"
        pause
        trap resume EXIT
        trap 'exit 130' HUP INT TERM
        ;;
esac

case "$command" in
    grant) grant_all "$@" ;;
    revoke) revoke_all "$@" ;;
    revoke-all)
        grant_lines | while IFS='	' read -r _mode _when _who path; do
            forget "$path"
            say "revoked: $user may no longer use $path"
        done
        /bin/rm -f -- "$grants_file"
        ;;
    grants)
        if [ -z "$(grant_lines)" ]; then
            echo "no grants: the gateway reads only what the file modes let every account read"
            exit 0
        fi
        printf '%-40s %-10s %-20s %-10s %s\n' PATH ACCESS SINCE BY 'IN EFFECT'
        grant_lines | while IFS='	' read -r mode when who path; do
            access='read'
            [ "$mode" = rw ] && access='read-write'
            effect=yes
            [ -n "$(entries "$path")" ] || effect="no: the ACL entry is gone"
            printf '%-40s %-10s %-20s %-10s %s\n' "$path" "$access" "$(/bin/date -r "$when" '+%Y-%m-%d %H:%M')" "$who" "$effect"
        done
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
