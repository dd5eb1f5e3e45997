# shellcheck shell=sh disable=SC2154
# `clawdbot migrate` on every platform: included (#include) by the migrate
# command of each, which runs as root and sets before the include:
#   $user $group $state $records $node $json5   the service and its contract
#   $service            how messages name the system service
#   $service_log        the command that shows the system service's log
#   $person_service     the name of the person's upstream service (unit, label)
#   $tmp_base           a root-only directory for the copy (a tmpfs)
#   $chown              where the system keeps chown
# and defines:
#   say, die                   (admin/messages.sh)
#   person_lookup NAME         sets uid, gid, home of NAME or dies
#   as_person COMMAND...       COMMAND as the person ($uid), in a session of its
#                              own, with no stream of root's; its output on
#                              stdout (no carriage returns), its errors named
#   as_service COMMAND...      COMMAND as $user, as the service runs (sandbox)
#   person_definition          the text of the person's service definition
#                              (unit file, plist), read as the person, or ""
#   definition_env KEY         KEY's value in that environment, or ""
#   person_probe               sets active, enabled (0/1)
#   person_plan, person_stop   step 1 of the plan, and doing it
#   go_back                    how to go back, one line
#   service_stop, service_start, service_healthy
# The person's files are read as the person and never changed; nothing is
# written into $state but as $user.

usage() {
    cat <<EOF
usage: sudo clawdbot migrate [--from USER] [--dry-run] [--force]

Moves USER's per-user gateway ($person_service and ~/.clawdbot, default USER:
the one who ran sudo) into $service: stops and disables
theirs, copies their configuration, credentials, agents and workspace into
$state as $user, keeps their gateway token, and starts the service. Their own
files are not changed; the service's previous state is kept aside in
$state/pre-migrate-<time>.

--dry-run   prints the plan and changes nothing
--force     also when the service already holds credentials of its own
EOF
}

from=${SUDO_USER:-}
dry=0
force=0
while [ "$#" -gt 0 ]; do
    case "$1" in
        migrate) ;;
        --from)
            [ "$#" -ge 2 ] || die "--from needs a user name"
            from=$2
            shift
            ;;
        --from=*) from=${1#--from=} ;;
        --dry-run) dry=1 ;;
        --force) force=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument $1 (see: sudo clawdbot migrate --help)" ;;
    esac
    shift
done

[ "$(/usr/bin/id -u)" -eq 0 ] || die "run it as root: sudo clawdbot migrate"
[ -n "$from" ] || die "whose per-user gateway? sudo clawdbot migrate --from USER"
case "$from" in
    root | "$user") die "$from has no per-user gateway to move; give the person's user name: --from USER" ;;
    -* | *[!A-Za-z0-9._-]*) die "$from: not a user name" ;;
esac
person_lookup "$from"
[ "$uid" -ne 0 ] || die "$from is root; give the person's user name: --from USER"

# Root's own directory for this run: what the person's commands say, and the
# copy of their files.
tmp=$(/usr/bin/mktemp -d "$tmp_base/clawdbot-migrate.XXXXXX")
trap '/bin/rm -rf -- "$tmp"' EXIT

# What the person's service definition says: its state directory.
# shellcheck disable=SC2034 # read by the platform's definition_env
definition=$(person_definition)
old_state=$(definition_env CLAWDBOT_STATE_DIR)
[ -n "$old_state" ] || old_state="$home/.clawdbot"
old_config=$(definition_env CLAWDBOT_CONFIG_PATH)
[ -n "$old_config" ] || old_config="$old_state/clawdbot.json"
old_token=$(definition_env CLAWDBOT_GATEWAY_TOKEN)
case "$old_state$old_config" in
    *[!A-Za-z0-9._/@+,~=-]*) die "$old_state: only letters, digits and . _ / @ + , ~ = - are handled in the path of a state directory" ;;
esac
[ "$old_config" = "$old_state/clawdbot.json" ] ||
    die "$old_config is not $old_state/clawdbot.json; move it there first (CLAWDBOT_CONFIG_PATH of $person_service)"
as_person /bin/test -f "$old_config" || die "found no per-user gateway of $from: no $old_config (readable by $from)"

# Its workspace, as the configuration names it (default: ~/clawd).
ws_raw=$(as_person "$node" -e '
const c = require(process.argv[1]).parse(require("fs").readFileSync(process.argv[2], "utf8"));
process.stdout.write(String((((c || {}).agents || {}).defaults || {}).workspace || ""));
' "$json5" "$old_config") || die "$old_config: cannot be read as a configuration (JSON5); fix it, or start the per-user gateway once to check it"
# A leading ~ is the person's home (upstream expands it so).
tilde='~'
ws=${ws_raw:-"$tilde/clawd"}
case "$ws" in
    "$tilde"/*) ws="$home/${ws#"$tilde"/}" ;;
    "$tilde") ws=$home ;;
esac
new_ws="$state/workspace"
ws_inside=0
case "$ws/" in
    "$old_state"/*) ws_inside=1 ;;
esac
as_person /bin/test -d "$ws" || ws=''
case "$ws" in
    *[!A-Za-z0-9._/@+,~=-]*) die "$ws: only letters, digits and . _ / @ + , ~ = - are handled in the path of a workspace" ;;
esac

# Done before? Then only a running or enabled per-user gateway is news.
active=0
enabled=0
person_probe
if [ -f "$records" ] && /usr/bin/awk -F '\t' -v u="$from" '$1 == u { found = 1 } END { exit !found }' "$records"; then
    if [ "$active" -eq 0 ] && [ "$enabled" -eq 0 ] && [ "$force" -eq 0 ]; then
        say "nothing to do: the per-user gateway of $from was moved into $service on $(/usr/bin/awk -F '\t' -v u="$from" '$1 == u { w = $2 } END { print w }' "$records") and is stopped and disabled."
        say "(--force moves $old_state again)"
        exit 0
    fi
fi

# The service's own credentials are not replaced without --force. Asked as the
# service user: root reads nothing in $state.
# shellcheck disable=SC2016 # expanded by the service user's shell
held=$(as_service /bin/sh -c 'cd "$1" || exit 0
for f in credentials/* agents/*/agent/auth-profiles.json; do
    [ -e "$f" ] && echo "$f"
done
exit 0' sh "$state" </dev/null 2>/dev/null | /usr/bin/tr -d '\r' | /usr/bin/head -n 5) || held=''
if [ -n "$held" ] && [ "$force" -eq 0 ]; then
    say "the service already holds credentials of its own ($(printf '%s' "$held" | /usr/bin/tr '\n' ' '));"
    die "refusing to replace them: add --force to move them aside to $state/pre-migrate-<time> first"
fi

stamp=$(/bin/date -u +%Y%m%dT%H%M%SZ)
aside="$state/pre-migrate-$stamp"
files=$(as_person /usr/bin/find "$old_state" -type f | /usr/bin/wc -l)
echo "Moving the per-user gateway of $from into $service:"
person_plan
echo "  2. stop $service; move what is in $state aside to $aside"
echo "  3. copy $old_state ($((files)) files) into $state, as $user: files 0600, directories 0700"
if [ -n "$ws" ] && [ "$ws_inside" -eq 0 ]; then
    echo "  4. copy the workspace $ws into $new_ws"
else
    echo "  4. the workspace: ${ws:-none found}${ws:+ (inside the state directory)}"
fi
echo "  5. rewrite the paths in clawdbot.json ($old_state -> $state${ws:+, $ws -> $new_ws}); $from's gateway token stays"
echo "  6. start $service and wait for its health answer"
echo "To go back: $(go_back)"
echo "($from's files are not changed; the service's previous state stays in $aside)"
if [ "$dry" -eq 1 ]; then
    echo "(--dry-run: nothing was changed)"
    exit 0
fi

# 1. The person's gateway, through their own service manager.
person_stop

# 2-5. The copy: an archive the person writes (by path: no stream of root's
# carries it), then root's and the service group's, extracted by the service
# user.
rel_state=${old_state#/}
rel_ws=''
if [ -n "$ws" ] && [ "$ws_inside" -eq 0 ]; then
    rel_ws=${ws#/}
fi
set -- "$rel_state"
[ -z "$rel_ws" ] || set -- "$@" "$rel_ws"
/bin/chmod 0711 -- "$tmp"
archive="$tmp/copy.tar"
(umask 077 && : >"$archive")
"$chown" -- "$uid" "$archive"
as_person /usr/bin/tar -c -f "$archive" -C / --one-file-system -- "$@" >/dev/null ||
    die "could not read all of $old_state${ws:+ and $ws} as $from; nothing was changed"
"$chown" -- "0:$group" "$archive"
/bin/chmod 0640 -- "$archive"
/bin/chmod 0750 -- "$tmp"
/usr/bin/chgrp -- "$group" "$tmp"

service_stop

status=0
# The script holds no "${": systemd would expand it as its own variable.
# shellcheck disable=SC2016 # expanded by the service user's shell
out=$(as_service /bin/sh -c '
set -eu
umask 077
state=$1 aside=$2 old_state=$3 ws=$4 new_ws=$5 node=$6 json5=$7 home=$8 archive=$9
shift 9
rel_state=$1 rel_ws=$2 token=$3
cd "$state"
new=$(mktemp -d "$state/.migrate.XXXXXX")
tar -x -f "$archive" -C "$new" --no-same-owner --no-same-permissions
if [ ! -f "$new/$rel_state/clawdbot.json" ]; then
    echo "the copy holds no $old_state/clawdbot.json; nothing was changed" >&2
    rm -rf -- "$new"
    exit 1
fi
n=$(find "$new" -type f | wc -l)
echo "copied $((n)) files"
find "$new" -type d -exec chmod 0700 {} +
find "$new" -type f -exec chmod 0600 {} +
mkdir -m 0700 "$aside"
find "$state" -mindepth 1 -maxdepth 1 ! -path "$new" ! -path "$aside" ! -name "pre-migrate-*" -exec mv -- {} "$aside/" \;
find "$new/$rel_state" -mindepth 1 -maxdepth 1 -exec mv -- {} "$state/" \;
if [ -n "$rel_ws" ] && [ -d "$new/$rel_ws" ]; then
    rm -rf -- "$new_ws"
    mv -- "$new/$rel_ws" "$new_ws"
fi
rm -rf -- "$new"
"$node" -e "
const fs = require(\"fs\");
const [json5, file, home, token, ...pairs] = process.argv.slice(1);
const config = require(json5).parse(fs.readFileSync(file, \"utf8\"));
const outside = [];
const rewrite = (v, at) => {
  if (typeof v === \"string\") {
    for (let i = 0; i < pairs.length; i += 2) {
      const [from, to] = [pairs[i], pairs[i + 1]];
      if (from && (v === from || v.startsWith(from + \"/\"))) return to + v.slice(from.length);
    }
    if (v === home || v.startsWith(home + \"/\") || v.startsWith(\"~/\")) outside.push(at + \": \" + v);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => rewrite(x, at + \"[\" + i + \"]\"));
  if (v && typeof v === \"object\") {
    for (const k of Object.keys(v)) v[k] = rewrite(v[k], at ? at + \".\" + k : k);
  }
  return v;
};
rewrite(config, \"\");
config.agents = config.agents || {};
config.agents.defaults = config.agents.defaults || {};
if (!config.agents.defaults.workspace) config.agents.defaults.workspace = pairs[pairs.length - 1];
config.gateway = config.gateway || {};
config.gateway.auth = config.gateway.auth || {};
if (token && !config.gateway.auth.token) {
  config.gateway.auth.token = token;
  console.log(\"the gateway token of the per-user service definition is now in the configuration\");
}
fs.writeFileSync(file + \".migrate\", JSON.stringify(config, null, 2) + \"\\n\", { mode: 0o600, flag: \"wx\" });
fs.renameSync(file + \".migrate\", file);
for (const o of outside) console.log(\"not reachable by the service, left as it is: \" + o);
" "$json5" "$state/clawdbot.json" "$home" "$token" "$old_state" "$state" "~/.clawdbot" "$state" "$ws" "$new_ws" "~/clawd" "$new_ws"
' sh "$state" "$aside" "$old_state" "$ws" "$new_ws" "$node" "$json5" "$home" "$archive" "$rel_state" "$rel_ws" "$old_token" </dev/null 2>&1) || status=$?
printf '%s\n' "$out" | /usr/bin/tr -d '\r' | /usr/bin/sed '/^$/d; s/^/clawdbot: /' >&2
if [ "$status" -ne 0 ]; then
    say "the copy failed (exit $status); what the service had is in $aside if it was moved there"
    service_start || true
    exit 1
fi
say "copied $old_state${ws:+ and $ws} into $state as $user; the previous state is in $aside"

/usr/bin/touch -- "$records"
/bin/chmod 0644 -- "$records"
printf '%s\t%s\t%s\t%s\n' "$from" "$stamp" "$old_state" "$aside" >>"$records"

# 6. The service with the person's configuration (it may have given up
# starting while the person's gateway held the port).
service_start
say "started $service; waiting for its health answer"
tries=0
until service_healthy; do
    tries=$((tries + 1))
    if [ "$tries" -ge 20 ]; then
        say "$service gives no health answer yet: sudo clawdbot gateway status; $service_log"
        exit 1
    fi
    /bin/sleep 2
done
say "done: $service answers with $from's configuration and token"
