//! Checks of a repository built by `cargo xtask repo`, by tools we did not
//! write: `apt-ftparchive` recomputes the `Packages` fields and the `Release`
//! digests, `gpgv` and `sqv` (apt's verifier on Debian 13) verify the
//! signatures, `gpg --list-packets` shows the algorithms, `rpmkeys -K` the rpm
//! signatures, `createrepo_c` indexes the same packages, and Debian's `dnf`
//! reads the yum repository with `repo_gpgcheck=1`, resolves the package for
//! both architectures and downloads it. Each verifier is also shown a tampered
//! copy, which it must refuse. Called by `cargo xtask test`; the install from
//! the APT repository under a booted systemd is the e2e `repo` scenarios.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use crate::files::tempdir;

/// (command, Debian packages that provide it).
pub const TOOLS: &[(&str, &str)] = &[
    ("apt-ftparchive", "apt-utils"),
    ("gpgv", "gpgv"),
    ("gpg", "gnupg"),
    ("sqv", "sqv"),
    ("rpmkeys", "rpm"),
    ("createrepo_c", "createrepo-c"),
    ("dnf", "dnf dnf-plugins-core"),
];

/// A deb822 paragraph: field → value (continuation lines joined with '\n').
type Paragraph = BTreeMap<String, String>;

fn paragraphs(text: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut cur = Paragraph::new();
    let mut last = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(v) = cur.get_mut(&last) {
                v.push('\n');
                v.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            last = k.to_owned();
            cur.insert(k.to_owned(), v.trim().to_owned());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Our `Packages` of each architecture against `apt-ftparchive packages` over
/// the same pool: the same packages, and every field it writes equal, but the
/// MD5 and SHA-1 digests, which we leave out on purpose.
pub fn apt_fields(sh: &Shell, repo: &Path) -> Result<()> {
    let deb = repo.join("deb");
    let _cwd = sh.push_dir(&deb);
    let theirs = paragraphs(&cmd!(sh, "apt-ftparchive packages pool").quiet().read()?);
    ensure!(!theirs.is_empty(), "apt-ftparchive found no package in {}", deb.display());
    let mut compared = 0;
    for arch in pkg::repo::apt::ARCHITECTURES {
        let ours_path = deb.join(format!("dists/stable/main/binary-{arch}/Packages"));
        let ours = paragraphs(&std::fs::read_to_string(&ours_path).with_context(|| format!("reading {}", ours_path.display()))?);
        let key = |p: &Paragraph| (p.get("Package").cloned(), p.get("Version").cloned());
        let mut theirs_arch: Vec<&Paragraph> = theirs.iter().filter(|p| p.get("Architecture").map(String::as_str) == Some(arch)).collect();
        let mut ours_sorted: Vec<&Paragraph> = ours.iter().collect();
        theirs_arch.sort_by_key(|p| key(p));
        ours_sorted.sort_by_key(|p| key(p));
        ensure!(theirs_arch.len() == ours_sorted.len(), "{arch}: {} packages in our index, {} in the pool", ours_sorted.len(), theirs_arch.len());
        for (o, t) in ours_sorted.iter().zip(&theirs_arch) {
            for weak in ["MD5sum", "SHA1"] {
                ensure!(!o.contains_key(weak), "our index has {weak}");
            }
            for (field, value) in t.iter().filter(|(f, _)| !["MD5sum", "SHA1"].contains(&f.as_str())) {
                ensure!(o.get(field) == Some(value), "{arch} {:?}: field {field}: ours {:?}, apt-ftparchive {value:?}", key(o), o.get(field));
            }
            compared += 1;
        }
    }
    ensure!(compared > 0, "no package compared");

    // Every digest our Release lists, as apt-ftparchive computes it.
    let dists = deb.join("dists/stable");
    let listed = cmd!(sh, "apt-ftparchive release {dists}").quiet().read()?;
    let theirs: BTreeSet<String> = sha256_lines(&listed);
    let ours = sha256_lines(&std::fs::read_to_string(dists.join("Release"))?);
    ensure!(ours.len() >= 6, "our Release lists {} files", ours.len());
    for line in &ours {
        ensure!(theirs.contains(line), "our Release says {line:?}, apt-ftparchive does not");
    }
    eprintln!("    {compared} packages' fields and {} Release digests agree with apt-ftparchive", ours.len());
    Ok(())
}

/// "hash size path" of a Release file's SHA256 section, spacing normalised.
fn sha256_lines(release: &str) -> BTreeSet<String> {
    let mut on = false;
    let mut out = BTreeSet::new();
    for l in release.lines() {
        if !l.starts_with(' ') {
            on = l == "SHA256:";
        } else if on {
            out.insert(l.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    out
}

/// gpgv and sqv accept the signatures with the published keyring and refuse a
/// modified Release; gpg shows v4 RSA keys and SHA-256/512 digests only.
pub fn signatures(sh: &Shell, repo: &Path) -> Result<()> {
    let keyring = repo.join("clawdbot-archive-keyring.pgp");
    let dists = repo.join("deb/dists/stable");
    let (release, detached, inrelease) = (dists.join("Release"), dists.join("Release.gpg"), dists.join("InRelease"));
    let repomd = repo.join("rpm/repodata/repomd.xml");
    let repomd_asc = repo.join("rpm/repodata/repomd.xml.asc");
    cmd!(sh, "gpgv --keyring {keyring} {inrelease}").quiet().run().context("gpgv refused InRelease")?;
    cmd!(sh, "gpgv --keyring {keyring} {detached} {release}").quiet().run().context("gpgv refused Release.gpg")?;
    cmd!(sh, "gpgv --keyring {keyring} {repomd_asc} {repomd}").quiet().run().context("gpgv refused repomd.xml.asc")?;
    let sqv = cmd!(sh, "sqv --keyring {keyring} {detached} {release}").quiet().read().context("sqv refused Release.gpg")?;
    ensure!(!sqv.trim().is_empty(), "sqv printed no signer");
    cmd!(sh, "sqv --keyring {keyring} {repomd_asc} {repomd}").quiet().read().context("sqv refused repomd.xml.asc")?;

    // Controls: the same signatures over modified data.
    let dir = tempdir("repo-signatures")?;
    let forged = dir.join("Release");
    std::fs::write(&forged, std::fs::read_to_string(&release)?.replacen("Suite: stable", "Suite: unstable", 1))?;
    ensure!(cmd!(sh, "gpgv --keyring {keyring} {detached} {forged}").quiet().ignore_stderr().run().is_err(), "gpgv accepted a modified Release");
    ensure!(cmd!(sh, "sqv --keyring {keyring} {detached} {forged}").quiet().ignore_stderr().run().is_err(), "sqv accepted a modified Release");
    let forged_in = dir.join("InRelease");
    std::fs::write(&forged_in, std::fs::read_to_string(&inrelease)?.replacen("Suite: stable", "Suite: unstable", 1))?;
    ensure!(cmd!(sh, "gpgv --keyring {keyring} {forged_in}").quiet().ignore_stderr().run().is_err(), "gpgv accepted a modified InRelease");

    // Algorithms, as gpg reads the packets.
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home)?;
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let mut digests = BTreeSet::new();
    for f in [&keyring, &detached, &inrelease, &repomd_asc] {
        let packets = cmd!(sh, "gpg --homedir {home} --batch --list-packets {f}").quiet().ignore_status().ignore_stderr().read()?;
        for line in packets.lines() {
            let line = line.trim();
            if line.starts_with("version ") && line.contains("algo ") {
                ensure!(line.starts_with("version 4,"), "{}: not a v4 packet: {line}", f.display());
            }
            if let Some(i) = line.find("digest algo ") {
                let n: String = line[i + 12..].chars().take_while(char::is_ascii_digit).collect();
                digests.insert(n);
            }
        }
    }
    ensure!(!digests.is_empty(), "gpg --list-packets showed no signature");
    ensure!(digests.iter().all(|d| d == "8" || d == "10"), "digest algorithms {digests:?}: only 8 (SHA-256) and 10 (SHA-512) are allowed");
    eprintln!("    gpgv and sqv verify, refuse a modified Release; digest algorithms {digests:?} (SHA-256/512), no SHA-1");
    Ok(())
}

/// Every published .rpm passes `rpmkeys -K` with the repository's key and fails
/// without it.
pub fn rpm_signatures(sh: &Shell, repo: &Path) -> Result<()> {
    let rpms = files_with(&repo.join("rpm/packages"), "rpm")?;
    ensure!(!rpms.is_empty(), "no .rpm in {}", repo.display());
    let dir = tempdir("repo-rpmdb")?;
    let (with, without) = (dir.join("with"), dir.join("without"));
    std::fs::create_dir_all(&with)?;
    std::fs::create_dir_all(&without)?;
    let key = repo.join("clawdbot.asc");
    cmd!(sh, "rpmkeys --dbpath {with} --import {key}").quiet().run()?;
    for rpm in &rpms {
        let out = cmd!(sh, "rpmkeys --dbpath {with} -Kv {rpm}").quiet().read().with_context(|| format!("rpmkeys -K refused {}", rpm.display()))?;
        ensure!(out.contains("Header V4 RSA/SHA256 Signature") && out.contains("Signature, key ID") && !out.contains("NOT OK"), "{}: {out}", rpm.display());
        ensure!(
            cmd!(sh, "rpmkeys --dbpath {without} -K {rpm}").quiet().ignore_stdout().ignore_stderr().run().is_err(),
            "{}: rpmkeys accepted it without the key",
            rpm.display()
        );
    }
    eprintln!("    {} .rpm signed (V4 RSA/SHA256 header signature), refused without the key", rpms.len());
    Ok(())
}

/// createrepo_c over the same packages lists the same packages, checksums,
/// locations and dependencies as our primary.xml.
pub fn createrepo(sh: &Shell, repo: &Path) -> Result<()> {
    let dir = tempdir("repo-createrepo")?;
    let status = std::process::Command::new("cp").arg("-al").arg(repo.join("rpm/packages")).arg(dir.join("packages")).status()?;
    ensure!(status.success(), "linking the packages failed");
    cmd!(sh, "createrepo_c --quiet --general-compress-type=gz {dir}").run()?;
    let facts = |root: &Path| -> Result<BTreeSet<String>> {
        let primary =
            files_with(&root.join("repodata"), "gz")?.into_iter().find(|p| p.to_string_lossy().ends_with("primary.xml.gz")).context("no primary.xml.gz")?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(&primary)?), &mut text)?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("<checksum ")
                    || l.starts_with("<location ")
                    || l.starts_with("<version ")
                    || l.starts_with("<rpm:entry ")
                    || l.starts_with("<name>")
                    || l.starts_with("<arch>")
            })
            .map(str::to_owned)
            .collect())
    };
    let (ours, theirs) = (facts(&repo.join("rpm"))?, facts(&dir)?);
    ensure!(theirs.len() > 4, "createrepo_c's primary.xml is nearly empty");
    let missing: Vec<&String> = theirs.difference(&ours).collect();
    let extra: Vec<&String> = ours.difference(&theirs).collect();
    ensure!(missing.is_empty() && extra.is_empty(), "primary.xml differs from createrepo_c's: missing {missing:?}, extra {extra:?}");
    eprintln!("    primary.xml: the same {} facts as createrepo_c's", ours.len());
    Ok(())
}

/// Debian's dnf, with the published `.repo` file pointed at the tree: verifies
/// repomd.xml.asc, resolves the package for both architectures, downloads the
/// x86_64 one (whose signature rpmkeys accepts); a modified repomd.xml fails.
pub fn dnf(sh: &Shell, repo: &Path) -> Result<()> {
    let dir = tempdir("repo-dnf")?;
    let url = format!("file://{}", repo.display());
    let repo_file = std::fs::read_to_string(repo.join("clawdbot.repo"))?;
    ensure!(repo_file.contains("gpgcheck=1") && repo_file.contains("repo_gpgcheck=1"), "clawdbot.repo does not check signatures:\n{repo_file}");
    let base = repo_file.lines().find_map(|l| l.strip_prefix("baseurl=")).context("clawdbot.repo has no baseurl")?;
    let published = base.trim_end_matches("/rpm").to_owned();
    let run_dnf = |repo_root: &str, name: &str, args: &[&str]| -> Result<String> {
        let d = dir.join(name);
        let (reposdir, installroot, cache) = (d.join("repos.d"), d.join("root"), d.join("cache"));
        std::fs::create_dir_all(&reposdir)?;
        std::fs::create_dir_all(&installroot)?;
        std::fs::write(reposdir.join("clawdbot.repo"), repo_file.replace(&published, repo_root))?;
        let out = cmd!(
            sh,
            "dnf -y -q --installroot={installroot} --releasever=12 --setopt=reposdir={reposdir} --setopt=cachedir={cache} --setopt=skip_if_unavailable=False --disablerepo=* --enablerepo=clawdbot {args...}"
        )
        .quiet()
        .ignore_status()
        .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.success(), "dnf {}: {}", args.join(" "), stderr.trim());
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let qf = "%{name}-%{evr}.%{arch}";
    let found = run_dnf(&url, "good", &["repoquery", "--arch", "x86_64,aarch64", "--qf", qf, "clawdbot"]).context("dnf could not read the repository")?;
    for arch in ["x86_64", "aarch64"] {
        ensure!(found.lines().any(|l| l.starts_with("clawdbot-") && l.ends_with(arch)), "dnf did not resolve clawdbot for {arch}:\n{found}");
    }
    let dest = dir.join("downloaded");
    let dest_s = dest.to_string_lossy().into_owned();
    run_dnf(&url, "good", &["download", "--arch", "x86_64", "--destdir", &dest_s, "clawdbot"]).context("dnf download failed")?;
    let got = files_with(&dest, "rpm")?;
    ensure!(got.len() == 1, "dnf downloaded {got:?}");
    let rpmdb = dir.join("rpmdb");
    std::fs::create_dir_all(&rpmdb)?;
    let key = repo.join("clawdbot.asc");
    cmd!(sh, "rpmkeys --dbpath {rpmdb} --import {key}").quiet().run()?;
    let file = &got[0];
    cmd!(sh, "rpmkeys --dbpath {rpmdb} -K {file}").quiet().run().context("the downloaded package's signature")?;

    // Control: repomd.xml changed after signing.
    let forged = dir.join("forged");
    let status = std::process::Command::new("cp").arg("-al").arg(repo).arg(&forged).status()?;
    ensure!(status.success(), "copying the repository failed");
    let repomd = forged.join("rpm/repodata/repomd.xml");
    let text = std::fs::read_to_string(&repomd)?;
    std::fs::remove_file(&repomd)?;
    std::fs::write(&repomd, text.replacen("<revision>", "<revision>1", 1))?;
    let forged_url = format!("file://{}", forged.display());
    match run_dnf(&forged_url, "forged", &["makecache"]) {
        Ok(_) => bail!("dnf accepted a repomd.xml that does not match repomd.xml.asc"),
        Err(e) => ensure!(e.to_string().contains("GPG signature verification error"), "dnf failed for another reason than the signature: {e}"),
    }
    eprintln!(
        "    dnf verified repomd.xml.asc, resolved {} package(s) for x86_64 and aarch64, downloaded one that rpmkeys accepts; refused a modified repomd.xml",
        found.lines().count()
    );
    Ok(())
}

/// Two builds from the same packages and keys are byte-identical.
pub fn reproducible(from: &Path) -> Result<()> {
    let root = crate::root();
    let mut trees = Vec::new();
    for n in ["a", "b"] {
        let out = tempdir(&format!("repo-again-{n}"))?;
        let _ = std::fs::remove_dir_all(&out);
        let rel = |p: &Path| p.strip_prefix(&root).map(Path::to_owned).unwrap_or_else(|_| p.to_owned());
        crate::repo::run(&crate::repo::Args { from: rel(from), out: rel(&out), ..Default::default() })?;
        trees.push(out);
    }
    let (a, b) = (listing(&trees[0])?, listing(&trees[1])?);
    ensure!(a.len() > 10, "only {} files", a.len());
    for ((pa, ha), (pb, hb)) in a.iter().zip(&b) {
        ensure!(pa == pb && ha == hb, "{} and {} differ ({pa} / {pb})", trees[0].display(), trees[1].display());
    }
    ensure!(a.len() == b.len(), "different numbers of files");
    eprintln!("    {} files, identical", a.len());
    Ok(())
}

fn listing(dir: &Path) -> Result<Vec<(String, String)>> {
    use sha2::Digest as _;
    crate::files::walk(dir, &[])?
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p)?;
            Ok((p.strip_prefix(dir)?.to_string_lossy().into_owned(), format!("{:x}", sha2::Sha256::digest(&bytes))))
        })
        .collect()
}

fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    Ok(out)
}
