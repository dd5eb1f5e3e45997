//! `cargo xtask release`: what the release pipeline runs after `cargo xtask
//! test`, as one command that runs here as well: every artifact with its SBOM,
//! the repositories, and `SHA256SUMS` with a detached signature.
//!
//! ```text
//! <out>/artifacts/   the six packages, <package>.cdx.json, SHA256SUMS, SHA256SUMS.asc
//! <out>/repo/        the APT and yum repositories (`cargo xtask repo`)
//! ```
//!
//! `--dry-run` signs with the throw-away testing key and says what would be
//! published; without it a signing key is required.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::Digest as _;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Where the release is assembled.
    #[arg(long, default_value = "target/release")]
    pub out: PathBuf,
    /// Sign with the throw-away testing key (unless --signing-key is given) and
    /// print what would be published.
    #[arg(long)]
    pub dry_run: bool,
    /// ASCII-armoured OpenPGP secret key (v4, RSA) that signs the repositories,
    /// the .rpm packages and SHA256SUMS (repeatable). Default:
    /// $CLAWDBOT_SIGNING_KEYS.
    #[arg(long = "signing-key")]
    pub signing_keys: Vec<PathBuf>,
    /// The URL the repository is published at.
    #[arg(long, default_value = "http://localhost:8000")]
    pub base_url: String,
    /// Versions of each package that stay in the repository (a GitHub Pages site
    /// holds about 1 GB; one release of the four Linux packages is about 330 MB).
    #[arg(long, default_value_t = 2)]
    pub keep: usize,
    /// Read the repositories back with the reference tools (see `cargo xtask repo --verify`).
    #[arg(long)]
    pub verify: bool,
}

impl Default for Args {
    /// The same defaults as on the command line.
    fn default() -> Args {
        crate::cli_defaults("release")
    }
}

/// The files a release publishes.
pub struct Release {
    pub artifacts: Vec<PathBuf>,
    pub repo: PathBuf,
}

pub fn run(args: &Args) -> Result<Release> {
    let root = crate::root();
    let mut key_paths = crate::repo::key_paths(&args.signing_keys);
    if key_paths.is_empty() {
        if !args.dry_run {
            bail!("a release needs a signing key: --signing-key KEY.asc or CLAWDBOT_SIGNING_KEYS (or --dry-run, which signs with a throw-away key)");
        }
        key_paths.push(crate::repo::testing_key()?);
    }
    let keys = crate::repo::signing_keys(&key_paths)?;
    let out = root.join(&args.out);
    let artifacts_dir = out.join("artifacts");
    let _ = std::fs::remove_dir_all(&artifacts_dir);
    let rel = |p: &Path| p.strip_prefix(&root).map(Path::to_owned).unwrap_or_else(|_| p.to_owned());

    // 1. Every artifact, the .rpm packages signed, the keyring of these keys inside.
    crate::dist::run(&crate::dist::Args {
        out: rel(&artifacts_dir),
        rpm_signing_key: Some(key_paths[0].clone()),
        archive_keys: key_paths.clone(),
        ..Default::default()
    })?;

    // 2. The repositories (the previous ones in <out>/repo are kept up to --keep).
    let repo = out.join("repo");
    crate::repo::run(&crate::repo::Args {
        from: rel(&artifacts_dir),
        out: rel(&repo),
        base_url: args.base_url.clone(),
        signing_keys: key_paths.clone(),
        keep: args.keep,
        verify: args.verify,
        ..Default::default()
    })?;

    // 3. SHA256SUMS over the artifacts and their SBOMs, signed.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&artifacts_dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.retain(|p| p.is_file());
    files.sort();
    let mut sums = String::new();
    for f in &files {
        let bytes = std::fs::read(f)?;
        let name = f.file_name().context("a file name")?.to_string_lossy();
        sums.push_str(&format!("{:x}  {name}\n", sha2::Sha256::digest(&bytes)));
    }
    let time = crate::dist::source_date_epoch()?;
    std::fs::write(artifacts_dir.join("SHA256SUMS"), &sums)?;
    std::fs::write(artifacts_dir.join("SHA256SUMS.asc"), keys.detach_sign(sums.as_bytes(), keys.sign_time(time))?)?;
    files.push(artifacts_dir.join("SHA256SUMS"));
    files.push(artifacts_dir.join("SHA256SUMS.asc"));

    let verb = if args.dry_run { "would publish" } else { "to publish" };
    eprintln!("==> {verb}: {} files as release assets, from {}", files.len(), artifacts_dir.display());
    for f in &files {
        let len = std::fs::metadata(f)?.len();
        eprintln!("    {:>10.1} MiB  {}", len as f64 / 1048576.0, f.file_name().unwrap_or_default().to_string_lossy());
    }
    eprintln!("==> {verb}: the repositories in {} at {}", repo.display(), args.base_url);
    for k in keys.iter() {
        eprintln!("    signed by {} ({})", k.fingerprint(), k.origin().display());
    }
    if args.dry_run {
        eprintln!(
            "    (dry run: nothing was published; the signatures are by {})",
            if args.signing_keys.is_empty() { "the throw-away testing key" } else { "the given key" }
        );
    }
    Ok(Release { artifacts: files, repo })
}

/// `cargo xtask release --dry-run` into `target/checks/release`, checked: six
/// artifacts, each with its SBOM, every one listed in SHA256SUMS with the right
/// digest (sha256sum --check), whose signature gpgv accepts with the
/// repository's keyring; both repositories present.
pub fn dry_run_check(sh: &xshell::Shell) -> Result<()> {
    use anyhow::ensure;
    let out = PathBuf::from("target/checks/release");
    let _ = std::fs::remove_dir_all(crate::root().join(&out));
    let r = run(&Args { out: out.clone(), dry_run: true, ..Default::default() })?;
    let dir = crate::root().join(&out).join("artifacts");
    let count = |suffix: &str| r.artifacts.iter().filter(|p| p.to_string_lossy().ends_with(suffix)).count();
    ensure!(count(".deb") == 2 && count(".rpm") == 2 && count(".pkg") == 2, "expected 2 .deb, 2 .rpm, 2 .pkg: {:?}", r.artifacts);
    ensure!(count(".cdx.json") == 6, "expected 6 SBOMs");
    let _cwd = sh.push_dir(&dir);
    let checked = xshell::cmd!(sh, "sha256sum --check --strict SHA256SUMS").quiet().read()?;
    ensure!(checked.lines().filter(|l| l.ends_with(": OK")).count() == 12, "sha256sum --check:\n{checked}");
    let keyring = r.repo.join("clawdbot-archive-keyring.pgp");
    xshell::cmd!(sh, "gpgv --keyring {keyring} SHA256SUMS.asc SHA256SUMS").quiet().ignore_stderr().run().context("gpgv refused SHA256SUMS.asc")?;
    for f in ["deb/dists/stable/InRelease", "rpm/repodata/repomd.xml.asc", "clawdbot.sources", "clawdbot.repo", "index.html"] {
        ensure!(r.repo.join(f).is_file(), "the repository lacks {f}");
    }
    eprintln!("    12 files in SHA256SUMS verified, its signature accepted by gpgv; repositories in {}", r.repo.display());
    Ok(())
}
