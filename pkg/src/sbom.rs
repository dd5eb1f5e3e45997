//! The software bill of materials of one artifact: CycloneDX 1.6 JSON, written
//! beside the artifact as `<artifact>.cdx.json`.
//!
//! It is made from the staged tree of that artifact (what the package really
//! holds after pruning), not from the lockfile, which also lists other
//! platforms' optional packages:
//!
//! - the root component is the artifact itself (its SHA-256 and SHA-512);
//! - every npm package staged under the app directory, with name, version, the
//!   licence its `package.json` declares, its `purl`, its directory
//!   (`cdx:npm:package:path`) and the lockfile's `integrity` as a hash;
//! - the Node.js runtime, with its version, the sha512 of the npm tarball it came
//!   from, its `purl` and its CPE.
//!
//! Every value comes from the inputs (the serial number is derived from the
//! artifact's digest, the timestamp is the build time), so the same build gives
//! the same bytes.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::licences::npm_packages;
use crate::manifest::Manifest;
use crate::stage::Stage;
use crate::target::{Format, Target};
use crate::write::hex;
use crate::Error;

/// `<artifact file name>.cdx.json`.
pub fn file_name(artifact: &str) -> String {
    format!("{artifact}.cdx.json")
}

/// What an SBOM is made from.
pub struct Input<'a> {
    pub manifest: &'a Manifest,
    pub target: Target,
    pub format: Format,
    pub stage: &'a Stage,
    /// The installed app directory in the stage (`/usr/lib/clawdbot/app`, …).
    pub app_dir: &'a str,
    /// The npm lockfile the app was installed from.
    pub lockfile: &'a Path,
    /// The written artifact.
    pub artifact: &'a Path,
    /// Build time (seconds since the epoch).
    pub time: u64,
}

/// The CycloneDX document, pretty-printed.
pub fn cyclonedx(input: &Input) -> Result<String, Error> {
    let m = input.manifest;
    let (_, sha256, sha512) = crate::write::file_digests(input.artifact)?;
    let lock_text = std::fs::read(input.lockfile).map_err(|e| Error::io(input.lockfile, e))?;
    let lock: Value = serde_json::from_slice(&lock_text).map_err(|e| Error::input_from(input.lockfile, "not a valid package-lock.json", e))?;
    let locked = lock.get("packages").and_then(Value::as_object).ok_or_else(|| Error::input(input.lockfile, "no \"packages\" table"))?;

    let version = m.upstream_version().distro();
    let root_purl = input.format.writer().purl(m, input.target);
    let artifact_name = input.artifact.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

    let mut components = Vec::new();
    let mut refs = Vec::new();
    for p in npm_packages(input.stage, input.app_dir)? {
        let bom_ref = format!("npm:{}", p.dir);
        let mut c = json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": p.name,
            "version": p.version,
            "purl": npm_purl(&p.name, &p.version),
            "licenses": licence(&p.license),
            "properties": [{ "name": "cdx:npm:package:path", "value": p.dir }],
        });
        if let Some(hash) = locked.get(&p.dir).and_then(|l| l.get("integrity")).and_then(Value::as_str).and_then(integrity_hash) {
            c["hashes"] = json!([hash]);
        }
        refs.push(bom_ref);
        components.push(c);
    }
    let node = m.payload.node.targets.get(input.target.name()).ok_or_else(|| Error::Value(format!("no Node.js runtime for {}", input.target)))?;
    let mut node_c = json!({
        "type": "application",
        "bom-ref": "nodejs",
        "name": "node",
        "group": "nodejs",
        "version": node.version,
        "description": format!("Node.js runtime, from the npm package {}@{}", node.package, node.version),
        "purl": npm_purl(&node.package, &node.version),
        "cpe": format!("cpe:2.3:a:nodejs:node.js:{}:*:*:*:*:*:*:*", node.version),
        "licenses": [{ "license": { "id": "MIT" } }],
    });
    if let Some(hash) = integrity_hash(&node.integrity) {
        node_c["hashes"] = json!([hash]);
    }
    refs.push("nodejs".to_owned());
    components.push(node_c);

    let root_ref = format!("artifact:{artifact_name}");
    let doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(&sha256),
        "version": 1,
        "metadata": {
            "timestamp": iso8601(input.time),
            "tools": { "components": [{ "type": "application", "name": "cargo xtask dist", "description": "clawdbot system packages" }] },
            "component": {
                "type": "application",
                "bom-ref": root_ref,
                "name": m.package.name,
                "version": version,
                "description": format!("{} ({artifact_name})", m.package.summary),
                "purl": root_purl,
                "licenses": licence(&m.package.license),
                "hashes": [{ "alg": "SHA-256", "content": sha256 }, { "alg": "SHA-512", "content": sha512 }],
                "properties": [{ "name": "clawdbot:artifact", "value": artifact_name }],
            },
        },
        "components": components,
        "dependencies": [{ "ref": root_ref, "dependsOn": refs }],
    });
    serde_json::to_string_pretty(&doc).map(|s| s + "\n").map_err(|e| Error::encode("writing the SBOM", e))
}

/// `pkg:npm/name@version`, the scope's `@` percent-encoded.
pub fn npm_purl(name: &str, version: &str) -> String {
    let name = name.strip_prefix('@').map_or_else(|| name.to_owned(), |n| format!("%40{n}"));
    format!("pkg:npm/{name}@{}", version.replace('+', "%2B"))
}

/// An SPDX expression as an `expression`, anything else as a licence name.
fn licence(declared: &str) -> Value {
    let spdx_like = !declared.is_empty()
        && declared != "UNKNOWN"
        && !declared.to_ascii_uppercase().contains("SEE ")
        && declared.chars().all(|c| c.is_ascii_alphanumeric() || "-.+() ".contains(c));
    if spdx_like {
        json!([{ "expression": declared }])
    } else {
        json!([{ "license": { "name": if declared.is_empty() { "UNKNOWN" } else { declared } } }])
    }
}

/// An npm `integrity` (`sha512-<base64>`) as a CycloneDX hash.
fn integrity_hash(integrity: &str) -> Option<Value> {
    let (alg, b64) = integrity.split_whitespace().next()?.split_once('-')?;
    let alg = match alg {
        "sha512" => "SHA-512",
        "sha384" => "SHA-384",
        "sha256" => "SHA-256",
        "sha1" => "SHA-1",
        _ => return None,
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(json!({ "alg": alg, "content": hex(&bytes) }))
}

/// A name-based (version 5 style) UUID URN from the artifact's digest.
fn serial_number(sha256_hex: &str) -> String {
    let h = sha2::Sha256::digest(format!("clawdbot sbom {sha256_hex}").as_bytes());
    let mut b: [u8; 16] = h[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex(&b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn iso8601(secs: u64) -> String {
    let (y, mo, d) = crate::write::civil_from_days((secs / 86400) as i64);
    let rem = secs % 86400;
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The npm package directories an SBOM lists (its `cdx:npm:package:path`
/// properties), for comparing with a package's real contents.
pub fn npm_paths(sbom: &str) -> Result<Vec<String>, Error> {
    let doc: Value = serde_json::from_str(sbom).map_err(|e| Error::encode("reading the SBOM", e))?;
    let mut out: BTreeMap<String, ()> = BTreeMap::new();
    for c in doc.get("components").and_then(Value::as_array).into_iter().flatten() {
        for p in c.get("properties").and_then(Value::as_array).into_iter().flatten() {
            if p.get("name").and_then(Value::as_str) == Some("cdx:npm:package:path") {
                if let Some(v) = p.get("value").and_then(Value::as_str) {
                    out.insert(v.to_owned(), ());
                }
            }
        }
    }
    Ok(out.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_hashes_and_ids_are_well_formed() {
        assert_eq!(npm_purl("@scope/pkg", "1.0.0+build"), "pkg:npm/%40scope/pkg@1.0.0%2Bbuild");
        assert_eq!(npm_purl("left-pad", "1.3.0"), "pkg:npm/left-pad@1.3.0");
        let h = integrity_hash("sha512-AAEC").unwrap();
        assert_eq!(h, json!({ "alg": "SHA-512", "content": "000102" }));
        assert!(integrity_hash("md5-AAEC").is_none());
        let s = serial_number("00");
        assert_eq!(s.len(), "urn:uuid:".len() + 36);
        assert_eq!(&s[23..24], "5", "{s}");
        assert!("89ab".contains(&s[28..29]), "{s}");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(licence("(MIT OR Apache-2.0)"), json!([{ "expression": "(MIT OR Apache-2.0)" }]));
        assert_eq!(licence("SEE LICENSE IN LICENSE.md"), json!([{ "license": { "name": "SEE LICENSE IN LICENSE.md" } }]));
    }
}
