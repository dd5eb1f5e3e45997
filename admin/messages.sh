# shellcheck shell=sh
# How the admin commands speak: included (#include) by each.

say() {
    printf 'clawdbot: %s\n' "$*" >&2
}

die() {
    say "$@"
    exit 1
}

# say_list N: the first N lines of standard input, indented, to standard error,
# every byte but printable ASCII shown as ?: names the service user made reach
# root's terminal this way, and must not drive it.
say_list() {
    LC_ALL=C tr -c '[:print:]\n' '?' | head -n "$1" | sed 's/^/    /' >&2
}
