#!/bin/sh
# Runs the gateway once, offline, with its app mounted where the package installs
# it (a Linux package's /usr/lib/clawdbot/app, or the macOS package's
# /Library/Clawdbot/app), and keeps the transpile cache that jiti writes on that
# first start. jiti names each cache entry after the absolute path of its
# source, so the cache is only valid for the installed path; a private mount
# namespace puts the app there without touching the host.
#
# Run by `cargo xtask dist` inside `unshare --user --map-root-user --mount --net`:
# there is no network but loopback, and nothing outside the namespace changes.
#
# usage: warm.sh NODE APP INSTALLED_APP ENTRY PORT OUT
# OUT (an existing empty directory) receives the cache entries.
set -eu

node=$1 app=$2 installed=$3 entry=$4 port=$5 out=$6

work=$(mktemp -d)
mount -t tmpfs tmpfs "$work"
mkdir "$work/upper" "$work/work" "$work/state" "$work/tmp"

# A root of its own, in which the app sits at its installed path while the host
# is never written: the host's top-level entries bound (or linked) into a tmpfs,
# the installed path made in that tmpfs when its first component is not on the
# host (/Library), else on a throw-away overlay of its nearest existing
# ancestor (/usr/lib), and the app bound there. The gateway runs chrooted in it.
new="$work/root"
mkdir "$new"
for top in /*; do
    name=${top#/}
    if [ -L "$top" ]; then
        ln -s "$(readlink "$top")" "$new/$name"
    elif [ -d "$top" ]; then
        mkdir "$new/$name"
        mount --rbind "$top" "$new/$name"
    fi
done
base=$installed
while [ ! -d "$new$base" ]; do
    base=$(dirname "$base")
done
if [ "$base" != "$installed" ] && [ "$base" != / ]; then
    mount -t overlay overlay -o "lowerdir=$new$base,upperdir=$work/upper,workdir=$work/work" "$new$base"
fi
mkdir -p "$new$installed"
mount --bind "$app" "$new$installed"
ip link set lo up

# The same first configuration as the package's setup writes.
cat > "$work/state/clawdbot.json" <<JSON
{
  "gateway": {
    "mode": "local",
    "port": $port,
    "bind": "loopback",
    "auth": { "mode": "token", "token": "build-time-only-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" }
  },
  "agents": { "defaults": { "workspace": "$work/state/workspace" } },
  "logging": { "file": "$work/state/logs/gateway.log" }
}
JSON

# shellcheck disable=SC2016 # expanded by the chrooted shell
chroot "$new" /bin/sh -c 'cd "$0" && exec "$@"' "$work/state" \
    env -i PATH="$(dirname "$node"):/usr/bin:/bin" HOME="$work/state" \
    CLAWDBOT_STATE_DIR="$work/state" CLAWDBOT_CONFIG_PATH="$work/state/clawdbot.json" \
    CLAWDBOT_GATEWAY_PORT="$port" CLAWDBOT_NO_RESPAWN=1 SHELL=/bin/sh TMPDIR="$work/tmp" \
    NODE_OPTIONS=--disable-warning=ExperimentalWarning JITI_TRY_NATIVE=true \
    "$node" "$installed/$entry" gateway >"$work/gateway.out" 2>&1 &
pid=$!

answers() {
    "$node" -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/"
}
count() {
    find "$work/tmp/jiti" -type f 2>/dev/null | wc -l
}

# Up to 10 minutes to answer (the first start transpiles ~1,300 modules), then
# until the cache has stopped growing for 3 seconds.
i=0
until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "warm: the gateway exited before answering; its output:" >&2
        cat "$work/gateway.out" >&2
        exit 1
    fi
    i=$((i + 1))
    if [ "$i" -gt 1200 ]; then
        echo "warm: the gateway did not answer on port $port within 10 minutes; its output:" >&2
        cat "$work/gateway.out" >&2
        kill "$pid"
        exit 1
    fi
    sleep 0.5
done
last=-1
now=$(count)
while [ "$now" -ne "$last" ]; do
    sleep 3
    last=$now
    now=$(count)
done
kill "$pid"
wait "$pid" || true
if [ "$now" -eq 0 ]; then
    echo "warm: the gateway answered but wrote no transpile cache in $work/tmp/jiti" >&2
    exit 1
fi
cp -R "$work/tmp/jiti/." "$out/"
echo "warm: the gateway answered; $now transpiled modules cached"
