//! The macOS installer package, built from small fixture payloads and read back
//! with readers this repository did not write: bsdtar and 7z (xar), GNU cpio
//! (Payload, Scripts), file(1) (Mach-O arch), the apple-bom reader (Bom) and the
//! apple-flat-package / apple-xar readers (Distribution, PackageInfo, payload
//! entries, table-of-contents checksum), run as `pkg/tests/macos-reader`.
//!
//! The install scripts run against a recorded FAKE of macOS's dscl, dseditgroup,
//! launchctl, pkgutil and sleep, placed first on PATH, with a temporary directory
//! as the target volume. That proves the scripts' logic and command sequences on
//! Linux; it does not prove how the real tools behave on a Mac.
//!
//! A missing tool is a failure that says how to install it.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pkg::linux::Payload;
use pkg::macos::{self, Templates};
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
    Payload { app, node, jiti: None }
}

fn build(dir: &Path, target: Target, extra: usize) -> PathBuf {
    let m = manifest();
    let templates = Templates::load(&root()).unwrap();
    let payload = fixture(&dir.join("payload"), target, extra);
    let stage = macos::stage(&m, &payload, &templates).unwrap();
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    macos::write(&m, target, &stage, &templates, &BuildOptions { mtime: MTIME, threads: 1 }, &out).unwrap()
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
        "<string>/var/db/clawdbot/logs/launchd.err.log</string>",
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
    let templates = Templates::load(&root()).unwrap();
    let payload = fixture(&dir.path().join("payload"), Target::DarwinArm64, 0);
    let stage = macos::stage(&m, &payload, &templates).unwrap();
    // The payload shrinks after staging: the writer must notice and leave nothing.
    fs::write(payload.node.join("LICENSE"), "").unwrap();
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let e = macos::write(&m, Target::DarwinArm64, &stage, &templates, &BuildOptions { mtime: MTIME, threads: 1 }, &out).unwrap_err().to_string();
    assert!(e.contains("LICENSE"), "{e}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "partial output left behind");
    let e = macos::write(&m, Target::LinuxX64, &stage, &templates, &BuildOptions { mtime: MTIME, threads: 1 }, &out).unwrap_err().to_string();
    assert!(e.contains("linux-x64 is not a macOS target"), "{e}");
}

// ---------------------------------------------------------------------------
// The install scripts against a recorded fake of the macOS tools.

/// FAKE dscl, dseditgroup, launchctl, pkgutil and sleep: one script under five
/// names. It appends every call to $FAKE/calls and keeps the directory service
/// (users, groups) and launchd's loaded labels as files under $FAKE.
/// $FAKE/dscl-failures holds how many dscl calls still fail with -14988;
/// $FAKE/refuse-delete makes user deletion fail with -14120.
const FAKE_TOOL: &str = r#"#!/bin/sh
# FAKE macOS tool for tests: records calls, simulates the directory service and launchd.
set -eu
tool=$(basename "$0")
echo "$tool $*" >> "$FAKE/calls"
case "$tool" in
sleep) exit 0 ;;
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
        echo "${2#system/} = { state = running }" ;;
    bootout) [ -e "$FAKE/loaded/${2#system/}" ] || exit 113; rm "$FAKE/loaded/${2#system/}" ;;
    enable) : ;;
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

impl Mac {
    /// A target volume with /var/db and the installed payload's plist, the rendered
    /// scripts, and the fake tools.
    fn new() -> Mac {
        let m = manifest();
        let dir = tempfile::tempdir().unwrap();
        let templates = Templates::load(&root()).unwrap();
        let vars = macos::vars(&m).unwrap();
        let bin = dir.path().join("fake-bin");
        fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("fake-macos-tool");
        fs::write(&fake, FAKE_TOOL).unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        for t in ["dscl", "dseditgroup", "launchctl", "pkgutil", "sleep"] {
            symlink(&fake, bin.join(t)).unwrap();
        }
        fs::create_dir_all(dir.path().join("fake")).unwrap();
        let vol = dir.path().join("vol");
        fs::create_dir_all(vol.join("var/db")).unwrap();
        fs::create_dir_all(vol.join("Library/LaunchDaemons")).unwrap();
        fs::create_dir_all(vol.join("Library/Clawdbot/bin")).unwrap();
        fs::write(vol.join(format!("Library/LaunchDaemons/{}.plist", m.service.launchd_label)), templates.render("launchd/gateway.plist", &vars).unwrap())
            .unwrap();
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

fn need_root() {
    let uid = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "0", "the script tests chown to the daemon account's ids: run them as root");
}

fn mode_owner(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn fresh_install_then_upgrade_then_reinstall() {
    need_root();
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_user("root", 0, 0);
    mac.add_user("daemon", 1, 1);
    mac.add_group("wheel", 0);

    // Fresh install: nothing loaded, no account.
    let (ok, calls, log) = mac.run("preinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, [format!("launchctl print system/{LABEL}")]);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), creation_calls(200), load_calls(false, &vol)]), "{log}");
    assert_eq!(mac.attr("Users", "_clawdbot", "UniqueID").as_deref(), Some("200"));
    assert_eq!(mac.attr("Groups", "_clawdbot", "PrimaryGroupID").as_deref(), Some("200"));
    let state = vol.join("var/db/clawdbot");
    assert_eq!(mode_owner(&state), (0o700, 200, 200));
    assert_eq!(mode_owner(&state.join("logs")), (0o700, 200, 200));
    let config = state.join("clawdbot.json");
    assert_eq!(mode_owner(&config), (0o600, 200, 200));
    let first = fs::read_to_string(&config).unwrap();
    let token = first.split("\"token\": \"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(token.len(), 64, "{first}");
    assert!(first.contains("\"workspace\": \"/var/db/clawdbot/workspace\""), "{first}");
    for (link, dest) in
        [("usr/local/bin/clawdbot", "/Library/Clawdbot/bin/clawdbot"), ("usr/local/bin/clawdbot-uninstall", "/Library/Clawdbot/bin/clawdbot-uninstall")]
    {
        assert_eq!(fs::read_link(vol.join(link)).unwrap(), Path::new(dest));
    }

    // Upgrade: the daemon is loaded; preinstall stops it, postinstall creates nothing.
    fs::write(state.join("credentials.json"), "secret").unwrap();
    let (ok, calls, log) = mac.run("preinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, [format!("launchctl print system/{LABEL}"), format!("launchctl bootout system/{LABEL}")]);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), load_calls(false, &vol)]), "{log}");
    assert_eq!(fs::read_to_string(&config).unwrap(), first, "the configuration and its token are kept");
    assert_eq!(fs::read_to_string(state.join("credentials.json")).unwrap(), "secret");

    // Reinstall without preinstall having stopped it (loaded): postinstall boots it out first.
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), load_calls(true, &vol)]), "{log}");
    assert_eq!(mac.attr("Users", "_clawdbot", "UniqueID").as_deref(), Some("200"));
    assert_eq!(fs::read_to_string(&config).unwrap(), first);
}

#[test]
fn reinstall_with_the_account_present_keeps_its_ids() {
    need_root();
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_user("_clawdbot", 277, 266);
    mac.add_group("_clawdbot", 266);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), load_calls(false, &vol)]), "nothing is created twice\n{log}");
    assert_eq!(mode_owner(&vol.join("var/db/clawdbot")), (0o700, 277, 266));
    assert!(log.contains("account _clawdbot exists (277), kept"), "{log}");
}

#[test]
fn taken_ids_are_skipped() {
    need_root();
    let mac = Mac::new();
    let vol = mac.vol();
    mac.add_user("_other", 200, 20);
    mac.add_user("_another", 201, 20);
    mac.add_group("_taken", 202);
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert_eq!(calls, concat(&[listing_calls(), creation_calls(203), load_calls(false, &vol)]), "{log}");

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
    need_root();
    let mac = Mac::new();
    let vol = mac.vol();
    fs::write(mac.fake().join("dscl-failures"), "2").unwrap();
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    let list = "dscl . -list /Users UniqueID".to_owned();
    let sleep = "sleep 0.5".to_owned();
    let mut want = vec![list.clone(), sleep.clone(), list.clone(), sleep, list, "dscl . -list /Groups PrimaryGroupID".to_owned()];
    want.extend(creation_calls(200));
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
    need_root();
    let mac = Mac::new();
    let vol = mac.vol();
    let elsewhere = mac.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    symlink(&elsewhere, vol.join("var/db/clawdbot")).unwrap();
    let (ok, calls, log) = mac.run("postinstall", &[]);
    assert!(!ok);
    assert!(log.contains("is a symbolic link; refusing to use it"), "{log}");
    assert!(!calls.iter().any(|c| c.starts_with("launchctl")), "{calls:?}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

    // A link planted where the configuration goes is not written through.
    let mac = Mac::new();
    let vol = mac.vol();
    let state = vol.join("var/db/clawdbot");
    fs::create_dir_all(&state).unwrap();
    let target = mac.dir.path().join("victim");
    symlink(&target, state.join("clawdbot.json")).unwrap();
    let (ok, _, log) = mac.run("postinstall", &[]);
    assert!(ok, "{log}");
    assert!(!target.exists(), "postinstall wrote through a link");
    assert!(log.contains("keeping the configuration"), "{log}");
}

#[test]
fn uninstall_keeps_state_unless_purged() {
    need_root();
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
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_some());
    assert!(log.contains("run with --purge"), "{log}");

    // --purge, with macOS refusing to delete the account: said, not hidden.
    fs::write(mac.fake().join("refuse-delete"), "").unwrap();
    let (ok, calls, log) = mac.run("uninstall", &["--purge"]);
    assert!(!ok, "{log}");
    assert!(log.contains("macOS refused to delete the account _clawdbot"), "{log}");
    assert!(!vol.join("var/db/clawdbot").exists());
    assert!(calls.contains(&"dscl . -delete /Users/_clawdbot".to_owned()), "{calls:?}");
    assert!(calls.contains(&"dseditgroup -o delete _clawdbot".to_owned()), "{calls:?}");
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_some());

    // Run again once macOS allows it: the account goes.
    fs::remove_file(mac.fake().join("refuse-delete")).unwrap();
    let (ok, calls, log) = mac.run("uninstall", &["--purge"]);
    assert!(ok, "{log}");
    assert!(calls.contains(&"dscl . -delete /Users/_clawdbot".to_owned()), "{calls:?}");
    assert!(log.contains("deleted the account _clawdbot"), "{log}");
    assert!(mac.attr("Users", "_clawdbot", "UniqueID").is_none());
    assert!(mac.attr("Groups", "_clawdbot", "PrimaryGroupID").is_none());
}

#[test]
fn shipped_scripts_are_shellcheck_clean() {
    let m = manifest();
    let templates = Templates::load(&root()).unwrap();
    let vars = macos::vars(&m).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in ["launchd/preinstall", "launchd/postinstall", "launchd/uninstall.sh", "launchd/clawdbot.sh"] {
        let text = templates.render(name, &vars).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{name}");
        let path = dir.path().join(name.replace('/', "__"));
        fs::write(&path, text).unwrap();
        files.push(path.to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = ["--severity=style", "--shell=sh"].into_iter().chain(files.iter().map(String::as_str)).collect();
    ok("shellcheck", "shellcheck", &args);
}
