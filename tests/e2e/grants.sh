#!/bin/sh
# Explicit, revocable access to a person's files: sudo clawdbot grant, revoke,
# grants. What the running gateway can do is checked from inside its own mount
# namespace, as its user (as_gateway); each check has a control that shows the
# file is there and usable by its owner.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

ALICE=/home/alice
DOCS=$ALICE/Documents
NOTES=$DOCS/notes.txt
KEY=$ALICE/.ssh/id_rsa
DROPIN=/etc/systemd/system/$UNIT.d/50-grants.conf

check "apt-get install ./clawdbot_*.deb" install_pkg current || abort
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok || abort

add_person alice
add_person bob
runuser -u alice -- sh -c "mkdir -p $DOCS $ALICE/.ssh && echo 'alice notes' > $NOTES && echo 'PRIVATE KEY' > $KEY && chmod 600 $NOTES $KEY && chmod 700 $ALICE/.ssh"
notes_mode=$(stat -c %a "$NOTES")
check "control: alice reads and writes her notes and her key" runuser -u alice -- sh -c "cat $NOTES $KEY >/dev/null && echo more >> $NOTES"

check_not "before any grant the gateway cannot read the notes" as_gateway cat "$NOTES"
check_not "before any grant the gateway cannot read the key" as_gateway cat "$KEY"

# Refusals, each leaving no entry behind.
check_not "grant of a whole home is refused" clawdbot grant "$ALICE"
check_not "grant of ~/.ssh is refused" clawdbot grant "$ALICE/.ssh"
check_not "grant of /etc is refused" clawdbot grant /etc
check_not "grant of a relative path is refused" clawdbot grant Documents
runuser -u bob -- ln -s "$DOCS" /tmp/bobs-link
check_not "grant through a link of another user is refused" clawdbot grant /tmp/bobs-link
check "the refusals added no ACL entry" no_acl_of "$SVC_USER" "$ALICE"
check "the refusals wrote no drop-in" test ! -e "$DROPIN"

old_pid=$(main_pid)
check "sudo clawdbot grant $DOCS" clawdbot grant "$DOCS" || abort
check "the service was restarted to see it" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200 with the grant" wait_until "$HTTP_LIMIT" http_ok
check "the gateway reads the notes" as_gateway cat "$NOTES"
check_not "the gateway still cannot read the key" as_gateway cat "$KEY"
check_not "the gateway cannot change the notes" as_gateway sh -c "echo x >> $NOTES"
check "control: alice still can" runuser -u alice -- sh -c "echo more >> $NOTES"
check "the mode bits of the owner's group are unchanged (group::---)" sh -c "getfacl -p $NOTES | grep -qx 'group::---'"
check "clawdbot grants lists it, in effect" sh -c "clawdbot grants | grep -E '^$DOCS +read +.* yes'"
check "the admin command's sandbox has the same drop-in" sh -c "systemctl cat $UNIT | grep -qx 'BindReadOnlyPaths=-$DOCS'"
check "systemd-analyze security with the grant <= 1.1" exposure_at_most 1.1

old_pid=$(main_pid)
check "sudo clawdbot grant --write $DOCS" clawdbot grant --write "$DOCS" || abort
check "the service was restarted" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok
check "the gateway changes the notes" as_gateway sh -c "echo 'from the gateway' >> $NOTES"
check "and creates a file there" as_gateway sh -c "echo new > $DOCS/new.txt"
check_not "the gateway cannot write beside Documents" as_gateway sh -c "echo x > $ALICE/outside.txt"
check "and nothing appeared in alice's home" test ! -e "$ALICE/outside.txt"
check_not "the gateway still cannot read the key" as_gateway cat "$KEY"

# What a link leads to is checked like what was typed: a link of the gateway's
# own must not choose what is granted, and what it leads to is written into the
# unit's configuration (a space there would begin another bind, here of the
# host's D-Bus socket directory).
as_gateway sh -c "mkdir -p '$DOCS/p /run/dbus:/run/x' && ln -s '$DOCS/p /run/dbus:/run/x' $DOCS/steer"
check_not "grant through the gateway's own link to its own directory is refused" clawdbot grant --no-restart "$DOCS/steer"
runuser -u alice -- sh -c "mkdir -p '$ALICE/two words' && ln -s '$ALICE/two words' $ALICE/plain"
check_not "grant of alice's link to a path with a space is refused" clawdbot grant --no-restart "$ALICE/plain"
# Links met inside what a link leads to count too.
runuser -u alice -- sh -c "mkdir -p $ALICE/Private $ALICE/Projects/a && ln -s $DOCS/current $ALICE/current"
as_gateway ln -s "$ALICE/Private" "$DOCS/current"
check "control: alice's link leads, through the gateway's, to her Private" expect "$ALICE/Private" realpath "$ALICE/current"
check_not "grant of alice's link that leads through the gateway's link is refused" clawdbot grant --no-restart "$ALICE/current"
# systemd finds a bound path again at every start, following links: what the
# gateway could replace before then is not granted.
runuser -u alice -- mkdir -p "$DOCS/inner"
check_not "a grant inside the --write grant is refused" clawdbot grant --no-restart "$DOCS/inner"
check "control: alice's own link to a directory of hers is granted" sh -c "runuser -u alice -- ln -s $ALICE/Projects/a $ALICE/alink && clawdbot grant --no-restart $ALICE/alink"
check_not "a --write grant of the directory above that grant is refused" clawdbot grant --write --no-restart "$ALICE/Projects"
check "revoke it" clawdbot revoke --no-restart "$ALICE/Projects/a"
check "the drop-in binds only what was granted" expect "BindPaths=-$DOCS" sh -c "grep -E '^Bind' $DROPIN"
rm -rf -- "$DOCS/p " "$DOCS/steer" "$DOCS/current" "$DOCS/inner" "$ALICE/two words" "$ALICE/plain" "$ALICE/Private" "$ALICE/Projects" "$ALICE/current" "$ALICE/alink"

# A gateway that exits is started again after RestartSec: a grant made in
# between waits until it runs again, so that the pause holds its new processes too.
systemctl kill --kill-whom=main --signal=KILL "$UNIT"
check "control: $UNIT waits to restart" wait_until 10 sh -c "systemctl show -P SubState $UNIT | grep -qx auto-restart"
check "a grant meanwhile succeeds" clawdbot grant --write --no-restart "$DOCS"
check "and it waited until $UNIT ran again" expect running systemctl show -P SubState "$UNIT"
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok

old_pid=$(main_pid)
check "an upgrade keeps the grant" install_pkg next
check "the service was restarted by the upgrade" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200 after the upgrade" wait_until "$HTTP_LIMIT" http_ok
check "the gateway still reads the notes after the upgrade" as_gateway cat "$NOTES"

# The gateway races root: it keeps swapping files of the shared tree for links
# to a file of root's while root changes the entries below it (a grant made
# again, then the revoke). Root must never follow one of those links.
TARGET=/etc/clawdbot-race-target
echo 'root only' > "$TARGET"
chmod 600 "$TARGET"
RACER='
import ctypes, os, sys
d, target, ready = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
exchange = libc.renameat2
os.makedirs(d, exist_ok=True)
pairs = []
for i in range(400):
    n = os.path.join(d, "f%d" % i).encode()
    open(n, "w").close()
    os.symlink(target, n + b".l")
    pairs.append((n, n + b".l"))
open(ready, "w").close()
while True:
    for a, b in pairs:
        exchange(-100, a, -100, b, 2)
'
as_gateway python3 -c "$RACER" "$DOCS/race" "$TARGET" "$STATE_DIR/racer-ready" &
racer=$!
check "the gateway's racer runs" wait_until 20 test -e "$STATE_DIR/racer-ready"
check "sudo clawdbot grant --write again, while it races" clawdbot grant --write --no-restart "$DOCS"
check "root's file got no ACL entry from the grant" sh -c "! getfacl -p --skip-base $TARGET | grep ."
check "the racer was paused during the walk and runs again" sh -c "! grep -q '^State:.*T' /proc/$racer/status"

old_pid=$(main_pid)
check "sudo clawdbot revoke $DOCS" clawdbot revoke "$DOCS" || abort
check "the service was restarted" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok
check_not "after revoke the gateway cannot read the notes" as_gateway cat "$NOTES"
check "getfacl shows no entry of $SVC_USER anywhere" no_acl_of "$SVC_USER" "$ALICE"
check "the notes have their mode again ($notes_mode)" expect "$notes_mode" stat -c %a "$NOTES"
check "the drop-in is gone" test ! -e "$DROPIN"
check "root's file got no ACL entry from the revoke" sh -c "! getfacl -p --skip-base $TARGET | grep ."
kill -KILL "$racer" 2>/dev/null || true
wait "$racer" 2>/dev/null || true
rm -rf -- "$DOCS/race" "$TARGET"
check "clawdbot grants lists nothing" sh -c "clawdbot grants | grep -q 'no grants'"

# A revoke after someone else edited the ACL removes only ours.
# Entries are made as the path's owner: what is not alice's stays as it is.
install -o bob -g bob -m 600 /dev/null "$DOCS/bobs.txt"
check "grant again: it names bob's file inside as left unshared" sh -c "clawdbot grant --no-restart $DOCS 2>&1 | grep 'left unshared' -A3 | grep -q bobs.txt"
check "bob's file got no entry of $SVC_USER" sh -c "! getfacl -p $DOCS/bobs.txt | grep -q '$SVC_USER'"
setfacl -m u:bob:r "$NOTES"
check "revoke says what it left" sh -c "clawdbot revoke --no-restart $DOCS 2>&1 | grep -q 'user:bob:r'"
check "bob's entry stayed" sh -c "getfacl -p $NOTES | grep -qx 'user:bob:r--'"
check "ours went" no_acl_of "$SVC_USER" "$ALICE"
setfacl -x u:bob "$NOTES"
rm -f -- "$DOCS/bobs.txt"

# A file with other names (hard links) is not shared: the entry would be the
# file's under every name, and another may lie outside the grant.
runuser -u alice -- sh -c "echo secret > $ALICE/private.txt && chmod 600 $ALICE/private.txt && ln $ALICE/private.txt $DOCS/hl.txt"
check "control: the link in Documents is the private file" expect "$(stat -c %i "$ALICE/private.txt")" stat -c %i "$DOCS/hl.txt"
check "grant again: it names the hard-linked file as left unshared" sh -c "clawdbot grant --no-restart $DOCS 2>&1 | grep 'hard links' -A3 | grep -q hl.txt"
check "the private file got no entry of $SVC_USER" sh -c "! getfacl -p $ALICE/private.txt | grep -q '$SVC_USER'"
check "control: the notes beside it did" sh -c "getfacl -p $NOTES | grep -q 'user:$SVC_USER:r'"
check_not "a grant of the hard-linked file itself is refused" clawdbot grant --no-restart "$DOCS/hl.txt"
check "revoke" clawdbot revoke --no-restart "$DOCS"
rm -f -- "$ALICE/private.txt" "$DOCS/hl.txt"

# Purge takes every grant back.
check "grant before purge" clawdbot grant --no-restart "$DOCS"
check "apt-get purge $PKG" apt-get purge -y "$PKG"
check "purge removed every ACL entry of $SVC_USER" no_acl_of "$SVC_USER" "$ALICE"
check "purge removed the drop-in" test ! -e "$DROPIN"
finish
