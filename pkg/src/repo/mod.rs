//! Static, signed APT and yum/dnf repositories from built packages.
//!
//! [`build`] turns the `.deb`s and `.rpm`s of a directory into a tree that any
//! web server can serve:
//!
//! ```text
//! <out>/clawdbot-archive-keyring.pgp   binary public keys, for apt's Signed-By
//! <out>/clawdbot.asc                   the same keys armoured, for dnf's gpgkey=
//! <out>/clawdbot.sources               deb822 source for /etc/apt/sources.list.d
//! <out>/clawdbot.repo                  for /etc/yum.repos.d or /etc/zypp/repos.d
//! <out>/index.html                     the install commands
//! <out>/deb/...                        see [`apt`]
//! <out>/rpm/packages/*.rpm             signed by the first key
//! <out>/rpm/repodata/...               see [`yum`]; repomd.xml.asc signed last
//! ```
//!
//! The packages already in `<out>` stay (each is kept unless more than `keep`
//! newer versions of the same package and architecture exist), so a release adds
//! its version to the published ones. The new tree is built beside `<out>` and
//! replaces it only when complete: a failure leaves the previous repository as
//! it was. Every date and signature time is [`Options::time`], so the same
//! inputs, keys and time give the same bytes.

pub mod apt;
pub mod openpgp;
pub mod yum;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::write::hex;
use crate::{Error, Manifest};
pub use openpgp::{Key, Keys, PublicKeys};

/// Where apt finds the keyring the `.sources` file names, and where the `.deb`
/// installs it.
pub fn keyring_path(m: &Manifest) -> String {
    format!("/usr/share/keyrings/{}", keyring_name(m))
}

/// `<name>-archive-keyring.pgp`.
pub fn keyring_name(m: &Manifest) -> String {
    format!("{}-archive-keyring.pgp", m.package.name)
}

/// Where the `.rpm` installs the armoured keys (for `rpm --import`).
pub fn rpm_key_path(m: &Manifest) -> String {
    format!("/etc/pki/rpm-gpg/RPM-GPG-KEY-{}", m.package.name)
}

/// What to build.
pub struct Options {
    /// The built packages (`.deb`, `.rpm`; other files are ignored).
    pub from: PathBuf,
    /// The repository root; replaced when the new tree is complete.
    pub out: PathBuf,
    /// The URL `out` is served at, without a trailing slash.
    pub base_url: String,
    /// How many versions of each package and architecture stay published.
    pub keep: usize,
    /// Release date and signature time (seconds since the epoch).
    pub time: u64,
    /// Seconds after `time` at which apt should stop trusting the `Release` file
    /// (`Valid-Until`); none by default, since an expired file breaks every client.
    pub valid_for: Option<u64>,
}

/// What a build published.
#[derive(Debug, Default)]
pub struct Summary {
    /// Paths relative to the repository root of every package it holds.
    pub packages: Vec<String>,
    /// Packages that were in the repository and are no longer (`keep`).
    pub removed: Vec<String>,
    /// Packages added by this build.
    pub added: Vec<String>,
}

enum Published {
    Deb(apt::Deb),
    Rpm(yum::Rpm),
}

struct Entry {
    /// Path relative to the repository root.
    rel: String,
    /// Where its bytes are now.
    src: PathBuf,
    /// It came from `from` (and must be signed when an rpm).
    new: bool,
    what: Published,
}

impl Entry {
    fn group(&self) -> (u8, String, String) {
        match &self.what {
            Published::Deb(d) => (0, d.name.clone(), d.arch.clone()),
            Published::Rpm(r) => (1, r.name.clone(), r.arch.clone()),
        }
    }
}

/// Builds the repository; see the module documentation.
pub fn build(m: &Manifest, opts: &Options, keys: &Keys, rpm_signer: &crate::rpm::Signer, progress: &dyn Fn(&str)) -> Result<Summary, Error> {
    if opts.keep == 0 {
        return Err(Error::Value("--keep must be at least 1".to_owned()));
    }
    for k in keys.iter() {
        if k.origin().starts_with(&opts.out) {
            return Err(Error::key(Some(k.origin()), format!("a signing key must not be inside the repository {}", opts.out.display()), None));
        }
    }
    u32::try_from(opts.time).map_err(|_| Error::Value(format!("time {} does not fit an OpenPGP timestamp", opts.time)))?;
    let time = keys.sign_time(opts.time);

    // What is published already, then what comes from `from` (which replaces an
    // identical file and must not replace a different one).
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for e in existing(&opts.out)? {
        entries.insert(e.rel.clone(), e);
    }
    let mut added = Vec::new();
    for e in incoming(&opts.from)? {
        if let Some(old) = entries.get(&e.rel) {
            let same = match e.what {
                // The published copy is signed: compare header and payload.
                Published::Rpm(_) => crate::rpm::identity(&old.src)? == crate::rpm::identity(&e.src)?,
                Published::Deb(_) => same_bytes(&old.src, &e.src)?,
            };
            if !same {
                return Err(Error::Refused(format!("{} is already published with other contents; raise the packaging revision to publish a new build", e.rel)));
            }
        }
        added.push(e.rel.clone());
        entries.insert(e.rel.clone(), e);
    }
    if entries.is_empty() {
        return Err(Error::Refused(format!(
            "no .deb or .rpm in {} and none published in {}: run `cargo xtask dist` first",
            opts.from.display(),
            opts.out.display()
        )));
    }

    // The `keep` newest of each package and architecture.
    let mut groups: BTreeMap<(u8, String, String), Vec<Entry>> = BTreeMap::new();
    for (_, e) in entries {
        groups.entry(e.group()).or_default().push(e);
    }
    let mut summary = Summary { added, ..Summary::default() };
    let mut kept = Vec::new();
    for (_, mut list) in groups {
        list.sort_by(|a, b| match (&a.what, &b.what) {
            (Published::Deb(x), Published::Deb(y)) => apt::compare_versions(&y.version, &x.version),
            (Published::Rpm(x), Published::Rpm(y)) => y.evr.cmp(&x.evr),
            _ => unreachable!("groups hold one format"),
        });
        for (i, e) in list.into_iter().enumerate() {
            if i < opts.keep {
                kept.push(e);
            } else {
                summary.removed.push(e.rel);
            }
        }
    }
    kept.sort_by(|a, b| a.rel.cmp(&b.rel));
    summary.added.retain(|a| kept.iter().any(|k| &k.rel == a));

    // The new tree, beside the old one.
    let parent = opts.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = opts.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "repo".to_owned());
    let tmp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = write_tree(m, opts, keys, rpm_signer, time, &kept, &tmp, progress);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if opts.out.exists() {
        std::fs::rename(&opts.out, &old).map_err(|e| Error::io(&opts.out, e))?;
    }
    std::fs::rename(&tmp, &opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let _ = std::fs::remove_dir_all(&old);
    summary.packages = kept.into_iter().map(|e| e.rel).collect();
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn write_tree(
    m: &Manifest,
    opts: &Options,
    keys: &Keys,
    rpm_signer: &crate::rpm::Signer,
    time: u32,
    kept: &[Entry],
    tmp: &Path,
    progress: &dyn Fn(&str),
) -> Result<(), Error> {
    let mkdir = |d: &Path| std::fs::create_dir_all(d).map_err(|e| Error::io(d, e));
    let write = |p: &Path, bytes: &[u8]| -> Result<(), Error> {
        mkdir(p.parent().expect("inside the tree"))?;
        std::fs::write(p, bytes).map_err(|e| Error::io(p, e))
    };
    mkdir(tmp)?;

    // The packages: published ones linked, new .debs linked, new .rpms signed.
    for e in kept {
        let dest = tmp.join(&e.rel);
        mkdir(dest.parent().expect("inside the tree"))?;
        match (&e.what, e.new) {
            (Published::Rpm(_), true) => {
                progress(&format!("signing {}", e.rel));
                crate::rpm::sign_file(&e.src, &dest, rpm_signer, time)?;
            }
            _ => link_or_copy(&e.src, &dest)?,
        }
    }

    // APT.
    let deb_root = tmp.join("deb");
    let dists = deb_root.join("dists").join(apt::SUITE);
    let mut index = Vec::new();
    for arch in apt::ARCHITECTURES {
        let mut stanzas = Vec::new();
        for e in kept {
            if let Published::Deb(d) = &e.what {
                if d.arch == arch {
                    progress(&format!("indexing {}", e.rel));
                    let (size, sha256, sha512) = crate::write::file_digests(&tmp.join(&e.rel))?;
                    stanzas.push(d.stanza(size, &sha256, &sha512));
                }
            }
        }
        index.extend(apt::packages_files(arch, &stanzas)?);
    }
    let mut by_hash_keep: BTreeSet<String> = BTreeSet::new();
    let old_release = opts.out.join("deb/dists").join(apt::SUITE).join("Release");
    if let Ok(text) = std::fs::read_to_string(&old_release) {
        by_hash_keep.extend(apt::release_sha256s(&text));
    }
    for f in &index {
        let path = dists.join(&f.path);
        write(&path, &f.bytes)?;
        let dir = path.parent().expect("index in a directory").join("by-hash/SHA256");
        write(&dir.join(hex(&sha2::Sha256::digest(&f.bytes))), &f.bytes)?;
        // The previous generation's indices, for clients between two updates.
        let old_dir = opts.out.join("deb/dists").join(apt::SUITE).join(Path::new(&f.path).parent().expect("index in a directory")).join("by-hash/SHA256");
        if let Ok(list) = std::fs::read_dir(&old_dir) {
            for old in list.flatten() {
                let n = old.file_name().to_string_lossy().into_owned();
                if by_hash_keep.contains(&n) && !dir.join(&n).exists() {
                    link_or_copy(&old.path(), &dir.join(&n))?;
                }
            }
        }
    }
    let info = apt::ReleaseInfo {
        origin: &m.package.name,
        label: &m.package.name,
        description: &m.package.summary,
        date: opts.time,
        valid_until: opts.valid_for.map(|v| opts.time + v),
    };
    let release = apt::release(&info, &index);
    write(&dists.join("Release"), release.as_bytes())?;
    write(&dists.join("Release.gpg"), keys.detach_sign(release.as_bytes(), time)?.as_bytes())?;
    write(&dists.join("InRelease"), keys.clearsign(&release, time)?.as_bytes())?;

    // yum/dnf: repomd.xml last but for its signature.
    let rpm_root = tmp.join("rpm");
    mkdir(&rpm_root.join(yum::PACKAGES_DIR))?;
    let rpms: Vec<String> =
        kept.iter().filter(|e| matches!(e.what, Published::Rpm(_))).map(|e| e.rel.strip_prefix("rpm/").expect("rpm/ path").to_owned()).collect();
    progress(&format!("yum metadata of {} package(s)", rpms.len()));
    let repomd = yum::write_repodata(&rpm_root, &rpms, opts.time)?;
    write(&rpm_root.join("repodata/repomd.xml"), &repomd)?;
    write(&rpm_root.join("repodata/repomd.xml.asc"), keys.detach_sign(&repomd, time)?.as_bytes())?;

    // The keys and the client configuration.
    let public = keys.public();
    write(&tmp.join(keyring_name(m)), &public.keyring()?)?;
    write(&tmp.join(format!("{}.asc", m.package.name)), public.armored()?.as_bytes())?;
    write(&tmp.join(format!("{}.sources", m.package.name)), sources(m, &opts.base_url).as_bytes())?;
    write(&tmp.join(format!("{}.repo", m.package.name)), yum_repo(m, &opts.base_url).as_bytes())?;
    write(&tmp.join("index.html"), index_html(m, &opts.base_url, keys).as_bytes())?;
    Ok(())
}

/// The deb822 source file: `/etc/apt/sources.list.d/<name>.sources`.
pub fn sources(m: &Manifest, base_url: &str) -> String {
    format!(
        "Types: deb\nURIs: {base_url}/deb\nSuites: {}\nComponents: {}\nArchitectures: {}\nSigned-By: {}\n",
        apt::SUITE,
        apt::COMPONENT,
        apt::ARCHITECTURES.join(" "),
        keyring_path(m)
    )
}

/// The yum/dnf/zypper repository file: `/etc/yum.repos.d/<name>.repo`.
pub fn yum_repo(m: &Manifest, base_url: &str) -> String {
    let n = &m.package.name;
    format!("[{n}]\nname={n}\ntype=rpm-md\nbaseurl={base_url}/rpm\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey={base_url}/{n}.asc\n")
}

fn index_html(m: &Manifest, base_url: &str, keys: &Keys) -> String {
    let n = &m.package.name;
    let fingerprints: Vec<String> = keys.iter().map(|k| k.fingerprint()).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{n} packages</title></head><body>\n\
<h1>{n} packages</h1>\n<p>{summary}</p>\n\
<h2>Debian, Ubuntu</h2>\n<pre>sudo curl -fsSLo {keyring} {base_url}/{keyring_name}\n\
sudo curl -fsSLo /etc/apt/sources.list.d/{n}.sources {base_url}/{n}.sources\n\
sudo apt update\nsudo apt install {n}</pre>\n\
<h2>Fedora, RHEL, openSUSE</h2>\n<pre>sudo curl -fsSLo /etc/yum.repos.d/{n}.repo {base_url}/{n}.repo\n\
sudo dnf install {n}            # or: sudo zypper addrepo {base_url}/{n}.repo &amp;&amp; sudo zypper install {n}</pre>\n\
<p>Signing key{plural}: <code>{fprs}</code></p>\n</body></html>\n",
        summary = html_escape(&m.package.summary),
        keyring = keyring_path(m),
        keyring_name = keyring_name(m),
        plural = if fingerprints.len() > 1 { "s" } else { "" },
        fprs = fingerprints.join("</code>, <code>"),
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The packages of the repository at `out`, if there is one.
fn existing(out: &Path) -> Result<Vec<Entry>, Error> {
    let mut found = Vec::new();
    let pool = out.join("deb/pool");
    let mut debs = Vec::new();
    walk(&pool, &mut debs)?;
    for p in debs {
        if p.extension().is_some_and(|x| x == "deb") {
            let d = apt::Deb::read(&p)?;
            found.push(Entry { rel: format!("deb/{}", d.pool_path()), src: p, new: false, what: Published::Deb(d) });
        }
    }
    let dir = out.join("rpm").join(yum::PACKAGES_DIR);
    if let Ok(list) = std::fs::read_dir(&dir) {
        for e in list {
            let p = e.map_err(|e| Error::io(&dir, e))?.path();
            if p.extension().is_some_and(|x| x == "rpm") {
                let r = yum::Rpm::read(&p)?;
                found.push(Entry { rel: format!("rpm/{}/{}", yum::PACKAGES_DIR, r.file_name()), src: p, new: false, what: Published::Rpm(r) });
            }
        }
    }
    Ok(found)
}

/// The packages in `from`.
fn incoming(from: &Path) -> Result<Vec<Entry>, Error> {
    let list = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    let mut paths: Vec<PathBuf> = list.map(|e| e.map(|e| e.path()).map_err(|e| Error::io(from, e))).collect::<Result<_, _>>()?;
    paths.sort();
    let mut found = Vec::new();
    for p in paths {
        match p.extension().and_then(|x| x.to_str()) {
            Some("deb") => {
                let d = apt::Deb::read(&p)?;
                if !apt::ARCHITECTURES.contains(&d.arch.as_str()) {
                    return Err(Error::input(&p, format!("architecture {} is not one of the repository's ({})", d.arch, apt::ARCHITECTURES.join(", "))));
                }
                found.push(Entry { rel: format!("deb/{}", d.pool_path()), src: p, new: true, what: Published::Deb(d) });
            }
            Some("rpm") => {
                let r = yum::Rpm::read(&p)?;
                found.push(Entry { rel: format!("rpm/{}/{}", yum::PACKAGES_DIR, r.file_name()), src: p, new: true, what: Published::Rpm(r) });
            }
            _ => {}
        }
    }
    Ok(found)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let Ok(list) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in list {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let t = e.file_type().map_err(|err| Error::io(&e.path(), err))?;
        if t.is_dir() {
            walk(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool, Error> {
    Ok(crate::write::file_digests(a)? == crate::write::file_digests(b)?)
}

fn link_or_copy(src: &Path, dest: &Path) -> Result<(), Error> {
    if std::fs::hard_link(src, dest).is_ok() {
        return Ok(());
    }
    std::fs::copy(src, dest).map(|_| ()).map_err(|e| Error::io(dest, e))
}
