//! `cargo xtask`: the build driver of the clawdbot system packages.
//!
//! Thin orchestration only: fetch the payload, stage it, call the writers in `pkg`,
//! run the checks in `tests`. No format knowledge lives here.

mod bench;
mod checks;
mod dist;
mod e2e;
mod fetch;
mod files;
mod layers;
mod pkg_checks;
mod release;
mod repo;
mod repo_checks;
mod rpm_checks;
mod sbom_checks;
mod test;
mod tools;
mod warm;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};
use pkg::{Format, Target};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build and test the clawdbot system packages")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the pinned payload and build packages (default: every target and format).
    Dist(dist::Args),
    /// Run every check: formatting, lints, shellcheck, unit tests, the real packages
    /// read back by dpkg-deb and lintian, systemd-analyze, reproducibility.
    Test(test::Args),
    /// Time our writers against dpkg-deb and rpmbuild on the same staged tree
    /// (report in target/bench/). Run `cargo xtask dist` first to warm the cache.
    Bench(bench::Args),
    /// Boot Debian with systemd in containers and check the real .deb end to end:
    /// install, isolation, upgrade, remove/purge, install without systemd running.
    E2e(e2e::Args),
    /// Turn the artifacts of `dist` into signed APT and yum repositories that any
    /// web server can serve (default: target/dist -> target/repo).
    Repo(repo::Args),
    /// What the release pipeline runs after `test`: every artifact with its SBOM,
    /// the signed repositories and a signed SHA256SUMS, in target/release/.
    Release(release::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dist(args) => dist::run(&args).map(|_| ()),
        Command::Test(args) => test::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::E2e(args) => e2e::run(&args),
        Command::Repo(args) => repo::run(&args).map(|_| ()),
        Command::Release(args) => release::run(&args).map(|_| ()),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The workspace root (where `clawdbot.toml` is).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_owned()
}

pub fn parse_target(s: &str) -> Result<Target, String> {
    s.parse().map_err(|e: pkg::target::UnknownName| e.to_string())
}

pub fn parse_format(s: &str) -> Result<Format, String> {
    s.parse().map_err(|e: pkg::target::UnknownName| e.to_string())
}

/// An argument struct's values when nothing is given on the command line, for
/// the `Default` of each subcommand's `Args`.
pub fn cli_defaults<A: clap::Args>(command: &str) -> A {
    #[derive(clap::Parser)]
    struct Cli<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    <Cli<A> as clap::Parser>::parse_from([command]).args
}

/// Prints a progress line for a step and its duration.
pub fn step<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {what}");
    let t = std::time::Instant::now();
    let r = f();
    if r.is_ok() {
        eprintln!("    done in {:.1} s", t.elapsed().as_secs_f64());
    }
    r
}
