# shellcheck shell=sh
# An account @USER@ that exists before this package is installed must look like
# the one the package would create: sysusers.d and useradd keep an existing
# account as it is, and systemd's User= would then give the gateway its login
# shell and its supplementary groups (docker, sudo, adm, wheel, ...). Stop
# before anything is unpacked, say what is wrong and how to fix it, change nothing.
account_problems=''
if account_entry=$(getent passwd '@USER@'); then
    account_uid=$(printf '%s\n' "$account_entry" | cut -d: -f3)
    account_gid=$(printf '%s\n' "$account_entry" | cut -d: -f4)
    account_shell=$(printf '%s\n' "$account_entry" | cut -d: -f7)
    account_no_login=' /usr/sbin/nologin /sbin/nologin /usr/bin/false /bin/false '
    case "$account_no_login" in
        *" $account_shell "*) ;;
        *) account_problems="$account_problems
  - its login shell is '$account_shell'; fix: usermod --shell /usr/sbin/nologin @USER@" ;;
    esac
    account_sys_max=$(awk '$1 == "SYS_UID_MAX" { print $2 }' /etc/login.defs 2>/dev/null || true)
    case "$account_sys_max" in '' | *[!0-9]*) account_sys_max=999 ;; esac
    if [ "$account_uid" -eq 0 ] || [ "$account_uid" -gt "$account_sys_max" ]; then
        account_problems="$account_problems
  - its uid $account_uid is not a system uid (1-$account_sys_max); remove it (userdel @USER@) so that the package creates a system account"
    fi
    account_primary=$(getent group "$account_gid" | cut -d: -f1)
    if [ "$account_primary" != '@GROUP@' ]; then
        account_problems="$account_problems
  - its primary group is '${account_primary:-$account_gid}', not '@GROUP@'; fix: usermod --gid @GROUP@ @USER@"
    fi
    account_extra=''
    for account_group in $(id -Gn '@USER@'); do
        [ "$account_group" = "$account_primary" ] || account_extra="$account_extra $account_group"
    done
    if [ -n "$account_extra" ]; then
        account_problems="$account_problems
  - it is a member of supplementary groups:$account_extra; fix: gpasswd --delete @USER@ GROUP, for each"
    fi
fi
if [ -n "$account_problems" ]; then
    echo "@NAME@: the existing account '@USER@' cannot run the gateway safely:$account_problems" >&2
    echo "@NAME@: nothing was changed; fix the account (or remove it) and install again." >&2
    exit 1
fi
