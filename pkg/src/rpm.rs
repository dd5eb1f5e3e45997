//! The .rpm writer: an RPM v4 package built with the `rpm` crate from the same
//! staged tree as the .deb.
//!
//! What differs from the .deb is only metadata:
//!
//! - owners are root for every entry; the package owns the directories that are its
//!   own (the prefix, the configuration directory, its licence directory) and none of
//!   the system's (`/usr`, `/usr/lib/systemd/system`, ...), which belong to the
//!   `filesystem` and `systemd` packages of the distribution;
//! - configuration files are `%config(noreplace)`, licence files `%license`;
//! - `user(NAME)`/`group(NAME)` provides are derived from the shipped sysusers.d file
//!   the way rpm >= 4.19 derives them, so that such rpm creates the account from
//!   the package header; the `%pre` scriptlet creates it with the shadow tools for
//!   older rpm;
//! - the scriptlets are the plain files under `rpm/`.
//!
//! Payload: cpio compressed as the manifest's `rpm.compression` says (xz or zstd),
//! by [`compress_payload`]: the `rpm` crate writes the header and the uncompressed
//! cpio archive, the payload is compressed here with a multi-threaded encoder, and
//! the header's payload tags and the signature header are written again to match.
//! (The crate's own compressors are single-threaded and flush after every cpio
//! entry, which ends a compression block per file: on the unpruned linux-x64 tree
//! that gave 123 MB with xz 6 against about 80 MB for the same files in one
//! stream.) Every
//! time in the package (file mtimes, build time, changelog, signature) is the
//! build's `mtime`, and entries are added in stage order: the same inputs give the
//! same bytes, signed or not.
//!
//! Not here: what goes into the package (see [`crate::linux`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ::rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, PackageBuilder, Scriptlet, Timestamp};
use base64::Engine as _;

use crate::linux::{self, Templates};
use crate::manifest::{Compression, Compressor, Manifest};
use crate::stage::{Kind, Source, Stage};
use crate::target::Target;
use crate::write::AtomicFile;
use crate::{BuildOptions, Error};

/// The `BuildHost` tag of every package.
pub const BUILD_HOST: &str = "reproducible";

/// The rpmlint filters of the package (`rpmlint -r FILE`), with their reasons.
pub fn rpmlintrc(m: &Manifest, templates: &Templates) -> Result<String, Error> {
    templates.render("rpm/rpmlintrc", &linux::vars(m)?)
}

/// The scriptlets, in the order rpm runs them on installation.
pub const SCRIPTS: [&str; 4] = ["rpm/pre", "rpm/post", "rpm/preun", "rpm/postun"];

/// `clawdbot-<version>-<release>.<arch>.rpm`.
/// The scriptlets and rpmlint's filters, besides [`linux::TEMPLATES`].
pub const TEMPLATES: &[&str] = &["rpm/pre", "rpm/post", "rpm/preun", "rpm/postun", "rpm/rpmlintrc"];

pub fn file_name(m: &Manifest, target: Target) -> String {
    format!("{}-{}-{}.{}.rpm", m.package.name, version(m), m.package.revision, target.rpm_arch())
}

/// The RPM `Version`: the upstream version mapped so that rpm sorts releases in
/// publication order (see [`crate::manifest::UpstreamVersion::distro`]).
pub fn version(m: &Manifest) -> String {
    m.upstream_version().distro()
}

/// An OpenPGP secret key that signs packages (header and header+payload signatures,
/// as `rpmsign --addsign` writes them).
#[derive(Debug)]
pub struct Signer {
    inner: ::rpm::signature::pgp::Signer,
}

impl Signer {
    /// Loads an ASCII-armoured secret key (`gpg --export-secret-keys --armor`); the
    /// key must not be protected by a passphrase.
    pub fn from_key_file(path: &Path) -> Result<Signer, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let inner = ::rpm::signature::pgp::Signer::from_asc_bytes(&bytes)
            .map_err(|e| Error::Stage(format!("{}: not a usable ASCII-armoured OpenPGP secret key: {e}", path.display())))?;
        Ok(Signer { inner })
    }

    /// The same from the key's armoured text.
    pub fn from_armored(text: &str) -> Result<Signer, Error> {
        let inner =
            ::rpm::signature::pgp::Signer::from_asc_bytes(text.as_bytes()).map_err(|e| Error::Stage(format!("not a usable OpenPGP secret key: {e}")))?;
        Ok(Signer { inner })
    }
}

/// Writes `<out_dir>/<file_name>` and returns its path. On error no file is left
/// under that name.
pub fn write(
    m: &Manifest,
    target: Target,
    stage: &Stage,
    templates: &Templates,
    opts: &BuildOptions,
    out_dir: &Path,
    signer: Option<&Signer>,
) -> Result<PathBuf, Error> {
    let dest = out_dir.join(file_name(m, target));
    let pkg = package(m, target, stage, templates, opts, signer)?;
    let mut out = AtomicFile::create(&dest)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out.file());
    pkg.write(&mut w).map_err(|e| rpm_error(&dest, e))?;
    w.flush().map_err(|e| Error::io(&dest, e))?;
    drop(w);
    out.commit()
}

fn package(m: &Manifest, target: Target, stage: &Stage, templates: &Templates, opts: &BuildOptions, signer: Option<&Signer>) -> Result<::rpm::Package, Error> {
    let p = &m.package;
    let mtime = u32::try_from(opts.mtime).map_err(|_| Error::Stage(format!("build time {} does not fit an RPM timestamp", opts.mtime)))?;
    let paths = linux::Paths::new(m);
    let mut stage = stage.clone();
    let licence = format!("{}/LICENSE", licence_dir(m));
    let packages = crate::licences::npm_packages(&stage, &paths.app)?;
    stage.add_bytes(&licence, licence_text(m, &crate::licences::listing(&packages)), 0o644)?;

    let compression = compression(m);
    let config = BuildConfig::v4().compression(CompressionWithLevel::None).source_date(mtime);
    let mut b = PackageBuilder::new(&p.name, &version(m), &p.license, target.rpm_arch(), &p.summary);
    b.using_config(config)
        .release(p.revision.to_string())
        .description(p.description.trim())
        .url(&p.homepage)
        .vendor(&p.maintainer)
        .packager(&p.maintainer)
        // rpmbuild records the machine; a fixed name keeps rebuilds identical.
        .build_host(BUILD_HOST)
        .add_changelog_entry(
            format!("{} - {}-{}", p.maintainer, version(m), p.revision),
            format!(
                "- Package {} {} from the npm registry as an isolated system service with a bundled Node.js {} runtime.",
                p.name, p.version, m.payload.node.version
            ),
            mtime,
        );
    if let Some(rpm) = &m.rpm {
        b.group(&rpm.group);
    }

    // Files, in stage order (parents before children).
    let owned = owned_dirs(m);
    let time = Timestamp(mtime);
    for (path, entry) in stage.iter() {
        let fail = |e| rpm_error(Path::new(path), e);
        let mode = u16::try_from(entry.mode).map_err(|_| Error::Stage(format!("{path}: mode {:o} is not a permission mode", entry.mode)))?;
        match &entry.kind {
            Kind::Dir => {
                if owned.iter().any(|d| path == d || path.starts_with(&format!("{d}/"))) {
                    b.with_dir_entry(FileOptions::dir(path).permissions(mode).modified_at(time)).map_err(fail)?;
                }
            }
            Kind::Symlink(target) => {
                b.with_symlink(FileOptions::symlink(path, target.as_str()).modified_at(time)).map_err(fail)?;
            }
            Kind::File(source) => {
                let mut o = FileOptions::new(path).permissions(mode).modified_at(time);
                if entry.config {
                    o = o.config().noreplace();
                }
                if path == licence || path == paths.node_license {
                    o = o.license();
                } else if path.starts_with("/usr/share/man/") || path.starts_with("/usr/share/doc/") {
                    o = o.doc();
                }
                match source {
                    Source::Disk(src) => b.with_file(src, o),
                    Source::Bytes(bytes) => b.with_file_contents(bytes.clone(), o),
                }
                .map_err(fail)?;
            }
        }
    }

    // Scriptlets and what they run with.
    let vars = linux::vars(m)?;
    let script = |name: &str| -> Result<Scriptlet, Error> { Ok(Scriptlet::new(templates.render(name, &vars)?).prog(vec!["/bin/sh"])) };
    b.pre_install_script(script("rpm/pre")?)
        .post_install_script(script("rpm/post")?)
        .pre_uninstall_script(script("rpm/preun")?)
        .post_uninstall_script(script("rpm/postun")?)
        .requires(Dependency::script_pre("/bin/sh"))
        .requires(Dependency::script_post("/bin/sh"))
        .requires(Dependency::script_preun("/bin/sh"))
        .requires(Dependency::script_postun("/bin/sh"))
        // As rpmbuild declares it: an rpm that cannot read the payload refuses the package.
        .requires(match compression.format {
            Compressor::Xz => Dependency::rpmlib("PayloadIsXz", "5.2-1"),
            Compressor::Zstd => Dependency::rpmlib("PayloadIsZstd", "5.4.18-1"),
        });

    for dep in m.rpm.as_ref().map(|r| r.requires.as_slice()).unwrap_or_default() {
        b.requires(dependency(dep)?);
    }
    let sysusers = match stage.get(&paths.sysusers).map(|e| &e.kind) {
        Some(Kind::File(Source::Bytes(bytes))) => String::from_utf8_lossy(bytes).into_owned(),
        _ => return Err(Error::Stage(format!("the stage has no sysusers.d file {}", paths.sysusers))),
    };
    for (name, value) in sysusers_provides(&sysusers) {
        b.provides(match value {
            Some(v) => Dependency::eq(name, v),
            None => Dependency::any(name),
        });
    }

    let name = file_name(m, target);
    let mut pkg = b.build().map_err(|e| rpm_error(Path::new(&name), e))?;
    compress_payload(&mut pkg, compression, opts.threads, signer.map(|s| (s, time))).map_err(|e| match e {
        Error::Stage(msg) => Error::Stage(format!("{name}: {msg}")),
        e => e,
    })?;
    Ok(pkg)
}

/// The payload compression: the manifest's, or zstd 12 (the shipped setting) without an `[rpm]` table.
pub fn compression(m: &Manifest) -> Compression {
    m.rpm.as_ref().map_or(Compression { format: Compressor::Zstd, level: 12 }, |r| r.compression)
}

/// zstd's window for the rpm payload: 2^27 bytes, the most a zstd decoder accepts
/// without being told to (as rpm's does not), with long-distance matching, which
/// finds the many files that node_modules holds more than once.
pub const ZSTD_WINDOW_LOG: u32 = 27;

/// Compresses the uncompressed cpio payload of a package built with
/// [`CompressionWithLevel::None`], and writes the header's payload tags
/// (compressor, level, digest of the compressed payload) and the signature header
/// again to match: header digests, the OpenPGP signature of the header when there
/// is a signer, header+payload size, and the uncompressed payload size, which
/// rpm2cpio compares with what it unpacks (as rpmbuild writes it; the crate does
/// not). The digest of the uncompressed payload (`PAYLOADDIGESTALT`) stays as the
/// crate computed it.
fn compress_payload(pkg: &mut ::rpm::Package, c: Compression, threads: u32, signer: Option<(&Signer, Timestamp)>) -> Result<(), Error> {
    use ::rpm::{Header, HeaderEntry, IndexData, IndexTag};
    use sha2::Digest as _;
    let fail = |what: &str, e: ::rpm::Error| Error::Stage(format!("{what}: {e}"));

    let raw = std::mem::take(&mut pkg.payload);
    let raw_len = raw.len() as u64;
    let out = Vec::with_capacity(raw.len() / 4);
    let compressed = match c.format {
        Compressor::Xz => {
            let mut xz = crate::write::xz_writer(out, c.level, threads)?;
            xz.write_all(&raw).and_then(|()| xz.finish())
        }
        Compressor::Zstd => (|| {
            let level = i32::try_from(c.level).map_err(std::io::Error::other)?;
            let mut z = zstd::stream::write::Encoder::new(out, level)?;
            // Never 0: with one worker or more the output is the same for any count.
            z.multithread(threads.max(1))?;
            z.long_distance_matching(true)?;
            z.window_log(ZSTD_WINDOW_LOG)?;
            z.include_checksum(true)?;
            z.write_all(&raw)?;
            z.finish()
        })(),
    }
    .map_err(|e| Error::Stage(format!("compressing the payload with {c}: {e}")))?;
    drop(raw);

    let replaced = [
        (IndexTag::RPMTAG_PAYLOADCOMPRESSOR as u32, IndexData::StringTag(c.format.name().to_owned())),
        (IndexTag::RPMTAG_PAYLOADFLAGS as u32, IndexData::StringTag(c.level.to_string())),
        (IndexTag::RPMTAG_PAYLOADSHA256 as u32, IndexData::StringArray(vec![crate::write::hex(&sha2::Sha256::digest(&compressed))])),
    ];
    let region = IndexTag::RPMTAG_HEADERIMMUTABLE as u32;
    let mut entries: Vec<HeaderEntry> = pkg
        .metadata
        .header
        .get_all_entries()
        .map_err(|e| fail("reading the header", e))?
        .into_iter()
        .filter(|(tag, _)| *tag != region && !replaced.iter().any(|(t, _)| t == tag))
        .map(|(tag, data)| HeaderEntry { tag, data })
        .collect();
    if !entries.iter().any(|e| e.tag == IndexTag::RPMTAG_PAYLOADSHA256ALT as u32) {
        return Err(Error::Stage("the header has no digest of the uncompressed payload".to_owned()));
    }
    entries.extend(replaced.into_iter().map(|(tag, data)| HeaderEntry { tag, data }));
    pkg.metadata.header = Header::from_entries(entries, IndexTag::RPMTAG_HEADERIMMUTABLE);

    let header = pkg.header_bytes().map_err(|e| fail("writing the header", e))?;
    pkg.metadata.signature = signature_header(&header, compressed.len() as u64, raw_len, signer)?;
    pkg.payload = compressed;
    Ok(())
}

/// The signature header of a v4 package: digests of `header`, the OpenPGP
/// signature of the header when there is a signer, the header+payload size and
/// the uncompressed payload size.
fn signature_header(
    header: &[u8],
    payload_len: u64,
    raw_len: u64,
    signer: Option<(&Signer, Timestamp)>,
) -> Result<::rpm::Header<::rpm::IndexSignatureTag>, Error> {
    use ::rpm::signature::Signing as _;
    use ::rpm::{Header, HeaderEntry, IndexData, IndexSignatureTag, RpmFormat, SignatureHeaderBuilder};
    let fail = |what: &str, e: ::rpm::Error| Error::Stage(format!("{what}: {e}"));
    let mut sig = SignatureHeaderBuilder::new().format(RpmFormat::V4).set_content_length(header.len() as u64 + payload_len).calculate_digests(header);
    if let Some((signer, time)) = signer {
        sig = sig.add_openpgp_signature(signer.inner.sign(header, time).map_err(|e| fail("signing the header", e))?);
    }
    let sig = sig.build().map_err(|e| fail("writing the signature header", e))?;
    let sig_region = IndexSignatureTag::HEADER_SIGNATURES as u32;
    let mut entries: Vec<HeaderEntry> = sig
        .get_all_entries()
        .map_err(|e| fail("reading the signature header", e))?
        .into_iter()
        .filter(|(tag, _)| *tag != sig_region)
        .map(|(tag, data)| HeaderEntry { tag, data })
        .collect();
    entries.push(match u32::try_from(raw_len) {
        Ok(n) => HeaderEntry { tag: IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE as u32, data: IndexData::Int32(vec![n]) },
        Err(_) => HeaderEntry { tag: IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE as u32, data: IndexData::Int64(vec![raw_len]) },
    });
    Ok(Header::from_entries(entries, IndexSignatureTag::HEADER_SIGNATURES))
}

/// Writes `src` signed by `signer` to `dest` (replacing any signature it had), as
/// `rpmsign --addsign` does: header and payload stay byte for byte, the signature
/// time is the package's build time (or `not_before` when that is later: a
/// signature may not predate its key), so signing is reproducible. On error no
/// file is left at `dest`.
pub fn sign_file(src: &Path, dest: &Path, signer: &Signer, not_before: u32) -> Result<(), Error> {
    use ::rpm::{IndexData, IndexSignatureTag};
    let fail = |what: &str, e: ::rpm::Error| Error::Stage(format!("{}: {what}: {e}", src.display()));
    let mut pkg = ::rpm::Package::open(src).map_err(|e| fail("reading the package", e))?;
    let time = pkg.metadata.get_build_time().map_err(|e| fail("reading the build time", e))?;
    let time = u32::try_from(time).map_err(|_| Error::Stage(format!("{}: build time {time} does not fit an RPM timestamp", src.display())))?.max(not_before);
    let raw_len = pkg
        .metadata
        .signature
        .get_all_entries()
        .map_err(|e| fail("reading the signature header", e))?
        .into_iter()
        .find_map(|(tag, data)| match data {
            IndexData::Int32(v) if tag == IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE as u32 => v.first().map(|n| u64::from(*n)),
            IndexData::Int64(v) if tag == IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE as u32 => v.first().copied(),
            _ => None,
        })
        .ok_or_else(|| Error::Stage(format!("{}: the signature header has no payload size", src.display())))?;
    let header = pkg.header_bytes().map_err(|e| fail("writing the header", e))?;
    pkg.metadata.signature = signature_header(&header, pkg.payload.len() as u64, raw_len, Some((signer, Timestamp(time))))?;
    let mut out = AtomicFile::create(dest)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out.file());
    pkg.write(&mut w).map_err(|e| rpm_error(dest, e))?;
    w.flush().map_err(|e| Error::io(dest, e))?;
    drop(w);
    out.commit().map(|_| ())
}

/// The SHA-256 of an rpm's main header, which holds the digest of its payload:
/// two files with the same identity differ at most in their signatures.
pub fn identity(path: &Path) -> Result<String, Error> {
    use sha2::Digest as _;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = ::rpm::PackageMetadata::parse(&mut std::io::BufReader::new(f)).map_err(|e| rpm_error(path, e))?;
    let bytes = meta.header_bytes().map_err(|e| rpm_error(path, e))?;
    Ok(crate::write::hex(&sha2::Sha256::digest(&bytes)))
}

/// Directories the package owns, with everything below them.
fn owned_dirs(m: &Manifest) -> Vec<String> {
    vec![m.linux.prefix.clone(), m.linux.config_dir.clone(), licence_dir(m)]
}

fn licence_dir(m: &Manifest) -> String {
    format!("/usr/share/licenses/{}", m.package.name)
}

/// `NAME` or `NAME OP VERSION` (OP one of `<`, `<=`, `=`, `>=`, `>`).
pub fn dependency(spec: &str) -> Result<Dependency, Error> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    match parts[..] {
        [name] => Ok(Dependency::any(name)),
        [name, op, version] => match op {
            "<" => Ok(Dependency::less(name, version)),
            "<=" => Ok(Dependency::less_eq(name, version)),
            "=" => Ok(Dependency::eq(name, version)),
            ">=" => Ok(Dependency::greater_eq(name, version)),
            ">" => Ok(Dependency::greater(name, version)),
            _ => Err(Error::Stage(format!("rpm requirement {spec:?}: unknown operator {op:?}"))),
        },
        _ => Err(Error::Stage(format!("rpm requirement {spec:?} is not NAME or NAME OP VERSION"))),
    }
}

/// The provides rpm >= 4.19 generates for a sysusers.d file: for each `u` or `g`
/// line, `user(NAME)` or `group(NAME)` whose version is the whole line (its fields
/// joined by single spaces) in base64, the input padded with NUL bytes so that the
/// encoding has no `=` (which a version may not contain); for a user whose group
/// is implied (ID `-` or a number), also `group(NAME)` without a version.
pub fn sysusers_provides(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let kind = match fields[0] {
            "u" | "u!" => "user",
            "g" => "group",
            _ => continue,
        };
        let mut raw = fields.join(" ").into_bytes();
        raw.resize(raw.len().div_ceil(3) * 3, 0);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
        out.push((format!("{kind}({})", fields[1]), Some(encoded)));
        if kind == "user" && fields.get(2).is_none_or(|id| !id.contains(':') && !id.starts_with('/')) {
            out.push((format!("group({})", fields[1]), None));
        }
    }
    out
}

fn licence_text(m: &Manifest, npm: &[String]) -> String {
    let paths = linux::Paths::new(m);
    format!(
        "{name}: Copyright (c) {copyright}\n\n\
         The bundled Node.js runtime is under its own licence, in {node_licence};\n\
         each npm package under {app}/node_modules carries the licence it was\n\
         published with.\n\n\
         {license} License\n\n{text}\n\
         Bundled npm packages: directory under {app}, name, version, the licence\n\
         its package.json declares, and its licence files:\n\n{npm}",
        name = m.package.name,
        copyright = m.package.copyright,
        node_licence = paths.node_license,
        app = paths.app,
        license = m.package.license,
        text = MIT_TEXT,
        npm = npm.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
}

const MIT_TEXT: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
";

fn rpm_error(path: &Path, e: ::rpm::Error) -> Error {
    match e {
        ::rpm::Error::Io(io) => Error::io(path, io),
        e => Error::Stage(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysusers_provides_are_those_of_rpm() {
        let p = sysusers_provides("# comment\nu clawdbot - \"Clawdbot gateway\" /var/lib/clawdbot /usr/sbin/nologin\n\ng extra 515\nm a b\n");
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            p,
            [
                ("user(clawdbot)".to_owned(), Some(b64(b"u clawdbot - \"Clawdbot gateway\" /var/lib/clawdbot /usr/sbin/nologin\0\0"))),
                ("group(clawdbot)".to_owned(), None),
                ("group(extra)".to_owned(), Some(b64(b"g extra 515\0"))),
            ]
        );
        assert!(p.iter().all(|(_, v)| v.as_ref().is_none_or(|v| !v.contains('='))));
        // Whitespace is normalised as rpm splits the line into fields.
        assert_eq!(sysusers_provides("u  x\t-")[0].1, Some(b64(b"u x -\0")));
        assert_eq!(sysusers_provides("u x 12:wheel")[1..], []);
    }

    #[test]
    fn dependencies_parse() {
        let d = dependency("libc.so.6(GLIBC_2.28)(64bit)").unwrap();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("libc.so.6(GLIBC_2.28)(64bit)", ""));
        let d = dependency("systemd >= 239").unwrap();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("systemd", "239"));
        assert!(dependency("systemd ~> 239").unwrap_err().to_string().contains("unknown operator"));
        assert!(dependency("a b").is_err());
    }
}
