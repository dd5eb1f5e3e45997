//! Running one scenario: its directory, the chroot phase, the boot, the outcome.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::*;

pub(super) struct Outcome {
    pub(super) passed: bool,
    pub(super) reason: String,
    pub(super) dir: PathBuf,
    pub(super) console: PathBuf,
    pub(super) metrics: Vec<(String, String)>,
    /// The package's unit, whose journal a failure shows.
    pub(super) unit: String,
}

impl Outcome {
    pub(super) fn metrics_line(&self) -> String {
        self.metrics.iter().map(|(k, v)| format!(", {k} {v}")).collect()
    }

    /// The check results, the unit's journal and the console, on failure.
    pub(super) fn print_evidence(&self) {
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

pub(super) fn show(title: &str, path: &Path, last: usize) {
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

pub(super) fn run_scenario(tree: &Tree, s: &Scenario, work: &Path, pkgs: &Packages, repos: Option<&Path>, limit: Duration) -> Result<Outcome> {
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
    // upstream.env and upstream.json: upstream's own per-user start of the same
    // app, the reference [service.startup] is measured against.
    crate::warm::write_contract(&dir.join("tests"), "upstream", &upstream_runtime(&manifest), &["JITI_TRY_NATIVE"], false, "e2e-upstream")?;
    // /e2e/pkg/current and /e2e/pkg/next: the .deb and, for an rpm scenario, the .rpm;
    // /e2e/pkg/bare: the .deb without the transpile cache, for a scenario that asks.
    let mut files = vec![("current", &pkgs.deb), ("next", &pkgs.upgrade_deb)];
    if let (true, Some((rpm, upgrade_rpm))) = (s.rpm, &pkgs.rpm) {
        files.extend([("current", rpm), ("next", upgrade_rpm)]);
    }
    if let (true, Some(bare)) = (s.bare, &pkgs.bare_deb) {
        files.push(("bare", bare));
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

/// The person whose per-user gateway is the start-up reference.
const UPSTREAM_USER: &str = "reference";

/// The packages' runtime contract (`pkg::linux::runtime`) for upstream's
/// per-user service of the installed app and node, as [`UPSTREAM_USER`]: its
/// state in the home directory, its caches, on the port next to the service's
/// (both run at once).
pub(super) fn upstream_runtime(m: &pkg::Manifest) -> pkg::gateway::Runtime {
    let home = format!("/home/{UPSTREAM_USER}");
    pkg::gateway::Runtime {
        state_dir: format!("{home}/.clawdbot"),
        cache_dir: format!("{home}/.cache/clawdbot"),
        port: m.service.port.checked_add(1).unwrap_or(m.service.port - 1),
        ..pkg::linux::runtime(m)
    }
}

/// `/e2e/tests/contract.sh`, sourced by lib.sh: what the package installs where,
/// from the manifest, so that the checks follow a change of any of them.
pub(super) fn contract_sh(m: &pkg::Manifest) -> String {
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
    let startup = m.service.startup;
    out.push_str(&format!("STARTUP_MEDIAN_RATIO={}\nSTARTUP_MAX_RATIO={}\n", startup.median_ratio, startup.max_ratio));
    let up = upstream_runtime(m);
    out.push_str(&format!("UPSTREAM_USER='{UPSTREAM_USER}'\nUPSTREAM_STATE_DIR='{}'\nUPSTREAM_PORT={}\n", up.state_dir, up.port));
    out
}

/// A scratch copy of the tree, in memory where possible (/dev/shm): dpkg syncs
/// every one of the package's files, which takes minutes on a loaded disk.
/// Removed when dropped; copies left by runs that were killed are removed too.
pub(super) struct Scratch(PathBuf);

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

pub(super) fn read_metrics(o: &mut Outcome) {
    let text = fs::read_to_string(o.dir.join("out/metrics")).unwrap_or_default();
    o.metrics = text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
}

/// Runs `run.sh chroot` in `root` with chroot(8), as an image builder would:
/// /proc and /dev mounted (in a mount namespace of its own), no systemd running. Returns the scenario's exit status.
pub(super) fn chroot_phase(root: &Path, dir: &Path, deadline: Instant) -> Result<i32> {
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
pub(super) fn boot(root: &Path, dir: &Path, s: &Scenario, volatile: bool, console: &Path, deadline: Instant) -> Result<Option<i32>> {
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
pub(super) fn wait_deadline(mut child: std::process::Child, deadline: Instant) -> Result<Option<i32>> {
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
