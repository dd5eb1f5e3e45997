//! Targets (operating system + CPU) and output formats, and which go together.
//!
//! Names here are the ones users type (`--target linux-x64`, `--format deb`); each
//! target knows how npm, Debian, RPM and macOS spell its architecture.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    LinuxX64,
    LinuxArm64,
    DarwinArm64,
    DarwinX64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Deb,
    Rpm,
    Pkg,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    pub known: Vec<&'static str>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} '{}' (known: {})", self.kind, self.name, self.known.join(", "))
    }
}

impl std::error::Error for UnknownName {}

impl Target {
    pub const ALL: [Target; 4] = [Target::LinuxX64, Target::LinuxArm64, Target::DarwinArm64, Target::DarwinX64];

    pub fn name(self) -> &'static str {
        match self {
            Target::LinuxX64 => "linux-x64",
            Target::LinuxArm64 => "linux-arm64",
            Target::DarwinArm64 => "darwin-arm64",
            Target::DarwinX64 => "darwin-x64",
        }
    }

    /// `npm --os`.
    pub fn npm_os(self) -> &'static str {
        match self {
            Target::LinuxX64 | Target::LinuxArm64 => "linux",
            Target::DarwinArm64 | Target::DarwinX64 => "darwin",
        }
    }

    /// `npm --cpu`.
    pub fn npm_cpu(self) -> &'static str {
        match self {
            Target::LinuxX64 | Target::DarwinX64 => "x64",
            Target::LinuxArm64 | Target::DarwinArm64 => "arm64",
        }
    }

    /// Whether `path`, in this target's staged tree, is the architecture's own
    /// rather than byte for byte the same in the other architecture's tree:
    /// anything under the bundled Node.js runtime `runtime`, npm's platform
    /// packages (a path component that names the target, as in
    /// `@img/sharp-linux-x64`), and npm's hidden lockfile, which lists them. An
    /// archive that puts these last begins with what both architectures hold
    /// alike, which a build compresses once ([`crate::blocks`]). A wrong answer
    /// costs sharing, never correctness: what is shared is found by its bytes.
    pub fn owns(self, path: &str, runtime: &str) -> bool {
        path.strip_prefix(runtime).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            || path.split('/').any(|c| c.contains(self.name()))
            || path.ends_with("/node_modules/.package-lock.json")
    }

    pub fn is_linux(self) -> bool {
        self.npm_os() == "linux"
    }

    /// Debian architecture (`dpkg --print-architecture`).
    pub fn deb_arch(self) -> &'static str {
        if self.npm_cpu() == "x64" {
            "amd64"
        } else {
            "arm64"
        }
    }

    /// RPM architecture (`uname -m`).
    pub fn rpm_arch(self) -> &'static str {
        if self.npm_cpu() == "x64" {
            "x86_64"
        } else {
            "aarch64"
        }
    }

    /// What `file(1)` calls this target's ELF machine, for checking binaries.
    pub fn elf_machine(self) -> &'static str {
        if self.npm_cpu() == "x64" {
            "x86-64"
        } else {
            "ARM aarch64"
        }
    }
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Deb, Format::Rpm, Format::Pkg];

    pub fn name(self) -> &'static str {
        match self {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
            Format::Pkg => "pkg",
        }
    }

    /// Whether this format is built for that target.
    pub fn supports(self, target: Target) -> bool {
        self.writer().supports(target)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| UnknownName {
            kind: "target",
            name: s.to_owned(),
            known: Target::ALL.map(Target::name).to_vec(),
        })
    }
}

impl FromStr for Format {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| UnknownName {
            kind: "format",
            name: s.to_owned(),
            known: Format::ALL.map(Format::name).to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for t in Target::ALL {
            assert_eq!(t.name().parse::<Target>().unwrap(), t);
        }
        let e = "linux-s390x".parse::<Target>().unwrap_err().to_string();
        assert_eq!(e, "unknown target 'linux-s390x' (known: linux-x64, linux-arm64, darwin-arm64, darwin-x64)");
        assert!("msi".parse::<Format>().unwrap_err().to_string().contains("known: deb, rpm, pkg"));
    }

    #[test]
    fn what_an_architecture_owns() {
        let rt = "/usr/lib/clawdbot/node";
        let nm = "/usr/lib/clawdbot/app/node_modules";
        let x64 = Target::LinuxX64;
        for own in [
            rt,
            "/usr/lib/clawdbot/node/bin/node",
            &format!("{nm}/@img/sharp-linux-x64"),
            &format!("{nm}/@napi-rs/canvas-linux-x64-gnu/skia.node"),
            &format!("{nm}/.package-lock.json"),
        ] {
            assert!(x64.owns(own, rt), "{own}");
        }
        for shared in [
            "/usr/lib/clawdbot/nodes",
            "/usr/lib/clawdbot",
            &format!("{nm}/@img/sharp-linux-arm64"),
            &format!("{nm}/sharp/package.json"),
            &format!("{nm}/linux/x64.js"),
        ] {
            assert!(!x64.owns(shared, rt), "{shared}");
        }
        assert!(Target::DarwinArm64.owns(&format!("{nm}/@img/sharp-darwin-arm64/lib/x.dylib"), rt));
    }

    #[test]
    fn arches() {
        assert_eq!(Target::LinuxX64.deb_arch(), "amd64");
        assert_eq!(Target::LinuxArm64.rpm_arch(), "aarch64");
        assert!(Format::Deb.supports(Target::LinuxArm64));
        assert!(!Format::Deb.supports(Target::DarwinArm64));
        assert!(Format::Pkg.supports(Target::DarwinX64));
    }
}
