//! The APT side of a repository: reading a `.deb`'s control data, the `Packages`
//! index of each architecture and the `Release` file of the suite.
//!
//! Layout (suite and codename [`SUITE`], one component [`COMPONENT`]):
//!
//! ```text
//! deb/pool/main/<first letter>/<name>/<name>_<version>_<arch>.deb
//! deb/dists/stable/{Release,InRelease,Release.gpg}
//! deb/dists/stable/main/binary-<arch>/Packages{,.gz,.xz}
//! deb/dists/stable/main/binary-<arch>/by-hash/SHA256/<sha256 of each index>
//! ```

use std::cmp::Ordering;
use std::io::{Read, Write as _};
use std::path::Path;

use sha2::Digest as _;

use crate::write::{hex, rfc2822};
use crate::Error;

pub const SUITE: &str = "stable";
pub const COMPONENT: &str = "main";
/// Architectures every `Release` names, whether or not a package of each is published.
pub const ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];

/// What the index needs of one `.deb`.
#[derive(Debug, Clone)]
pub struct Deb {
    /// The `control` file as the package carries it.
    pub control: String,
    pub name: String,
    pub version: String,
    pub arch: String,
}

impl Deb {
    /// Reads the control data of the `.deb` at `path` (an `ar` archive whose
    /// `control.tar.{xz,gz,zst}` or `control.tar` holds `./control`).
    pub fn read(path: &Path) -> Result<Deb, Error> {
        let bad = |why: String| Error::input(path, why);
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut magic = [0u8; 8];
        f.read_exact(&mut magic).map_err(|e| Error::io(path, e))?;
        if &magic != b"!<arch>\n" {
            return Err(bad("not a Debian package (no ar archive)".to_owned()));
        }
        let control_tar = loop {
            let mut header = [0u8; 60];
            if f.read_exact(&mut header).is_err() {
                return Err(bad("no control.tar member".to_owned()));
            }
            let name = String::from_utf8_lossy(&header[..16]).trim_end().trim_end_matches('/').to_owned();
            let size: u64 = String::from_utf8_lossy(&header[48..58]).trim().parse().map_err(|_| bad("a corrupt ar member header".to_owned()))?;
            if name.starts_with("control.tar") {
                let mut bytes = Vec::new();
                (&mut f).take(size).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
                break (name, bytes);
            }
            std::io::copy(&mut (&mut f).take(size + size % 2), &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
        };
        let (member, bytes) = control_tar;
        let reader: Box<dyn Read> = match member.as_str() {
            "control.tar.xz" => Box::new(liblzma::read::XzDecoder::new(&bytes[..])),
            "control.tar.gz" => Box::new(flate2::read::GzDecoder::new(&bytes[..])),
            "control.tar.zst" => Box::new(zstd::stream::read::Decoder::new(&bytes[..]).map_err(|e| Error::io(path, e))?),
            "control.tar" => Box::new(&bytes[..]),
            other => return Err(bad(format!("unknown control member {other}"))),
        };
        let mut tar = tar::Archive::new(reader);
        let mut control = None;
        for entry in tar.entries().map_err(|e| Error::io(path, e))? {
            let mut entry = entry.map_err(|e| Error::io(path, e))?;
            let p = entry.path().map_err(|e| Error::io(path, e))?.to_string_lossy().into_owned();
            if p == "./control" || p == "control" {
                let mut s = String::new();
                entry.read_to_string(&mut s).map_err(|e| Error::io(path, e))?;
                control = Some(s);
                break;
            }
        }
        let control = control.ok_or_else(|| bad(format!("{member} holds no control file")))?;
        let field = |name: &str| field(&control, name).ok_or_else(|| bad(format!("the control file has no {name} field")));
        let (name, version, arch) = (field("Package")?, field("Version")?, field("Architecture")?);
        Ok(Deb { control, name, version, arch })
    }

    /// `<name>_<version without epoch>_<arch>.deb`.
    pub fn file_name(&self) -> String {
        let v = self.version.split_once(':').map_or(self.version.as_str(), |(_, v)| v);
        format!("{}_{v}_{}.deb", self.name, self.arch)
    }

    /// `pool/main/<c>/<name>/<file>`, relative to the APT root.
    pub fn pool_path(&self) -> String {
        let first = self.name.chars().next().unwrap_or('_');
        format!("pool/{COMPONENT}/{first}/{}/{}", self.name, self.file_name())
    }

    /// The `Packages` stanza: the control fields with `Filename`, `Size` and the
    /// file's digests before `Description`.
    pub fn stanza(&self, size: u64, sha256: &str, sha512: &str) -> String {
        let added = format!("Filename: {}\nSize: {size}\nSHA256: {sha256}\nSHA512: {sha512}\n", self.pool_path());
        let control = self.control.trim_end_matches('\n');
        let mut out = String::new();
        let mut inserted = false;
        for line in control.lines() {
            if !inserted && line.starts_with("Description:") {
                out.push_str(&added);
                inserted = true;
            }
            out.push_str(line);
            out.push('\n');
        }
        if !inserted {
            out.push_str(&added);
        }
        out
    }
}

/// The value of a single-line field of a deb822 paragraph.
pub fn field(paragraph: &str, name: &str) -> Option<String> {
    paragraph.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_owned()))
}

/// An index file of the suite: its path relative to `dists/<suite>/` and bytes.
pub struct IndexFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// `Packages`, `Packages.gz` and `Packages.xz` of one architecture from its stanzas.
pub fn packages_files(arch: &str, stanzas: &[String]) -> Result<Vec<IndexFile>, Error> {
    let plain = stanzas.join("\n").into_bytes();
    let dir = format!("{COMPONENT}/binary-{arch}");
    let gz = crate::write::gzip(&plain);
    let mut xz = crate::write::xz_writer(Vec::new(), 6, 1)?;
    xz.write_all(&plain).map_err(|e| Error::io(Path::new("Packages.xz"), e))?;
    let xz = xz.finish().map_err(|e| Error::io(Path::new("Packages.xz"), e))?;
    Ok(vec![
        IndexFile { path: format!("{dir}/Packages"), bytes: plain },
        IndexFile { path: format!("{dir}/Packages.gz"), bytes: gz },
        IndexFile { path: format!("{dir}/Packages.xz"), bytes: xz },
    ])
}

/// What a `Release` file says besides its indices.
pub struct ReleaseInfo<'a> {
    pub origin: &'a str,
    pub label: &'a str,
    pub description: &'a str,
    pub date: u64,
    pub valid_until: Option<u64>,
}

/// The `Release` file of the suite over `files`, with their SHA-256 digests only:
/// apt fetches `by-hash/<strongest listed>/`, and only `by-hash/SHA256/` exists
/// (as in Debian's own archive).
pub fn release(info: &ReleaseInfo, files: &[IndexFile]) -> String {
    let mut r = format!("Origin: {}\nLabel: {}\nSuite: {SUITE}\nCodename: {SUITE}\nDate: {}\n", info.origin, info.label, rfc2822(info.date));
    if let Some(t) = info.valid_until {
        r.push_str(&format!("Valid-Until: {}\n", rfc2822(t)));
    }
    r.push_str(&format!("Architectures: {}\nComponents: {COMPONENT}\nDescription: {}\nAcquire-By-Hash: yes\n", ARCHITECTURES.join(" "), info.description));
    r.push_str("SHA256:\n");
    for f in files {
        r.push_str(&format!(" {} {:>16} {}\n", hex(&sha2::Sha256::digest(&f.bytes)), f.bytes.len(), f.path));
    }
    r
}

/// The SHA-256 digests a `Release` file lists (to keep its `by-hash` files for
/// clients that read it a moment before it was replaced).
pub fn release_sha256s(release: &str) -> Vec<String> {
    let mut in_section = false;
    let mut out = Vec::new();
    for line in release.lines() {
        if !line.starts_with(' ') {
            in_section = line == "SHA256:";
            continue;
        }
        if in_section {
            if let Some(h) = line.split_whitespace().next() {
                out.push(h.to_owned());
            }
        }
    }
    out
}

/// Debian's version order (`dpkg --compare-versions`): epoch, then upstream
/// version, then revision, each compared with [`compare_part`].
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb).then_with(|| compare_part(ua, ub)).then_with(|| compare_part(ra, rb))
}

/// dpkg's comparison of one version part: alternating non-digit runs (letters
/// before non-letters, `~` before everything, even the end) and numbers.
fn compare_part(a: &str, b: &str) -> Ordering {
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ca, cb) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ca != cb {
                return ca.cmp(&cb);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (si, sj) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (na, nb) = (&a[si..i], &b[sj..j]);
        let by_len = na.len().cmp(&nb.len());
        if by_len != Ordering::Equal {
            return by_len;
        }
        let by_digits = na.cmp(nb);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_dpkg_sorts_them() {
        let ordered = ["1.0~rc1", "1.0", "1.0-1", "1.0-2", "1.0-10", "1.0a", "1.0+b1", "1.1", "2026.1.24~3-1", "2026.1.24-1", "2026.1.24.3-1", "1:0.1"];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(compare_versions(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(compare_versions("1.01", "1.1"), Ordering::Equal);
    }

    #[test]
    fn release_lists_every_index_by_sha256_only() {
        let files = vec![IndexFile { path: "main/binary-amd64/Packages".into(), bytes: b"x".to_vec() }];
        let info = ReleaseInfo { origin: "o", label: "l", description: "d", date: 0, valid_until: None };
        let r = release(&info, &files);
        assert!(r.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\n"), "{r}");
        assert!(!r.contains("Valid-Until"));
        assert!(r.contains("Acquire-By-Hash: yes\n"));
        assert_eq!(release_sha256s(&r), [hex(&sha2::Sha256::digest(b"x"))]);
        assert!(!r.contains("SHA512:") && !r.contains("MD5Sum:") && !r.contains("SHA1:"), "{r}");
    }
}
