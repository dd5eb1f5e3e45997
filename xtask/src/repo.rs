//! `cargo xtask repo`: signed APT and yum repositories from the artifacts of
//! `cargo xtask dist` (see `pkg::repo`), and the repository keys `dist` ships.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pkg::repo::{Key, Keys};
use pkg::Manifest;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The built packages (.deb and .rpm; other files are ignored).
    #[arg(long, default_value = "target/dist")]
    pub from: PathBuf,
    /// The repository root: created, or updated with the new packages.
    #[arg(long, default_value = "target/repo")]
    pub out: PathBuf,
    /// The URL the repository root is served at (written into clawdbot.sources,
    /// clawdbot.repo and index.html).
    #[arg(long, default_value = "http://localhost:8000")]
    pub base_url: String,
    /// ASCII-armoured OpenPGP secret key (v4, RSA) that signs (repeatable: during a
    /// key rotation, give the old and the new key). Default: the files named in
    /// $CLAWDBOT_SIGNING_KEYS (separated by ':'), else a throw-away testing key.
    #[arg(long = "signing-key")]
    pub signing_keys: Vec<PathBuf>,
    /// Versions of each package and architecture that stay published.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Let apt trust the Release file for this many days only (Valid-Until);
    /// every client then fails unless the repository is signed again in time.
    #[arg(long)]
    pub valid_days: Option<u64>,
    /// The manifest.
    #[arg(long, default_value = "clawdbot.toml")]
    pub manifest: PathBuf,
    /// Then read the result back with tools we did not write: apt-ftparchive,
    /// gpgv, sqv, gpg, rpmkeys, createrepo_c and dnf (installed with apt-get
    /// when missing).
    #[arg(long)]
    pub verify: bool,
}

impl Default for Args {
    /// The same defaults as on the command line.
    fn default() -> Args {
        crate::cli_defaults("repo")
    }
}

/// Where the throw-away testing key is kept (never inside a repository).
pub const TESTING_KEY: &str = "target/repo-key/testing-key.asc";

/// 2025-01-01T00:00:00Z.
const TESTING_KEY_CREATED: u32 = 1_735_689_600;

pub fn run(args: &Args) -> Result<pkg::repo::Summary> {
    let root = crate::root();
    let manifest = Manifest::load(&root.join(&args.manifest))?;
    let keys = signing_keys(&args.signing_keys)?;
    let signer = pkg::rpm::Signer::from_key_file(keys.first().origin()).context("the first signing key signs the .rpm packages")?;
    let opts = pkg::repo::Options {
        from: root.join(&args.from),
        out: root.join(&args.out),
        base_url: args.base_url.trim_end_matches('/').to_owned(),
        keep: args.keep,
        time: crate::dist::source_date_epoch()?,
        valid_for: args.valid_days.map(|d| d * 86400),
    };
    if args.base_url == Args::default().base_url {
        eprintln!("    note: no --base-url: the client files point at {}", opts.base_url);
    }
    let summary = crate::step(&format!("repository {} from {}", opts.out.display(), opts.from.display()), || {
        Ok(pkg::repo::build(&manifest, &opts, &keys, &signer, &|what| eprintln!("    {what}"))?)
    })?;
    for p in &summary.packages {
        let mark = if summary.added.contains(p) { "+" } else { " " };
        eprintln!("    {mark} {p}");
    }
    for p in &summary.removed {
        eprintln!("    - {p} (more than --keep {} newer versions)", args.keep);
    }
    for k in keys.iter() {
        eprintln!("    signed by {} ({})", k.fingerprint(), k.origin().display());
    }
    if args.verify {
        verify(&opts.out)?;
    }
    Ok(summary)
}

/// The checks of `--verify`, which `cargo xtask test` runs as well.
pub fn verify(repo: &Path) -> Result<()> {
    use crate::repo_checks as c;
    let sh = xshell::Shell::new()?;
    crate::tools::need_tools(&sh, c::TOOLS)?;
    crate::step("APT Packages and Release agree with apt-ftparchive", || c::apt_fields(&sh, repo))?;
    crate::step("gpgv and sqv verify the signatures (v4 RSA, no SHA-1) and refuse forgeries", || c::signatures(&sh, repo))?;
    crate::step("rpmkeys -K accepts the .rpm signatures", || c::rpm_signatures(&sh, repo))?;
    crate::step("yum primary.xml agrees with createrepo_c", || c::createrepo(&sh, repo))?;
    crate::step("dnf reads the yum repository with repo_gpgcheck=1 and refuses a forged repomd.xml", || c::dnf(&sh, repo))?;
    Ok(())
}

/// The signing keys' files: those given, else $CLAWDBOT_SIGNING_KEYS (separated
/// by ':'); none when neither names one.
pub fn key_paths(given: &[PathBuf]) -> Vec<PathBuf> {
    if !given.is_empty() {
        return given.to_vec();
    }
    std::env::var_os("CLAWDBOT_SIGNING_KEYS").filter(|v| !v.is_empty()).map(|v| std::env::split_paths(&v).collect()).unwrap_or_default()
}

/// The keys that sign: those of [`key_paths`], else the testing key (made on
/// first use, with a loud notice each time it is used).
pub fn signing_keys(given: &[PathBuf]) -> Result<Keys> {
    let mut paths = key_paths(given);
    if paths.is_empty() {
        paths.push(testing_key()?);
    }
    let keys = paths.iter().map(|p| Key::load(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(Keys::new(keys)?)
}

/// A second throw-away key, for tests that need a repository signed by a key
/// the client does not trust.
pub fn other_testing_key() -> Result<PathBuf> {
    let path = crate::root().join("target/repo-key/other-testing-key.asc");
    if !path.is_file() {
        let key = Key::generate("another clawdbot testing key (NOT TRUSTED) <packages@clawdbot.invalid>", TESTING_KEY_CREATED)?;
        write_secret(&path, &key.secret_armored()?)?;
    }
    Ok(path)
}

/// The throw-away key under `target/`, made when missing.
pub fn testing_key() -> Result<PathBuf> {
    let path = crate::root().join(TESTING_KEY);
    eprintln!("    ************************************************************************");
    eprintln!("    * No signing key given: signing with the throw-away key                *");
    eprintln!("    * {TESTING_KEY:<69}*");
    eprintln!("    * FOR TESTING ONLY. Pass --signing-key KEY.asc (or set                 *");
    eprintln!("    * CLAWDBOT_SIGNING_KEYS) for anything that users install.              *");
    eprintln!("    ************************************************************************");
    if path.is_file() {
        return Ok(path);
    }
    let key = crate::step("making the throw-away RSA 3072 testing key", || {
        // Created at a fixed past time: a signature may not predate its key, and
        // signatures carry the (past) SOURCE_DATE_EPOCH.
        Ok(Key::generate("clawdbot testing key (NOT FOR RELEASES) <packages@clawdbot.invalid>", TESTING_KEY_CREATED)?)
    })?;
    write_secret(&path, &key.secret_armored()?)?;
    Ok(path)
}

/// Writes a secret key readable by its owner only, atomically.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().context("a key path has a directory")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".key-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The public keys `dist` ships in the packages: those of the keys that sign
/// the repository by default (see [`signing_keys`]).
pub fn keyring(given: &[PathBuf]) -> Result<pkg::payload::Keyring> {
    let public = if given.is_empty() { signing_keys(&[])?.public() } else { pkg::repo::PublicKeys::load(given)? };
    Ok(pkg::payload::Keyring { binary: public.keyring()?, armored: public.armored()? })
}
