#!/bin/sh
# @NAME@-uninstall: removes the @NAME@ package.
#
#   sudo @BIN@-uninstall           stop the daemon, remove its files and the
#                                  package receipt; keep the state and the account
#   sudo @BIN@-uninstall --purge   also delete @STATE_DIR@ (configuration,
#                                  credentials, logs) and the account @USER@
#
# --root DIR removes the files below DIR instead of / (for an image being
# prepared); launchd and the directory service are always this system's.
set -eu
PATH="${PATH:+$PATH:}/usr/bin:/bin:/usr/sbin:/sbin"

label='@LABEL@'
user='@USER@'
group='@GROUP@'
identifier='@IDENTIFIER@'
prefix='@PREFIX@'
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
            sed -n '2,11s/^# \{0,1\}//p' "$0"
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

rm -rf "${root}@STATE_DIR@"
log "deleted @STATE_DIR@"
status=0
if dscl . -read "/Users/$user" UniqueID >/dev/null 2>&1; then
    if dscl . -delete "/Users/$user"; then
        log "deleted the account $user"
    else
        echo "@NAME@-uninstall: macOS refused to delete the account $user (this happens without a graphical login session, error -14120)." >&2
        echo "@NAME@-uninstall: delete it later with: sudo dscl . -delete /Users/$user" >&2
        status=1
    fi
fi
if dscl . -read "/Groups/$group" PrimaryGroupID >/dev/null 2>&1; then
    if dseditgroup -o delete "$group"; then
        log "deleted the group $group"
    else
        echo "@NAME@-uninstall: macOS refused to delete the group $group; delete it later with: sudo dseditgroup -o delete $group" >&2
        status=1
    fi
fi
exit "$status"
