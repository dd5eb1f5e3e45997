//! The macOS installer package, built from small fixture payloads and read back
//! with readers this repository did not write: bsdtar and 7z (xar), GNU cpio
//! (Payload, Scripts), file(1) (Mach-O arch), the apple-bom reader (Bom) and the
//! apple-flat-package / apple-xar readers (Distribution, PackageInfo, payload
//! entries, table-of-contents checksum), run as `pkg/tests/macos-reader`.
//!
//! The install scripts and the admin command run against a recorded FAKE of
//! macOS's dscl, dseditgroup, launchctl, pkgutil, sleep, sudo, script and id,
//! with a temporary directory as the target volume. The fake `sudo -u` really
//! switches to the account's ids (setpriv), so what runs as the account owns what
//! it makes; the fake `script` starts a new session (setsid) but allocates no
//! pseudo-terminal. That proves the scripts' logic and command sequences on
//! Linux; it does not prove how the real tools behave on a Mac.
//!
//! A test whose tools are missing, or that needs root (the fake `sudo -u`
//! switches ids) and runs as someone else, is skipped with a line that says so,
//! and fails under `CLAWDBOT_TESTS_REQUIRE_ALL=1` (see `common`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pkg::macos::{self, Templates};
use pkg::payload::Payload;
use pkg::{BuildOptions, Manifest, Target};

const MTIME: u64 = 1_795_651_200;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn manifest() -> Manifest {
    Manifest::load(&root().join("clawdbot.toml")).unwrap()
}

/// Runs a tool; its absence is a failure naming the Debian package to install.
fn run(tool: &str, package: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{tool} is needed by this test: install it with `apt-get install {package}`")
        }
        Err(e) => panic!("{tool}: {e}"),
    }
}

fn ok(tool: &str, package: &str, args: &[&str]) -> String {
    let out = run(tool, package, args);
    assert!(out.status.success(), "{tool} {args:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A minimal Mach-O 64-bit executable header for a CPU type.
fn macho(cpu: u32) -> Vec<u8> {
    let mut h = Vec::new();
    for x in [0xfeed_facf_u32, cpu, 0, 2, 0, 0, 0, 0] {
        h.extend_from_slice(&x.to_le_bytes());
    }
    h
}

fn cpu(target: Target) -> u32 {
    match target {
        Target::DarwinArm64 => 0x0100_000c,
        _ => 0x0100_0007,
    }
}

/// A fixture payload: a fake node, the entry point, a link, a Mach-O tool and
/// `extra` more files (to make the Bom span several leaves).
fn fixture(dir: &Path, target: Target, extra: usize) -> Payload {
    let app = dir.join("app");
    let node = dir.join("node");
    fs::create_dir_all(app.join("node_modules/clawdbot/dist")).unwrap();
    fs::create_dir_all(app.join("node_modules/.bin")).unwrap();
    fs::create_dir_all(app.join("node_modules/tool/bin")).unwrap();
    fs::create_dir_all(node.join("bin")).unwrap();
    fs::write(app.join("package.json"), "{\"name\":\"fixture\"}\n").unwrap();
    fs::write(app.join("node_modules/clawdbot/dist/entry.js"), "#!/usr/bin/env node\nconsole.log('gateway')\n").unwrap();
    fs::set_permissions(app.join("node_modules/clawdbot/dist/entry.js"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("../clawdbot/dist/entry.js", app.join("node_modules/.bin/clawdbot")).unwrap();
    common::set_aside_copies(&app);
    fs::write(app.join("node_modules/tool/bin/tool"), macho(cpu(target))).unwrap();
    fs::set_permissions(app.join("node_modules/tool/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    for i in 0..extra {
        let d = app.join(format!("node_modules/many/d{}", i / 50));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(format!("f{i}.js")), format!("module.exports = {i};\n")).unwrap();
    }
    fs::write(node.join("bin/node"), macho(cpu(target))).unwrap();
    fs::set_permissions(node.join("bin/node"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(node.join("LICENSE"), "MIT\n").unwrap();
    Payload { app, node, jiti: None, keyring: None }
}

fn build(dir: &Path, target: Target, extra: usize) -> PathBuf {
    let m = manifest();
    let templates = pkg::format::load_templates(&root()).unwrap();
    let payload = fixture(&dir.join("payload"), target, extra);
    let stage = macos::stage(&m, &payload, &templates).unwrap();
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    macos::write(&m, target, &stage, &templates, &BuildOptions { mtime: MTIME, threads: 1, blocks: Default::default() }, &out).unwrap()
}

/// The members of the xar, extracted by bsdtar.
fn extract(pkg: &Path, dir: &Path) -> PathBuf {
    let x = dir.join("x");
    fs::create_dir_all(&x).unwrap();
    ok("bsdtar", "libarchive-tools", &["-xf", pkg.to_str().unwrap(), "-C", x.to_str().unwrap()]);
    x
}

/// `cpio -itv` of a gzip'd cpio member, and its extraction into `into`.
fn cpio_list(member: &Path, into: &Path) -> String {
    let raw = {
        let gz = fs::read(member).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        out
    };
    let cpio_file = into.with_extension("cpio");
    fs::write(&cpio_file, &raw).unwrap();
    let list = ok("cpio", "cpio", &["-itv", "--numeric-uid-gid", "-F", cpio_file.to_str().unwrap()]);
    fs::create_dir_all(into).unwrap();
    let out = Command::new("cpio").args(["-idm", "--no-absolute-filenames", "-F", cpio_file.to_str().unwrap()]).current_dir(into).output().unwrap();
    assert!(out.status.success(), "cpio -id: {}", String::from_utf8_lossy(&out.stderr));
    list
}

/// The xar's table-of-contents checksum, verified here from the format alone:
/// header, zlib TOC, SHA-1 of the compressed TOC at heap offset 0.
fn verify_toc_checksum(pkg: &[u8]) -> String {
    use sha1::Digest as _;
    assert_eq!(&pkg[..4], b"xar!");
    let header_size = u16::from_be_bytes([pkg[4], pkg[5]]) as usize;
    assert_eq!(header_size, 28);
    assert_eq!(u16::from_be_bytes([pkg[6], pkg[7]]), 1);
    let zlen = u64::from_be_bytes(pkg[8..16].try_into().unwrap()) as usize;
    let len = u64::from_be_bytes(pkg[16..24].try_into().unwrap()) as usize;
    assert_eq!(u32::from_be_bytes(pkg[24..28].try_into().unwrap()), 1, "checksum algorithm is SHA-1");
    let ztoc = &pkg[28..28 + zlen];
    let mut toc = String::new();
    std::io::Read::read_to_string(&mut flate2::read::ZlibDecoder::new(ztoc), &mut toc).unwrap();
    assert_eq!(toc.len(), len);
    assert!(toc.contains("<checksum style=\"sha1\">\n   <offset>0</offset>\n   <size>20</size>"), "{toc}");
    let heap = 28 + zlen;
    assert_eq!(&pkg[heap..heap + 20], sha1::Sha1::digest(ztoc).as_slice(), "TOC checksum at heap offset 0");
    toc
}

fn reader_binary() -> PathBuf {
    let dir = root().join("pkg/tests/macos-reader");
    let target = root().join("target/macos-reader");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(out.status.success(), "building pkg/tests/macos-reader failed: {}", String::from_utf8_lossy(&out.stderr));
    target.join("release/macos-pkg-reader")
}

#[test]
fn fixture_pkg_reads_back_with_independent_readers() {
    if !common::require(&[READERS, &[("7z", "p7zip-full"), ("cksum", "coreutils")]].concat()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = manifest();
    let pkg_path = build(dir.path(), Target::DarwinArm64, 0);
    assert_eq!(pkg_path.file_name().unwrap(), "clawdbot-2026.1.24.3-1-arm64.pkg");
    let bytes = fs::read(&pkg_path).unwrap();
    let toc = verify_toc_checksum(&bytes);
    assert!(toc.contains("<name>Payload</name>"));

    // xar members, as bsdtar and 7z list them.
    let listing = ok("bsdtar", "libarchive-tools", &["-tf", pkg_path.to_str().unwrap()]);
    let mut names: Vec<&str> = listing.lines().collect();
    names.sort();
    assert_eq!(names, ["Distribution", "clawdbot.pkg", "clawdbot.pkg/Bom", "clawdbot.pkg/PackageInfo", "clawdbot.pkg/Payload", "clawdbot.pkg/Scripts"]);
    let verbose = ok("bsdtar", "libarchive-tools", &["-tvf", pkg_path.to_str().unwrap()]);
    assert!(verbose.lines().any(|l| l.starts_with("-rw-r--r--") && l.contains("root") && l.ends_with("Distribution")), "{verbose}");
    let seven = ok("7z", "p7zip-full", &["l", pkg_path.to_str().unwrap()]);
    for n in ["Distribution", "clawdbot.pkg/Bom", "clawdbot.pkg/PackageInfo", "clawdbot.pkg/Payload", "clawdbot.pkg/Scripts"] {
        assert!(seven.contains(n), "7z does not list {n}:\n{seven}");
    }
    assert!(seven.contains("Type = Xar") || seven.contains("Type = xar"), "{seven}");

    // apple-flat-package and apple-xar.
    let reader = reader_binary();
    let report = ok(reader.to_str().unwrap(), "(built by cargo)", &[pkg_path.to_str().unwrap()]);
    assert!(report.contains("toc-checksum Sha1 ok"), "{report}");
    let version = m.deb_version();
    assert!(
        report.contains(&format!(
            "distribution title=Clawdbot gateway 2026.1.24-3 host=arm64 min-spec=2 pkg-ref=com.clawdbot.pkg.gateway auth=Root version={version} kbytes="
        )),
        "{report}"
    );
    assert!(report.contains("domains=local-only"), "{report}");
    let info_line = report.lines().find(|l| l.starts_with("package-info ")).unwrap();
    assert!(info_line.starts_with(&format!("package-info identifier=com.clawdbot.pkg.gateway version={version} auth=root location=/ files=")), "{info_line}");
    assert!(info_line.contains("overwrite=true relocatable=false format=2 scripts=preinstall:./preinstall,postinstall:./postinstall"), "{info_line}");
    let payload_lines: Vec<&str> = report.lines().filter(|l| l.starts_with("payload ")).collect();
    let files: usize = info_line.split(" files=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(payload_lines.len(), files, "numberOfFiles counts every payload entry");
    let plist = format!("./Library/LaunchDaemons/{}.plist", m.service.launchd_label);
    for (mode, name) in [
        ("40755", "."),
        ("40755", "./Library"),
        ("40755", "./Library/LaunchDaemons"),
        ("100644", plist.as_str()),
        ("100755", "./Library/Clawdbot/node/bin/node"),
        ("100755", "./Library/Clawdbot/bin/clawdbot"),
        ("100755", "./Library/Clawdbot/bin/clawdbot-uninstall"),
        ("100755", "./Library/Clawdbot/app/node_modules/tool/bin/tool"),
        ("100755", "./Library/Clawdbot/app/node_modules/clawdbot/dist/entry.js"),
        ("100644", "./Library/Clawdbot/app/package.json"),
        ("120755", "./Library/Clawdbot/app/node_modules/.bin/clawdbot"),
    ] {
        let want = format!(" {mode} 0 0 ");
        assert!(
            payload_lines.iter().any(|l| l.starts_with("payload") && l.contains(&want) && l.ends_with(&format!(" {name}"))),
            "payload {mode} root:wheel {name} missing:\n{report}"
        );
    }
    assert!(report.contains("scripts 100755 0 0 ") && report.contains(" ./postinstall") && report.contains(" ./preinstall"), "{report}");

    // GNU cpio on the Payload and the Scripts.
    let x = extract(&pkg_path, dir.path());
    let list = cpio_list(&x.join("clawdbot.pkg/Payload"), &dir.path().join("payload-x"));
    assert!(list.lines().any(|l| l.starts_with("-rw-r--r--") && l.contains(" 0        0 ") && l.ends_with(&plist)), "{list}");
    assert!(
        list.lines().any(|l| l.starts_with("lrwxr-xr-x") && l.ends_with("./Library/Clawdbot/app/node_modules/.bin/clawdbot -> ../clawdbot/dist/entry.js")),
        "{list}"
    );
    // The shared word classifier (sourced) and the first-configuration writer.
    assert!(
        list.lines().any(|l| l.starts_with("-rw-r--r--") && l.contains(" 0        0 ") && l.ends_with("./Library/Clawdbot/libexec/clawdbot-words.sh")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l.starts_with("-rwxr-xr-x") && l.contains(" 0        0 ") && l.ends_with("./Library/Clawdbot/libexec/clawdbot-first-config")),
        "{list}"
    );
    let words = fs::read_to_string(dir.path().join("payload-x/Library/Clawdbot/libexec/clawdbot-words.sh")).unwrap();
    assert!(words.contains("clawdbot_word() {"), "{words}");
    let admin = fs::read_to_string(dir.path().join("payload-x/Library/Clawdbot/bin/clawdbot")).unwrap();
    assert!(admin.contains(". '/Library/Clawdbot/libexec/clawdbot-words.sh'"), "{admin}");
    let scripts = cpio_list(&x.join("clawdbot.pkg/Scripts"), &dir.path().join("scripts-x"));
    assert!(scripts.lines().any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./postinstall")), "{scripts}");
    assert!(scripts.lines().any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./preinstall")), "{scripts}");

    // file(1): the Mach-O arch of the binaries.
    let node = dir.path().join("payload-x/Library/Clawdbot/node/bin/node");
    let desc = ok("file", "file", &["-b", node.to_str().unwrap()]);
    assert!(desc.contains("Mach-O 64-bit") && desc.contains("arm64"), "{desc}");

    // The plist, as rendered into the payload.
    let plist_text = fs::read_to_string(dir.path().join("payload-x").join(&plist[2..])).unwrap();
    for needle in [
        "<key>UserName</key>\n    <string>_clawdbot</string>",
        "<key>GroupName</key>\n    <string>_clawdbot</string>",
        "<string>/Library/Clawdbot/node/bin/node</string>\n        <string>/Library/Clawdbot/app/node_modules/clawdbot/dist/entry.js</string>\n        <string>gateway</string>",
        "<key>CLAWDBOT_NO_RESPAWN</key>\n        <string>1</string>",
        "<key>CLAWDBOT_STATE_DIR</key>\n        <string>/var/db/clawdbot</string>",
        "<key>HOME</key>\n        <string>/var/db/clawdbot</string>",
        "<key>SHELL</key>\n        <string>/bin/zsh</string>",
        "<key>RunAtLoad</key>\n    <true/>",
        "<key>KeepAlive</key>\n    <true/>",
        "<key>Umask</key>\n    <integer>63</integer>",
        "<key>TMPDIR</key>\n        <string>/var/db/clawdbot/cache</string>",
        "<key>NODE_COMPILE_CACHE</key>\n        <string>/var/db/clawdbot/cache/node</string>",
        "<key>JITI_TRY_NATIVE</key>\n        <string>true</string>",
        // launchd's output files: in root's directory, not in the account's state.
        "<key>StandardOutPath</key>\n    <string>/Library/Logs/Clawdbot/gateway.out.log</string>",
        "<key>StandardErrorPath</key>\n    <string>/Library/Logs/Clawdbot/gateway.err.log</string>",
    ] {
        assert!(plist_text.contains(needle), "plist lacks {needle:?}:\n{plist_text}");
    }
    assert!(!plist_text.contains('@'), "unrendered placeholder:\n{plist_text}");

    // The Bom, read by apple-bom: every payload path with its mode, owner and size,
    // and the checksum of POSIX cksum.
    check_bom(&fs::read(x.join("clawdbot.pkg/Bom")).unwrap(), &payload_lines, &dir.path().join("payload-x"));

    // Deterministic: the same inputs give the same bytes.
    let again = tempfile::tempdir().unwrap();
    let second = build(again.path(), Target::DarwinArm64, 0);
    assert!(fs::read(&second).unwrap() == bytes, "a second build differs");
}

fn check_bom(bom: &[u8], payload_lines: &[&str], extracted: &Path) {
    let parsed = apple_bom::ParsedBom::parse(bom).expect("apple-bom parses the Bom");
    let paths = parsed.paths().expect("apple-bom reads the Paths tree");
    let by_path: BTreeMap<String, &apple_bom::BomPath> = paths.iter().map(|p| (p.path().to_owned(), p)).collect();
    assert_eq!(by_path.len(), payload_lines.len(), "Bom and Payload list the same number of paths");
    for line in payload_lines {
        let f: Vec<&str> = line.splitn(6, ' ').collect();
        let (mode, uid, gid, size, name) = (u32::from_str_radix(f[1], 8).unwrap(), f[2], f[3], f[4], f[5]);
        let p = by_path.get(name).unwrap_or_else(|| panic!("Bom lacks {name}"));
        assert_eq!(u32::from(p.file_mode()), mode, "{name}: mode");
        assert_eq!(p.user_id().to_string(), uid, "{name}");
        assert_eq!(p.group_id().to_string(), gid, "{name}");
        if mode & 0o170000 == 0o100000 {
            assert_eq!(p.size().to_string(), size, "{name}: size");
            let file = extracted.join(name.trim_start_matches("./"));
            let cksum = ok("cksum", "coreutils", &[file.to_str().unwrap()]);
            assert_eq!(p.crc32().map(|c| c.to_string()).as_deref(), cksum.split(' ').next(), "{name}: checksum");
        }
    }
}

#[test]
fn a_bom_of_many_paths_spans_several_leaves_and_reads_back() {
    if !common::require(READERS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pkg_path = build(dir.path(), Target::DarwinX64, 700);
    let x = extract(&pkg_path, dir.path());
    let bom = fs::read(x.join("clawdbot.pkg/Bom")).unwrap();
    let parsed = apple_bom::ParsedBom::parse(&bom).unwrap();
    let paths = parsed.paths().unwrap();
    assert!(paths.len() > 700 + 20, "{}", paths.len());
    let names: Vec<&str> = paths.iter().map(|p| p.path()).collect();
    assert!(names.contains(&"./Library/Clawdbot/app/node_modules/many/d13/f699.js"));
    let list = cpio_list(&x.join("clawdbot.pkg/Payload"), &dir.path().join("px"));
    assert_eq!(list.lines().count(), paths.len());
    let distribution = fs::read_to_string(x.join("Distribution")).unwrap();
    assert!(distribution.contains("hostArchitectures=\"x86_64\""), "{distribution}");
    assert!(distribution.contains("<os-version min=\"11.0\"/>"), "{distribution}");
    let node = dir.path().join("px/Library/Clawdbot/node/bin/node");
    let desc = ok("file", "file", &["-b", node.to_str().unwrap()]);
    assert!(desc.contains("x86_64"), "{desc}");
}

#[test]
fn a_failed_write_leaves_no_package() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest();
    let templates = pkg::format::load_templates(&root()).unwrap();
    let payload = fixture(&dir.path().join("payload"), Target::DarwinArm64, 0);
    let stage = macos::stage(&m, &payload, &templates).unwrap();
    // The payload shrinks after staging: the writer must notice and leave nothing.
    fs::write(payload.node.join("LICENSE"), "").unwrap();
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let e =
        macos::write(&m, Target::DarwinArm64, &stage, &templates, &BuildOptions { mtime: MTIME, threads: 1, blocks: Default::default() }, &out).unwrap_err();
    let e = pkg::report(&e);
    assert!(e.contains("LICENSE"), "{e}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "partial output left behind");
    let e = macos::write(&m, Target::LinuxX64, &stage, &templates, &BuildOptions { mtime: MTIME, threads: 1, blocks: Default::default() }, &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("linux-x64 is not a macOS target"), "{e}");
}

// ---------------------------------------------------------------------------
// The install scripts against a recorded fake of the macOS tools.

/// FAKE dscl, dseditgroup, launchctl, pkgutil, sleep, sudo, script, id, a
/// recording chown, and for the grant command BSD's date -r, stat -f %u, chmod
/// +a/-a# and ls -led over ACLs kept in a file: one script under thirteen names. It appends every call to
/// $FAKE/calls and keeps the directory service (users, groups) and launchd's
/// loaded labels as files under $FAKE. $FAKE/dscl-failures holds how many dscl
/// calls still fail with -14988; $FAKE/refuse-delete makes user deletion fail
/// with -14120. `sudo -u NAME -- CMD` runs CMD with NAME's ids from the fake
/// directory service (setpriv, no supplementary groups); `script -q /dev/null
/// CMD` runs CMD in a new session (setsid) without a pseudo-terminal; `chown`
/// records, then runs the real one.
const FAKE_TOOL: &str = r#"#!/bin/sh
# FAKE macOS tool for tests: records calls, simulates the directory service and launchd.
set -eu
# The account's processes record their calls too.
umask 000
tool=$(basename "$0")
echo "$tool $*" >> "$FAKE/calls"
case "$tool" in
sleep) exit 0 ;;
chown) exec /bin/chown "$@" ;;
date)
    # BSD date -r SECONDS FORMAT
    if [ "${1:-}" = -r ]; then exec /bin/date -d "@$2" "$3"; fi
    exec /bin/date "$@" ;;
stat)
    # BSD stat -f %u [--] PATH: the owner of PATH itself.
    [ "$1" = -f ] && [ "$2" = %u ] || exit 64
    shift 2
    [ "$1" = -- ] && shift
    exec /usr/bin/stat -c %u -- "$1" ;;
chmod)
    # ACLs kept in $FAKE/acls ("PATH<tab>ENTRY"), changed only by root or the
    # owner of PATH; every change is recorded with the caller's uid in $FAKE/acl-calls.
    case "$1" in
    +a | -a#)
        op=$1 arg=$2
        shift 2
        status=0
        me=$(/usr/bin/id -u)
        for f in "$@"; do
            echo "$me $op $arg $f" >> "$FAKE/acl-calls"
            if [ ! -e "$f" ]; then echo "chmod: $f: No such file or directory" >&2; status=1; continue; fi
            if [ "$me" != 0 ] && [ "$me" != "$(/usr/bin/stat -c %u -- "$f")" ]; then
                echo "chmod: Failed to set ACL on file '$f': Operation not permitted" >&2; status=1; continue
            fi
            touch "$FAKE/acls"
            if [ "$op" = +a ]; then
                printf '%s\tuser:%s %s\n' "$f" "${arg%% *}" "${arg#* }" >> "$FAKE/acls"
            else
                awk -F '\t' -v p="$f" -v n="$arg" '$1 == p && i++ == n { next } { print }' "$FAKE/acls" > "$FAKE/acls.new"
                cat "$FAKE/acls.new" > "$FAKE/acls"
                rm -f "$FAKE/acls.new"
            fi
        done
        exit "$status" ;;
    *) exec /bin/chmod "$@" ;;
    esac ;;
ls)
    # BSD ls -led [--] PATH: one line for PATH, then its ACL entries, numbered.
    [ "$1" = -led ] || exit 64
    shift
    [ "$1" = -- ] && shift
    [ -e "$1" ] || exit 1
    echo "-rw-------+ 1 someone  staff  0 Dec  3 10:00 $1"
    [ -f "$FAKE/acls" ] || exit 0
    awk -F '\t' -v p="$1" '$1 == p { print " " n++ ": " $2 }' "$FAKE/acls" ;;
sudo)
    [ "$1" = -u ] && [ "$3" = -- ] || { echo "fake sudo: expected -u NAME -- CMD" >&2; exit 64; }
    name=$2
    shift 3
    [ -e "$FAKE/Users/$name/UniqueID" ] || { echo "sudo: unknown user $name" >&2; exit 1; }
    exec setpriv --reuid="$(cat "$FAKE/Users/$name/UniqueID")" --regid="$(cat "$FAKE/Users/$name/PrimaryGroupID")" --clear-groups -- "$@" ;;
script)
    [ "$1" = -q ] && [ "$2" = /dev/null ] || { echo "fake script: expected -q /dev/null CMD" >&2; exit 64; }
    shift 2
    exec setsid -w "$@" ;;
id)
    case "$#:${1:-}" in
    1:-u) exec /usr/bin/id -u ;;
    2:-u) [ -e "$FAKE/Users/$2/UniqueID" ] || { echo "id: $2: no such user" >&2; exit 1; }
        echo "$(cat "$FAKE/Users/$2/UniqueID")" ;;
    2:-g) [ -e "$FAKE/Users/$2/PrimaryGroupID" ] || { echo "id: $2: no such user" >&2; exit 1; }
        echo "$(cat "$FAKE/Users/$2/PrimaryGroupID")" ;;
    *) exit 64 ;;
    esac ;;
dscl)
    n=$(cat "$FAKE/dscl-failures" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then
        echo $((n - 1)) > "$FAKE/dscl-failures"
        echo "<dscl_cmd> DS Error: -14988 (eNotYetImplemented)" >&2
        exit 1
    fi
    [ "$1" = . ] || exit 64
    cmd=$2 rec=$3
    kind=${rec#/}; kind=${kind%%/*}; name=${rec#/*/}
    case "$cmd" in
    -list)
        [ -d "$FAKE/$kind" ] || exit 0
        for d in "$FAKE/$kind"/*; do
            [ -e "$d/$4" ] && echo "$(basename "$d") $(cat "$d/$4")"
        done
        exit 0 ;;
    -create)
        if [ "$#" -eq 3 ]; then mkdir -p "$FAKE/$kind/$name"; else
            [ -d "$FAKE/$kind/$name" ] || exit 1
            printf '%s' "$5" > "$FAKE/$kind/$name/$4"; fi ;;
    -read)
        [ -e "$FAKE/$kind/$name/$4" ] || { echo "<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)" >&2; exit 56; }
        echo "$4: $(cat "$FAKE/$kind/$name/$4")" ;;
    -delete)
        if [ "$#" -eq 3 ]; then
            [ -e "$FAKE/refuse-delete" ] && { echo "<main> attribute status: eDSPermissionError" >&2; echo "<dscl_cmd> DS Error: -14120 (eDSPermissionError)" >&2; exit 40; }
            rm -r "$FAKE/$kind/$name"
        else
            [ -e "$FAKE/$kind/$name/$4" ] || exit 181
            rm "$FAKE/$kind/$name/$4"
        fi ;;
    *) exit 64 ;;
    esac ;;
dseditgroup)
    case "$2" in
    create)
        name=$7
        [ -d "$FAKE/Groups/$name" ] && { echo "Group $name already exists" >&2; exit 1; }
        mkdir -p "$FAKE/Groups/$name"; printf '%s' "$6" > "$FAKE/Groups/$name/PrimaryGroupID" ;;
    delete) rm -r "$FAKE/Groups/$3" ;;
    *) exit 64 ;;
    esac ;;
launchctl)
    mkdir -p "$FAKE/loaded"
    case "$1" in
    print) [ -e "$FAKE/loaded/${2#system/}" ] || { echo "Could not find service \"${2#system/}\" in domain for system" >&2; exit 113; }
        printf '%s = {\n\tactive count = 1\n\tstate = running\n\tpid = 4242\n\tlast exit code = (never exited)\n\tendpoints = {\n\t\tstate = active\n\t\tpid = 1\n\t}\n}\n' "$2" ;;
    kickstart) [ "$2" = -k ] && [ -e "$FAKE/loaded/${3#system/}" ] || exit 113 ;;
    bootout) [ -e "$FAKE/loaded/${2#system/}" ] || exit 113; rm "$FAKE/loaded/${2#system/}" ;;
    enable) rm -f "$FAKE/disabled/$(printf %s "$2" | tr / _)" ;;
    disable) mkdir -p "$FAKE/disabled"; touch "$FAKE/disabled/$(printf %s "$2" | tr / _)" ;;
    print-disabled)
        echo "disabled services = {"
        for f in "$FAKE/disabled/$(printf %s "$2" | tr / _)_"*; do
            [ -e "$f" ] && printf '\t"%s" => disabled\n' "${f##*_}"
        done
        echo "}" ;;
    bootstrap)
        label=$(basename "$3" .plist)
        [ -f "$3" ] || { echo "Bootstrap failed: 2: No such file or directory" >&2; exit 5; }
        [ -e "$FAKE/loaded/$label" ] && { echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }
        touch "$FAKE/loaded/$label" ;;
    *) exit 64 ;;
    esac ;;
pkgutil)
    case "$1" in
    --pkg-info) [ -e "$FAKE/receipt" ] || exit 1 ;;
    --forget) rm "$FAKE/receipt" ;;
    esac ;;
esac
"#;

struct Mac {
    dir: tempfile::TempDir,
    scripts: BTreeMap<&'static str, PathBuf>,
}

/// The fakes the admin command calls by absolute path (see [`Admin`]); not on PATH.
const ABSOLUTE_FAKES: &[(&str, &str)] = &[("/usr/bin/sudo", "sudo"), ("/usr/bin/script", "script"), ("/usr/bin/id", "id"), ("/bin/launchctl", "launchctl")];

/// The fakes the grant command calls by absolute path; the other tools it calls
/// (find, awk, ps, sh's kill) are the real ones, which behave as macOS's do
/// for the options it uses.
/// The fakes the migrate command calls by absolute path, and macOS's tar
/// (bsdtar); its chown (`chown=/usr/sbin/chown`) is the recording fake too. The
/// others (find, awk, sed, tr, chmod, chgrp, mktemp) are the real ones.
const MIGRATE_FAKES: &[(&str, &str)] = &[
    ("/usr/bin/sudo", "sudo"),
    ("/usr/bin/script", "script"),
    ("/usr/bin/id", "id"),
    ("/usr/bin/dscl", "dscl"),
    ("/bin/launchctl", "launchctl"),
    ("/usr/bin/tar", "tar"),
];

const GRANT_FAKES: &[(&str, &str)] = &[
    ("/usr/bin/sudo", "sudo"),
    ("/usr/bin/script", "script"),
    ("/usr/bin/id", "id"),
    ("/usr/bin/dscl", "dscl"),
    ("/usr/bin/stat", "stat"),
    ("/bin/chmod", "chmod"),
    ("/bin/ls", "ls"),
    ("/bin/date", "date"),
    ("/bin/launchctl", "launchctl"),
];

impl Mac {
    /// A target volume with /var/db and the installed payload's plist and libexec
    /// scripts, the rendered install scripts, and the fake tools. Everything is
    /// readable by the account's ids, which the fake sudo really switches to.
    fn new() -> Mac {
        let m = manifest();
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let templates = pkg::format::load_templates(&root()).unwrap();
        let vars = macos::vars(&m).unwrap();
        let bin = dir.path().join("fake-bin");
        fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("fake-macos-tool");
        fs::write(&fake, FAKE_TOOL).unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        for t in ["dscl", "dseditgroup", "launchctl", "pkgutil", "sleep", "sudo", "chown"] {
            symlink(&fake, bin.join(t)).unwrap();
        }
        let abs = dir.path().join("fake-abs");
        fs::create_dir_all(&abs).unwrap();
        for t in ABSOLUTE_FAKES.iter().chain(GRANT_FAKES).chain(MIGRATE_FAKES).map(|(_, t)| *t).collect::<std::collections::BTreeSet<_>>() {
            if t == "tar" {
                symlink(common::which("bsdtar").expect("bsdtar, one of FAKE_NEEDS"), abs.join(t)).unwrap();
            } else {
                symlink(&fake, abs.join(t)).unwrap();
            }
        }
        symlink(&fake, abs.join("chown")).unwrap();
        fs::create_dir_all(dir.path().join("fake")).unwrap();
        fs::set_permissions(dir.path().join("fake"), fs::Permissions::from_mode(0o777)).unwrap();
        let vol = dir.path().join("vol");
        fs::create_dir_all(vol.join("var/db")).unwrap();
        fs::create_dir_all(vol.join("Library/LaunchDaemons")).unwrap();
        fs::create_dir_all(vol.join("Library/Clawdbot/bin")).unwrap();
        fs::write(vol.join(format!("Library/LaunchDaemons/{}.plist", m.service.launchd_label)), templates.render("launchd/gateway.plist", &vars).unwrap())
            .unwrap();
        install_libexec(&templates, &vars, &vol);
        let mut scripts = BTreeMap::new();
        for (name, file) in [("preinstall", "launchd/preinstall"), ("postinstall", "launchd/postinstall"), ("uninstall", "launchd/uninstall.sh")] {
            let path = dir.path().join(name);
            fs::write(&path, templates.render(file, &vars).unwrap()).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            scripts.insert(name, path);
        }
        Mac { dir, scripts }
    }

    fn fake(&self) -> PathBuf {
        self.dir.path().join("fake")
    }
    fn vol(&self) -> PathBuf {
        self.dir.path().join("vol")
    }

    fn add_user(&self, name: &str, uid: u32, gid: u32) {
        let d = self.fake().join("Users").join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("UniqueID"), uid.to_string()).unwrap();
        fs::write(d.join("PrimaryGroupID"), gid.to_string()).unwrap();
    }
    fn add_group(&self, name: &str, gid: u32) {
        let d = self.fake().join("Groups").join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("PrimaryGroupID"), gid.to_string()).unwrap();
    }
    fn attr(&self, kind: &str, name: &str, attr: &str) -> Option<String> {
        fs::read_to_string(self.fake().join(kind).join(name).join(attr)).ok()
    }
    fn set_attr(&self, kind: &str, name: &str, attr: &str, value: &str) {
        fs::write(self.fake().join(kind).join(name).join(attr), value).unwrap();
    }
    /// `_clawdbot` and its group as a daemon account should be: no shell, hidden.
    fn add_daemon_account(&self, uid: u32, gid: u32) {
        self.add_group("_clawdbot", gid);
        self.add_user("_clawdbot", uid, gid);
        self.set_attr("Users", "_clawdbot", "UserShell", "/usr/bin/false");
        self.set_attr("Users", "_clawdbot", "IsHidden", "1");
    }
    /// The state directory as the account left it: 0700, the account's.
    fn add_state(&self, uid: u32, gid: u32) -> PathBuf {
        let state = self.vol().join("var/db/clawdbot");
        fs::create_dir_all(&state).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&state, Some(uid), Some(gid)).unwrap();
        state
    }

    /// Runs a script as Installer would (`$3` = the target volume) with the fakes
    /// first on PATH; returns the recorded calls, which are then cleared.
    fn run(&self, script: &str, args: &[&str]) -> (bool, Vec<String>, String) {
        let vol = self.vol();
        let mut cmd = Command::new(&self.scripts[script]);
        if script == "uninstall" {
            cmd.args(args).arg("--root").arg(&vol);
        } else {
            cmd.arg("/tmp/clawdbot.pkg").arg(&vol).arg(&vol);
        }
        let path = format!("{}:{}", self.dir.path().join("fake-bin").display(), std::env::var("PATH").unwrap());
        let out = cmd.env("PATH", path).env("FAKE", self.fake()).output().unwrap();
        let calls_file = self.fake().join("calls");
        let calls = fs::read_to_string(&calls_file).unwrap_or_default().lines().map(str::to_owned).collect();
        let _ = fs::remove_file(&calls_file);
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), calls, log)
    }
}

/// The payload's libexec scripts, rendered with `vars`, at their paths below `vol`.
fn install_libexec(templates: &Templates, vars: &pkg::template::Vars, vol: &Path) {
    for (key, template, mode) in
        [("WORDS", macos::WORDS_TEMPLATE, 0o644), ("FIRST_CONFIG", "launchd/first-config.sh", 0o755), ("SEED", "admin/seed-cache.sh", 0o755)]
    {
        let path = vol.join(vars[key].trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, templates.render(template, vars).unwrap()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

const LABEL: &str = "com.clawdbot.gateway";

fn creation_calls(id: u32) -> Vec<String> {
    let mut v = vec![format!("dseditgroup -o create -r Clawdbot gateway -i {id} _clawdbot"), "dscl . -create /Users/_clawdbot".to_owned()];
    for (k, val) in [
        ("UniqueID", id.to_string()),
        ("PrimaryGroupID", id.to_string()),
        ("NFSHomeDirectory", "/var/db/clawdbot".to_owned()),
        ("UserShell", "/usr/bin/false".to_owned()),
        ("RealName", "Clawdbot gateway".to_owned()),
        ("IsHidden", "1".to_owned()),
        ("Password", "*".to_owned()),
    ] {
        v.push(format!("dscl . -create /Users/_clawdbot {k} {val}"));
    }
    for a in ["AuthenticationAuthority", "PasswordPolicyOptions", "KerberosKeys", "ShadowHashData"] {
        v.push(format!("dscl . -delete /Users/_clawdbot {a}"));
    }
    v
}

fn listing_calls() -> Vec<String> {
    vec!["dscl . -list /Users UniqueID".to_owned(), "dscl . -list /Groups PrimaryGroupID".to_owned()]
}

/// What postinstall does about the state: root chowns the state directory itself
/// when it creates it (and launchd's log files, outside it); everything below the
/// state directory is done as the account, through sudo -u.
fn setup_calls(vol: &Path, (uid, gid): (u32, u32), new_state: bool, new_logs: bool) -> Vec<String> {
    let state = vol.join("var/db/clawdbot");
    let s = state.display();
    let mut v = Vec::new();
    if new_state {
        v.push(format!("chown -h {uid}:{gid} {s}"));
    }
    v.push(format!("sudo -u _clawdbot -- /bin/mkdir -p -m 0700 {s}/logs {s}/cache"));
    v.push(format!(
        "sudo -u _clawdbot -- /usr/bin/env -i PATH=/usr/bin:/bin HOME=/var/db/clawdbot /bin/sh {}/Library/Clawdbot/libexec/clawdbot-first-config new {s}",
        vol.display()
    ));
    v.push(format!(
        "sudo -u _clawdbot -- /usr/bin/env -i PATH=/usr/bin:/bin /bin/sh {v}/Library/Clawdbot/libexec/clawdbot-seed-cache {v}/Library/Clawdbot/cache/jiti {s}/cache/jiti",
        v = vol.display()
    ));
    if new_logs {
        for f in ["gateway.out.log", "gateway.err.log"] {
            v.push(format!("chown -h {uid}:{gid} {}/Library/Logs/Clawdbot/{f}", vol.display()));
        }
    }
    v
}

fn load_calls(loaded: bool, vol: &Path) -> Vec<String> {
    let mut v = vec![format!("launchctl print system/{LABEL}")];
    if loaded {
        v.push(format!("launchctl bootout system/{LABEL}"));
    }
    v.push(format!("launchctl enable system/{LABEL}"));
    v.push(format!("launchctl bootstrap system {}/Library/LaunchDaemons/{LABEL}.plist", vol.display()));
    v.push(format!("launchctl print system/{LABEL}"));
    v
}

fn concat(parts: &[Vec<String>]) -> Vec<String> {
    parts.concat()
}

fn launchctl(calls: &[String]) -> Vec<&str> {
    calls.iter().map(String::as_str).filter(|c| c.starts_with("launchctl ")).collect()
}

/// Calls that only read the directory service.
fn only_reads(calls: &[String]) -> bool {
    calls.iter().all(|c| c.starts_with("dscl . -list ") || c.starts_with("dscl . -read "))
}

/// The readers of the package: xar (bsdtar), cpio, Mach-O (file).
const READERS: &[(&str, &str)] = &[("bsdtar", "libarchive-tools"), ("cpio", "cpio"), ("file", "file")];

/// What the fake of the macOS tools runs on: the account switch (setpriv), a
/// new session (setsid), macOS's tar (bsdtar).
const FAKE_NEEDS: &[(&str, &str)] = &[("bsdtar", "libarchive-tools"), ("setpriv", "util-linux"), ("setsid", "util-linux")];

/// The admin command's CLI runs scripts with the real node.
const NODE: (&str, &str) = ("node", "nodejs");

/// Whether the scripts can run against the fake here: as root (the fake `sudo
/// -u` switches to the account's ids), with its tools and `extra`.
fn can_run_the_fake(extra: &[(&str, &str)]) -> bool {
    common::require_root() && common::require(&[FAKE_NEEDS, extra].concat())
}

fn mode_owner(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// Every file under `dir` with its contents, for "nothing was changed".
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                todo.push(p.clone());
                out.insert(p, "<dir>".to_owned());
            } else if meta.file_type().is_symlink() {
                out.insert(p.clone(), format!("-> {}", fs::read_link(&p).unwrap().display()));
            } else if p.file_name() != Some("calls".as_ref()) {
                out.insert(p.clone(), fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}

fn token_of(config: &str) -> String {
    config.split("\"token\": \"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

#[test]
fn fresh_install_then_upgrade_then_reinstall() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_user("root", 0, 0);
    mac.add_user("daemon", 1, 1);
    mac.add_group("wheel", 0);
    // The payload's transpile cache (read-only, root's), which postinstall seeds.
    let seed = vol.join("Library/Clawdbot/cache/jiti");
    fs::create_dir_all(&seed).unwrap();
    fs::write(seed.join("dist-index.0123abcd.cjs"), "exports.x = 1; /* v9-0123456789abcdef */\n").unwrap();
    fs::write(seed.join("seed-id"), "one\n").unwrap();

    // Fresh install: nothing loaded, no account.
    let (ok, calls, log) = mac.run("preinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), vec![format!("launchctl print system/{LABEL}")]]));
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), creation_calls(200), setup_calls(&vol, (200, 200), true, true), load_calls(false, &vol)]), "{log}");
    assert_eq!(mac.attr("Users", "_clawdbot", "UniqueID").as_deref(), Some("200"));
    assert_eq!(mac.attr("Groups", "_clawdbot", "PrimaryGroupID").as_deref(), Some("200"));
    let state = vol.join("var/db/clawdbot");
    // Root chowned only the state directory itself; what is below it the account
    // made (the fake sudo really runs as 200:200), so it owns it without a chown.
    assert!(!calls.iter().any(|c| c.starts_with("chown") && c.contains("/var/db/clawdbot/")), "{calls:?}");
    assert_eq!(mode_owner(&state), (0o700, 200, 200));
    assert_eq!(mode_owner(&state.join("logs")), (0o700, 200, 200));
    assert_eq!(mode_owner(&state.join("cache")), (0o700, 200, 200));
    // The seed, copied by the account into the daemon's transpile cache.
    let jiti = state.join("cache/jiti");
    assert_eq!(fs::read_to_string(jiti.join("seed-id")).unwrap(), "one\n");
    assert_eq!(mode_owner(&jiti.join("dist-index.0123abcd.cjs")), (0o600, 200, 200));
    let config = state.join("clawdbot.json");
    assert_eq!(mode_owner(&config), (0o600, 200, 200));
    let first = fs::read_to_string(&config).unwrap();
    assert_eq!(token_of(&first).len(), 64, "{first}");
    assert!(token_of(&first).bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    assert!(first.contains("\"workspace\": \"/var/db/clawdbot/workspace\""), "{first}");
    assert!(first.contains("\"port\": 18789,"), "{first}");
    assert!(first.contains("\"update\": { \"checkOnStart\": false }"), "{first}");
    assert!(serde_json::from_str::<serde_json::Value>(&first).is_ok(), "not JSON: {first}");
    // launchd's output files: root's directory, the account's files.
    assert_eq!(mode_owner(&vol.join("Library/Logs/Clawdbot")), (0o755, 0, 0));
    assert_eq!(mode_owner(&vol.join("Library/Logs/Clawdbot/gateway.out.log")), (0o600, 200, 200));
    assert_eq!(mode_owner(&vol.join("Library/Logs/Clawdbot/gateway.err.log")), (0o600, 200, 200));
    // Root's record that the package made the account, outside the state.
    let record = vol.join("var/db/.clawdbot-account");
    assert_eq!(mode_owner(&record), (0o644, 0, 0));
    let recorded = fs::read_to_string(&record).unwrap();
    assert!(recorded.contains("\nuser=created\ngroup=created\n"), "{recorded}");
    for (link, dest) in
        [("usr/local/bin/clawdbot", "/Library/Clawdbot/bin/clawdbot"), ("usr/local/bin/clawdbot-uninstall", "/Library/Clawdbot/bin/clawdbot-uninstall")]
    {
        assert_eq!(fs::read_link(vol.join(link)).unwrap(), Path::new(dest));
    }

    // Upgrade: the daemon is loaded; preinstall checks the account (reads only)
    // and stops the daemon, postinstall creates nothing.
    fs::write(state.join("credentials.json"), "secret").unwrap();
    let (ok, calls, log) = mac.run("preinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(launchctl(&calls), [format!("launchctl print system/{LABEL}"), format!("launchctl bootout system/{LABEL}")]);
    let (dscl, _): (Vec<String>, Vec<String>) = calls.into_iter().partition(|c| c.starts_with("dscl"));
    assert!(only_reads(&dscl) && dscl.contains(&"dscl . -list /Groups GroupMembership".to_owned()), "{dscl:?}");
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), setup_calls(&vol, (200, 200), false, false), load_calls(false, &vol)]), "{log}");
    assert_eq!(fs::read_to_string(&config).unwrap(), first, "the configuration and its token are kept");
    assert_eq!(fs::read_to_string(state.join("credentials.json")).unwrap(), "secret");
    assert_eq!(fs::read_to_string(&record).unwrap(), recorded, "the account is still the package's");

    // Reinstall without preinstall having stopped it (loaded): postinstall boots it out first.
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), setup_calls(&vol, (200, 200), false, false), load_calls(true, &vol)]), "{log}");
    assert_eq!(mac.attr("Users", "_clawdbot", "UniqueID").as_deref(), Some("200"));
    assert_eq!(fs::read_to_string(&config).unwrap(), first);
}

#[test]
fn reinstall_with_the_account_present_keeps_its_ids() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_daemon_account(277, 266);
    let (ok, _, log) = mac.run("preinstall", &[]);
    assert!(ok, "a fit account passes: {log}");
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), setup_calls(&vol, (277, 266), true, true), load_calls(false, &vol)]), "nothing is created twice\n{log}");
    assert_eq!(mode_owner(&vol.join("var/db/clawdbot")), (0o700, 277, 266));
    assert_eq!(mode_owner(&vol.join("var/db/clawdbot/clawdbot.json")), (0o600, 277, 266));
    assert!(log.contains("account _clawdbot exists (277), kept"), "{log}");
    let recorded = fs::read_to_string(vol.join("var/db/.clawdbot-account")).unwrap();
    assert!(recorded.contains("\nuser=existing\ngroup=existing\n"), "{recorded}");
}

#[test]
fn taken_ids_are_skipped() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_user("_other", 200, 20);
    mac.add_user("_another", 201, 20);
    mac.add_group("_taken", 202);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), creation_calls(203), setup_calls(&vol, (203, 203), true, true), load_calls(false, &vol)]), "{log}");

    // Only a group id is free at 200: the group and the user get different ids.
    let mac = Mac::new();
    let vol = mac.vol();
    for id in 200..=400 {
        mac.add_user(&format!("_u{id}"), id, 20);
    }
    fs::remove_dir_all(mac.fake().join("Users/_u300")).unwrap();
    mac.add_group("_g300", 300);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert!(calls.contains(&"dseditgroup -o create -r Clawdbot gateway -i 200 _clawdbot".to_owned()), "{calls:?}");
    assert!(calls.contains(&"dscl . -create /Users/_clawdbot UniqueID 300".to_owned()), "{calls:?}");
    assert!(calls.contains(&"dscl . -create /Users/_clawdbot PrimaryGroupID 200".to_owned()), "{calls:?}");
    assert_eq!(mode_owner(&vol.join("var/db/clawdbot")), (0o700, 300, 200));
    assert_eq!(mode_owner(&vol.join("var/db/clawdbot/logs")), (0o700, 300, 200));

    // No free user id at all: a clear failure, nothing loaded.
    let mac = Mac::new();
    for id in 200..=400 {
        mac.add_user(&format!("_u{id}"), id, 20);
    }
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(!ok);
    assert!(log.contains("no free user id in 200-400"), "{log}");
    assert!(!calls.iter().any(|c| c.starts_with("launchctl") || c.starts_with("dscl . -create")), "{calls:?}");
}

#[test]
fn dscl_failing_twice_is_retried() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let vol = mac.vol();
    fs::write(mac.fake().join("dscl-failures"), "2").unwrap();
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    let list = "dscl . -list /Users UniqueID".to_owned();
    let sleep = "sleep 0.5".to_owned();
    let mut want = vec![list.clone(), sleep.clone(), list.clone(), sleep, list, "dscl . -list /Groups PrimaryGroupID".to_owned()];
    want.extend(creation_calls(200));
    want.extend(setup_calls(&vol, (200, 200), true, true));
    want.extend(load_calls(false, &vol));
    assert_eq!(calls, want, "{log}");
    assert!(log.contains("failed (try 2 of 10), retrying: dscl . -list /Users UniqueID"), "{log}");
    assert_eq!(calls.iter().filter(|c| *c == "dscl . -create /Users/_clawdbot").count(), 1);

    // A directory service that never answers: give up after 10 tries.
    let mac = Mac::new();
    fs::write(mac.fake().join("dscl-failures"), "100").unwrap();
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(!ok);
    assert_eq!(calls.iter().filter(|c| c.starts_with("dscl")).count(), 10, "{calls:?}");
    assert!(log.contains("giving up after 10 tries"), "{log}");
}

#[test]
fn state_is_never_touched_through_a_link() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let vol = mac.vol();
    let elsewhere = mac.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    symlink(&elsewhere, vol.join("var/db/clawdbot")).unwrap();
    // preinstall refuses it before anything is changed, postinstall again.
    let (ok, calls, log) = mac.run("preinstall", &[]);
    assert!(!ok);
    assert!(log.contains("/var/db/clawdbot is a symbolic link; the package will not use it"), "{log}");
    assert!(calls.is_empty(), "{calls:?}");
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(!ok);
    assert!(log.contains("is a symbolic link; refusing to use it"), "{log}");
    assert!(!calls.iter().any(|c| c.starts_with("launchctl") || c.starts_with("sudo")), "{calls:?}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

    // A link planted where the configuration goes is not written through (by the
    // account, which checks, and never by root, which does not look).
    let mac = Mac::new();
    let state = mac.add_state(200, 200);
    let target = mac.dir.path().join("victim");
    symlink(&target, state.join("clawdbot.json")).unwrap();
    let (ok, _, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert!(!target.exists(), "postinstall wrote through a link");
    assert!(log.contains("keeping the configuration"), "{log}");

    // A state directory that is not the account's is not used.
    let mac = Mac::new();
    let state = mac.add_state(0, 0);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(!ok);
    assert!(log.contains("does not belong to _clawdbot (200); refusing to use it"), "{log}");
    assert!(!calls.iter().any(|c| c.starts_with("launchctl") || c.starts_with("sudo")), "{calls:?}");
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn the_first_configuration_is_never_written_by_root() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let state = mac.add_state(0, 0);
    let script = mac.vol().join("Library/Clawdbot/libexec/clawdbot-first-config");
    let out = Command::new("/bin/sh")
        .arg(&script)
        .args(["new", state.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to run as root"), "{out:?}");
    assert!(!state.join("clawdbot.json").exists());
}

/// A pre-existing `_clawdbot` (uid and gid 250, fit) changed by `unfit`.
fn preinstall_with(unfit: impl Fn(&Mac)) -> (Mac, bool, Vec<String>, String) {
    let mac = Mac::new();
    mac.add_group("staff", 20);
    mac.add_group("admin", 80);
    mac.set_attr("Groups", "admin", "GroupMembership", "root alice");
    mac.add_daemon_account(250, 250);
    mac.set_attr("Groups", "_clawdbot", "GroupMembership", "_clawdbot");
    unfit(&mac);
    let before = (snapshot(&mac.fake()), snapshot(&mac.vol()));
    let (ok, calls, log) = mac.run("preinstall", &[]);
    if !ok {
        assert_eq!((snapshot(&mac.fake()), snapshot(&mac.vol())), before, "a refusing preinstall changed something\n{log}");
        assert!(only_reads(&calls), "a refusing preinstall did more than read the directory service: {calls:?}");
        assert!(log.contains("_clawdbot exists but is not fit to run the gateway; nothing was changed"), "{log}");
    }
    (mac, ok, calls, log)
}

#[test]
fn preinstall_refuses_an_existing_account_unfit_to_be_the_daemon_account() {
    if !can_run_the_fake(&[]) {
        return;
    }
    // Fit (its own group's member list may name it): passes.
    let (_, ok, calls, log) = preinstall_with(|_| {});
    assert!(ok, "{log}");
    assert_eq!(launchctl(&calls), [format!("launchctl print system/{LABEL}")]);

    type Unfit = Box<dyn Fn(&Mac)>;
    let cases: Vec<(&str, Unfit, &[&str])> = vec![
        (
            "a login shell",
            Box::new(|m: &Mac| m.set_attr("Users", "_clawdbot", "UserShell", "/bin/zsh")),
            &["has the login shell '/bin/zsh'", "sudo dscl . -create /Users/_clawdbot UserShell /usr/bin/false"],
        ),
        ("no shell at all", Box::new(|m: &Mac| fs::remove_file(m.fake().join("Users/_clawdbot/UserShell")).unwrap()), &["has the login shell 'none'"]),
        (
            "visible",
            Box::new(|m: &Mac| m.set_attr("Users", "_clawdbot", "IsHidden", "0")),
            &["is not hidden (IsHidden is '0')", "sudo dscl . -create /Users/_clawdbot IsHidden 1"],
        ),
        (
            "a user id outside 200-400",
            Box::new(|m: &Mac| m.set_attr("Users", "_clawdbot", "UniqueID", "501")),
            &["has the user id 501, not one in 200-400", "sudo dscl . -delete /Users/_clawdbot"],
        ),
        (
            "a member of admin by name",
            Box::new(|m: &Mac| m.set_attr("Groups", "admin", "GroupMembership", "root _clawdbot alice")),
            &["is a member of the group admin", "sudo dseditgroup -o edit -d _clawdbot -t user admin"],
        ),
        (
            "a member of a group by its GeneratedUID",
            Box::new(|m: &Mac| {
                m.set_attr("Users", "_clawdbot", "GeneratedUID", "A1B2C3D4-0000-4000-8000-00000000C1A0");
                m.add_group("_lpadmin", 98);
                m.set_attr("Groups", "_lpadmin", "GroupMembers", "A1B2C3D4-0000-4000-8000-00000000C1A0");
            }),
            &["is a member of the group _lpadmin"],
        ),
        (
            "staff as its primary group",
            Box::new(|m: &Mac| m.set_attr("Users", "_clawdbot", "PrimaryGroupID", "20")),
            &["primary group of the account _clawdbot is staff (20), not _clawdbot (250)", "PrimaryGroupID 250"],
        ),
        (
            "its state owned by someone else",
            Box::new(|m: &Mac| {
                m.add_state(0, 0);
            }),
            &["/var/db/clawdbot does not belong to the account _clawdbot (250)"],
        ),
    ];
    for (what, unfit, says) in cases {
        let (mac, ok, calls, log) = preinstall_with(unfit);
        assert!(!ok, "{what}: preinstall accepted it\n{log}");
        for needle in says {
            assert!(log.contains(needle), "{what}: the refusal does not say {needle:?}:\n{log}");
        }
        assert!(launchctl(&calls).is_empty(), "{what}: {calls:?}");
        assert!(!mac.vol().join("var/db/.clawdbot-account").exists());
    }
}

#[test]
fn uninstall_keeps_state_unless_purged() {
    if !can_run_the_fake(&[]) {
        return;
    }
    let mac = Mac::new();
    let vol = mac.vol();
    let (ok, _, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    fs::write(mac.fake().join("receipt"), "").unwrap();

    let (ok, calls, log) = mac.run("uninstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(
        calls,
        [
            format!("launchctl print system/{LABEL}"),
            format!("launchctl bootout system/{LABEL}"),
            "pkgutil --pkg-info com.clawdbot.pkg.gateway".to_owned(),
            "pkgutil --forget com.clawdbot.pkg.gateway".to_owned(),
        ]
    );
    assert!(!vol.join(format!("Library/LaunchDaemons/{LABEL}.plist")).exists());
    assert!(!vol.join("Library/Clawdbot").exists());
    assert!(fs::symlink_metadata(vol.join("usr/local/bin/clawdbot")).is_err());
    assert!(vol.join("var/db/clawdbot/clawdbot.json").exists());
    assert!(vol.join("var/db/.clawdbot-account").exists(), "the record outlives a plain uninstall");
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_some());
    assert!(log.contains("run with --purge"), "{log}");

    // --purge, with macOS refusing to delete the account: said, not hidden; the
    // state is emptied by the account itself, then its directory removed.
    fs::write(mac.fake().join("refuse-delete"), "").unwrap();
    let state = vol.join("var/db/clawdbot");
    let (ok, calls, log) = mac.run("uninstall", &["--purge"]);
    assert!(!ok, "{log}");
    assert!(log.contains("macOS refused to delete the account _clawdbot"), "{log}");
    assert!(calls.contains(&format!("sudo -u _clawdbot -- /usr/bin/find {} -mindepth 1 -delete", state.display())), "{calls:?}");
    assert!(!state.exists());
    assert!(!vol.join("Library/Logs/Clawdbot").exists());
    assert!(calls.contains(&"dscl . -delete /Users/_clawdbot".to_owned()), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("dseditgroup")), "the group of a remaining account is kept: {calls:?}");
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_some());
    assert!(vol.join("var/db/.clawdbot-account").exists(), "kept for the next try");

    // Run again once macOS allows it: the account and the group go.
    fs::remove_file(mac.fake().join("refuse-delete")).unwrap();
    let (ok, calls, log) = mac.run("uninstall", &["--purge"]);
    assert!(ok, "{log}");
    assert!(calls.contains(&"dscl . -delete /Users/_clawdbot".to_owned()), "{calls:?}");
    assert!(calls.contains(&"dseditgroup -o delete _clawdbot".to_owned()), "{calls:?}");
    assert!(log.contains("deleted the account _clawdbot"), "{log}");
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_none());
    assert!(mac.attr("Groups", "_clawdbot", "PrimaryGroupID").is_none());
    assert!(!vol.join("var/db/.clawdbot-account").exists());
}

#[test]
fn purge_deletes_only_an_account_the_package_created() {
    if !can_run_the_fake(&[]) {
        return;
    }
    // The account was there before the package: --purge keeps it and says so.
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_daemon_account(250, 250);
    let (ok, _, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    let (ok, calls, log) = mac.run("uninstall", &["--purge"]);
    assert!(ok, "{log}");
    assert!(log.contains("kept the account _clawdbot: this package did not create it"), "{log}");
    assert!(log.contains("kept the group _clawdbot"), "{log}");
    assert!(!calls.iter().any(|c| c.starts_with("dscl . -delete") || c.starts_with("dseditgroup")), "{calls:?}");
    assert_eq!(mac.attr("Users", "_clawdbot", "UniqueID").as_deref(), Some("250"));
    assert_eq!(mac.attr("Groups", "_clawdbot", "PrimaryGroupID").as_deref(), Some("250"));
    assert!(!vol.join("var/db/clawdbot").exists());

    // Made by the package, then a plain uninstall and a reinstall: the record
    // survives, so --purge still knows the account is the package's.
    let mac = Mac::new();
    let (ok, _, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    let (ok, _, log) = mac.run("uninstall", &[]);
    assert!(ok, "{log}");
    fs::create_dir_all(mac.vol().join("Library/LaunchDaemons")).unwrap();
    install_libexec(&pkg::format::load_templates(&root()).unwrap(), &macos::vars(&manifest()).unwrap(), &mac.vol());
    fs::write(mac.vol().join(format!("Library/LaunchDaemons/{LABEL}.plist")), "plist").unwrap();
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert!(!calls.iter().any(|c| c.starts_with("dscl . -create")), "{calls:?}");
    let (ok, _, log) = mac.run("uninstall", &["--purge"]);
    assert!(ok, "{log}");
    assert!(log.contains("deleted the account _clawdbot"), "{log}");
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_none());
}

// ---------------------------------------------------------------------------
// The admin command against the same fake.

/// The admin command, rendered with every path of the package below the test
/// volume. The programs it calls by absolute path that Linux lacks or has with
/// another meaning (`/usr/bin/sudo`, `/usr/bin/script`, `/usr/bin/id`,
/// `/bin/launchctl`) are rewritten in the rendered text to the fakes, after
/// checking that the shipped text calls them by those paths; the others
/// (`/usr/bin/env`, `/bin/sh`, `/usr/bin/od`, ...) are the real ones.
struct Admin {
    mac: Mac,
    cli: PathBuf,
    vars: pkg::template::Vars,
    runs: PathBuf,
}

/// One run of the fake node: who, where, with what.
#[derive(Debug)]
struct NodeRun {
    uid: String,
    cwd: String,
    args: String,
    env: BTreeMap<String, String>,
}

struct AdminRun {
    code: i32,
    calls: Vec<String>,
    out: String,
    runs: Vec<NodeRun>,
}

impl Admin {
    /// The account `_clawdbot` (200:200), its state with a configuration "old",
    /// and the daemon not loaded.
    fn new() -> Admin {
        let mac = Mac::new();
        let vol = mac.vol();
        let templates = pkg::format::load_templates(&root()).unwrap();
        let mut vars = macos::vars(&manifest()).unwrap();
        for key in [
            "PREFIX",
            "NODE",
            "ENTRY",
            "CLI",
            "UNINSTALL",
            "WORDS",
            "FIRST_CONFIG",
            "GRANT",
            "GRANTS",
            "MIGRATE",
            "MIGRATIONS",
            "APP",
            "STATE_DIR",
            "CACHE_DIR",
            "PLIST",
        ] {
            let v = format!("{}{}", vol.display(), vars[key]);
            vars.insert(key, v);
        }
        // The gateway's contract at the same places.
        let mut runtime = macos::runtime(&manifest()).unwrap();
        for path in [&mut runtime.state_dir, &mut runtime.cache_dir, &mut runtime.path] {
            *path = format!("{}{path}", vol.display());
        }
        vars.extend(macos::runtime_vars(&runtime).unwrap());
        install_libexec(&templates, &vars, Path::new("/"));
        let mut text = templates.render("launchd/clawdbot.sh", &vars).unwrap();
        for (path, fake) in ABSOLUTE_FAKES {
            assert!(text.contains(&format!("{path} ")), "the admin command does not call {path} by its absolute path");
            text = text.replace(path, &mac.dir.path().join("fake-abs").join(fake).display().to_string());
        }
        assert!(text.contains("\nPATH=/usr/bin:/bin:/usr/sbin:/sbin\nexport PATH\ncd /\n"), "{text}");
        let cli = mac.dir.path().join("clawdbot");
        fs::write(&cli, &text).unwrap();
        // Also where the migrate command calls it.
        let installed = PathBuf::from(&vars["CLI"]);
        fs::create_dir_all(installed.parent().unwrap()).unwrap();
        fs::write(&installed, &text).unwrap();
        fs::set_permissions(&installed, fs::Permissions::from_mode(0o755)).unwrap();
        let mut migrate = templates.render("launchd/migrate.sh", &vars).unwrap();
        for (path, fake) in MIGRATE_FAKES {
            assert!(migrate.contains(&format!("{path} ")), "the migrate command does not call {path} by its absolute path");
            migrate = migrate.replace(&format!("{path} "), &format!("{} ", mac.dir.path().join("fake-abs").join(fake).display()));
        }
        assert!(migrate.contains("\nchown=/usr/sbin/chown\n"), "the migrate command keeps chown elsewhere");
        migrate = migrate.replace("chown=/usr/sbin/chown\n", &format!("chown={}\n", mac.dir.path().join("fake-abs/chown").display()));
        let migrate_path = PathBuf::from(&vars["MIGRATE"]);
        fs::write(&migrate_path, migrate).unwrap();
        fs::set_permissions(&migrate_path, fs::Permissions::from_mode(0o755)).unwrap();
        let mut grant = templates.render("launchd/grant.sh", &vars).unwrap();
        for (path, fake) in GRANT_FAKES {
            assert!(grant.contains(&format!("{path} ")), "the grant command does not call {path} by its absolute path");
            grant = grant.replace(&format!("{path} "), &format!("{} ", mac.dir.path().join("fake-abs").join(fake).display()));
        }
        let grant_path = PathBuf::from(&vars["GRANT"]);
        fs::create_dir_all(grant_path.parent().unwrap()).unwrap();
        fs::write(&grant_path, grant).unwrap();
        fs::set_permissions(&grant_path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&cli, fs::Permissions::from_mode(0o755)).unwrap();

        let runs = mac.dir.path().join("node-runs");
        fs::create_dir_all(&runs).unwrap();
        fs::set_permissions(&runs, fs::Permissions::from_mode(0o777)).unwrap();
        let node = PathBuf::from(&vars["NODE"]);
        fs::create_dir_all(node.parent().unwrap()).unwrap();
        fs::write(
            &node,
            format!(
                r#"#!/bin/sh
# FAKE node: records who runs it, where, with what environment and arguments;
# runs a script (-e) with the real node.
{{
    echo "uid=$(id -u)"
    echo "cwd=$(pwd)"
    printf "args=%s\n" "$(printf "%s" "$*" | tr "\n" " ")"
    env | sort
    echo "--"
}} >>'{runs}/log'
case "$1" in
-e) exec '{real_node}' "$@" ;;
esac
case "$*" in
*--help*) echo "upstream help" ;;
*"gateway health"*) echo "gateway: healthy" ;;
esac
exit "$(cat '{runs}/status' 2>/dev/null || echo 0)"
"#,
                runs = runs.display(),
                real_node = common::which("node").expect("node, which the admin tests require").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&node, fs::Permissions::from_mode(0o755)).unwrap();

        mac.add_daemon_account(200, 200);
        let state = mac.add_state(200, 200);
        let config = state.join("clawdbot.json");
        fs::write(&config, "old").unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&config, Some(200), Some(200)).unwrap();
        Admin { mac, cli, vars, runs }
    }

    fn state(&self) -> PathBuf {
        PathBuf::from(&self.vars["STATE_DIR"])
    }
    fn load(&self) {
        fs::create_dir_all(self.mac.fake().join("loaded")).unwrap();
        fs::write(self.mac.fake().join("loaded").join(LABEL), "").unwrap();
    }
    fn loaded(&self) -> bool {
        self.mac.fake().join("loaded").join(LABEL).exists()
    }
    fn node_exits(&self, code: i32) {
        fs::write(self.runs.join("status"), code.to_string()).unwrap();
    }
    /// `sudo -u _clawdbot -- /usr/bin/env -i` with the runtime environment, then node,
    /// the entry point and `args`: the command the CLI runs as.
    fn cli_command(&self, args: &str) -> (String, String) {
        let sudo = "sudo -u _clawdbot -- /usr/bin/env -i ".to_owned();
        (sudo, format!("{} {} {args}", self.vars["NODE"], self.vars["ENTRY"]))
    }

    /// Runs the admin command as root (`uid` None) or as `uid`, from inside the
    /// state directory, with `stdin` (not a terminal) and a caller's environment
    /// that must not reach the CLI.
    fn run(&self, args: &[&str], uid: Option<u32>, stdin: &str) -> AdminRun {
        let mut cmd = match uid {
            None => Command::new(&self.cli),
            Some(u) => {
                let mut c = Command::new("setpriv");
                c.args([format!("--reuid={u}"), format!("--regid={u}"), "--clear-groups".to_owned(), "--".to_owned()]).arg(&self.cli);
                c
            }
        };
        cmd.args(args);
        self.exec(cmd, stdin)
    }

    /// Runs the admin command as root with a terminal for its standard input
    /// (util-linux script), typing `typed` on it.
    fn run_on_terminal(&self, args: &[&str], typed: &str) -> AdminRun {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &format!("{} {}", self.cli.display(), args.join(" ")), "/dev/null"]);
        self.exec(cmd, typed)
    }

    fn exec(&self, mut cmd: Command, stdin: &str) -> AdminRun {
        let mut child = cmd
            .current_dir(self.state())
            .env("FAKE", self.mac.fake())
            .env("TERM", "xterm-test")
            .env("LANG", "de_DE.UTF-8")
            .env("NODE_OPTIONS", "--require=/nonexistent/evil.js")
            .env("CLAWDBOT_STATE_DIR", "/root/.clawdbot")
            .env("EVIL", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let calls_file = self.mac.fake().join("calls");
        let calls = fs::read_to_string(&calls_file).unwrap_or_default().lines().map(str::to_owned).collect();
        let _ = fs::remove_file(&calls_file);
        let log = self.runs.join("log");
        let runs = fs::read_to_string(&log)
            .unwrap_or_default()
            .split("--\n")
            .filter(|b| !b.is_empty())
            .map(|b| {
                let mut run = NodeRun { uid: String::new(), cwd: String::new(), args: String::new(), env: BTreeMap::new() };
                for (i, line) in b.lines().enumerate() {
                    match i {
                        0 => run.uid = line.trim_start_matches("uid=").to_owned(),
                        1 => run.cwd = line.trim_start_matches("cwd=").to_owned(),
                        2 => run.args = line.trim_start_matches("args=").to_owned(),
                        _ => {
                            let (k, v) = line.split_once('=').unwrap();
                            run.env.insert(k.to_owned(), v.to_owned());
                        }
                    }
                }
                run
            })
            .collect();
        let _ = fs::remove_file(&log);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        AdminRun { code: out.status.code().unwrap_or(-1), calls, out: text, runs }
    }
}

#[test]
fn admin_version_runs_nothing() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    for (args, uid) in [(&["--version"][..], None), (&["-V"][..], None), (&["--version"][..], Some(4321))] {
        let r = a.run(args, uid, "");
        assert_eq!(r.code, 0, "{}", r.out);
        assert_eq!(r.out, "clawdbot 2026.1.24.3-1 (system package)\n");
        assert!(r.calls.is_empty(), "{:?}", r.calls);
        assert!(r.runs.is_empty(), "node ran: {:?}", r.runs);
    }
}

#[test]
fn admin_runs_the_cli_as_the_account_in_a_session_of_its_own() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    let state = a.state().display().to_string();
    let r = a.run(&["agents", "list"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    let (sudo, node) = a.cli_command("agents list");
    let abs = a.mac.dir.path().join("fake-abs");
    assert_eq!(r.calls.len(), 4, "{:?}", r.calls);
    assert_eq!(r.calls[..2], ["id -u", "id -u _clawdbot"]);
    let script = &r.calls[2];
    assert!(script.starts_with(&format!("script -q /dev/null {}/{sudo}", abs.display())) && script.ends_with(&node), "{script}");
    assert!(r.calls[3].starts_with(&sudo) && r.calls[3].ends_with(&node), "{}", r.calls[3]);
    assert_eq!(r.runs.len(), 1, "{:?}", r.runs);
    let run = &r.runs[0];
    assert_eq!(run.uid, "200", "the CLI runs as the account");
    assert_eq!(run.cwd, "/", "the admin command works from /, not from where it was started (the state directory)");
    assert_eq!(run.args, format!("{} agents list", a.vars["ENTRY"]));
    let want: BTreeMap<String, String> = [
        ("HOME", state.clone()),
        ("CLAWDBOT_STATE_DIR", state.clone()),
        ("CLAWDBOT_CONFIG_PATH", format!("{state}/clawdbot.json")),
        ("CLAWDBOT_GATEWAY_PORT", "18789".to_owned()),
        ("CLAWDBOT_NO_RESPAWN", "1".to_owned()),
        ("SHELL", "/bin/zsh".to_owned()),
        ("PATH", format!("{}/node/bin:/usr/bin:/bin:/usr/sbin:/sbin", a.vars["PREFIX"])),
        ("TMPDIR", format!("{state}/cache")),
        ("NODE_COMPILE_CACHE", format!("{state}/cache/node")),
        ("JITI_TRY_NATIVE", "true".to_owned()),
        ("NODE_OPTIONS", "--disable-warning=ExperimentalWarning".to_owned()),
        ("TERM", "xterm-test".to_owned()),
        ("LANG", "de_DE.UTF-8".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let got: BTreeMap<String, String> =
        run.env.iter().filter(|(k, _)| !["PWD", "OLDPWD", "SHLVL", "_"].contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want, "exactly the runtime environment (env -i), nothing of the caller's");

    // The CLI's exit status is the command's.
    a.node_exits(5);
    let r = a.run(&["agents", "list"], None, "");
    assert_eq!(r.code, 5, "{}", r.out);
    a.node_exits(0);

    // As the account itself: the CLI directly, same environment, no sudo or script.
    let r = a.run(&["agents", "list"], Some(200), "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(r.calls, ["id -u", "id -u _clawdbot"]);
    assert_eq!(r.runs.len(), 1, "{:?}", r.runs);
    assert_eq!((r.runs[0].uid.as_str(), r.runs[0].cwd.as_str()), ("200", "/"));
    assert_eq!(r.runs[0].env.get("TMPDIR"), want.get("TMPDIR"));
    assert!(!r.runs[0].env.contains_key("EVIL"));

    // Anyone else: refused, nothing run.
    let r = a.run(&["agents", "list"], Some(4321), "");
    assert_eq!(r.code, 77, "{}", r.out);
    assert!(r.out.contains("run it as an administrator: sudo clawdbot agents list"), "{}", r.out);
    assert!(r.runs.is_empty());
    assert!(!r.calls.iter().any(|c| c.starts_with("sudo") || c.starts_with("script")), "{:?}", r.calls);
}

#[test]
fn admin_help_is_ours_then_upstreams_run_as_the_account() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    for args in [&[][..], &["--help"][..], &["-h"][..]] {
        let r = a.run(args, None, "");
        assert_eq!(r.code, 0, "{}", r.out);
        assert!(r.out.starts_with("clawdbot 2026.1.24.3-1 (system package): the gateway is the LaunchDaemon com.clawdbot.gateway,"), "{}", r.out);
        for row in ["gateway start|stop|restart", "launchctl bootstrap|bootout|kickstart -k", "reset [--yes]", "clawdbot-uninstall [--purge]"] {
            assert!(r.out.contains(row), "our help lacks {row:?}:\n{}", r.out);
        }
        let (ours, upstream) = r.out.split_once("Upstream's help follows.").unwrap();
        assert!(!ours.contains("upstream help") && upstream.contains("upstream help"), "{}", r.out);
        assert_eq!(r.runs.len(), 1);
        assert_eq!(r.runs[0].args, format!("{} --help", a.vars["ENTRY"]));
        assert_eq!(r.runs[0].uid, "200");
        assert!(r.calls.iter().any(|c| c.starts_with("script -q /dev/null ")), "{:?}", r.calls);
    }
}

#[test]
fn admin_service_words_map_to_launchctl() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    let plist = &a.vars["PLIST"];
    let svc = format!("system/{LABEL}");
    /// Arguments, loaded before, the launchctl calls, loaded after, what it says.
    type Row<'a> = (&'a [&'a str], bool, Vec<String>, bool, &'a str);
    let cases: Vec<Row> = vec![
        (&["gateway", "start"], false, vec![format!("enable {svc}"), format!("print {svc}"), format!("bootstrap system {plist}")], true, "started"),
        (&["gateway", "start"], true, vec![format!("enable {svc}"), format!("print {svc}")], true, "already loaded"),
        (&["gateway", "restart"], true, vec![format!("print {svc}"), format!("kickstart -k {svc}")], true, "restarted"),
        (&["daemon", "restart"], false, vec![format!("print {svc}"), format!("enable {svc}"), format!("bootstrap system {plist}")], true, "started it"),
        (&["gateway", "stop"], true, vec![format!("print {svc}"), format!("bootout {svc}")], false, "stopped"),
        (&["daemon", "stop"], false, vec![format!("print {svc}")], false, "is not loaded"),
    ];
    for (args, before, want, after, says) in cases {
        let _ = fs::remove_file(a.mac.fake().join("loaded").join(LABEL));
        if before {
            a.load();
        }
        let r = a.run(args, None, "");
        assert_eq!(r.code, 0, "{args:?}: {}", r.out);
        let want: Vec<String> = want.into_iter().map(|c| format!("launchctl {c}")).collect();
        assert_eq!(launchctl(&r.calls), want, "{args:?} (loaded: {before})");
        assert_eq!(a.loaded(), after, "{args:?}");
        assert!(r.out.contains(says), "{args:?}: {}", r.out);
        assert!(r.runs.is_empty(), "{args:?} ran node");
    }

    // status: launchd's own state and pid (not those of its sections), then
    // upstream's health check, as the account.
    a.load();
    let r = a.run(&["gateway", "status"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(launchctl(&r.calls), [format!("launchctl print {svc}")]);
    assert!(r.out.contains("  state = running\n  pid = 4242\n  last exit code = (never exited)\n"), "{}", r.out);
    assert!(!r.out.contains("pid = 1\n") && !r.out.contains("state = active"), "{}", r.out);
    assert!(r.out.contains("gateway: healthy"), "{}", r.out);
    assert_eq!(r.runs.len(), 1);
    assert_eq!((r.runs[0].uid.as_str(), r.runs[0].args.clone()), ("200", format!("{} gateway health", a.vars["ENTRY"])));
    fs::remove_file(a.mac.fake().join("loaded").join(LABEL)).unwrap();
    let r = a.run(&["daemon", "status"], None, "");
    assert_eq!(r.code, 3, "{}", r.out);
    assert!(r.out.contains("not loaded"), "{}", r.out);
    assert!(r.runs.is_empty());

    // The account cannot act on launchd through it.
    a.load();
    let r = a.run(&["gateway", "stop"], Some(200), "");
    assert_eq!(r.code, 77, "{}", r.out);
    assert!(launchctl(&r.calls).is_empty(), "{:?}", r.calls);
    assert!(a.loaded());
}

#[test]
fn admin_refuses_per_user_services_and_updates() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    for args in [
        &["gateway", "install"][..],
        &["daemon", "uninstall"],
        &["node", "install"],
        &["node", "uninstall"],
        &["uninstall"],
        &["gateway", "install", "--force"],
    ] {
        let r = a.run(args, None, "");
        assert_eq!(r.code, 1, "{args:?}: {}", r.out);
        for needle in ["already is a system service", "sudo clawdbot gateway start|stop", "/Library/Clawdbot/bin/clawdbot-uninstall [--purge]"] {
            assert!(r.out.contains(needle), "{args:?}: lacks {needle:?}: {}", r.out);
        }
        assert!(launchctl(&r.calls).is_empty() && r.runs.is_empty(), "{args:?}: {:?}", r.calls);
    }
    let r = a.run(&["update"], None, "");
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("installing a newer .pkg") && r.out.contains("sudo installer -pkg clawdbot-<version>-<arch>.pkg -target /"), "{}", r.out);
    assert!(r.runs.is_empty());
}

#[test]
fn admin_onboard_installs_no_per_user_service() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    let r = a.run(&["onboard", "--flow", "quickstart"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(r.runs.len(), 1);
    assert_eq!(r.runs[0].args, format!("{} onboard --flow quickstart --no-install-daemon", a.vars["ENTRY"]));
    assert_eq!(r.runs[0].uid, "200");
    assert!(r.calls.iter().any(|c| c.starts_with("script -q /dev/null ")), "{:?}", r.calls);
    assert!(r.out.contains("sudo clawdbot gateway restart"), "{}", r.out);
    a.node_exits(2);
    let r = a.run(&["onboard"], None, "");
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(!r.out.contains("gateway restart"), "{}", r.out);
}

#[test]
fn admin_foreground_and_force_wait_for_the_daemon_to_stop() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    let cases: [(&[&str], &str); 5] = [
        (&["gateway"], "already runs as the LaunchDaemon com.clawdbot.gateway"),
        (&["gateway", "run"], "already runs as the LaunchDaemon"),
        (&["gateway", "--port", "18790"], "already runs as the LaunchDaemon"),
        (&["gateway", "run", "--force"], "--force kills whatever listens on port 18789"),
        (&["agents", "list", "--force"], "--force kills whatever listens on port 18789"),
    ];
    a.load();
    for (args, why) in cases {
        let r = a.run(args, None, "");
        assert_eq!(r.code, 1, "{args:?}: {}", r.out);
        assert!(r.out.contains(why) && r.out.contains("sudo clawdbot gateway stop"), "{args:?}: {}", r.out);
        assert!(r.runs.is_empty(), "{args:?} ran node while the daemon is loaded");
        assert_eq!(launchctl(&r.calls), [format!("launchctl print system/{LABEL}")]);
    }
    // Asking the running daemon is fine.
    let r = a.run(&["gateway", "health"], None, "");
    assert_eq!((r.code, r.runs.len()), (0, 1), "{}", r.out);

    fs::remove_file(a.mac.fake().join("loaded").join(LABEL)).unwrap();
    for (args, _) in cases {
        let r = a.run(args, None, "");
        assert_eq!(r.code, 0, "{args:?}: {}", r.out);
        assert_eq!(r.runs.len(), 1, "{args:?}");
        assert_eq!(r.runs[0].args, format!("{} {}", a.vars["ENTRY"], args.join(" ")));
        assert_eq!(r.runs[0].uid, "200");
    }
}

/// The account's uid in the grant tests: its own, so that pausing "every process
/// of the account" touches nothing of the other tests running meanwhile.
const GRANT_UID: u32 = 4242;

/// A person, alice (501:20), known to the directory service, with a home in the
/// volume (0750), ~/Documents/notes.txt (0600) and ~/.ssh/id_rsa.
fn add_alice(a: &Admin) -> PathBuf {
    let home = a.mac.vol().join("Users/alice");
    a.mac.add_user("alice", 501, 20);
    a.mac.set_attr("Users", "alice", "NFSHomeDirectory", &home.display().to_string());
    a.mac.set_attr("Users", "_clawdbot", "UniqueID", &GRANT_UID.to_string());
    for (dir, mode) in [(home.clone(), 0o750), (home.join("Documents"), 0o700), (home.join(".ssh"), 0o700)] {
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&dir, Some(501), Some(20)).unwrap();
    }
    for (file, text) in [(home.join("Documents/notes.txt"), "alice's notes"), (home.join(".ssh/id_rsa"), "PRIVATE KEY")] {
        fs::write(&file, text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&file, Some(501), Some(20)).unwrap();
    }
    home
}

/// The fake ACLs, as (path, entry).
fn acls(a: &Admin) -> Vec<(String, String)> {
    fs::read_to_string(a.mac.fake().join("acls"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (p, e) = l.split_once('\t').unwrap();
            (p.to_owned(), e.to_owned())
        })
        .collect()
}

fn acl_of(a: &Admin, path: &Path) -> Vec<String> {
    acls(a).into_iter().filter(|(p, _)| Path::new(p) == path).map(|(_, e)| e).collect()
}

/// The ACL changes since the last call, as "UID OP ARG PATH".
fn acl_calls(a: &Admin) -> Vec<String> {
    let file = a.mac.fake().join("acl-calls");
    let calls = fs::read_to_string(&file).unwrap_or_default().lines().map(str::to_owned).collect();
    let _ = fs::remove_file(&file);
    calls
}

fn state_of(pid: u32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with("State:")).unwrap().to_owned()
}

#[test]
fn admin_grant_shares_as_the_owner_while_the_account_is_paused() {
    if !can_run_the_fake(&[NODE, ("/bin/ps", "procps")]) {
        return;
    }
    let a = Admin::new();
    let home = add_alice(&a);
    let docs = home.join("Documents");
    let notes = docs.join("notes.txt");
    let d = docs.display().to_string();
    // A process of the account, which the command pauses and then continues.
    let mut daemon = Command::new("setpriv")
        .args([format!("--reuid={GRANT_UID}"), format!("--regid={GRANT_UID}"), "--clear-groups".into(), "sleep".into(), "60".into()])
        .spawn()
        .unwrap();

    let ssh = home.join(".ssh").display().to_string();
    let h = home.display().to_string();
    for (args, why) in [
        (vec!["grant", h.as_str()], "it is the whole home directory of a user"),
        (vec!["grant", ssh.as_str()], "store of secrets"),
        (vec!["grant", "Documents"], "give the absolute path"),
        (vec!["grant", "/etc"], "system configuration"),
    ] {
        let r = a.run(&args, None, "");
        assert_eq!(r.code, 1, "{args:?}: {}", r.out);
        assert!(r.out.contains(why), "{args:?}: lacks {why:?}: {}", r.out);
    }
    assert!(acls(&a).is_empty(), "{:?}", acls(&a));

    // A second name of alice's key in Documents, as the account may make one on
    // a Mac: neither that file nor a grant of it is shared.
    let key_link = docs.join("key-link");
    fs::hard_link(home.join(".ssh/id_rsa"), &key_link).unwrap();
    let r = a.run(&["grant", &key_link.display().to_string()], None, "");
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("other names (hard links)"), "{}", r.out);
    assert!(acls(&a).is_empty(), "{:?}", acls(&a));

    a.load();
    let r = a.run(&["grant", &d], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains(&format!("granted: _clawdbot may read {d}")), "{}", r.out);
    // launchd would start the daemon again if it exited during the walk: it is
    // unloaded before the first entry and loaded again after the last.
    let bootout = r.calls.iter().position(|c| c.contains("launchctl bootout")).expect("unloaded");
    let bootstrap = r.calls.iter().rposition(|c| c.contains("launchctl bootstrap")).expect("loaded again");
    let (first, last) = (r.calls.iter().position(|c| c.contains("chmod +a")).unwrap(), r.calls.iter().rposition(|c| c.contains("chmod +a")).unwrap());
    assert!(bootout < first && last < bootstrap, "{:#?}", r.calls);
    assert!(a.loaded());
    assert!(r.out.contains("hard links") && r.out.contains(&key_link.display().to_string()), "the link is named: {}", r.out);
    assert!(acl_of(&a, &key_link).is_empty(), "{:?}", acls(&a));
    fs::remove_file(&key_link).unwrap();
    assert_eq!(acl_of(&a, &docs), ["user:_clawdbot allow list,search,readattr,readextattr,readsecurity,file_inherit,directory_inherit"]);
    assert_eq!(acl_of(&a, &notes), ["user:_clawdbot allow read,readattr,readextattr,readsecurity"]);
    assert_eq!(acl_of(&a, &home), ["user:_clawdbot allow search"], "the home (0750) gets the bare search entry");
    assert!(acl_of(&a, &home.join(".ssh")).is_empty() && acl_of(&a, &home.join(".ssh/id_rsa")).is_empty());
    let changes = acl_calls(&a);
    assert!(!changes.is_empty() && changes.iter().all(|c| c.starts_with("501 +a ")), "every entry is made as alice: {changes:#?}");
    // Paused before the first entry, continued after the last; by the account itself.
    let pos = |needle: &str| r.calls.iter().position(|c| c.contains(needle));
    let stop = pos("sudo -u _clawdbot -- /bin/sh -c kill -s STOP -- -1").expect("paused");
    let first = pos("chmod +a").unwrap();
    let cont = r.calls.iter().rposition(|c| c.contains("sudo -u _clawdbot -- /bin/sh -c kill -s CONT -- -1")).expect("continued");
    let last = r.calls.iter().rposition(|c| c.contains("chmod +a")).unwrap();
    assert!(stop < first && last < cont, "{:#?}", r.calls);
    assert!(!state_of(daemon.id()).contains("stopped"), "{}", state_of(daemon.id()));
    let r = a.run(&["grants"], None, "");
    assert!(r.out.lines().any(|l| l.starts_with(&d) && l.contains(" read ") && l.ends_with("yes")), "{}", r.out);

    // --write replaces the grant; the daemon then makes a file there, its own,
    // which inherits the directory's entry.
    let r = a.run(&["grant", "--write", &d], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(acl_of(&a, &notes), ["user:_clawdbot allow read,readattr,readextattr,readsecurity,write,append,writeattr,writeextattr"]);
    assert_eq!(acl_of(&a, &docs).len(), 1);
    assert_eq!(acl_of(&a, &home), ["user:_clawdbot allow search"]);
    // The search right the entries give the account on a Mac, which fake ACLs cannot.
    fs::set_permissions(&home, fs::Permissions::from_mode(0o751)).unwrap();
    fs::set_permissions(&docs, fs::Permissions::from_mode(0o701)).unwrap();
    let made = docs.join("made-by-the-gateway.txt");
    fs::write(&made, "").unwrap();
    std::os::unix::fs::chown(&made, Some(GRANT_UID), Some(GRANT_UID)).unwrap();
    let mut store = fs::OpenOptions::new().append(true).open(a.mac.fake().join("acls")).unwrap();
    std::io::Write::write_all(&mut store, format!("{}\tuser:_clawdbot inherited allow read,write\n", made.display()).as_bytes()).unwrap();
    acl_calls(&a);

    let r = a.run(&["revoke", &d], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(acls(&a).is_empty(), "revoke leaves no entry of ours anywhere: {:?}", acls(&a));
    let changes = acl_calls(&a);
    assert!(changes.contains(&format!("{GRANT_UID} -a# 0 {}", made.display())), "the account's own file, by the account: {changes:#?}");
    assert!(changes.contains(&format!("501 -a# 0 {}", notes.display())) && changes.contains(&format!("501 -a# 0 {h}")), "{changes:#?}");
    assert!(changes.iter().all(|c| !c.starts_with("0 ")), "root changes no entry: {changes:#?}");
    assert!(a.run(&["grants"], None, "").out.contains("no grants"));
    assert!(!state_of(daemon.id()).contains("stopped"));

    // What the uninstaller's --purge runs: every grant taken back.
    assert_eq!(a.run(&["grant", &d], None, "").code, 0);
    assert!(!acls(&a).is_empty());
    let out = Command::new(&a.vars["GRANT"]).arg("revoke-all").env("FAKE", a.mac.fake()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(acls(&a).is_empty(), "{:?}", acls(&a));
    assert!(!Path::new(&a.vars["GRANTS"]).exists());
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}

/// Alice's per-user gateway as upstream installs it: a LaunchAgent plist in
/// upstream's layout naming her state directory and her token, a JSON5
/// configuration without a token of its own, a credential, a log, and a
/// workspace; all hers, 0600/0700.
fn add_alices_gateway(a: &Admin) -> PathBuf {
    let home = add_alice(a);
    a.mac.set_attr("Users", "_clawdbot", "UniqueID", "200");
    let h = home.display().to_string();
    let agents = home.join("Library/LaunchAgents");
    let plist = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n  <dict>\n    <key>Label</key>\n    <string>{LABEL}</string>\n    \n    <key>RunAtLoad</key>\n    <true/>\n    <key>KeepAlive</key>\n    <true/>\n    <key>ProgramArguments</key>\n    <array>\n      <string>/opt/homebrew/bin/node</string>\n      <string>{h}/.npm-global/lib/node_modules/clawdbot/dist/index.js</string>\n      <string>gateway</string>\n    </array>\n    \n    <key>StandardOutPath</key>\n    <string>{h}/.clawdbot/logs/gateway.log</string>\n    <key>StandardErrorPath</key>\n    <string>{h}/.clawdbot/logs/gateway.err.log</string>\n    <key>EnvironmentVariables</key>\n    <dict>\n    <key>HOME</key>\n    <string>{h}</string>\n    <key>CLAWDBOT_STATE_DIR</key>\n    <string>{h}/.clawdbot</string>\n    <key>CLAWDBOT_GATEWAY_PORT</key>\n    <string>18789</string>\n    <key>CLAWDBOT_GATEWAY_TOKEN</key>\n    <string>alices-token-4711</string>\n    </dict>\n  </dict>\n</plist>\n"
    );
    let files = [
        (agents.join(format!("{LABEL}.plist")), plist),
        (
            home.join(".clawdbot/clawdbot.json"),
            format!("{{\n  // alice's own gateway\n  gateway: {{ port: 18789, mode: 'local' }},\n  agents: {{ defaults: {{ workspace: '~/clawd' }} }},\n  logging: {{ file: '{h}/.clawdbot/logs/gateway.log' }},\n  hooks: {{ path: '{h}/Documents/hooks' }},\n}}\n"),
        ),
        (home.join(".clawdbot/credentials/oauth.json"), "{\"anthropic\": \"alice's refresh token\"}".to_owned()),
        (home.join(".clawdbot/logs/gateway.log"), "started\n".to_owned()),
        (home.join("clawd/AGENTS.md"), "# alice's agent\n".to_owned()),
    ];
    for (file, text) in files {
        let mut dir = file.parent().unwrap().to_owned();
        fs::create_dir_all(&dir).unwrap();
        while dir != home {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&dir, Some(501), Some(20)).unwrap();
            dir = dir.parent().unwrap().to_owned();
        }
        fs::write(&file, text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&file, Some(501), Some(20)).unwrap();
    }
    // Upstream's json5, here a FAKE that reads object literals (comments,
    // unquoted keys, single quotes, trailing commas) as JavaScript does.
    let json5 = Path::new(&a.vars["APP"]).join("node_modules/json5");
    fs::create_dir_all(&json5).unwrap();
    fs::write(json5.join("index.js"), "module.exports = { parse: (text) => Function('\"use strict\"; return (' + text + '\\n)')() };\n").unwrap();
    // Her agent, loaded in her gui domain.
    fs::create_dir_all(a.mac.fake().join("loaded/gui/501")).unwrap();
    fs::write(a.mac.fake().join("loaded/gui/501").join(LABEL), "").unwrap();
    home
}

/// Every file under `dir` with its mode, owner and contents.
fn owned_snapshot(dir: &Path) -> BTreeMap<PathBuf, ((u32, u32, u32), String)> {
    snapshot(dir).into_iter().map(|(p, text)| (p.clone(), (mode_owner(&p), text))).collect()
}

#[test]
fn admin_migrate_moves_a_launch_agent_into_the_daemon_as_the_account() {
    if !can_run_the_fake(&[NODE]) {
        return;
    }
    let a = Admin::new();
    let home = add_alices_gateway(&a);
    let state = a.state();
    let agent_loaded = a.mac.fake().join("loaded/gui/501").join(LABEL);
    a.load();
    let hers = owned_snapshot(&home);

    // The installation names her gateway and the command.
    let (ok, _, log) = a.mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert!(log.contains("the per-user gateway of alice (LaunchAgent gui/501/com.clawdbot.gateway) holds port 18789"), "{log}");
    assert!(log.contains("sudo clawdbot migrate --from alice"), "{log}");
    a.load();
    let before = owned_snapshot(&state);

    // --dry-run: the plan, and nothing changed anywhere.
    let r = a.run(&["migrate", "--from", "alice", "--dry-run"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    for line in
        ["1. boot out and disable alice's LaunchAgent gui/501/com.clawdbot.gateway", "(3 files)", "4. copy the workspace", "(--dry-run: nothing was changed)"]
    {
        assert!(r.out.contains(line), "lacks {line:?}: {}", r.out);
    }
    assert!(r.out.contains(&format!("copy the workspace {}/clawd into {}/workspace", home.display(), state.display())), "{}", r.out);
    assert_eq!(owned_snapshot(&home), hers);
    assert_eq!(owned_snapshot(&state), before);
    assert!(agent_loaded.exists() && a.loaded());
    assert!(!r.calls.iter().any(|c| c.starts_with("launchctl bootout") || c.starts_with("launchctl disable")), "{:#?}", r.calls);

    // The daemon's own credentials are not replaced without --force.
    let own = state.join("credentials");
    fs::create_dir_all(&own).unwrap();
    fs::write(own.join("whatsapp.json"), "the daemon's").unwrap();
    for p in [&own, &own.join("whatsapp.json")] {
        std::os::unix::fs::chown(p, Some(200), Some(200)).unwrap();
    }
    let r = a.run(&["migrate", "--from", "alice"], None, "");
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("already holds credentials of its own (credentials/whatsapp.json") && r.out.contains("add --force"), "{}", r.out);
    assert!(agent_loaded.exists() && a.loaded(), "refused before anything was stopped");

    let r = a.run(&["migrate", "--from", "alice", "--force"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("stopped and disabled alice's LaunchAgent gui/501/com.clawdbot.gateway"), "{}", r.out);
    assert!(r.out.contains("done: the LaunchDaemon system/com.clawdbot.gateway answers with alice's configuration and token"), "{}", r.out);
    assert!(!agent_loaded.exists(), "her agent is booted out");
    let print_disabled =
        Command::new(a.mac.dir.path().join("fake-abs/launchctl")).args(["print-disabled", "gui/501"]).env("FAKE", a.mac.fake()).output().unwrap();
    assert!(String::from_utf8_lossy(&print_disabled.stdout).contains("\"com.clawdbot.gateway\" => disabled"), "her agent is disabled");
    assert!(a.loaded(), "the daemon runs again");
    assert!(r.calls.iter().any(|c| c.ends_with("gateway health")), "{:#?}", r.calls);

    // Her files, unchanged: contents, modes, owners; her plist is still there.
    assert_eq!(owned_snapshot(&home), hers);

    // In the state: hers, owned by the account, 0600/0700; the daemon's own aside.
    let config = fs::read_to_string(state.join("clawdbot.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let s = state.display().to_string();
    assert_eq!(config["gateway"]["auth"]["token"], "alices-token-4711", "her token, from her agent's environment: {config}");
    assert_eq!(config["agents"]["defaults"]["workspace"], format!("{s}/workspace"));
    assert_eq!(config["logging"]["file"], format!("{s}/logs/gateway.log"));
    assert_eq!(config["hooks"]["path"], format!("{}/Documents/hooks", home.display()), "a path the account cannot reach is left and named");
    assert!(r.out.contains("not reachable by the service, left as it is: hooks.path"), "{}", r.out);
    assert_eq!(fs::read_to_string(state.join("credentials/oauth.json")).unwrap(), "{\"anthropic\": \"alice's refresh token\"}");
    assert_eq!(fs::read_to_string(state.join("workspace/AGENTS.md")).unwrap(), "# alice's agent\n");
    let asides: Vec<PathBuf> =
        fs::read_dir(&state).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("pre-migrate-")).collect();
    assert_eq!(asides.len(), 1, "{asides:?}");
    assert_eq!(fs::read_to_string(asides[0].join("clawdbot.json")).unwrap(), "old");
    assert_eq!(fs::read_to_string(asides[0].join("credentials/whatsapp.json")).unwrap(), "the daemon's");
    for (path, ((mode, uid, gid), text)) in owned_snapshot(&state) {
        assert_eq!((uid, gid), (200, 200), "{} is not the account's", path.display());
        let want = if text == "<dir>" { 0o700 } else { 0o600 };
        if !path.starts_with(&asides[0]) {
            assert_eq!(mode, want, "{}", path.display());
        }
    }
    // Root changed the owner of nothing but its own copy of her files.
    let chowns: Vec<&String> = r.calls.iter().filter(|c| c.starts_with("chown ")).collect();
    assert!(chowns.len() == 2 && chowns.iter().all(|c| c.contains("/clawdbot-migrate.") && c.ends_with("/copy.tar")), "{chowns:#?}");
    // Node read her configuration as her, and rewrote the copy as the account.
    let scripts: Vec<&str> = r.runs.iter().filter(|n| n.args.starts_with("-e ")).map(|n| n.uid.as_str()).collect();
    assert_eq!(scripts, ["501", "200"], "{:#?}", r.runs);

    // A second run: nothing to do.
    let r = a.run(&["migrate", "--from", "alice"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("nothing to do: the per-user gateway of alice was moved"), "{}", r.out);

    // Not as anyone but root; not for root or the account.
    assert_eq!(a.run(&["migrate", "--from", "alice"], Some(501), "").code, 77);
    for who in ["root", "_clawdbot", "nobody-here"] {
        let r = a.run(&["migrate", "--from", who], None, "");
        assert_eq!(r.code, 1, "{who}: {}", r.out);
    }
}

#[test]
fn admin_reset_writes_a_new_configuration_as_the_account_and_keeps_the_old() {
    if !can_run_the_fake(&[NODE, ("script", "bsdutils")]) {
        return;
    }
    let a = Admin::new();
    let state = a.state();
    let config = state.join("clawdbot.json");

    // Not on a terminal and no --yes: refused, nothing touched.
    a.load();
    let r = a.run(&["reset"], None, "y\n");
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("confirm with --yes"), "{}", r.out);
    assert!(launchctl(&r.calls).is_empty(), "{:?}", r.calls);
    assert_eq!(fs::read_to_string(&config).unwrap(), "old");
    let r = a.run(&["reset", "--scope", "full"], None, "");
    assert_eq!(r.code, 2, "{}", r.out);
    assert_eq!(fs::read_to_string(&config).unwrap(), "old");

    // On a terminal it asks; anything but yes changes nothing.
    let r = a.run_on_terminal(&["reset"], "n\n");
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("[y/N]") && r.out.contains("nothing changed"), "{}", r.out);
    assert!(launchctl(&r.calls).is_empty(), "{:?}", r.calls);
    assert_eq!(fs::read_to_string(&config).unwrap(), "old");

    let r = a.run(&["reset", "--yes"], None, "");
    assert_eq!(r.code, 0, "{}", r.out);
    let svc = format!("system/{LABEL}");
    assert_eq!(
        launchctl(&r.calls),
        [
            format!("launchctl print {svc}"),
            format!("launchctl bootout {svc}"),
            format!("launchctl enable {svc}"),
            format!("launchctl bootstrap system {}", a.vars["PLIST"])
        ]
    );
    assert!(a.loaded());
    let s = state.display();
    let first_config = &a.vars["FIRST_CONFIG"];
    let writer = format!("sudo -u _clawdbot -- /usr/bin/env -i PATH=/usr/bin:/bin HOME={s} /bin/sh {first_config} reset {s}");
    let abs = a.mac.dir.path().join("fake-abs");
    assert!(r.calls.contains(&format!("script -q /dev/null {}/{writer}", abs.display())), "{:?}", r.calls);
    assert!(r.calls.contains(&writer), "{:?}", r.calls);
    // The new configuration: the account's, 0600, with a new token.
    assert_eq!(mode_owner(&config), (0o600, 200, 200));
    let new = fs::read_to_string(&config).unwrap();
    let token = token_of(&new);
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{new}");
    assert!(new.contains(&format!("\"workspace\": \"{s}/workspace\"")), "{new}");
    assert!(!r.out.contains(&token), "the token is not shown: {}", r.out);
    // The old one, aside under a UTC time stamp.
    let aside: Vec<PathBuf> =
        fs::read_dir(&state).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_str().unwrap().contains("clawdbot.json.reset-")).collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let stamp = aside[0].to_str().unwrap().rsplit("clawdbot.json.reset-").next().unwrap().to_owned();
    assert!(stamp.len() == 16 && stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T', "{stamp}");
    assert_eq!(fs::read_to_string(&aside[0]).unwrap(), "old");
    assert_eq!(mode_owner(&aside[0]).1, 200);
    for says in [
        "stopped com.clawdbot.gateway",
        "moved the configuration aside to",
        "with a new gateway token",
        "started com.clawdbot.gateway with the new configuration",
    ] {
        assert!(r.out.contains(says), "reset does not say {says:?}: {}", r.out);
    }
    assert!(r.runs.is_empty(), "reset runs no node");

    // The account cannot reset through it.
    let r = a.run(&["reset", "--yes"], Some(200), "");
    assert_eq!(r.code, 77, "{}", r.out);
    assert_eq!(fs::read_to_string(&config).unwrap(), new);

    // Answered yes on a terminal, with the daemon not loaded: a second reset.
    fs::remove_file(a.mac.fake().join("loaded").join(LABEL)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = a.run_on_terminal(&["reset"], "y\n");
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(
        launchctl(&r.calls),
        [format!("launchctl print {svc}"), format!("launchctl enable {svc}"), format!("launchctl bootstrap system {}", a.vars["PLIST"])]
    );
    let newer = fs::read_to_string(&config).unwrap();
    assert_ne!(token_of(&newer), token);
    let asides = fs::read_dir(&state).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_str().unwrap().starts_with("clawdbot.json.reset-")).count();
    assert_eq!(asides, 2);
}

#[test]
fn shipped_scripts_are_shellcheck_clean() {
    if !common::require(&[("shellcheck", "shellcheck")]) {
        return;
    }
    let m = manifest();
    let templates = pkg::format::load_templates(&root()).unwrap();
    let vars = macos::vars(&m).unwrap();
    assert!(pkg::template::COMMON.contains(&macos::WORDS_TEMPLATE));
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    // The shared word classifier is read as the admin command sources it (-x).
    for name in ["launchd/preinstall", "launchd/postinstall", "launchd/uninstall.sh", "launchd/clawdbot.sh", "launchd/first-config.sh"] {
        let text = templates.render(name, &vars).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{name}");
        let path = dir.path().join(name.replace('/', "__"));
        fs::write(&path, text).unwrap();
        files.push(path.to_str().unwrap().to_owned());
    }
    // -x, from the repository root: the admin command's `source=` directive names
    // the word classifier there.
    let out = Command::new("shellcheck")
        .args(["-x", "--severity=style", "--shell=sh"])
        .args(&files)
        .current_dir(root())
        .output()
        .expect("shellcheck is needed by this test: install it with `apt-get install shellcheck`");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
