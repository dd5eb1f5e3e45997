//! Checks of a built .deb by tools we did not write: dpkg-deb, lintian,
//! systemd-analyze, file(1). Each returns an error that says what is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::files::tempdir;
use anyhow::{bail, ensure, Context, Result};
use pkg::{Manifest, Target};
use xshell::{cmd, Shell};

/// The exposure score the unit must not exceed (`systemd-analyze security`).
pub const MAX_EXPOSURE: f64 = 1.1;

fn manifest() -> Result<Manifest> {
    Ok(Manifest::load(&crate::root().join("clawdbot.toml"))?)
}

/// One line of `dpkg-deb -c`.
#[derive(Debug)]
pub struct Listed {
    pub mode: String,
    pub owner: String,
    pub size: u64,
    pub link: Option<String>,
}

/// `dpkg-deb -c`, keyed by absolute path (directories without trailing slash).
pub fn listing(sh: &Shell, deb: &Path) -> Result<BTreeMap<String, Listed>> {
    let out = cmd!(sh, "dpkg-deb -c {deb}").quiet().read()?;
    let mut map = BTreeMap::new();
    for line in out.lines() {
        let mut f = line.split_whitespace();
        let (Some(mode), Some(owner), Some(size), Some(_date), Some(_time)) = (f.next(), f.next(), f.next(), f.next(), f.next()) else {
            bail!("unexpected dpkg-deb -c line: {line}");
        };
        let rest: Vec<&str> = f.collect();
        let rest = rest.join(" ");
        let (path, link) = match rest.split_once(" -> ") {
            Some((p, l)) => (p.to_owned(), Some(l.to_owned())),
            None => (rest, None),
        };
        let path = format!("/{}", path.trim_start_matches("./").trim_end_matches('/'));
        map.insert(path, Listed { mode: mode.to_owned(), owner: owner.to_owned(), size: size.parse()?, link });
    }
    Ok(map)
}

/// Control fields, file list, owners, modes, conffiles, md5sums, scripts, and the
/// ELF machine of every binary.
pub fn deb_contents(sh: &Shell, deb: &Path, target: Target) -> Result<()> {
    let m = manifest()?;
    let field = |name: &str| -> Result<String> { Ok(cmd!(sh, "dpkg-deb -f {deb} {name}").quiet().read()?) };
    ensure!(field("Package")? == m.package.name, "Package field");
    ensure!(field("Version")? == m.deb_version(), "Version field is not {}", m.deb_version());
    ensure!(field("Architecture")? == target.deb_arch(), "Architecture field is not {}", target.deb_arch());
    for f in ["Maintainer", "Depends", "Section", "Priority", "Homepage", "Description"] {
        ensure!(!field(f)?.is_empty(), "control field {f} is missing");
    }
    let installed: u64 = field("Installed-Size")?.parse().context("Installed-Size is not a number")?;

    let files = listing(sh, deb)?;
    let mut sum_kib = 0;
    for (path, l) in &files {
        ensure!(l.owner == "root/root", "{path} is owned by {}, not root/root", l.owner);
        let writable_by_others = l.mode.as_bytes()[5] == b'w' || l.mode.as_bytes()[8] == b'w';
        ensure!(l.mode.starts_with('l') || !writable_by_others, "{path} is writable by group or others: {}", l.mode);
        ensure!(!l.mode.contains(['s', 'S', 't', 'T']), "{path} has a set-id or sticky bit: {}", l.mode);
        if let Some(target) = &l.link {
            ensure!(!target.starts_with('/'), "{path} links to the absolute path {target}");
        }
        sum_kib += if l.mode.starts_with('-') { l.size.div_ceil(1024) } else { 1 };
    }
    // dpkg counts the root entry "./" too.
    ensure!(installed.abs_diff(sum_kib) <= 1, "Installed-Size {installed} does not match the listing ({sum_kib} KiB)");

    let l = &m.linux;
    let expect = [
        (l.bin.clone(), "-rwxr-xr-x"),
        (format!("{}/node/bin/node", l.prefix), "-rwxr-xr-x"),
        (format!("{}/libexec/{}-setup", l.prefix, m.package.name), "-rwxr-xr-x"),
        (format!("{}/libexec/{}-first-config", l.prefix, m.package.name), "-rwxr-xr-x"),
        (format!("{}/libexec/{}-words.sh", l.prefix, m.package.name), "-rw-r--r--"),
        (format!("/lib/systemd/system/{}", m.service.unit), "-rw-r--r--"),
        (format!("/usr/lib/sysusers.d/{}.conf", m.package.name), "-rw-r--r--"),
        (format!("/usr/lib/tmpfiles.d/{}.conf", m.package.name), "-rw-r--r--"),
        (format!("{}/gateway.env", l.config_dir), "-rw-------"),
        (format!("/usr/share/doc/{}/copyright", m.package.name), "-rw-r--r--"),
        (format!("/usr/share/doc/{}/changelog.Debian.gz", m.package.name), "-rw-r--r--"),
        // A "#!" script, executable as published.
        (format!("{}/app/{}", l.prefix, m.payload.entry), "-rwxr-xr-x"),
    ];
    for (path, mode) in expect {
        let got = files.get(&path).with_context(|| format!("{path} is not in the package"))?;
        ensure!(got.mode == mode, "{path} has mode {}, expected {mode}", got.mode);
    }
    for forbidden in [&l.state_dir, &l.cache_dir] {
        ensure!(!files.contains_key(forbidden.as_str()), "{forbidden} is shipped; it must be created at install time for the service user");
    }
    let removed: Vec<String> = m.payload.prune.remove.iter().map(|r| format!("{}/app/{r}", l.prefix)).collect();
    let pruned: Vec<&String> = files
        .keys()
        .filter(|p| m.payload.prune.names.iter().any(|n| p.ends_with(&format!("/{n}"))) || removed.iter().any(|r| p.starts_with(r.as_str())))
        .collect();
    ensure!(pruned.is_empty(), "pruned files are still shipped: {pruned:?}");

    let control = tempdir("control")?;
    cmd!(sh, "dpkg-deb -e {deb} {control}").quiet().run()?;
    let conffiles = std::fs::read_to_string(control.join("conffiles"))?;
    ensure!(conffiles == format!("{}/gateway.env\n", l.config_dir), "conffiles: {conffiles:?}");
    let md5sums = std::fs::read_to_string(control.join("md5sums"))?;
    let regular = files.values().filter(|l| l.mode.starts_with('-')).count();
    ensure!(md5sums.lines().count() == regular, "md5sums has {} lines for {regular} files", md5sums.lines().count());
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = control.join(script);
        let text = std::fs::read_to_string(&path).with_context(|| format!("no {script} in the package"))?;
        ensure!(std::fs::metadata(&path)?.permissions().mode() & 0o777 == 0o755, "{script} is not 0755");
        ensure!(text.starts_with("#!/bin/sh\n") && text.contains("set -e\n"), "{script} is not a set -e sh script");
        ensure!(placeholder(&text).is_none(), "{script} has an unfilled placeholder {}", placeholder(&text).unwrap_or_default());
    }
    let postinst = std::fs::read_to_string(control.join("postinst"))?;
    for needle in ["systemd-sysusers", "useradd --system", "[ -d /run/systemd/system ]", "deb-systemd-helper"] {
        ensure!(postinst.contains(needle), "postinst does not contain {needle:?}");
    }
    let preinst = std::fs::read_to_string(control.join("preinst"))?;
    ensure!(preinst.contains("cannot run the gateway safely") && preinst.contains("id -Gn"), "preinst does not check an existing account");
    let postrm = std::fs::read_to_string(control.join("postrm"))?;
    ensure!(postrm.contains("rm -rf --one-file-system") && !postrm.contains("userdel"), "postrm must purge state and keep the user");

    // Every ELF file must be for this target's machine.
    let tree = tempdir("tree")?;
    cmd!(sh, "dpkg-deb -x {deb} {tree}").quiet().run()?;
    let elves = elf_machines(sh, &tree, target)?;
    eprintln!("    {} entries, {elves} ELF files all {}, Installed-Size {installed} KiB", files.len(), target.elf_machine());
    Ok(())
}

/// Checks with file(1) that every ELF file below `tree` is for the target's
/// machine; returns how many there are (at least one: the runtime).
pub fn elf_machines(sh: &Shell, tree: &Path, target: Target) -> Result<usize> {
    let elves = elf_files(tree)?;
    ensure!(!elves.is_empty(), "no ELF binaries found in the package");
    let list = &elves;
    let described = cmd!(sh, "file -b {list...}").quiet().read()?;
    let wrong: Vec<String> =
        elves.iter().zip(described.lines()).filter(|(_, d)| !d.contains(target.elf_machine())).map(|(p, d)| format!("{}: {d}", p.display())).collect();
    ensure!(wrong.is_empty(), "binaries for another machine than {}:\n{}", target.elf_machine(), wrong.join("\n"));
    Ok(elves.len())
}

fn elf_files(dir: &Path) -> Result<Vec<PathBuf>> {
    use std::io::Read;
    let mut out = Vec::new();
    for path in crate::files::regular_files(dir)? {
        let mut head = [0u8; 4];
        let n = std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?.read(&mut head)?;
        if n == 4 && head == *b"\x7fELF" {
            out.push(path);
        }
    }
    Ok(out)
}

/// lintian must report no error and no warning (overrides carry their reasons).
pub fn lintian(sh: &Shell, deb: &Path) -> Result<()> {
    let out = cmd!(sh, "lintian --tag-display-limit 0 --fail-on none --show-overrides {deb}").quiet().ignore_stderr().read()?;
    lintian_verdict(&out)
}

/// No error or warning, and proof that lintian read the package: the tags our
/// overrides silence are listed as overridden (`O:`). An empty report (lintian
/// stopped early, or read nothing) is a failure, not a pass.
fn lintian_verdict(out: &str) -> Result<()> {
    let bad: Vec<&str> = out.lines().filter(|l| l.starts_with("E: ") || l.starts_with("W: ")).collect();
    ensure!(bad.is_empty(), "lintian reports {} errors or warnings:\n{}", bad.len(), bad.join("\n"));
    let overridden = out.lines().filter(|l| l.starts_with("O: ")).count();
    ensure!(overridden > 0, "lintian lists none of the tags the package overrides: it did not read the package (its output: {out:?})");
    let other = out.lines().filter(|l| !l.trim().is_empty()).count() - overridden;
    eprintln!("    0 errors, 0 warnings ({overridden} overridden tags, {other} informational lines)");
    Ok(())
}

/// `systemd-analyze verify` with any output treated as failure, and the exposure
/// score of `systemd-analyze security --offline=true`.
pub fn systemd_unit(sh: &Shell, deb: &Path) -> Result<()> {
    let m = manifest()?;
    let root = tempdir("unit-root")?;
    cmd!(sh, "dpkg-deb -x {deb} {root}").quiet().run()?;
    let unit_dir = root.join("lib/systemd/system");
    let unit = unit_dir.join(&m.service.unit);
    ensure!(unit.is_file(), "{} is not in the package", unit.display());
    // The unit's dependencies (targets and slices) come from the host's systemd.
    for e in std::fs::read_dir("/lib/systemd/system").context("reading the host's systemd units")? {
        let path = e?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if (name.ends_with(".target") || name.ends_with(".slice")) && path.is_file() {
            std::fs::copy(&path, unit_dir.join(&name))?;
        }
    }
    let verify = cmd!(sh, "systemd-analyze verify --root={root} {unit}").quiet().ignore_status().output()?;
    let said = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    ensure!(verify.status.success() && said.trim().is_empty(), "systemd-analyze verify complained:\n{said}");
    let score = exposure(sh, &unit)?;
    ensure!(score <= MAX_EXPOSURE, "exposure {score} is above {MAX_EXPOSURE}");
    eprintln!("    verify clean; exposure {score:.1} (limit {MAX_EXPOSURE})");
    Ok(())
}

/// The overall exposure level of a unit file.
pub fn exposure(sh: &Shell, unit: &Path) -> Result<f64> {
    let out = cmd!(sh, "systemd-analyze security --no-pager --offline=true {unit}").quiet().ignore_status().read()?;
    let line = out.lines().find(|l| l.contains("Overall exposure level")).with_context(|| format!("no exposure level in:\n{out}"))?;
    let value = line.split(':').nth(1).and_then(|v| v.split_whitespace().next()).context("exposure line")?;
    Ok(value.parse()?)
}

/// Builds the six artifacts again, in two builds in which no artifact has a
/// partner to share compressed pieces with (linux-arm64 with darwin-x64, then
/// linux-x64 with darwin-arm64), and compares each with the first build, where
/// the partners shared them: the bytes must not depend on it. The first build
/// must have shared, or the comparison proves nothing. Each SBOM is compared too.
pub fn reproducible(first: &crate::dist::Built) -> Result<()> {
    let shared = first.reuse;
    ensure!(
        shared.reused_in > 100 << 20,
        "the build took only {} MiB of compressed pieces from another artifact: the shared content is compressed again",
        shared.reused_in >> 20
    );
    let out = PathBuf::from("target/dist-again");
    let _ = std::fs::remove_dir_all(&out);
    let mut again = Vec::new();
    for targets in [[Target::LinuxArm64, Target::DarwinX64], [Target::LinuxX64, Target::DarwinArm64]] {
        let alone = crate::dist::build(&crate::dist::Args { targets: targets.to_vec(), out: out.clone(), ..crate::dist::Args::default() })?;
        ensure!(alone.reuse.reused_in == 0, "{targets:?} shared compressed pieces although no two of them hold the same content");
        again.extend(alone.paths);
    }
    let built = &first.paths;
    ensure!(again.len() == built.len() && built.len() == 6, "{} artifacts, then {}", built.len(), again.len());
    for first in built {
        let name = first.file_name().context("an artifact name")?;
        let second = again.iter().find(|p| p.file_name() == Some(name)).with_context(|| format!("{} was not built again", name.to_string_lossy()))?;
        for (a, b) in [(first.clone(), second.clone()), (sbom(first), sbom(second))] {
            let (x, y) = (std::fs::read(&a)?, std::fs::read(&b)?);
            ensure!(x == y, "{} and {} differ", a.display(), b.display());
        }
        eprintln!("    {:<45} {:>10} bytes, identical (and its SBOM)", name.to_string_lossy(), std::fs::metadata(first)?.len());
    }
    eprintln!(
        "    built together, {} MiB of compressed pieces were taken from another artifact ({} MiB of archive not compressed again); built apart, the same bytes",
        shared.reused_out >> 20,
        shared.reused_in >> 20
    );
    Ok(())
}

/// The least of the compressed payload that the amd64 and arm64 packages of one
/// format must have in common from its first byte (measured: 27 MiB of the .deb's
/// data.tar.xz, 22 MiB of the .rpm's zstd payload).
const SHARED_PREFIX_MIN: usize = 16 << 20;
/// The least that the .rpm's first zstd frame, the part both architectures hold
/// alike, must unpack to (measured: 142 MiB).
const SHARED_FRAME_MIN: usize = 100 << 20;

/// The two .deb's data.tar.xz (as binutils' `ar` takes it out) and the two .rpm's
/// payloads (as the `rpm` crate reads it) begin with the same compressed bytes:
/// the architecture's own files come last, so what both hold alike is compressed
/// once, as the artifacts themselves show. The .rpm's zstd frames are not
/// independent pieces: there the whole first frame (where libzstd says it ends)
/// must be the same, and unpack to most of the shared files.
pub fn shared_payloads(sh: &Shell, built: &[PathBuf]) -> Result<()> {
    let find = |suffix| built_with(built, suffix);
    let data = |deb| deb_data(sh, deb);
    let payload = |rpm: &Path| -> Result<Vec<u8>> { Ok(rpm::Package::open(rpm).map_err(|e| anyhow::anyhow!("{}: {e}", rpm.display()))?.payload) };
    let same = |what: &str, a: &[u8], b: &[u8]| -> Result<usize> {
        let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        ensure!(
            same >= SHARED_PREFIX_MIN,
            "the {what} have only {same} bytes in common from the start (at least {} MiB expected): the shared files are not compressed once",
            SHARED_PREFIX_MIN >> 20
        );
        eprintln!(
            "    {what}: the first {:.1} MiB of {:.1} and {:.1} MiB are the same",
            same as f64 / 1048576.0,
            a.len() as f64 / 1048576.0,
            b.len() as f64 / 1048576.0
        );
        Ok(same)
    };
    same("data.tar.xz of the .debs", &data(find("_amd64.deb")?)?, &data(find("_arm64.deb")?)?)?;

    let (a, b) = (payload(find(".x86_64.rpm")?)?, payload(find(".aarch64.rpm")?)?);
    let common = same("payloads of the .rpms", &a, &b)?;
    let frame = zstd::zstd_safe::find_frame_compressed_size(&a).map_err(|code| anyhow::anyhow!("the x86_64 .rpm's payload: no whole zstd frame ({code})"))?;
    ensure!(frame <= common, "the .rpms' first zstd frames differ: {frame} bytes long, the same for only the first {common}");
    ensure!(frame < a.len(), "the x86_64 .rpm's payload is one zstd frame: nothing of it is shared");
    let unpacked = zstd::stream::decode_all(&a[..frame]).context("unpacking the .rpm's first zstd frame")?.len();
    ensure!(unpacked >= SHARED_FRAME_MIN, "the .rpms' common first frame holds only {} MiB", unpacked >> 20);
    eprintln!("    the .rpms' first zstd frame: {:.1} MiB, the same in both, unpacks to {:.1} MiB", frame as f64 / 1048576.0, unpacked as f64 / 1048576.0);
    Ok(())
}

/// The least of the amd64 .deb's data that xz must list in blocks with its x86
/// filter (measured: 152 MiB of x86-64 ELF files, Node.js and five native npm
/// packages, in 23 blocks).
const X86_BLOCKS_MIN: u64 = 120 << 20;

/// xz itself lists the blocks of each .deb's data.tar.xz: in the amd64 one, its
/// x86 code in blocks with the x86 filter before LZMA2; in the arm64 one, LZMA2
/// alone (its ARM64 filter needs liblzma 5.4, newer than Ubuntu 22.04's).
pub fn x86_filters(sh: &Shell, built: &[PathBuf]) -> Result<()> {
    let dir = tempdir("x86-filters")?;
    for (suffix, least) in [("_amd64.deb", X86_BLOCKS_MIN), ("_arm64.deb", 0)] {
        let deb = built_with(built, suffix)?;
        let data = dir.join(format!("data{suffix}.tar.xz"));
        std::fs::write(&data, deb_data(sh, deb)?).with_context(|| format!("writing {}", data.display()))?;
        let list = cmd!(sh, "xz --robot --list -vv {data}").quiet().read().with_context(|| format!("xz --list of {}'s data.tar.xz", deb.display()))?;
        let (mut x86, mut blocks) = (0u64, 0usize);
        for line in list.lines().filter(|l| l.starts_with("block\t")) {
            let fields: Vec<&str> = line.split('\t').collect();
            let (Some(size), Some(filters)) = (fields.get(7), fields.last()) else { bail!("xz listed a block as {line:?}") };
            blocks += 1;
            match *filters {
                f if f.starts_with("--lzma2=") => {}
                f if f.starts_with("--x86 --lzma2=") => x86 += size.parse::<u64>().with_context(|| format!("xz listed a block as {line:?}"))?,
                f => bail!("{}: a block of data.tar.xz has the filters {f}", deb.display()),
            }
        }
        ensure!(blocks > 0, "xz listed no block of {}'s data.tar.xz", deb.display());
        if least == 0 {
            ensure!(x86 == 0, "{}: {x86} bytes in blocks with the x86 filter", deb.display());
        } else {
            ensure!(x86 >= least, "{}: only {x86} bytes in blocks with the x86 filter (at least {} MiB expected)", deb.display(), least >> 20);
        }
        eprintln!("    {}: {blocks} blocks, {:.1} MiB in blocks with the x86 filter", deb.display(), x86 as f64 / 1048576.0);
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))
}

/// The built artifact whose name ends with `suffix`.
pub fn built_with<'a>(built: &'a [PathBuf], suffix: &str) -> Result<&'a PathBuf> {
    built.iter().find(|p| p.to_string_lossy().ends_with(suffix)).with_context(|| format!("no *{suffix} was built"))
}

/// A .deb's data.tar.xz, as binutils' `ar` takes it out.
fn deb_data(sh: &Shell, deb: &Path) -> Result<Vec<u8>> {
    Ok(cmd!(sh, "ar p {deb} data.tar.xz").quiet().output().with_context(|| format!("ar p {} data.tar.xz", deb.display()))?.stdout)
}

fn sbom(artifact: &Path) -> PathBuf {
    artifact.with_file_name(pkg::sbom::file_name(&artifact.file_name().unwrap_or_default().to_string_lossy()))
}

/// The first `@NAME@` (upper case, digits, `_`) left in a rendered text.
fn placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(i) = rest.find('@') {
        let after = &rest[i + 1..];
        let len = after.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).unwrap_or(after.len());
        if len > 0 && after[len..].starts_with('@') {
            return Some(&rest[i..i + len + 2]);
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn lintian_passes_only_a_report_that_read_the_package() {
        assert!(super::lintian_verdict("").is_err(), "an empty report");
        assert!(super::lintian_verdict("I: clawdbot: spelling-error-in-copyright\n").is_err(), "no overridden tag");
        assert!(super::lintian_verdict("O: clawdbot: hardening-no-pie [usr/lib/clawdbot/node/bin/node]\nW: clawdbot: bad\n").is_err());
        assert!(super::lintian_verdict("O: clawdbot: hardening-no-pie [usr/lib/clawdbot/node/bin/node]\n").is_ok());
    }

    #[test]
    fn placeholders_are_names_between_at_signs() {
        assert_eq!(super::placeholder("a @USER@ b"), Some("@USER@"));
        assert_eq!(super::placeholder("for f in \"$@\"; do x@y.z"), None);
        assert_eq!(super::placeholder("\"$@\" @STATE_DIR@"), Some("@STATE_DIR@"));
    }
}
