//! `cargo xtask bench`: our writers against `dpkg-deb --build` and `rpmbuild -bb` on
//! the very same staged tree, in the same run, from a warm payload cache.
//!
//! The staged tree is materialised once as a build root of hard links into the
//! payload cache (rendered files written out), so the reference tools read the same
//! bytes ours do. Several runs per pair; the report gives median, spread, the ratio
//! ours/reference and the sizes. A benchmark, not a test: nothing here asserts a time.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use pkg::linux::{self, Flavor, Templates};
use pkg::stage::{Kind, Source, Stage};
use pkg::{BuildOptions, Manifest, Target};
use xshell::{cmd, Shell};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Runs per measurement.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Targets to measure (default: linux-x64).
    #[arg(long = "target", value_parser = crate::parse_target)]
    pub targets: Vec<Target>,
}

struct Row {
    what: String,
    ours: Vec<f64>,
    reference: Vec<f64>,
    ours_size: u64,
    reference_size: u64,
}

pub fn run(args: &Args) -> Result<()> {
    let root = crate::root();
    let sh = Shell::new()?;
    crate::test::need_tools(&sh, &[("dpkg-deb", "dpkg"), ("rpmbuild", "rpm"), ("xz", "xz-utils")])?;
    let manifest = Manifest::load(&root.join("clawdbot.toml"))?;
    let templates = Templates::load(&root)?;
    let opts = BuildOptions { mtime: 1_700_000_000, threads: std::thread::available_parallelism().map_or(2, |n| n.get() as u32) };
    let bench = root.join("target/bench");
    fs::create_dir_all(&bench)?;
    let targets = if args.targets.is_empty() { vec![Target::LinuxX64] } else { args.targets.clone() };

    let mut rows = Vec::new();
    let mut facts = Vec::new();
    for target in targets {
        let t = Instant::now();
        let payload = crate::fetch::payload(&sh, &manifest, target)?;
        let deb_stage = linux::stage(&manifest, Flavor::Deb, &payload, &templates)?;
        let rpm_stage = linux::stage(&manifest, Flavor::Rpm, &payload, &templates)?;
        facts.push(format!(
            "{target}: fetch (cached) + stage {:.1} s; {} entries, {} files' bytes {:.1} MiB, Installed-Size {:.1} MiB",
            t.elapsed().as_secs_f64(),
            deb_stage.len(),
            deb_stage.file_bytes(),
            deb_stage.file_bytes() as f64 / 1048576.0,
            deb_stage.installed_size_kib() as f64 / 1024.0
        ));

        let out = bench.join(format!("out-{target}"));
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out)?;

        // .deb: ours against dpkg-deb -Zxz at the same level.
        let deb_root = materialise(&deb_stage, &bench.join(format!("root-deb-{target}")))?;
        let debian = deb_root.join("DEBIAN");
        fs::create_dir_all(&debian)?;
        fs::write(debian.join("control"), pkg::deb::control(&manifest, target, &deb_stage))?;
        let level = format!("-z{}", pkg::deb::XZ_LEVEL);
        let reference_deb = out.join("reference.deb");
        let mut row = Row { what: format!("{target} .deb (xz -{})", pkg::deb::XZ_LEVEL), ours: vec![], reference: vec![], ours_size: 0, reference_size: 0 };
        for run in 0..args.runs {
            eprintln!("==> {target} .deb run {}/{}", run + 1, args.runs);
            let t = Instant::now();
            let ours = pkg::deb::write(&manifest, target, &deb_stage, &templates, &opts, &out)?;
            row.ours.push(t.elapsed().as_secs_f64());
            row.ours_size = fs::metadata(&ours)?.len();
            let t = Instant::now();
            cmd!(sh, "dpkg-deb --root-owner-group -Zxz {level} --build {deb_root} {reference_deb}").quiet().ignore_stdout().run()?;
            row.reference.push(t.elapsed().as_secs_f64());
            row.reference_size = fs::metadata(&reference_deb)?.len();
        }
        rows.push(row);

        // .rpm: ours against rpmbuild -bb over the same tree.
        let rpm_root = materialise(&rpm_stage, &bench.join(format!("root-rpm-{target}")))?;
        let spec = bench.join(format!("reference-{target}.spec"));
        fs::write(&spec, spec_for(&manifest, target, &rpm_stage, &rpm_root))?;
        let topdir = bench.join(format!("rpmbuild-{target}"));
        let mut row = Row { what: format!("{target} .rpm (xz -{})", pkg::rpm::XZ_LEVEL), ours: vec![], reference: vec![], ours_size: 0, reference_size: 0 };
        let payload_define = format!("_binary_payload w{}.xzdio", pkg::rpm::XZ_LEVEL);
        let topdir_define = format!("_topdir {}", topdir.display());
        let arch = target.rpm_arch();
        let (no_build_ids, no_post, epoch) = ("_build_id_links none", "__os_install_post %{nil}", "_source_date_epoch 1700000000");
        for run in 0..args.runs {
            eprintln!("==> {target} .rpm run {}/{}", run + 1, args.runs);
            let t = Instant::now();
            let ours = pkg::rpm::write(&manifest, target, &rpm_stage, &templates, &opts, &out, None)?;
            row.ours.push(t.elapsed().as_secs_f64());
            row.ours_size = fs::metadata(&ours)?.len();
            let _ = fs::remove_dir_all(&topdir);
            let t = Instant::now();
            cmd!(sh, "rpmbuild -bb --quiet --target {arch} --define {payload_define} --define {topdir_define} --define {no_build_ids} --define {no_post} --define {epoch} --nodeps {spec}")
                .quiet()
                .ignore_stdout()
                .ignore_stderr()
                .run()
                .context("rpmbuild failed")?;
            row.reference.push(t.elapsed().as_secs_f64());
            let built = find_file(&topdir.join("RPMS"), ".rpm")?;
            row.reference_size = fs::metadata(&built)?.len();
        }
        rows.push(row);
    }

    let report = render(&rows, &facts);
    print!("{report}");
    fs::write(bench.join("report.md"), &report)?;
    fs::write(bench.join("report.json"), json(&rows, &facts))?;
    eprintln!("wrote {} and report.json", bench.join("report.md").display());
    Ok(())
}

/// Writes the stage as a directory tree: payload files as hard links, rendered
/// files as files, links as links.
fn materialise(stage: &Stage, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    for (path, entry) in stage.iter() {
        let dest = dir.join(&path[1..]);
        match &entry.kind {
            Kind::Dir => fs::create_dir_all(&dest)?,
            Kind::Symlink(target) => std::os::unix::fs::symlink(target, &dest)?,
            Kind::File(Source::Disk(src)) => {
                fs::hard_link(src, &dest).or_else(|_| fs::copy(src, &dest).map(|_| ())).with_context(|| format!("linking {}", src.display()))?;
            }
            Kind::File(Source::Bytes(bytes)) => fs::write(&dest, bytes)?,
        }
        if !matches!(entry.kind, Kind::Symlink(_)) {
            fs::set_permissions(&dest, fs::Permissions::from_mode(entry.mode))?;
        }
    }
    Ok(dir.to_owned())
}

/// A spec whose %install hard-links the materialised tree into the build root.
fn spec_for(m: &Manifest, target: Target, stage: &Stage, tree: &Path) -> String {
    let mut files = String::new();
    for (path, entry) in stage.iter() {
        let quoted = format!("\"{path}\"");
        match entry.kind {
            Kind::Dir => files.push_str(&format!("%dir {quoted}\n")),
            _ if entry.config => files.push_str(&format!("%config(noreplace) {quoted}\n")),
            _ => files.push_str(&format!("{quoted}\n")),
        }
    }
    format!(
        "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {summary}\nLicense: {license}\nBuildArch: {arch}\nAutoReqProv: no\n\n%description\n{summary}\n\n%install\nmkdir -p %{{buildroot}}\ncp -al {tree}/. %{{buildroot}}/\n\n%files\n%defattr(-,root,root,-)\n{files}",
        name = m.package.name,
        version = pkg::rpm::version(m),
        release = m.package.revision,
        summary = m.package.summary,
        license = m.package.license,
        arch = target.rpm_arch(),
        tree = tree.display(),
    )
}

fn find_file(dir: &Path, suffix: &str) -> Result<PathBuf> {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                return Ok(p);
            }
        }
    }
    anyhow::bail!("no {suffix} under {}", dir.display())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn spread(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
}

fn render(rows: &[Row], facts: &[String]) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    let mut s = String::from("# Benchmark: our writers against the reference tools, same staged tree\n\n");
    for f in facts {
        s.push_str(&format!("- {f}\n"));
    }
    s.push_str("\n| artifact | ours median (spread) s | reference median (spread) s | time ours/ref | ours MiB | reference MiB | size ours/ref |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        let (o, rf) = (median(&r.ours), median(&r.reference));
        s.push_str(&format!(
            "| {} | {:.1} ({:.1}) | {:.1} ({:.1}) | {:.2} | {:.1} | {:.1} | {:.2} |\n",
            r.what,
            o,
            spread(&r.ours),
            rf,
            spread(&r.reference),
            o / rf,
            mib(r.ours_size),
            mib(r.reference_size),
            r.ours_size as f64 / r.reference_size as f64
        ));
    }
    s.push_str(&format!(
        "\n{} runs each; reference tools: dpkg-deb --build -Zxz, rpmbuild -bb (xzdio payload) over the same tree.\n",
        rows.first().map_or(0, |r| r.ours.len())
    ));
    s
}

fn json(rows: &[Row], facts: &[String]) -> String {
    let list = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(", ");
    let rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "    {{\"artifact\": {:?}, \"ours_s\": [{}], \"reference_s\": [{}], \"ours_bytes\": {}, \"reference_bytes\": {}}}",
                r.what,
                list(&r.ours),
                list(&r.reference),
                r.ours_size,
                r.reference_size
            )
        })
        .collect();
    let facts: Vec<String> = facts.iter().map(|f| format!("    {f:?}")).collect();
    format!("{{\n  \"facts\": [\n{}\n  ],\n  \"rows\": [\n{}\n  ]\n}}\n", facts.join(",\n"), rows.join(",\n"))
}
