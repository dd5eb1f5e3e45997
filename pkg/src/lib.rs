//! Packaging library of the clawdbot system packages.
//!
//! - [`manifest`]: the one declarative manifest, parsed and validated;
//! - [`target`]: targets and formats;
//! - [`stage`]: the staged tree (what goes where, with which mode), metadata only;
//! - [`template`]: `@NAME@` substitution for the plain service and script files;
//! - [`gateway`]: the gateway's runtime contract (environment, first configuration), rendered into each format's files;
//! - [`linux`]: what a Linux package installs, shared by the deb and rpm writers;
//! - [`licences`]: the bundled npm packages' licences, for the copyright data;
//! - [`format`]: the interface of a format ([`format::Writer`]) and the one map from [`Format`] to its module;
//! - [`deb`], [`rpm`], [`macos`]: the formats;
//! - [`payload`]: the downloaded payload, repository keys and transpile cache a package is built from;
//! - [`repo`]: signed APT and yum repositories of built packages;
//! - [`sbom`]: the CycloneDX bill of materials of each artifact.
//!
//! Writers are functions of (manifest, stage) to bytes: no network, no root, no
//! knowledge of where the payload came from.

pub mod deb;
pub mod format;
pub mod gateway;
pub mod jiti;
pub mod licences;
pub mod linux;
pub mod macos;
pub mod manifest;
pub mod payload;
pub mod repo;
pub mod rpm;
pub mod sbom;
pub mod stage;
pub mod target;
pub mod template;
mod write;

use std::path::{Path, PathBuf};

pub use manifest::Manifest;
pub use stage::Stage;
pub use target::{Format, Target};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Stage(String),
    #[error("{file}: {message}")]
    Template { file: String, message: String },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }
}

/// Settings of one build that are not part of the package's identity.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Timestamp of every archive member (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Compressor threads.
    pub threads: u32,
}
