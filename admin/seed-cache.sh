#!/bin/sh
# Seeds the gateway's transpile cache (@CACHE_DIR@/jiti) with the one built with
# this package, so that even the first start after installing or upgrading does
# not spend half a minute transpiling ~1,300 modules.
#
# Runs as @USER@: on Linux inside the service's sandbox before every start
# (ExecStartPre), on macOS from the postinstall script (sudo -u), which names
# the seed and the cache below its target volume: seed-cache [SEED JITI]. When
# the seed is already in place it only compares one small file. Entries that
# jiti wrote itself (for other plugins) are kept. A failure here only costs
# start-up time: the callers ignore it.
set -eu
# The cache is the account's alone, wherever this runs.
umask 077

seed=${1:-'@SEED_DIR@'}
jiti=${2:-'@CACHE_DIR@/jiti'}
stamp='@SEED_STAMP@'

# Only the shell and coreutils: minimal RPM systems may lack diffutils and findutils.
[ -f "$seed/$stamp" ] || exit 0
if [ -f "$jiti/$stamp" ] && [ "$(cat "$seed/$stamp")" = "$(cat "$jiti/$stamp")" ]; then
    exit 0
fi
rm -f "$jiti/$stamp"
mkdir -p "$jiti"
# The stamp goes last, so an interrupted copy is done again at the next start.
set --
for entry in "$seed"/*; do
    [ "${entry##*/}" = "$stamp" ] || set -- "$@" "$entry"
done
if [ "$#" -gt 0 ]; then
    cp -- "$@" "$jiti/"
fi
cp -- "$seed/$stamp" "$jiti/$stamp"
