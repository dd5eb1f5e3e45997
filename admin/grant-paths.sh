# shellcheck shell=sh disable=SC2154
# What `clawdbot grant` accepts, on every platform: included (#include) by the
# grant command of each, which defines die, owner_of PATH (the uid owning PATH
# itself, not what a link points to), canonical PATH (the path with no link,
# . or ..), home_dirs (the home directory of every account, one a line) and
# $user (the service user).

# check_path PATH: refuses what cannot be granted; prints the canonical path.
check_path() {
    case "$1" in
        /*) ;;
        *) die "$1: give the absolute path (for example: sudo clawdbot grant \"\$PWD/$1\")" ;;
    esac
    case "$1" in
        *[!A-Za-z0-9._/@+,~=-]*)
            die "$1: only letters, digits and . _ / @ + , ~ = - can be granted (the path is written into the service's configuration); rename it or grant a directory above it"
            ;;
    esac
    [ -e "$1" ] || die "$1: no such file or directory"
    _canon=$(canonical "$1") || die "$1: cannot resolve the path"
    # What a link leads to is written into the configuration too.
    case "$_canon" in
        /*[!A-Za-z0-9._/@+,~=-]* | [!/]* | '')
            die "$1: leads to a path with other characters than letters, digits and . _ / @ + , ~ = -; grant a directory above it"
            ;;
    esac
    # A link anywhere in the path is accepted only from root or the path's
    # owner, and the owner is not $user: its own files need no grant, and a
    # link of its own must not choose what is granted.
    _owner=$(owner_of "$_canon")
    if [ "$_owner" = "$(id -u "$user")" ]; then
        die "$1: belongs to $user (the gateway) already; nothing to grant"
    fi
    _part=''
    _rest=${1#/}
    while [ -n "$_rest" ]; do
        _part="$_part/${_rest%%/*}"
        case "$_rest" in
            */*) _rest=${_rest#*/} ;;
            *) _rest='' ;;
        esac
        if [ -L "$_part" ]; then
            _link_owner=$(owner_of "$_part")
            if [ "$_link_owner" != 0 ] && [ "$_link_owner" != "$_owner" ]; then
                die "$1: $_part is a symbolic link of user $_link_owner, who owns neither the system nor the path: refused"
            fi
        fi
    done
    printf '%s\n' "$_canon"
}

# why_refused PATH: the reason PATH needs --force, if any.
why_refused() {
    case "$1" in
        /) echo "it is the whole file system"; return 0 ;;
        /etc | /etc/* | /private/etc | /private/etc/*) echo "it is system configuration (/etc)"; return 0 ;;
        /root | /root/* | /var/root | /var/root/* | /private/var/root | /private/var/root/*) echo "it is root's home"; return 0 ;;
    esac
    case "/$1/" in
        */.ssh/* | */.gnupg/* | */.password-store/* | */.local/share/keyrings/* | */.pki/* | */.aws/* | */.azure/* | \
            */.config/gcloud/* | */.kube/* | */.docker/* | */.mozilla/* | */.config/google-chrome/* | */.config/chromium/* | \
            */.config/BraveSoftware/* | */.thunderbird/* | */snap/firefox/* | */.netrc/* | */.git-credentials/* | \
            */Library/Keychains/* | */Library/Cookies/* | */Library/Mail/* | */Library/Messages/* | */Library/Safari/*)
            echo "it is, or is inside, a store of secrets (keys, passwords, credentials, mail, a browser profile)"
            return 0
            ;;
    esac
    if [ -n "$(find -P "$1" -prune ! -type d -links +1 2>/dev/null)" ]; then
        echo "it has other names (hard links), and the grant would share it under each of them"
        return 0
    fi
    for _home in $(home_dirs); do
        case "$_home" in
            / | '' | /nonexistent | /dev/null | /var/empty) continue ;;
        esac
        if [ "$1" = "$_home" ]; then
            echo "it is the whole home directory of a user"
            return 0
        fi
        case "$_home/" in
            "$1"/*)
                echo "it contains the home directory $_home"
                return 0
                ;;
        esac
    done
    return 0
}
