//! The payload and the headers of an .rpm, after the `rpm` crate built the package.
//!
//! Payload: cpio compressed as the manifest's `rpm.compression` says (xz or zstd),
//! by [`compress_payload`]: the `rpm` crate writes the header and an uncompressed
//! cpio archive in which the payload's files are empty (given their bytes, it
//! would read each twice and hash the archive six times); here that archive is
//! written again with the files' bytes, the architecture's own last, into a
//! multi-threaded encoder (the part before them compressed once for both
//! architectures), and the header's tags that depend on those bytes (sizes,
//! digests) and the signature header are written again to match. (The crate's own compressors are
//! single-threaded and flush after every cpio entry, which ends a compression
//! block per file: on the unpruned linux-x64 tree that gave 123 MB with xz 6
//! against about 80 MB for the same files in one stream.) Signing
//! ([`sign_file`]) replaces only the signature header, as `rpmsign --addsign` does.

use std::io::{Read as _, Write as _};
use std::path::Path;

use ::rpm::Timestamp;
use sha2::Digest as _;

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

/// The regular files of a package that the crate was given empty, by their name
/// in the cpio archive (`./usr/...`): the file that holds their bytes, and how many.
pub(super) type Contents<'a> = std::collections::HashMap<String, (&'a Path, u64)>;

/// Writes the payload of a package that the crate built uncompressed
/// ([`CompressionWithLevel::None`]) with the files of `contents` empty, so that it
/// neither reads nor hashes them (it hashes every archive six times, in three
/// algorithms, of which a v4 package keeps one): the crate's cpio archive again,
/// the header of each file of `contents` with its real size and followed by its
/// bytes, while each file's SHA-256 and the archive's are taken (every file read
/// once). The entries that `own` names (the architecture's own, see
/// [`crate::Target::owns`]) go last, and each entry's inode field is its place
/// in that order, so that the part before them is the same in both
/// architectures' packages: with zstd it is a frame of its own, compressed once
/// per build ([`crate::blocks::Cache::whole`]) and held in memory for that; the
/// rest is streamed into a second frame. (xz: one stream, as rpm reads no more.)
/// Then the header's tags that depend on the files' bytes (file sizes and
/// digests, the installed size, the uncompressed and compressed payload's
/// digests, compressor and level) and the signature header are written again to
/// match: header digests, the OpenPGP signature of the header when there is a
/// signer, header+payload size, and the uncompressed payload size, which rpm2cpio
/// compares with what it unpacks (as rpmbuild writes it; the crate does not).
///
/// [`CompressionWithLevel::None`]: ::rpm::CompressionWithLevel::None
pub(super) fn compress_payload(
    artifact: &str,
    pkg: &mut ::rpm::Package,
    contents: &Contents,
    own: &dyn Fn(&str) -> bool,
    c: Compression,
    opts: &crate::BuildOptions,
    signer: Option<(&Signer, Timestamp)>,
) -> Result<(), Error> {
    use ::rpm::{Header, HeaderEntry, IndexData, IndexTag};
    let fail = |what: &str, e: ::rpm::Error| Error::encode(format!("{artifact}: {what}"), e);
    let h = &pkg.metadata.header;
    let paths = pkg.metadata.get_file_paths().map_err(|e| fail("reading the file list", e))?;
    let mut sizes = h.get_entry_data_as_u32_array(IndexTag::RPMTAG_FILESIZES).map_err(|e| fail("reading the file sizes", e))?;
    let mut digests: Vec<String> = h
        .get_entry_data_as_string_array(IndexTag::RPMTAG_FILEDIGESTS)
        .map_err(|e| fail("reading the file digests", e))?
        .into_iter()
        .map(String::from)
        .collect();
    let installed = h.get_entry_data_as_u32(IndexTag::RPMTAG_SIZE).map_err(|e| fail("reading the installed size", e))?;
    if sizes.len() != paths.len() || digests.len() != paths.len() {
        return Err(Error::Value(format!("{artifact}: the header lists {} files, {} sizes and {} digests", paths.len(), sizes.len(), digests.len())));
    }

    let stub = std::mem::take(&mut pkg.payload);
    let bad_archive = |what: String| Error::Value(format!("{artifact}: the crate's cpio archive {what}"));
    let mut entries = Vec::with_capacity(paths.len());
    let mut rest = &stub[..];
    let trailer = loop {
        let entry = CpioEntry::parse(rest).ok_or_else(|| bad_archive(format!("is not newc at byte {}", stub.len() - rest.len())))?;
        let (head, tail) = rest.split_at(entry.len);
        rest = tail;
        if entry.name == CPIO_TRAILER {
            break head;
        }
        let index = entries.len();
        if index >= paths.len() || paths[index].as_os_str() != entry.name.get(1..).unwrap_or_default() {
            return Err(bad_archive(format!("has {:?} as entry {index}, the header {:?}", entry.name, paths.get(index))));
        }
        entries.push((entry, head));
    };
    if entries.len() != paths.len() || rest.iter().any(|&b| b != 0) {
        return Err(bad_archive(format!("holds {} entries, its header {}", entries.len(), paths.len())));
    }
    // The payload's order: what every architecture's package holds alike, then
    // what is this one's own; rpm finds each entry's file by its name.
    let (shared, own_part): (Vec<usize>, Vec<usize>) = (0..entries.len()).partition(|&i| !own(&entries[i].0.name[1..]));

    let mut fill = Filler { artifact, contents, entries: &entries, sizes: &mut sizes, digests: &mut digests, buf: vec![0u8; 1 << 16], ino: 0, added: 0 };
    // The shared part in memory, to be compressed once for both architectures.
    let shared_len: u64 = shared.iter().map(|&i| entries[i].1.len() as u64 + contents.get(entries[i].0.name).map_or(0, |(_, n)| n + 3)).sum();
    let mut first = crate::write::HashWriter::<_, sha2::Sha256>::new(Vec::with_capacity(usize::try_from(shared_len).unwrap_or(0)));
    for &i in &shared {
        fill.entry(&mut first, i)?;
    }
    let own_len = stub.len() as u64 + contents.values().map(|(_, size)| size).sum::<u64>() - first.count;
    let starting = |e| Error::encode(format!("{artifact}: starting the {c} compressor"), e);
    let compressing = |e| Error::encode(format!("{artifact}: compressing the payload with {c}"), e);
    let mut enc = Encoder::new(c, opts.threads, own_len).map_err(starting)?;
    let shared_frame = match c.format {
        // zstd frames may follow each other in one payload (rpm's reader, like
        // every zstd decoder, reads on into the next): the shared part is a frame
        // of its own, which the other architecture's package takes as it is.
        Compressor::Zstd => {
            let settings = format!("{c} window {ZSTD_WINDOW_LOG} long-distance checksum");
            let frame = opts
                .blocks
                .whole(&settings, &first, |data| {
                    let mut enc = Encoder::new(c, opts.threads, data.len() as u64)?;
                    enc.write_all(data)?;
                    enc.finish()
                })
                .map_err(compressing)?;
            Some(frame)
        }
        // rpm reads one xz stream only: one stream for all.
        Compressor::Xz => {
            enc.write_all(&first.inner).map_err(compressing)?;
            None
        }
    };
    let shared_raw = first.count;
    let mut raw = crate::write::HashWriter { inner: &mut enc, digest: first.digest, count: shared_raw };
    drop(first.inner);
    for &i in &own_part {
        fill.entry(&mut raw, i)?;
    }
    raw.write_all(trailer).map_err(|e| Error::io(Path::new(artifact), e))?;
    let (raw_sha, raw_len) = (raw.digest.finalize(), raw.count);
    let added = fill.added;
    let rest = enc.finish().map_err(compressing)?;
    let compressed = match shared_frame {
        Some(frame) => {
            opts.blocks.count_compressed(raw_len - shared_raw, rest.len() as u64);
            [&frame.bytes[..], &rest[..]].concat()
        }
        None => {
            opts.blocks.count_compressed(raw_len, rest.len() as u64);
            rest
        }
    };
    let installed = u32::try_from(u64::from(installed) + added).map_err(|_| Error::Value(format!("{artifact}: 4 GiB or more of files")))?;

    let replaced = [
        (IndexTag::RPMTAG_FILESIZES as u32, IndexData::Int32(sizes)),
        (IndexTag::RPMTAG_FILEDIGESTS as u32, IndexData::StringArray(digests)),
        (IndexTag::RPMTAG_SIZE as u32, IndexData::Int32(vec![installed])),
        (IndexTag::RPMTAG_PAYLOADSHA256ALT as u32, IndexData::StringArray(vec![crate::write::hex(&raw_sha)])),
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
    entries.extend(replaced.into_iter().map(|(tag, data)| HeaderEntry { tag, data }));
    pkg.metadata.header = Header::from_entries(entries, IndexTag::RPMTAG_HEADERIMMUTABLE);

    let header = pkg.header_bytes().map_err(|e| fail("writing the header", e))?;
    pkg.metadata.signature = signature_header(artifact, &header, compressed.len() as u64, raw_len, signer)?;
    pkg.payload = compressed;
    Ok(())
}

/// The payload's compressor: multi-threaded xz or zstd into memory.
enum Encoder {
    Xz(liblzma::write::XzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// `bytes`: how many the archive will hold (room is made for a quarter).
    fn new(c: Compression, threads: u32, bytes: u64) -> std::io::Result<Encoder> {
        let out = Vec::with_capacity(usize::try_from(bytes / 4).unwrap_or(0));
        Ok(match c.format {
            Compressor::Xz => Encoder::Xz(crate::write::xz_writer(out, c.level, threads).map_err(std::io::Error::other)?),
            Compressor::Zstd => {
                let level = i32::try_from(c.level).map_err(std::io::Error::other)?;
                let mut z = zstd::stream::write::Encoder::new(out, level)?;
                // Never 0: with one worker or more the output is the same for any count.
                z.multithread(threads.max(1))?;
                z.long_distance_matching(true)?;
                z.window_log(ZSTD_WINDOW_LOG)?;
                z.include_checksum(true)?;
                Encoder::Zstd(z)
            }
        })
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Xz(x) => x.finish(),
            Encoder::Zstd(z) => z.finish(),
        }
    }
}

impl std::io::Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Xz(x) => x.write(buf),
            Encoder::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the entries of the crate's cpio archive in the payload's order, each
/// numbered (its inode field) by its place there, and those of the files the
/// crate was given empty with their size and bytes; takes those files' sizes
/// and digests for the header (indexed as the crate's archive is).
struct Filler<'a, 'h> {
    artifact: &'a str,
    contents: &'a Contents<'a>,
    entries: &'a [(CpioEntry<'a>, &'a [u8])],
    sizes: &'h mut [u32],
    digests: &'h mut [String],
    buf: Vec<u8>,
    ino: u32,
    /// Bytes of the files added.
    added: u64,
}

impl Filler<'_, '_> {
    fn entry(&mut self, w: &mut impl std::io::Write, i: usize) -> Result<(), Error> {
        let (entry, head) = &self.entries[i];
        let artifact = self.artifact;
        let write_err = |e| Error::io(Path::new(artifact), e);
        self.ino += 1;
        let mut header = head[..entry.header_len].to_vec();
        header[CPIO_INO].copy_from_slice(format!("{:08x}", self.ino).as_bytes());
        let path = &entry.name[1..];
        match self.contents.get(entry.name) {
            Some((src, size)) if entry.is_regular() && entry.file_size == 0 => {
                let size32 = u32::try_from(*size).map_err(|_| Error::layout(path, "a file of 4 GiB or more (the payload's sizes are 32-bit)"))?;
                header[CPIO_FILESIZE].copy_from_slice(format!("{size32:08x}").as_bytes());
                w.write_all(&header).map_err(write_err)?;
                let digest = copy_file(src, *size, w, &mut self.buf)?;
                w.write_all(&[0; 3][..pad4(*size as usize)]).map_err(write_err)?;
                self.sizes[i] = size32;
                self.digests[i] = crate::write::hex(&digest);
                self.added += *size;
            }
            Some(_) => return Err(Error::Value(format!("{artifact}: {path} is not an empty regular file in the crate's archive"))),
            // Directories, links and the files the crate was given whole.
            None => {
                w.write_all(&header).map_err(write_err)?;
                w.write_all(&head[entry.header_len..]).map_err(write_err)?;
            }
        }
        Ok(())
    }
}

/// Streams the `size` bytes of the file `src` into `out` through `buf`; returns
/// their SHA-256. A file of another size is an error (one byte more than
/// `size` is read, so that one that grew is caught too; what was written to
/// `out` is then abandoned with the artifact).
fn copy_file(src: &Path, size: u64, out: &mut impl std::io::Write, buf: &mut [u8]) -> Result<[u8; 32], Error> {
    let mut sha = sha2::Sha256::new();
    let mut file = std::fs::File::open(src).map_err(|e| Error::io(src, e))?.take(size + 1);
    let mut n = 0u64;
    loop {
        let got = file.read(buf).map_err(|e| Error::io(src, e))?;
        if got == 0 {
            break;
        }
        sha.update(&buf[..got]);
        out.write_all(&buf[..got]).map_err(|e| Error::io(src, e))?;
        n += got as u64;
    }
    if n != size {
        return Err(Error::input(src, "changed size while the package was written"));
    }
    Ok(sha.finalize().into())
}

/// The name of the cpio archive's last entry.
const CPIO_TRAILER: &str = "TRAILER!!!";
/// Where a newc header holds the entry's inode number (8 hex digits after the magic).
const CPIO_INO: std::ops::Range<usize> = 6..14;
/// Where a newc header holds the file's size (8 hex digits after the magic and 6 fields).
const CPIO_FILESIZE: std::ops::Range<usize> = 54..62;

/// Bytes of NUL padding after `len` bytes, to a multiple of 4.
fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// One entry of a newc ("070701") cpio archive.
struct CpioEntry<'a> {
    name: &'a str,
    mode: u32,
    file_size: u64,
    /// The header and the padded name.
    header_len: usize,
    /// The whole entry: header, name, data, each padded.
    len: usize,
}

impl<'a> CpioEntry<'a> {
    fn parse(b: &'a [u8]) -> Option<CpioEntry<'a>> {
        if b.len() < 110 || &b[..6] != b"070701" {
            return None;
        }
        let field = |i: usize| std::str::from_utf8(&b[6 + 8 * i..14 + 8 * i]).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
        let (mode, file_size, name_size) = (field(1)?, u64::from(field(6)?), field(11)? as usize);
        let name = b.get(110..110 + name_size.checked_sub(1)?)?;
        let header_len = 110 + name_size + pad4(110 + name_size);
        let len = header_len + file_size as usize + pad4(file_size as usize);
        (b.len() >= len).then_some(())?;
        Some(CpioEntry { name: std::str::from_utf8(name).ok()?, mode, file_size, header_len, len })
    }

    fn is_regular(&self) -> bool {
        self.mode & 0o170_000 == 0o100_000
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_changed_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        let mut buf = [0u8; 4];
        std::fs::write(&src, b"12345").unwrap();
        let mut out = Vec::new();
        assert_eq!(copy_file(&src, 5, &mut out, &mut buf).unwrap(), <[u8; 32]>::from(sha2::Sha256::digest(b"12345")));
        assert_eq!(out, b"12345");
        for staged in [4, 6] {
            let e = copy_file(&src, staged, &mut Vec::new(), &mut buf).unwrap_err().to_string();
            assert!(e.contains("changed size while the package was written"), "{e}");
        }
    }
}
