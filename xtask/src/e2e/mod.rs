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
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pkg::Target;
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
    /// Run only this scenario (repeatable): install, startup-control, isolation, admin, grants, migrate,
    /// upgrade, remove-purge, chroot, rpm, repo, repo-trixie.
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

/// Host tools the rpm scenario needs besides TOOLS: reading and comparing the .rpm versions.
const RPM_TOOLS: &[(&str, &str)] = &[("rpm", "rpm")];

/// One scenario: `tests/e2e/<name>.sh` in the booted system, preceded by
/// `tests/e2e/<name>.chroot.sh` in a plain chroot when `chroot_first`; `rpm`:
/// it installs the .rpm packages rather than the .deb packages; `repo`: it
/// installs from APT repositories built on the host (see [`repositories`]);
/// `bare`: it also gets the .deb built without the transpile cache
/// (`/e2e/pkg/bare`); `release`: the Debian it boots.
pub struct Scenario {
    pub name: &'static str,
    pub what: &'static str,
    pub chroot_first: bool,
    pub rpm: bool,
    pub repo: bool,
    pub bare: bool,
    pub release: &'static Release,
}

/// A scenario on bookworm that installs the .deb files.
const fn deb(name: &'static str, what: &'static str) -> Scenario {
    Scenario { name, what, chroot_first: false, rpm: false, repo: false, bare: false, release: &BOOKWORM }
}

pub const SCENARIOS: &[Scenario] = &[
    deb("install", "apt-get install; user, service, HTTP 200, health, state dir, token; 5 starts within [service.startup]"),
    Scenario { bare: true, ..deb("startup-control", "the .deb without transpile cache nor JITI_TRY_NATIVE breaks [service.startup]: the check can fail") },
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

    let pkgs = packages(&sh, args, with_rpm, scenarios.iter().any(|s| s.bare))?;
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
        eprintln!("    {:<4} {name:<15} {secs:6.1} s{m}", if *ok { "pass" } else { "FAIL" });
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

mod container;
mod packages;
mod tree;

use container::*;
use packages::*;
use tree::*;

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::Format;
    use std::path::Path;
    use std::process::Command;

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
        let dir = crate::files::tempdir("e2e-inputs-hash").unwrap();
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
        let text = include_str!("../../../clawdbot.toml").replace("state_dir = \"/var/lib/clawdbot\"", "state_dir = \"/var/lib/other\"");
        let m = pkg::Manifest::parse(&text, Path::new("clawdbot.toml")).unwrap();
        let sh = contract_sh(&m);
        assert!(sh.contains("\nSTATE_DIR='/var/lib/other'\n") && sh.contains("\nPORT='18789'\n"), "{sh}");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{sh}\necho \"$PKG $UNIT $SVC_USER $CACHE_DIR $CONFIG_DIR $NODE $ENTRY $SEED\"\n\
                 echo \"$STARTUP_MEDIAN_RATIO $STARTUP_MAX_RATIO $UPSTREAM_USER $UPSTREAM_STATE_DIR $UPSTREAM_PORT\""
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "clawdbot clawdbot-gateway.service clawdbot /var/cache/clawdbot /etc/clawdbot /usr/lib/clawdbot/node/bin/node \
             /usr/lib/clawdbot/app/node_modules/clawdbot/dist/entry.js /usr/lib/clawdbot/cache/jiti\n\
             0.85 1.3 reference /home/reference/.clawdbot 18790\n"
        );
    }

    #[test]
    fn the_start_up_reference_is_upstream_s_environment() {
        let m = pkg::Manifest::parse(include_str!("../../../clawdbot.toml"), Path::new("clawdbot.toml")).unwrap();
        let dir = crate::files::tempdir("e2e-upstream").unwrap();
        crate::warm::write_contract(&dir, "upstream", &upstream_runtime(&m), &["JITI_TRY_NATIVE"], false, "t").unwrap();
        let env = fs::read_to_string(dir.join("upstream.env")).unwrap();
        let config = fs::read_to_string(dir.join("upstream.json")).unwrap();
        assert!(!env.contains("JITI_TRY_NATIVE") && env.contains("HOME=/home/reference/.clawdbot\n"), "{env}");
        assert!(env.contains("CLAWDBOT_GATEWAY_PORT=18790\n") && env.contains("PATH=/usr/lib/clawdbot/node/bin:"), "{env}");
        assert!(config.contains("\"port\": 18790,") && config.contains("\"token\": \"t\""), "{config}");
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
