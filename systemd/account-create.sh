# shellcheck shell=sh
# create_account: the system group and user @USER@ as the shipped sysusers.d
# line describes them (home @STATE_DIR@, not created here; no login shell), with
# the shadow tools, for a system whose systemd-sysusers or rpm cannot create
# them. Keeps an existing account or group as it is.
create_account() {
    if ! getent group '@GROUP@' >/dev/null; then
        groupadd --system '@GROUP@'
    fi
    if ! getent passwd '@USER@' >/dev/null; then
        useradd --system --gid '@GROUP@' --home-dir '@STATE_DIR@' --no-create-home \
            --shell /usr/sbin/nologin --comment '@DESCRIPTION@' '@USER@'
    fi
}
