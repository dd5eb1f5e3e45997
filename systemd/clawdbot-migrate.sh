#!/bin/sh
# clawdbot-migrate: `sudo clawdbot migrate [--from USER] [--dry-run] [--force]`
# moves a person's per-user gateway (upstream's systemd user unit @USER_UNIT@
# and its state, ~/.clawdbot unless the unit names another) into the system
# service @UNIT@:
#   - stops and disables the person's user unit, and only that;
#   - copies the state and the workspace into @STATE_DIR@ AS @USER@, inside the
#     service's sandbox (root writes nothing there): files 0600, directories
#     0700; what was there moves aside to @STATE_DIR@/pre-migrate-<time>;
#   - rewrites the configuration's paths to the system layout and keeps the
#     person's gateway token, so that paired clients keep working;
#   - starts the service and waits for its health answer.
# The person's files are read as the person (setpriv) and never changed.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077
cd /

user='@USER@'
unit='@UNIT@'
state='@STATE_DIR@'
user_unit='@USER_UNIT@'
records='@CONFIG_DIR@/migrations'

#include admin/messages.sh

#include systemd/sandboxed.sh

usage() {
    cat <<EOF
usage: sudo clawdbot migrate [--from USER] [--dry-run] [--force]

Moves USER's per-user gateway (the user unit $user_unit and ~/.clawdbot,
default USER: the one who ran sudo) into the system service $unit: stops and
disables their unit, copies their configuration, credentials, agents and
workspace into $state as $user, keeps their gateway token, and starts the
service. Their own files are not changed; the service's previous state is
kept aside in $state/pre-migrate-<time>.

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
esac
entry=$(/usr/bin/getent passwd -- "$from") || die "$from: no such user"
uid=$(printf '%s\n' "$entry" | /usr/bin/cut -d: -f3)
gid=$(printf '%s\n' "$entry" | /usr/bin/cut -d: -f4)
home=$(printf '%s\n' "$entry" | /usr/bin/cut -d: -f6)
[ "$uid" -ne 0 ] || die "$from is root; give the person's user name: --from USER"

# as_person COMMAND...: COMMAND as the person, in a session of its own, with
# no stream of root's but the pipes the caller reads.
as_person() {
    /usr/bin/setsid --wait /usr/bin/setpriv --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all -- \
        /usr/bin/env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@" </dev/null
}

# The person's user manager, when it runs (logged in, or lingering), asked as
# the person on its own socket (no user D-Bus needed).
user_systemctl() {
    as_person XDG_RUNTIME_DIR="/run/user/$uid" /usr/bin/systemctl --quiet --user "$@"
}

# What the person's unit says: its state directory and configuration.
unit_file="$home/.config/systemd/user/$user_unit"
unit_text=$(as_person /bin/cat -- "$unit_file" 2>/dev/null || true)
unit_env() {
    printf '%s\n' "$unit_text" | /usr/bin/sed -n "s/^Environment=\"\{0,1\}$1=\([^\"]*\)\"\{0,1\}\$/\1/p" | /usr/bin/tail -n 1
}
old_state=$(unit_env CLAWDBOT_STATE_DIR)
[ -n "$old_state" ] || old_state="$home/.clawdbot"
old_config=$(unit_env CLAWDBOT_CONFIG_PATH)
[ -n "$old_config" ] || old_config="$old_state/clawdbot.json"
case "$old_state$old_config" in
    *[!A-Za-z0-9._/@+,~=-]*) die "$old_state: only letters, digits and . _ / @ + , ~ = - are handled in the path of a state directory" ;;
esac
[ "$old_config" = "$old_state/clawdbot.json" ] ||
    die "$old_config is not $old_state/clawdbot.json; move it there first (CLAWDBOT_CONFIG_PATH in $unit_file)"
as_person /usr/bin/test -f "$old_config" || die "found no per-user gateway of $from: no $old_config (readable by $from)"

# Its workspace, as the configuration names it (default: ~/clawd).
json5='@APP@/node_modules/json5'
ws_raw=$(as_person '@NODE@' -e '
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
as_person /usr/bin/test -d "$ws" || ws=''
case "$ws" in
    *[!A-Za-z0-9._/@+,~=-]*) die "$ws: only letters, digits and . _ / @ + , ~ = - are handled in the path of a workspace" ;;
esac

# Done before? Then only a running or enabled per-user gateway is news.
active=0
enabled=0
reachable=1
if user_systemctl is-active -- "$user_unit" 2>/dev/null; then active=1; fi
if user_systemctl is-enabled -- "$user_unit" 2>/dev/null; then enabled=1; fi
user_systemctl show-environment >/dev/null 2>&1 || reachable=0
if [ -f "$records" ] && /usr/bin/awk -F '\t' -v u="$from" '$1 == u { found = 1 } END { exit !found }' "$records"; then
    if [ "$active" -eq 0 ] && [ "$enabled" -eq 0 ] && [ "$force" -eq 0 ]; then
        say "nothing to do: the per-user gateway of $from was moved into $unit on $(/usr/bin/awk -F '\t' -v u="$from" '$1 == u { w = $2 } END { print w }' "$records") and is stopped and disabled."
        say "(--force moves $old_state again)"
        exit 0
    fi
fi

# The service's own credentials are not replaced without --force. Asked as the
# service user, inside its sandbox: root reads nothing in $state.
# shellcheck disable=SC2016 # expanded by the sandboxed shell
held=$(sandboxed /bin/sh -c 'cd "$1" || exit 0
for f in credentials/* agents/*/agent/auth-profiles.json; do
    [ -e "$f" ] && echo "$f"
done
exit 0' sh "$state" </dev/null 2>/dev/null | /usr/bin/tr -d '\r' | /usr/bin/head -n 5) || held=''
if [ -n "$held" ] && [ "$force" -eq 0 ]; then
    say "the service already holds credentials of its own ($(printf '%s' "$held" | /usr/bin/tr '\n' ' '));"
    die "refusing to replace them: add --force to move them aside to $state/pre-migrate-<time> first"
fi

stamp=$(/usr/bin/date -u +%Y%m%dT%H%M%SZ)
aside="$state/pre-migrate-$stamp"
files=$(as_person /usr/bin/find "$old_state" -type f 2>/dev/null | /usr/bin/wc -l)
echo "Moving the per-user gateway of $from into the system service $unit:"
if [ "$active" -eq 1 ] || [ "$enabled" -eq 1 ]; then
    echo "  1. stop and disable $from's user unit $user_unit (the unit file stays)"
elif [ "$reachable" -eq 0 ] && [ -n "$unit_text" ]; then
    echo "  1. $from's user manager is not running: disable $user_unit at their next login (systemctl --user disable $user_unit)"
else
    echo "  1. $from's user unit $user_unit is not running or enabled: nothing to stop"
fi
echo "  2. stop $unit; move what is in $state aside to $aside"
echo "  3. copy $old_state ($files files) into $state, as $user: files 0600, directories 0700"
if [ -n "$ws" ] && [ "$ws_inside" -eq 0 ]; then
    echo "  4. copy the workspace $ws into $new_ws"
else
    echo "  4. the workspace: ${ws:-none found}${ws:+ (inside the state directory)}"
fi
echo "  5. rewrite the paths in clawdbot.json ($old_state -> $state${ws:+, $ws -> $new_ws}); $from's gateway token stays"
echo "  6. start $unit and wait for its health answer"
echo "To go back: sudo clawdbot gateway stop; then, as $from: systemctl --user enable --now $user_unit"
echo "($from's files are not changed; the service's previous state stays in $aside)"
if [ "$dry" -eq 1 ]; then
    echo "(--dry-run: nothing was changed)"
    exit 0
fi

# 1. The person's gateway, through their own user manager.
if [ "$active" -eq 1 ] || [ "$enabled" -eq 1 ]; then
    user_systemctl disable --now -- "$user_unit" || die "could not stop $from's $user_unit; as $from: systemctl --user disable --now $user_unit"
    say "stopped and disabled $from's $user_unit"
fi

# 2-5. The copy: read as the person into a file of root's, written as the
# service user in its sandbox.
tmp=$(/usr/bin/mktemp -d /run/clawdbot-migrate.XXXXXX)
trap '/usr/bin/rm -rf -- "$tmp"' EXIT
# Readable by the service user alone (and root), which is to own it anyway.
/usr/bin/chgrp -- '@GROUP@' "$tmp"
/usr/bin/chmod 0750 -- "$tmp"
rel_state=${old_state#/}
rel_ws=''
if [ -n "$ws" ] && [ "$ws_inside" -eq 0 ]; then
    rel_ws=${ws#/}
fi
set -- "$rel_state"
[ -z "$rel_ws" ] || set -- "$@" "$rel_ws"
as_person /usr/bin/tar --create --file=- --directory=/ --one-file-system --warning=no-file-ignored -- "$@" > "$tmp/copy.tar" ||
    die "could not read all of $old_state${ws:+ and $ws} as $from; nothing was changed"
/usr/bin/chgrp -- '@GROUP@' "$tmp/copy.tar"
/usr/bin/chmod 0640 -- "$tmp/copy.tar"

/usr/bin/systemctl stop -- "$unit"
say "stopped $unit"

status=0
# The script holds no "${": systemd would expand it as its own variable.
# shellcheck disable=SC2016 # expanded by the sandboxed shell
out=$(sandboxed /bin/sh -c '
set -eu
umask 077
state=$1 aside=$2 old_state=$3 ws=$4 new_ws=$5 node=$6 json5=$7 home=$8 archive=$9
shift 9
rel_state=$1 rel_ws=$2
cd "$state"
new=$(mktemp -d "$state/.migrate.XXXXXX")
tar --extract --file="$archive" --directory="$new" --no-same-owner --no-same-permissions
if [ ! -f "$new/$rel_state/clawdbot.json" ]; then
    echo "the copy holds no $old_state/clawdbot.json; nothing was changed" >&2
    rm -rf -- "$new"
    exit 1
fi
echo "copied $(find "$new" -type f | wc -l) files"
find "$new" -type d -exec chmod 0700 {} +
find "$new" -type f -exec chmod 0600 {} +
mkdir -m 0700 "$aside"
find "$state" -mindepth 1 -maxdepth 1 ! -path "$new" ! -path "$aside" ! -name "pre-migrate-*" -exec mv -t "$aside" -- {} +
find "$new/$rel_state" -mindepth 1 -maxdepth 1 -exec mv -t "$state" -- {} +
if [ -n "$rel_ws" ] && [ -d "$new/$rel_ws" ]; then
    rm -rf -- "$new_ws"
    mv -- "$new/$rel_ws" "$new_ws"
fi
rm -rf -- "$new"
"$node" -e "
const fs = require(\"fs\");
const [json5, file, home, ...pairs] = process.argv.slice(1);
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
fs.writeFileSync(file + \".migrate\", JSON.stringify(config, null, 2) + \"\\n\", { mode: 0o600, flag: \"wx\" });
fs.renameSync(file + \".migrate\", file);
for (const o of outside) console.log(\"not reachable by the service, left as it is: \" + o);
" "$json5" "$state/clawdbot.json" "$home" "$old_state" "$state" '~/.clawdbot' "$state" "$ws" "$new_ws" '~/clawd' "$new_ws"
' sh "$state" "$aside" "$old_state" "$ws" "$new_ws" '@NODE@' "$json5" "$home" "$tmp/copy.tar" "$rel_state" "$rel_ws" </dev/null 2>&1) || status=$?
printf '%s\n' "$out" | /usr/bin/tr -d '\r' | /usr/bin/sed '/^$/d; s/^/clawdbot: /' >&2
if [ "$status" -ne 0 ]; then
    say "the copy failed (exit $status); what the service had is in $aside if it was moved there"
    /usr/bin/systemctl start -- "$unit" || true
    exit 1
fi
say "copied $old_state${ws:+ and $ws} into $state as $user; the previous state is in $aside"

/usr/bin/touch -- "$records"
/usr/bin/chmod 0644 -- "$records"
printf '%s\t%s\t%s\t%s\n' "$from" "$stamp" "$old_state" "$aside" >> "$records"

# 6. The service with the person's configuration (it may have given up
# starting while the person's gateway held the port).
/usr/bin/systemctl reset-failed -- "$unit" 2>/dev/null || true
/usr/bin/systemctl start -- "$unit"
say "started $unit; waiting for its health answer"
tries=0
until sandboxed '@NODE@' '@ENTRY@' gateway health </dev/null >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 20 ]; then
        say "$unit gives no health answer yet: sudo clawdbot gateway status; sudo journalctl -u $unit"
        exit 1
    fi
    /usr/bin/sleep 2
done
say "done: $unit answers with $from's configuration and token"
