//! The repository builder on small fixture packages: versions accumulate up to
//! `keep`, a published file is never replaced by other contents, a failure
//! leaves the previous repository as it was, the same inputs give the same
//! bytes, and keys that clients cannot verify are refused. (The real packages'
//! repositories are read back by apt-ftparchive, gpgv, sqv, rpmkeys,
//! createrepo_c and dnf in `cargo xtask test`, and installed with apt in the
//! e2e `repo` scenarios.)

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pkg::linux::{self, Flavor};
use pkg::payload::Payload;
use pkg::repo::{Key, Keys, Options};
use pkg::{BuildOptions, Manifest, Target};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn payload(dir: &Path, entry: &str) -> Payload {
    let app = dir.join("app");
    fs::create_dir_all(app.join("node_modules/clawdbot/dist")).unwrap();
    fs::write(app.join("node_modules/clawdbot/dist/entry.js"), entry).unwrap();
    fs::write(app.join("node_modules/clawdbot/package.json"), r#"{"name":"clawdbot","version":"2026.1.24-3","license":"MIT"}"#).unwrap();
    common::set_aside_copies(&app);
    let node = dir.join("node");
    fs::create_dir_all(node.join("bin")).unwrap();
    fs::copy("/usr/bin/true", node.join("bin/node")).unwrap();
    fs::write(node.join("LICENSE"), "MIT\n").unwrap();
    Payload { app, node, jiti: None, keyring: None }
}

/// The .deb (and, with `rpm`, the .rpm) of packaging revision `revision` in `out`.
fn build(dir: &Path, revision: u32, out: &Path, rpm: bool) {
    build_with(dir, revision, out, rpm, "console.log('hi')\n");
}

fn build_with(dir: &Path, revision: u32, out: &Path, rpm: bool, entry: &str) {
    let mut m = Manifest::load(&root().join("clawdbot.toml")).unwrap();
    m.package.revision = revision;
    let templates = pkg::format::load_templates(&root()).unwrap();
    let p = payload(dir, entry);
    let opts = BuildOptions { mtime: 1_700_000_000, threads: 2, blocks: Default::default() };
    fs::create_dir_all(out).unwrap();
    let stage = linux::stage(&m, Flavor::Deb, &p, &templates).unwrap();
    pkg::deb::write(&m, Target::LinuxX64, &stage, &templates, &opts, out).unwrap();
    if rpm {
        let stage = linux::stage(&m, Flavor::Rpm, &p, &templates).unwrap();
        pkg::rpm::write(&m, Target::LinuxX64, &stage, &templates, &opts, out, None).unwrap();
    }
}

struct Repo {
    dir: tempfile::TempDir,
    key: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.asc");
        fs::write(&key, Key::generate("repo test <test@clawdbot.invalid>", 1_600_000_000).unwrap().secret_armored().unwrap()).unwrap();
        Repo { dir, key }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn publish(&self, from: &Path, keep: usize) -> Result<pkg::repo::Summary, pkg::Error> {
        let m = Manifest::load(&root().join("clawdbot.toml")).unwrap();
        let keys = Keys::new(vec![Key::load(&self.key).unwrap()]).unwrap();
        let signer = pkg::rpm::Signer::from_key_file(&self.key).unwrap();
        let opts = Options { from: from.to_owned(), out: self.out(), base_url: "http://example.invalid".into(), keep, time: 1_700_000_000, valid_for: None };
        pkg::repo::build(&m, &opts, &keys, &signer, &|_| {})
    }

    fn packages(&self) -> String {
        fs::read_to_string(self.out().join("deb/dists/stable/main/binary-amd64/Packages")).unwrap()
    }
}

fn versions(packages: &str) -> Vec<String> {
    let mut v: Vec<String> = packages.lines().filter_map(|l| l.strip_prefix("Version: ")).map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn each_release_adds_its_version_and_keep_drops_the_oldest() {
    let r = Repo::new();
    let work = r.dir.path().join("work");
    for rev in 1..=3 {
        let from = r.dir.path().join(format!("dist-{rev}"));
        build(&work, rev, &from, rev == 1);
        let s = r.publish(&from, 2).unwrap();
        assert!(s.added.iter().any(|a| a.ends_with(&format!("-{rev}_amd64.deb"))), "{s:?}");
        if rev == 3 {
            assert_eq!(s.removed, ["deb/pool/main/c/clawdbot/clawdbot_2026.1.24.3-1_amd64.deb"]);
        }
    }
    assert_eq!(versions(&r.packages()), ["2026.1.24.3-2", "2026.1.24.3-3"]);
    assert!(!r.out().join("deb/pool/main/c/clawdbot/clawdbot_2026.1.24.3-1_amd64.deb").exists());
    // The rpm of the first release stays: it has no newer version.
    assert!(r.out().join("rpm/packages/clawdbot-2026.1.24.3-1.x86_64.rpm").is_file());
    let release = fs::read_to_string(r.out().join("deb/dists/stable/Release")).unwrap();
    assert!(release.contains("Architectures: amd64 arm64\n") && release.contains("Acquire-By-Hash: yes\n") && !release.contains("Valid-Until"), "{release}");
    // The previous generation's indices stay reachable by hash.
    let by_hash = fs::read_dir(r.out().join("deb/dists/stable/main/binary-amd64/by-hash/SHA256")).unwrap().count();
    assert_eq!(by_hash, 6, "this and the previous Packages, Packages.gz, Packages.xz");
    for f in ["clawdbot-archive-keyring.pgp", "clawdbot.asc", "clawdbot.sources", "clawdbot.repo", "index.html", "rpm/repodata/repomd.xml.asc"] {
        assert!(r.out().join(f).is_file(), "{f}");
    }
    assert!(!fs::read_dir(r.out()).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with("key.asc")));
}

#[test]
fn a_published_file_is_not_replaced_and_a_failure_keeps_the_previous_repository() {
    let r = Repo::new();
    let first = r.dir.path().join("dist-a");
    build(&r.dir.path().join("a"), 1, &first, false);
    r.publish(&first, 3).unwrap();
    let before = fs::read(r.out().join("deb/dists/stable/InRelease")).unwrap();

    // The same name, other contents.
    let other = r.dir.path().join("dist-b");
    let w = r.dir.path().join("b");
    build_with(&w, 1, &other, false, "console.log('changed')\n");
    let e = r.publish(&other, 3).unwrap_err().to_string();
    assert!(e.contains("already published with other contents") && e.contains("raise the packaging revision"), "{e}");

    // A broken package.
    let broken = r.dir.path().join("dist-broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("clawdbot_9_amd64.deb"), "not an archive").unwrap();
    let e = r.publish(&broken, 3).unwrap_err().to_string();
    assert!(e.contains("clawdbot_9_amd64.deb") && e.contains("not a Debian package"), "{e}");

    assert_eq!(fs::read(r.out().join("deb/dists/stable/InRelease")).unwrap(), before);
    let leftovers: Vec<String> =
        fs::read_dir(r.dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(".repo")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The same inputs again: the same bytes.
    r.publish(&first, 3).unwrap();
    assert_eq!(fs::read(r.out().join("deb/dists/stable/InRelease")).unwrap(), before);
}

#[test]
fn an_empty_input_is_a_clear_error_and_writes_nothing() {
    let r = Repo::new();
    let empty = r.dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let e = r.publish(&empty, 3).unwrap_err().to_string();
    assert!(e.contains("no .deb or .rpm") && e.contains("cargo xtask dist"), "{e}");
    assert!(!r.out().exists());
}

/// A gpg-made key of `algo`, secret, armoured.
fn gpg_key(dir: &Path, algo: &str) -> PathBuf {
    let home = dir.join(format!("gnupg-{algo}"));
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg (apt-get install gnupg)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    gpg(&["--quick-gen-key", "test <test@clawdbot.invalid>", algo, "sign", "never"]);
    let path = dir.join(format!("{algo}.asc"));
    fs::write(&path, gpg(&["--armor", "--export-secret-keys"])).unwrap();
    let _ = Command::new("gpgconf").arg("--homedir").arg(&home).args(["--kill", "all"]).status();
    path
}

#[test]
fn keys_that_clients_cannot_verify_are_refused_with_the_reason() {
    if !common::require(&[("gpg", "gnupg")]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let e = Key::load(&gpg_key(dir.path(), "ed25519")).err().expect("an EdDSA key is refused").to_string();
    assert!(e.contains("RSA") && e.contains("EdDSA"), "{e}");
    let e = Key::load(&gpg_key(dir.path(), "rsa1024")).err().expect("a short RSA key is refused").to_string();
    assert!(e.contains("1024 bits"), "{e}");
    let rsa = Key::load(&gpg_key(dir.path(), "rsa3072")).unwrap();
    assert_eq!(rsa.fingerprint().len(), 40);
    let public = dir.path().join("not-secret.asc");
    fs::write(&public, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n").unwrap();
    let e = Key::load(&public).err().expect("no secret key").to_string();
    assert!(e.contains("not an ASCII-armoured OpenPGP secret key") && e.contains("gpg --export-secret-keys"), "{e}");
}
