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

say() {
    printf 'clawdbot: %s\n' "$*" >&2
}

die() {
    say "$@"
    exit 1
}

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

# Records of kind grant: "MODE SECONDS WHO PATH", one a line.
grant_lines() {
    [ -f "$grants_file" ] || return 0
    /usr/bin/awk -F '\t' '$1 == "grant" { print $2 "\t" $3 "\t" $4 "\t" $5 }' "$grants_file"
}

granted_mode() {
    grant_lines | /usr/bin/awk -F '\t' -v p="$1" '$4 == p { print $1 }'
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
    [ "$count" -gt 0 ] || die "nothing to $1 (see: sudo clawdbot $1 --help)"
    write_dropin
    /usr/bin/systemctl daemon-reload
    if [ "$restart" -eq 1 ] && /usr/bin/systemctl is-active --quiet -- "$unit"; then
        say "restarting $unit so that it sees the change (--no-restart defers it)"
        /usr/bin/systemctl restart -- "$unit"
    elif /usr/bin/systemctl is-active --quiet -- "$unit"; then
        say "the change takes effect at the next start: sudo clawdbot gateway restart"
    fi
}

# share PATH PERM: the ACL entries of a grant, made as PATH's owner: what
# belongs to others below PATH stays as it is (and is named).
share() {
    owner=$(/usr/bin/stat -c %u -- "$1")
    if ! out=$(grants_as "$owner" /usr/bin/setfacl -m "u:$user:$2" -- "$1" </dev/null 2>&1); then
        case "$out" in
            *"not supported"*) die "$1: its file system does not support POSIX ACLs (mount it with the acl option, or grant a path on another file system)" ;;
            *) die "$1: setfacl failed: $out" ;;
        esac
    fi
    if [ -d "$1" ]; then
        # What $user made under a read-write grant is its own already.
        out=$(grants_as "$owner" /usr/bin/find -P "$1" ! -type l ! -user "$user" \
            -exec /usr/bin/setfacl -m "u:$user:$2" -- {} + \
            -type d -exec /usr/bin/setfacl -m "d:u:$user:$2" -- {} + </dev/null 2>&1) || true
        left=$(printf '%s\n' "$out" | /usr/bin/grep -E 'Operation not permitted|Permission denied' | /usr/bin/sort -u)
        if [ -n "$left" ]; then
            say "$1: left unshared what its owner ($(/usr/bin/id -nu "$owner" 2>/dev/null || echo "$owner")) may not change:"
            printf '%s\n' "$left" | /usr/bin/head -n 10 | /usr/bin/sed 's/^/    /' >&2
        fi
    fi
}

# The parents of PATH that $user cannot search get a bare x entry, recorded.
open_parents() {
    dir=$1
    while :; do
        dir=$(/usr/bin/dirname -- "$dir")
        if in_hidden_tree "$dir/x"; then
            # Inside the sandbox these are directories of its own tmpfs.
            [ "$dir" = / ] && break
            continue
        fi
        # Asked of the kernel as $user, in a session of its own with no stream
        # of root's: a process of $user never holds root's terminal.
        if ! /usr/bin/setsid --wait /usr/sbin/runuser -u "$user" -- /usr/bin/test -x "$dir" </dev/null >/dev/null 2>&1; then
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

# forget PATH: removes the grant of PATH, its entries and its parents' entries
# that no other grant needs. Prints what is left of others' entries.
forget() {
    grants_unshare "$1"
    others=$(/usr/bin/awk -F '\t' -v p="$1" '$1 == "parent" && $3 != p { print $2 }' "$grants_file")
    /usr/bin/awk -F '\t' -v p="$1" '$1 == "parent" && $3 == p { print $2 }' "$grants_file" | while IFS= read -r dir; do
        if ! printf '%s\n' "$others" | /usr/bin/grep -qxF -- "$dir"; then
            grants_unshare_parent "$dir"
        fi
    done
    tmp="$grants_file.new.$$"
    /usr/bin/awk -F '\t' -v p="$1" '!(($1 == "grant" && $5 == p) || ($1 == "parent" && $3 == p))' "$grants_file" > "$tmp"
    mv -f -- "$tmp" "$grants_file"
    if [ -e "$1" ]; then
        left=$(grants_named -R -- "$1")
        if [ -n "$left" ]; then
            say "$1: removed the entries of $user; left the entries others added:"
            printf '%s\n' "$left" | /usr/bin/sed 's/^/    /' >&2
        fi
    fi
}

command=${1:-}
[ "$#" -gt 0 ] && shift
write=0
force=0
restart=1
for arg in "$@"; do
    case "$arg" in
        --write) write=1 ;;
        --force) force=1 ;;
        --no-restart) restart=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option $arg (see: sudo clawdbot grant --help)" ;;
        *) ;;
    esac
done

case "$command" in
    grant)
        [ "$(/usr/bin/id -u)" -eq 0 ] || die "run it as root: sudo clawdbot grant"
        perm_dir=rX
        perm_file=r
        mode=r
        if [ "$write" -eq 1 ]; then
            perm_dir=rwX
            perm_file=rw
            mode=rw
        fi
        # No process of $user runs while entries are changed by name.
        grants_pause || die "nothing changed: the processes of $user must stop while the entries change"
        trap grants_resume EXIT
        trap 'exit 130' HUP INT TERM
        count=0
        for arg in "$@"; do
            case "$arg" in -*) continue ;; esac
            canon=$(check_path "$arg")
            reason=$(why_refused "$canon")
            if [ -n "$reason" ] && [ "$force" -eq 0 ]; then
                die "$canon: refused, $reason; grant a smaller directory, or add --force if you mean it"
            fi
            if [ -n "$(granted_mode "$canon")" ]; then
                say "$canon: already granted ($(granted_mode "$canon")); replacing the grant"
                forget "$canon"
            fi
            touch -- "$grants_file"
            chmod 0644 -- "$grants_file"
            printf 'grant\t%s\t%s\t%s\t%s\n' "$mode" "$(/usr/bin/date +%s)" "${SUDO_USER:-root}" "$canon" >> "$grants_file"
            if [ -d "$canon" ]; then perm=$perm_dir; else perm=$perm_file; fi
            if ! (share "$canon" "$perm"); then
                forget "$canon"
                exit 1
            fi
            open_parents "$canon"
            if [ "$mode" = rw ]; then
                say "granted: $user may read and change $canon"
            else
                say "granted: $user may read $canon"
            fi
            count=$((count + 1))
        done
        grants_resume
        apply_change grant
        ;;
    revoke)
        [ "$(/usr/bin/id -u)" -eq 0 ] || die "run it as root: sudo clawdbot revoke"
        # No process of $user runs while entries are changed by name.
        grants_pause || die "nothing changed: the processes of $user must stop while the entries change"
        trap grants_resume EXIT
        trap 'exit 130' HUP INT TERM
        count=0
        for arg in "$@"; do
            case "$arg" in -*) continue ;; esac
            case "$arg" in
                /*) ;;
                *) die "$arg: give the absolute path, as 'sudo clawdbot grants' lists it" ;;
            esac
            canon=$arg
            if [ -z "$(granted_mode "$canon")" ] && [ -e "$arg" ]; then
                canon=$(/usr/bin/realpath -e -- "$arg")
            fi
            [ -n "$(granted_mode "$canon")" ] || die "$arg: not granted (see: sudo clawdbot grants)"
            forget "$canon"
            say "revoked: $user may no longer use $canon"
            count=$((count + 1))
        done
        grants_resume
        apply_change revoke
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
