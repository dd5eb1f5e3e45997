//! `cargo xtask e2e`: the real `.deb` of the real gateway, installed with apt on a
//! booted Debian whose PID 1 is systemd, checked the way its users and an attacker
//! would see it.
//!
//! Each scenario boots a throw-away overlay (`systemd-nspawn --volatile=overlay`)
//! of a Debian tree that is built once with mmdebstrap and cached under
//! `target/e2e/`. The scenario's checks are the shell scripts in `tests/e2e/`: the
//! unit `e2e-scenario.service` runs `tests/e2e/run.sh` after boot, which runs
//! `<scenario>.sh`, writes the results into the bound directory `/e2e/out` and ends
//! the container with `systemctl exit <status>`. A scenario that needs a first
//! phase without a running systemd (`<scenario>.chroot.sh`) gets a copy of the tree
//! that it prepares in a plain chroot and then boots.
//!
//! The Depends of the package are installed in the cached tree (the tree's package
//! list is derived from the package's Depends field), so that `apt-get install
//! ./clawdbot_*.deb` resolves them with the container's network cut off.
//!
//! The `rpm` scenario installs the `.rpm` with Debian's own `rpm` in the same
//! Debian tree: its scriptlets run against a real systemd, but no RPM-based
//! distribution, its dependency resolution or its policy is exercised.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pkg::{Format, Target};
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The package to test (default: built from this checkout, cached under target/e2e/pkg).
    #[arg(long)]
    pub deb: Option<PathBuf>,
    /// A package of a higher version, for the upgrade (default: built from this
    /// checkout with the packaging revision raised by one).
    #[arg(long)]
    pub upgrade_deb: Option<PathBuf>,
    /// The .rpm (x86_64) for the rpm scenario (default: built from this checkout,
    /// cached under target/e2e/pkg).
    #[arg(long)]
    pub rpm: Option<PathBuf>,
    /// An .rpm of a higher release, for the rpm scenario's upgrade (default: built
    /// from this checkout with the packaging revision raised by one).
    #[arg(long)]
    pub upgrade_rpm: Option<PathBuf>,
    /// Run only this scenario (repeatable): install, isolation, admin, upgrade, remove-purge, chroot, rpm,
    /// repo, repo-trixie.
    #[arg(long = "scenario")]
    pub scenarios: Vec<String>,
    /// Seconds one scenario may take, boot and shutdown included.
    #[arg(long, default_value_t = TIMEOUT)]
    pub timeout: u64,
}

/// Seconds one scenario may take by default.
const TIMEOUT: u64 = 960;

impl Default for Args {
    /// The same defaults as on the command line.
    fn default() -> Args {
        Args { deb: None, upgrade_deb: None, rpm: None, upgrade_rpm: None, scenarios: Vec::new(), timeout: TIMEOUT }
    }
}

/// Host tools: (command, Debian package).
pub const TOOLS: &[(&str, &str)] = &[("systemd-nspawn", "systemd-container"), ("mmdebstrap", "mmdebstrap"), ("unshare", "util-linux"), ("dpkg-deb", "dpkg")];

/// A Debian release to boot.
pub struct Release {
    pub suite: &'static str,
    pub mirror: &'static str,
}

pub const BOOKWORM: Release = Release { suite: "bookworm", mirror: "http://deb.debian.org/debian" };
/// Debian 13, whose apt verifies signatures with sqv.
pub const TRIXIE: Release = Release { suite: "trixie", mirror: "http://deb.debian.org/debian" };

/// What every scenario uses inside the container, besides the package's Depends.
/// (`rpm` is Debian's rpm, for the rpm scenario; `python3` serves the repository
/// in the repo scenarios.)
const BASE_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "procps",
    "curl",
    "ca-certificates",
    "sudo",
    "util-linux",
    "acl",
    "passwd",
    "coreutils",
    "rpm",
    "iproute2",
    "python3",
    // A person's systemd user manager (lingering), for the migrate scenario.
    "libpam-systemd",
];

/// Host tools the rpm scenario needs besides TOOLS: reading and comparing the .rpm versions.
const RPM_TOOLS: &[(&str, &str)] = &[("rpm", "rpm")];

/// One scenario: `tests/e2e/<name>.sh` in the booted system, preceded by
/// `tests/e2e/<name>.chroot.sh` in a plain chroot when `chroot_first`; `rpm`:
/// it installs the .rpm packages rather than the .deb packages; `repo`: it
/// installs from APT repositories built on the host (see [`repositories`]);
/// `release`: the Debian it boots.
pub struct Scenario {
    pub name: &'static str,
    pub what: &'static str,
    pub chroot_first: bool,
    pub rpm: bool,
    pub repo: bool,
    pub release: &'static Release,
}

/// A scenario on bookworm that installs the .deb files.
const fn deb(name: &'static str, what: &'static str) -> Scenario {
    Scenario { name, what, chroot_first: false, rpm: false, repo: false, release: &BOOKWORM }
}

pub const SCENARIOS: &[Scenario] = &[
    deb("install", "apt-get install; user, service, HTTP 200, health, state dir, token"),
    deb("isolation", "the sandbox hides /home and /root, is read-only outside its state"),
    deb("admin", "sudo clawdbot runs the CLI in the sandbox on its own terminal; its service words act on the system service"),
    deb("grants", "clawdbot grant/revoke: the gateway reads (or writes) just the granted files; upgrade keeps, purge removes"),
    deb("migrate", "alice's per-user gateway: the installation names it; clawdbot migrate moves her setup in, her token works, her files unchanged"),
    deb("upgrade", "a higher version restarts the service and keeps token, config, marker, user"),
    deb("remove-purge", "remove keeps state and user, purge clears state, reinstall makes a new token"),
    Scenario { chroot_first: true, ..deb("chroot", "install without a running systemd, then boot: the service comes up") },
    Scenario { rpm: true, ..deb("rpm", "rpm -i, -U, -e with Debian's rpm: user, service, HTTP 200, hidden home, state kept") },
    Scenario { repo: true, ..deb("repo", "Debian 12: apt install and upgrade from the signed repository; tampering refused") },
    Scenario { repo: true, release: &TRIXIE, ..deb("repo-trixie", "Debian 13 (sqv): apt install and upgrade from the signed repository; tampering refused") },
];

/// The unit that runs the scenario in the booted container.
const SCENARIO_UNIT: &str = "e2e-scenario.service";

pub fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let root = crate::root();
    let sh = Shell::new()?;
    sh.change_dir(&root);
    let scenarios = select(&args.scenarios)?;
    let with_rpm = scenarios.iter().any(|s| s.rpm);
    check_host(&sh, with_rpm)?;

    let pkgs = packages(&sh, args, with_rpm)?;
    eprintln!("    package under test: {}", pkgs.deb.display());
    eprintln!("    higher version:     {}", pkgs.upgrade_deb.display());
    if let Some((rpm, upgrade_rpm)) = &pkgs.rpm {
        eprintln!("    .rpm under test:    {}", rpm.display());
        eprintln!("    higher release:     {}", upgrade_rpm.display());
    }
    let mut trees = Vec::new();
    for release in [&BOOKWORM, &TRIXIE] {
        if scenarios.iter().any(|s| s.release.suite == release.suite) {
            let tree = crate::step(&format!("Debian {} tree for the containers", release.suite), || Tree::ensure(&sh, release, &pkgs.deb))?;
            trees.push((release.suite, tree));
        }
    }
    let repos =
        if scenarios.iter().any(|s| s.repo) { Some(crate::step("APT repositories for the repo scenarios", || repositories(&root, &pkgs))?) } else { None };

    let work = root.join("target/e2e/runs");
    fs::create_dir_all(&work)?;
    let mut outcomes = Vec::new();
    for s in scenarios {
        eprintln!("==> e2e scenario {}: {}", s.name, s.what);
        let t = Instant::now();
        let tree = &trees.iter().find(|(suite, _)| *suite == s.release.suite).expect("a tree for every release").1;
        let res = run_scenario(tree, s, &work, &pkgs, repos.as_deref(), Duration::from_secs(args.timeout));
        let secs = t.elapsed().as_secs_f64();
        match &res {
            Ok(o) if o.passed => {
                eprintln!("    PASS {} ({secs:.1} s){}", s.name, o.metrics_line());
            }
            Ok(o) => {
                eprintln!("    FAIL {} ({secs:.1} s): {}", s.name, o.reason);
                o.print_evidence();
            }
            Err(e) => eprintln!("    FAIL {} ({secs:.1} s): {e:#}", s.name),
        }
        outcomes.push((s.name, secs, res.as_ref().map(|o| o.passed).unwrap_or(false), res.map(|o| o.metrics).unwrap_or_default()));
    }

    let passed = outcomes.iter().filter(|o| o.2).count();
    let failed = outcomes.len() - passed;
    eprintln!("==> e2e summary ({:.1} s in all)", started.elapsed().as_secs_f64());
    for (name, secs, ok, metrics) in &outcomes {
        let m: String = metrics.iter().map(|(k, v)| format!(", {k} {v}")).collect();
        eprintln!("    {:<4} {name:<13} {secs:6.1} s{m}", if *ok { "pass" } else { "FAIL" });
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} end-to-end scenario(s) failed");
    }
    Ok(())
}

/// The host must be able to bootstrap and boot containers: root and the tools.
fn check_host(sh: &Shell, with_rpm: bool) -> Result<()> {
    if cmd!(sh, "id -u").quiet().read()?.trim() != "0" {
        bail!("the end-to-end tests boot containers and must run as root (sudo cargo xtask e2e)");
    }
    crate::tools::need_tools(sh, TOOLS)
        .context("the end-to-end tests need systemd-nspawn and mmdebstrap: apt-get install systemd-container mmdebstrap util-linux")?;
    if with_rpm {
        crate::tools::need_tools(sh, RPM_TOOLS).context("the rpm scenario reads the .rpm versions with rpm: apt-get install rpm")?;
    }
    Ok(())
}

fn select(names: &[String]) -> Result<Vec<&'static Scenario>> {
    if names.is_empty() {
        return Ok(SCENARIOS.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            SCENARIOS
                .iter()
                .find(|s| s.name == n)
                .with_context(|| format!("no scenario {n:?}; there are: {}", SCENARIOS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The packages

/// The packages the scenarios install: the .deb under test and one of a higher
/// version, and, when an rpm scenario runs, the same pair of .rpm packages.
struct Packages {
    deb: PathBuf,
    upgrade_deb: PathBuf,
    rpm: Option<(PathBuf, PathBuf)>,
}

/// The package under test and the one of a higher packaging revision: the files
/// given on the command line, or else built from this checkout.
fn pair(given: &Option<PathBuf>, given_upgrade: &Option<PathBuf>, format: Format) -> Result<(PathBuf, PathBuf)> {
    let root = crate::root();
    let pick = |given: &Option<PathBuf>, name: &str, bump: u32, what: &str| -> Result<PathBuf> {
        let path = match given {
            Some(p) => root.join(p),
            None => crate::step(&format!("the .{format} of {what}"), || build_cached(&root, name, bump, format))?,
        };
        if !path.is_file() {
            bail!("no package at {}", path.display());
        }
        Ok(path)
    };
    Ok((pick(given, "current", 0, "this checkout")?, pick(given_upgrade, "next", 1, "a higher packaging revision (for the upgrade)")?))
}

/// The packages, each pair checked to compare as lower and higher version.
fn packages(sh: &Shell, args: &Args, with_rpm: bool) -> Result<Packages> {
    let (deb, upgrade_deb) = pair(&args.deb, &args.upgrade_deb, Format::Deb)?;
    let (a, b) = (deb_field(sh, &deb, "Version")?, deb_field(sh, &upgrade_deb, "Version")?);
    if cmd!(sh, "dpkg --compare-versions {a} lt {b}").quiet().run().is_err() {
        bail!("the upgrade package ({b}) is not of a higher version than the package under test ({a})");
    }
    if !with_rpm {
        return Ok(Packages { deb, upgrade_deb, rpm: None });
    }
    let (rpm, upgrade_rpm) = pair(&args.rpm, &args.upgrade_rpm, Format::Rpm)?;
    let (a, b) = (rpm_evr(sh, &rpm)?, rpm_evr(sh, &upgrade_rpm)?);
    let lua = format!("%{{lua: print(rpm.vercmp('{a}', '{b}'))}}");
    if cmd!(sh, "rpm --eval {lua}").quiet().read()?.trim() != "-1" {
        bail!("the upgrade .rpm ({b}) is not of a higher version than the .rpm under test ({a})");
    }
    Ok(Packages { deb, upgrade_deb, rpm: Some((rpm, upgrade_rpm)) })
}

/// epoch:version-release of an .rpm file.
fn rpm_evr(sh: &Shell, rpm: &Path) -> Result<String> {
    let qf = "%{EPOCHNUM}:%{VERSION}-%{RELEASE}";
    let evr = cmd!(sh, "rpm -qp --nosignature --qf {qf} {rpm}").quiet().read()?;
    let evr = evr.trim().to_owned();
    if evr.is_empty() || !evr.chars().all(|c| c.is_ascii_alphanumeric() || ".:-_+~^".contains(c)) {
        bail!("{}: unexpected version {evr:?}", rpm.display());
    }
    Ok(evr)
}

fn deb_field(sh: &Shell, deb: &Path, field: &str) -> Result<String> {
    Ok(cmd!(sh, "dpkg-deb -f {deb} {field}").quiet().read()?.trim().to_owned())
}

/// Builds the linux-x64 package of `format` (.deb or .rpm) with the packaging
/// revision raised by `bump`, into `target/e2e/pkg/<label>/` (`rpm-<label>/` for
/// an .rpm), unless the same inputs built it already.
fn build_cached(root: &Path, label: &str, bump: u32, format: Format) -> Result<PathBuf> {
    let (dir, ext) = match format {
        Format::Rpm => (root.join("target/e2e/pkg").join(format!("rpm-{label}")), "rpm"),
        _ => (root.join("target/e2e/pkg").join(label), "deb"),
    };
    let manifest_text = fs::read_to_string(root.join("clawdbot.toml"))?;
    let manifest_text = if bump == 0 { manifest_text } else { bump_revision(&manifest_text, bump)? };
    let stamp = format!("{}\n", inputs_hash(root, &manifest_text, format)?);
    let stamp_path = dir.join("inputs.sha256");
    if fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        if let Some(deb) = find_pkg(&dir, ext)? {
            eprintln!("    up to date: {}", deb.display());
            return Ok(deb);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let manifest = dir.join("clawdbot.toml");
    fs::write(&manifest, &manifest_text)?;
    let rel = |p: &Path| p.strip_prefix(root).map(Path::to_owned).unwrap_or_else(|_| p.to_owned());
    // dist's options may grow; the defaults of new ones apply.
    #[allow(clippy::needless_update)]
    let dist_args = crate::dist::Args {
        targets: vec![Target::LinuxX64],
        formats: vec![format],
        out: rel(&dir.join("out")),
        manifest: rel(&manifest),
        ..crate::dist::Args::default()
    };
    let out = crate::dist::run(&dist_args)?;
    let deb = out.into_iter().next().context("dist built no package")?;
    fs::write(&stamp_path, stamp)?;
    Ok(deb)
}

fn find_pkg(dir: &Path, ext: &str) -> Result<Option<PathBuf>> {
    let out = dir.join("out");
    if !out.is_dir() {
        return Ok(None);
    }
    for e in fs::read_dir(out)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == ext) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The manifest text with `revision = N` of [package] replaced by N + bump.
fn bump_revision(text: &str, bump: u32) -> Result<String> {
    let mut out = String::new();
    let mut section = "";
    let mut done = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t;
        }
        match t.strip_prefix("revision").map(str::trim_start).and_then(|r| r.strip_prefix('=')) {
            Some(v) if section == "[package]" && !done => {
                let n: u32 = v.trim().parse().with_context(|| format!("revision {v:?} is not a number"))?;
                writeln!(out, "revision = {}", n + bump)?;
                done = true;
            }
            _ => writeln!(out, "{line}")?,
        }
    }
    if !done {
        bail!("clawdbot.toml has no revision in [package]");
    }
    Ok(out)
}

/// A hash of everything a package of `format` is built from.
fn inputs_hash(root: &Path, manifest_text: &str, format: Format) -> Result<String> {
    let mut files = Vec::new();
    let mut dirs = vec!["payload", "admin", "systemd", "debian", "pkg"];
    if format == Format::Rpm {
        dirs.push("rpm");
    }
    for dir in dirs {
        collect_files(&root.join(dir), &mut files)?;
    }
    for f in
        ["Cargo.lock", "xtask/src/dist.rs", "xtask/src/fetch.rs", "xtask/src/warm.rs", "xtask/src/warm.sh", "xtask/src/gateway-root.sh", "xtask/src/repo.rs"]
    {
        files.push(root.join(f));
    }
    files.sort();
    let mut h = Sha256::new();
    if format == Format::Rpm {
        h.update(b"rpm\0");
    }
    h.update(manifest_text.as_bytes());
    // The repository keys the package ships.
    h.update(crate::repo::keyring(&[])?.binary);
    for f in files {
        // A file that cannot be read is an error: skipped, it would let a stale
        // cached package pass for a fresh one.
        let bytes = fs::read(&f).with_context(|| format!("reading {}, an input of the e2e packages", f.display()))?;
        h.update(f.strip_prefix(root).unwrap_or(&f).to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            if e.file_name() != "target" && e.file_name() != "node_modules" {
                collect_files(&p, out)?;
            }
        } else {
            out.push(p);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The container tree

/// A minbase Debian tree with systemd, cached under `target/e2e/<suite>/root`.
/// `stamp` records what it was built with; another stamp builds it anew.
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    pub fn ensure(sh: &Shell, release: &Release, deb: &Path) -> Result<Tree> {
        let base = crate::root().join("target/e2e").join(release.suite);
        let root = base.join("root");
        let includes = tree_packages(sh, deb)?;
        let stamp = format!("mmdebstrap --variant=minbase {} {}\ninclude: {}\n", release.suite, release.mirror, includes.join(","));
        if root.join("usr/lib/systemd/systemd").exists() && fs::read_to_string(base.join("stamp")).ok().as_deref() == Some(stamp.as_str()) {
            eprintln!("    cached: {}", root.display());
            return Ok(Tree { root });
        }
        // Built beside, then renamed, so that a run that is stopped half-way
        // never leaves a tree that looks complete.
        let tmp = crate::root().join("target/e2e").join(format!("{}.new-{}", release.suite, std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        let new_root = tmp.join("root");
        let include = format!("--include={}", includes.join(","));
        // The containers boot with a private network: name the host so that sudo
        // and the gateway can resolve it without DNS.
        let hook =
            "--customize-hook=echo e2e > \"$1/etc/hostname\"; printf '127.0.0.1 localhost\\n127.0.1.1 e2e\\n::1 localhost ip6-localhost\\n' > \"$1/etc/hosts\"";
        let (suite, mirror) = (release.suite, release.mirror);
        cmd!(sh, "timeout 900 mmdebstrap --quiet --variant=minbase {include} {hook} {suite} {new_root} {mirror}")
            .run()
            .with_context(|| format!("mmdebstrap could not build the {suite} tree from {mirror}"))?;
        fs::write(tmp.join("stamp"), &stamp)?;
        let _ = fs::remove_dir_all(&base);
        fs::rename(&tmp, &base).with_context(|| format!("moving {} to {}", tmp.display(), base.display()))?;
        Ok(Tree { root })
    }
}

/// BASE_PACKAGES and the first alternative of each of the package's Depends.
fn tree_packages(sh: &Shell, deb: &Path) -> Result<Vec<String>> {
    let depends = deb_field(sh, deb, "Depends")?;
    let mut names: Vec<String> = BASE_PACKAGES.iter().map(|s| s.to_string()).collect();
    for dep in depends.split(',') {
        let first = dep.split('|').next().unwrap_or("").trim();
        let name = first.split([' ', '(', ':']).next().unwrap_or("").trim();
        if !name.is_empty() {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

// ---------------------------------------------------------------------------
// The repositories of the repo scenarios

/// `target/e2e/repo/{one,two,other}`, served at http://localhost:8000 inside the
/// container: `one` holds the package under test, `two` is `one` updated with
/// the package of the higher version (as a release adds its version), `other`
/// holds the package under test signed by another key. Built anew each run
/// (a few seconds: the packages are hard links).
fn repositories(root: &Path, pkgs: &Packages) -> Result<PathBuf> {
    let base = root.join("target/e2e/repo");
    let _ = fs::remove_dir_all(&base);
    let input = |name: &str, pkg: &Path| -> Result<PathBuf> {
        let d = base.join("in").join(name);
        fs::create_dir_all(&d)?;
        let to = d.join(pkg.file_name().context("a package file name")?);
        if fs::hard_link(pkg, &to).is_err() {
            fs::copy(pkg, &to)?;
        }
        Ok(d)
    };
    let (one, next) = (input("one", &pkgs.deb)?, input("next", &pkgs.upgrade_deb)?);
    let keys = crate::repo::signing_keys(&[])?;
    let other = crate::repo::Args { signing_keys: vec![crate::repo::other_testing_key()?], ..Default::default() };
    let rel = |p: &Path| p.strip_prefix(root).map(Path::to_owned).unwrap_or_else(|_| p.to_owned());
    let out = base.join("served");
    for (from, to, args) in [(&one, "one", None), (&one, "two", None), (&next, "two", None), (&one, "other", Some(&other))] {
        let args = crate::repo::Args { from: rel(from), out: rel(&out.join(to)), ..args.cloned().unwrap_or_default() };
        crate::repo::run(&args)?;
    }
    eprintln!("    signed by {} (other: {})", keys.first().fingerprint(), crate::repo::signing_keys(&other.signing_keys)?.first().fingerprint());
    let _ = fs::remove_dir_all(base.join("in"));
    Ok(out)
}

// ---------------------------------------------------------------------------
// Running one scenario

struct Outcome {
    passed: bool,
    reason: String,
    dir: PathBuf,
    console: PathBuf,
    metrics: Vec<(String, String)>,
    /// The package's unit, whose journal a failure shows.
    unit: String,
}

impl Outcome {
    fn metrics_line(&self) -> String {
        self.metrics.iter().map(|(k, v)| format!(", {k} {v}")).collect()
    }

    /// The check results, the unit's journal and the console, on failure.
    fn print_evidence(&self) {
        let out = self.dir.join("out");
        show("results", &out.join("results"), 200);
        // The container's persistent journal, readable even when the scenario
        // never got to save it (a hung boot or a timeout).
        let journal = self.dir.join("journal");
        let text = Command::new("journalctl")
            .arg("-D")
            .arg(&journal)
            .args(["--no-pager", "-o", "short-monotonic", "-u", &self.unit])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let from_host = out.join("journal-gateway.host.txt");
        if !text.trim().is_empty() && fs::write(&from_host, text).is_ok() {
            show(&format!("journal of {}", self.unit), &from_host, 80);
        } else {
            show(&format!("journal of {}", self.unit), &out.join("journal-gateway.txt"), 80);
        }
        show("failed units", &out.join("failed-units.txt"), 20);
        show("console", &self.console, 120);
        eprintln!("    everything is kept in {}", self.dir.display());
    }
}

fn show(title: &str, path: &Path, last: usize) {
    eprintln!("    ---- {title} ({}) ----", path.display());
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() > last {
                eprintln!("    [... {} earlier lines]", lines.len() - last);
            }
            for l in &lines[lines.len().saturating_sub(last)..] {
                eprintln!("    | {l}");
            }
        }
        Err(e) => eprintln!("    (none: {e})"),
    }
}

fn run_scenario(tree: &Tree, s: &Scenario, work: &Path, pkgs: &Packages, repos: Option<&Path>, limit: Duration) -> Result<Outcome> {
    let deadline = Instant::now() + limit;
    let dir = work.join(s.name);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    // What the container sees as /e2e.
    fs::create_dir_all(dir.join("out"))?;
    fs::write(dir.join("scenario"), format!("{}\n", s.name))?;
    let tests = crate::root().join("tests/e2e");
    fs::create_dir_all(dir.join("tests"))?;
    for e in fs::read_dir(&tests).with_context(|| format!("reading {}", tests.display()))? {
        let p = e?.path();
        if p.is_file() {
            fs::copy(&p, dir.join("tests").join(p.file_name().unwrap()))?;
        }
    }
    let manifest = pkg::Manifest::load(&crate::root().join("clawdbot.toml"))?;
    fs::write(dir.join("tests/contract.sh"), contract_sh(&manifest))?;
    // /e2e/pkg/current and /e2e/pkg/next: the .deb and, for an rpm scenario, the .rpm.
    let mut files = vec![("current", &pkgs.deb), ("next", &pkgs.upgrade_deb)];
    if let (true, Some((rpm, upgrade_rpm))) = (s.rpm, &pkgs.rpm) {
        files.extend([("current", rpm), ("next", upgrade_rpm)]);
    }
    for (label, file) in files {
        let d = dir.join("pkg").join(label);
        fs::create_dir_all(&d)?;
        let to = d.join(file.file_name().unwrap());
        if fs::hard_link(file, &to).is_err() {
            fs::copy(file, &to).with_context(|| format!("copying {}", file.display()))?;
        }
    }
    // /e2e/repo/{one,two,other}: the repositories, linked (the packages are large).
    if let (true, Some(repos)) = (s.repo, repos) {
        let status = Command::new("cp").arg("-al").arg(repos).arg(dir.join("repo")).status()?;
        if !status.success() {
            bail!("linking the repositories {} into {} failed", repos.display(), dir.display());
        }
    }
    fs::create_dir_all(dir.join("journal"))?;
    let console = dir.join("console.txt");
    let mut outcome =
        Outcome { passed: false, reason: String::new(), dir: dir.clone(), console: console.clone(), metrics: Vec::new(), unit: manifest.service.unit.clone() };

    let rc = if s.chroot_first {
        // A writable copy of the tree, which the chroot phase installs into and
        // which is then booted as it is.
        let copy = Scratch::new(s.name)?;
        let status = Command::new("cp").arg("-a").arg(&tree.root).arg(&copy.0).status()?;
        if !status.success() {
            bail!("copying the tree to {} failed", copy.0.display());
        }
        let rc = chroot_phase(&copy.0, &dir, deadline)?;
        if rc != 0 {
            outcome.reason = format!("the phase in a plain chroot failed (exit status {rc})");
            read_metrics(&mut outcome);
            return Ok(outcome);
        }
        boot(&copy.0, &dir, s, false, &console, deadline)?
    } else {
        boot(&tree.root, &dir, s, true, &console, deadline)?
    };
    read_metrics(&mut outcome);
    let results = fs::read_to_string(dir.join("out/results")).unwrap_or_default();
    let not_ok = results.lines().filter(|l| l.starts_with("not ok")).count();
    let oks = results.lines().filter(|l| l.starts_with("ok ")).count();
    let inner = fs::read_to_string(dir.join("out/rc-boot")).ok();
    outcome.passed = matches!(rc, Some(0)) && not_ok == 0 && oks > 0 && inner.as_deref().map(str::trim) == Some("0");
    outcome.reason = match (rc, inner) {
        (None, _) => format!("the container did not finish within {} s and was stopped", limit.as_secs()),
        (_, None) => {
            format!("the scenario never reported (container exit status {}): the boot or {SCENARIO_UNIT} failed", rc.map_or("?".into(), |c| c.to_string()))
        }
        (Some(c), Some(_)) if not_ok > 0 => format!("{not_ok} check(s) failed (container exit status {c})"),
        (Some(c), Some(i)) => format!("container exit status {c}, scenario status {}, {oks} checks passed", i.trim()),
    };
    Ok(outcome)
}

/// `/e2e/tests/contract.sh`, sourced by lib.sh: what the package installs where,
/// from the manifest, so that the checks follow a change of any of them.
fn contract_sh(m: &pkg::Manifest) -> String {
    let p = pkg::linux::Paths::new(m);
    let l = &m.linux;
    let vars = [
        ("PKG", &m.package.name),
        ("UNIT", &m.service.unit),
        ("SVC_USER", &l.user),
        ("STATE_DIR", &l.state_dir),
        ("CACHE_DIR", &l.cache_dir),
        ("CONFIG_DIR", &l.config_dir),
        ("PORT", &m.service.port.to_string()),
        ("NODE", &p.node),
        ("ENTRY", &p.entry),
        ("SEED", &p.seed_dir),
    ];
    let mut out = String::from("# What the package installs where (clawdbot.toml), written by cargo xtask e2e.\n");
    for (name, value) in vars {
        out.push_str(&format!("{name}='{value}'\n"));
    }
    out
}

/// A scratch copy of the tree, in memory where possible (/dev/shm): dpkg syncs
/// every one of the package's files, which takes minutes on a loaded disk.
/// Removed when dropped; copies left by runs that were killed are removed too.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Result<Scratch> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_owned() } else { crate::root().join("target/e2e/runs") };
        let prefix = format!("clawdbot-e2e-{name}-");
        for e in fs::read_dir(&base)?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = n.strip_prefix(&prefix) {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(Scratch(base.join(format!("{prefix}{}", std::process::id()))))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn read_metrics(o: &mut Outcome) {
    let text = fs::read_to_string(o.dir.join("out/metrics")).unwrap_or_default();
    o.metrics = text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
}

/// Runs `run.sh chroot` in `root` with chroot(8), as an image builder would:
/// /proc and /dev mounted (in a mount namespace of its own), no systemd running. Returns the scenario's exit status.
fn chroot_phase(root: &Path, dir: &Path, deadline: Instant) -> Result<i32> {
    fs::create_dir_all(root.join("e2e"))?;
    let script = r#"set -e
mount -t proc proc "$1/proc"
mount --rbind /dev "$1/dev"
mount --bind "$2" "$1/e2e"
exec chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh /e2e/tests/run.sh chroot"#;
    let log = fs::File::create(dir.join("chroot.txt"))?;
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--fork", "--", "sh", "-c", script, "sh"])
        .arg(root)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting unshare/chroot")?;
    match wait_deadline(child, deadline)? {
        Some(rc) => Ok(rc),
        None => bail!("the chroot phase did not finish in time"),
    }
}

/// Boots `root` with the scenario unit and waits for the container to exit.
/// `volatile`: on a throw-away overlay (the cached tree stays untouched).
/// Returns the container's exit status, None after a timeout.
fn boot(root: &Path, dir: &Path, s: &Scenario, volatile: bool, console: &Path, deadline: Instant) -> Result<Option<i32>> {
    let log = fs::File::create(console)?;
    let mut c = Command::new("systemd-nspawn");
    c.arg("--quiet").arg("-D").arg(root);
    if volatile {
        c.arg("--volatile=overlay");
    }
    c.args(["--boot", "--register=no", "--keep-unit", "--private-network", "--console=read-only"])
        .arg(format!("--machine=e2e-{}", s.name))
        .arg(format!("--bind={}:/e2e", dir.display()))
        .arg(format!("--bind={}:/var/log/journal", dir.join("journal").display()))
        .arg(format!("--bind-ro={}:/etc/systemd/system/{SCENARIO_UNIT}", dir.join("tests").join(SCENARIO_UNIT).display()))
        .arg("--setenv=SYSTEMD_COLORS=0")
        // systemd's IP firewall (IPAddressDeny=) attaches BPF programs to the
        // unit's cgroup: it needs the unified cgroup hierarchy inside the
        // container, as current distributions have, even where the host still
        // mounts cgroup v1, and the bpf() system call, which nspawn's filter
        // otherwise refuses (without it the firewall is silently skipped).
        .arg("--system-call-filter=bpf")
        .env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
        .arg(format!("systemd.wants={SCENARIO_UNIT}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = c.spawn().context("starting systemd-nspawn")?;
    wait_deadline(child, deadline)
}

/// Waits for the child until the deadline; then asks it to stop (SIGTERM: the
/// container shuts down), and kills it 20 s later.
fn wait_deadline(mut child: std::process::Child, deadline: Instant) -> Result<Option<i32>> {
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st.code().unwrap_or(128)));
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let grace = Instant::now() + Duration::from_secs(20);
    while Instant::now() < grace {
        if child.try_wait()?.is_some() {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_is_raised_in_package_only() {
        let t = "[package]\nname = \"x\"\nrevision = 1\n[other]\nrevision = 7\n";
        assert_eq!(bump_revision(t, 1).unwrap(), "[package]\nname = \"x\"\nrevision = 2\n[other]\nrevision = 7\n");
        assert!(bump_revision("[package]\n", 1).is_err());
    }

    #[test]
    fn every_scenario_has_its_scripts() {
        let dir = crate::root().join("tests/e2e");
        for s in SCENARIOS {
            assert!(dir.join(format!("{}.sh", s.name)).is_file(), "tests/e2e/{}.sh", s.name);
            assert_eq!(dir.join(format!("{}.chroot.sh", s.name)).is_file(), s.chroot_first, "tests/e2e/{}.chroot.sh", s.name);
        }
        assert!(select(&["nope".into()]).is_err());
    }

    /// The cached e2e packages are rebuilt when any input changes: each input of
    /// a copy of the tree changed in turn changes the hash of the format it
    /// belongs to (and an rpm-only input leaves the .deb's alone); a missing
    /// input is an error naming it.
    #[test]
    fn the_input_hash_follows_every_input_and_refuses_a_missing_one() {
        let dir = crate::checks::tempdir("e2e-inputs-hash").unwrap();
        let root = dir.as_path();
        let shared = [
            "payload/package.json",
            "admin/messages.sh",
            "systemd/unit.service",
            "debian/postinst",
            "pkg/src/deb.rs",
            "Cargo.lock",
            "xtask/src/dist.rs",
            "xtask/src/fetch.rs",
            "xtask/src/warm.rs",
            "xtask/src/warm.sh",
            "xtask/src/gateway-root.sh",
            "xtask/src/repo.rs",
        ];
        for f in shared.iter().chain(&["rpm/post"]) {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), "one").unwrap();
        }
        let hashes = || (inputs_hash(root, "m", Format::Deb).unwrap(), inputs_hash(root, "m", Format::Rpm).unwrap());
        let mut last = hashes();
        assert_ne!(last.0, last.1);
        for f in shared {
            fs::write(root.join(f), "two").unwrap();
            let now = hashes();
            assert!(now.0 != last.0 && now.1 != last.1, "{f} changes neither package's hash");
            last = now;
        }
        fs::write(root.join("rpm/post"), "two").unwrap();
        let now = hashes();
        assert!(now.0 == last.0 && now.1 != last.1, "rpm/post changes the rpm's hash alone");
        assert_ne!(inputs_hash(root, "m2", Format::Deb).unwrap(), now.0, "the manifest is an input");
        fs::remove_file(root.join("xtask/src/warm.sh")).unwrap();
        let e = format!("{:#}", inputs_hash(root, "m", Format::Deb).unwrap_err());
        assert!(e.contains("warm.sh"), "{e}");
        assert_eq!(SCENARIOS.iter().filter(|s| s.rpm).map(|s| s.name).collect::<Vec<_>>(), ["rpm"]);
    }

    #[test]
    fn the_checks_read_the_manifest_s_paths() {
        let text = include_str!("../../clawdbot.toml").replace("state_dir = \"/var/lib/clawdbot\"", "state_dir = \"/var/lib/other\"");
        let m = pkg::Manifest::parse(&text, Path::new("clawdbot.toml")).unwrap();
        let sh = contract_sh(&m);
        assert!(sh.contains("\nSTATE_DIR='/var/lib/other'\n") && sh.contains("\nPORT='18789'\n"), "{sh}");
        let out = Command::new("sh").arg("-c").arg(format!("{sh}\necho \"$PKG $UNIT $SVC_USER $CACHE_DIR $CONFIG_DIR $NODE $ENTRY $SEED\"")).output().unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "clawdbot clawdbot-gateway.service clawdbot /var/cache/clawdbot /etc/clawdbot /usr/lib/clawdbot/node/bin/node \
             /usr/lib/clawdbot/app/node_modules/clawdbot/dist/entry.js /usr/lib/clawdbot/cache/jiti\n"
        );
    }

    #[test]
    fn defaults_are_the_command_line_ones() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = <Cli as clap::Parser>::parse_from(["e2e"]).args;
        let def = Args::default();
        assert_eq!((cli.timeout, cli.deb, cli.rpm, cli.scenarios.len()), (def.timeout, def.deb, def.rpm, def.scenarios.len()));
        assert!(def.timeout >= 300);
    }
}
