//! The reference side of the benchmark: the staged tree as a directory that
//! `dpkg-deb` and `rpmbuild` read, the spec `rpmbuild` builds it with, and what
//! each package's own reader says about a package.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pkg::stage::{Kind, Source, Stage};
use pkg::Manifest;
use xshell::{cmd, Shell};

/// What one package reader says about a package.
#[derive(Default, Clone, serde::Serialize)]
pub struct Facts {
    pub bytes: u64,
    pub installed_kib: u64,
    pub files: usize,
}

pub fn deb_facts(sh: &Shell, deb: &Path) -> Result<Facts> {
    let installed = cmd!(sh, "dpkg-deb -f {deb} Installed-Size").quiet().read()?;
    let listing = cmd!(sh, "dpkg-deb -c {deb}").quiet().read()?;
    Ok(Facts {
        bytes: fs::metadata(deb)?.len(),
        installed_kib: installed.trim().parse().with_context(|| format!("{}: Installed-Size {installed:?}", deb.display()))?,
        files: listing.lines().filter(|l| l.starts_with('-')).count(),
    })
}

pub fn rpm_facts(sh: &Shell, rpm: &Path) -> Result<Facts> {
    let (size_fmt, modes_fmt) = ("%{SIZE}", "[%{FILEMODES:perms}\n]");
    let size = cmd!(sh, "rpm -qp --nosignature --qf {size_fmt} {rpm}").quiet().read()?;
    let listing = cmd!(sh, "rpm -qp --nosignature --qf {modes_fmt} {rpm}").quiet().read()?;
    Ok(Facts {
        bytes: fs::metadata(rpm)?.len(),
        installed_kib: size.trim().parse::<u64>().with_context(|| format!("{}: SIZE {size:?}", rpm.display()))? / 1024,
        files: listing.lines().filter(|l| l.starts_with('-')).count(),
    })
}

/// Writes the stage as a directory tree: payload files as hard links, rendered
/// files as files, links as links.
pub fn materialise(stage: &Stage, dir: &Path) -> Result<PathBuf> {
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

/// A spec whose %install hard-links the materialised tree into the build root and
/// whose %files lists every staged entry (the directories the package owns, as ours
/// does not matter for the timing). No `BuildArch`: `--target` sets the
/// architecture, and rpmbuild refuses a foreign `BuildArch`.
pub fn spec_for(m: &Manifest, stage: &Stage, tree: &Path) -> String {
    let mut files = String::new();
    for (path, entry) in stage.iter() {
        // rpm expands globs and macros in %files: escape them.
        let escaped: String = path
            .chars()
            .flat_map(|c| match c {
                '%' => vec!['%', '%'],
                '[' | ']' | '*' | '?' | '{' | '}' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let quoted = format!("\"{escaped}\"");
        match entry.kind {
            Kind::Dir => files.push_str(&format!("%dir {quoted}\n")),
            _ if entry.config => files.push_str(&format!("%config(noreplace) {quoted}\n")),
            _ => files.push_str(&format!("{quoted}\n")),
        }
    }
    format!(
        "Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {summary}\nLicense: {license}\nAutoReqProv: no\n\n%description\n{summary}\n\n%install\nmkdir -p %{{buildroot}}\ncp -al {tree}/. %{{buildroot}}/\n\n%files\n%defattr(-,root,root,-)\n{files}",
        name = m.package.name,
        version = pkg::rpm::version(m),
        release = m.package.revision,
        summary = m.package.summary,
        license = m.package.license,
        tree = tree.display(),
    )
}

pub fn find_file(dir: &Path, suffix: &str) -> Result<PathBuf> {
    crate::files::walk(dir, &[])?.into_iter().find(|p| p.to_string_lossy().ends_with(suffix)).with_context(|| format!("no {suffix} under {}", dir.display()))
}
