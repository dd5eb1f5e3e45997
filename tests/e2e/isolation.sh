#!/bin/sh
# Isolation, proved from inside the sandbox: what the gateway would reach if an
# attacker ran commands in it. Each probe is also run as the same user without
# the sandbox, where it must succeed, so that no check can pass by accident.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

# What an attacker wants, left readable by everyone so only the sandbox hides it.
add_person alice
install -d -m 0755 -o alice -g alice /home/alice /home/alice/.ssh
echo "-----BEGIN OPENSSH PRIVATE KEY----- alice" > /home/alice/.ssh/id_rsa
chmod 0644 /home/alice/.ssh/id_rsa
chmod 0755 /root
echo "root's secret" > /root/secret.txt
chmod 0644 /root/secret.txt
echo "host /tmp" > /tmp/e2e-host-marker
echo "host /var/tmp" > /var/tmp/e2e-host-marker
chmod 0644 /tmp/e2e-host-marker /var/tmp/e2e-host-marker
# Directories anyone may write to: only the read-only file system stops the service.
for d in /etc/e2e-drop /usr/local/e2e-drop /srv/e2e-drop /opt/e2e-drop /var/e2e-drop; do
    install -d -m 1777 "$d"
done

check "apt-get install ./clawdbot_*.deb" install_pkg current || abort
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "its main process has started node" wait_until "$START_LIMIT" main_runs_node || abort
pid=$(main_pid)

# The running gateway itself.
check "the gateway's main process has NoNewPrivs" expect 1 status_field "$pid" NoNewPrivs
check "the gateway's main process has more seccomp filters than the container's own" \
    more_filters "$pid" 1
check "the gateway's main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "(control) root sees alice's key outside the sandbox" test -r /home/alice/.ssh/id_rsa
check_not "alice's key is not in the gateway's view of the file system" cat "/proc/$pid/root/home/alice/.ssh/id_rsa"
check_not "root's file is not in the gateway's view" cat "/proc/$pid/root/root/secret.txt"
check_not "the host's /tmp is not the gateway's /tmp" cat "/proc/$pid/root/tmp/e2e-host-marker"
check "the gateway's state dir is in its view" test -f "/proc/$pid/root$CONFIG"

# A shell as the service runs: its user and every sandbox property of its unit.
check "a probe runs with the unit's user and sandbox" probe sandboxed
check "the same probe runs as $SVC_USER without the sandbox (control)" probe control
check "(control) without the sandbox $SVC_USER can read alice's key" saw control "read /home/alice/.ssh/id_rsa yes"
check "in the sandbox it cannot" saw sandboxed "read /home/alice/.ssh/id_rsa no"
check "(control) without the sandbox $SVC_USER can read /root/secret.txt" saw control "read /root/secret.txt yes"
check "in the sandbox it cannot" saw sandboxed "read /root/secret.txt no"
check "(control) without the sandbox it sees the host's /tmp and /var/tmp" saw control "read /tmp/e2e-host-marker yes" "read /var/tmp/e2e-host-marker yes"
check "in the sandbox /tmp and /var/tmp are private" saw sandboxed "read /tmp/e2e-host-marker no" "read /var/tmp/e2e-host-marker no"
for d in /etc/e2e-drop /usr/local/e2e-drop /srv/e2e-drop /opt/e2e-drop /var/e2e-drop; do
    check "(control) without the sandbox it can write to $d" saw control "write $d yes"
    check "in the sandbox it cannot" saw sandboxed "write $d no"
done
check "in the sandbox it can write its state, cache and /tmp" saw sandboxed \
    "write $STATE_DIR yes" "write $CACHE_DIR yes" "write /tmp yes"
check "(control) without the sandbox NoNewPrivs is not set and setpriority() works" saw control "nnp 0" "setpriority yes"
check "in the sandbox NoNewPrivs is set and the system call filter denies setpriority()" saw sandboxed "nnp 1" "setpriority no"
finish
