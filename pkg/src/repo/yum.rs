//! The yum/dnf side of a repository: `repodata/` for the signed `.rpm`s under
//! `packages/`, written with `rpmrepo_metadata`.
//!
//! The metadata is gzip-compressed (every dnf, yum and zypper reads it), its files
//! are named by their SHA-256 (`<sha256>-primary.xml.gz`, so a client never mixes
//! an old `repomd.xml` with a new index), and every time in it is the given time
//! rather than a file's modification time: the same packages give the same bytes.

use std::path::Path;

use rpmrepo_metadata::{
    Checksum, ChecksumType, FilelistsXml, OtherXml, Package, PackageOptions, PackageSource, PrimaryXml, RepomdRecord, RepomdXml, Repository,
};
use sha2::Digest as _;

use crate::write::hex;
use crate::Error;

/// Where the packages are, relative to the yum root.
pub const PACKAGES_DIR: &str = "packages";

/// Name, EVR and architecture of an `.rpm`, read from its header.
#[derive(Debug, Clone)]
pub struct Rpm {
    pub name: String,
    pub evr: rpmrepo_metadata::Evr<'static>,
    pub arch: String,
    pub build_time: u64,
}

impl Rpm {
    pub fn read(path: &Path) -> Result<Rpm, Error> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = ::rpm::PackageMetadata::parse(&mut std::io::BufReader::new(f)).map_err(|e| Error::input_from(path, "not a readable rpm package", e))?;
        let get = |r: Result<&str, ::rpm::Error>, what: &str| r.map(str::to_owned).map_err(|e| Error::input_from(path, format!("no {what}"), e));
        let name = get(meta.get_name(), "name")?;
        let version = get(meta.get_version(), "version")?;
        let release = get(meta.get_release(), "release")?;
        let arch = get(meta.get_arch(), "architecture")?;
        let epoch = meta.get_epoch().map(|e| e.to_string()).unwrap_or_default();
        let build_time = meta.get_build_time().map_err(|e| Error::input_from(path, "no build time", e))?;
        Ok(Rpm { name, evr: rpmrepo_metadata::Evr::new(epoch, version, release), arch, build_time })
    }

    /// `<name>-<version>-<release>.<arch>.rpm`.
    pub fn file_name(&self) -> String {
        format!("{}-{}-{}.{}.rpm", self.name, self.evr.version(), self.evr.release(), self.arch)
    }
}

/// Writes `repodata/` under `root` for the packages `files` (paths relative to
/// `root`), with `time` as every timestamp and the repository's revision.
/// Returns the bytes of `repomd.xml`, which the caller signs.
pub fn write_repodata(root: &Path, files: &[String], time: u64) -> Result<Vec<u8>, Error> {
    let mut repo = Repository::new();
    for rel in files {
        let path = root.join(rel);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let meta = ::rpm::PackageMetadata::parse(&mut &bytes[..]).map_err(|e| Error::input_from(&path, "not a readable rpm package", e))?;
        let source = PackageSource {
            checksum: Some(Checksum::Sha256(hex(&sha2::Sha256::digest(&bytes)))),
            size_package: Some(bytes.len() as u64),
            time_file: time,
            location_href: rel.clone(),
            location_base: None,
        };
        let pkg = Package::from_package_metadata(&meta, source, PackageOptions::default()).map_err(|e| Error::input_from(&path, "repository metadata", e))?;
        repo.add_package(pkg);
    }
    repo.sort();

    let dir = root.join("repodata");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let fail = |what: &str, e: rpmrepo_metadata::MetadataError| Error::encode(format!("writing {what}"), e);
    let parts = [
        ("primary", repo.write_metadata_bytes::<PrimaryXml>().map_err(|e| fail("primary.xml", e))?),
        ("filelists", repo.write_metadata_bytes::<FilelistsXml>().map_err(|e| fail("filelists.xml", e))?),
        ("other", repo.write_metadata_bytes::<OtherXml>().map_err(|e| fail("other.xml", e))?),
    ];
    for (name, xml) in parts {
        let gz = crate::write::gzip(&xml);
        let href = format!("repodata/{}-{name}.xml.gz", hex(&sha2::Sha256::digest(&gz)));
        let path = root.join(&href);
        std::fs::write(&path, &gz).map_err(|e| Error::io(&path, e))?;
        let mut record = RepomdRecord::new(name, Path::new(&href), root, ChecksumType::Sha256).map_err(|e| fail(&href, e))?;
        record.timestamp = time as i64;
        repo.repomd_mut().add_record(record);
    }
    repo.repomd_mut().set_revision(&time.to_string());
    repo.write_metadata_bytes::<RepomdXml>().map_err(|e| fail("repomd.xml", e))
}
