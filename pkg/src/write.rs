//! Shared writing helpers: all-or-nothing output files, tar members of a stage,
//! multi-threaded xz, and hashing while streaming.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::md5lanes::Md5Lanes;
use crate::stage::{Kind, Source, Stage};
use crate::Error;

/// An output file that appears under its name only when complete: written to a
/// temporary file in the same directory, renamed on [`AtomicFile::commit`], removed
/// if dropped before that.
pub(crate) struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    pub(crate) fn create(dest: &Path) -> Result<AtomicFile, Error> {
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new().prefix(".partial-").tempfile_in(dir).map_err(|e| Error::io(dir, e))?;
        Ok(AtomicFile { tmp, dest: dest.to_owned() })
    }

    pub(crate) fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    pub(crate) fn commit(self) -> Result<PathBuf, Error> {
        use std::os::unix::fs::PermissionsExt;
        let f = self.tmp.as_file();
        f.set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(|e| Error::io(&self.dest, e))?;
        f.sync_all().map_err(|e| Error::io(&self.dest, e))?;
        self.tmp.persist(&self.dest).map_err(|e| Error::io(&self.dest, e.error))?;
        Ok(self.dest)
    }
}

/// A multi-threaded xz encoder. The block size is fixed so that the output does not
/// depend on the number of threads.
pub(crate) fn xz_writer<W: Write>(w: W, level: u32, threads: u32) -> Result<liblzma::write::XzEncoder<W>, Error> {
    let stream = liblzma::stream::MtStreamBuilder::new()
        .threads(threads.max(1))
        .preset(level)
        .block_size(24 << 20)
        .check(liblzma::stream::Check::Crc64)
        .encoder()
        .map_err(|e| Error::encode("starting the xz encoder", e))?;
    Ok(liblzma::write::XzEncoder::new_stream(w, stream))
}

/// A writer that hashes and counts what passes through it to `inner`.
pub(crate) struct HashWriter<W, D> {
    pub(crate) inner: W,
    pub(crate) digest: D,
    pub(crate) count: u64,
}

impl<W, D: sha2::Digest> HashWriter<W, D> {
    pub(crate) fn new(inner: W) -> HashWriter<W, D> {
        HashWriter { inner, digest: D::new(), count: 0 }
    }
}

impl<W: Write, D: sha2::Digest> Write for HashWriter<W, D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("root").expect("short name");
    h.set_groupname("root").expect("short name");
    h
}

/// Appends a regular file from memory.
pub(crate) fn tar_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8], mode: u32, mtime: u64) -> Result<(), Error> {
    let mut h = header(tar::EntryType::Regular, mode, bytes.len() as u64, mtime);
    tar.append_data(&mut h, path, bytes).map_err(|e| Error::io(Path::new(path), e))
}

/// Streams every entry of the stage into a tar archive, paths as `./usr/...`, owned
/// by root, in [`Stage::iter_packed`]'s order (the entries `own` names last), telling the encoder
/// where each entry starts, which to store rather than compress (a
/// [`crate::stage::compressed_format`]) and which is x86 code ([`crate::stage::x86_code`]). Calls `digest(path, md5)` for every regular file,
/// in the same order, once all are written. A file is read whole, then written
/// and handed to [`Md5Lanes`], which hashes sixteen at a time.
pub(crate) fn tar_stage<W: Write>(
    tar: &mut tar::Builder<crate::blocks::Encoder<W>>,
    stage: &Stage,
    own: &dyn Fn(&str) -> bool,
    mtime: u64,
    mut digest: impl FnMut(&str, [u8; 16]),
) -> Result<(), Error> {
    let mut h = header(tar::EntryType::Directory, 0o755, 0, mtime);
    tar.append_data(&mut h, "./", io::empty()).map_err(|e| Error::io(Path::new("./"), e))?;
    let mut md5 = Md5Lanes::new();
    let mut files = Vec::new();
    for (path, entry) in stage.iter_packed(own) {
        // A file from disk is read whole before its entry starts: its first bytes
        // say whether it is x86 code.
        let read = match &entry.kind {
            Kind::File(Source::Disk(src)) => {
                // One byte more than staged: a file that grew is caught too.
                let mut bytes = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
                File::open(src).and_then(|f| f.take(entry.size + 1).read_to_end(&mut bytes)).map_err(|e| Error::io(src, e))?;
                if bytes.len() as u64 != entry.size {
                    return Err(Error::input(src, "changed size while the package was written"));
                }
                Some(bytes)
            }
            _ => None,
        };
        let encoder = tar.get_mut();
        match (&entry.kind, &read) {
            (Kind::File(_), _) if crate::stage::compressed_format(path) => encoder.stored_entry(),
            (_, Some(bytes)) if crate::stage::x86_code(bytes) => encoder.x86_entry(),
            _ => encoder.entry(path),
        }
        .map_err(|e| Error::io(Path::new(path), e))?;
        let name = format!(".{path}");
        match &entry.kind {
            Kind::Dir => {
                let mut h = header(tar::EntryType::Directory, entry.mode, 0, mtime);
                tar.append_data(&mut h, format!("{name}/"), io::empty()).map_err(|e| Error::io(Path::new(path), e))?;
            }
            Kind::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0, mtime);
                tar.append_link(&mut h, &name, target).map_err(|e| Error::io(Path::new(path), e))?;
            }
            Kind::File(Source::Bytes(bytes)) => {
                tar_bytes(tar, &name, bytes, entry.mode, mtime)?;
                md5.push(files.len(), bytes.clone());
                files.push(path);
            }
            Kind::File(Source::Disk(src)) => {
                let bytes = read.expect("read above");
                let mut h = header(tar::EntryType::Regular, entry.mode, entry.size, mtime);
                tar.append_data(&mut h, &name, &bytes[..]).map_err(|e| Error::io(src, e))?;
                md5.push(files.len(), bytes);
                files.push(path);
            }
        }
    }
    for (id, sum) in md5.finish() {
        digest(files[id], sum);
    }
    Ok(())
}

/// Gzip with no name and no time in the header, as Debian wants for documentation.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `Thu, 01 Jan 1970 00:00:00 +0000` for a Unix time (RFC 2822, as Debian changelogs want).
pub(crate) fn rfc2822(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][(m - 1) as usize];
    format!("{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Size, SHA-256 and SHA-512 (hex) of a file, read once.
pub(crate) fn file_digests(path: &Path) -> Result<(u64, String, String), Error> {
    use sha2::Digest as _;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut a, mut b) = (sha2::Sha256::new(), sha2::Sha512::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        a.update(&buf[..n]);
        b.update(&buf[..n]);
    }
    Ok((size, hex(&a.finalize()), hex(&b.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_795_651_200), "Thu, 26 Nov 2026 00:00:00 +0000");
        assert_eq!(rfc2822(951_782_400 + 3661), "Tue, 29 Feb 2000 01:01:01 +0000");
    }

    #[test]
    fn an_atomic_file_dropped_before_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.deb");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.file().write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&dest).unwrap();
        f.file().write_all(b"whole").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
    }

    /// A file that grows or shrinks between staging and writing stops the
    /// build; one that keeps its size is written with its MD5.
    #[test]
    fn a_file_that_changed_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        std::fs::write(&src, b"12345").unwrap();
        let mut stage = Stage::new();
        stage.add_disk_file("/usr/f", &src, 0o644).unwrap();
        let write = |stage: &Stage| {
            let encoder = crate::blocks::Encoder::new(Vec::new(), crate::blocks::Codec::Xz(0), 1, crate::blocks::Cache::unshared()).unwrap();
            let mut sums = Vec::new();
            tar_stage(&mut tar::Builder::new(encoder), stage, &|_| false, 0, |p, s| sums.push((p.to_owned(), hex(&s)))).map(|()| sums)
        };
        assert_eq!(write(&stage).unwrap(), [("/usr/f".to_owned(), "827ccb0eea8a706c4c34a16891f84e7b".to_owned())]);
        for changed in [&b"123456"[..], b"1234"] {
            std::fs::write(&src, changed).unwrap();
            let e = write(&stage).unwrap_err().to_string();
            assert!(e.contains("changed size while the package was written"), "{e}");
        }
    }
}
