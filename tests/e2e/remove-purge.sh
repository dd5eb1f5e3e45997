#!/bin/sh
# Remove keeps the state and the user; purge deletes the state and the
# configuration but keeps the user (Debian #1006912); a reinstall after the
# purge starts afresh with a new token.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

check "apt-get install ./clawdbot_*.deb" install_pkg current || abort
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
old_token=$(config_token)
old_passwd=$(getent passwd "$SVC_USER")

check "apt-get remove $PKG" apt-get remove -y "$PKG" || abort
check_not "the service is stopped" is_active
check_not "no process of $SVC_USER is left" pgrep -u "$SVC_USER"
check_not "the service is not enabled" test -e "/etc/systemd/system/multi-user.target.wants/$UNIT"
check_not "systemctl does not call it enabled" expect enabled systemctl is-enabled "$UNIT"
check "the state dir and its config are kept" test -f "$CONFIG"
check "the token is kept" expect "$old_token" config_token
check "the user $SVC_USER is kept" expect "$old_passwd" getent passwd "$SVC_USER"

check "apt-get purge $PKG" apt-get purge -y "$PKG" || abort
check "dpkg has purged $PKG" purged
check_not "the state dir is gone" test -e "$STATE_DIR"
check_not "the cache dir is gone" test -e "$CACHE_DIR"
check_not "$CONFIG_DIR is gone" test -e "$CONFIG_DIR"
check "the user $SVC_USER is kept" expect "$old_passwd" getent passwd "$SVC_USER"
check "no unit file, link or mask of $UNIT is left" expect "" unit_links

check "apt-get install ./clawdbot_*.deb again" install_pkg current || abort
check "$UNIT is enabled" expect enabled systemctl is-enabled "$UNIT"
check "$UNIT is active" wait_until "$START_LIMIT" is_active
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok
check "the same user $SVC_USER is used" expect "$old_passwd" getent passwd "$SVC_USER"
check "a fresh token was generated" has_token
check_not "it is not the old token" expect "$old_token" config_token
finish
