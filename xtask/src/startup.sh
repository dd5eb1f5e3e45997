#!/bin/sh
# Times starts of the real gateway from launch to HTTP 200, with its app at the
# Linux package's installed path (a throw-away overlay of its nearest existing
# ancestor, in a private mount namespace), outside any other sandbox, in two
# environments taking turns:
#   package    the unit's: JITI_TRY_NATIVE=true, the shipped transpile cache
#              seeded into $TMPDIR/jiti, V8's compile cache kept across starts;
#   upstream   upstream's per-user service: jiti's defaults, its own transpile
#              cache (warmed by one start that is not timed) and compile cache.
# Each environment has its own state, TMPDIR and compile cache, and one untimed
# start first. Prints "package SECONDS" and "upstream SECONDS" lines.
#
# Run by `cargo xtask bench` inside `unshare --user --map-root-user --mount --net`.
# usage: startup.sh NODE APP INSTALLED_APP ENTRY PORT SEED STARTS
set -eu

node=$1 app=$2 installed=$3 entry=$4 port=$5 seed=$6 starts=$7

work=$(mktemp -d)
mount -t tmpfs tmpfs "$work"
mkdir "$work/upper" "$work/work"
base=$installed
while [ ! -d "$base" ]; do
    base=$(dirname "$base")
done
if [ "$base" != "$installed" ]; then
    mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$base"
    mkdir -p "$installed"
fi
mount --bind "$app" "$installed"
ip link set lo up

for kind in package upstream; do
    mkdir -p "$work/$kind/state" "$work/$kind/tmp"
    cat >"$work/$kind/state/clawdbot.json" <<JSON
{
  "gateway": { "mode": "local", "port": $port, "bind": "loopback", "auth": { "mode": "token", "token": "bench-$kind" } },
  "agents": { "defaults": { "workspace": "$work/$kind/state/workspace" } },
  "logging": { "file": "$work/$kind/state/logs/gateway.log" },
  "update": { "checkOnStart": false }
}
JSON
done
mkdir -p "$work/package/tmp/jiti"
cp -R "$seed/." "$work/package/tmp/jiti/"

answers() {
    "$node" -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$port/"
}

# start KIND: one start to HTTP 200 and its stop; prints the seconds.
start() {
    native=false
    [ "$1" = upstream ] || native=true
    t0=$(date +%s%N)
    (
        cd "$work/$1/state"
        exec env -i PATH="$(dirname "$node"):/usr/bin:/bin" HOME="$work/$1/state" \
            CLAWDBOT_STATE_DIR="$work/$1/state" CLAWDBOT_CONFIG_PATH="$work/$1/state/clawdbot.json" \
            CLAWDBOT_GATEWAY_PORT="$port" CLAWDBOT_NO_RESPAWN=1 SHELL=/bin/sh TMPDIR="$work/$1/tmp" \
            NODE_COMPILE_CACHE="$work/$1/tmp/node" NODE_OPTIONS=--disable-warning=ExperimentalWarning \
            JITI_TRY_NATIVE=$native "$node" "$installed/$entry" gateway >"$work/$1/out.log" 2>&1
    ) &
    pid=$!
    i=0
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "startup: the gateway ($1) exited before answering; its output:" >&2
            cat "$work/$1/out.log" >&2
            exit 1
        fi
        i=$((i + 1))
        if [ "$i" -gt 6000 ]; then
            echo "startup: the gateway ($1) did not answer within 10 minutes" >&2
            kill "$pid"
            exit 1
        fi
        sleep 0.1
    done
    t1=$(date +%s%N)
    kill "$pid"
    wait "$pid" || true
    echo "$(((t1 - t0) / 1000000))" | awk '{ printf "%.3f\n", $1 / 1000 }'
}

start package >/dev/null
start upstream >/dev/null
n=0
while [ "$n" -lt "$starts" ]; do
    echo "package $(start package)"
    echo "upstream $(start upstream)"
    n=$((n + 1))
done
