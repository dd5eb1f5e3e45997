#!/bin/sh
# clawdbot-grant: `sudo clawdbot grant|revoke|grants`, explicit and revocable
# access of the gateway (the user @USER@) to some of a person's files.
#
#   clawdbot-grant grant [--write] [--force] [--no-restart] PATH...
#   clawdbot-grant revoke [--no-restart] PATH...
#   clawdbot-grant grants
#
# A grant is two things, recorded together in @CONFIG_DIR@/grants so that a
# revoke removes exactly what the grant added:
#   - permission: POSIX ACL entries for @USER@ on PATH (read, or read-write;
#     default entries on directories, so that new files are shared too) and a
#     bare search (x) entry on each parent outside the home directories that
#     @USER@ could not traverse;
#   - visibility: the drop-in @UNIT@.d/50-grants.conf, generated from the
#     records, binds just those paths into the sandbox (the home directories
#     are an empty tmpfs otherwise). The admin command's sandbox reads the same
#     drop-in.
# Run by the admin command as root; never follows a link it did not check.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022
cd /

user='@USER@'
unit='@UNIT@'

#include systemd/grants-lib.sh

# grants_named PATH...: the ACL entries of a named user or group on PATH (and,
# with -R first, below it), as "path: entry" lines.
grants_named() {
    /usr/bin/getfacl --absolute-names -P "$@" 2>/dev/null | /usr/bin/awk '
        /^# file: / { file = substr($0, 9); next }
        /^(default:)?(user|group):[^:]+:/ { print file ": " $0 }'
}

#include admin/messages.sh

usage() {
    cat <<EOF
usage: sudo clawdbot grant [--write] [--force] [--no-restart] PATH...
       sudo clawdbot revoke [--no-restart] PATH...
       sudo clawdbot grants

grant     lets the gateway (user $user) read PATH, or with --write also change
          it; a directory is shared with everything below it, now and later.
revoke    takes the grant of PATH back: every ACL entry it added goes.
grants    lists the grants: path, access, when, by whom, whether in effect.

While the entries change, every process of $user is paused (SIGSTOP), so that
none can swap a file for a link under it; the entries are made as the owner of
PATH, who can share only what is theirs.

PATH is absolute. Refused without --force: /, a whole home directory or what
contains one, /etc, /root, and stores of secrets (.ssh, .gnupg, .password-store,
keyrings, browser profiles, cloud credentials). The service restarts to see a
change, unless --no-restart (then: sudo clawdbot gateway restart).
EOF
}

# How this system names a path's owner, its canonical form and the homes.
owner_of() {
    /usr/bin/stat -c %u -- "$1"
}

canonical() {
    /usr/bin/realpath -e -- "$1"
}

home_dirs() {
    /usr/bin/getent passwd | /usr/bin/cut -d: -f6 | /usr/bin/sort -u
}

#include admin/grant-paths.sh
#include admin/grant-records.sh

# Whether PATH lies in what the sandbox replaces by an empty tmpfs (ProtectHome).
in_hidden_tree() {
    case "$1" in
        /home/* | /root/* | /run/user/*) return 0 ;;
    esac
    return 1
}

write_dropin() {
    if [ -z "$(grant_lines)" ]; then
        rm -f -- "$grants_dropin"
        rmdir -- "$grants_dropin_dir" 2>/dev/null || true
        return 0
    fi
    mkdir -p -- "$grants_dropin_dir"
    tmp="$grants_dropin.new.$$"
    {
        echo "# Written by 'clawdbot grant' from $grants_file: change it with"
        echo "# sudo clawdbot grant|revoke, not here."
        echo "[Service]"
        echo "ProtectHome=tmpfs"
        grant_lines | while IFS='	' read -r mode _when _who path; do
            # Recorded before the characters of where links lead were checked.
            if ! unit_path "$path"; then
                say "$path: not bound into the sandbox: other characters than letters, digits and . _ / @ + , ~ = -; revoke it"
                continue
            fi
            if [ "$mode" = rw ]; then
                echo "BindPaths=-$path"
            else
                echo "BindReadOnlyPaths=-$path"
            fi
        done
    } > "$tmp"
    chmod 0644 -- "$tmp"
    mv -f -- "$tmp" "$grants_dropin"
}

# apply_change grant|revoke: after $count paths, the drop-in and the service.
apply_change() {
    write_dropin
    /usr/bin/systemctl daemon-reload
    if [ "$restart" -eq 1 ] && /usr/bin/systemctl is-active --quiet -- "$unit"; then
        say "restarting $unit so that it sees the change (--no-restart defers it)"
        /usr/bin/systemctl restart -- "$unit"
    elif /usr/bin/systemctl is-active --quiet -- "$unit"; then
        say "the change takes effect at the next start: sudo clawdbot gateway restart"
    fi
}

# share PATH r|rw: the ACL entries of a grant, made as PATH's owner: what
# belongs to others below PATH stays as it is (and is named).
share() {
    if [ "$2" = rw ]; then set -- "$1" rwX; else set -- "$1" rX; fi
    [ -d "$1" ] || set -- "$1" "${2%X}"
    owner=$(/usr/bin/stat -c %u -- "$1")
    if ! out=$(grants_as "$owner" /usr/bin/setfacl -m "u:$user:$2" -- "$1" </dev/null 2>&1); then
        case "$out" in
            *"not supported"*) die "$1: its file system does not support POSIX ACLs (mount it with the acl option, or grant a path on another file system)" ;;
            *) die "$1: setfacl failed: $out" ;;
        esac
    fi
    if [ -d "$1" ]; then
        # What $user made under a read-write grant is its own already. A file
        # with more names than one (hard links) is not shared: an entry is the
        # file's, under every name, and another may lie outside PATH.
        # The one walk names those (left_unshared reads its output).
        out=$(grants_as "$owner" /usr/bin/find -P "$1" ! -type l ! -user "$user" \
            \( ! -type d -links +1 -exec /usr/bin/printf 'linked\t%s\n' {} + \
            -o -exec /usr/bin/setfacl -m "u:$user:$2" -- {} + \
            -type d -exec /usr/bin/setfacl -m "d:u:$user:$2" -- {} + \) </dev/null 2>&1) || true
        left_unshared "$1" "$(/usr/bin/id -nu "$owner" 2>/dev/null || echo "$owner")" "$out"
    fi
}

# The parents of PATH that $user cannot search get a bare x entry, recorded.
open_parents() {
    dir=$1
    svc_uid=$(service_uid)
    while :; do
        dir=$(/usr/bin/dirname -- "$dir")
        if in_hidden_tree "$dir/x"; then
            # Inside the sandbox these are directories of its own tmpfs.
            [ "$dir" = / ] && break
            continue
        fi
        # Asked of the kernel as $user (grants_as: setpriv, in a session of
        # its own with no stream of root's). Not runuser: its PAM session
        # (pam_systemd on Fedora and its kin) would start a systemd user manager
        # of $user outside the sandbox, with units $user may write.
        if ! grants_as "$svc_uid" /usr/bin/test -x "$dir" </dev/null >/dev/null 2>&1; then
            if /usr/bin/getfacl --omit-header --absolute-names -- "$dir" 2>/dev/null | /usr/bin/grep -q "^user:$user:"; then
                say "$dir: has an ACL entry for $user without search permission; left as it is"
            else
                if grants_as "$(/usr/bin/stat -c %u -- "$dir")" /usr/bin/setfacl -m "u:$user:x" -- "$dir" </dev/null >/dev/null 2>&1; then
                    printf 'parent\t%s\t%s\n' "$dir" "$1" >> "$grants_file"
                else
                    say "$dir: its owner could not give $user the search entry; the gateway may not reach $1"
                fi
            fi
        fi
        [ "$dir" = / ] && break
    done
}

# place_refused PATH r|rw: systemd finds every bound path again at each start,
# following links: a path that $user could replace (a directory above it that
# $user may write: its own, or one granted --write) would let it choose what is
# bound into the sandbox then. So is a --write grant above an existing grant.
place_refused() {
    svc_uid=$(service_uid)
    _dir=$1
    while [ "$_dir" != / ]; do
        _dir=$(/usr/bin/dirname -- "$_dir")
        if grants_as "$svc_uid" /usr/bin/test -w "$_dir" </dev/null >/dev/null 2>&1; then
            echo "$user may change $_dir and so could put something else in its place before the service starts; it reaches what $_dir holds already, or grant a path outside it"
            return 0
        fi
    done
    if [ "$2" = rw ]; then
        _below=$(grant_lines | /usr/bin/awk -F '\t' -v p="$1/" 'index($4, p) == 1 { print $4 }' | /usr/bin/tr '\n' ' ')
        if [ -n "$_below" ]; then
            echo "$user could then replace what is granted below it (${_below% }); revoke that first"
        fi
    fi
}

# What forget (admin/grant-records.sh) calls.
unshare() {
    grants_unshare "$1"
}

unshare_parent() {
    grants_unshare_parent "$1"
}

entries_left() {
    grants_named -R -- "$1"
}

command=${1:-}
[ "$#" -gt 0 ] && shift
grant_options "$@"

case "$command" in
    grant | revoke)
        [ "$(/usr/bin/id -u)" -eq 0 ] || die "run it as root: sudo clawdbot $command"
        # No process of $user runs while entries are changed by name.
        grants_pause || die "nothing changed: the processes of $user must stop while the entries change"
        trap grants_resume EXIT
        trap 'exit 130' HUP INT TERM
        if [ "$command" = grant ]; then grant_all "$@"; else revoke_all "$@"; fi
        grants_resume
        apply_change "$command"
        ;;
    grants)
        if [ -z "$(grant_lines)" ]; then
            echo "no grants: the gateway sees no one's home directory"
            exit 0
        fi
        started=$(/usr/bin/systemctl show -P ActiveEnterTimestampMonotonic -- "$unit" 2>/dev/null || echo 0)
        binds=$(/usr/bin/systemctl show -P BindPaths -P BindReadOnlyPaths -- "$unit" 2>/dev/null || true)
        printf '%-40s %-10s %-20s %-10s %s\n' PATH ACCESS SINCE BY 'IN EFFECT'
        grant_lines | while IFS='	' read -r mode when who path; do
            access='read'
            [ "$mode" = rw ] && access='read-write'
            effect=yes
            if ! /usr/bin/getfacl --omit-header --absolute-names -- "$path" 2>/dev/null | /usr/bin/grep -q "^user:$user:"; then
                effect="no: the ACL entry is gone"
            elif ! printf '%s\n' "$binds" | /usr/bin/grep -qF -- "$path"; then
                effect="no: not in the unit (systemctl daemon-reload)"
            elif [ "${started:-0}" = 0 ]; then
                effect="at the next start"
            else
                # Compare with the service's start: a later grant needs a restart.
                now_mono=$(/usr/bin/awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)
                age=$(($(/usr/bin/date +%s) - when))
                if [ "$((now_mono - started))" -gt "$((age * 1000000))" ]; then
                    effect="after a restart (sudo clawdbot gateway restart)"
                fi
            fi
            printf '%-40s %-10s %-20s %-10s %s\n' "$path" "$access" "$(/usr/bin/date -d "@$when" '+%Y-%m-%d %H:%M')" "$who" "$effect"
        done
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
