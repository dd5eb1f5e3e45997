//! `cargo xtask test`: every check of the repository, in the order a failure is
//! cheapest to see. Installs the system tools it needs (as root, with apt-get); a
//! tool that cannot be had is a failure, never a skip. `cargo test` runs with
//! `CLAWDBOT_TESTS_REQUIRE_ALL=1`: a test that would skip for want of a tool or
//! of root (`pkg/tests/common`) fails instead.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pkg::Target;
use xshell::{cmd, Shell};

use crate::checks;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the fast checks: formatting, lints, shellcheck and unit tests (no real payload).
    #[arg(long)]
    pub quick: bool,
}

/// (command, Debian package that provides it).
pub const TOOLS: &[(&str, &str)] = &[
    ("dpkg-deb", "dpkg"),
    ("lintian", "lintian"),
    ("shellcheck", "shellcheck"),
    ("systemd-analyze", "systemd"),
    ("xz", "xz-utils"),
    ("file", "file"),
    // The macOS grant command's tests pause processes and look at them for real.
    ("ps", "procps"),
    ("setsid", "util-linux"),
];

/// What the fixture tests (`cargo test`) need besides the tools of the real
/// packages' checks: a throw-away signing key, and for the macOS scripts the
/// account switch, a terminal and the real node.
const UNIT_TEST_TOOLS: &[(&str, &str)] = &[("gpg", "gnupg"), ("gpgconf", "gnupg"), ("setpriv", "util-linux"), ("script", "bsdutils"), ("node", "nodejs")];

/// Set to 1 for `cargo test`: a missing prerequisite fails a test instead of skipping it.
const REQUIRE_ALL: &str = "CLAWDBOT_TESTS_REQUIRE_ALL";

pub fn run(args: &Args) -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(crate::root());
    // The fixture tests (cargo test) read packages back with the tools of the
    // real packages' checks too.
    let tools = [TOOLS, crate::rpm_checks::TOOLS, crate::pkg_checks::TOOLS, UNIT_TEST_TOOLS, crate::repo_checks::TOOLS].concat();
    crate::tools::need_tools(&sh, &tools)?;
    let mut report = Report::default();

    report.check("cargo fmt --check", || Ok(cmd!(sh, "cargo fmt --all --check").run()?))?;
    report.check("cargo clippy -D warnings", || Ok(cmd!(sh, "cargo clippy --workspace --all-targets --quiet -- -D warnings").run()?))?;
    report.check("shellcheck of every shipped script", || shellcheck(&sh))?;
    report.check("GitHub workflows: actionlint, zizmor, shellcheck of every run: block", || Ok(cmd!(sh, "bash tests/lint-workflows.sh").run()?))?;
    report
        .check("cargo test (unit tests, fixture packages; none may skip)", || Ok(cmd!(sh, "cargo test --workspace --quiet").env(REQUIRE_ALL, "1").run()?))?;
    if args.quick {
        return report.finish();
    }

    // The real packages, from the real payload: every target and format.
    let built = crate::dist::run(&crate::dist::Args::default())?;
    let find = |suffix: &str| -> Result<PathBuf> {
        built.iter().find(|p| p.to_string_lossy().ends_with(suffix)).cloned().with_context(|| format!("no *{suffix} was built"))
    };
    let deb = find("_amd64.deb")?;
    report.check("real amd64 .deb read back by dpkg-deb", || checks::deb_contents(&sh, &deb, Target::LinuxX64))?;
    report.check("real arm64 .deb holds only aarch64 binaries", || checks::deb_contents(&sh, &find("_arm64.deb")?, Target::LinuxArm64))?;
    report.check("lintian: 0 errors, 0 warnings on the real amd64 .deb", || checks::lintian(&sh, &deb))?;
    report.check("systemd-analyze verify and security <= 1.1", || checks::systemd_unit(&sh, &deb))?;
    report.check("SBOMs: valid CycloneDX 1.6 (cyclonedx-python-lib), the npm packages really in the .deb and .rpm", || {
        crate::sbom_checks::check(&sh, &crate::root().join("target/dist"))
    })?;
    report.check("reproducible: a second build of all six artifacts is byte-identical", || checks::reproducible(&built))?;
    // The repositories of those packages, fresh (not target/repo, which
    // accumulates releases), read back by apt's, rpm's and dnf's own tools.
    let repo = crate::checks::tempdir("repo")?;
    report.check("cargo xtask repo: signed APT and yum repositories of the real packages", || {
        let out = repo.strip_prefix(crate::root())?.to_owned();
        crate::repo::run(&crate::repo::Args { out, ..Default::default() }).map(|_| ())
    })?;
    report.check("the repositories read back by apt-ftparchive, gpgv, sqv, gpg, rpmkeys, createrepo_c, dnf", || crate::repo::verify(&repo))?;
    report.check("reproducible: the repository built twice is byte-identical", || crate::repo_checks::reproducible(Path::new("target/dist")))?;
    report.check("cargo xtask release --dry-run: artifacts, SBOMs, signed SHA256SUMS, repositories", || crate::release::dry_run_check(&sh))?;
    report.check("end to end under a booted systemd (cargo xtask e2e)", || {
        crate::e2e::run(&crate::e2e::Args { deb: Some(deb.clone()), rpm: Some(find(".x86_64.rpm")?), ..Default::default() })
    })?;
    report.check("real x86_64 .rpm read back by rpm, rpmlint 0 errors", || crate::rpm_checks::check_real_rpm(&sh, &find(".x86_64.rpm")?, Target::LinuxX64))?;
    report
        .check("real aarch64 .rpm read back by rpm, rpmlint 0 errors", || crate::rpm_checks::check_real_rpm(&sh, &find(".aarch64.rpm")?, Target::LinuxArm64))?;
    for (target, suffix) in [(Target::DarwinArm64, "-arm64.pkg"), (Target::DarwinX64, "-x86_64.pkg")] {
        report.check(&format!("real {target} .pkg read back by bsdtar, 7z, cpio, file, apple-flat-package/xar/bom"), || {
            crate::pkg_checks::check_real_pkg(&sh, &find(suffix)?, target)
        })?;
    }
    report.finish()
}

/// Renders every shipped shell script (Linux and macOS) and runs shellcheck on the
/// result, and on the script `dist` runs to build the transpile cache.
fn shellcheck(sh: &Shell) -> Result<()> {
    let root = crate::root();
    let manifest = pkg::Manifest::load(&root.join("clawdbot.toml"))?;
    let templates = pkg::template::Templates::load(&root)?;
    let (linux_vars, macos_vars) = (pkg::linux::vars(&manifest), pkg::macos::vars(&manifest)?);
    let dir = root.join("target/shellcheck");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut files = Vec::new();
    for name in pkg::template::Templates::names() {
        let vars = if pkg::macos::TEMPLATES.contains(&name) { &macos_vars } else { &linux_vars };
        let text = templates.render(name, vars)?;
        if text.starts_with("#!/bin/sh") || text.starts_with("#!/bin/bash") || text.starts_with("# shellcheck shell=sh") {
            let out = dir.join(name.replace('/', "__"));
            std::fs::write(&out, text)?;
            files.push(out);
        }
    }
    if files.len() < 14 {
        bail!("expected at least 14 shell scripts to check, found {}", files.len());
    }
    // Not shipped, but run by `dist` in a namespace of its own, by CI, and by
    // the end-to-end scenarios inside their containers.
    files.push(root.join("xtask/src/warm.sh"));
    files.push(root.join("xtask/src/startup.sh"));
    files.push(root.join(".ci/run"));
    files.push(root.join("tests/lint-workflows.sh"));
    for e in std::fs::read_dir(root.join("tests/e2e"))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "sh") {
            files.push(p);
        }
    }
    let list = &files;
    // -x: the admin commands source the shared word list (source= directives
    // name it relative to the repository root).
    cmd!(sh, "shellcheck -x --severity=style {list...}").run()?;
    eprintln!("    {} scripts clean", files.len());
    Ok(())
}

/// Collects pass/fail per check; a failure stops the run with its message.
#[derive(Default)]
pub struct Report {
    passed: usize,
}

impl Report {
    pub fn check(&mut self, name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        eprintln!("==> {name}");
        let t = Instant::now();
        match f() {
            Ok(()) => {
                self.passed += 1;
                eprintln!("    ok ({:.1} s)", t.elapsed().as_secs_f64());
                Ok(())
            }
            Err(e) => {
                eprintln!("    FAILED ({:.1} s)", t.elapsed().as_secs_f64());
                println!("{} passed, 1 failed", self.passed);
                Err(e.context(format!("check failed: {name}")))
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        println!("{} passed, 0 failed", self.passed);
        Ok(())
    }
}
