//! Walking a directory tree and scratch directories: the one way every command
//! and check does either.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Every entry below `dir` that is not a directory (files and links; links are
/// not followed), sorted, leaving out directories named in `skip`. An
/// unreadable directory is an error naming it.
pub fn walk(dir: &Path, skip: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e.with_context(|| format!("reading {}", d.display()))?;
            let kind = e.file_type().with_context(|| format!("reading {}", e.path().display()))?;
            if kind.is_dir() {
                if !skip.iter().any(|s| e.file_name() == *s) {
                    todo.push(e.path());
                }
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The regular files among [`walk`]'s entries.
pub fn regular_files(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(walk(dir, &[])?.into_iter().filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_file())).collect())
}

/// An empty scratch directory `target/checks/<what>` (emptied if it exists).
pub fn tempdir(what: &str) -> Result<PathBuf> {
    let dir = crate::root().join("target/checks").join(what);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_lists_files_and_links_sorted_and_skips_what_it_is_told() {
        let dir = tempdir("files-walk").unwrap();
        for d in ["a/b", "node_modules/x", "c"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        for f in ["a/b/two", "a/one", "node_modules/x/no", "z"] {
            fs::write(dir.join(f), "").unwrap();
        }
        std::os::unix::fs::symlink("/nowhere", dir.join("c/link")).unwrap();
        let rel = |v: Vec<PathBuf>| v.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect::<Vec<_>>();
        assert_eq!(rel(walk(&dir, &["node_modules"]).unwrap()), ["a/b/two", "a/one", "c/link", "z"]);
        assert_eq!(rel(regular_files(&dir).unwrap()), ["a/b/two", "a/one", "node_modules/x/no", "z"]);
        let e = walk(&dir.join("missing"), &[]).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
