//! The product flat package: a xar archive of
//!
//! ```text
//! Distribution            what Installer shows and checks (title, architecture,
//!                         minimum macOS, boot volume only, root authorisation)
//! NAME.pkg/PackageInfo    the component: identifier, version, scripts, sizes
//! NAME.pkg/Bom            every payload path with mode, owner, size and checksum
//! NAME.pkg/Payload        gzip (one member) of a cpio (odc) archive of the staged
//!                         tree, below "."
//! NAME.pkg/Scripts        gzip of a cpio (odc) archive of preinstall and postinstall
//! ```
//!
//! The payload is streamed once from the stage into a temporary file next to the
//! output while its SHA-1 and the Bom's checksums are taken; it is compressed in
//! pieces on several threads, and what the build's other .pkg already compressed
//! is not compressed again ([`crate::blocks`]). The package appears under its name
//! only when complete. Owners are root:wheel, times the build's.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha1::{Digest as _, Sha1};

use super::bom::{self, BomEntry, BomKind};
use super::cksum::Cksum;
use super::{arch, cpio, scripts, xar, xml_escape, Templates, GID, UID};
use crate::manifest::Manifest;
use crate::stage::{Kind, Source, Stage};
use crate::target::Target;
use crate::write::AtomicFile;
use crate::{BuildOptions, Error};

/// One below zlib's default: both packages 0.3 % larger than at 6, for 13 % less
/// processor time (docs/compression.md).
const PAYLOAD_GZIP_LEVEL: u32 = 5;

/// Name of the component package inside the product archive.
pub const COMPONENT: &str = "clawdbot.pkg";

/// `clawdbot-<version>-<arch>.pkg`.
pub fn file_name(m: &Manifest, target: Target) -> Result<String, Error> {
    Ok(format!("{}-{}-{}.pkg", m.package.name, pkg_version(m), arch(target)?))
}

/// The version Installer compares: the distribution version with the packaging revision.
fn pkg_version(m: &Manifest) -> String {
    m.deb_version()
}

/// Writes `<out_dir>/<name>-<version>-<arch>.pkg` and returns its path. On error no
/// file is left under that name.
pub fn write(m: &Manifest, target: Target, stage: &Stage, templates: &Templates, opts: &BuildOptions, out_dir: &Path) -> Result<PathBuf, Error> {
    let dest = out_dir.join(file_name(m, target)?);
    let mtime = u32::try_from(opts.mtime).map_err(|_| Error::Value(format!("mtime {} does not fit the Bom's 32 bits", opts.mtime)))?;

    // Payload, into a temporary file, collecting the Bom on the way.
    let mut payload = tempfile::tempfile_in(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let (bom_entries, payload_size, payload_sha1) = {
        let hashing = crate::write::HashWriter::<_, Sha1>::new(BufWriter::with_capacity(1 << 20, &mut payload));
        let gz = crate::blocks::Encoder::new(hashing, crate::blocks::Codec::Gzip(PAYLOAD_GZIP_LEVEL), opts.threads, opts.blocks.clone())?;
        let mut cpio = cpio::Writer::new(gz);
        let entries = payload_cpio(&mut cpio, stage, mtime).map_err(|e| Error::io(&dest, e))?;
        let gz = cpio.finish().map_err(|e| Error::io(&dest, e))?;
        let mut hashing = gz.finish().map_err(|e| Error::io(&dest, e))?;
        hashing.inner.flush().map_err(|e| Error::io(&dest, e))?;
        (entries, hashing.count, <[u8; 20]>::from(hashing.digest.finalize()))
    };
    payload.rewind().map_err(|e| Error::io(&dest, e))?;

    let bom = bom::write(&bom_entries)?;
    let scripts = scripts(m, templates)?;
    let scripts_archive = scripts_cpio(&scripts.preinstall, &scripts.postinstall, opts.mtime).map_err(|e| Error::io(Path::new("Scripts"), e))?;
    let install_kbytes = stage.file_bytes().div_ceil(1024);
    let number_of_files = bom_entries.len() as u64;
    let package_info = package_info(m, number_of_files, install_kbytes)?;
    let distribution = distribution(m, target, install_kbytes)?;

    let members = vec![
        xar::Member { path: "Distribution".into(), data: xar::Data::Bytes(distribution.into_bytes()) },
        xar::Member { path: format!("{COMPONENT}/Bom"), data: xar::Data::Bytes(bom) },
        xar::Member { path: format!("{COMPONENT}/PackageInfo"), data: xar::Data::Bytes(package_info.into_bytes()) },
        xar::Member { path: format!("{COMPONENT}/Payload"), data: xar::Data::Stream { reader: &mut payload, size: payload_size, sha1: payload_sha1 } },
        xar::Member { path: format!("{COMPONENT}/Scripts"), data: xar::Data::Bytes(scripts_archive) },
    ];
    let mut out = AtomicFile::create(&dest)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, out.file());
        xar::write(&mut w, members, opts.mtime).map_err(|e| Error::io(&dest, e))?;
        w.flush().map_err(|e| Error::io(&dest, e))?;
    }
    out.commit()
}

/// Streams the stage into the cpio archive, below `.`, and returns the Bom entries.
fn payload_cpio<W: Write>(cpio: &mut cpio::Writer<crate::blocks::Encoder<W>>, stage: &Stage, mtime: u32) -> io::Result<Vec<BomEntry>> {
    let t = u64::from(mtime);
    let mut entries = Vec::with_capacity(stage.len() + 1);
    cpio.dir(".", 0o755, UID, GID, t)?;
    entries.push(BomEntry { path: ".".into(), kind: BomKind::Dir, mode: 0o755, uid: UID, gid: GID, mtime, size: 0 });
    for (path, e) in stage.iter() {
        cpio.inner_mut().entry(path)?;
        let name = format!(".{path}");
        let kind = match &e.kind {
            Kind::Dir => {
                cpio.dir(&name, e.mode, UID, GID, t)?;
                BomKind::Dir
            }
            Kind::Symlink(target) => {
                cpio.symlink(&name, target, UID, GID, t)?;
                BomKind::Link { target: target.clone(), cksum: Cksum::of(target.as_bytes()) }
            }
            Kind::File(Source::Bytes(bytes)) => {
                cpio.file(&name, e.mode, UID, GID, t, e.size, &mut &bytes[..])?;
                BomKind::File { cksum: Cksum::of(bytes) }
            }
            Kind::File(Source::Disk(src)) => {
                let f = File::open(src).map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", src.display())))?;
                let mut reader = CksumReader { inner: f, cksum: Cksum::new() };
                cpio.file(&name, e.mode, UID, GID, t, e.size, &mut reader)?;
                BomKind::File { cksum: reader.cksum.finish() }
            }
        };
        let mode = if matches!(kind, BomKind::Link { .. }) { 0o755 } else { e.mode };
        entries.push(BomEntry { path: name, kind, mode, uid: UID, gid: GID, mtime, size: e.size });
    }
    Ok(entries)
}

fn scripts_cpio(preinstall: &str, postinstall: &str, mtime: u64) -> io::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    let mut cpio = cpio::Writer::new(gz);
    cpio.dir(".", 0o755, UID, GID, mtime)?;
    for (name, text) in [("./postinstall", postinstall), ("./preinstall", preinstall)] {
        cpio.file(name, 0o755, UID, GID, mtime, text.len() as u64, &mut text.as_bytes())?;
    }
    cpio.finish()?.finish()
}

/// `PackageInfo` as pkgbuild writes it.
pub fn package_info(m: &Manifest, number_of_files: u64, install_kbytes: u64) -> Result<String, Error> {
    let mac = m.macos()?;
    Ok(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<pkg-info overwrite-permissions="true" relocatable="false" identifier="{id}" postinstall-action="none" version="{version}" format-version="2" install-location="/" auth="root">
    <payload numberOfFiles="{number_of_files}" installKBytes="{install_kbytes}"/>
    <bundle-version/>
    <upgrade-bundle/>
    <update-bundle/>
    <atomic-update-bundle/>
    <strict-identifier/>
    <relocate/>
    <scripts>
        <preinstall file="./preinstall"/>
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
"#,
        id = xml_escape(&mac.identifier),
        version = xml_escape(&pkg_version(m)),
    ))
}

/// The product's `Distribution`: one hidden choice holding the component; only the
/// boot volume (the scripts configure the running system); the target's CPU; the
/// minimum macOS.
pub fn distribution(m: &Manifest, target: Target, install_kbytes: u64) -> Result<String, Error> {
    let mac = m.macos()?;
    let id = xml_escape(&mac.identifier);
    Ok(format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>{title}</title>
    <options customize="never" require-scripts="false" rootVolumeOnly="true" hostArchitectures="{arch}"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <allowed-os-versions>
        <os-version min="{min_os}"/>
    </allowed-os-versions>
    <choices-outline>
        <line choice="default">
            <line choice="{id}"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="{id}" visible="false">
        <pkg-ref id="{id}"/>
    </choice>
    <pkg-ref id="{id}" version="{version}" auth="Root" onConclusion="none" installKBytes="{install_kbytes}">#{COMPONENT}</pkg-ref>
</installer-gui-script>
"#,
        title = xml_escape(&format!("{} {}", m.service.description, m.package.version)),
        arch = arch(target)?,
        min_os = xml_escape(&mac.minimum_os),
        version = xml_escape(&pkg_version(m)),
    ))
}

struct CksumReader<R> {
    inner: R,
    cksum: Cksum,
}

impl<R: Read> Read for CksumReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.cksum.update(&buf[..n]);
        Ok(n)
    }
}
