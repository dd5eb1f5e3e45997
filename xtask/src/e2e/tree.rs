//! The container tree: a minbase Debian with systemd and the package's Depends.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use super::*;

/// What every scenario uses inside the container, besides the package's Depends.
/// (`rpm` is Debian's rpm, for the rpm scenario; `python3` serves the repository
/// in the repo scenarios.)
pub(super) const BASE_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "procps",
    "curl",
    "ca-certificates",
    "sudo",
    "util-linux",
    "acl",
    "passwd",
    "coreutils",
    "rpm",
    "iproute2",
    "python3",
    // A person's systemd user manager (lingering), for the migrate scenario.
    "libpam-systemd",
];

/// A minbase Debian tree with systemd, cached under `target/e2e/<suite>/root`.
/// `stamp` records what it was built with; another stamp builds it anew.
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    pub fn ensure(sh: &Shell, release: &Release, deb: &Path) -> Result<Tree> {
        let base = crate::root().join("target/e2e").join(release.suite);
        let root = base.join("root");
        let includes = tree_packages(sh, deb)?;
        let stamp = format!("mmdebstrap --variant=minbase {} {}\ninclude: {}\n", release.suite, release.mirror, includes.join(","));
        if root.join("usr/lib/systemd/systemd").exists() && fs::read_to_string(base.join("stamp")).ok().as_deref() == Some(stamp.as_str()) {
            eprintln!("    cached: {}", root.display());
            return Ok(Tree { root });
        }
        // Built beside, then renamed, so that a run that is stopped half-way
        // never leaves a tree that looks complete.
        let tmp = crate::root().join("target/e2e").join(format!("{}.new-{}", release.suite, std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        let new_root = tmp.join("root");
        let include = format!("--include={}", includes.join(","));
        // The containers boot with a private network: name the host so that sudo
        // and the gateway can resolve it without DNS.
        let hook =
            "--customize-hook=echo e2e > \"$1/etc/hostname\"; printf '127.0.0.1 localhost\\n127.0.1.1 e2e\\n::1 localhost ip6-localhost\\n' > \"$1/etc/hosts\"";
        let (suite, mirror) = (release.suite, release.mirror);
        cmd!(sh, "timeout 900 mmdebstrap --quiet --variant=minbase {include} {hook} {suite} {new_root} {mirror}")
            .run()
            .with_context(|| format!("mmdebstrap could not build the {suite} tree from {mirror}"))?;
        fs::write(tmp.join("stamp"), &stamp)?;
        let _ = fs::remove_dir_all(&base);
        fs::rename(&tmp, &base).with_context(|| format!("moving {} to {}", tmp.display(), base.display()))?;
        Ok(Tree { root })
    }
}

/// BASE_PACKAGES and the first alternative of each of the package's Depends.
pub(super) fn tree_packages(sh: &Shell, deb: &Path) -> Result<Vec<String>> {
    let depends = deb_field(sh, deb, "Depends")?;
    let mut names: Vec<String> = BASE_PACKAGES.iter().map(|s| s.to_string()).collect();
    for dep in depends.split(',') {
        let first = dep.split('|').next().unwrap_or("").trim();
        let name = first.split([' ', '(', ':']).next().unwrap_or("").trim();
        if !name.is_empty() {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}
