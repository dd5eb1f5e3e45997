//! `cargo xtask dist`: fetch, stage and write the packages into `target/dist/`
//! (or `--out`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pkg::{BuildOptions, Format, Manifest, Target};
use xshell::{cmd, Shell};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Target to build for (repeatable): linux-x64, linux-arm64, darwin-arm64, darwin-x64.
    #[arg(long = "target", value_parser = crate::parse_target)]
    pub targets: Vec<Target>,
    /// Format to build (repeatable): deb, rpm, pkg.
    #[arg(long = "format", value_parser = crate::parse_format)]
    pub formats: Vec<Format>,
    /// Output directory.
    #[arg(long, default_value = "target/dist")]
    pub out: PathBuf,
    /// The manifest to build from.
    #[arg(long, default_value = "clawdbot.toml")]
    pub manifest: PathBuf,
    /// ASCII-armoured OpenPGP secret key that signs the .rpm packages (default:
    /// $CLAWDBOT_RPM_SIGNING_KEY; unsigned when neither is given).
    #[arg(long)]
    pub rpm_signing_key: Option<PathBuf>,
    /// The repository signing key whose public part the Linux packages ship
    /// (repeatable; ASCII-armoured, secret or public). Default: the keys
    /// `cargo xtask repo` signs with by default ($CLAWDBOT_SIGNING_KEYS, else
    /// the throw-away testing key).
    #[arg(long = "archive-key")]
    pub archive_keys: Vec<PathBuf>,
    /// Build the Linux packages without the gateway's transpile cache (whose build
    /// runs the gateway once in user, mount and network namespaces): the first
    /// start after installation then transpiles for about half a minute.
    #[arg(long)]
    pub no_transpile_cache: bool,
}

impl Default for Args {
    /// The same defaults as on the command line.
    fn default() -> Args {
        crate::cli_defaults("dist")
    }
}

/// What one build wrote, and what its writers shared.
pub struct Built {
    pub paths: Vec<PathBuf>,
    /// The archives' compressed pieces: compressed, and taken from another
    /// artifact of the build instead.
    pub reuse: pkg::blocks::Reuse,
}

pub fn run(args: &Args) -> Result<Vec<PathBuf>> {
    build(args).map(|b| b.paths)
}

pub fn build(args: &Args) -> Result<Built> {
    let root = crate::root();
    let manifest = Manifest::load(&root.join(&args.manifest))?;
    let templates = pkg::format::load_templates(&root)?;
    let jobs = plan(args)?;
    let out = root.join(&args.out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let opts = BuildOptions {
        mtime: source_date_epoch()?,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get() as u32),
        // One artifact has no partner whose compressed pieces it could take.
        blocks: if jobs.iter().map(|(_, formats)| formats.len()).sum::<usize>() > 1 { pkg::blocks::Cache::new() } else { pkg::blocks::Cache::unshared() },
    };

    let key = args.rpm_signing_key.clone().or_else(|| std::env::var_os("CLAWDBOT_RPM_SIGNING_KEY").filter(|v| !v.is_empty()).map(PathBuf::from));
    let signer = key.map(|k| pkg::rpm::Signer::from_key_file(&k)).transpose()?;

    let keyring = if jobs.iter().any(|(t, _)| t.is_linux()) { Some(crate::repo::keyring(&args.archive_keys)?) } else { None };

    // Payloads one target after the other (npm shares its cache between them).
    let sh = Shell::new()?;
    let mut work = Vec::new();
    for (target, formats) in jobs {
        let mut payload = crate::fetch::payload(&sh, &manifest, target, !args.no_transpile_cache)?;
        payload.keyring = keyring.clone();
        if args.no_transpile_cache {
            eprintln!("    {target}: no transpile cache (--no-transpile-cache): the first start will transpile");
        }
        work.extend(formats.into_iter().map(|f| (target, f, payload.clone())));
    }

    // Then every artifact at once: the compressors of several artifacts fill the
    // cores that one alone leaves idle (the rpm writer's xz and the pkg writer's
    // gzip are single-threaded). Each writes its file only when complete.
    let t = Instant::now();
    let build = |target: Target, format: Format, payload: &pkg::payload::Payload| -> Result<PathBuf> {
        let writer = format.writer();
        let name = writer.file_name(&manifest, target)?;
        // Every error names the artifact it stopped.
        let stage = writer.stage(&manifest, payload, &templates).with_context(|| format!("staging {name}"))?;
        eprintln!("==> {name}: {} entries, {} MiB to compress", stage.len(), stage.file_bytes() >> 20);
        let t = Instant::now();
        let path = writer.write(&manifest, target, &stage, &templates, &opts, &out, signer.as_ref()).with_context(|| format!("writing {name}"))?;
        let size = std::fs::metadata(&path)?.len();
        eprintln!("    {name}: {:.1} MiB in {:.1} s", size as f64 / 1048576.0, t.elapsed().as_secs_f64());
        // Its bill of materials, from the same staged tree.
        let app_dir = writer.app_dir(&manifest)?;
        let sbom = pkg::sbom::cyclonedx(&pkg::sbom::Input {
            manifest: &manifest,
            target,
            format,
            stage: &stage,
            app_dir: &app_dir,
            lockfile: &root.join(&manifest.payload.npm_dir).join("package-lock.json"),
            artifact: &path,
            time: opts.mtime,
        })
        .with_context(|| format!("the bill of materials of {name}"))?;
        let sbom_path = out.join(pkg::sbom::file_name(&name));
        let tmp = out.join(format!(".{}.tmp", pkg::sbom::file_name(&name)));
        std::fs::write(&tmp, sbom).and_then(|()| std::fs::rename(&tmp, &sbom_path)).with_context(|| format!("writing {}", sbom_path.display()))?;
        Ok(path)
    };
    let results: Vec<Result<PathBuf>> = std::thread::scope(|s| {
        let handles: Vec<_> = work.iter().map(|(t, f, p)| s.spawn(move || build(*t, *f, p))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a package writer panicked")))).collect()
    });
    let written = results.into_iter().collect::<Result<Vec<_>>>()?;
    eprintln!("==> {} artifacts in {:.1} s, in {}", written.len(), t.elapsed().as_secs_f64(), out.display());
    let reuse = opts.blocks.reuse();
    if reuse.reused_in > 0 {
        eprintln!(
            "    {:.1} MiB of compressed data taken from another artifact of this build instead of compressing {:.1} MiB again ({:.1} MiB compressed in all)",
            reuse.reused_out as f64 / 1048576.0,
            reuse.reused_in as f64 / 1048576.0,
            reuse.compressed_out as f64 / 1048576.0,
        );
    }
    Ok(Built { paths: written, reuse })
}

/// Which formats to build for which target; every explicit request must be buildable.
fn plan(args: &Args) -> Result<Vec<(Target, Vec<Format>)>> {
    let formats = if args.formats.is_empty() { Format::ALL.to_vec() } else { args.formats.clone() };
    let targets = if args.targets.is_empty() { Target::ALL.to_vec() } else { args.targets.clone() };
    let mut jobs = Vec::new();
    for t in targets {
        let fs: Vec<Format> = formats.iter().copied().filter(|f| f.supports(t)).collect();
        if fs.is_empty() {
            if !args.targets.is_empty() {
                bail!("nothing to build for {t} with format {}", formats.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "));
            }
            continue;
        }
        jobs.push((t, fs));
    }
    Ok(jobs)
}

/// `SOURCE_DATE_EPOCH`, or else the time of the last commit, so that the same
/// checkout always builds the same bytes.
pub fn source_date_epoch() -> Result<u64> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a Unix time"));
    }
    let sh = Shell::new()?;
    let _cwd = sh.push_dir(crate::root());
    let t = cmd!(sh, "git log -1 --format=%ct").quiet().read().context("SOURCE_DATE_EPOCH is not set and git cannot tell the last commit's time")?;
    Ok(t.trim().parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_defaults_and_refusals() {
        let all = plan(&Args::default()).unwrap();
        assert_eq!(
            all,
            vec![
                (Target::LinuxX64, vec![Format::Deb, Format::Rpm]),
                (Target::LinuxArm64, vec![Format::Deb, Format::Rpm]),
                (Target::DarwinArm64, vec![Format::Pkg]),
                (Target::DarwinX64, vec![Format::Pkg]),
            ]
        );
        let e = plan(&Args { targets: vec![Target::DarwinX64], formats: vec![Format::Deb], ..Args::default() }).unwrap_err();
        assert!(e.to_string().contains("nothing to build for darwin-x64"), "{e}");
    }
}
