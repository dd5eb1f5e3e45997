#!/bin/sh
# What a process of the gateway's user can reach: one "<probe> <path> yes|no"
# line per probe. isolation.sh runs it with the service's sandbox and without.
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
echo "user $(id -un)"
for f in /home/alice/.ssh/id_rsa /root/secret.txt /tmp/e2e-host-marker /var/tmp/e2e-host-marker; do
    can_read "$f"
done
for d in /etc/e2e-drop /usr/local/e2e-drop /srv/e2e-drop /opt/e2e-drop /var/e2e-drop \
    /var/lib/clawdbot /var/cache/clawdbot /tmp; do
    can_write "$d"
done
echo "nnp $(awk '$1 == "NoNewPrivs:" { print $2 }' /proc/self/status)"
# Lowering one's own priority is allowed to anyone, but setpriority() belongs
# to @resources, which the unit's system call filter denies.
if renice -n 5 -p $$ > /dev/null 2>&1; then echo "setpriority yes"; else echo "setpriority no"; fi
