//! The licences of the bundled npm packages, collected from the staged tree into
//! the packages' copyright data (the .deb's `copyright`, the .rpm's licence file):
//! for each package under `node_modules`, its name, version, the licence its
//! `package.json` declares and the licence files it ships (which pruning never
//! removes).

use std::collections::BTreeMap;

use crate::stage::{is_licence_file, Kind, Source, Stage};
use crate::Error;

/// One npm package of the staged app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmPackage {
    /// Its directory relative to the app directory (`node_modules/@scope/name`).
    pub dir: String,
    pub name: String,
    pub version: String,
    /// As `package.json` declares it (`license`, or the old `licenses` list);
    /// `UNKNOWN` when it declares none.
    pub license: String,
    /// Licence files directly in its directory, sorted.
    pub files: Vec<String>,
}

/// Every npm package staged under `app` (the installed app directory), sorted by
/// directory. A `package.json` that is not JSON is an error naming it.
pub fn npm_packages(stage: &Stage, app: &str) -> Result<Vec<NpmPackage>, Error> {
    let prefix = format!("{app}/");
    let mut manifests = BTreeMap::new();
    let mut licence_files: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, entry) in stage.iter() {
        let Some(rel) = path.strip_prefix(&prefix) else { continue };
        let Kind::File(source) = &entry.kind else { continue };
        let Some((dir, name)) = rel.rsplit_once('/') else { continue };
        if !is_package_dir(dir) {
            continue;
        }
        if name == "package.json" {
            manifests.insert(dir, (path, source));
        } else if is_licence_file(name) {
            licence_files.entry(dir).or_default().push(name.to_owned());
        }
    }
    let mut out = Vec::with_capacity(manifests.len());
    for (dir, (path, source)) in manifests {
        let bytes = match source {
            Source::Disk(p) => std::fs::read(p).map_err(|e| Error::io(p, e))?,
            Source::Bytes(b) => b.clone(),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::input_from(std::path::Path::new(&path), "not a valid package.json", e))?;
        let text = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let license = match json.get("license") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Object(o)) => o.get("type").and_then(|t| t.as_str()).unwrap_or("UNKNOWN").to_owned(),
            _ => match json.get("licenses").and_then(|l| l.as_array()) {
                Some(list) if !list.is_empty() => {
                    list.iter().map(|l| l.get("type").and_then(|t| t.as_str()).or(l.as_str()).unwrap_or("UNKNOWN")).collect::<Vec<_>>().join(" OR ")
                }
                _ => "UNKNOWN".to_owned(),
            },
        };
        let mut files = licence_files.remove(dir).unwrap_or_default();
        files.sort();
        out.push(NpmPackage {
            dir: dir.to_owned(),
            name: text("name").unwrap_or_else(|| dir.rsplit("node_modules/").next().unwrap_or(dir).to_owned()),
            version: text("version").unwrap_or_default(),
            license,
            files,
        });
    }
    Ok(out)
}

/// `node_modules/x` or `node_modules/@scope/x`, at any depth.
fn is_package_dir(dir: &str) -> bool {
    let parts: Vec<&str> = dir.split('/').collect();
    match parts[..] {
        [.., "node_modules", name] => !name.starts_with('@') && !name.starts_with('.'),
        [.., "node_modules", scope, name] => scope.starts_with('@') && !name.starts_with('.'),
        _ => false,
    }
}

/// One line per package: `DIR NAME@VERSION: LICENSE (FILES)`, for the packages'
/// copyright data.
pub fn listing(packages: &[NpmPackage]) -> Vec<String> {
    packages
        .iter()
        .map(|p| {
            let files = if p.files.is_empty() { "no licence file".to_owned() } else { p.files.join(", ") };
            format!("{} {}@{}: {} ({files})", p.dir, p.name, p.version, p.license)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_licences_and_files_are_found_at_any_depth() {
        let mut s = Stage::new();
        let app = "/usr/lib/x/app";
        let add = |s: &mut Stage, p: &str, body: &str| s.add_bytes(&format!("{app}/{p}"), body, 0o644).unwrap();
        add(&mut s, "package.json", r#"{"name":"root"}"#);
        add(&mut s, "node_modules/a/package.json", r#"{"name":"a","version":"1.0.0","license":"MIT"}"#);
        add(&mut s, "node_modules/a/LICENSE", "MIT");
        add(&mut s, "node_modules/a/dist/package.json", r#"{"type":"module"}"#);
        add(&mut s, "node_modules/@s/b/package.json", r#"{"name":"@s/b","version":"2.0.0","license":{"type":"ISC"}}"#);
        add(&mut s, "node_modules/@s/b/licence.md", "ISC");
        add(&mut s, "node_modules/@s/b/COPYING", "ISC");
        add(&mut s, "node_modules/a/node_modules/c/package.json", r#"{"name":"c","version":"3","licenses":[{"type":"MIT"},{"type":"GPL-2.0"}]}"#);
        add(&mut s, "node_modules/d/package.json", r#"{"name":"d","version":"4"}"#);
        let found = npm_packages(&s, app).unwrap();
        assert_eq!(
            listing(&found),
            [
                "node_modules/@s/b @s/b@2.0.0: ISC (COPYING, licence.md)",
                "node_modules/a a@1.0.0: MIT (LICENSE)",
                "node_modules/a/node_modules/c c@3: MIT OR GPL-2.0 (no licence file)",
                "node_modules/d d@4: UNKNOWN (no licence file)",
            ]
        );

        add(&mut s, "node_modules/e/package.json", "{not json");
        let e = npm_packages(&s, app).unwrap_err().to_string();
        assert!(e.contains("/usr/lib/x/app/node_modules/e/package.json: not a valid package.json"), "{e}");
    }
}
