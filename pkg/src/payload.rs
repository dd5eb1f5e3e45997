//! What a package is built from besides the manifest and the templates: the
//! downloaded payload of one target, the repository keys, the transpile cache.

use std::path::PathBuf;

/// Where the downloaded payload of one target lies.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The `npm ci` tree: package.json and node_modules.
    pub app: PathBuf,
    /// The Node.js runtime: `bin/node` and `LICENSE`.
    pub node: PathBuf,
    /// The gateway's transpile cache (jiti) built for the installed paths, with
    /// its [`SEED_STAMP`] file; shipped read-only and copied into the cache
    /// directory before a start. None: the first start transpiles.
    pub jiti: Option<PathBuf>,
    /// The public keys of the package repository, shipped so that a key
    /// rotation reaches users as an ordinary upgrade (the `.deb` installs the
    /// binary keyring apt's `Signed-By` names, the `.rpm` the armoured keys for
    /// `rpm --import`).
    pub keyring: Option<Keyring>,
}

/// The repository's public keys in both encodings.
#[derive(Debug, Clone)]
pub struct Keyring {
    pub binary: Vec<u8>,
    pub armored: String,
}

/// The file in the shipped transpile cache whose contents identify the cache.
pub const SEED_STAMP: &str = "seed-id";
