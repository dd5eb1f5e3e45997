# shellcheck shell=sh disable=SC2154
# The grant records and the grant and revoke loops, on every platform:
# included (#include) by the grant command of each, after admin/grant-paths.sh.
# The including script sets $user and $grants_file and defines say, die,
# canonical, share PATH r|rw (the entries of a grant), open_parents PATH (a
# search entry on each parent the service user cannot traverse, recorded),
# unshare PATH and unshare_parent DIR (what share and open_parents added),
# entries_left PATH (the ACL entries of others, or of $user that it could not
# take away, on PATH and below, as lines) and place_refused PATH r|rw (why PATH
# cannot be granted where it lies, whatever --force says; nothing if it can).
#
# Records, one a line, tab-separated, in $grants_file (root's, 0644):
#   grant   r|rw    SECONDS   WHO   PATH     PATH shared (r: read, rw: read-write)
#   parent  DIR     FOR                      the search entry grant FOR added on DIR
# Paths are canonical and contain no tab, newline or space (check_path).

# Records of kind grant: "MODE SECONDS WHO PATH", one a line.
grant_lines() {
    [ -f "$grants_file" ] || return 0
    awk -F '\t' '$1 == "grant" { print $2 "\t" $3 "\t" $4 "\t" $5 }' "$grants_file"
}

granted_mode() {
    grant_lines | awk -F '\t' -v p="$1" '$4 == p { print $1 }'
}

# grant_options ARGS...: sets write, force, restart from the options
# (--no-restart means nothing where nothing restarts).
# shellcheck disable=SC2034
grant_options() {
    write=0
    force=0
    restart=1
    for _arg in "$@"; do
        case "$_arg" in
            --write) write=1 ;;
            --force) force=1 ;;
            --no-restart) restart=0 ;;
            -h | --help)
                usage
                exit 0
                ;;
            -*) die "unknown option $_arg (see: sudo clawdbot grant --help)" ;;
            *) ;;
        esac
    done
}

# left_unshared PATH OWNER OUTPUT: names what share's walk over PATH left
# unshared, from the walk's output: what its owner (OWNER, a name) may not
# change (its errors) and the files with other names (hard links), which the
# walk skips and prints as "linked<TAB>NAME" lines.
left_unshared() {
    _out=$(printf '%s\n' "$3" | tr -d '\r')
    _left=$(printf '%s\n' "$_out" | grep -v '^linked	' | grep -E 'Operation not permitted|Permission denied' | sort -u)
    if [ -n "$_left" ]; then
        say "$1: left unshared what its owner ($2) may not change:"
        printf '%s\n' "$_left" | say_list 10
    fi
    _linked=$(printf '%s\n' "$_out" | sed -n 's/^linked	//p')
    if [ -n "$_linked" ]; then
        say "$1: left unshared these files with other names (hard links), which may lie outside it:"
        printf '%s\n' "$_linked" | say_list 10
    fi
}

# forget PATH: removes the grant of PATH, its entries and its parents' entries
# that no other grant needs; says which entries are left.
forget() {
    unshare "$1"
    _others=$(awk -F '\t' -v p="$1" '$1 == "parent" && $3 != p { print $2 }' "$grants_file")
    awk -F '\t' -v p="$1" '$1 == "parent" && $3 == p { print $2 }' "$grants_file" | while IFS= read -r _dir; do
        if ! printf '%s\n' "$_others" | grep -qxF -- "$_dir"; then
            unshare_parent "$_dir"
        fi
    done
    _tmp="$grants_file.new.$$"
    awk -F '\t' -v p="$1" '!(($1 == "grant" && $5 == p) || ($1 == "parent" && $3 == p))' "$grants_file" > "$_tmp"
    mv -f -- "$_tmp" "$grants_file"
    if [ -e "$1" ]; then
        _left=$(entries_left "$1")
        if [ -n "$_left" ]; then
            say "$1: removed the entries of $user that it or the owner may change; left these:"
            printf '%s\n' "$_left" | say_list 20
        fi
    fi
}

# grant_all ARGS...: grants each path of ARGS (options are skipped): checked,
# recorded before any entry is made, shared, its parents opened. Sets count.
grant_all() {
    _mode=r
    [ "$write" -eq 0 ] || _mode=rw
    count=0
    for _arg in "$@"; do
        case "$_arg" in -*) continue ;; esac
        _canon=$(check_path "$_arg")
        _reason=$(why_refused "$_canon")
        if [ -n "$_reason" ] && [ "$force" -eq 0 ]; then
            die "$_canon: refused, $_reason; grant a smaller directory, or add --force if you mean it"
        fi
        _reason=$(place_refused "$_canon" "$_mode")
        [ -z "$_reason" ] || die "$_canon: refused, $_reason"
        if [ -n "$(granted_mode "$_canon")" ]; then
            say "$_canon: already granted ($(granted_mode "$_canon")); replacing the grant"
            forget "$_canon"
        fi
        touch -- "$grants_file"
        chmod 0644 "$grants_file"
        printf 'grant\t%s\t%s\t%s\t%s\n' "$_mode" "$(date +%s)" "${SUDO_USER:-root}" "$_canon" >> "$grants_file"
        if ! (share "$_canon" "$_mode"); then
            forget "$_canon"
            exit 1
        fi
        open_parents "$_canon"
        if [ "$_mode" = rw ]; then
            say "granted: $user may read and change $_canon"
        else
            say "granted: $user may read $_canon"
        fi
        count=$((count + 1))
    done
    [ "$count" -gt 0 ] || die "nothing to grant (see: sudo clawdbot grant --help)"
}

# revoke_all ARGS...: takes back the grant of each path of ARGS, as the grants
# list names it (or the path it resolves to). Sets count.
revoke_all() {
    count=0
    for _arg in "$@"; do
        case "$_arg" in -*) continue ;; esac
        case "$_arg" in
            /*) ;;
            *) die "$_arg: give the absolute path, as 'sudo clawdbot grants' lists it" ;;
        esac
        _canon=$_arg
        if [ -z "$(granted_mode "$_canon")" ] && [ -e "$_arg" ]; then
            _canon=$(canonical "$_arg")
        fi
        [ -n "$(granted_mode "$_canon")" ] || die "$_arg: not granted (see: sudo clawdbot grants)"
        forget "$_canon"
        say "revoked: $user may no longer use $_canon"
        count=$((count + 1))
    done
    [ "$count" -gt 0 ] || die "nothing to revoke (see: sudo clawdbot revoke --help)"
}
