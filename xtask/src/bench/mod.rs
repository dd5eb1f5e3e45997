//! `cargo xtask bench`: our writers against `dpkg-deb --build` and `rpmbuild -bb` on
//! the very same staged tree, in the same run, from a warm payload cache.
//!
//! The staged tree is materialised once as a build root of hard links into the
//! payload cache (rendered files written out), so the reference tools read the same
//! bytes ours do, with the same compressor and level. Several runs per pair; the
//! report gives median, spread, the ratio ours/reference, the sizes, installed sizes
//! and file counts as each package's own reader reports them. Then the headline:
//! every artifact at once (`cargo xtask dist`) against `dpkg-deb -Zxz` at its
//! default level on the unpruned linux-x64 tree. Last, the gateway's start-up in
//! the packages' environment against upstream's own per-user start, on the same
//! machine, taking turns (`startup.sh`).
//!
//! A benchmark, not a test: nothing here asserts a time.

mod reference;
mod report;

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pkg::linux::{self, Flavor, Templates};
use pkg::manifest::Compressor;
use pkg::stage::Stage;
use pkg::{BuildOptions, Manifest, Target};
use xshell::{cmd, Shell};

use reference::{deb_facts, find_file, materialise, rpm_facts, spec_for, Facts};
use report::{median, render, save, Row};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Runs per measurement.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Linux targets whose .deb and .rpm are measured (default: linux-x64 and linux-arm64).
    #[arg(long = "target", value_parser = crate::parse_target)]
    pub targets: Vec<Target>,
    /// Skip the headline (all artifacts at once against dpkg-deb on the unpruned tree).
    #[arg(long)]
    pub no_headline: bool,
    /// Only the start-up row (the gateway's start in the packages' environment
    /// against upstream's own).
    #[arg(long)]
    pub startup_only: bool,
    /// Only the rows of one writer (deb or rpm) against its reference tool:
    /// no headline, repository or start-up rows.
    #[arg(long, value_parser = ["deb", "rpm"])]
    pub only: Option<String>,
}

const STARTUP_SCRIPT: &str = include_str!("../startup.sh");

/// What every measurement uses.
#[derive(Clone, Copy)]
struct Cx<'a> {
    sh: &'a Shell,
    m: &'a Manifest,
    templates: &'a Templates,
    opts: &'a BuildOptions,
    bench: &'a Path,
    runs: usize,
}

pub fn run(args: &Args) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be 1 or more");
    }
    let root = crate::root();
    let sh = Shell::new()?;
    crate::tools::need_tools(&sh, &[("dpkg-deb", "dpkg"), ("rpmbuild", "rpm"), ("rpm", "rpm")])?;
    let manifest = Manifest::load(&root.join("clawdbot.toml"))?;
    let templates = pkg::format::load_templates(&root)?;
    let opts =
        BuildOptions { mtime: 1_700_000_000, threads: std::thread::available_parallelism().map_or(2, |n| n.get() as u32), blocks: pkg::blocks::Cache::new() };
    let bench = root.join("target/bench");
    fs::create_dir_all(&bench)?;
    let targets = if args.targets.is_empty() { vec![Target::LinuxX64, Target::LinuxArm64] } else { args.targets.clone() };
    if let Some(t) = targets.iter().find(|t| !t.is_linux()) {
        bail!("{t}: the benchmark compares the Linux writers with dpkg-deb and rpmbuild; macOS has no reference tool on this machine");
    }

    let mut rows = Vec::new();
    let mut notes = vec![format!("machine: {} cores; {}", opts.threads, cmd!(sh, "uname -srm").quiet().read().unwrap_or_default().trim().to_owned())];
    if args.startup_only {
        rows.extend(startup_rows(&sh, &manifest, &bench, args.runs.max(5), &mut notes)?);
        save(&bench, &rows, &notes)?;
        print!("{}", render(&rows, &notes));
        return Ok(());
    }
    for &target in &targets {
        let t = Instant::now();
        let payload = crate::fetch::payload(&sh, &manifest, target, true)?;
        let fetched = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let deb_stage = linux::stage(&manifest, Flavor::Deb, &payload, &templates)?;
        let rpm_stage = linux::stage(&manifest, Flavor::Rpm, &payload, &templates)?;
        notes.push(format!(
            "{target}: fetch (warm cache) {fetched:.1} s; staging both trees {:.1} s; {} entries, {:.1} MiB of files",
            t.elapsed().as_secs_f64(),
            deb_stage.len(),
            deb_stage.file_bytes() as f64 / 1048576.0,
        ));
        let out = bench.join(format!("out-{target}"));
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out)?;
        let cx = Cx { sh: &sh, m: &manifest, templates: &templates, opts: &opts, bench: &bench, runs: args.runs };
        if args.only.as_deref() != Some("rpm") {
            rows.push(deb_row(&cx, target, &deb_stage, &out)?);
            save(&bench, &rows, &notes)?;
        }
        if args.only.as_deref() != Some("deb") {
            rows.push(rpm_row(&cx, target, &rpm_stage, &out)?);
            save(&bench, &rows, &notes)?;
        }
    }
    if args.only.is_some() {
        print!("{}", render(&rows, &notes));
        return Ok(());
    }
    if !args.no_headline {
        rows.push(headline(&sh, &manifest, &templates, &bench, args.runs, &mut notes)?);
        save(&bench, &rows, &notes)?;
    }
    rows.push(repo_row(&sh, &bench, args.runs, &mut notes)?);
    save(&bench, &rows, &notes)?;
    rows.extend(startup_rows(&sh, &manifest, &bench, args.runs.max(5), &mut notes)?);
    save(&bench, &rows, &notes)?;
    print!("{}", render(&rows, &notes));
    eprintln!("wrote {} and report.json", bench.join("report.md").display());
    Ok(())
}

/// Runs and times both sides of one run in turns: ours first in odd runs, the
/// reference first in even ones, so that a machine whose speed drifts during
/// the benchmark (seen here: the same build 30 % slower a few minutes later)
/// favours neither side. Returns what ours returned.
fn in_turns<T>(run: usize, row: &mut Row, ours: impl FnOnce() -> Result<T>, reference: impl FnOnce() -> Result<()>) -> Result<T> {
    fn timed<R>(f: impl FnOnce() -> Result<R>) -> Result<(R, f64)> {
        let t = Instant::now();
        let r = f()?;
        Ok((r, t.elapsed().as_secs_f64()))
    }
    let (out, o, r) = if run % 2 == 1 {
        let (out, o) = timed(ours)?;
        let ((), r) = timed(reference)?;
        (out, o, r)
    } else {
        let ((), r) = timed(reference)?;
        let (out, o) = timed(ours)?;
        (out, o, r)
    };
    row.ours.push(o);
    row.reference.push(r);
    Ok(out)
}

/// "ours, then REFERENCE" or the other way round, as [`in_turns`] runs them.
fn turns(run: usize, ours: &str, reference: &str) -> String {
    if run % 2 == 1 {
        format!("{ours}, then {reference}")
    } else {
        format!("{reference}, then {ours}")
    }
}

/// The options for one artifact alone, with compressor threads of its own and no
/// earlier run's pieces to take (see [`pkg::blocks::Cache::unshared`]).
fn fresh(opts: &BuildOptions) -> BuildOptions {
    BuildOptions { blocks: pkg::blocks::Cache::unshared(), ..opts.clone() }
}

fn deb_row(cx: &Cx, target: Target, stage: &Stage, out: &Path) -> Result<Row> {
    let Cx { sh, m, templates, opts, bench, runs } = *cx;
    let c = m.deb.compression;
    let tree = materialise(stage, &bench.join(format!("root-deb-{target}")))?;
    let debian = tree.join("DEBIAN");
    fs::create_dir_all(&debian)?;
    fs::write(debian.join("control"), pkg::deb::control(m, target, stage))?;
    let level = format!("-z{}", c.level);
    let reference = out.join("reference.deb");
    let mut row = Row::new(format!("{target} .deb ({c})"), format!("dpkg-deb --build -Zxz {level}"));
    let mut ours_file = None;
    for run in 1..=runs {
        eprintln!("==> {target} .deb, run {run}/{runs}: {}", turns(run, "ours", "dpkg-deb"));
        let ours = in_turns(
            run,
            &mut row,
            // A fresh cache: a run must not take the previous run's compressed pieces.
            || Ok(pkg::deb::write(m, target, stage, templates, &fresh(opts), out)?),
            || Ok(cmd!(sh, "dpkg-deb --root-owner-group -Zxz {level} --build {tree} {reference}").quiet().ignore_stdout().run()?),
        )?;
        ours_file = Some(ours);
    }
    // Every run writes the same bytes (the same inputs and time): read the last ones.
    row.ours_facts = deb_facts(sh, &ours_file.expect("at least one run"))?;
    row.reference_facts = deb_facts(sh, &reference)?;
    Ok(row)
}

fn rpm_row(cx: &Cx, target: Target, stage: &Stage, out: &Path) -> Result<Row> {
    let Cx { sh, m, templates, opts, bench, runs } = *cx;
    let c = pkg::rpm::compression(m);
    let tree = materialise(stage, &bench.join(format!("root-rpm-{target}")))?;
    let spec = bench.join(format!("reference-{target}.spec"));
    fs::write(&spec, spec_for(m, stage, &tree))?;
    let topdir = bench.join(format!("rpmbuild-{target}"));
    // rpm's own names for the same settings: threads, and zstd's window.
    let io = match c.format {
        Compressor::Xz => format!("w{}T{}.xzdio", c.level, opts.threads),
        Compressor::Zstd => format!("w{}T{}L{}.zstdio", c.level, opts.threads, pkg::rpm::ZSTD_WINDOW_LOG),
    };
    let payload_define = format!("_binary_payload {io}");
    let topdir_define = format!("_topdir {}", topdir.display());
    let arch = target.rpm_arch();
    let (no_build_ids, no_post, epoch) = ("_build_id_links none", "__os_install_post %{nil}", "_source_date_epoch 1700000000");
    let mut row = Row::new(format!("{target} .rpm ({c})"), format!("rpmbuild -bb, payload {io}"));
    let mut ours_file = None;
    for run in 1..=runs {
        eprintln!("==> {target} .rpm, run {run}/{runs}: {}", turns(run, "ours", "rpmbuild"));
        let _ = fs::remove_dir_all(&topdir);
        let ours = in_turns(
            run,
            &mut row,
            || Ok(pkg::rpm::write(m, target, stage, templates, &fresh(opts), out, None)?),
            || {
                let built = cmd!(sh, "rpmbuild -bb --quiet --target {arch} --define {payload_define} --define {topdir_define} --define {no_build_ids} --define {no_post} --define {epoch} --nodeps {spec}")
                    .quiet()
                    .ignore_stdout()
                    .ignore_status()
                    .output();
                match built {
                    Ok(o) if o.status.success() => Ok(()),
                    Ok(o) => bail!("rpmbuild failed on {}:\n{}", spec.display(), String::from_utf8_lossy(&o.stderr)),
                    Err(e) => Err(e).context("running rpmbuild"),
                }
            },
        )?;
        ours_file = Some(ours);
    }
    // Every run writes the same bytes (the same inputs and time): read the last ones.
    row.ours_facts = rpm_facts(sh, &ours_file.expect("at least one run"))?;
    row.reference_facts = rpm_facts(sh, &find_file(&topdir.join("RPMS"), ".rpm")?)?;
    Ok(row)
}

/// Every artifact at once from the warm cache, as `cargo xtask dist` builds them,
/// against `dpkg-deb -Zxz` (its default level) on the unpruned linux-x64 tree.
fn headline(sh: &Shell, m: &Manifest, templates: &Templates, bench: &Path, runs: usize, notes: &mut Vec<String>) -> Result<Row> {
    let target = Target::LinuxX64;
    let payload = crate::fetch::payload(sh, m, target, true)?;
    let mut unpruned = m.clone();
    unpruned.payload.prune = Default::default();
    let stage = linux::stage(&unpruned, Flavor::Deb, &payload, templates)?;
    let tree = materialise(&stage, &bench.join("root-deb-unpruned"))?;
    fs::create_dir_all(tree.join("DEBIAN"))?;
    fs::write(tree.join("DEBIAN/control"), pkg::deb::control(&unpruned, target, &stage))?;
    let reference = bench.join("reference-unpruned.deb");
    let dist_out = bench.join("dist");
    let mut row = Row::new(
        "all artifacts at once (cargo xtask dist) vs. one unpruned linux-x64 .deb".to_owned(),
        "dpkg-deb --build -Zxz (default level 6), unpruned tree".to_owned(),
    );
    let mut largest_linux = (String::new(), 0);
    let mut reuse = pkg::blocks::Reuse::default();
    for run in 1..=runs {
        eprintln!("==> headline, run {run}/{runs}: {}", turns(run, "cargo xtask dist", "dpkg-deb on the unpruned tree"));
        let _ = fs::remove_dir_all(&dist_out);
        let crate::dist::Built { paths: built, reuse: shared } = in_turns(
            run,
            &mut row,
            || crate::dist::build(&crate::dist::Args { out: dist_out.clone(), ..Default::default() }),
            || Ok(cmd!(sh, "dpkg-deb --root-owner-group -Zxz --build {tree} {reference}").quiet().ignore_stdout().run()?),
        )?;
        reuse = shared;
        let mut total = 0;
        for p in &built {
            let len = fs::metadata(p)?.len();
            total += len;
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if (name.ends_with(".deb") || name.ends_with(".rpm")) && len > largest_linux.1 {
                largest_linux = (name, len);
            }
        }
        row.ours_facts = Facts { bytes: total, installed_kib: 0, files: built.len() };
        row.reference_facts = deb_facts(sh, &reference)?;
    }
    let reference_bytes = row.reference_facts.bytes;
    notes.push(format!(
        "headline: all artifacts in {:.1} s (median) against {:.1} s for the one unpruned .deb; largest Linux artifact {} at {:.1} MiB against {:.1} MiB: {}",
        median(&row.ours),
        median(&row.reference),
        largest_linux.0,
        largest_linux.1 as f64 / 1048576.0,
        reference_bytes as f64 / 1048576.0,
        if median(&row.ours) < median(&row.reference) && largest_linux.1 < reference_bytes { "met" } else { "not met" }
    ));
    notes.push(format!(
        "headline: compressed once, used twice: {:.1} MiB of compressed pieces ({:.1} MiB before compression) came from the other architecture's .deb, .rpm or .pkg (the .rpm: its first zstd frame) instead of being compressed again; {:.1} MiB were compressed ({:.1} MiB before compression); {:.0} % of the archives' data was not compressed again",
        reuse.reused_out as f64 / 1048576.0,
        reuse.reused_in as f64 / 1048576.0,
        reuse.compressed_out as f64 / 1048576.0,
        reuse.compressed_in as f64 / 1048576.0,
        100.0 * reuse.reused_in as f64 / (reuse.reused_in + reuse.compressed_in).max(1) as f64,
    ));
    Ok(row)
}

/// `cargo xtask repo` over the Linux packages of the headline's build (or of
/// `target/dist`), fresh each run, against the reference tools' indexing of the
/// same packages: `apt-ftparchive packages` and `release`, and `createrepo_c`
/// (which sign nothing; ours also signs both .rpm files and the indices).
fn repo_row(sh: &Shell, bench: &Path, runs: usize, notes: &mut Vec<String>) -> Result<Row> {
    crate::tools::need_tools(sh, &[("apt-ftparchive", "apt-utils"), ("createrepo_c", "createrepo-c")])?;
    let root = crate::root();
    let from = [bench.join("dist"), root.join("target/dist")]
        .into_iter()
        .find(|d| fs::read_dir(d).map(|l| l.flatten().any(|e| e.path().extension().is_some_and(|x| x == "deb"))).unwrap_or(false))
        .context("no built packages: run `cargo xtask dist` first")?;
    let linux = bench.join("repo-in");
    let _ = fs::remove_dir_all(&linux);
    fs::create_dir_all(&linux)?;
    for e in fs::read_dir(&from)?.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "deb" || x == "rpm") {
            fs::hard_link(&p, linux.join(e.file_name())).or_else(|_| fs::copy(&p, linux.join(e.file_name())).map(|_| ()))?;
        }
    }
    let mut row = Row::new(
        "cargo xtask repo: APT and yum repositories of the Linux packages, signed".to_owned(),
        "apt-ftparchive packages + release, createrepo_c (unsigned)".to_owned(),
    );
    let rel = |p: &Path| p.strip_prefix(&root).map(Path::to_owned).unwrap_or_else(|_| p.to_owned());
    let (out, reference) = (bench.join("repo-out"), bench.join("repo-reference"));
    for run in 1..=runs {
        eprintln!("==> repository, run {run}/{runs}: {}", turns(run, "ours", "the reference tools"));
        let _ = fs::remove_dir_all(&out);
        let _ = fs::remove_dir_all(&reference);
        let pool = reference.join("pool");
        let rpms = reference.join("rpm");
        fs::create_dir_all(&pool)?;
        fs::create_dir_all(&rpms)?;
        for e in fs::read_dir(&linux)?.flatten() {
            let dest = if e.path().extension().is_some_and(|x| x == "deb") { &pool } else { &rpms };
            fs::hard_link(e.path(), dest.join(e.file_name()))?;
        }
        let summary = in_turns(
            run,
            &mut row,
            || crate::repo::run(&crate::repo::Args { from: rel(&linux), out: rel(&out), ..Default::default() }),
            || {
                let _cwd = sh.push_dir(&reference);
                let packages = cmd!(sh, "apt-ftparchive packages pool").quiet().read()?;
                fs::write(reference.join("Packages"), packages)?;
                cmd!(sh, "apt-ftparchive release .").quiet().ignore_stdout().run()?;
                cmd!(sh, "createrepo_c --quiet {rpms}").run()?;
                Ok(())
            },
        )?;
        row.ours_facts.files = summary.packages.len();
        row.reference_facts.files = summary.packages.len();
    }
    notes.push(format!("repository: {} packages from {}", row.ours_facts.files, from.display()));
    Ok(row)
}

/// The gateway's start, launch to HTTP 200, in the packages' environment
/// (`JITI_TRY_NATIVE=true`, the shipped transpile cache), the first after an
/// install or upgrade (cache directory seeded afresh) and a restart, each against
/// upstream's own per-user start with its own warm caches: `runs` starts of each
/// kind, taking turns, on the build machine's Linux payload at the installed path.
fn startup_rows(sh: &Shell, m: &Manifest, bench: &Path, runs: usize, notes: &mut Vec<String>) -> Result<Vec<Row>> {
    let host = crate::warm::host_target()?;
    let payload = crate::fetch::payload(sh, m, host, true)?;
    let seed = payload.jiti.clone().context("no transpile cache")?;
    crate::tools::need_tools(sh, &[("unshare", "util-linux"), ("ip", "iproute2")])?;
    let node = payload.node.join("bin/node");
    let script = crate::warm::write_scripts(bench, "startup.sh", STARTUP_SCRIPT)?;
    // The packages' contract; upstream's per-user service has no JITI_TRY_NATIVE.
    for (kind, leave_out) in [("package", &[][..]), ("upstream", &["JITI_TRY_NATIVE"][..])] {
        crate::warm::write_contract(bench, kind, &crate::warm::offline_runtime(m, &node, kind), leave_out, false, &format!("bench-{kind}"))?;
    }
    let app = &payload.app;
    let installed = linux::Paths::new(m).app;
    let entry = &m.payload.entry;
    let port = m.service.port.to_string();
    let starts = runs.to_string();
    eprintln!("==> {host}: {runs} starts of the gateway of each kind, taking turns (about {} s)", runs * 3 * 8);
    let out = cmd!(sh, "unshare --user --map-root-user --mount --net --fork sh {script} {node} {app} {installed} {entry} {port} {seed} {starts} {bench}")
        .read()
        .context("timing the gateway's start failed; it needs user, mount and network namespaces")?;
    let upstream = "upstream's per-user start (warm caches)";
    let mut first = Row::new("gateway's first start to HTTP 200 after install or upgrade (packages' environment)".into(), upstream.into());
    let mut restart = Row::new("gateway's restart to HTTP 200 (packages' environment)".into(), upstream.into());
    let mut reference = Vec::new();
    for line in out.lines() {
        match line.split_once(' ') {
            Some(("first", s)) => first.ours.push(s.parse()?),
            Some(("package", s)) => restart.ours.push(s.parse()?),
            Some(("upstream", s)) => reference.push(s.parse()?),
            _ => bail!("startup.sh said {line:?}"),
        }
    }
    if [first.ours.len(), restart.ours.len(), reference.len()] != [runs; 3] {
        bail!("startup.sh timed {}, {} and {} starts, not {runs} of each kind", first.ours.len(), restart.ours.len(), reference.len());
    }
    first.reference = reference.clone();
    restart.reference = reference;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    // The transpile cache is flat: jiti's entries and the seed's stamp.
    let kib = |d: &Path| -> Result<u64> { Ok(fs::read_dir(d)?.map(|e| e.and_then(|e| e.metadata()).map_or(0, |md| md.len())).sum::<u64>() >> 10) };
    notes.push(format!(
        "start-up, {runs} starts of each kind, outside the unit's sandbox: first start after install or upgrade median {:.2} s, max {:.2} s; \
         restart median {:.2} s, max {:.2} s; upstream's median {:.2} s, max {:.2} s; the shipped transpile cache costs {} KiB installed \
         (the only cache shipped; V8's compile cache is made at the first start)",
        median(&first.ours),
        max(&first.ours),
        median(&restart.ours),
        max(&restart.ours),
        median(&restart.reference),
        max(&restart.reference),
        kib(&seed)?
    ));
    Ok(vec![first, restart])
}
