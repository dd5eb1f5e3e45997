#!/bin/sh
# What a process of the gateway's user can reach: one "<probe> <what> yes|no"
# line per probe (and a few "<name> <value>" facts). isolation.sh runs it with
# the service's sandbox and without.
# usage: probe.sh STATE_DIR CACHE_DIR NODE
state_dir=$1 cache_dir=$2 node=$3
can_read() {
    if cat "$1" > /dev/null 2>&1; then echo "read $1 yes"; else echo "read $1 no"; fi
}
can_write() {
    if (: > "$1/e2e-probe.$$") 2> /dev/null; then
        rm -f "$1/e2e-probe.$$"
        echo "write $1 yes"
    else
        echo "write $1 no"
    fi
}
# can_fetch NAME URL [CURL OPTIONS...]: an HTTP answer that says NAME.
can_fetch() {
    _name=$1
    _url=$2
    shift 2
    if curl -s --max-time 3 "$@" "$_url" 2> /dev/null | grep -q "$_name"; then
        echo "fetch $_name yes"
    else
        echo "fetch $_name no"
    fi
}
echo "user $(id -un)"
for f in /home/alice/.ssh/id_rsa /root/secret.txt /tmp/e2e-host-marker /var/tmp/e2e-host-marker /dev/shm/e2e-host-marker; do
    can_read "$f"
done
for d in /etc/e2e-drop /usr/local/e2e-drop /srv/e2e-drop /opt/e2e-drop /var/e2e-drop \
    "$state_dir" "$cache_dir" /tmp; do
    can_write "$d"
done
echo "nnp $(awk '$1 == "NoNewPrivs:" { print $2 }' /proc/self/status)"
# Lowering one's own priority is allowed to anyone, but setpriority() belongs
# to @resources, which the unit's system call filter denies.
if renice -n 5 -p $$ > /dev/null 2>&1; then echo "setpriority yes"; else echo "setpriority no"; fi

# Cloud credentials: a fake metadata endpoint on link-local addresses.
can_fetch metadata-v4 http://169.254.169.254/
can_fetch metadata-v6 'http://[fd00:ec2::254]/'
# The internet is what the assistant needs: an ordinary address stays reachable.
can_fetch internet http://192.0.2.10/
# Host channels.
if busctl --system --no-pager list > /dev/null 2>&1; then echo "bus yes"; else echo "bus no"; fi
can_fetch docker-engine http://engine/version --unix-socket /run/docker.sock
if [ "$(ipcs -m | grep -c '^0x')" -gt 0 ]; then echo "sysv-shm yes"; else echo "sysv-shm no"; fi
# What /proc shows, and what Node.js makes of it.
if [ -r /proc/cpuinfo ]; then echo "proc-cpuinfo yes"; else echo "proc-cpuinfo no"; fi
echo "node-os $("$node" -e 'const os = require("os"); console.log(os.cpus().length, os.availableParallelism(), os.totalmem() > 0)')"
echo "open-files $(awk '/^Max open files/ { print $4 }' /proc/self/limits)"
