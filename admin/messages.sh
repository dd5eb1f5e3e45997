# shellcheck shell=sh
# How the admin commands speak: included (#include) by each.

say() {
    printf 'clawdbot: %s\n' "$*" >&2
}

die() {
    say "$@"
    exit 1
}
