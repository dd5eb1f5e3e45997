//! Fetching the pinned payload of a target into `target/payload/<target>/`:
//! the gateway through `npm ci` against the committed lockfile (integrity-checked by
//! npm), and the Node.js runtime tarball from the npm registry, checked against the
//! manifest's sha512. Both are cached: a stamp records the inputs, and a second run
//! with the same inputs downloads nothing. A cache entry appears only when complete.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use pkg::payload::Payload;
use pkg::{Manifest, Target};
use sha2::Digest as _;
use xshell::{cmd, Shell};

/// The payload of `target`; with `transpile_cache`, also the gateway's
/// transpile cache for that target's install path (see [`crate::warm`]).
pub fn payload(sh: &Shell, manifest: &Manifest, target: Target, transpile_cache: bool) -> Result<Payload> {
    let (app, node) = app_and_node(sh, manifest, target)?;
    let jiti = if transpile_cache { Some(crate::warm::transpile_cache(sh, manifest, target)?) } else { None };
    Ok(Payload { app, node, jiti, keyring: None })
}

/// The gateway's `npm ci` tree and the Node.js runtime of one target.
pub fn app_and_node(sh: &Shell, manifest: &Manifest, target: Target) -> Result<(PathBuf, PathBuf)> {
    let dir = crate::root().join("target/payload").join(target.name());
    fs::create_dir_all(&dir)?;
    let npm_cache = crate::root().join("target/cache/npm");
    Ok((app(sh, manifest, target, &dir, &npm_cache)?, node(sh, manifest, target, &dir, &npm_cache)?))
}

fn app(sh: &Shell, manifest: &Manifest, target: Target, dir: &Path, npm_cache: &Path) -> Result<PathBuf> {
    let src = crate::root().join(&manifest.payload.npm_dir);
    let package_json = fs::read(src.join("package.json")).with_context(|| format!("reading {}/package.json", src.display()))?;
    let lock = fs::read(src.join("package-lock.json")).with_context(|| format!("reading {}/package-lock.json", src.display()))?;
    let (os, cpu) = (target.npm_os(), target.npm_cpu());
    let args = ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--os", os, "--cpu", cpu];
    let mut h = sha2::Sha256::new();
    h.update(&package_json);
    h.update(&lock);
    h.update(args.join(" "));
    let stamp = format!("{:x}", h.finalize());

    let app = dir.join("app");
    if cached(&app, &stamp) {
        eprintln!("    {target}: gateway payload cached in {}", app.display());
        return Ok(app);
    }
    crate::step(&format!("{target}: npm ci of the gateway for {os}/{cpu} (about 40,000 files)"), || {
        let tmp = dir.join("app.partial");
        remove(&tmp)?;
        fs::create_dir_all(&tmp)?;
        fs::write(tmp.join("package.json"), &package_json)?;
        fs::write(tmp.join("package-lock.json"), &lock)?;
        let _cwd = sh.push_dir(&tmp);
        let _cache = sh.push_env("npm_config_cache", npm_cache);
        let _engine = sh.push_env("npm_config_engine_strict", "false");
        cmd!(sh, "npm {args...} --loglevel=error").run().with_context(|| format!("npm ci for {target} failed"))?;
        commit(&tmp, &app, &stamp)
    })?;
    Ok(app)
}

fn node(sh: &Shell, manifest: &Manifest, target: Target, dir: &Path, npm_cache: &Path) -> Result<PathBuf> {
    let rt = manifest.node_runtime(target).with_context(|| format!("the manifest pins no Node.js runtime for {target} (payload.node.targets.{target})"))?;
    let node = dir.join("node");
    // Linux runtimes are stripped of their symbol table (the dynamic symbols that
    // native modules link against stay); macOS ones keep Apple's code signature intact.
    let strip =
        target.is_linux().then(|| if target.npm_cpu() == "x64" { ("strip", "binutils") } else { ("aarch64-linux-gnu-strip", "binutils-aarch64-linux-gnu") });
    let stamp = match strip {
        Some((tool, _)) => format!("{} {tool} --strip-all", rt.integrity),
        None => rt.integrity.clone(),
    };
    if cached(&node, &stamp) {
        eprintln!("    {target}: Node.js {} cached in {}", rt.version, node.display());
        return Ok(node);
    }
    crate::step(&format!("{target}: Node.js runtime {}@{}", rt.package, rt.version), || {
        let downloads = crate::root().join("target/cache/node");
        fs::create_dir_all(&downloads)?;
        let tgz = downloads.join(format!("{}-{}.tgz", rt.package.trim_start_matches('@').replace('/', "-"), rt.version));
        if !tgz.exists() {
            let spec = format!("{}@{}", rt.package, rt.version);
            let _cache = sh.push_env("npm_config_cache", npm_cache);
            cmd!(sh, "npm pack {spec} --pack-destination {downloads} --silent").quiet().ignore_stdout().run().with_context(|| format!("downloading {spec}"))?;
        }
        let bytes = fs::read(&tgz).with_context(|| format!("reading {}", tgz.display()))?;
        let want = &rt.sha512;
        let got = sha2::Sha512::digest(&bytes);
        if got.as_slice() != want.as_slice() {
            let _ = fs::remove_file(&tgz);
            bail!(
                "{}: sha512 is {}, the manifest pins {} (payload.node.targets.{target}.integrity); the download was removed",
                tgz.display(),
                base64::engine::general_purpose::STANDARD.encode(got),
                rt.integrity
            );
        }
        let tmp = dir.join("node.partial");
        remove(&tmp)?;
        fs::create_dir_all(tmp.join("bin"))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut found = 0;
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let dest = match path.to_str() {
                Some("package/bin/node") => tmp.join("bin/node"),
                Some("package/LICENSE") => tmp.join("LICENSE"),
                _ => continue,
            };
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            fs::write(&dest, data)?;
            found += 1;
        }
        if found != 2 {
            bail!("{}: expected package/bin/node and package/LICENSE in the tarball", tgz.display());
        }
        use std::os::unix::fs::PermissionsExt;
        let bin = tmp.join("bin/node");
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))?;
        if let Some((tool, package)) = strip {
            crate::tools::need_tools(sh, &[(tool, package)])?;
            let before = fs::metadata(&bin)?.len();
            cmd!(sh, "{tool} --strip-all {bin}").run()?;
            eprintln!("    stripped node: {} -> {} MiB", before >> 20, fs::metadata(&bin)?.len() >> 20);
        }
        commit(&tmp, &node, &stamp)
    })?;
    Ok(node)
}

fn stamp_path(dir: &Path) -> PathBuf {
    dir.with_extension("stamp")
}

pub fn cached(dir: &Path, stamp: &str) -> bool {
    dir.is_dir() && fs::read_to_string(stamp_path(dir)).is_ok_and(|s| s == stamp)
}

pub fn commit(tmp: &Path, dest: &Path, stamp: &str) -> Result<()> {
    remove(dest)?;
    let _ = fs::remove_file(stamp_path(dest));
    fs::rename(tmp, dest)?;
    fs::write(stamp_path(dest), stamp)?;
    Ok(())
}

pub fn remove(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("removing {}", dir.display())),
        _ => Ok(()),
    }
}
