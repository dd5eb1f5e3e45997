//! The payload and the headers of an .rpm, after the `rpm` crate built the package.
//!
//! Payload: cpio compressed as the manifest's `rpm.compression` says (xz or zstd),
//! by [`compress_payload`]: the `rpm` crate writes the header and the uncompressed
//! cpio archive, the payload is compressed here with a multi-threaded encoder, and
//! the header's payload tags and the signature header are written again to match.
//! (The crate's own compressors are single-threaded and flush after every cpio
//! entry, which ends a compression block per file: on the unpruned linux-x64 tree
//! that gave 123 MB with xz 6 against about 80 MB for the same files in one
//! stream.) Signing ([`sign_file`]) replaces only the signature header, as
//! `rpmsign --addsign` does.

use std::io::Write as _;
use std::path::Path;

use ::rpm::Timestamp;

use crate::manifest::{Compression, Compressor};
use crate::write::AtomicFile;
use crate::Error;

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
            .map_err(|e| Error::key(Some(path), "not a usable ASCII-armoured OpenPGP secret key", Some(e.into())))?;
        Ok(Signer { inner })
    }

    /// The same from the key's armoured text.
    pub fn from_armored(text: &str) -> Result<Signer, Error> {
        let inner =
            ::rpm::signature::pgp::Signer::from_asc_bytes(text.as_bytes()).map_err(|e| Error::key(None, "not a usable OpenPGP secret key", Some(e.into())))?;
        Ok(Signer { inner })
    }
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
pub(super) fn compress_payload(
    artifact: &str,
    pkg: &mut ::rpm::Package,
    c: Compression,
    threads: u32,
    signer: Option<(&Signer, Timestamp)>,
) -> Result<(), Error> {
    use ::rpm::{Header, HeaderEntry, IndexData, IndexTag};
    use sha2::Digest as _;
    let fail = |what: &str, e: ::rpm::Error| Error::encode(format!("{artifact}: {what}"), e);

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
    .map_err(|e| Error::encode(format!("{artifact}: compressing the payload with {c}"), e))?;
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
        return Err(Error::Value(format!("{artifact}: the header has no digest of the uncompressed payload")));
    }
    entries.extend(replaced.into_iter().map(|(tag, data)| HeaderEntry { tag, data }));
    pkg.metadata.header = Header::from_entries(entries, IndexTag::RPMTAG_HEADERIMMUTABLE);

    let header = pkg.header_bytes().map_err(|e| fail("writing the header", e))?;
    pkg.metadata.signature = signature_header(artifact, &header, compressed.len() as u64, raw_len, signer)?;
    pkg.payload = compressed;
    Ok(())
}

/// The signature header of a v4 package: digests of `header`, the OpenPGP
/// signature of the header when there is a signer, the header+payload size and
/// the uncompressed payload size.
fn signature_header(
    artifact: &str,
    header: &[u8],
    payload_len: u64,
    raw_len: u64,
    signer: Option<(&Signer, Timestamp)>,
) -> Result<::rpm::Header<::rpm::IndexSignatureTag>, Error> {
    use ::rpm::signature::Signing as _;
    use ::rpm::{Header, HeaderEntry, IndexData, IndexSignatureTag, RpmFormat, SignatureHeaderBuilder};
    let fail = |what: &str, e: ::rpm::Error| Error::encode(format!("{artifact}: {what}"), e);
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
    let fail = |what: &str, e: ::rpm::Error| Error::input_from(src, what, e);
    let mut pkg = ::rpm::Package::open(src).map_err(|e| fail("reading the package", e))?;
    let time = pkg.metadata.get_build_time().map_err(|e| fail("reading the build time", e))?;
    let time = u32::try_from(time).map_err(|_| Error::input(src, format!("build time {time} does not fit an RPM timestamp")))?.max(not_before);
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
        .ok_or_else(|| Error::input(src, "the signature header has no payload size"))?;
    let header = pkg.header_bytes().map_err(|e| fail("reading the header", e))?;
    pkg.metadata.signature = signature_header(&src.display().to_string(), &header, pkg.payload.len() as u64, raw_len, Some((signer, Timestamp(time))))?;
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

pub(super) fn rpm_error(path: &Path, e: ::rpm::Error) -> Error {
    match e {
        ::rpm::Error::Io(io) => Error::io(path, io),
        e => Error::encode(path.display().to_string(), e),
    }
}
