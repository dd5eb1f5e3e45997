//! Checks of a real .rpm (built from the real payload) with the real rpm tools:
//! what `rpm -qp` reads back (names, owners, modes, config flags, scriptlets,
//! user/group provides, requires), that every ELF file is built for the target's
//! CPU, and that rpmlint reports no error. Called by `cargo xtask test`.
//!
//! Not here: building the package (see `dist.rs`) or unit tests on fixture
//! payloads (`pkg/tests/rpm.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use pkg::{Manifest, Target};
use xshell::{cmd, Shell};

/// (command, Debian package that provides it).
pub const TOOLS: &[(&str, &str)] = &[("rpm", "rpm"), ("rpmkeys", "rpm"), ("rpm2cpio", "rpm"), ("cpio", "cpio"), ("file", "file"), ("rpmlint", "rpmlint")];

/// Every check of one real .rpm for `target`; prints rpmlint's warnings.
pub fn check_real_rpm(sh: &Shell, rpm: &Path, target: Target) -> Result<()> {
    crate::tools::need_tools(sh, TOOLS)?;
    let root = crate::root();
    let m = Manifest::load(&root.join("clawdbot.toml"))?;
    let _lc = sh.push_env("LC_ALL", "C.UTF-8");
    let name = rpm.file_name().and_then(|n| n.to_str()).context("package path has no file name")?;
    ensure!(name == pkg::rpm::file_name(&m, target), "{name}: expected the name {}", pkg::rpm::file_name(&m, target));

    let info = cmd!(sh, "rpm -qp --info {rpm}").read()?;
    for want in
        [format!("Name        : {}", m.package.name), format!("Architecture: {}", target.rpm_arch()), format!("Version     : {}", pkg::rpm::version(&m))]
    {
        ensure!(info.contains(&want), "rpm --info lacks {want:?}:\n{info}");
    }

    // path size mtime digest mode owner group isconfig isdoc rdev symlink
    let dump = cmd!(sh, "rpm -qp --dump {rpm}").read()?;
    let mut files = BTreeMap::new();
    for line in dump.lines() {
        let c: Vec<&str> = line.split(' ').collect();
        ensure!(c.len() == 11, "unexpected rpm --dump line {line:?}");
        ensure!(c[5] == "root" && c[6] == "root", "not owned by root: {line}");
        files.insert(c[0].to_owned(), (c[4].to_owned(), c[7] == "1"));
    }
    ensure!(files.len() > 1000, "only {} entries: is the payload missing?", files.len());
    let paths = pkg::linux::Paths::new(&m);
    let unit = format!("/usr/lib/systemd/system/{}", m.service.unit);
    for (path, mode) in [
        (m.linux.bin.as_str(), "0100755"),
        (paths.node.as_str(), "0100755"),
        (paths.entry.as_str(), "0100755"),
        (paths.setup.as_str(), "0100755"),
        (paths.first_config.as_str(), "0100755"),
        (paths.words.as_str(), "0100644"),
        (unit.as_str(), "0100644"),
        (paths.sysusers.as_str(), "0100644"),
        (paths.tmpfiles.as_str(), "0100644"),
        (paths.env_file.as_str(), "0100600"),
    ] {
        let (got, _) = files.get(path).with_context(|| format!("{path} is not in the package"))?;
        ensure!(got == mode, "{path}: mode {got}, expected {mode}");
    }
    let config: Vec<&String> = files.iter().filter(|(_, (_, c))| *c).map(|(p, _)| p).collect();
    ensure!(config == [&paths.env_file], "configuration files: {config:?}, expected only {}", paths.env_file);
    let qf = "[%{FILENAMES} %{FILEFLAGS:fflags}\n]";
    let flags = cmd!(sh, "rpm -qp --qf {qf} {rpm}").read()?;
    ensure!(flags.lines().any(|l| l == format!("{} cn", paths.env_file)), "{} is not %config(noreplace)", paths.env_file);
    for system in ["/usr", "/usr/lib", "/usr/bin", "/etc", "/usr/lib/systemd/system"] {
        ensure!(!files.contains_key(system), "the package owns the system directory {system}");
    }

    let scripts = cmd!(sh, "rpm -qp --scripts {rpm}").read()?;
    for want in ["preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "useradd --system"] {
        ensure!(scripts.contains(want), "rpm --scripts lacks {want:?}");
    }
    let provides = cmd!(sh, "rpm -qp --provides {rpm}").read()?;
    let user = format!("user({}) = ", m.linux.user);
    ensure!(provides.lines().any(|l| l.starts_with(&user)), "no {user}... provide:\n{provides}");
    ensure!(provides.lines().any(|l| l == format!("group({})", m.linux.group)), "no group({}) provide:\n{provides}", m.linux.group);
    let requires = cmd!(sh, "rpm -qp --requires {rpm}").read()?;
    for want in m.rpm.as_ref().map(|r| r.requires.clone()).unwrap_or_default() {
        ensure!(requires.lines().any(|l| l == want), "rpm --requires lacks {want:?}");
    }

    // Binaries for the right CPU only: the payload unpacked by rpm2cpio and cpio,
    // every ELF file judged by file(1).
    let tree = crate::files::tempdir("rpm-tree")?;
    // pipefail: rpm2cpio fails when it unpacks another size than the header states.
    let script = "set -o pipefail; rpm2cpio \"$1\" | (cd \"$2\" && cpio -idm --quiet --no-absolute-filenames)";
    cmd!(sh, "bash -c {script} sh {rpm} {tree}").quiet().run().context("unpacking the payload with rpm2cpio | cpio")?;
    let elves = crate::checks::elf_machines(sh, &tree, target)?;
    eprintln!("    {elves} ELF files, all {}", target.elf_machine());

    rpmlint(sh, &m, rpm)
}

/// rpmlint, with the package's filters (`rpm/rpmlintrc`), must report 0 errors; its
/// warnings are printed. The signature is judged by `rpm -K` with the right key
/// (see pkg/tests/rpm.rs), not here: rpmlint only knows this machine's keyring.
pub fn rpmlint(sh: &Shell, m: &Manifest, rpm: &Path) -> Result<()> {
    let templates = pkg::format::load_templates(&crate::root())?;
    let mut rc = pkg::rpm::rpmlintrc(m, &templates)?;
    rc.push_str("\n# Signature: checked with rpm -K against the signing key, not this machine's keyring.\naddFilter(r\"no-signature|unknown-key\")\n");
    let dir = crate::root().join("target/rpmlint");
    std::fs::create_dir_all(&dir)?;
    let rc_file = dir.join("rpmlintrc");
    std::fs::write(&rc_file, rc)?;
    let out = cmd!(sh, "rpmlint -r {rc_file} {rpm}").ignore_status().output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": E: ")).collect();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains(": W: ")).collect();
    for w in &warnings {
        eprintln!("    rpmlint {w}");
    }
    if !errors.is_empty() {
        bail!("rpmlint reports {} errors:\n{}", errors.len(), errors.join("\n"));
    }
    ensure!(text.contains(" 0 errors"), "rpmlint printed no summary:\n{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checks on an already built x86_64 package:
    /// `cargo test -p xtask -- --ignored real_rpm`.
    #[test]
    #[ignore = "needs the real package in target/dist"]
    fn real_rpm() {
        let sh = Shell::new().unwrap();
        let m = Manifest::load(&crate::root().join("clawdbot.toml")).unwrap();
        let path = crate::root().join("target/dist").join(pkg::rpm::file_name(&m, Target::LinuxX64));
        check_real_rpm(&sh, &path, Target::LinuxX64).unwrap();
    }
}
