//! The system tools the commands run: where they are, and their installation
//! (as root, with apt-get) when one is missing. Every command finds its tools
//! here; none of them reaches into another command's module for it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// The file `command` runs from PATH, if it is there (an absolute path is taken as it is).
pub fn which(command: &str) -> Option<PathBuf> {
    if command.contains('/') {
        return Path::new(command).is_file().then(|| PathBuf::from(command));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(command)).find(|p| p.is_file())
}

/// Makes sure every tool (command, Debian package that provides it) is on PATH:
/// as root, apt-get installs the packages of missing ones; otherwise a missing
/// tool is an error that names it and the `apt-get install` line.
pub fn need_tools(sh: &Shell, tools: &[(&str, &str)]) -> Result<()> {
    let (commands, packages) = missing(tools);
    if commands.is_empty() {
        return Ok(());
    }
    let uid = cmd!(sh, "id -u").quiet().read()?;
    if uid.trim() != "0" {
        bail!("missing {}; install as root: apt-get install {}", commands.join(", "), packages.join(" "));
    }
    eprintln!("==> installing {} with apt-get (for {})", packages.join(" "), commands.join(", "));
    let _frontend = sh.push_env("DEBIAN_FRONTEND", "noninteractive");
    cmd!(sh, "apt-get update -qq").run().context("apt-get update failed")?;
    let list = &packages;
    cmd!(sh, "apt-get install -y -qq --no-install-recommends {list...}").run().with_context(|| format!("apt-get install {} failed", packages.join(" ")))?;
    for (c, p) in tools {
        if which(c).is_none() {
            bail!("{c} is still missing after installing {p}");
        }
    }
    Ok(())
}

/// The commands of `tools` that are not on PATH, and the Debian packages that
/// provide them (each once).
fn missing<'a>(tools: &[(&'a str, &'a str)]) -> (Vec<&'a str>, Vec<&'a str>) {
    let (mut commands, mut packages) = (Vec::new(), Vec::new());
    for (c, p) in tools.iter().filter(|(c, _)| which(c).is_none()) {
        commands.push(*c);
        // An entry may name several packages ("dnf dnf-plugins-core").
        for p in p.split_whitespace() {
            if !packages.contains(&p) {
                packages.push(p);
            }
        }
    }
    (commands, packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_commands_on_path_and_absolute_paths() {
        assert!(which("sh").is_some());
        assert_eq!(which("/bin/sh").as_deref(), Some(Path::new("/bin/sh")));
        assert_eq!(which("no-such-tool-anywhere"), None);
        assert_eq!(which("/no/such/tool"), None);
    }

    #[test]
    fn missing_tools_and_their_packages_each_once() {
        let tools = [("sh", "dash"), ("no-such-tool-anywhere", "no-such-package"), ("no-such-tool-either", "no-such-package other-package")];
        assert_eq!(missing(&tools), (vec!["no-such-tool-anywhere", "no-such-tool-either"], vec!["no-such-package", "other-package"]));
        assert_eq!(missing(&[("sh", "dash")]), (vec![], vec![]));
    }
}
