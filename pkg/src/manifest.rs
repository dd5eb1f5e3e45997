//! The manifest model: `clawdbot.toml` read with serde and checked value by value.
//!
//! Everything a format writer knows about the package comes from here. This module
//! only parses and validates; it does not touch the payload or the file system
//! beyond reading the one file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use crate::target::Target;

/// A manifest that failed to load: which file, which key, what is wrong.
#[derive(Debug)]
pub struct ManifestError {
    pub file: PathBuf,
    /// Dotted key path (`package.version`), empty when the file could not be parsed at all.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub package: Package,
    pub payload: Payload,
    pub service: Service,
    pub linux: Linux,
    pub deb: Deb,
    #[serde(default)]
    pub rpm: Option<Rpm>,
    /// Only needed to build the macOS installer package.
    #[serde(default)]
    pub macos: Option<Macos>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    /// Upstream (npm) version, e.g. `2026.1.24-3`.
    pub version: String,
    /// [`Package::version`], parsed at load.
    #[serde(skip)]
    pub upstream: UpstreamVersion,
    pub revision: u32,
    pub summary: String,
    pub description: String,
    pub maintainer: String,
    pub homepage: String,
    pub license: String,
    pub copyright: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Directory (relative to the manifest) holding package.json and package-lock.json.
    pub npm_dir: PathBuf,
    /// The CLI entry point relative to the installed app directory.
    pub entry: String,
    pub node: Node,
    #[serde(default)]
    pub prune: Prune,
}

/// What is removed from the installed npm tree: files the gateway never loads.
/// Licence texts (LICENSE*, LICENCE*, COPYING*, NOTICE*) are never removed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prune {
    /// Paths relative to the app directory whose whole tree is left untouched.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Exact file names, removed wherever they occur.
    #[serde(default)]
    pub names: Vec<String>,
    /// File name endings (`.map`), removed wherever they occur.
    #[serde(default)]
    pub suffixes: Vec<String>,
    /// Directory names (`test`), removed with their contents wherever they occur.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Paths relative to the app directory, removed with everything below them
    /// even inside a kept tree: copies that nothing loads. Each must be in the
    /// payload (a rule that no longer matches stops the build).
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub version: String,
    pub targets: BTreeMap<String, NodeRuntime>,
}

/// One Node.js runtime tarball from the npm registry, pinned by integrity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRuntime {
    pub package: String,
    pub version: String,
    /// Subresource-integrity string as the registry publishes it (`sha512-<base64>`).
    pub integrity: String,
    /// The SHA-512 digest of [`NodeRuntime::integrity`], decoded at load.
    #[serde(skip)]
    pub sha512: Vec<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub unit: String,
    pub launchd_label: String,
    pub description: String,
    pub port: u16,
    pub shell: String,
    pub startup: Startup,
}

/// How quickly the gateway must answer after its unit starts: `systemctl start`
/// (or restart, or the restart of an upgrade) to HTTP 200, as a fraction of
/// upstream's own per-user start of the same app (warm caches, no sandbox)
/// timed on the same machine in the same run: a ratio holds on a machine of
/// any speed. The end-to-end scenarios hold the packages to it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Startup {
    /// The median of the starts a scenario times, against upstream's median.
    pub median_ratio: f64,
    /// Every start, against upstream's median.
    pub max_ratio: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linux {
    pub prefix: String,
    pub bin: String,
    pub user: String,
    pub group: String,
    pub state_dir: String,
    pub cache_dir: String,
    pub config_dir: String,
    pub limits: Limits,
}

/// Ceilings of the gateway's unit (and of the admin command's transient units),
/// so that a looping or hostile agent cannot take the whole machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `MemoryMax=`: bytes with an optional K, M or G suffix.
    pub memory_max: String,
    /// `TasksMax=`: processes and threads.
    pub tasks_max: u32,
    /// `LimitNOFILE=`: open files.
    pub files_max: u32,
    /// Size of the file system that holds the gateway's own log files.
    pub log_max: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deb {
    pub section: String,
    pub priority: String,
    pub depends: Vec<String>,
    /// Of both members. xz only: dpkg also reads zstd, but bookworm's lintian
    /// calls such a package malformed, and gzip is half as dense.
    pub compression: Compression,
}

/// A payload compressor and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compression {
    pub format: Compressor,
    pub level: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compressor {
    Xz,
    Zstd,
}

impl Compressor {
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Xz => "xz",
            Compressor::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} -{}", self.format.name(), self.level)
    }
}

impl Compression {
    fn check(&self, key: &str, allowed: &[Compressor]) -> Result<(), (String, String)> {
        if !allowed.contains(&self.format) {
            let names: Vec<&str> = allowed.iter().map(|c| c.name()).collect();
            return Err(bad(&format!("{key}.format"), &format!("{:?} is not supported here (supported: {})", self.format.name(), names.join(", "))));
        }
        let max = match self.format {
            Compressor::Xz => 9,
            Compressor::Zstd => 19,
        };
        let min = u32::from(self.format == Compressor::Zstd);
        if !(min..=max).contains(&self.level) {
            return Err(bad(&format!("{key}.level"), &format!("{} is not a {} level ({min} to {max})", self.level, self.format.name())));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rpm {
    pub group: String,
    pub requires: Vec<String>,
    /// Of the cpio payload: xz or zstd (rpm >= 4.14).
    pub compression: Compression,
}

/// The macOS installer package: where it installs, and the hidden daemon account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Macos {
    /// Root-owned directory of the runtime, the gateway and the admin commands.
    pub prefix: String,
    /// The admin entry point on the PATH (a link to the one under the prefix).
    pub bin: String,
    /// The daemon account, created by the package's postinstall script.
    pub user: String,
    pub group: String,
    /// The gateway's state, the account's home: 0700, owned by `user`.
    pub state_dir: String,
    /// `SHELL` of the service: the agent's tools run commands with it.
    pub shell: String,
    /// Package identifier, as `pkgutil --pkgs` lists it.
    pub identifier: String,
    /// Oldest macOS the package installs on (`MAJOR.MINOR`).
    pub minimum_os: String,
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ManifestError { file: path.to_owned(), key: String::new(), message: format!("cannot read: {e}") })?;
        Manifest::parse(&text, path)
    }

    /// Parses and validates manifest text; `file` is only used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, ManifestError> {
        let mut manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError { file: file.to_owned(), key: String::new(), message: e.to_string().trim_end().to_owned() })?;
        manifest.validate().map_err(|(key, message)| ManifestError { file: file.to_owned(), key, message })?;
        Ok(manifest)
    }

    /// Checks every value and keeps the parsed form of those that have one.
    fn validate(&mut self) -> Result<(), (String, String)> {
        // The parsed forms first: a bad version or integrity is reported before any other value.
        self.package.parse_version()?;
        self.payload.decode_integrity()?;
        self.package.validate()?;
        self.payload.validate()?;
        self.service.validate()?;
        self.linux.validate()?;
        self.deb.validate()?;
        if let Some(rpm) = &self.rpm {
            rpm.validate()?;
        }
        if let Some(mac) = &self.macos {
            mac.validate()?;
        }
        Ok(())
    }

    /// The macOS table, or an error naming it when a macOS package is asked for without it.
    pub fn macos(&self) -> Result<&Macos, ManifestError> {
        self.macos.as_ref().ok_or_else(|| ManifestError {
            file: PathBuf::from("clawdbot.toml"),
            key: "macos".into(),
            message: "the [macos] table is needed to build the macOS package".into(),
        })
    }

    /// The pinned Node.js runtime for a target, if the manifest has one.
    pub fn node_runtime(&self, target: Target) -> Option<&NodeRuntime> {
        self.payload.node.targets.get(target.name())
    }

    pub fn upstream_version(&self) -> UpstreamVersion {
        self.package.upstream.clone()
    }

    /// The Debian version: `UPSTREAM-REVISION`, see [`UpstreamVersion::distro`].
    pub fn deb_version(&self) -> String {
        format!("{}-{}", self.upstream_version().distro(), self.package.revision)
    }
}

impl Package {
    /// Parses [`Package::version`] into [`Package::upstream`].
    fn parse_version(&mut self) -> Result<(), (String, String)> {
        self.upstream = UpstreamVersion::parse(&self.version)
            .ok_or_else(|| bad("package.version", "must look like an npm version: MAJOR.MINOR.PATCH with an optional -SUFFIX of letters, digits and dots"))?;
        Ok(())
    }

    /// Checks the `[package]` values other than the version.
    fn validate(&self) -> Result<(), (String, String)> {
        check("package.name", &self.name, is_package_name, "must be lower-case letters, digits, '+', '-', '.', starting with a letter or digit")?;
        if self.revision == 0 {
            return Err(bad("package.revision", "must be 1 or more"));
        }
        for (key, value) in [
            ("package.summary", &self.summary),
            ("package.description", &self.description),
            ("package.copyright", &self.copyright),
            ("package.license", &self.license),
        ] {
            if value.trim().is_empty() {
                return Err(bad(key, "must not be empty"));
            }
        }
        if self.summary.len() > 80 || self.summary.contains('\n') {
            return Err(bad("package.summary", "must be one line of at most 80 characters"));
        }
        check("package.license", &self.license, |l| l == "MIT", "is not supported: the packages carry the MIT licence text only")?;
        check("package.maintainer", &self.maintainer, is_maintainer, "must be 'Name <address@domain>'")?;
        check("package.homepage", &self.homepage, |h| h.starts_with("https://") && !h.contains(char::is_whitespace), "must be an https:// URL")?;
        Ok(())
    }
}

impl Payload {
    /// Decodes each node target's integrity into [`NodeRuntime::sha512`].
    fn decode_integrity(&mut self) -> Result<(), (String, String)> {
        for (name, rt) in &mut self.node.targets {
            rt.sha512 = sri_sha512(&rt.integrity)
                .ok_or_else(|| bad(&format!("payload.node.targets.{name}.integrity"), "must be 'sha512-' followed by the base64 of a 64-byte digest"))?;
        }
        Ok(())
    }

    /// Checks the `[payload]` paths, its prune lists and its node targets.
    fn validate(&self) -> Result<(), (String, String)> {
        check("payload.entry", &self.entry, is_relative_clean, "must be a relative path without '..'")?;
        check("payload.npm_dir", &self.npm_dir.to_string_lossy(), is_relative_clean, "must be a relative path without '..'")?;
        self.prune.validate()?;
        self.node.validate()
    }
}

impl Prune {
    /// Checks `[payload.prune]`: plain names in the lists, clean relative paths in `keep` and `remove`.
    fn validate(&self) -> Result<(), (String, String)> {
        for (list, items) in [("names", &self.names), ("suffixes", &self.suffixes), ("dirs", &self.dirs)] {
            for (i, name) in items.iter().enumerate() {
                check(
                    &format!("payload.prune.{list}[{i}]"),
                    name,
                    |n| !n.contains('/') && is_relative_clean(n.trim_start_matches('.')),
                    "must be a plain file name (or ending)",
                )?;
            }
        }
        for (list, paths) in [("keep", &self.keep), ("remove", &self.remove)] {
            for (i, path) in paths.iter().enumerate() {
                check(&format!("payload.prune.{list}[{i}]"), path, is_relative_clean, "must be a relative path without '..'")?;
            }
        }
        Ok(())
    }
}

impl Node {
    /// Checks each `[payload.node.targets.*]`: a known target, an npm package name and a version.
    fn validate(&self) -> Result<(), (String, String)> {
        for (name, rt) in &self.targets {
            let key = format!("payload.node.targets.{name}");
            if name.parse::<Target>().is_err() {
                return Err((key, format!("unknown target '{name}' (known: {})", Target::ALL.map(|t| t.name()).join(", "))));
            }
            check(&format!("{key}.package"), &rt.package, is_package_name, "must be an npm package name")?;
            check(&format!("{key}.version"), &rt.version, |v| UpstreamVersion::parse(v).is_some(), "must be a version such as 22.23.3")?;
        }
        Ok(())
    }
}

impl Service {
    /// Checks the `[service]` names, port and shell.
    fn validate(&self) -> Result<(), (String, String)> {
        check("service.unit", &self.unit, |u| u.ends_with(".service") && is_word(u.trim_end_matches(".service")), "must be NAME.service")?;
        check("service.launchd_label", &self.launchd_label, is_word, "must be letters, digits, '.', '-', '_'")?;
        check(
            "service.description",
            &self.description,
            |d| !d.trim().is_empty() && !d.contains(['\n', '"', '\'', '$', '%', '\\']),
            "must be one line without quotes, '$', '%' or '\\'",
        )?;
        if self.port == 0 {
            return Err(bad("service.port", "must be 1-65535"));
        }
        check("service.shell", &self.shell, is_abs_clean, "must be an absolute path")?;
        let Startup { median_ratio, max_ratio } = self.startup;
        // A package that starts slower than upstream's own service makes no promise.
        if !(median_ratio > 0.0 && median_ratio <= 1.0) {
            return Err(bad("service.startup.median_ratio", "must be more than 0 and at most 1 (upstream's own start)"));
        }
        if !(max_ratio >= median_ratio && max_ratio <= 4.0) {
            return Err(bad("service.startup.max_ratio", "must be at least median_ratio and at most 4"));
        }
        Ok(())
    }
}

impl Linux {
    /// Checks the `[linux]` paths and accounts, then its limits.
    fn validate(&self) -> Result<(), (String, String)> {
        for (key, value) in [
            ("linux.prefix", &self.prefix),
            ("linux.bin", &self.bin),
            ("linux.state_dir", &self.state_dir),
            ("linux.cache_dir", &self.cache_dir),
            ("linux.config_dir", &self.config_dir),
        ] {
            check(key, value, is_abs_clean, "must be an absolute path of letters, digits, '/', '.', '_', '-' without '..' or a trailing '/'")?;
            if value.matches('/').count() < 2 {
                return Err(bad(key, "must be at least two levels below /"));
            }
        }
        check("linux.state_dir", &self.state_dir, |d| d.starts_with("/var/lib/"), "must be below /var/lib (it is the unit's StateDirectory=)")?;
        check("linux.cache_dir", &self.cache_dir, |d| d.starts_with("/var/cache/"), "must be below /var/cache (it is the unit's CacheDirectory=)")?;
        check("linux.user", &self.user, is_user_name, "must be a system account name: lower-case letters, digits, '_', '-', at most 32")?;
        check("linux.group", &self.group, is_user_name, "must be a system group name: lower-case letters, digits, '_', '-', at most 32")?;
        self.limits.validate()
    }
}

impl Limits {
    /// Checks `[linux.limits]` against the least the gateway runs with.
    fn validate(&self) -> Result<(), (String, String)> {
        for (key, value, min) in [("linux.limits.memory_max", &self.memory_max, 256 << 20), ("linux.limits.log_max", &self.log_max, 1 << 20)] {
            match parse_size(value) {
                Some(bytes) if bytes >= min => {}
                _ => return Err(bad(key, &format!("must be a size such as 512M or 2G, at least {} MiB", min >> 20))),
            }
        }
        if self.tasks_max < 64 {
            return Err(bad("linux.limits.tasks_max", "must be at least 64 (Node.js alone runs about a dozen threads)"));
        }
        if self.files_max < 1024 {
            return Err(bad("linux.limits.files_max", "must be at least 1024"));
        }
        Ok(())
    }
}

impl Deb {
    /// Checks the `[deb]` section, priority, dependencies and compression.
    fn validate(&self) -> Result<(), (String, String)> {
        check("deb.section", &self.section, is_word, "must be a Debian section name")?;
        check(
            "deb.priority",
            &self.priority,
            |p| ["required", "important", "standard", "optional"].contains(&p),
            "must be required, important, standard or optional",
        )?;
        for (i, dep) in self.depends.iter().enumerate() {
            check(
                &format!("deb.depends[{i}]"),
                dep,
                |d| !d.trim().is_empty() && !d.contains([',', '\n']),
                "must be one dependency (alternatives with '|'), without ','",
            )?;
        }
        self.compression.check("deb.compression", &[Compressor::Xz])
    }
}

impl Rpm {
    /// Checks the `[rpm]` compression, group and requirements.
    fn validate(&self) -> Result<(), (String, String)> {
        self.compression.check("rpm.compression", &[Compressor::Xz, Compressor::Zstd])?;
        check("rpm.group", &self.group, |g| !g.trim().is_empty() && !g.contains('\n'), "must be one line")?;
        for (i, req) in self.requires.iter().enumerate() {
            check(&format!("rpm.requires[{i}]"), req, is_rpm_requirement, "must be one requirement: NAME or NAME OP VERSION with OP one of < <= = >= >")?;
        }
        Ok(())
    }
}

impl Macos {
    /// Checks the `[macos]` paths, daemon account, identifier and minimum OS.
    fn validate(&self) -> Result<(), (String, String)> {
        for (key, value) in [("macos.prefix", &self.prefix), ("macos.bin", &self.bin), ("macos.state_dir", &self.state_dir), ("macos.shell", &self.shell)] {
            check(key, value, is_abs_clean, "must be an absolute path of letters, digits, '/', '.', '_', '-' without '..' or a trailing '/'")?;
        }
        for (key, value) in [("macos.prefix", &self.prefix), ("macos.bin", &self.bin), ("macos.state_dir", &self.state_dir)] {
            if value.matches('/').count() < 2 {
                return Err(bad(key, "must be at least two levels below /"));
            }
        }
        if self.state_dir.starts_with(&format!("{}/", self.prefix)) || self.state_dir == self.prefix {
            return Err(bad("macos.state_dir", "must not be inside macos.prefix (the uninstaller removes the prefix, the state is kept)"));
        }
        check(
            "macos.user",
            &self.user,
            |u| is_user_name(u) && u.starts_with('_'),
            "must be a daemon account name: '_' then lower-case letters, digits, '_', '-', at most 32",
        )?;
        check("macos.group", &self.group, |g| is_user_name(g) && g.starts_with('_'), "must be a daemon group name starting with '_'")?;
        check(
            "macos.identifier",
            &self.identifier,
            |i| i.split('.').count() >= 3 && i.split('.').all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
            "must be a reverse-DNS identifier such as com.example.package",
        )?;
        check(
            "macos.minimum_os",
            &self.minimum_os,
            |v| {
                let parts: Vec<&str> = v.split('.').collect();
                (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
            },
            "must be a macOS version such as 11.0",
        )
    }
}

/// An npm version split into its release and its suffix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamVersion {
    pub release: String,
    pub suffix: Option<String>,
}

impl UpstreamVersion {
    pub fn parse(v: &str) -> Option<UpstreamVersion> {
        let (release, suffix) = match v.split_once('-') {
            Some((r, s)) => (r, Some(s)),
            None => (v, None),
        };
        let parts: Vec<&str> = release.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        if let Some(s) = suffix {
            if s.is_empty() || s.split('.').any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric())) {
                return None;
            }
        }
        Some(UpstreamVersion { release: release.to_owned(), suffix: suffix.map(str::to_owned) })
    }

    /// The version as dpkg and rpm should see it, so that both sort releases in
    /// publication order:
    ///
    /// - a purely numeric suffix is a re-release of the same version (upstream published
    ///   `2026.1.24-3` after `2026.1.24` to fix it), so it becomes a fourth component:
    ///   `2026.1.24-3` → `2026.1.24.3`, which sorts after `2026.1.24` and before `2026.1.25`;
    /// - any other suffix is a pre-release and sorts before the release with `~`:
    ///   `2026.2.0-beta.1` → `2026.2.0~beta.1`.
    ///
    /// The result contains no `-`, so it is a valid RPM `Version` and a Debian upstream version.
    pub fn distro(&self) -> String {
        match &self.suffix {
            None => self.release.clone(),
            Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => format!("{}.{}", self.release, s),
            Some(s) => format!("{}~{}", self.release, s),
        }
    }
}

/// Decodes a `sha512-<base64>` integrity string into its digest.
pub fn sri_sha512(integrity: &str) -> Option<Vec<u8>> {
    let b64 = integrity.strip_prefix("sha512-")?;
    let digest = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (digest.len() == 64).then_some(digest)
}

/// A size as systemd reads it (`2G`, `512M`, `65536`), in bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 10),
        b'M' => (&s[..s.len() - 1], 20),
        b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn check(key: &str, value: &str, ok: impl Fn(&str) -> bool, what: &str) -> Result<(), (String, String)> {
    if ok(value) {
        Ok(())
    } else {
        Err((key.to_owned(), format!("{value:?} {what}")))
    }
}

fn bad(key: &str, message: &str) -> (String, String) {
    (key.to_owned(), message.to_owned())
}

fn is_package_name(s: &str) -> bool {
    let s = s.strip_prefix('@').map(|s| s.replacen('/', "-", 1)).unwrap_or_else(|| s.to_owned());
    s.len() >= 2 && s.as_bytes()[0].is_ascii_alphanumeric() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// `NAME` or `NAME OP VERSION`, as a spec file's `Requires:` takes one.
fn is_rpm_requirement(s: &str) -> bool {
    let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic() && !b",'\"$%\\<>=".contains(&b));
    match s.split_whitespace().collect::<Vec<_>>()[..] {
        [name] => token(name),
        [name, op, evr] => token(name) && ["<", "<=", "=", ">=", ">"].contains(&op) && token(evr) && evr.matches('-').count() <= 1,
        _ => false,
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn is_user_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && (s.as_bytes()[0].is_ascii_lowercase() || s.as_bytes()[0] == b'_')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
}

fn is_maintainer(s: &str) -> bool {
    let Some((name, rest)) = s.split_once(" <") else { return false };
    let Some(addr) = rest.strip_suffix('>') else { return false };
    !name.trim().is_empty() && addr.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')) && !addr.contains([' ', '<', '>'])
}

/// Absolute, normalised, and made only of characters that need no quoting in a
/// shell script, a systemd unit or a plist.
pub(crate) fn is_abs_clean(s: &str) -> bool {
    s.starts_with('/') && s.len() > 1 && is_relative_clean(&s[1..])
}

pub(crate) fn is_relative_clean(s: &str) -> bool {
    !s.is_empty()
        && !s.ends_with('/')
        && s.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../clawdbot.toml")).unwrap()
    }

    fn err(text: &str) -> ManifestError {
        Manifest::parse(text, Path::new("m.toml")).unwrap_err()
    }

    #[test]
    fn the_shipped_manifest_is_valid() {
        let m = Manifest::parse(&real(), Path::new("clawdbot.toml")).unwrap();
        assert_eq!(m.package.name, "clawdbot");
        assert_eq!(m.deb_version(), "2026.1.24.3-1");
        let rpm = m.rpm.as_ref().expect("the shipped manifest has an [rpm] table");
        assert!(rpm.requires.iter().any(|r| r == "/usr/sbin/useradd"), "{:?}", rpm.requires);
        for t in [Target::LinuxX64, Target::LinuxArm64, Target::DarwinX64, Target::DarwinArm64] {
            assert!(m.node_runtime(t).is_some(), "{t:?}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err(&real().replace("revision = 1", "revision = 1\nrevison = 2"));
        assert!(e.to_string().contains("unknown field `revison`"), "{e}");
        assert!(e.to_string().starts_with("m.toml: "), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("version = \"2026.1.24-3\"", "version = \"latest\"", "package.version"),
            ("revision = 1", "revision = 0", "package.revision"),
            ("port = 18789", "port = 0", "service.port"),
            ("median_ratio = 0.85", "median_ratio = 0.0", "service.startup.median_ratio"),
            ("median_ratio = 0.85", "median_ratio = 1.5", "service.startup.median_ratio"),
            ("max_ratio = 1.3", "max_ratio = 0.5", "service.startup.max_ratio"),
            ("max_ratio = 1.3", "max_ratio = 40.0", "service.startup.max_ratio"),
            ("state_dir = \"/var/lib/clawdbot\"", "state_dir = \"/var/lib/../../etc\"", "linux.state_dir"),
            ("state_dir = \"/var/lib/clawdbot\"", "state_dir = \"/var/lib/claw bot\"", "linux.state_dir"),
            ("user = \"clawdbot\"", "user = \"Root;rm\"", "linux.user"),
            ("memory_max = \"2G\"", "memory_max = \"2 GB\"", "linux.limits.memory_max"),
            ("memory_max = \"2G\"", "memory_max = \"1M\"", "linux.limits.memory_max"),
            ("log_max = \"64M\"", "log_max = \"64T\"", "linux.limits.log_max"),
            ("tasks_max = 512", "tasks_max = 8", "linux.limits.tasks_max"),
            ("files_max = 8192", "files_max = 10", "linux.limits.files_max"),
            ("priority = \"optional\"", "priority = \"urgent\"", "deb.priority"),
            ("entry = \"node_modules/clawdbot/dist/entry.js\"", "entry = \"../x.js\"", "payload.entry"),
            ("  \"node_modules/clawdbot/extensions/memory-lancedb/node_modules/.ignored\",", "  \"node_modules/../../etc\",", "payload.prune.remove[0]"),
            ("[payload.node.targets.linux-x64]", "[payload.node.targets.linux-s390x]", "payload.node.targets.linux-s390x"),
            ("integrity = \"sha512-qHnz", "integrity = \"sha1-qHnz", "payload.node.targets.linux-x64.integrity"),
            ("maintainer = \"Clawdbot system packages <packages@clawdbot.dev>\"", "maintainer = \"nobody\"", "package.maintainer"),
            ("  \"systemd\",\n  \"coreutils\"", "  \"systemd >= \",\n  \"coreutils\"", "rpm.requires[3]"),
            ("  \"coreutils\",", "  \"coreutils ~> 8\",", "rpm.requires[4]"),
            ("group = \"System Environment/Daemons\"", "group = \"\"", "rpm.group"),
            ("compression = { format = \"xz\", level = 1 }", "compression = { format = \"zstd\", level = 2 }", "deb.compression.format"),
            ("compression = { format = \"xz\", level = 1 }", "compression = { format = \"xz\", level = 10 }", "deb.compression.level"),
            ("compression = { format = \"zstd\", level = 10 }", "compression = { format = \"zstd\", level = 0 }", "rpm.compression.level"),
        ];
        for (from, to, key) in cases {
            let text = real();
            assert!(text.contains(from), "fixture drifted: {from}");
            let e = err(&text.replacen(from, to, 1));
            assert_eq!(e.key, key, "{e}");
        }
    }

    #[test]
    fn rpm_requirements_are_name_or_name_op_version() {
        for ok in ["systemd", "systemd >= 239", "libc.so.6(GLIBC_2.28)(64bit)", "/usr/sbin/useradd", "foo = 1.2-3"] {
            assert!(is_rpm_requirement(ok), "{ok}");
        }
        for bad in ["", "systemd >=", "systemd => 239", "a b", "foo = 1-2-3", "foo,bar", "foo >= $x", "a = b = c"] {
            assert!(!is_rpm_requirement(bad), "{bad}");
        }
    }

    #[test]
    fn the_macos_table_is_optional_but_needed_for_the_pkg() {
        let text = real();
        let start = text.find("[macos]").expect("the shipped manifest has a [macos] table");
        let end = text[start + 1..].find("\n[").map_or(text.len(), |i| start + 1 + i);
        let without = format!("{}{}", &text[..start], &text[end..]);
        let m = Manifest::parse(&without, Path::new("m.toml")).unwrap();
        assert!(m.macos.is_none());
        assert_eq!(m.macos().unwrap_err().key, "macos");
        let e = err(&text.replace("minimum_os = \"11.0\"", "minimum_os = \"11.0\"\nminimum_os_x = \"1\""));
        assert!(e.to_string().contains("unknown field `minimum_os_x`"), "{e}");
    }

    #[test]
    fn wrong_type_is_a_parse_error_with_a_line() {
        let e = err(&real().replace("port = 18789", "port = \"http\""));
        assert!(e.to_string().contains("line"), "{e}");
        assert!(e.to_string().contains("port"), "{e}");
    }

    #[test]
    fn versions_map_so_that_they_sort() {
        let d = |v: &str| UpstreamVersion::parse(v).unwrap().distro();
        assert_eq!(d("2026.1.24"), "2026.1.24");
        assert_eq!(d("2026.1.24-3"), "2026.1.24.3");
        assert_eq!(d("2026.2.0-beta.1"), "2026.2.0~beta.1");
        assert!(UpstreamVersion::parse("1.2").is_none());
        assert!(UpstreamVersion::parse("1.2.3-").is_none());
        assert!(UpstreamVersion::parse("1.2.3-a b").is_none());
    }
}
