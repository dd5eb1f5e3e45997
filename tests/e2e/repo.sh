#!/bin/sh
# Install and upgrade from the signed APT repository, as the README tells a
# user: the repository (built on the host by `cargo xtask repo`) is served over
# HTTP on loopback; the container has no other source and no internet.
#
#   /e2e/repo/one    the package under test
#   /e2e/repo/two    the same repository with the higher version added
#   /e2e/repo/other  the package under test, signed by another key
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /e2e/tests/lib.sh

WWW=/srv/www
PORT=8000
BASE=http://localhost:$PORT
KEYRING=/usr/share/keyrings/clawdbot-archive-keyring.pgp
SOURCES=/etc/apt/sources.list.d/clawdbot.sources
HTTP_LOG=$OUT/http.log

# serve DIR: the web server's root becomes DIR.
serve() {
    ln -sfn "$1" "$WWW"
}

# tampered NAME EDIT: a copy of /e2e/repo/one changed by the shell command EDIT
# (run inside the copy), served.
tampered() {
    rm -rf "/srv/$1"
    cp -a /e2e/repo/one "/srv/$1"
    (cd "/srv/$1" && sh -c "$2") || return 1
    serve "/srv/$1"
}

# refused WHAT REASON: apt refuses the served repository, saying REASON.
refused() {
    check "apt-get update --error-on=any fails: $1" update_refused "$2"
    check_not "apt-get install $PKG fails: $1" apt-get install -y "$PKG"
    check "nothing was installed: $1" not_installed
}

# The container's only source is the repository.
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
mkdir -p /srv
serve /e2e/repo/one
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WWW" > "$HTTP_LOG" 2>&1 &
check "the repository is served on $BASE" wait_until 20 curl -fsS -o /dev/null "$BASE/clawdbot.sources" || abort

# As the README says.
check "curl the keyring into $KEYRING" curl -fsSLo "$KEYRING" "$BASE/clawdbot-archive-keyring.pgp" || abort
check "curl the source into $SOURCES" curl -fsSLo "$SOURCES" "$BASE/clawdbot.sources" || abort
check "the source names the keyring and both architectures" grep -qx "Signed-By: $KEYRING" "$SOURCES"
check "the source lists amd64 and arm64" grep -qx "Architectures: amd64 arm64" "$SOURCES"

# Tampering fails loudly and installs nothing.
serve /e2e/repo/other
refused "a repository signed by another key" "NO_PUBKEY|Missing key|not signed|couldn't be verified"
tampered inrelease "sed -i 's/^Label: .*/Label: forged/' deb/dists/stable/InRelease"
refused "a modified InRelease" "BADSIG|bad signature|invalid signature|couldn't be verified|not signed"
# shellcheck disable=SC2016
tampered packages 'for f in $(find deb/dists -path "*/binary-*" -type f); do printf "\nPackage: forged\n" >> "$f"; done'
refused "a modified Packages index" "Hash Sum mismatch|unexpected size"

serve /e2e/repo/one
mark=$(wc -l < "$HTTP_LOG")
check "apt-get update --error-on=any" strict_update || abort
check "apt fetched the index by hash (Acquire-By-Hash)" logged_since "$HTTP_LOG" "$mark" '"GET /deb/dists/stable/main/binary-amd64/by-hash/SHA256/[0-9a-f]* HTTP/1.1" 200'
check_not "no request failed (apt falls back silently on a 404)" logged_since "$HTTP_LOG" "$mark" '" 404 '
check_not "apt did not fall back to the plain index names" logged_since "$HTTP_LOG" "$mark" 'GET /deb/dists/stable/main/binary-amd64/Packages'
t0=$(now_ms)
check "apt-get install $PKG from the repository" apt-get install -y --no-install-recommends "$PKG" || abort
check "dpkg has version $(pkg_version current)" expect "$(pkg_version current)" installed_version
check "$UNIT is active" wait_until "$START_LIMIT" is_active || abort
check "the gateway answers HTTP 200" wait_until "$HTTP_LIMIT" http_ok || abort
metric repo_install_to_http200_s "$(seconds_since "$t0")"
check "its main process runs as $SVC_USER" expect "$SVC_USER" main_user
check "the package owns the keyring the source names" expect "$PKG: $KEYRING" dpkg -S "$KEYRING"
check "the package's keyring is the one the repository serves" cmp "$KEYRING" /e2e/repo/one/clawdbot-archive-keyring.pgp
check "apt-get update --error-on=any still verifies with the package's keyring" strict_update

old_token=$(config_token)
runuser -u "$SVC_USER" -- sh -c "echo 'state written by the service' > $STATE_DIR/e2e-marker"
old_marker=$(sha "$STATE_DIR/e2e-marker")
old_pid=$(main_pid)

# A newer version published.
serve /e2e/repo/two
check "apt-get update --error-on=any sees the new release" strict_update || abort
check "apt-get upgrade installs the higher version" apt-get upgrade -y || abort
check "dpkg has the higher version $(pkg_version next)" expect "$(pkg_version next)" installed_version
check "the service was restarted: a new main PID (was $old_pid)" wait_until "$START_LIMIT" new_main_pid "$old_pid"
check "the gateway answers HTTP 200 after the upgrade" wait_until "$HTTP_LIMIT" http_ok
check "the token is unchanged" expect "$old_token" config_token
check "the marker in the state dir survived unchanged" expect "$old_marker" sha "$STATE_DIR/e2e-marker"
check "the older version stays published" sh -c "apt-cache madison $PKG | grep -qF '$(pkg_version current)'"
finish
