# shellcheck shell=sh
# Sourced by warm.sh and startup.sh, which run the real gateway offline inside
# `unshare --user --map-root-user --mount --net`: a root of their own, in which
# the app sits at its installed path while the host is never written, and the
# wait for the gateway's HTTP answer.
#
# make_root APP INSTALLED: sets $work (a tmpfs) and $new (the root): the host's
# top-level entries bound (or linked) into the tmpfs, the installed path made in
# that tmpfs when its first component is not on the host (/Library), else on a
# throw-away overlay of its nearest existing ancestor (/usr/lib), and the app
# bound there. $new/.gateway is the tmpfs's own, for the gateway's state and
# caches (the runtime environment's paths are below /.gateway).
make_root() {
    work=$(mktemp -d)
    mount -t tmpfs tmpfs "$work"
    mkdir "$work/upper" "$work/work"
    new="$work/root"
    mkdir "$new" "$new/.gateway"
    for top in /*; do
        name=${top#/}
        if [ -L "$top" ]; then
            ln -s "$(readlink "$top")" "$new/$name"
        elif [ -d "$top" ]; then
            mkdir "$new/$name"
            mount --rbind "$top" "$new/$name"
        fi
    done
    base=$2
    while [ ! -d "$new$base" ]; do
        base=$(dirname "$base")
    done
    if [ "$base" != "$2" ] && [ "$base" != / ]; then
        mount -t overlay overlay -o "lowerdir=$new$base,upperdir=$work/upper,workdir=$work/work" "$new$base"
    fi
    mkdir -p "$new$2"
    mount --bind "$1" "$new$2"
    ip link set lo up
}

# run_gateway NODE ENTRY STATE ENV_FILE LOG: starts the gateway chrooted in
# $new, in STATE (a path inside the root), with exactly the environment of
# ENV_FILE (NAME=value lines), in the background; sets $pid.
run_gateway() {
    set -f
    old_ifs=$IFS
    IFS='
'
    # shellcheck disable=SC2046 # one NAME=value per line, no white space in them
    set -- "$1" "$2" "$3" "$5" $(cat "$4")
    IFS=$old_ifs
    set +f
    _node=$1 _entry=$2 _state=$3 _log=$4
    shift 4
    # shellcheck disable=SC2016 # expanded by the chrooted shell
    chroot "$new" /bin/sh -c 'cd "$0" && exec "$@"' "$_state" env -i "$@" "$_node" "$_entry" gateway >"$_log" 2>&1 &
    pid=$!
}

# wait_answer NODE PORT LOG SECONDS: until the gateway started by run_gateway
# answers HTTP 200 on PORT; fails, showing LOG, when it exits first or after
# SECONDS.
wait_answer() {
    _deadline=$(($(date +%s) + $4))
    until "$1" -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$2/"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "the gateway exited before answering; its output:" >&2
            cat "$3" >&2
            return 1
        fi
        if [ "$(date +%s)" -gt "$_deadline" ]; then
            echo "the gateway did not answer on port $2 within $4 s; its output:" >&2
            cat "$3" >&2
            kill "$pid"
            return 1
        fi
        sleep 0.1
    done
}
