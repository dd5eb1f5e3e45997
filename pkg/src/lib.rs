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

pub mod blocks;
pub mod deb;
pub mod format;
pub mod gateway;
pub mod jiti;
pub mod licences;
pub mod linux;
pub mod macos;
pub mod manifest;
mod md5lanes;
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

/// What went wrong, and where. The message names the file, path, key or artifact part
/// it is about; the cause, when another library or the system reported one, is the
/// error's [`source`](std::error::Error::source) (print the chain, as `{:#}` of
/// `anyhow` does, to see both).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// An input is not what it must be: the payload tree, the transpile cache, a
    /// `package.json` or lock file, a package given to a repository.
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String, source: Option<Cause> },
    /// An install path that cannot be staged as asked.
    #[error("{path}: {message}")]
    Layout { path: String, message: String },
    /// A signing key that is unusable, missing, or given twice.
    #[error("{}{message}", origin.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Key { origin: Option<PathBuf>, message: String, source: Option<Cause> },
    /// A value the format it goes into cannot hold (a timestamp, a mode, a requirement).
    #[error("{0}")]
    Value(String),
    /// An encoder (compressor, rpm header, OpenPGP armour, JSON) failed on a part of
    /// an artifact: which part, and the encoder's error.
    #[error("{part}")]
    Encode { part: String, source: Cause },
    /// A repository refuses what it was asked to publish.
    #[error("{0}")]
    Refused(String),
    #[error("{file}: {message}")]
    Template { file: String, message: String },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
}

/// The error another library reported.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }

    pub(crate) fn input(path: &Path, message: impl Into<String>) -> Error {
        Error::Input { path: path.to_owned(), message: message.into(), source: None }
    }

    pub(crate) fn input_from(path: &Path, message: impl Into<String>, source: impl Into<Cause>) -> Error {
        Error::Input { path: path.to_owned(), message: message.into(), source: Some(source.into()) }
    }

    pub(crate) fn layout(path: &str, message: impl Into<String>) -> Error {
        Error::Layout { path: path.to_owned(), message: message.into() }
    }

    pub(crate) fn key(origin: Option<&Path>, message: impl Into<String>, source: Option<Cause>) -> Error {
        Error::Key { origin: origin.map(Path::to_owned), message: message.into(), source }
    }

    pub(crate) fn encode(part: impl Into<String>, source: impl Into<Cause>) -> Error {
        Error::Encode { part: part.into(), source: source.into() }
    }
}

/// The message of `e` followed by those of its causes, joined by ": ".
pub fn report(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Settings of one build that are not part of the package's identity.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Timestamp of every archive member (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Compressor threads.
    pub threads: u32,
    /// The compressed pieces of this build's archives (.deb data, .pkg Payload),
    /// shared by its writers so that what several artifacts hold alike is
    /// compressed once.
    pub blocks: blocks::Cache,
}
