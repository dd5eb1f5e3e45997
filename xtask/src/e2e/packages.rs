//! The packages a run installs: given, or built (and cached by a hash of
//! their inputs) from the working tree, and the repositories of the repo scenarios.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pkg::Format;
use sha2::{Digest, Sha256};
use xshell::{cmd, Shell};

use super::*;

/// The packages the scenarios install: the .deb under test and one of a higher
/// version, when an rpm scenario runs the same pair of .rpm packages, and when a
/// scenario asks for it the .deb of this checkout built without the transpile
/// cache (the start-up promise's control).
pub(super) struct Packages {
    pub(super) deb: PathBuf,
    pub(super) upgrade_deb: PathBuf,
    pub(super) rpm: Option<(PathBuf, PathBuf)>,
    pub(super) bare_deb: Option<PathBuf>,
}

/// The package under test and the one of a higher packaging revision: the files
/// given on the command line, or else built from this checkout.
pub(super) fn pair(given: &Option<PathBuf>, given_upgrade: &Option<PathBuf>, format: Format) -> Result<(PathBuf, PathBuf)> {
    let root = crate::root();
    let pick = |given: &Option<PathBuf>, name: &str, bump: u32, what: &str| -> Result<PathBuf> {
        let path = match given {
            Some(p) => root.join(p),
            None => crate::step(&format!("the .{format} of {what}"), || build_cached(&root, name, bump, format, true))?,
        };
        if !path.is_file() {
            bail!("no package at {}", path.display());
        }
        Ok(path)
    };
    Ok((pick(given, "current", 0, "this checkout")?, pick(given_upgrade, "next", 1, "a higher packaging revision (for the upgrade)")?))
}

/// The packages, each pair checked to compare as lower and higher version.
pub(super) fn packages(sh: &Shell, args: &Args, with_rpm: bool, with_bare: bool) -> Result<Packages> {
    let (deb, upgrade_deb) = pair(&args.deb, &args.upgrade_deb, Format::Deb)?;
    let (a, b) = (deb_field(sh, &deb, "Version")?, deb_field(sh, &upgrade_deb, "Version")?);
    if cmd!(sh, "dpkg --compare-versions {a} lt {b}").quiet().run().is_err() {
        bail!("the upgrade package ({b}) is not of a higher version than the package under test ({a})");
    }
    let bare_deb = if with_bare {
        let root = crate::root();
        Some(crate::step("the .deb of this checkout without the transpile cache (the start-up control)", || {
            build_cached(&root, "bare", 0, Format::Deb, false)
        })?)
    } else {
        None
    };
    if !with_rpm {
        return Ok(Packages { deb, upgrade_deb, rpm: None, bare_deb });
    }
    let (rpm, upgrade_rpm) = pair(&args.rpm, &args.upgrade_rpm, Format::Rpm)?;
    let (a, b) = (rpm_evr(sh, &rpm)?, rpm_evr(sh, &upgrade_rpm)?);
    let lua = format!("%{{lua: print(rpm.vercmp('{a}', '{b}'))}}");
    if cmd!(sh, "rpm --eval {lua}").quiet().read()?.trim() != "-1" {
        bail!("the upgrade .rpm ({b}) is not of a higher version than the .rpm under test ({a})");
    }
    Ok(Packages { deb, upgrade_deb, rpm: Some((rpm, upgrade_rpm)), bare_deb })
}

/// epoch:version-release of an .rpm file.
pub(super) fn rpm_evr(sh: &Shell, rpm: &Path) -> Result<String> {
    let qf = "%{EPOCHNUM}:%{VERSION}-%{RELEASE}";
    let evr = cmd!(sh, "rpm -qp --nosignature --qf {qf} {rpm}").quiet().read()?;
    let evr = evr.trim().to_owned();
    if evr.is_empty() || !evr.chars().all(|c| c.is_ascii_alphanumeric() || ".:-_+~^".contains(c)) {
        bail!("{}: unexpected version {evr:?}", rpm.display());
    }
    Ok(evr)
}

pub(super) fn deb_field(sh: &Shell, deb: &Path, field: &str) -> Result<String> {
    Ok(cmd!(sh, "dpkg-deb -f {deb} {field}").quiet().read()?.trim().to_owned())
}

/// Builds the linux-x64 package of `format` (.deb or .rpm) with the packaging
/// revision raised by `bump`, with or without the transpile cache, into
/// `target/e2e/pkg/<label>/` (`rpm-<label>/` for an .rpm), unless the same inputs
/// built it already.
pub(super) fn build_cached(root: &Path, label: &str, bump: u32, format: Format, transpile_cache: bool) -> Result<PathBuf> {
    let (dir, ext) = match format {
        Format::Rpm => (root.join("target/e2e/pkg").join(format!("rpm-{label}")), "rpm"),
        _ => (root.join("target/e2e/pkg").join(label), "deb"),
    };
    let manifest_text = fs::read_to_string(root.join("clawdbot.toml"))?;
    let manifest_text = if bump == 0 { manifest_text } else { bump_revision(&manifest_text, bump)? };
    let stamp = format!("{}{}\n", inputs_hash(root, &manifest_text, format)?, if transpile_cache { "" } else { " without the transpile cache" });
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
        no_transpile_cache: !transpile_cache,
        ..crate::dist::Args::default()
    };
    let out = crate::dist::run(&dist_args)?;
    let deb = out.into_iter().next().context("dist built no package")?;
    fs::write(&stamp_path, stamp)?;
    Ok(deb)
}

pub(super) fn find_pkg(dir: &Path, ext: &str) -> Result<Option<PathBuf>> {
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
pub(super) fn bump_revision(text: &str, bump: u32) -> Result<String> {
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
pub(super) fn inputs_hash(root: &Path, manifest_text: &str, format: Format) -> Result<String> {
    let mut files = Vec::new();
    let mut dirs = vec!["payload", "admin", "systemd", "debian", "pkg"];
    if format == Format::Rpm {
        dirs.push("rpm");
    }
    for dir in dirs {
        if root.join(dir).is_dir() {
            files.extend(crate::files::walk(&root.join(dir), &["target", "node_modules"])?);
        }
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

/// `target/e2e/repo/{one,two,other}`, served at http://localhost:8000 inside the
/// container: `one` holds the package under test, `two` is `one` updated with
/// the package of the higher version (as a release adds its version), `other`
/// holds the package under test signed by another key. Built anew each run
/// (a few seconds: the packages are hard links).
pub(super) fn repositories(root: &Path, pkgs: &Packages) -> Result<PathBuf> {
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
