# shellcheck shell=sh disable=SC2154
# What `clawdbot grant` accepts, on every platform: included (#include) by the
# grant command of each, which defines die, owner_of PATH (the uid owning PATH
# itself, not what a link points to), canonical PATH (the path with no link,
# . or ..), home_dirs (the home directory of every account, one a line) and
# $user (the service user).

# service_uid: the uid of $user, or a clear end when the account is missing.
service_uid() {
    /usr/bin/id -u "$user" 2>/dev/null || die "the account $user does not exist; reinstall the package"
}

# unit_path PATH: whether PATH is absolute and holds only letters, digits and
# . _ / @ + , ~ = -: what is written into the service's configuration.
unit_path() {
    case "$1" in
        /*[!A-Za-z0-9._/@+,~=-]* | [!/]* | '') return 1 ;;
    esac
}

# check_path PATH: refuses what cannot be granted; prints the canonical path.
check_path() {
    case "$1" in
        /*) ;;
        *) die "$1: give the absolute path (for example: sudo clawdbot grant \"\$PWD/$1\")" ;;
    esac
    unit_path "$1" ||
        die "$1: only letters, digits and . _ / @ + , ~ = - can be granted (the path is written into the service's configuration); rename it or grant a directory above it"
    [ -e "$1" ] || die "$1: no such file or directory"
    # As canonical prints it, less the one newline it ends with.
    _canon=$(canonical "$1" && echo .) || die "$1: cannot resolve the path"
    _canon=${_canon%.}
    _canon=${_canon%?}
    # What a link leads to is written into the configuration too.
    unit_path "$_canon" ||
        die "$1: leads to a path with other characters than letters, digits and . _ / @ + , ~ = -; grant a directory above it"
    # Its owner is not $user: its own files need no grant.
    _owner=$(owner_of "$_canon")
    _svc=$(service_uid) || exit 1
    if [ "$_owner" = "$_svc" ]; then
        die "$1: belongs to $user (the gateway) already; nothing to grant"
    fi
    # Every link met on the way, in the path as typed and in what the links
    # lead to, is root's or the owner's: no one else's link, $user's least of
    # all, chooses what is granted.
    links_met "$1" "$_owner" || die "$1: $_why: refused"
    printf '%s\n' "$_canon"
}

# links_met PATH OWNER: follows PATH one name at a time, as the kernel does,
# and fails (saying why in $_why) at the first link that belongs to neither
# root nor OWNER, or if the walk does not end where canonical did ($_canon).
links_met() {
    _todo=${1#/}
    _at=''
    _links=0
    while [ -n "$_todo" ]; do
        _name=${_todo%%/*}
        case "$_todo" in
            */*) _todo=${_todo#*/} ;;
            *) _todo='' ;;
        esac
        case "$_name" in
            '' | .) continue ;;
            ..)
                _at=${_at%/*}
                continue
                ;;
        esac
        if [ ! -L "$_at/$_name" ]; then
            _at="$_at/$_name"
            continue
        fi
        _link_owner=$(owner_of "$_at/$_name")
        if [ "$_link_owner" != 0 ] && [ "$_link_owner" != "$2" ]; then
            _why="it leads through $_at/$_name, a symbolic link of user $_link_owner, who owns neither the system nor the path"
            return 1
        fi
        _links=$((_links + 1))
        _target=$(readlink -- "$_at/$_name" && echo .) || _target=''
        _target=${_target%.}
        _target=${_target%?}
        if [ "$_links" -gt 40 ] || [ -z "$_target" ]; then
            _why="its links cannot be followed"
            return 1
        fi
        case "$_target" in
            /*) _at='' ;;
        esac
        _todo="${_target#/}${_todo:+/$_todo}"
    done
    _why="its links lead elsewhere than $_canon"
    [ "${_at:-/}" = "$_canon" ]
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
