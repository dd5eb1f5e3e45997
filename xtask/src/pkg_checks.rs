//! Checks of a real macOS installer package (built from the real darwin payload)
//! with readers this repository did not write: bsdtar and 7z list the xar, the
//! table-of-contents checksum is recomputed with sha1sum, apple-flat-package /
//! apple-xar / apple-bom (`pkg/tests/macos-reader`) read the Distribution,
//! PackageInfo, Bom and payload, GNU cpio unpacks the Payload, and file(1) names
//! the CPU of every Mach-O file, which must be the target's. Called by
//! `cargo xtask test`.
//!
//! Not here: building the package (see `dist.rs`) or the fixture tests and the
//! install scripts against faked macOS tools (`pkg/tests/macos.rs`). Nothing here
//! proves that Installer on a Mac accepts the package.
// The entry point is `check_real_pkg`, called by `cargo xtask test`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use pkg::{Manifest, Target};
use xshell::{cmd, Shell};

/// (command, Debian package that provides it).
pub const TOOLS: &[(&str, &str)] =
    &[("bsdtar", "libarchive-tools"), ("7z", "p7zip-full"), ("cpio", "cpio"), ("file", "file"), ("sha1sum", "coreutils"), ("gzip", "gzip")];

/// Every check of one real .pkg for `target`.
pub fn check_real_pkg(sh: &Shell, pkg_path: &Path, target: Target) -> Result<()> {
    crate::tools::need_tools(sh, TOOLS)?;
    let root = crate::root();
    let m = Manifest::load(&root.join("clawdbot.toml"))?;
    let mac = m.macos()?;
    let arch = pkg::macos::arch(target)?;
    let _lc = sh.push_env("LC_ALL", "C.UTF-8");
    let name = pkg_path.file_name().and_then(|n| n.to_str()).context("package path has no file name")?;
    ensure!(name == pkg::macos::file_name(&m, target)?, "{name}: expected the name {}", pkg::macos::file_name(&m, target)?);

    // The table-of-contents checksum, from the format: header, zlib TOC, SHA-1 at heap 0.
    let work = root.join("target/pkg-check").join(target.name());
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    {
        let mut f = std::fs::File::open(pkg_path)?;
        let mut header = [0u8; 28];
        f.read_exact(&mut header)?;
        ensure!(&header[..4] == b"xar!" && header[4..6] == [0, 28], "not a xar archive with a 28-byte header");
        ensure!(u32::from_be_bytes(header[24..28].try_into()?) == 1, "the TOC checksum is not SHA-1");
        let zlen = u64::from_be_bytes(header[8..16].try_into()?) as usize;
        let mut ztoc = vec![0u8; zlen];
        f.read_exact(&mut ztoc)?;
        let mut stored = [0u8; 20];
        f.read_exact(&mut stored)?;
        let toc_file = work.join("toc.zlib");
        std::fs::write(&toc_file, &ztoc)?;
        let sum = cmd!(sh, "sha1sum {toc_file}").read()?;
        let stored: String = stored.iter().map(|b| format!("{b:02x}")).collect();
        ensure!(sum.split_whitespace().next() == Some(stored.as_str()), "TOC checksum at heap offset 0 is {stored}, sha1sum says {sum}");
        let mut toc = String::new();
        flate2::read::ZlibDecoder::new(&ztoc[..]).read_to_string(&mut toc)?;
        ensure!(toc.contains("<name>Payload</name>"), "the TOC lists no Payload");
    }

    let listing = cmd!(sh, "bsdtar -tvf {pkg_path}").read()?;
    let seven = cmd!(sh, "7z l {pkg_path}").read()?;
    for member in ["Distribution", "clawdbot.pkg/Bom", "clawdbot.pkg/PackageInfo", "clawdbot.pkg/Payload", "clawdbot.pkg/Scripts"] {
        ensure!(listing.lines().any(|l| l.ends_with(member)), "bsdtar does not list {member}:\n{listing}");
        ensure!(seven.contains(member), "7z does not list {member}:\n{seven}");
    }

    // apple-flat-package, apple-xar, apple-bom.
    let reader = reader_binary(sh)?;
    let report = cmd!(sh, "{reader} {pkg_path}").read()?;
    ensure!(report.contains("toc-checksum Sha1 ok"), "apple-xar: TOC checksum:\n{}", head(&report));
    let want = format!("host={arch} min-spec=2 pkg-ref={} auth=Root version={}", mac.identifier, m.deb_version());
    ensure!(
        report.lines().any(|l| l.starts_with("distribution ") && l.contains(&want) && l.ends_with("domains=local-only")),
        "Distribution lacks {want}:\n{}",
        head(&report)
    );
    let info = report.lines().find(|l| l.starts_with("package-info ")).context("no PackageInfo line")?;
    ensure!(info.contains("auth=root location=/") && info.contains("scripts=preinstall:./preinstall,postinstall:./postinstall"), "{info}");
    // "KIND MODE UID GID SIZE PATH" lines, keyed by path.
    let field = |kind: &str| -> BTreeMap<String, String> {
        report
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{kind} ")))
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(5, ' ').collect();
                (f.len() == 5).then(|| (f[4].to_owned(), f[..4].join(" ")))
            })
            .collect()
    };
    let payload = field("payload");
    let bom = field("bom");
    ensure!(payload.len() > 1000, "only {} payload entries", payload.len());
    ensure!(payload == bom, "Bom and Payload differ in paths, modes, owners or sizes");
    let files: usize = info.split(" files=").nth(1).and_then(|s| s.split(' ').next()).context("numberOfFiles")?.parse()?;
    ensure!(files == payload.len(), "numberOfFiles {files}, payload has {}", payload.len());
    ensure!(payload.values().all(|meta| meta.split(' ').nth(1) == Some("0") && meta.split(' ').nth(2) == Some("0")), "a payload entry is not root:wheel");
    let plist = format!("./Library/LaunchDaemons/{}.plist", m.service.launchd_label);
    ensure!(payload.get(&plist).map(|s| s.starts_with("100644 0 0 ")) == Some(true), "{plist} is not root:wheel 0644");
    let node = format!(".{}/node/bin/node", mac.prefix);
    ensure!(payload.get(&node).map(|s| s.starts_with("100755 0 0 ")) == Some(true), "{node} is missing or not 0755");

    // GNU cpio unpacks the Payload; file(1) checks every Mach-O file's CPU.
    let x = work.join("x");
    std::fs::create_dir_all(&x)?;
    cmd!(sh, "bsdtar -xf {pkg_path} -C {x}").run()?;
    let unpacked = work.join("payload");
    std::fs::create_dir_all(&unpacked)?;
    {
        let _cwd = sh.push_dir(&unpacked);
        let payload_gz = x.join("clawdbot.pkg/Payload");
        let cpio_file = work.join("Payload.cpio");
        let raw = cmd!(sh, "gzip -dc {payload_gz}").output()?.stdout;
        std::fs::write(&cpio_file, raw)?;
        cmd!(sh, "cpio -idm --quiet --no-absolute-filenames -F {cpio_file}").run()?;
        let scripts = x.join("clawdbot.pkg/Scripts");
        let scripts_cpio = work.join("Scripts.cpio");
        std::fs::write(&scripts_cpio, cmd!(sh, "gzip -dc {scripts}").output()?.stdout)?;
        let list = cmd!(sh, "cpio -itv -F {scripts_cpio}").read()?;
        ensure!(list.lines().filter(|l| l.starts_with("-rwxr-xr-x")).count() == 2, "Scripts: {list}");
    }
    let mut machos = Vec::new();
    let mut elves = Vec::new();
    for p in crate::files::regular_files(&unpacked)? {
        let mut head = [0u8; 4];
        if std::fs::File::open(&p).and_then(|mut f| f.read_exact(&mut head)).is_ok() {
            if pkg::stage::is_macho(head) {
                machos.push(p);
            } else if head == *b"\x7fELF" {
                elves.push(p);
            }
        }
    }
    ensure!(elves.is_empty(), "ELF (Linux) binaries in the macOS payload: {elves:?}");
    ensure!(!machos.is_empty(), "no Mach-O file in the payload");
    let args = machos.clone();
    let out = cmd!(sh, "file -b {args...}").read()?;
    let mut wrong = Vec::new();
    for (path, desc) in machos.iter().zip(out.lines()) {
        if !desc.contains(arch) {
            wrong.push(format!("{}: {desc}", path.display()));
        }
    }
    if !wrong.is_empty() {
        bail!("Mach-O files not built for {arch}:\n{}", wrong.join("\n"));
    }
    // The transpile cache, as cpio unpacked it: every entry used by jiti for the
    // darwin tree it was unpacked with.
    let paths = pkg::macos::Paths::new(&m, mac);
    let mut app = pkg::stage::Stage::new();
    app.add_tree(&paths.app, &unpacked.join(paths.app.trim_start_matches('/')))?;
    let cache = unpacked.join(paths.seed_dir.trim_start_matches('/'));
    let checked = pkg::jiti::check(&cache, &app, &paths.app, pkg::payload::SEED_STAMP)?;
    ensure!(checked.entries > 0, "the transpile cache in the .pkg is empty");
    eprintln!(
        "    {} entries; {} Mach-O files, all {arch}; Bom = Payload; transpile cache: {} entries ({} KiB), each used by jiti for the darwin tree",
        payload.len(),
        machos.len(),
        checked.entries,
        checked.bytes >> 10
    );
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn head(s: &str) -> String {
    s.lines().take(20).collect::<Vec<_>>().join("\n")
}

/// Builds the independent reader (its own workspace: apple-xar cannot share a
/// build with the writers' liblzma).
fn reader_binary(sh: &Shell) -> Result<PathBuf> {
    let root = crate::root();
    let manifest = root.join("pkg/tests/macos-reader/Cargo.toml");
    let _target = sh.push_env("CARGO_TARGET_DIR", root.join("target/macos-reader"));
    cmd!(sh, "cargo build --release --quiet --manifest-path {manifest}").run()?;
    Ok(root.join("target/macos-reader/release/macos-pkg-reader"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checks on packages already built by `cargo xtask dist --format pkg`:
    /// `cargo test -p xtask -- --ignored real_pkgs`.
    #[test]
    #[ignore = "needs the real packages in target/dist"]
    fn real_pkgs() {
        let sh = Shell::new().unwrap();
        let m = Manifest::load(&crate::root().join("clawdbot.toml")).unwrap();
        for target in [Target::DarwinArm64, Target::DarwinX64] {
            let path = crate::root().join("target/dist").join(pkg::macos::file_name(&m, target).unwrap());
            check_real_pkg(&sh, &path, target).unwrap();
        }
    }
}
