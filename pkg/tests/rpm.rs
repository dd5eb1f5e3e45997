//! The .rpm writer, checked by the real rpm tools on a package built from a small
//! fixture payload: rpm's own queries (`--info`, `--dump`, `--scripts`,
//! `--provides`, `--requires`, `-lv`), rpmlint, a second build byte for byte, and
//! an OpenPGP signature made with a key generated for the test and verified by
//! `rpm -K`. The scriptlets run against stub commands to check what they call.
//!
//! A test whose tools are missing is skipped with a line naming them, and fails
//! under `CLAWDBOT_TESTS_REQUIRE_ALL=1` (see `common`).

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use pkg::linux::{self, Flavor, Templates};
use pkg::payload::Payload;
use pkg::{BuildOptions, Manifest, Stage, Target};

const MTIME: u64 = 1_795_651_200;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

/// The path of a tool the test required (see `common::require`).
fn tool(name: &str) -> PathBuf {
    common::which(name).unwrap_or_else(|| panic!("{name} is not installed; the rpm tests need it: apt-get install rpm rpmlint gnupg"))
}

/// rpm's queries and its payload unpacked by rpm2cpio and cpio.
const RPM: &[(&str, &str)] = &[("rpm", "rpm"), ("rpm2cpio", "rpm"), ("cpio", "cpio"), ("bash", "bash")];

/// A throw-away signing key.
const GPG: &[(&str, &str)] = &[("gpg", "gnupg"), ("gpgconf", "gnupg")];

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("UTF-8 output")
}

struct Fixture {
    _dir: tempfile::TempDir,
    out: PathBuf,
    manifest: Manifest,
    templates: Templates,
    stage: Stage,
}

/// A payload with the shape of the real one: package.json, the entry point, a
/// `.bin` link, an empty directory, and `/usr/bin/true` as the runtime.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("payload/app");
    let node = dir.path().join("payload/node");
    fs::create_dir_all(app.join("node_modules/clawdbot/dist")).unwrap();
    fs::create_dir_all(app.join("node_modules/clawdbot/empty")).unwrap();
    fs::create_dir_all(app.join("node_modules/.bin")).unwrap();
    fs::create_dir_all(node.join("bin")).unwrap();
    fs::write(app.join("package.json"), "{\"name\":\"clawdbot-system\",\"private\":true}\n").unwrap();
    let entry = app.join("node_modules/clawdbot/dist/entry.js");
    fs::write(&entry, "#!/usr/bin/env node\nconsole.log('gateway');\n").unwrap();
    fs::set_permissions(&entry, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(app.join("node_modules/clawdbot/package.json"), r#"{"name":"clawdbot","version":"2026.1.24-3","license":"MIT"}"#).unwrap();
    fs::write(app.join("node_modules/clawdbot/LICENSE.md"), "MIT\n").unwrap();
    symlink("../clawdbot/dist/entry.js", app.join("node_modules/.bin/clawdbot")).unwrap();
    common::set_aside_copies(&app);
    fs::copy("/usr/bin/true", node.join("bin/node")).unwrap();
    fs::write(node.join("LICENSE"), "Node.js is licensed for use as follows: MIT\n").unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();

    let root = root();
    let manifest = Manifest::load(&root.join("clawdbot.toml")).unwrap();
    let templates = pkg::format::load_templates(&root).unwrap();
    let stage = linux::stage(&manifest, Flavor::Rpm, &Payload { app, node, jiti: None, keyring: None }, &templates).unwrap();
    Fixture { _dir: dir, out, manifest, templates, stage }
}

fn opts() -> BuildOptions {
    BuildOptions { mtime: MTIME, threads: 2, blocks: Default::default() }
}

fn build(f: &Fixture, out: &Path, signer: Option<&pkg::rpm::Signer>) -> PathBuf {
    pkg::rpm::write(&f.manifest, Target::LinuxX64, &f.stage, &f.templates, &opts(), out, signer).unwrap()
}

/// One file of the payload as rpm's own rpm2cpio unpacks it (which fails when it
/// unpacks another size than the signature header states).
fn unpack(file: &Path, path: &str) -> Vec<u8> {
    let (rpm2cpio, cpio) = (tool("rpm2cpio"), tool("cpio"));
    let script = format!("set -o pipefail; {} \"$1\" | {} -i --quiet --to-stdout \".{path}\"", rpm2cpio.display(), cpio.display());
    let got = Command::new("bash").arg("-c").arg(script).arg("sh").arg(file).output().unwrap();
    assert!(got.status.success(), "rpm2cpio | cpio failed: {}", String::from_utf8_lossy(&got.stderr));
    got.stdout
}

fn rpm_query(file: &Path, args: &[&str]) -> String {
    stdout(Command::new(tool("rpm")).arg("-qp").args(args).arg(file).env("LC_ALL", "C"))
}

#[test]
fn rpm_reads_back_name_files_owners_modes_and_config_flags() {
    if !common::require(RPM) {
        return;
    }
    let f = fixture();
    let file = build(&f, &f.out, None);
    assert_eq!(file.file_name().unwrap(), "clawdbot-2026.1.24.3-1.x86_64.rpm");

    let info = rpm_query(&file, &["--info"]);
    for want in [
        "Name        : clawdbot",
        "Version     : 2026.1.24.3",
        "Release     : 1",
        "Architecture: x86_64",
        "License     : MIT",
        "Group       : System Environment/Daemons",
        "URL         : https://",
    ] {
        assert!(info.contains(want), "--info lacks {want:?}:\n{info}");
    }

    // path size mtime digest mode owner group isconfig isdoc rdev symlink
    let dump = rpm_query(&file, &["--dump"]);
    let mut seen = std::collections::BTreeMap::new();
    for line in dump.lines() {
        let c: Vec<&str> = line.split(' ').collect();
        assert_eq!(c.len(), 11, "unexpected --dump line {line:?}");
        assert_eq!((c[5], c[6]), ("root", "root"), "{line}");
        assert_eq!(c[2], MTIME.to_string(), "mtime of {line}");
        seen.insert(c[0].to_owned(), (c[4].to_owned(), c[7].to_owned(), c[10].to_owned()));
    }
    let get = |p: &str| seen.get(p).unwrap_or_else(|| panic!("{p} is not in the package:\n{dump}")).clone();
    assert_eq!(get("/etc/clawdbot/gateway.env"), ("0100600".into(), "1".into(), "X".into()));
    assert_eq!(get("/usr/bin/clawdbot").0, "0100755");
    assert_eq!(get("/usr/lib/clawdbot/node/bin/node").0, "0100755");
    assert_eq!(get("/usr/lib/systemd/system/clawdbot-gateway.service").0, "0100644");
    assert_eq!(get("/usr/lib/sysusers.d/clawdbot.conf").0, "0100644");
    assert_eq!(get("/usr/lib/tmpfiles.d/clawdbot.conf").0, "0100644");
    assert_eq!(get("/usr/lib/clawdbot/libexec/clawdbot-setup").0, "0100755");
    assert_eq!(get("/usr/lib/clawdbot/app/node_modules/clawdbot/empty").0, "040755");
    assert_eq!(get("/usr/lib/clawdbot").0, "040755");
    assert_eq!(get("/etc/clawdbot").0, "040755");
    let link = get("/usr/lib/clawdbot/app/node_modules/.bin/clawdbot");
    assert_eq!((link.0.as_str(), link.2.as_str()), ("0120777", "../clawdbot/dist/entry.js"));
    // Directories of the system belong to the distribution's packages.
    for system in ["/usr", "/usr/lib", "/usr/bin", "/etc", "/usr/lib/systemd/system", "/usr/lib/sysusers.d", "/usr/share/licenses"] {
        assert!(!seen.contains_key(system), "the package must not own {system}");
    }
    // Every staged path is in the package, nothing else but the licence file.
    for (path, e) in f.stage.iter() {
        if !matches!(e.kind, pkg::stage::Kind::Dir) {
            assert!(seen.contains_key(path), "{path} is staged but not packaged");
        }
    }

    // Each staged file's size and SHA-256, as rpm reads them from the header (the
    // payload's files reach the crate empty; the writer fills both in).
    {
        use sha2::Digest as _;
        let mut files = 0;
        for (path, e) in f.stage.iter() {
            let pkg::stage::Kind::File(source) = &e.kind else { continue };
            let bytes = match source {
                pkg::stage::Source::Bytes(b) => b.clone(),
                pkg::stage::Source::Disk(p) => fs::read(p).unwrap(),
            };
            let line = dump.lines().find(|l| l.split(' ').next() == Some(path)).unwrap_or_else(|| panic!("{path} is not in --dump"));
            let c: Vec<&str> = line.split(' ').collect();
            let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!((c[1].to_owned(), c[3].to_owned()), (bytes.len().to_string(), digest), "{path}");
            files += 1;
        }
        assert!(files > 10, "only {files} staged files");
    }

    let flags = rpm_query(&file, &["--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"]);
    assert!(flags.lines().any(|l| l == "/etc/clawdbot/gateway.env cn"), "gateway.env is not %config(noreplace):\n{flags}");
    assert!(flags.lines().any(|l| l == "/usr/share/licenses/clawdbot/LICENSE l"), "no %license file:\n{flags}");
    assert_eq!(rpm_query(&file, &["-c"]).trim(), "/etc/clawdbot/gateway.env");

    let listing = rpm_query(&file, &["-lv"]);
    for line in listing.lines() {
        let c: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((c[2], c[3]), ("root", "root"), "{line}");
    }
    assert!(listing.lines().any(|l| l.starts_with("-rw-------") && l.ends_with("/etc/clawdbot/gateway.env")), "{listing}");

    // The payload as rpm's own rpm2cpio decompresses it holds the staged bytes.
    let setup = "/usr/lib/clawdbot/libexec/clawdbot-setup";
    let Some(pkg::stage::Entry { kind: pkg::stage::Kind::File(pkg::stage::Source::Bytes(want)), .. }) = f.stage.get(setup) else {
        panic!("{setup} not staged")
    };
    assert_eq!(&unpack(&file, setup), want, "{setup} differs after rpm2cpio");

    // The bundled npm packages' licences are collected into the %license file.
    let text = String::from_utf8(unpack(&file, "/usr/share/licenses/clawdbot/LICENSE")).unwrap();
    assert!(text.contains("\nnode_modules/clawdbot clawdbot@2026.1.24-3: MIT (LICENSE.md)\n"), "{text}");
}

#[test]
fn scripts_provides_and_requires() {
    if !common::require(&[("rpm", "rpm")]) {
        return;
    }
    let f = fixture();
    let file = build(&f, &f.out, None);

    let scripts = rpm_query(&file, &["--scripts"]);
    for want in [
        "preinstall scriptlet (using /bin/sh):",
        "postinstall scriptlet (using /bin/sh):",
        "preuninstall scriptlet (using /bin/sh):",
        "postuninstall scriptlet (using /bin/sh):",
        "useradd --system --gid 'clawdbot' --home-dir '/var/lib/clawdbot' --no-create-home",
        "'/usr/lib/clawdbot/libexec/clawdbot-setup'",
        "cannot run the gateway safely",
        "systemctl --no-reload disable --now 'clawdbot-gateway.service'",
        "systemctl try-restart 'clawdbot-gateway.service'",
    ] {
        assert!(scripts.contains(want), "--scripts lacks {want:?}:\n{scripts}");
    }
    assert!(!scripts.contains("@NAME@") && !scripts.contains("@UNIT@"), "unrendered placeholder:\n{scripts}");

    let provides = rpm_query(&file, &["--provides"]);
    let user = provides.lines().find_map(|l| l.strip_prefix("user(clawdbot) = ")).unwrap_or_else(|| panic!("no user(clawdbot) provide:\n{provides}"));
    let line = base64::engine::general_purpose::STANDARD.decode(user).expect("base64 value");
    let sysusers = fs::read_to_string(root().join("systemd/sysusers.conf")).unwrap();
    let want = sysusers.lines().find(|l| l.starts_with("u ")).unwrap().replace("@USER@", "clawdbot").replace("@STATE_DIR@", "/var/lib/clawdbot");
    let want = want.replace("@DESCRIPTION@", &f.manifest.service.description);
    assert_eq!(String::from_utf8_lossy(&line).trim_end_matches('\0'), want);
    assert!(provides.lines().any(|l| l == "group(clawdbot)"), "{provides}");
    assert!(provides.lines().any(|l| l == "clawdbot = 2026.1.24.3-1"), "{provides}");

    let requires = rpm_query(&file, &["--requires"]);
    for want in f.manifest.rpm.as_ref().unwrap().requires.iter().map(String::as_str).chain(["/bin/sh", "rpmlib(PayloadIsZstd) <= 5.4.18-1"]) {
        assert!(requires.lines().any(|l| l == want), "--requires lacks {want:?}:\n{requires}");
    }
    let c = f.manifest.rpm.as_ref().unwrap().compression;
    assert_eq!(rpm_query(&file, &["--qf", "%{PAYLOADCOMPRESSOR} %{PAYLOADFLAGS}"]), format!("{} {}", c.format.name(), c.level));
}

/// A throwaway RSA signing key made with gpg: (secret, public) ASCII-armoured files in `dir`.
fn throwaway_key(dir: &Path) -> (PathBuf, PathBuf) {
    let gpg = tool("gpg");
    let home = dir.join("gnupg");
    fs::create_dir(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    let g = |args: &[&str]| {
        let mut c = Command::new(&gpg);
        c.arg("--homedir").arg(&home).args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]).args(args);
        c
    };
    run(&mut g(&["--quick-gen-key", "Clawdbot package test <test@clawdbot.invalid>", "rsa3072", "sign", "never"]));
    let secret = dir.join("secret.asc");
    let public = dir.join("public.asc");
    fs::write(&secret, run(&mut g(&["--armor", "--export-secret-keys"])).stdout).unwrap();
    fs::write(&public, run(&mut g(&["--armor", "--export"])).stdout).unwrap();
    let _ = Command::new(tool("gpgconf")).arg("--homedir").arg(&home).args(["--kill", "all"]).status();
    (secret, public)
}

#[test]
fn rpmlint_reports_no_errors_on_the_signed_package() {
    if !common::require(&[GPG, &[("rpmkeys", "rpm"), ("rpmlint", "rpmlint")]].concat()) {
        return;
    }
    let f = fixture();
    let (secret, public) = throwaway_key(&f.out);
    let signer = pkg::rpm::Signer::from_key_file(&secret).unwrap();
    let file = build(&f, &f.out, Some(&signer));
    let rc = f.out.join("rpmlintrc");
    fs::write(&rc, pkg::rpm::rpmlintrc(&f.manifest, &f.templates).unwrap()).unwrap();
    // rpmlint checks the signature with rpm's default database: point it (through
    // ~/.rpmmacros of a scratch HOME) at one that trusts the throwaway key.
    let home = f.out.join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join(".rpmmacros"), format!("%_dbpath {}/rpmdb\n", home.display())).unwrap();
    run(Command::new(tool("rpmkeys")).arg("--import").arg(&public).env("HOME", &home));
    let out = Command::new(tool("rpmlint")).arg("-r").arg(&rc).arg(&file).env("LC_ALL", "C.UTF-8").env("HOME", &home).output().expect("run rpmlint");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    // The filters for the real npm tree (native libraries, npm files as published)
    // match nothing in this small fixture; rpmlint reports those as unused.
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": E: ") && !l.contains(": E: unused-rpmlintrc-filter ")).collect();
    assert!(errors.is_empty(), "rpmlint errors:\n{}", errors.join("\n"));
    assert!(text.contains(" errors, "), "rpmlint gave no summary:\n{text}");
}

#[test]
fn a_second_build_is_byte_identical_and_a_failed_build_leaves_nothing() {
    let f = fixture();
    let a = fs::read(build(&f, &f.out, None)).unwrap();
    let other = f.out.join("again");
    fs::create_dir(&other).unwrap();
    let b = fs::read(build(&f, &other, None)).unwrap();
    assert!(a == b, "two builds of the same stage differ");

    // A payload file that vanished: an error, and no (partial) package.
    let mut stage = f.stage.clone();
    stage.add_disk_file("/usr/lib/clawdbot/gone", &other.join("x"), 0o644).unwrap_err();
    let gone = other.join("gone-source");
    fs::write(&gone, "x").unwrap();
    stage.add_disk_file("/usr/lib/clawdbot/gone", &gone, 0o644).unwrap();
    fs::remove_file(&gone).unwrap();
    let broken = f.out.join("broken");
    fs::create_dir(&broken).unwrap();
    assert!(pkg::rpm::write(&f.manifest, Target::LinuxX64, &stage, &f.templates, &opts(), &broken, None).is_err());
    assert_eq!(fs::read_dir(&broken).unwrap().count(), 0, "a failed build left a file");
}

#[test]
fn signed_with_a_throwaway_key_rpm_k_says_ok() {
    if !common::require(&[GPG, &[("rpm", "rpm"), ("rpmkeys", "rpm")]].concat()) {
        return;
    }
    let f = fixture();
    let (secret, public) = throwaway_key(&f.out);

    let signer = pkg::rpm::Signer::from_key_file(&secret).unwrap();
    let file = build(&f, &f.out, Some(&signer));
    let db = tempfile::tempdir().unwrap();
    let check = || Command::new(tool("rpm")).args(["-K", "-v", "--dbpath"]).arg(db.path()).arg(&file).env("LC_ALL", "C").output().expect("run rpm -K");

    // Without the public key rpm cannot vouch for it.
    let before = check();
    let text = String::from_utf8_lossy(&before.stdout).into_owned();
    assert!(!before.status.success() || text.contains("NOKEY"), "rpm -K accepted an unknown key:\n{text}");

    run(Command::new(tool("rpmkeys")).arg("--dbpath").arg(db.path()).arg("--import").arg(&public));
    let after = check();
    let text = String::from_utf8_lossy(&after.stdout).into_owned();
    assert!(after.status.success(), "rpm -K failed:\n{text}{}", String::from_utf8_lossy(&after.stderr));
    assert!(text.contains("Header V4 RSA/SHA256 Signature, key ID") && text.contains(": OK"), "{text}");
    assert!(!text.contains("NOT OK") && !text.contains("NOKEY"), "{text}");

    // The signature covers the payload: one flipped byte near the end fails it.
    let mut bytes = fs::read(&file).unwrap();
    let n = bytes.len() - 100;
    bytes[n] ^= 0xff;
    let tampered = f.out.join("tampered.rpm");
    fs::write(&tampered, bytes).unwrap();
    let bad = Command::new(tool("rpm")).args(["-K", "--dbpath"]).arg(db.path()).arg(&tampered).env("LC_ALL", "C").output().unwrap();
    assert!(!bad.status.success(), "rpm -K accepted a modified package");

    // Signing is reproducible too.
    let other = f.out.join("again");
    fs::create_dir(&other).unwrap();
    assert!(fs::read(&file).unwrap() == fs::read(build(&f, &other, Some(&signer))).unwrap(), "two signed builds differ");
}

/// Runs a rendered scriptlet with stub commands that log their arguments.
/// An account that exists before the scriptlet runs: its login shell and the
/// groups `id -Gn` lists.
#[derive(Clone, Copy)]
struct Account {
    shell: &'static str,
    groups: &'static str,
}

const FIT: Account = Account { shell: "/usr/sbin/nologin", groups: "clawdbot" };

/// Runs a scriptlet with stubs of the account tools and systemctl; returns what
/// the stubs were asked to do, the exit status and the standard error.
fn run_scriptlet(f: &Fixture, name: &str, arg: &str, account: Option<Account>) -> (String, bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    for cmd in ["groupadd", "useradd", "systemctl"] {
        let stub = dir.path().join(cmd);
        fs::write(&stub, format!("#!/bin/sh\necho \"{cmd} $*\" >> '{}'\n", log.display())).unwrap();
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (getent, id) = match account {
        Some(a) => (
            format!(
                "#!/bin/sh\ncase \"$1 $2\" in\n  'passwd clawdbot') echo 'clawdbot:x:999:999::/var/lib/clawdbot:{}' ;;\n  'group 999' | 'group clawdbot') echo 'clawdbot:x:999:' ;;\n  *) exit 2 ;;\nesac\n",
                a.shell
            ),
            format!("#!/bin/sh\necho '{}'\n", a.groups),
        ),
        None => ("#!/bin/sh\nexit 2\n".to_owned(), "#!/bin/sh\nexit 1\n".to_owned()),
    };
    for (cmd, text) in [("getent", getent), ("id", id)] {
        fs::write(dir.path().join(cmd), text).unwrap();
        fs::set_permissions(dir.path().join(cmd), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = f.templates.render(name, &linux::vars(&f.manifest).unwrap()).unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    let out = Command::new("/bin/sh").arg("-c").arg(&script).arg(name).arg(arg).env("PATH", path).output().unwrap();
    (fs::read_to_string(&log).unwrap_or_default(), out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn run_script(f: &Fixture, name: &str, arg: &str, existing_account: bool) -> String {
    let (log, ok, stderr) = run_scriptlet(f, name, arg, existing_account.then_some(FIT));
    assert!(ok, "{name} {arg} failed: {stderr}");
    log
}

#[test]
fn pre_refuses_an_existing_account_with_a_shell_or_groups() {
    let f = fixture();
    let bad = Account { shell: "/bin/bash", groups: "clawdbot docker sudo" };
    let (log, ok, stderr) = run_scriptlet(&f, "rpm/pre", "1", Some(bad));
    assert!(!ok, "an unfit account must stop the installation");
    assert_eq!(log, "", "nothing may be changed");
    for want in ["login shell is '/bin/bash'", "usermod --shell /usr/sbin/nologin clawdbot", "supplementary groups: docker sudo", "nothing was changed"] {
        assert!(stderr.contains(want), "{want:?} missing from:\n{stderr}");
    }
    let (_, ok, stderr) = run_scriptlet(&f, "rpm/pre", "2", Some(FIT));
    assert!(ok, "a fit account passes: {stderr}");
}

#[test]
fn scriptlets_create_the_account_once_and_stop_only_on_erase() {
    let f = fixture();
    let created = run_script(&f, "rpm/pre", "1", false);
    assert_eq!(
        created,
        "groupadd --system clawdbot\nuseradd --system --gid clawdbot --home-dir /var/lib/clawdbot --no-create-home --shell /usr/sbin/nologin --comment Clawdbot gateway clawdbot\n"
    );
    assert_eq!(run_script(&f, "rpm/pre", "2", true), "", "an existing account must be left alone");

    // This machine runs no systemd (no /run/systemd/system): disable offline, start nothing.
    let systemd_running = Path::new("/run/systemd/system").is_dir();
    let erase = run_script(&f, "rpm/preun", "0", true);
    if systemd_running {
        assert_eq!(erase, "systemctl --no-reload disable --now clawdbot-gateway.service\n");
    } else {
        assert_eq!(erase, "systemctl --no-reload disable clawdbot-gateway.service\n");
    }
    assert_eq!(run_script(&f, "rpm/preun", "1", true), "", "an upgrade must not stop the service");
    let postun = run_script(&f, "rpm/postun", "1", true);
    if systemd_running {
        assert_eq!(postun, "systemctl daemon-reload\nsystemctl try-restart clawdbot-gateway.service\n");
    } else {
        assert_eq!(postun, "");
    }
}
