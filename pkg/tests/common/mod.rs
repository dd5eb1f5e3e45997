//! What the integration tests need of the machine: system tools (read-back
//! tools, the macOS scripts' helpers) and, for the tests that switch to other
//! accounts' ids, root.
//!
//! A test whose prerequisite is missing prints one line to the terminal,
//! `skipped: <test>: needs <tool> (apt-get install <package>)` or `needs root`,
//! and returns early, so that `cargo test` passes on any machine with Rust. With
//! `CLAWDBOT_TESTS_REQUIRE_ALL=1` (set by `cargo xtask test`) the same line is a
//! failure instead: there, every test must really run.

// Each test file uses the part it needs.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable that turns a skip into a failure.
pub const REQUIRE_ALL: &str = "CLAWDBOT_TESTS_REQUIRE_ALL";

/// The file `tool` runs from PATH, if it is there (an absolute path is taken as it is).
pub fn which(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        return Path::new(tool).is_file().then(|| PathBuf::from(tool));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(tool)).find(|p| p.is_file())
}

/// Whether every tool (command, Debian package that provides it) is there;
/// otherwise the test is skipped, or fails under `CLAWDBOT_TESTS_REQUIRE_ALL=1`.
#[must_use]
pub fn require(tools: &[(&str, &str)]) -> bool {
    let missing: Vec<&(&str, &str)> = tools.iter().filter(|(t, _)| which(t).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    let mut packages: Vec<&str> = Vec::new();
    for (_, p) in &missing {
        if !packages.contains(p) {
            packages.push(p);
        }
    }
    let tools: Vec<&str> = missing.iter().map(|(t, _)| *t).collect();
    skip(&format!("needs {} (apt-get install {})", tools.join(", "), packages.join(" ")))
}

/// Whether the test runs as root; otherwise it is skipped, or fails under
/// `CLAWDBOT_TESTS_REQUIRE_ALL=1`.
#[must_use]
pub fn require_root() -> bool {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    uid == "0" || skip("needs root")
}

fn skip(why: &str) -> bool {
    let thread = std::thread::current();
    let line = format!("skipped: {}: {why}", thread.name().unwrap_or("a test"));
    if std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1") {
        panic!("{line} ({REQUIRE_ALL}=1: every test must run)");
    }
    // Past the test harness's capture, which only takes print!/eprint!: a skip is
    // seen without --nocapture.
    let _ = writeln!(std::io::stderr(), "{line}");
    false
}

/// Makes below a fixture's app directory every path that `[payload.prune]
/// remove` in clawdbot.toml names (a directory holding a package.json), as the
/// real payload holds them: the build stops when one is missing.
pub fn set_aside_copies(app: &Path) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("clawdbot.toml");
    for path in pkg::Manifest::load(&manifest).unwrap().payload.prune.remove {
        let dir = app.join(path);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), "{\"name\":\"set-aside\"}\n").unwrap();
    }
}
