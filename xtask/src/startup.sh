#!/bin/sh
# Times starts of the real gateway from launch to HTTP 200, with its app at the
# Linux package's installed path (in a root of its own, see gateway-root.sh),
# outside any other sandbox, in three kinds of start taking turns:
#   first      the unit's environment (JITI_TRY_NATIVE=true) after an install
#              or upgrade: an empty cache directory, into which the shipped
#              transpile cache is copied as the unit's ExecStartPre does (the
#              copy is timed), and no V8 compile cache yet;
#   package    the same environment at a restart: the caches of earlier starts;
#   upstream   upstream's per-user service: jiti's defaults, its own transpile
#              cache (warmed by one start that is not timed) and compile cache.
# The two environments have their own state, TMPDIR and compile cache (the
# environment files' paths: /.gateway/package/... and /.gateway/upstream/...),
# and one untimed start each first. Prints "first SECONDS", "package SECONDS"
# and "upstream SECONDS" lines.
#
# Run by `cargo xtask bench` inside `unshare --user --map-root-user --mount --net`.
# usage: startup.sh NODE APP INSTALLED_APP ENTRY PORT SEED STARTS DIR
# DIR holds package.env, upstream.env (NAME=value lines) and package.json,
# upstream.json (configurations).
set -eu

node=$1 app=$2 installed=$3 entry=$4 port=$5 seed=$6 starts=$7 dir=$8

# shellcheck source=xtask/src/gateway-root.sh
. "$(dirname "$0")/gateway-root.sh"
make_root "$app" "$installed"
for kind in package upstream; do
    mkdir -p "$new/.gateway/$kind/state" "$new/.gateway/$kind/cache"
    cp "$dir/$kind.json" "$new/.gateway/$kind/state/clawdbot.json"
done

# seeded: the package's cache directory as after an install: empty but for the
# shipped transpile cache.
seeded() {
    rm -rf "$new/.gateway/package/cache"
    mkdir -p "$new/.gateway/package/cache/jiti"
    cp -R "$seed/." "$new/.gateway/package/cache/jiti/"
}

# start KIND [STEP]: STEP (if any), then one start to HTTP 200, and its stop;
# prints the seconds from before STEP.
start() {
    t0=$(date +%s%N)
    if [ "$#" -gt 1 ]; then
        "$2"
    fi
    run_gateway "$node" "$installed/$entry" "/.gateway/$1/state" "$dir/$1.env" "$work/$1.log"
    if ! wait_answer "$node" "$port" "$work/$1.log" 600; then
        echo "startup: the gateway ($1) did not start" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    kill "$pid"
    wait "$pid" || true
    echo "$(((t1 - t0) / 1000000))" | awk '{ printf "%.3f\n", $1 / 1000 }'
}

start package seeded >/dev/null
start upstream >/dev/null
n=0
while [ "$n" -lt "$starts" ]; do
    echo "first $(start package seeded)"
    echo "package $(start package)"
    echo "upstream $(start upstream)"
    n=$((n + 1))
done
