#!/bin/sh
# shellcheck disable=SC2317 # functions called through check
# Coming from a per-user install: alice runs upstream's gateway the upstream
# way, a lingering systemd user unit with her own ~/.clawdbot (her token, her
# settings, credentials, agents) and a workspace ~/clawd. Installing the package
# reports the conflict; `clawdbot migrate --from alice` moves her setup into
# the system service without changing a byte of hers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

ALICE=/home/alice
# Her own copy of the gateway and Node.js (what `npm i -g clawdbot` gives her):
# the package's files, unpacked where the package does not look.
UPSTREAM=/opt/alice-gateway
ALICE_TOKEN=alice-own-token-5b0f3c1e9d7a4e2f8c6b1a0d3e5f7a9c
# Upstream's per-user unit has the system unit's name.
USER_UNIT=$UNIT

add_person alice
add_person bob
mkdir -p "$UPSTREAM"
dpkg-deb -x "$(ls "$E2E"/pkg/current/"$PKG"_*.deb)" "$UPSTREAM"

runuser -u alice -- sh -c "
set -e
umask 077
mkdir -p ~/.clawdbot/credentials/whatsapp/default ~/.clawdbot/agents/main/agent ~/clawd ~/.config/systemd/user ~/.ssh
cat > ~/.clawdbot/clawdbot.json <<'EOF'
{
  // alice's own settings (JSON5, as upstream reads them)
  gateway: {
    mode: 'local',
    port: $PORT,
    bind: 'loopback',
    auth: { mode: 'token', token: '$ALICE_TOKEN' },
  },
  agents: { defaults: { workspace: '$ALICE/clawd' } },
  update: { checkOnStart: false },
}
EOF
echo '{\"access\":\"alice-oauth-access\"}' > ~/.clawdbot/credentials/oauth.json
echo '{\"me\":\"alice@s.whatsapp.net\"}' > ~/.clawdbot/credentials/whatsapp/default/creds.json
echo '{\"profiles\":{\"anthropic:default\":{\"key\":\"sk-alice\"}}}' > ~/.clawdbot/agents/main/agent/auth-profiles.json
echo '# alice: be brief' > ~/clawd/AGENTS.md
echo 'PRIVATE KEY' > ~/.ssh/id_rsa
cat > ~/.config/systemd/user/$USER_UNIT <<EOF
[Unit]
Description=Clawdbot Gateway (alice's own)

[Service]
ExecStart=$UPSTREAM$NODE $UPSTREAM$ENTRY gateway --port $PORT
Restart=always
RestartSec=2
Environment=HOME=$ALICE
Environment=CLAWDBOT_GATEWAY_PORT=$PORT

[Install]
WantedBy=default.target
EOF
"
alice_systemctl() {
    runuser -u alice -- env XDG_RUNTIME_DIR="/run/user/$(id -u alice)" systemctl --quiet --user "$@"
}
user_manager_up() {
    alice_systemctl show-environment >/dev/null
}
# health_as_bob TOKEN: the gateway's health answer to a client holding TOKEN
# (bob, a new client with no configuration, running alice's copy of the CLI).
health_as_bob() {
    # A new client each time: a paired one would send its device token instead.
    _client=$(runuser -u bob -- mktemp -d)
    runuser -u bob -- env -i HOME=/tmp PATH=/usr/bin:/bin CLAWDBOT_STATE_DIR="$_client" CLAWDBOT_GATEWAY_TOKEN="$1" \
        "$UPSTREAM$NODE" "$UPSTREAM$ENTRY" gateway health --json --url "ws://127.0.0.1:$PORT" > "$OUT/health.json" 2>&1
    _rc=$?
    cat "$OUT/health.json"
    [ "$_rc" -eq 0 ] && grep -Eq '"ok": *true' "$OUT/health.json"
}
# Every file of alice's, with its hash.
alice_hashes() {
    find "$ALICE" -type f -print0 | sort -z | xargs -0 sha256sum
}

check "loginctl enable-linger alice" loginctl enable-linger alice || abort
check "alice's user manager runs" wait_until "$START_LIMIT" user_manager_up || abort
check "alice enables and starts her per-user gateway" alice_systemctl enable --now "$USER_UNIT" || abort
check "her gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok || abort
check "control: her gateway answers a client with her token" wait_until 60 health_as_bob "$ALICE_TOKEN"
check_not "control: and not one with another token" health_as_bob wrong-token-0000000000000000000000000000
cp "$OUT/health.json" "$OUT/health-wrong-token.json"

# Installing the package next to it.
journal_lines=$(journalctl -u "$UNIT" --no-pager -q | wc -l)
check "apt-get install ./clawdbot_*.deb" sh -c "cd $E2E/pkg/current && apt-get install -y --no-install-recommends ./${PKG}_*.deb > $OUT/install.log 2>&1"
cat "$OUT/install.log" >> "$OUT/results"
check "the installation names alice's gateway on the port" grep -q "held by process [0-9]* of the user alice" "$OUT/install.log"
check "and the way out" grep -q "sudo clawdbot migrate --from alice" "$OUT/install.log"
check "the service's log names alice's gateway on the port and clawdbot migrate" \
    wait_until 90 sh -c "journalctl -u $UNIT --no-pager -q | tail -n +$((journal_lines + 1)) | grep -q 'sudo clawdbot migrate --from alice'"

sleep 3
alice_hashes > "$OUT/alice-before"
sys_before=$(sha256sum "$CONFIG")

check "clawdbot migrate --dry-run prints the plan" sh -c "clawdbot migrate --from alice --dry-run > $OUT/dry-run.log 2>&1"
cat "$OUT/dry-run.log" >> "$OUT/results"
check "the plan names her state, workspace and token" sh -c "grep -q '$ALICE/.clawdbot' $OUT/dry-run.log && grep -q '$ALICE/clawd' $OUT/dry-run.log && grep -q 'token stays' $OUT/dry-run.log"
check "--dry-run changed none of her files" sh -c "find $ALICE -type f -print0 | sort -z | xargs -0 sha256sum | cmp - $OUT/alice-before"
check "--dry-run changed nothing of the service's" expect "$sys_before" sha256sum "$CONFIG"
check "--dry-run left her gateway running" alice_systemctl is-active "$USER_UNIT"

check "sudo clawdbot migrate --from alice" sh -c "clawdbot migrate --from alice > $OUT/migrate.log 2>&1"
cat "$OUT/migrate.log" >> "$OUT/results"
check_not "her per-user gateway is stopped" alice_systemctl is-active "$USER_UNIT"
check "and disabled" expect disabled sh -c "runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/\$(id -u alice) systemctl --user is-enabled $USER_UNIT || true"
check "her unit file stays" test -f "$ALICE/.config/systemd/user/$USER_UNIT"
check "$UNIT is active" wait_until "$START_LIMIT" is_active
check "the system gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok
check "the system gateway answers a client with HER token" wait_until 60 health_as_bob "$ALICE_TOKEN"
check_not "control: and not one with another token" health_as_bob wrong-token-0000000000000000000000000000
check "the system configuration holds her token" expect "$ALICE_TOKEN" config_token
check "her credentials are in the system state, byte for byte" cmp "$ALICE/.clawdbot/credentials/oauth.json" "$STATE_DIR/credentials/oauth.json"
check "her channel login too" cmp "$ALICE/.clawdbot/credentials/whatsapp/default/creds.json" "$STATE_DIR/credentials/whatsapp/default/creds.json"
check "and her agent's auth profiles" cmp "$ALICE/.clawdbot/agents/main/agent/auth-profiles.json" "$STATE_DIR/agents/main/agent/auth-profiles.json"
check "her workspace is the service's workspace" cmp "$ALICE/clawd/AGENTS.md" "$STATE_DIR/workspace/AGENTS.md"
check "the configuration points at the system workspace" grep -q "\"workspace\": \"$STATE_DIR/workspace\"" "$CONFIG"
check_not "and at nothing in her home" grep -q "$ALICE" "$CONFIG"
check "the copied directories are there" test -d "$STATE_DIR/credentials" -a -d "$STATE_DIR/agents" -a -d "$STATE_DIR/workspace"
check "every copied file is $SVC_USER's, mode 0600" sh -c "test -z \"\$(find $STATE_DIR/credentials $STATE_DIR/agents $STATE_DIR/workspace $CONFIG -type f ! \( -user $SVC_USER -perm 0600 \))\""
check "every copied directory is $SVC_USER's, mode 0700" sh -c "test -z \"\$(find $STATE_DIR/credentials $STATE_DIR/agents $STATE_DIR/workspace -type d ! \( -user $SVC_USER -perm 0700 \))\""
check "the service's previous configuration is kept aside" sh -c "ls $STATE_DIR/pre-migrate-*/clawdbot.json"
check "every file of alice's has the same hash as before" sh -c "find $ALICE -type f -print0 | sort -z | xargs -0 sha256sum | cmp - $OUT/alice-before"

check "a second run says there is nothing to do" sh -c "clawdbot migrate --from alice 2>&1 | grep -q 'nothing to do'"
alice_systemctl enable "$USER_UNIT"
check_not "with her unit enabled again, the service's credentials are not replaced without --force" \
    sh -c "clawdbot migrate --from alice > $OUT/again.log 2>&1"
check "and it says why" grep -q "already holds credentials" "$OUT/again.log"
alice_systemctl disable "$USER_UNIT"
check "the gateway still answers with her token" health_as_bob "$ALICE_TOKEN"
finish
