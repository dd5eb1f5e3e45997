//! The staged tree: every path a package installs, with its kind, mode and source.
//!
//! A stage is metadata only. Payload files stay where `npm ci` and the runtime fetch
//! left them and are read once, by the writer that streams them into an archive; no
//! second copy of the payload is made on disk. All entries are owned by root: the
//! service user owns nothing it could use to change the code it runs.
//!
//! This module never writes files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file on disk, read when the archive is written.
    Disk(PathBuf),
    /// Bytes rendered at build time (scripts, unit files, documentation).
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File(Source),
    Dir,
    /// A symbolic link with a relative target inside the stage.
    Symlink(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits (no file type bits).
    pub mode: u32,
    /// Size in bytes of a file (0 for directories, the target length for links).
    pub size: u64,
    /// A configuration file the administrator may edit: kept on upgrade.
    pub config: bool,
}

/// All entries of one package, keyed by absolute install path, in sorted order
/// (parents before children).
#[derive(Debug, Clone, Default)]
pub struct Stage {
    entries: BTreeMap<String, Entry>,
}

impl Stage {
    pub fn new() -> Stage {
        Stage::default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_str(), e))
    }

    /// The paths that an archive holds last: those that `own` names, and
    /// everything below a directory it names (see [`crate::Target::owns`]).
    pub fn own_paths(&self, own: &dyn Fn(&str) -> bool) -> HashSet<&str> {
        let mut owned = HashSet::new();
        // Sorted order: a parent is decided before its children.
        for (path, _) in self.iter() {
            if owned.contains(parent(path)) || own(path) {
                owned.insert(path);
            }
        }
        owned
    }

    /// The entries in the order the `.deb`'s data archive holds them, in two parts:
    /// those `own` does not name, then the [`Stage::own_paths`], so that what two
    /// architectures hold alike comes first and is the same stretch in both. In each
    /// part, directories and links come first, in sorted order (parents before
    /// children), and then the files, placed for xz's 1 MiB window: by npm package,
    /// and within a package by file name (a package's `cjs/x.js` next to its
    /// `esm/x.js`); a file of the same name and size as an earlier one (npm installs
    /// a package once per version range, mostly with the same bytes) comes straight
    /// after that one. On the gateway's tree at xz -1 this takes about 2.5 % fewer
    /// instructions in xz than sorted order and gives 3 % less output
    /// (docs/compression.md). The files of a [`compressed_format`] come last in
    /// their part, in the same order among themselves.
    /// The order depends only on paths and sizes: the same stage, the same order.
    pub fn iter_packed<'a>(&'a self, own: &dyn Fn(&str) -> bool) -> Vec<(&'a str, &'a Entry)> {
        let owned = self.own_paths(own);
        let mut order = Vec::with_capacity(self.entries.len());
        for last in [false, true] {
            let (mut files, others): (Vec<_>, Vec<_>) =
                self.iter().filter(|(p, _)| owned.contains(p) == last).partition(|(_, e)| matches!(e.kind, Kind::File(_)));
            order.extend(others);
            files.sort_by_key(|&(p, _)| (npm_package(p), file_name(p), p));
            let mut groups: Vec<Vec<(&str, &Entry)>> = Vec::new();
            let mut first: HashMap<(&str, u64), usize> = HashMap::new();
            for f in files {
                let group = *first.entry((file_name(f.0), f.1.size)).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[group].push(f);
            }
            // Files whose format is compressed already at the end of the part, as
            // one stretch, which the .deb stores instead of compressing.
            let (packed, compressed): (Vec<_>, Vec<_>) = groups.into_iter().flatten().partition(|(p, _)| !compressed_format(p));
            order.extend(packed);
            order.extend(compressed);
        }
        order
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Paths of the configuration files, sorted.
    pub fn config_files(&self) -> Vec<&str> {
        self.iter().filter(|(_, e)| e.config).map(|(p, _)| p).collect()
    }

    /// Size as dpkg counts it: each file rounded up to KiB, one KiB per other entry.
    pub fn installed_size_kib(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match e.kind {
                Kind::File(_) => e.size.div_ceil(1024),
                _ => 1,
            })
            .sum()
    }

    pub fn file_bytes(&self) -> u64 {
        self.entries.values().filter(|e| matches!(e.kind, Kind::File(_))).map(|e| e.size).sum()
    }

    pub fn add_dir(&mut self, path: &str, mode: u32) -> Result<(), Error> {
        self.insert(path, Entry { kind: Kind::Dir, mode, size: 0, config: false })
    }

    pub fn add_bytes(&mut self, path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Result<(), Error> {
        let bytes = bytes.into();
        let size = bytes.len() as u64;
        self.insert(path, Entry { kind: Kind::File(Source::Bytes(bytes)), mode, size, config: false })
    }

    /// A configuration file: installed if absent, never overwritten once edited.
    pub fn add_config(&mut self, path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Result<(), Error> {
        self.add_bytes(path, bytes, mode)?;
        self.entries.get_mut(path).expect("just added").config = true;
        Ok(())
    }

    pub fn add_disk_file(&mut self, path: &str, source: &Path, mode: u32) -> Result<(), Error> {
        let meta = fs::symlink_metadata(source).map_err(|e| Error::io(source, e))?;
        if !meta.is_file() {
            return Err(Error::input(source, "not a regular file"));
        }
        self.insert(path, Entry { kind: Kind::File(Source::Disk(source.to_owned())), mode, size: meta.len(), config: false })
    }

    /// Adds the tree below `source` at `dest`, with normalised modes: directories 0755,
    /// files 0644, or 0755 when the source is executable *and* is an ELF binary or a
    /// `#!` script. Symbolic links must stay inside `dest`.
    pub fn add_tree(&mut self, dest: &str, source: &Path) -> Result<(), Error> {
        let meta = fs::symlink_metadata(source).map_err(|e| Error::io(source, e))?;
        if !meta.is_dir() {
            return Err(Error::input(source, "the payload directory is missing or not a directory"));
        }
        self.add_dir(dest, 0o755)?;
        self.walk(dest, dest, source)
    }

    fn walk(&mut self, root: &str, dest: &str, dir: &Path) -> Result<(), Error> {
        let mut children: Vec<_> =
            fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.map(|r| r.map(|d| d.path())).collect::<Result<_, _>>().map_err(|e| Error::io(dir, e))?;
        children.sort();
        for path in children {
            let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| Error::input(&path, "file name is not UTF-8"))?;
            let to = format!("{dest}/{name}");
            let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            let ft = meta.file_type();
            if ft.is_dir() {
                self.add_dir(&to, 0o755)?;
                self.walk(root, &to, &path)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
                let target = target.to_str().ok_or_else(|| Error::input(&path, "link target is not UTF-8"))?;
                self.add_symlink_within(root, &to, target)?;
            } else if ft.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let mode = if meta.permissions().mode() & 0o111 != 0 && is_program(&path)? { 0o755 } else { 0o644 };
                self.insert(&to, Entry { kind: Kind::File(Source::Disk(path.clone())), mode, size: meta.len(), config: false })?;
            } else {
                return Err(Error::input(&path, "not a file, directory or symbolic link"));
            }
        }
        Ok(())
    }

    /// Adds a relative symbolic link at `path`, refusing targets that leave `root`.
    pub fn add_symlink_within(&mut self, root: &str, path: &str, target: &str) -> Result<(), Error> {
        if target.starts_with('/') {
            return Err(Error::layout(path, format!("symbolic link to absolute path {target} (only links inside {root} are allowed)")));
        }
        let mut resolved: Vec<&str> = parent(path).split('/').filter(|c| !c.is_empty()).collect();
        for c in target.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    resolved.pop();
                }
                c => resolved.push(c),
            }
        }
        let resolved = format!("/{}", resolved.join("/"));
        if !(resolved == root || resolved.starts_with(&format!("{root}/"))) {
            return Err(Error::layout(path, format!("symbolic link to {target} escapes {root}")));
        }
        self.insert(path, Entry { kind: Kind::Symlink(target.to_owned()), mode: 0o777, size: target.len() as u64, config: false })
    }

    /// Applies the manifest's prune rules below `root`; returns (entries, bytes)
    /// removed. A `remove` path that is not staged is an error, before anything
    /// is removed.
    pub fn prune(&mut self, root: &str, rules: &crate::manifest::Prune) -> Result<(usize, u64), Error> {
        let keep: Vec<(String, String)> = rules.keep.iter().map(|k| (format!("{root}/{k}"), format!("{root}/{k}/"))).collect();
        let remove: Vec<(String, String)> = rules.remove.iter().map(|r| (format!("{root}/{r}"), format!("{root}/{r}/"))).collect();
        if let Some((path, _)) = remove.iter().find(|(r, _)| !self.entries.contains_key(r)) {
            return Err(Error::layout(path, "is not in the payload: the rule [payload.prune] remove names it, and no longer applies"));
        }
        let prefix = format!("{root}/");
        let (before, bytes_before) = (self.entries.len(), self.file_bytes());
        self.entries.retain(|path, entry| {
            if remove.iter().any(|(r, below)| path == r || path.starts_with(below.as_str())) {
                return false;
            }
            let Some(rel) = path.strip_prefix(&prefix) else { return true };
            if keep.iter().any(|(k, below)| path == k || path.starts_with(below.as_str())) {
                return true;
            }
            let mut parts: Vec<&str> = rel.split('/').collect();
            let name = parts.pop().unwrap_or_default();
            if parts.iter().any(|d| rules.dirs.iter().any(|x| x == d)) {
                return false;
            }
            match entry.kind {
                Kind::Dir => !rules.dirs.iter().any(|x| x == name),
                _ if is_licence_file(name) => true,
                _ => !(rules.names.iter().any(|x| x == name) || rules.suffixes.iter().any(|x| name.ends_with(x.as_str()))),
            }
        });
        Ok((before - self.entries.len(), bytes_before - self.file_bytes()))
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<(), Error> {
        check_path(path)?;
        if self.entries.contains_key(path) {
            return Err(Error::layout(path, "staged twice"));
        }
        // Parents are directories, created implicitly with the usual mode.
        let mut parent = path;
        while let Some((p, _)) = parent.rsplit_once('/') {
            if p.is_empty() {
                break;
            }
            match self.entries.get(p) {
                Some(Entry { kind: Kind::Dir, .. }) => break,
                Some(_) => return Err(Error::layout(path, format!("parent {p} is staged as a file"))),
                None => {
                    self.entries.insert(p.to_owned(), Entry { kind: Kind::Dir, mode: 0o755, size: 0, config: false });
                }
            }
            parent = p;
        }
        self.entries.insert(path.to_owned(), entry);
        Ok(())
    }
}

/// The npm package a path lies in (up to the last `node_modules/<name>` or
/// `node_modules/@scope/<name>`), or else its directory.
fn npm_package(path: &str) -> &str {
    let Some(i) = path.rfind("/node_modules/") else {
        return parent(path);
    };
    let start = i + "/node_modules/".len();
    let rest = &path[start..];
    let parts = if rest.starts_with('@') { 2 } else { 1 };
    match rest.match_indices('/').nth(parts - 1) {
        Some((end, _)) => &path[..start + end],
        None => path,
    }
}

/// What is before a path's last `/` ("" for `/usr`).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Whether a file's name says that its bytes are compressed already (images,
/// fonts, archives): xz gains about 2 % on them, at a quarter of its speed on
/// the rest of the tree (the gateway's 7 MB of PNG and JPEG images took as long
/// at xz -1 as 32 MB of its JavaScript), so the .deb stores them.
pub fn compressed_format(path: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "png", "jpg", "jpeg", "gif", "webp", "avif", "woff", "woff2", "gz", "tgz", "bz2", "xz", "zst", "br", "zip", "jar", "7z", "mp3", "mp4", "m4a", "ogg",
        "webm",
    ];
    file_name(path).rsplit_once('.').is_some_and(|(_, ext)| EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}

/// Whether a file's bytes are x86 or x86-64 machine code: an ELF file, little
/// endian, for either machine (Node.js and the native npm packages of the
/// linux-x64 target, 152 of its 275 MiB). Decided by the content alone, so a
/// file that two architectures' archives both hold is treated alike in both.
pub fn x86_code(bytes: &[u8]) -> bool {
    // e_ident: magic, class (any), data 1 = little endian; e_machine at 18:
    // 3 = EM_386, 62 = EM_X86_64.
    bytes.len() >= 20 && bytes[..4] == *b"\x7fELF" && bytes[5] == 1 && matches!(u16::from_le_bytes([bytes[18], bytes[19]]), 3 | 62)
}

/// What is after a path's last `/`.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// An install path must be absolute and normalised: nothing in it may point
/// outside the staging root.
fn check_path(path: &str) -> Result<(), Error> {
    let ok = path.starts_with('/')
        && path.len() > 1
        && !path.ends_with('/')
        && path[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && !path.contains(['\n', '\0']);
    if ok {
        Ok(())
    } else {
        Err(Error::layout(&format!("{path:?}"), "install path is not an absolute, normalised path inside the staging root"))
    }
}

/// ELF and Mach-O binaries and `#!` scripts keep their executable bit; anything
/// else marked executable in an npm tarball (JSON, Markdown, plain JS modules) loses it.
fn is_program(path: &Path) -> Result<bool, Error> {
    let mut head = [0u8; 4];
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    Ok(head[..n].starts_with(b"#!") || (n == 4 && (head == *b"\x7fELF" || is_macho(head))))
}

/// The magic numbers of Mach-O binaries (32/64-bit, either byte order, universal).
/// Is this file name a licence text, as the prune rules keep them?
pub fn is_licence_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "NOTICE"].iter().any(|p| upper.starts_with(p))
}

pub fn is_macho(head: [u8; 4]) -> bool {
    matches!(u32::from_be_bytes(head), 0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe | 0xcafe_babe | 0xbeba_feca)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn own_entries_come_last_and_directories_before_files() {
        let mut s = Stage::new();
        for d in ["/a", "/a/lib", "/a/lib/x64", "/a/lib/x64/sub", "/a/z"] {
            s.add_dir(d, 0o755).unwrap();
        }
        for f in ["/a/lib/x64/sub/one", "/a/lib/y", "/a/lib/x64.lock", "/a/z/last"] {
            s.add_bytes(f, "x", 0o644).unwrap();
        }
        // Only the directory is named: what is below it goes with it.
        let own = |p: &str| p == "/a/lib/x64" || p.ends_with(".lock");
        let order: Vec<&str> = s.iter_packed(&own).into_iter().map(|(p, _)| p).collect();
        assert_eq!(order, ["/a", "/a/lib", "/a/z", "/a/lib/y", "/a/z/last", "/a/lib/x64", "/a/lib/x64/sub", "/a/lib/x64.lock", "/a/lib/x64/sub/one"]);
    }

    #[test]
    fn files_compressed_already_come_last_in_their_part() {
        let mut s = Stage::new();
        for f in ["/a/b.png", "/a/c.js", "/a/d.WOFF2", "/a/e.png.js", "/a/x64/f.png", "/a/x64/g.node"] {
            s.add_bytes(f, "x", 0o644).unwrap();
        }
        let own = |p: &str| p.starts_with("/a/x64/");
        let order: Vec<&str> = s.iter_packed(&own).into_iter().filter(|(_, e)| matches!(e.kind, Kind::File(_))).map(|(p, _)| p).collect();
        assert_eq!(order, ["/a/c.js", "/a/e.png.js", "/a/b.png", "/a/d.WOFF2", "/a/x64/g.node", "/a/x64/f.png"]);
        assert!(compressed_format("/x/y.jpeg") && !compressed_format("/x/png") && !compressed_format("/x.png/y"));
        let elf = |class: u8, data: u8, machine: u16| {
            let mut h = b"\x7fELF".to_vec();
            h.extend([class, data, 1]);
            h.resize(18, 0);
            h.extend(if data == 1 { machine.to_le_bytes() } else { machine.to_be_bytes() });
            h
        };
        assert!(x86_code(&elf(2, 1, 62)) && x86_code(&elf(1, 1, 3)));
        // aarch64, big-endian x86-64 (no such thing), too short, not ELF.
        assert!(!x86_code(&elf(2, 1, 183)) && !x86_code(&elf(2, 2, 62)) && !x86_code(&elf(2, 1, 62)[..19]));
        assert!(!x86_code(b"#!/bin/sh\nexec node \"$@\"\n"));
    }

    #[test]
    fn files_are_grouped_by_package_then_name_and_alike_files_meet() {
        let mut s = Stage::new();
        let nm = "/u/node_modules";
        for (f, bytes) in [
            ("/u/node_modules/a/dist/cjs/x.js", "12"),
            ("/u/node_modules/a/dist/esm/x.js", "1"),
            ("/u/node_modules/a/LICENSE", "MIT"),
            ("/u/node_modules/@s/b/index.js", "1"),
            ("/u/node_modules/@s/b/node_modules/a/LICENSE", "MIT"),
            ("/u/node_modules/c/LICENSE", "BSD-2"),
            ("/u/node_modules/c/README", "c"),
            ("/u/top.js", "t"),
        ] {
            s.add_bytes(f, bytes, 0o644).unwrap();
        }
        let order: Vec<&str> = s.iter_packed(&|_| false).into_iter().filter(|(_, e)| matches!(e.kind, Kind::File(_))).map(|(p, _)| p).collect();
        assert_eq!(
            order,
            [
                "/u/top.js".to_string(),
                // @s/b, then the a below it: the LICENSE of the same name and size as
                // its LICENSE comes straight after it, not where its package is.
                format!("{nm}/@s/b/index.js"),
                format!("{nm}/@s/b/node_modules/a/LICENSE"),
                format!("{nm}/a/LICENSE"),
                format!("{nm}/a/dist/cjs/x.js"),
                format!("{nm}/a/dist/esm/x.js"),
                format!("{nm}/c/LICENSE"),
                format!("{nm}/c/README"),
            ]
        );
        assert_eq!(npm_package("/u/node_modules/@s/b/index.js"), "/u/node_modules/@s/b");
        assert_eq!(npm_package("/u/node_modules/@s/b/node_modules/a/x/y.js"), "/u/node_modules/@s/b/node_modules/a");
        assert_eq!(npm_package("/u/lib/x.js"), "/u/lib");
    }

    #[test]
    fn tree_modes_are_normalised_and_parents_are_implicit() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("a/b")).unwrap();
        fs::write(d.join("a/readme.md"), "x").unwrap();
        fs::set_permissions(d.join("a/readme.md"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::write(d.join("a/b/cli.js"), "#!/usr/bin/env node\n").unwrap();
        fs::set_permissions(d.join("a/b/cli.js"), fs::Permissions::from_mode(0o775)).unwrap();
        fs::write(d.join("a/b/lib.js"), "module.exports=1").unwrap();
        fs::set_permissions(d.join("a/b/lib.js"), fs::Permissions::from_mode(0o600)).unwrap();
        symlink("b/cli.js", d.join("a/cli")).unwrap();

        let mut s = Stage::new();
        s.add_tree("/usr/lib/x", d).unwrap();
        let modes: Vec<(&str, u32)> = s.iter().map(|(p, e)| (p, e.mode)).collect();
        assert_eq!(
            modes,
            [
                ("/usr", 0o755),
                ("/usr/lib", 0o755),
                ("/usr/lib/x", 0o755),
                ("/usr/lib/x/a", 0o755),
                ("/usr/lib/x/a/b", 0o755),
                ("/usr/lib/x/a/b/cli.js", 0o755),
                ("/usr/lib/x/a/b/lib.js", 0o644),
                ("/usr/lib/x/a/cli", 0o777),
                ("/usr/lib/x/a/readme.md", 0o644),
            ]
        );
        assert_eq!(s.get("/usr/lib/x/a/cli").unwrap().kind, Kind::Symlink("b/cli.js".into()));
        assert_eq!(s.installed_size_kib(), 6 + 3);
    }

    #[test]
    fn prune_rules_remove_dead_weight_but_keep_licences_and_kept_trees() {
        let mut s = Stage::new();
        for p in [
            "/a/node_modules/x/index.js",
            "/a/node_modules/x/index.js.map",
            "/a/node_modules/x/index.d.ts",
            "/a/node_modules/x/LICENSE.md",
            "/a/node_modules/x/README.md",
            "/a/node_modules/x/.npmignore",
            "/a/node_modules/x/test/t.js",
            "/a/node_modules/gw/skills/s/SKILL.md",
            "/a/node_modules/gw/test/fixture.js",
            "/a/node_modules/gw/node_modules/.ignored/y/index.js",
            "/a/node_modules/gw/node_modules/.bin/.ignored_y",
            "/other/test/kept.js",
        ] {
            s.add_bytes(p, "12345", 0o644).unwrap();
        }
        let rules = crate::manifest::Prune {
            keep: vec!["node_modules/gw".into()],
            names: vec![".npmignore".into()],
            suffixes: vec![".map".into(), ".d.ts".into(), ".md".into()],
            dirs: vec!["test".into()],
            remove: vec!["node_modules/gw/node_modules/.ignored".into(), "node_modules/gw/node_modules/.bin/.ignored_y".into()],
        };
        let mut stale = rules.clone();
        stale.remove.push("node_modules/gw/node_modules/.ignored_z".into());
        let e = s.clone().prune("/a", &stale).unwrap_err().to_string();
        assert!(e.contains("/a/node_modules/gw/node_modules/.ignored_z: is not in the payload"), "{e}");
        let (n, bytes) = s.prune("/a", &rules).unwrap();
        let files: Vec<&str> = s.iter().filter(|(_, e)| matches!(e.kind, Kind::File(_))).map(|(p, _)| p).collect();
        assert_eq!(
            files,
            [
                "/a/node_modules/gw/skills/s/SKILL.md",
                "/a/node_modules/gw/test/fixture.js",
                "/a/node_modules/x/LICENSE.md",
                "/a/node_modules/x/index.js",
                "/other/test/kept.js"
            ]
        );
        // The two directories of .ignored/y count as entries too.
        assert_eq!((n, bytes), (10, 35));
    }

    #[test]
    fn links_out_of_the_tree_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        symlink("../../../etc/shadow", dir.path().join("evil")).unwrap();
        let e = Stage::new().add_tree("/usr/lib/x", dir.path()).unwrap_err().to_string();
        assert!(e.contains("/usr/lib/x/evil: symbolic link to ../../../etc/shadow escapes /usr/lib/x"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        symlink("/etc/passwd", dir.path().join("abs")).unwrap();
        let e = Stage::new().add_tree("/usr/lib/x", dir.path()).unwrap_err().to_string();
        assert!(e.contains("absolute path /etc/passwd"), "{e}");
    }

    #[test]
    fn paths_escaping_the_root_or_staged_twice_are_refused() {
        let mut s = Stage::new();
        for bad in ["relative/x", "/usr/../etc/x", "/usr//x", "/usr/x/", "/"] {
            let e = s.add_bytes(bad, "x", 0o644).unwrap_err().to_string();
            assert!(e.contains("not an absolute, normalised path"), "{bad}: {e}");
        }
        s.add_bytes("/etc/x", "1", 0o644).unwrap();
        assert!(s.add_bytes("/etc/x", "2", 0o644).unwrap_err().to_string().contains("staged twice"));
        assert!(s.add_bytes("/etc/x/y", "2", 0o644).unwrap_err().to_string().contains("staged as a file"));
    }

    #[test]
    fn a_missing_payload_is_an_error_naming_it() {
        let e = Stage::new().add_tree("/usr/lib/x", Path::new("/nonexistent/payload")).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/payload"), "{e}");
    }
}
