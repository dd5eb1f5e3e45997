#!/bin/sh
# Install with systemd not running, in a plain chroot as image builders do:
# the package installs without errors and is enabled for the first boot.
# (chroot.sh then boots the tree.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

check_not "systemd is not running here" test -d /run/systemd/system
check "apt-get install ./clawdbot_*.deb in the chroot" install_logged current || abort
check_not "apt and the maintainer scripts printed no error or warning" \
    grep -Ei '^(E|W): |error|warning|fail' "$OUT/apt.txt"
check "user $SVC_USER exists with a system uid" system_id "$(passwd_field "$SVC_USER" 3)"
check "$UNIT is enabled for the next boot" test -L "/etc/systemd/system/multi-user.target.wants/$UNIT"
check "the state dir is 0700 $SVC_USER" expect "700 $SVC_USER" stat -c '%a %U' "$STATE_DIR"
check_not "no configuration is written on the installer's terminal (the service writes it)" test -e "$CONFIG"
check "clawdbot --version works without systemd" sh -c "clawdbot --version | grep -q '^clawdbot '"
check_not "any other admin command refuses without systemd" clawdbot gateway health
check "and says why" sh -c "clawdbot gateway health 2>&1 | grep -q 'systemd is not running'"
finish
