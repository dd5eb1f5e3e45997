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

# grants_named PATH...: the ACL entries of a named user or group on PATH (and,
# with -R first, below it), as "path: entry" lines.
grants_named() {
    getfacl --absolute-names -P "$@" 2>/dev/null | awk '
        /^# file: / { file = substr($0, 9); next }
        /^(default:)?(user|group):[^:]+:/ { print file ": " $0 }'
}

# grants_tidy PATH: drops the ACL of PATH altogether when no entry of a named
# user or group is left in it (only the mask, or the bare default ACL a grant
# made): the mode bits are then exactly as before the grant.
grants_tidy() {
    if [ -z "$(grants_named -- "$1")" ]; then
        setfacl -b -- "$1" 2>/dev/null || true
    fi
}

# grants_unshare PATH: removes @USER@'s entries (access, and default on
# directories) from PATH and everything below it, never following a link.
grants_unshare() {
    if [ -L "$1" ] || [ ! -e "$1" ]; then
        return 0
    fi
    if [ -d "$1" ]; then
        setfacl -R -P -x 'u:@USER@' -- "$1" 2>/dev/null || true
        find -P "$1" -type d -exec setfacl -x 'd:u:@USER@' -- {} + 2>/dev/null || true
        # What is left of an ACL with only the mask goes (mode bits as before).
        find -P "$1" \( -type f -o -type d \) -print | while IFS= read -r f; do
            grants_tidy "$f"
        done
    else
        setfacl -x 'u:@USER@' -- "$1" 2>/dev/null || true
        grants_tidy "$1"
    fi
}

# grants_unshare_parent PATH: removes the search entry a grant added on PATH.
grants_unshare_parent() {
    if [ -d "$1" ] && [ ! -L "$1" ]; then
        setfacl -x 'u:@USER@' -- "$1" 2>/dev/null || true
        grants_tidy "$1"
    fi
}

# grants_remove_all: every entry of every grant, the records and the drop-in.
grants_remove_all() {
    if [ -s "$grants_file" ] && ! command -v setfacl >/dev/null 2>&1; then
        echo "@NAME@: setfacl is missing (package acl): the ACL entries of these grants stay:" >&2
        cat -- "$grants_file" >&2
    fi
    if [ -f "$grants_file" ]; then
        while IFS='	' read -r kind f2 _f3 _f4 f5; do
            case "$kind" in
                grant) grants_unshare "$f5" ;;
                parent) grants_unshare_parent "$f2" ;;
            esac
        done < "$grants_file"
        rm -f -- "$grants_file"
    fi
    if [ -f "$grants_dropin" ]; then
        rm -f -- "$grants_dropin"
        rmdir -- "$grants_dropin_dir" 2>/dev/null || true
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload || true
        fi
    fi
}
