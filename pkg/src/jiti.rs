//! The gateway's transpile cache as jiti (2.x, cache version 9) keeps it, and
//! the proof that a system would use every entry of a cache shipped to it.
//!
//! jiti names an entry after the absolute path of its source,
//! `<parent dir>-<file stem>[+map][.i].<md5(path)[..8]>.cjs|.mjs`, and uses it
//! only when it ends with ` /* v9-<md5(source)[..16]> */\n`. So an entry is used
//! by an installed package exactly when some file of the package's stage has the
//! path that names it and the content whose hash ends it. [`check`] proves that of
//! every entry against the stage being written; a macOS package, whose cache is
//! built from the build machine's Linux tree, thereby proves that the darwin tree
//! holds the very sources (the native modules differ, the JavaScript does not).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use md5::Digest as _;

use crate::stage::{Kind, Source, Stage};
use crate::Error;

/// The cache version jiti writes into every entry's last line.
const VERSION: &str = "9";

fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `<parent dir>-<file stem>` of an absolute path, as jiti forms it.
fn prefix(path: &str) -> String {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or("");
    let dir = parts.next().unwrap_or("");
    let stem = match file.rfind('.') {
        Some(i) if i > 0 => &file[..i],
        _ => file,
    };
    format!("{dir}-{stem}")
}

/// The name jiti gives the (CommonJS, no source map, no interop) entry of the
/// source at the absolute `path`.
pub fn entry_name(path: &str) -> String {
    format!("{}.{}.cjs", prefix(path), &md5_hex(path.as_bytes())[..8])
}

/// The line jiti ends an entry of `source` with.
pub fn last_line(source: &[u8]) -> String {
    format!(" /* v{VERSION}-{} */\n", &md5_hex(source)[..16])
}

/// The `(prefix, path hash)` candidates an entry name can stand for.
fn parse(name: &str) -> Option<(Vec<String>, &str)> {
    let rest = name.strip_suffix('x').unwrap_or(name);
    let rest = rest.strip_suffix(".cjs").or_else(|| rest.strip_suffix(".mjs"))?;
    let (rest, hash) = rest.rsplit_once('.')?;
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // The name's own ".i" and "+map" may also be part of a file stem: try both.
    let mut prefixes = vec![rest.to_owned()];
    let mut cur = rest;
    for suffix in [".i", "+map"] {
        if let Some(p) = cur.strip_suffix(suffix) {
            prefixes.push(p.to_owned());
            cur = p;
        }
    }
    Some((prefixes, hash))
}

/// What [`check`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    pub entries: usize,
    pub bytes: u64,
}

/// Proves that jiti would use every entry of the cache in `cache` (all files but
/// `stamp`) for the files staged in `stage` under `app`: each entry's name is
/// that of a staged file's path, and its last line carries the hash of that
/// file's content. The first entry that is not is an error naming it.
pub fn check(cache: &Path, stage: &Stage, app: &str, stamp: &str) -> Result<Checked, Error> {
    let under = format!("{}/", app.trim_end_matches('/'));
    let mut index: BTreeMap<(String, String), (&str, &Source)> = BTreeMap::new();
    for (path, entry) in stage.iter() {
        if let (true, Kind::File(source)) = (path.starts_with(&under), &entry.kind) {
            index.insert((prefix(path), md5_hex(path.as_bytes())[..8].to_owned()), (path, source));
        }
    }
    let mut names: Vec<String> = fs::read_dir(cache)
        .map_err(|e| Error::io(cache, e))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io(cache, e))?;
    names.retain(|n| n != stamp);
    names.sort();
    let mut bytes = 0;
    for name in &names {
        let file = cache.join(name);
        let bad = |why: String| Error::input(&file, format!("transpile cache entry: {why}"));
        let (prefixes, hash) = parse(name).ok_or_else(|| bad("not named as jiti names its entries".into()))?;
        let (path, source) = prefixes
            .iter()
            .find_map(|p| index.get(&(p.clone(), hash.to_owned())))
            .ok_or_else(|| bad(format!("no file of the package under {app} has the path it was built for")))?;
        let text = fs::read(&file).map_err(|e| Error::io(&file, e))?;
        bytes += text.len() as u64;
        let tail = text.rsplit(|b| *b == b'\n').nth(1).unwrap_or_default();
        let want_prefix = format!(" /* v{VERSION}-");
        let tail = std::str::from_utf8(tail).unwrap_or("");
        let recorded = tail
            .rsplit_once(&want_prefix)
            .and_then(|(_, t)| t.strip_suffix(" */"))
            .ok_or_else(|| bad(format!("its last line is not jiti's{want_prefix}<hash> */")))?;
        let content = match source {
            Source::Disk(p) => fs::read(p).map_err(|e| Error::io(p, e))?,
            Source::Bytes(b) => b.clone(),
        };
        let actual = &md5_hex(&content)[..16];
        if recorded != actual {
            return Err(bad(format!("built from another {path} (source hash {recorded}, the package's is {actual})")));
        }
    }
    Ok(Checked { entries: names.len(), bytes })
}

/// Stages the cache in `cache` (with its `stamp` file) read-only at `seed_dir`,
/// after [`check`] has proved that every entry serves the app staged at `app`.
pub fn add_seed(s: &mut Stage, cache: &Path, app: &str, seed_dir: &str, stamp: &str) -> Result<Checked, Error> {
    if !cache.join(stamp).is_file() {
        return Err(Error::input(cache, format!("the transpile cache has no {stamp} file")));
    }
    let checked = check(cache, s, app, stamp)?;
    s.add_tree(seed_dir, cache)?;
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, source: &str, body: &str) -> (String, String) {
        (entry_name(path), format!("{body}{}", last_line(source.as_bytes())))
    }

    #[test]
    fn names_are_jitis() {
        // As jiti 2.7 named the entry of .../clawdbot/dist/agents/workspace.js at
        // /usr/lib/clawdbot/app (see the Linux package's cache).
        assert_eq!(prefix("/usr/lib/clawdbot/app/node_modules/clawdbot/dist/agents/workspace.js"), "agents-workspace");
        assert_eq!(prefix("/a/b/.hidden"), "b-.hidden");
        assert_eq!(parse("agents-workspace.i.962a3de2.mjs").unwrap(), (vec!["agents-workspace.i".to_owned(), "agents-workspace".to_owned()], "962a3de2"));
        assert!(parse("agents-workspace.cjs").is_none() && parse("x.ZZZZZZZZ.cjs").is_none());
    }

    #[test]
    fn every_entry_must_name_a_staged_file_with_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.ts"), "export const a = 1;").unwrap();
        let mut stage = Stage::new();
        stage.add_disk_file("/L/app/dist/a.ts", &src.join("a.ts"), 0o644).unwrap();
        stage.add_bytes("/L/app/dist/b.js", b"export default 2;".to_vec(), 0o644).unwrap();
        let cache = dir.path().join("cache");
        fs::create_dir_all(&cache).unwrap();
        fs::write(cache.join("seed-id"), "x").unwrap();
        for (path, source) in [("/L/app/dist/a.ts", "export const a = 1;"), ("/L/app/dist/b.js", "export default 2;")] {
            let (name, text) = entry(path, source, "exports.a = 1;");
            fs::write(cache.join(name), text).unwrap();
        }
        assert_eq!(check(&cache, &stage, "/L/app", "seed-id").unwrap().entries, 2);

        // Built for another path: no staged file has it.
        let (name, text) = entry("/usr/lib/app/dist/a.ts", "export const a = 1;", "");
        fs::write(cache.join(&name), text).unwrap();
        let e = check(&cache, &stage, "/L/app", "seed-id").unwrap_err().to_string();
        assert!(e.contains(&name) && e.contains("no file of the package under /L/app"), "{e}");
        fs::remove_file(cache.join(&name)).unwrap();

        // Built from other content.
        let (name, text) = entry("/L/app/dist/a.ts", "export const a = 2;", "");
        fs::write(cache.join(&name), text).unwrap();
        let e = check(&cache, &stage, "/L/app", "seed-id").unwrap_err().to_string();
        assert!(e.contains("built from another /L/app/dist/a.ts"), "{e}");
    }
}
