#!/bin/sh
# Seeds the gateway's transpile cache (@CACHE_DIR@/jiti) with the one built with
# this package, so that even the first start after installing or upgrading does
# not spend half a minute transpiling ~1,300 modules.
#
# Runs as @USER@, inside the service's sandbox, before every start
# (ExecStartPre); when the seed is already in place it only compares one small
# file. Entries that jiti wrote itself (for other plugins) are kept. A failure
# here only costs start-up time: the unit ignores it.
set -eu

seed='@SEED_DIR@'
jiti='@CACHE_DIR@/jiti'
stamp='@SEED_STAMP@'

# Only the shell and coreutils: minimal RPM systems may lack diffutils and findutils.
[ -f "$seed/$stamp" ] || exit 0
if [ -f "$jiti/$stamp" ] && [ "$(cat "$seed/$stamp")" = "$(cat "$jiti/$stamp")" ]; then
    exit 0
fi
rm -f "$jiti/$stamp"
mkdir -p "$jiti"
# The stamp goes last, so an interrupted copy is done again at the next start.
for entry in "$seed"/*; do
    [ "${entry##*/}" = "$stamp" ] || set -- "$@" "$entry"
done
if [ "$#" -gt 0 ]; then
    cp -- "$@" "$jiti/"
fi
cp -- "$seed/$stamp" "$jiti/$stamp"
