#!/bin/sh
# Runs the scenario named in /e2e/scenario and hands its verdict to the host.
#
#   run.sh boot    in the booted system (from e2e-scenario.service): waits for
#                  the boot to finish, runs <scenario>.sh, saves the journals
#                  and ends the container with `systemctl exit <status>`.
#   run.sh chroot  in a plain chroot before the first boot: runs
#                  <scenario>.chroot.sh and exits with its status.
#
# Results: /e2e/out/results (one "ok"/"not ok" line per check), /e2e/out/metrics,
# /e2e/out/rc-<phase>; journals under /e2e/out/ after a boot.
set -u

phase=${1:-boot}
scenario=$(cat /e2e/scenario)
out=/e2e/out
# The host stops the container after its own, longer limit.
limit=${E2E_SCENARIO_TIMEOUT:-840}
mkdir -p "$out"

echo "# scenario $scenario, phase $phase" | tee -a "$out/results"
if [ "$phase" = boot ]; then
    state=$(timeout 120 systemctl is-system-running --wait)
    echo "# system state after boot: $state" | tee -a "$out/results"
    script=/e2e/tests/$scenario.sh
else
    script=/e2e/tests/$scenario.chroot.sh
fi

timeout --kill-after=10 "$limit" /bin/sh "$script"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "not ok - $scenario ($phase) did not finish within $limit s" | tee -a "$out/results"
fi
echo "$rc" > "$out/rc-$phase"

if [ "$phase" = boot ]; then
    systemctl --no-pager list-units --failed > "$out/failed-units.txt" 2>&1
    # shellcheck source=/dev/null disable=SC2153 # UNIT comes from contract.sh
    unit=$(. /e2e/tests/contract.sh && echo "$UNIT")
    journalctl -b --no-pager -o short-monotonic -u "$unit" > "$out/journal-gateway.txt" 2>&1
    journalctl -b --no-pager -o short-monotonic > "$out/journal.txt" 2>&1
    systemctl --no-block exit "$rc"
fi
exit "$rc"
