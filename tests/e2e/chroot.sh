#!/bin/sh
# The first boot of the system the package was installed into by chroot.chroot.sh:
# the service comes up by itself.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

check "the package from the chroot is installed" expect "$(pkg_version current)" installed_version || abort
check "$UNIT is enabled" expect enabled systemctl is-enabled "$UNIT"
check "$UNIT came up at boot" wait_until "$START_LIMIT" is_active
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok
check "its main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "the service wrote its first configuration with a token" has_token
check "the config is 0600 $SVC_USER" expect "600 $SVC_USER" stat -c '%a %U' "$CONFIG"
check "sudo clawdbot gateway health --json reports ok" gateway_healthy
finish
