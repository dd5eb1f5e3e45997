//! The admin command's words (`admin/clawdbot-words.sh`), as both platforms'
//! admin commands read them, run by the system's `sh`.

use std::path::Path;
use std::process::Command;

/// The word `clawdbot ARGS...` means.
fn word(args: &[&str]) -> String {
    let words = Path::new(env!("CARGO_MANIFEST_DIR")).join("../admin/clawdbot-words.sh");
    let out = Command::new("sh").arg("-c").arg(r#". "$0"; clawdbot_word "$@"; echo "$word""#).arg(&words).args(args).output().expect("sh runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn service_words_act_on_the_system_service() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "help"),
        (&["--help"], "help"),
        (&["--version"], "version"),
        (&["-V"], "version"),
        (&["gateway", "restart"], "restart"),
        (&["daemon", "restart"], "restart"),
        (&["--profile", "work", "gateway", "restart"], "restart"),
        (&["--profile=work", "--no-color", "gateway", "stop"], "stop"),
        (&["gateway", "start"], "start"),
        (&["gateway", "status", "--json"], "status"),
        (&["gateway", "install"], "install"),
        (&["daemon", "uninstall"], "install"),
        (&["node", "install"], "install"),
        (&["uninstall", "--all"], "install"),
        (&["update", "--channel", "dev"], "update"),
        (&["onboard"], "onboard"),
        (&["reset", "--yes"], "reset"),
        // The grant commands' options are their own, --force and --help included.
        (&["grant", "--write", "/home/a/Documents"], "grant"),
        (&["grant", "--force", "/home/a"], "grant"),
        (&["revoke", "--help"], "grant"),
        (&["grants"], "grant"),
        (&["migrate"], "migrate"),
        (&["migrate", "--from", "alice", "--force"], "migrate"),
        (&["migrate", "--help"], "migrate"),
        (&["gateway"], "foreground"),
        (&["gateway", "run"], "foreground"),
        (&["--dev", "gateway"], "foreground"),
        // An option's value read as the subcommand: refused while running, the safe side.
        (&["gateway", "--port", "18790"], "foreground"),
        (&["gateway", "health"], "pass"),
        (&["gateway", "call", "status"], "pass"),
        (&["health", "--force"], "force"),
        (&["gateway", "run", "--force"], "force"),
        (&["plugins", "list"], "pass"),
        (&["gateway", "restart", "--help"], "pass"),
        (&["logs", "--follow"], "pass"),
    ];
    for (args, want) in cases {
        assert_eq!(word(args), *want, "clawdbot {}", args.join(" "));
    }
}
