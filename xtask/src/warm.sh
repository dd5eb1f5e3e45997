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
# usage: warm.sh NODE APP INSTALLED_APP ENTRY PORT ENV_FILE CONFIG OUT
# ENV_FILE: the gateway's environment (NAME=value lines), whose state directory
# is /.gateway/state and TMPDIR /.gateway/cache; CONFIG: its configuration; OUT
# (an existing empty directory) receives the cache entries.
set -eu

node=$1 app=$2 installed=$3 entry=$4 port=$5 env_file=$6 config=$7 out=$8

# shellcheck source=xtask/src/gateway-root.sh
. "$(dirname "$0")/gateway-root.sh"
make_root "$app" "$installed"
mkdir -p "$new/.gateway/state" "$new/.gateway/cache"
cp "$config" "$new/.gateway/state/clawdbot.json"

count() {
    find "$new/.gateway/cache/jiti" -type f 2>/dev/null | wc -l
}

# Up to 10 minutes to answer (without JITI_TRY_NATIVE, a first start
# transpiles ~1,300 modules), then until the cache has stopped growing for 3
# seconds.
run_gateway "$node" "$installed/$entry" /.gateway/state "$env_file" "$work/gateway.out"
if ! wait_answer "$node" "$port" "$work/gateway.out" 600; then
    echo "warm: no transpile cache" >&2
    exit 1
fi
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
    echo "warm: the gateway answered but wrote no transpile cache in /.gateway/cache/jiti" >&2
    exit 1
fi
cp -R "$new/.gateway/cache/jiti/." "$out/"
echo "warm: the gateway answered; $now transpiled modules cached"
