# shellcheck shell=sh
# What an administrator's `clawdbot ...` command line means for the system
# service. Sourced (never executed) by the admin command of every platform,
# which maps each word to its own service manager:
#
#   clawdbot_word ARGS...   sets $word to one of
#     help        no command, or only -h/--help: our help, then upstream's
#     version     only -V/--version
#     restart     gateway|daemon restart
#     start       gateway|daemon start
#     stop        gateway|daemon stop
#     status      gateway|daemon status
#     install     gateway|daemon install|uninstall, node install|uninstall,
#                 uninstall: refused, it already is a system service
#     update      update: refused, the package manager updates it
#     onboard     onboard: passed through without a per-user service
#     foreground  gateway, gateway run, or gateway followed by anything but a
#                 known subcommand: a second gateway in the foreground
#     force       any --force (upstream kills whatever listens on the port)
#     reset       reset: a new first configuration, done as the service user
#     grant       grant, revoke, grants: access to a person's files (options
#                 such as --force and --help are the grant command's own)
#     migrate     migrate: a person's per-user gateway moved into the service
#                 (its options are its own)
#     pass        everything else: passed through to the upstream CLI
#   and $command, $subcommand to the first two words that are not options.
#
# Upstream's global options come before the command: --dev, --no-color,
# --profile NAME (also --profile=NAME). Anything else starting with "-" before
# the first word is taken as a flag without a value.

# The words are for the sourcing script.
# shellcheck disable=SC2034
clawdbot_word() {
    command=''
    subcommand=''
    _help=0
    _version=0
    _force=0
    _want=''
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --) ;;
            --force) _force=1 ;;
            -h | --help) _help=1 ;;
            -V | --version) [ -n "$command" ] || _version=1 ;;
            --profile)
                if [ -z "$command" ]; then
                    shift
                    [ "$#" -gt 0 ] || break
                fi
                ;;
            -*) ;;
            *)
                if [ -z "$command" ]; then
                    command=$1
                elif [ -z "$subcommand" ]; then
                    subcommand=$1
                fi
                ;;
        esac
        shift
    done

    if [ -z "$command" ]; then
        if [ "$_version" -eq 1 ] && [ "$_help" -eq 0 ]; then
            word=version
        else
            word=help
        fi
        return 0
    fi
    case "$command" in
        grant | revoke | grants)
            word=grant
            return 0
            ;;
        migrate)
            word=migrate
            return 0
            ;;
    esac
    if [ "$_help" -eq 1 ]; then
        word=pass
        return 0
    fi
    case "$command:$subcommand" in
        gateway:restart | daemon:restart) _want=restart ;;
        gateway:start | daemon:start) _want=start ;;
        gateway:stop | daemon:stop) _want=stop ;;
        gateway:status | daemon:status) _want=status ;;
        gateway:install | gateway:uninstall | daemon:install | daemon:uninstall) _want=install ;;
        node:install | node:uninstall | uninstall:*) _want=install ;;
        update:*) _want=update ;;
        onboard:*) _want=onboard ;;
        gateway:call | gateway:usage-cost | gateway:health | gateway:probe | gateway:discover) _want=pass ;;
        # Options with a value before the subcommand (gateway --token T health)
        # read as an unknown subcommand: refused while the service runs, the safe side.
        gateway:*) _want=foreground ;;
        reset:*) _want=reset ;;
        *) _want=pass ;;
    esac
    # --force only matters where the command would run at all.
    if [ "$_force" -eq 1 ] && { [ "$_want" = pass ] || [ "$_want" = onboard ] || [ "$_want" = foreground ]; }; then
        _want=force
    fi
    word=$_want
}
