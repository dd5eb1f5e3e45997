#!/bin/sh
# @NAME@-uninstall: removes the @NAME@ package.
#
#   sudo @BIN@-uninstall           stop the daemon, remove its files and the
#                                  package receipt; keep the state and the account
#   sudo @BIN@-uninstall --purge   also take back every grant of people's
#                                  files, delete @STATE_DIR@ (configuration,
#                                  credentials, logs), @LOG_DIR@ and the
#                                  account @USER@ (only if the package created
#                                  it)
#
# --root DIR removes the files below DIR instead of / (for an image being
# prepared); launchd and the directory service are always this system's.
set -eu
PATH="${PATH:+$PATH:}/usr/bin:/bin:/usr/sbin:/sbin"
cd /

label='@LABEL@'
user='@USER@'
group='@GROUP@'
identifier='@IDENTIFIER@'
prefix='@PREFIX@'
state_dir='@STATE_DIR@'
purge=0
root=''

while [ "$#" -gt 0 ]; do
    case "$1" in
        --purge) purge=1 ;;
        --root)
            [ "$#" -ge 2 ] || { echo "@NAME@-uninstall: --root needs a directory" >&2; exit 2; }
            root="${2%/}"
            shift
            ;;
        -h | --help)
            sed -n '2,14s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "@NAME@-uninstall: unknown argument $1 (see --help)" >&2
            exit 2
            ;;
    esac
    shift
done

log() {
    echo "@NAME@-uninstall: $*"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "@NAME@-uninstall: must be run as root: sudo $0 $*" >&2
    exit 1
fi

if launchctl print "system/$label" >/dev/null 2>&1; then
    log "stopping $label"
    launchctl bootout "system/$label"
fi
# The grants of people's files go with --purge, taken back by the grant command
# while it is still there; without --purge they stay with the account.
if [ -s "${root}@GRANTS@" ]; then
    if [ "$purge" -eq 1 ] && [ -z "$root" ]; then
        log "taking back every grant of people's files"
        if ! '@GRANT@' revoke-all; then
            echo "@NAME@-uninstall: the grants could not all be taken back; nothing was removed (see above)" >&2
            exit 1
        fi
    elif [ "$purge" -eq 1 ]; then
        log "kept the grants recorded in ${root}@GRANTS@: their entries are on that system's files"
    else
        log "kept the grants of people's files (sudo clawdbot grants lists them; --purge takes them back)"
    fi
fi
rm -f "$root/Library/LaunchDaemons/$label.plist"
for link in "${root}@BIN@" "${root}@BIN@-uninstall"; do
    if [ -L "$link" ]; then
        case "$(readlink "$link")" in
            "$prefix"/*) rm -f "$link" ;;
        esac
    fi
done
rm -rf "$root$prefix"
log "removed $prefix and the LaunchDaemon"
if pkgutil --pkg-info "$identifier" >/dev/null 2>&1; then
    pkgutil --forget "$identifier" >/dev/null
    log "forgot the package receipt $identifier"
fi

if [ "$purge" -eq 0 ]; then
    log "kept @STATE_DIR@ and the account $user; run with --purge to delete them"
    exit 0
fi

# The state, owned by the account, which may be compromised: its contents are
# deleted AS THE ACCOUNT, so that no link or race in it can make root delete
# anything else; root then removes the emptied directory from its own /var/db.
state="$root$state_dir"
if [ -L "$state" ]; then
    rm -f "$state"
elif [ -d "$state" ]; then
    if dscl . -read "/Users/$user" UniqueID >/dev/null 2>&1; then
        sudo -u "$user" -- /usr/bin/find "$state" -mindepth 1 -delete || true
        if ! rmdir "$state"; then
            echo "@NAME@-uninstall: $state_dir could not be emptied; delete it with: sudo rm -rf $state_dir" >&2
            exit 1
        fi
    else
        # No account, so nobody who could change it while it goes.
        rm -rf "$state"
    fi
fi
log "deleted $state_dir"
rm -rf "${root}@LOG_DIR@"
log "deleted @LOG_DIR@"
rm -f "${root}@MIGRATIONS@"

# The account and the group, only if the postinstall script recorded that the
# package created them.
record="${root}@ACCOUNT_RECORD@"
recorded() {
    if [ -f "$record" ]; then
        awk -F= -v key="$1" '$1 == key { print $2; exit }' "$record"
    fi
}
status=0
user_gone=1
if dscl . -read "/Users/$user" UniqueID >/dev/null 2>&1; then
    if [ "$(recorded user)" != created ]; then
        log "kept the account $user: this package did not create it (delete it yourself if nothing else uses it: sudo dscl . -delete /Users/$user)"
        user_gone=0
    elif dscl . -delete "/Users/$user"; then
        log "deleted the account $user"
    else
        echo "@NAME@-uninstall: macOS refused to delete the account $user (this happens without a graphical login session, error -14120)." >&2
        echo "@NAME@-uninstall: delete it later with: sudo dscl . -delete /Users/$user" >&2
        status=1
        user_gone=0
    fi
fi
if dscl . -read "/Groups/$group" PrimaryGroupID >/dev/null 2>&1; then
    if [ "$(recorded group)" != created ] || [ "$user_gone" -eq 0 ]; then
        log "kept the group $group: this package did not create it, or its account is kept"
    elif dseditgroup -o delete "$group"; then
        log "deleted the group $group"
    else
        echo "@NAME@-uninstall: macOS refused to delete the group $group; delete it later with: sudo dseditgroup -o delete $group" >&2
        status=1
    fi
fi
if [ "$status" -eq 0 ]; then
    rm -f "$record"
fi
exit "$status"
