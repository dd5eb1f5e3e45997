//! The transpile cache shipped in every package, so that even the gateway's first
//! start after installation skips transpiling its TypeScript extensions.
//!
//! The gateway loads its extensions with jiti, which (with `JITI_TRY_NATIVE=true`,
//! as every package runs it) transpiles their TypeScript and leaves their
//! JavaScript imports to Node's loader; it keeps each transpiled module in
//! `$TMPDIR/jiti` under a name derived
//! from the source's absolute path and checks it against the source's hash on
//! every load. `warm.sh` runs the real gateway once, offline, with the app
//! mounted at its installed path in a private mount namespace, and keeps what
//! jiti wrote. The transpiled JavaScript depends on neither the processor nor the
//! system, so the cache built with the build machine's own Linux payload serves
//! both Linux targets (at `/usr/lib/clawdbot/app`) and, built a second time with
//! the app at `/Library/Clawdbot/app`, both macOS targets; an entry whose source
//! differs would be a plain cache miss for jiti, and the macOS package checks
//! that there is none (`pkg::macos::check_transpile_cache`).
//!
//! Cached under `target/payload/<host>/jiti` (Linux) and `jiti-macos`, each with a
//! stamp of its inputs.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pkg::{Manifest, Target};
use sha2::Digest as _;
use xshell::{cmd, Shell};

const SCRIPT: &str = include_str!("warm.sh");
/// Sourced by warm.sh and startup.sh: the root in which the app sits at its
/// installed path, and the wait for the gateway's answer.
pub const ROOT_SCRIPT: &str = include_str!("gateway-root.sh");

/// Writes `name` (a script sourcing gateway-root.sh) and gateway-root.sh into
/// `dir`; returns the script's path.
pub fn write_scripts(dir: &Path, name: &str, script: &str) -> Result<PathBuf> {
    fs::write(dir.join("gateway-root.sh"), ROOT_SCRIPT).with_context(|| format!("writing {}", dir.join("gateway-root.sh").display()))?;
    let path = dir.join(name);
    fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The gateway's runtime contract for a start inside gateway-root.sh's root:
/// state and caches below `/.gateway/<name>`, the build machine's node first on
/// `PATH`.
pub fn offline_runtime(m: &Manifest, node_bin: &Path, name: &str) -> pkg::gateway::Runtime {
    let base = if name.is_empty() { "/.gateway".to_owned() } else { format!("/.gateway/{name}") };
    pkg::gateway::Runtime {
        state_dir: format!("{base}/state"),
        cache_dir: format!("{base}/cache"),
        port: m.service.port,
        shell: m.service.shell.clone(),
        path: format!("{}:/usr/bin:/bin", node_bin.parent().map_or(Path::new("/"), |p| p).display()),
    }
}

/// `<dir>/<name>.env` (the environment, `NAME=value` lines, without the
/// variables in `leave_out`) and `<dir>/<name>.json` (the first configuration
/// with `token`), for run_gateway in gateway-root.sh.
pub fn write_contract(dir: &Path, name: &str, runtime: &pkg::gateway::Runtime, leave_out: &[&str], log_file: bool, token: &str) -> Result<()> {
    let env: Vec<_> = runtime.environment().into_iter().filter(|v| !leave_out.contains(&v.name)).collect();
    let env = pkg::gateway::env_args(&env)?.join("\n") + "\n";
    let config = runtime.first_config(log_file).replace("$token", token) + "\n";
    for (ext, text) in [("env", &env), ("json", &config)] {
        let path = dir.join(format!("{name}.{ext}"));
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The Linux target this machine can run.
pub fn host_target() -> Result<Target> {
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        Ok(Target::LinuxX64)
    } else if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
        Ok(Target::LinuxArm64)
    } else {
        bail!("the Linux packages' transpile cache is built by running the gateway, which needs a Linux x86_64 or aarch64 build machine")
    }
}

/// The transpile cache for the packages of `target`: built for the app's
/// installed path on that target's system.
pub fn transpile_cache(sh: &Shell, manifest: &Manifest, target: Target) -> Result<PathBuf> {
    let host = host_target()?;
    let (app, node) = crate::fetch::app_and_node(sh, manifest, host)?;
    let (installed, name) = if target.is_linux() { (pkg::linux::Paths::new(manifest).app, "jiti") } else { (pkg::macos::app_dir(manifest)?, "jiti-macos") };
    let port = manifest.service.port.to_string();
    let node_bin = node.join("bin/node");
    let runtime = offline_runtime(manifest, &node_bin, "");
    let log_file = !target.is_linux();

    let mut h = sha2::Sha256::new();
    for input in [fs::read(app.with_extension("stamp"))?, fs::read(node.with_extension("stamp"))?] {
        h.update(&input);
        h.update([0]);
    }
    let contract = format!("{:?}\n{}", runtime.environment(), runtime.first_config(log_file));
    for input in [SCRIPT, ROOT_SCRIPT, &contract, &installed, &manifest.payload.entry, &port] {
        h.update(input);
        h.update([0]);
    }
    let stamp = format!("{:x}", h.finalize());
    let dir = crate::root().join("target/payload").join(host.name()).join(name);
    if crate::fetch::cached(&dir, &stamp) {
        eprintln!("    transpile cache cached in {}", dir.display());
        return Ok(dir);
    }
    crate::tools::need_tools(sh, &[("unshare", "util-linux"), ("ip", "iproute2")])?;
    crate::step(&format!("{host}: first start of the gateway at {installed}, offline, to build the transpile cache for {target}"), || {
        let tmp = dir.with_extension("partial");
        crate::fetch::remove(&tmp)?;
        fs::create_dir_all(&tmp)?;
        let scripts = tmp.with_extension("scripts");
        crate::fetch::remove(&scripts)?;
        fs::create_dir_all(&scripts)?;
        let script = write_scripts(&scripts, "warm.sh", SCRIPT)?;
        let token = format!("build-time-only-{:x}", sha2::Sha256::digest(fs::read("/proc/sys/kernel/random/uuid")?));
        write_contract(&scripts, "gateway", &runtime, &[], log_file, &token)?;
        let (env_file, config) = (scripts.join("gateway.env"), scripts.join("gateway.json"));
        let entry = &manifest.payload.entry;
        let run =
            cmd!(sh, "unshare --user --map-root-user --mount --net --fork sh {script} {node_bin} {app} {installed} {entry} {port} {env_file} {config} {tmp}")
                .run();
        let _ = fs::remove_dir_all(&scripts);
        run.context(
            "building the transpile cache failed; it needs user, mount and network namespaces (`unshare --user --map-root-user --mount --net` must work). \
             `cargo xtask dist --no-transpile-cache` builds without it",
        )?;
        let mut names: Vec<_> = fs::read_dir(&tmp)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        names.sort();
        let mut h = sha2::Sha256::new();
        for name in &names {
            h.update(name.as_encoded_bytes());
            h.update([0]);
            h.update(fs::read(tmp.join(name)).with_context(|| format!("reading {}", tmp.join(name).display()))?);
        }
        fs::write(tmp.join(pkg::payload::SEED_STAMP), format!("{:x}\n", h.finalize()))?;
        eprintln!("    {} entries, {} KiB", names.len(), names.iter().map(|n| fs::metadata(tmp.join(n)).map_or(0, |m| m.len())).sum::<u64>() >> 10);
        crate::fetch::commit(&tmp, &dir, &stamp)
    })?;
    Ok(dir)
}
