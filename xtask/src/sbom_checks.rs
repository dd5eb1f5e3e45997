//! Checks of the SBOMs `cargo xtask dist` writes beside the artifacts: each is
//! valid CycloneDX 1.6 for a validator we did not write (cyclonedx-python-lib's
//! JSON-schema validation, from PyPI), which also rejects a broken copy; and the
//! npm components of the .deb's and the .rpm's SBOM are exactly the npm packages
//! in the package, as dpkg-deb and rpm list its files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use xshell::{cmd, Shell};

/// The validator, pinned.
const VALIDATOR: &str = "cyclonedx-python-lib[json-validation]==11.12.0";

const VALIDATE_PY: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
v = JsonStrictValidator(SchemaVersion.V1_6)
bad = 0
for f in sys.argv[1:]:
    with open(f) as fh:
        err = v.validate_str(fh.read())
    if err is None:
        print(f"valid: {f}")
    else:
        bad += 1
        print(f"INVALID: {f}: {str(err.data.message).splitlines()[0]}")
sys.exit(1 if bad else 0)
"#;

pub fn check(sh: &Shell, dist: &Path) -> Result<()> {
    let root = crate::root();
    let mut artifacts = Vec::new();
    for e in std::fs::read_dir(dist)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "deb" || x == "rpm" || x == "pkg") {
            artifacts.push(p);
        }
    }
    artifacts.sort();
    ensure!(artifacts.len() == 6, "expected 6 artifacts in {}, found {}", dist.display(), artifacts.len());
    let sboms: Vec<PathBuf> = artifacts.iter().map(|a| sbom_of(a)).collect();
    for s in &sboms {
        ensure!(s.is_file(), "no SBOM {}", s.display());
    }

    // The validator, installed once under target/cache.
    let py = root.join("target/cache/python");
    if !py.join("cyclonedx").is_dir() {
        crate::step(&format!("pip install {VALIDATOR}"), || {
            Ok(cmd!(sh, "python3 -m pip install --quiet --disable-pip-version-check --target {py} {VALIDATOR}").run()?)
        })?;
    }
    let _pp = sh.push_env("PYTHONPATH", &py);
    let list = &sboms;
    let out = cmd!(sh, "python3 -c {VALIDATE_PY} {list...}").quiet().ignore_status().output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "cyclonedx-python-lib rejects an SBOM:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    ensure!(text.lines().filter(|l| l.starts_with("valid: ")).count() == 6, "the validator did not report 6 valid SBOMs:\n{text}");

    // Control: a broken copy is rejected.
    let dir = crate::files::tempdir("sbom")?;
    let broken = dir.join("broken.cdx.json");
    let original = std::fs::read_to_string(&sboms[0])?;
    std::fs::write(&broken, original.replacen("\"specVersion\"", "\"notAField\": 1,\n  \"specVersion\"", 1))?;
    let rejected = cmd!(sh, "python3 -c {VALIDATE_PY} {broken}").quiet().ignore_status().output()?;
    ensure!(!rejected.status.success(), "the validator accepted a broken SBOM");

    // The npm components against the files really in the packages.
    let m = pkg::Manifest::load(&root.join("clawdbot.toml"))?;
    let app = pkg::linux::Paths::new(&m).app;
    for a in &artifacts {
        let name = a.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let listing = if name.ends_with(".deb") {
            let l = cmd!(sh, "dpkg-deb -c {a}").quiet().read()?;
            l.lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .map(|p| format!("/{}", p.trim_start_matches("./").trim_start_matches('/')))
                .collect::<Vec<_>>()
        } else if name.ends_with(".rpm") {
            cmd!(sh, "rpm -qpl --nosignature {a}").quiet().read()?.lines().map(str::to_owned).collect()
        } else {
            continue;
        };
        let in_package: BTreeSet<String> = listing
            .iter()
            .filter_map(|p| p.strip_prefix(&format!("{app}/")))
            .filter_map(|rel| rel.strip_suffix("/package.json"))
            .filter(|dir| is_package_dir(dir))
            .map(str::to_owned)
            .collect();
        let listed: BTreeSet<String> = pkg::sbom::npm_paths(&std::fs::read_to_string(sbom_of(a))?)?.into_iter().collect();
        ensure!(in_package.len() > 100, "{name}: only {} npm packages found in the package", in_package.len());
        let missing: Vec<&String> = in_package.difference(&listed).take(5).collect();
        let extra: Vec<&String> = listed.difference(&in_package).take(5).collect();
        ensure!(missing.is_empty() && extra.is_empty(), "{name}: SBOM and package differ: not in the SBOM {missing:?}, not in the package {extra:?}");
        let sbom = std::fs::read_to_string(sbom_of(a))?;
        ensure!(sbom.contains("cpe:2.3:a:nodejs:node.js:"), "{name}: the SBOM lacks Node.js");
        eprintln!("    {name}: {} npm packages in the package, the same in its SBOM, and Node.js", in_package.len());
    }
    eprintln!("    6 SBOMs valid CycloneDX 1.6 (cyclonedx-python-lib); a broken copy rejected");
    Ok(())
}

fn sbom_of(artifact: &Path) -> PathBuf {
    artifact.with_file_name(pkg::sbom::file_name(&artifact.file_name().unwrap_or_default().to_string_lossy()))
}

/// `node_modules/<name>` or `node_modules/@scope/<name>`, at any depth.
fn is_package_dir(dir: &str) -> bool {
    let parts: Vec<&str> = dir.split('/').collect();
    match parts.as_slice() {
        [.., "node_modules", name] => !name.starts_with('@') && !name.starts_with('.'),
        [.., "node_modules", scope, _] => scope.starts_with('@'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn package_dirs() {
        assert!(super::is_package_dir("node_modules/a"));
        assert!(super::is_package_dir("node_modules/@s/a"));
        assert!(super::is_package_dir("node_modules/a/node_modules/b"));
        assert!(!super::is_package_dir("node_modules/a/dist"));
        assert!(!super::is_package_dir("node_modules/@s"));
        assert!(!super::is_package_dir("node_modules/.bin"));
    }
}
