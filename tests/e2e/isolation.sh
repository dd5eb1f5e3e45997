#!/bin/sh
# Isolation, proved from inside the sandbox: what the gateway would reach if an
# attacker ran commands in it. Each probe is also run as the same user without
# the sandbox, where it must succeed, so that no check can pass by accident.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

# An account named like the service's that exists before installation with a
# login shell and a supplementary group: the package refuses to install over it.
groupadd docker
useradd --system --shell /bin/bash --groups docker "$SVC_USER"
check_not "apt-get install refuses an existing $SVC_USER with a login shell and a docker membership" install_logged current
check "it says what is wrong and how to fix it" sh -c \
    "grep -q \"login shell is '/bin/bash'\" '$OUT/apt.txt' && grep -q 'supplementary groups: docker' '$OUT/apt.txt' && grep -q 'nothing was changed' '$OUT/apt.txt'"
check "the package is not installed" purged
check_not "none of its files was unpacked" test -e "/lib/systemd/system/$UNIT"
check "the account is left as it was" expect /bin/bash passwd_field "$SVC_USER" 7
userdel "$SVC_USER"

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
echo "host /dev/shm" > /dev/shm/e2e-host-marker
chmod 0644 /tmp/e2e-host-marker /var/tmp/e2e-host-marker /dev/shm/e2e-host-marker
ipcmk -M 4096 -p 0644
# A fake cloud metadata endpoint on link-local addresses, and an ordinary
# address standing for the internet (the container's network is private).
ip addr add 169.254.169.254/32 dev lo
ip -6 addr add fd00:ec2::254/128 dev lo
ip addr add 192.0.2.10/32 dev lo
# A fake container engine socket, world-connectable like a docker group's.
cat > /etc/systemd/system/e2e-docker.socket <<'UNIT'
[Socket]
ListenStream=/run/docker.sock
SocketMode=0666
Accept=yes
UNIT
cat > /etc/systemd/system/e2e-docker@.service <<'UNIT'
[Service]
ExecStart=/bin/sh -c 'read -r request; printf "HTTP/1.0 200 OK\r\n\r\ndocker-engine\n"'
StandardInput=socket
StandardOutput=socket
UNIT
systemctl daemon-reload
systemctl start e2e-docker.socket
# Directories anyone may write to: only the read-only file system stops the service.
for d in /etc/e2e-drop /usr/local/e2e-drop /srv/e2e-drop /opt/e2e-drop /var/e2e-drop; do
    install -d -m 1777 "$d"
done

check "apt-get install ./clawdbot_*.deb" install_pkg current || abort
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "its main process has started node" wait_until "$START_LIMIT" main_runs_node || abort
pid=$(main_pid)
for server in "metadata-v4 169.254.169.254" "metadata-v6 fd00:ec2::254" "internet 192.0.2.10"; do
    systemd-run --quiet --unit="e2e-http-${server%% *}" "$NODE" -e \
        "require('http').createServer((q, r) => r.end('${server%% *}\\n')).listen(80, '${server#* }')"
done
check "(control) root reaches the fake metadata endpoints" wait_until 20 sh -c \
    "curl -s --max-time 2 http://169.254.169.254/ | grep -q metadata-v4 && curl -s --max-time 2 'http://[fd00:ec2::254]/' | grep -q metadata-v6"

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

# The network, host channels and resources.
check "(control) without the sandbox it reaches the cloud metadata endpoints" saw control "fetch metadata-v4 yes" "fetch metadata-v6 yes"
check "in the sandbox it does not" saw sandboxed "fetch metadata-v4 no" "fetch metadata-v6 no"
check "in the sandbox an ordinary address stays reachable" saw sandboxed "fetch internet yes"
check "(control) without the sandbox it talks to the system bus and the container engine" saw control "bus yes" "fetch docker-engine yes"
check "in the sandbox it does not" saw sandboxed "bus no" "fetch docker-engine no"
check "(control) without the sandbox it sees the host's /dev/shm and SysV shared memory" saw control "read /dev/shm/e2e-host-marker yes" "sysv-shm yes"
check "in the sandbox it does not" saw sandboxed "read /dev/shm/e2e-host-marker no" "sysv-shm no"
check "(control) without the sandbox /proc shows the host's CPUs" saw control "proc-cpuinfo yes"
check "in the sandbox /proc shows processes only (ProcSubset=pid)" saw sandboxed "proc-cpuinfo no"
check "the gateway's own view of /proc has no cpuinfo either" fails test -e "/proc/$pid/root/proc/cpuinfo"
grep '^node-os' "$OUT/probe-sandboxed.txt" | sed 's/^/# sandboxed: /' | tee -a "$OUT/results"
grep '^node-os' "$OUT/probe-control.txt" | sed 's/^/# control: /' | tee -a "$OUT/results"
check "in the sandbox the open-file ceiling is the manifest's" saw sandboxed "open-files 8192"
check "the unit has the manifest's memory and task ceilings" expect "2147483648 512" \
    sh -c "echo \$(systemctl show -P MemoryMax $UNIT) \$(systemctl show -P TasksMax $UNIT)"
check "its main process may open at most 8192 files" grep -Eq '^Max open files +8192 +8192 ' "/proc/$pid/limits"
# (The memory and task ceilings are cgroup settings: this container's systemd
# gets no memory or pids controller from a host on cgroup v1, so only the
# unit's values are checked here.)

# The gateway's log files: on a file system of its own, capped.
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok
check "the gateway writes its log files to /tmp/clawdbot" wait_until 30 sh -c "ls /proc/$pid/root/tmp/clawdbot/clawdbot-*.log"
check "(control) 100 MB written into its state dir arrive whole" sh -c \
    "dd if=/dev/zero of=/proc/$pid/root$STATE_DIR/e2e-burst bs=1M count=100 status=none && test \$(du -m /proc/$pid/root$STATE_DIR/e2e-burst | cut -f1) -ge 100"
rm -f "/proc/$pid/root$STATE_DIR/e2e-burst"
check_not "100 MB written into its log directory do not fit" \
    dd if=/dev/zero of="/proc/$pid/root/tmp/clawdbot/e2e-burst.log" bs=1M count=100 status=none
check "the log directory stays within 64 MiB" sh -c "du -sm /proc/$pid/root/tmp/clawdbot; test \$(du -sm /proc/$pid/root/tmp/clawdbot | cut -f1) -le 64"
rm -f "/proc/$pid/root/tmp/clawdbot/e2e-burst.log"
check "the gateway still answers HTTP 200" http_ok
check "the gateway is healthy (with a /proc of processes only)" gateway_healthy
metric gateway_peak_rss_mib "$(($(status_field "$pid" VmHWM) / 1024))"
metric gateway_threads "$(status_field "$pid" Threads)"
finish
