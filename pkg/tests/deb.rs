//! The .deb writer on a small fixture payload, read back by dpkg-deb (skipped
//! without it, see `common`).

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use pkg::linux::{self, Flavor};
use pkg::payload::Payload;
use pkg::{BuildOptions, Manifest, Target};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn manifest() -> Manifest {
    Manifest::load(&root().join("clawdbot.toml")).unwrap()
}

/// A payload with the gateway's entry point, a CLI link, a pruned file, the
/// copies `[payload.prune] remove` names and a real ELF binary standing in for node.
const JITI_ENTRY: &str = "dist-entry.1ade027e.cjs";

fn fixture(dir: &Path) -> Payload {
    let app = dir.join("app");
    fs::create_dir_all(app.join("node_modules/clawdbot/dist")).unwrap();
    fs::create_dir_all(app.join("node_modules/.bin")).unwrap();
    fs::write(app.join("package.json"), "{}").unwrap();
    fs::write(app.join("node_modules/clawdbot/dist/entry.js"), "#!/usr/bin/env node\nconsole.log('hi')\n").unwrap();
    fs::set_permissions(app.join("node_modules/clawdbot/dist/entry.js"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(app.join("node_modules/clawdbot/.npmignore"), "test/\n").unwrap();
    fs::write(app.join("node_modules/clawdbot/package.json"), r#"{"name":"clawdbot","version":"2026.1.24-3","license":"MIT"}"#).unwrap();
    fs::write(app.join("node_modules/clawdbot/LICENSE"), "MIT\n").unwrap();
    symlink("../clawdbot/dist/entry.js", app.join("node_modules/.bin/clawdbot")).unwrap();
    common::set_aside_copies(&app);
    let node = dir.join("node");
    fs::create_dir_all(node.join("bin")).unwrap();
    fs::copy("/usr/bin/true", node.join("bin/node")).unwrap();
    fs::write(node.join("LICENSE"), "MIT\n").unwrap();
    let jiti = dir.join("jiti");
    fs::create_dir_all(&jiti).unwrap();
    // The entry jiti would write for the entry point at its installed path.
    let source = fs::read(app.join("node_modules/clawdbot/dist/entry.js")).unwrap();
    let name = pkg::jiti::entry_name("/usr/lib/clawdbot/app/node_modules/clawdbot/dist/entry.js");
    assert_eq!(name, JITI_ENTRY);
    fs::write(jiti.join(name), format!("module.exports = {{}};{}", pkg::jiti::last_line(&source))).unwrap();
    fs::write(jiti.join(pkg::payload::SEED_STAMP), "0123abcd\n").unwrap();
    Payload { app, node, jiti: Some(jiti), keyring: None }
}

fn build(payload: &Payload, out: &Path, mtime: u64) -> Result<PathBuf, pkg::Error> {
    let m = manifest();
    let templates = pkg::format::load_templates(&root()).unwrap();
    let stage = linux::stage(&m, Flavor::Deb, payload, &templates)?;
    pkg::deb::write(&m, Target::LinuxX64, &stage, &templates, &BuildOptions { mtime, threads: 2, blocks: Default::default() }, out)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (install dpkg)"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dpkg_deb_reads_back_every_file_with_owner_and_mode() {
    if !common::require(&[("dpkg-deb", "dpkg"), ("md5sum", "coreutils")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let deb = build(&fixture(dir.path()), dir.path(), 1_700_000_000).unwrap();
    assert_eq!(deb.file_name().unwrap(), "clawdbot_2026.1.24.3-1_amd64.deb");

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let entries: Vec<(String, String, String)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[1].to_owned(), format!("./{}", f[5..].join(" ").trim_start_matches("./")))
        })
        .collect();
    let find = |path: &str| entries.iter().find(|e| e.2 == path).unwrap_or_else(|| panic!("{path} missing in:\n{listing}"));
    for (path, mode) in [
        ("./usr/bin/clawdbot", "-rwxr-xr-x"),
        ("./usr/lib/clawdbot/node/bin/node", "-rwxr-xr-x"),
        ("./usr/lib/clawdbot/app/node_modules/clawdbot/dist/entry.js", "-rwxr-xr-x"),
        ("./usr/lib/clawdbot/app/package.json", "-rw-r--r--"),
        ("./usr/lib/clawdbot/libexec/clawdbot-setup", "-rwxr-xr-x"),
        ("./usr/lib/clawdbot/libexec/clawdbot-seed-cache", "-rwxr-xr-x"),
        (&format!("./usr/lib/clawdbot/cache/jiti/{JITI_ENTRY}"), "-rw-r--r--"),
        ("./usr/lib/clawdbot/cache/jiti/seed-id", "-rw-r--r--"),
        ("./lib/systemd/system/clawdbot-gateway.service", "-rw-r--r--"),
        ("./usr/lib/sysusers.d/clawdbot.conf", "-rw-r--r--"),
        ("./usr/lib/tmpfiles.d/clawdbot.conf", "-rw-r--r--"),
        ("./etc/clawdbot/gateway.env", "-rw-------"),
        ("./usr/share/man/man1/clawdbot.1.gz", "-rw-r--r--"),
        ("./usr/share/doc/clawdbot/copyright", "-rw-r--r--"),
        ("./usr/share/lintian/overrides/clawdbot", "-rw-r--r--"),
        ("./usr/lib/clawdbot/app/node_modules/.bin/clawdbot -> ../clawdbot/dist/entry.js", "lrwxrwxrwx"),
        ("./usr/lib/clawdbot/", "drwxr-xr-x"),
    ] {
        let e = find(path);
        assert_eq!(e.0, mode, "{path}");
        assert_eq!(e.1, "root/root", "{path}");
    }
    assert!(entries.iter().all(|e| e.1 == "root/root"));
    assert!(!listing.contains(".npmignore"), "pruned file shipped");
    assert!(!listing.contains(".ignored"), "a removed copy shipped: {listing}");
    assert!(!listing.contains("var/lib"), "state dir must not be shipped");

    // The bundled npm packages' licences are collected into the copyright file.
    let tree = dir.path().join("tree");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree));
    let copyright = fs::read_to_string(tree.join("usr/share/doc/clawdbot/copyright")).unwrap();
    assert!(copyright.contains("\n node_modules/clawdbot clawdbot@2026.1.24-3: MIT (LICENSE)\n"), "{copyright}");

    let ctrl = dir.path().join("ctrl");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&ctrl));
    assert_eq!(fs::read_to_string(ctrl.join("conffiles")).unwrap(), "/etc/clawdbot/gateway.env\n");
    let md5sums = fs::read_to_string(ctrl.join("md5sums")).unwrap();
    let files = entries.iter().filter(|e| e.0.starts_with('-')).count();
    assert_eq!(md5sums.lines().count(), files);
    assert!(md5sums.contains("  usr/lib/clawdbot/app/package.json\n"), "{md5sums}");
    // md5sums as md5sum itself computes them from the unpacked tree.
    run(Command::new("md5sum").arg("--check").arg("--quiet").arg(ctrl.join("md5sums")).current_dir(&tree));
    for s in ["preinst", "postinst", "prerm", "postrm"] {
        assert_eq!(fs::metadata(ctrl.join(s)).unwrap().permissions().mode() & 0o777, 0o755, "{s}");
    }

    let info = run(Command::new("dpkg-deb").arg("-f").arg(&deb));
    assert!(info.contains("Package: clawdbot\n"), "{info}");
    assert!(info.contains("Version: 2026.1.24.3-1\n"), "{info}");
    assert!(info.contains("Architecture: amd64\n"), "{info}");
    assert!(info.contains("Depends: libc6 (>= 2.28)"), "{info}");

    let unit = fs::read_to_string(tree.join("lib/systemd/system/clawdbot-gateway.service")).unwrap();
    assert!(unit.contains("\nUser=clawdbot\n") && unit.contains("\nProtectHome=yes\n"), "{unit}");
    assert!(unit.contains("ExecStart=/usr/lib/clawdbot/node/bin/node /usr/lib/clawdbot/app/node_modules/clawdbot/dist/entry.js gateway\n"), "{unit}");
    let placeholder = unit.split('@').skip(1).step_by(2).find(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    assert_eq!(placeholder, None, "unfilled placeholder in:\n{unit}");
}

#[test]
fn same_inputs_give_the_same_bytes_and_the_time_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let payload = fixture(dir.path());
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    for d in [&a, &b, &c] {
        fs::create_dir(d).unwrap();
    }
    let one = fs::read(build(&payload, &a, 1_700_000_000).unwrap()).unwrap();
    let two = fs::read(build(&payload, &b, 1_700_000_000).unwrap()).unwrap();
    let three = fs::read(build(&payload, &c, 1_700_000_001).unwrap()).unwrap();
    assert!(one == two, "rebuild differs");
    assert!(one != three, "mtime is not used");
}

#[test]
fn a_missing_payload_fails_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut payload = fixture(dir.path());
    payload.node = dir.path().join("no-such-node");
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let e = build(&payload, &out, 0).unwrap_err().to_string();
    assert!(e.contains("no-such-node/bin/node"), "{e}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);

    let payload = fixture(&dir.path().join("again"));
    fs::remove_file(payload.app.join("node_modules/clawdbot/dist/entry.js")).unwrap();
    let e = build(&payload, &out, 0).unwrap_err().to_string();
    assert!(e.contains("has no gateway entry point node_modules/clawdbot/dist/entry.js"), "{e}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);

    let payload = fixture(&dir.path().join("unstamped"));
    let jiti = payload.jiti.clone().unwrap();
    fs::remove_file(jiti.join(pkg::payload::SEED_STAMP)).unwrap();
    let e = build(&payload, &out, 0).unwrap_err().to_string();
    assert!(e.contains(&format!("{}: the transpile cache has no seed-id file", jiti.display())), "{e}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn an_unwritable_output_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let payload = fixture(dir.path());
    let e = build(&payload, &dir.path().join("missing-dir"), 0).unwrap_err().to_string();
    assert!(e.contains("missing-dir"), "{e}");
}
