//! `cargo xtask test`: every check of the repository, in the order a failure is
//! cheapest to see. Installs the system tools it needs (as root, with apt-get); a
//! tool that cannot be had is a failure, never a skip. `cargo test` runs with
//! `CLAWDBOT_TESTS_REQUIRE_ALL=1`: a test that would skip for want of a tool or
//! of root (`pkg/tests/common`) fails instead.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
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
    // Takes the .deb's data member out as it is (the shared-payload check).
    ("ar", "binutils"),
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
    report.check("shellcheck of every shell script (shipped ones rendered)", || shellcheck(&sh))?;
    report.check("GitHub workflows: actionlint, zizmor, shellcheck of every run: block", || Ok(cmd!(sh, "bash tests/lint-workflows.sh").run()?))?;
    report
        .check("cargo test (unit tests, fixture packages; none may skip)", || Ok(cmd!(sh, "cargo test --workspace --quiet").env(REQUIRE_ALL, "1").run()?))?;
    if args.quick {
        return report.finish();
    }

    // The real packages, from the real payload: every target and format.
    let first = crate::dist::build(&crate::dist::Args::default())?;
    let built = first.paths.clone();
    let find = |suffix: &str| -> Result<PathBuf> { checks::built_with(&built, suffix).cloned() };
    let deb = find("_amd64.deb")?;
    report.check("real amd64 .deb read back by dpkg-deb", || checks::deb_contents(&sh, &deb, Target::LinuxX64))?;
    report.check("real arm64 .deb holds only aarch64 binaries", || checks::deb_contents(&sh, &find("_arm64.deb")?, Target::LinuxArm64))?;
    report.check("lintian: 0 errors, 0 warnings on the real amd64 .deb", || checks::lintian(&sh, &deb))?;
    report.check("systemd-analyze verify and security <= 1.1", || checks::systemd_unit(&sh, &deb))?;
    report.check("SBOMs: valid CycloneDX 1.6 (cyclonedx-python-lib), the npm packages really in the .deb and .rpm", || {
        crate::sbom_checks::check(&sh, &crate::root().join("target/dist"))
    })?;
    report.check("the amd64 and arm64 .deb, and .rpm, begin with the same compressed bytes", || checks::shared_payloads(&sh, &built))?;
    report.check("xz lists the amd64 .deb's x86 code in blocks with its x86 filter, the arm64 .deb's without", || checks::x86_filters(&sh, &built))?;
    report.check("reproducible: all six built again apart, byte-identical to the build that shared compressed pieces", || checks::reproducible(&first))?;
    // The repositories of those packages, fresh (not target/repo, which
    // accumulates releases), read back by apt's, rpm's and dnf's own tools.
    let repo = crate::files::tempdir("repo")?;
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

/// Runs shellcheck on every shell script of the repository: the shipped ones
/// (templates, `#include`s and `@NAME@`s resolved) as rendered for their
/// platform, every other one (the transpile cache's build, the start-up
/// benchmark, CI's entry point, the workflow lint, the end-to-end scenarios) as
/// it is.
fn shellcheck(sh: &Shell) -> Result<()> {
    let root = crate::root();
    let manifest = pkg::Manifest::load(&root.join("clawdbot.toml"))?;
    let templates = pkg::format::load_templates(&root)?;
    let dir = root.join("target/shellcheck");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // Each template with its format's values (the shared ones with the first's).
    let mut rendered = std::collections::BTreeMap::new();
    for format in pkg::Format::ALL {
        let writer = format.writer();
        let vars = writer.vars(&manifest)?;
        for name in pkg::template::COMMON.iter().copied().chain(writer.templates()) {
            if !rendered.contains_key(name) {
                rendered.insert(name, templates.render(name, &vars)?);
            }
        }
    }
    let mut files = Vec::new();
    let mut shipped = std::collections::BTreeSet::new();
    for (name, text) in rendered {
        if is_shell(name, &text) {
            let out = dir.join(name.replace('/', "__"));
            std::fs::write(&out, text)?;
            files.push(out);
            shipped.insert(PathBuf::from(name));
        }
    }
    if files.len() < 14 {
        bail!("expected at least 14 shipped shell scripts to check, found {}", files.len());
    }
    let others: Vec<PathBuf> = shell_scripts(&root)?.into_iter().filter(|p| !shipped.contains(p)).collect();
    if others.len() < 15 {
        bail!("expected at least 15 other shell scripts to check, found {}", others.len());
    }
    files.extend(others.iter().map(|p| root.join(p)));
    let list = &files;
    // -x: the admin commands source the shared word list (source= directives
    // name it relative to the repository root).
    cmd!(sh, "shellcheck -x --severity=style {list...}").run()?;
    eprintln!("    {} scripts clean ({} shipped, rendered; {} others)", files.len(), shipped.len(), others.len());
    Ok(())
}

/// Whether a file is a shell script: named `*.sh`, or its first line is a
/// `#!` of sh, dash or bash (directly or through env), or a shellcheck shell
/// directive.
fn is_shell(name: &str, text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    let shebang = first.strip_prefix("#!").map(|l| {
        let mut words = l.split_whitespace();
        let program = words.next().unwrap_or("");
        let program = if program.ends_with("/env") { words.next().unwrap_or("") } else { program };
        matches!(program.rsplit('/').next(), Some("sh" | "dash" | "bash"))
    });
    name.ends_with(".sh") || shebang == Some(true) || first.starts_with("# shellcheck shell=")
}

/// Every shell script below `root` (relative paths, sorted), outside
/// `target`, `node_modules` and `.git`; links are not followed.
fn shell_scripts(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in crate::files::walk(root, &["target", "node_modules", ".git"])? {
        if !std::fs::symlink_metadata(&path)?.is_file() {
            continue;
        }
        let mut head = [0u8; 256];
        let n = std::io::Read::read(&mut std::fs::File::open(&path)?, &mut head)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if is_shell(&name, &String::from_utf8_lossy(&head[..n])) {
            found.push(path.strip_prefix(root)?.to_owned());
        }
    }
    Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_scripts_are_known_by_name_or_first_line() {
        for (name, text) in [
            ("x.sh", ""),
            ("run", "#!/usr/bin/env bash\nset -e\n"),
            ("postinst", "#!/bin/sh\n"),
            ("preinstall", "#! /bin/dash -e\n"),
            ("words", "# shellcheck shell=sh\n"),
        ] {
            assert!(is_shell(name, text), "{name}");
        }
        for (name, text) in [("x.py", "#!/usr/bin/env python3\n"), ("unit.service", "[Unit]\n"), ("shell.md", "# sh\n"), ("run", "#!/bin/shellcheck\n")] {
            assert!(!is_shell(name, text), "{name}");
        }
    }

    /// The scripts that are not shipped are found too, wherever they are.
    #[test]
    fn every_script_of_the_repository_is_found() {
        let found = shell_scripts(&crate::root()).unwrap();
        for want in [
            ".ci/run",
            "tests/lint-workflows.sh",
            "tests/e2e/lib.sh",
            "tests/e2e/install.sh",
            "xtask/src/warm.sh",
            "xtask/src/startup.sh",
            "debian/postinst",
            "launchd/postinstall",
            "admin/grant-paths.sh",
        ] {
            assert!(found.contains(&PathBuf::from(want)), "{want} not found in {found:?}");
        }
        assert!(found.iter().all(|p| !p.starts_with("target")), "{found:?}");
        for name in pkg::format::template_names() {
            let shell = std::fs::read_to_string(crate::root().join(name)).map(|t| is_shell(name, &t)).unwrap();
            assert_eq!(found.contains(&PathBuf::from(name)), shell, "{name}");
        }
    }
}
