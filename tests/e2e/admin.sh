#!/bin/sh
# The admin command: `sudo clawdbot ...` runs the upstream CLI in the gateway's
# sandbox, on a terminal of its own, and its service words act on the system
# service. A plugin planted by the service user (assumed compromised) runs
# during an admin command; each promise is checked against the way the CLI
# used to be run (setpriv on the caller's terminal), which must break it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

add_person alice
install -d -m 0755 -o alice -g alice /home/alice/.ssh
echo "-----BEGIN OPENSSH PRIVATE KEY----- alice" > /home/alice/.ssh/id_rsa
chmod 0644 /home/alice/.ssh/id_rsa

check "apt-get install ./clawdbot_*.deb" install_pkg current || abort
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok || abort
check "the service user plants a plugin in its state directory" plant_plugin || abort

# The control: the old way, on a terminal as root.
on_terminal "$OUT/old-terminal.txt" ". /e2e/tests/lib.sh; old_admin_command plugins list > /dev/null 2>&1" > /dev/null
check "(control) the old way, the plugin ran" report_has "alice-key yes"
check "(control) the old way, it typed into root's terminal" grep -q "READ:echo INJECTED" "$OUT/old-terminal.txt"
check "(control) the old way, its process outlived the command" survivor_alive
pkill -u "$SVC_USER" -x sleep || true
rm -f "$EVIL/report"

# The admin command, on a terminal as root.
on_terminal "$OUT/admin-terminal.txt" "clawdbot plugins list > /dev/null 2>&1" > /dev/null
check "the plugin ran during sudo clawdbot plugins list" report_has "alice-key no"
check "it could not type into root's terminal" fails grep -q "READ:" "$OUT/admin-terminal.txt"
check "its terminal was not root's: TIOCSTI went to the command's own" report_has "tiocsti 0"
check_not "its process did not outlive the command" survivor_alive
check_not "no process of the command is left outside the service" has_admin_unit

# The transient unit has the gateway's sandbox, setting by setting.
runuser -u "$SVC_USER" -- touch "$EVIL/hold"
clawdbot plugins list > "$OUT/held.txt" 2>&1 &
held=$!
check "an admin command runs as a transient unit" wait_until 30 has_admin_unit
check "it has every sandbox setting of $UNIT" same_sandbox "$(admin_unit)"
systemd-run --quiet --unit=e2e-plain -p "User=$SVC_USER" sleep 30
check_not "(control) a unit with only the user does not" same_sandbox e2e-plain
systemctl stop e2e-plain
wait "$held"
rm -f "$EVIL/hold"
runuser -u "$SVC_USER" -- rm -rf "$EVIL"

# Exit status and output pass through.
check "clawdbot config get gateway.port prints the port" expect "$PORT" clawdbot config get gateway.port
# The words reach the CLI as typed: systemd expands $ in a unit's command line.
old_workspace=$(clawdbot config get agents.defaults.workspace 2>/dev/null || true)
# shellcheck disable=SC2016 # the $ are the point
odd='/srv/a$$b $X %h;c'
check "clawdbot config set keeps \$, \$\$ and % as typed" clawdbot config set agents.defaults.workspace "$odd"
check "clawdbot config get prints them back" expect "$odd" clawdbot config get agents.defaults.workspace
if [ -n "$old_workspace" ]; then
    clawdbot config set agents.defaults.workspace "$old_workspace" > /dev/null
else
    clawdbot config unset agents.defaults.workspace > /dev/null
fi
clawdbot no-such-command > /dev/null 2>&1
admin_rc=$?
old_admin_command no-such-command > /dev/null 2>&1
old_rc=$?
check "an unknown command fails with upstream's exit status ($old_rc)" expect "$old_rc" echo "$admin_rc"
check "(control) that status is not 0" fails test "$old_rc" -eq 0

# Service words.
pid=$(main_pid)
check "clawdbot gateway restart" clawdbot gateway restart
check "the service has a new main PID (was $pid)" wait_until "$START_LIMIT" new_main_pid "$pid"
check "the gateway answers HTTP 200 after the restart" wait_until "$HTTP_LIMIT" http_ok
check "clawdbot gateway status shows the running service and a healthy probe" sh -c \
    "clawdbot gateway status > '$OUT/status.txt' 2>&1; cat '$OUT/status.txt'; grep -q 'Active: active (running)' '$OUT/status.txt'"
check "clawdbot gateway stop" clawdbot gateway stop
check_not "the service is inactive" is_active
check_not "clawdbot gateway status fails while it is stopped" clawdbot gateway status
check "clawdbot gateway start" clawdbot gateway start
check "the service is active again" wait_until "$START_LIMIT" is_active
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok

touch "$OUT/marker"
sleep 1
for words in "gateway install" "gateway uninstall" "daemon install" "node install" "uninstall" "update"; do
    # shellcheck disable=SC2086 # the words are separate arguments
    check_not "clawdbot $words is refused" clawdbot $words
done
check "the refusal names the system service" sh -c "clawdbot gateway install 2>&1 | grep -q 'system service $UNIT'"
check "no file appeared in the state dir" expect "" newer_in_state "$OUT/marker"
check "no per-user unit or LaunchAgent was written anywhere" expect "" \
    find / -xdev \( -path '*/systemd/user/*' -name 'clawdbot*' -o -name 'com.clawdbot.gateway.plist' \) -newer "$OUT/marker"
check_not "clawdbot gateway run is refused while the service runs" clawdbot gateway run
check_not "clawdbot gateway --port 18790 is refused while the service runs" clawdbot gateway --port 18790
check_not "clawdbot health --force is refused while the service runs" clawdbot health --force
check "the service is still active, with the same main PID" expect "$(main_pid)" sh -c "sleep 2; systemctl show -P MainPID $UNIT"

old_token=$(config_token)
check_not "clawdbot reset without a terminal and without --yes is refused" clawdbot reset
check "the token is unchanged" expect "$old_token" config_token
check "clawdbot reset --yes" clawdbot reset --yes
check "a new token was written" has_token
check_not "it is not the old one" expect "$old_token" config_token
check "the old configuration is kept aside" sh -c "grep -l '$old_token' $STATE_DIR/clawdbot.json.reset-*"
check "the service runs again" wait_until "$START_LIMIT" is_active
check "sudo clawdbot gateway health --json reports ok with the new token" wait_until 60 gateway_healthy

check "clawdbot --version prints the package's version" sh -c "clawdbot --version | grep -q '^clawdbot '"
check "clawdbot --help lists the service words, then upstream's commands" sh -c \
    "clawdbot --help > '$OUT/help.txt' 2>&1; grep -q 'gateway restart' '$OUT/help.txt' && grep -q 'onboard' '$OUT/help.txt' && grep -qi 'Usage: clawdbot' '$OUT/help.txt'"
on_terminal "$OUT/onboard.txt" "timeout --foreground 90 clawdbot onboard" > /dev/null &
onboard=$!
check "interactive onboarding shows its first prompt on the command's own terminal" \
    wait_until 90 grep -q "Clawdbot onboarding" "$OUT/onboard.txt"
pkill -TERM -f "clawdbot onboard" || true
wait "$onboard"
check "interrupting the admin command stops its transient unit" wait_until 20 no_admin_unit
check_not "the admin command refuses an ordinary user" runuser -u alice -- clawdbot gateway health
finish
