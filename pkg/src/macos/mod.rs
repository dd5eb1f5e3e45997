//! The macOS installer package: what it installs and how it is written.
//!
//! - the payload under the `[macos]` prefix, root-owned: the Node.js runtime, the
//!   gateway tree, the admin command and the uninstaller;
//! - the LaunchDaemon plist in `/Library/LaunchDaemons`, root:wheel 0644;
//! - the `preinstall` and `postinstall` scripts, which create the hidden account,
//!   the state directory and the first configuration at install time, and load
//!   the daemon.
//!
//! The plain files come from `launchd/`, with `@NAME@` placeholders filled from the
//! manifest. The formats: [`xar`], [`bom`], [`cpio`]; the package itself: [`write`].

pub mod bom;
pub mod cksum;
pub mod cpio;
mod flat;
pub mod xar;

pub use flat::{distribution, file_name, package_info, write, COMPONENT};

use crate::linux::Payload;
use crate::manifest::{Macos, Manifest};
use crate::stage::Stage;
use crate::target::Target;
use crate::template::Vars;
use crate::Error;

/// Files under the repository root that are rendered into the package.
pub const TEMPLATES: &[&str] = &["launchd/gateway.plist", "launchd/preinstall", "launchd/postinstall", "launchd/uninstall.sh", "launchd/clawdbot.sh"];

/// The range in which the postinstall script looks for a free user and group id,
/// where macOS installers keep their daemon accounts.
pub const FIRST_ID: u32 = 200;
pub const LAST_ID: u32 = 400;

/// Owner and group of every payload entry: root:wheel.
pub const UID: u32 = 0;
pub const GID: u32 = 0;

pub use crate::template::Templates;

/// What macOS calls the target's CPU (`hostArchitectures`, `uname -m`).
pub fn arch(target: Target) -> Result<&'static str, Error> {
    match target {
        Target::DarwinArm64 => Ok("arm64"),
        Target::DarwinX64 => Ok("x86_64"),
        t => Err(Error::Stage(format!("{t} is not a macOS target"))),
    }
}

/// Install paths derived from the manifest.
pub struct Paths {
    pub node: String,
    pub node_license: String,
    pub app: String,
    pub entry: String,
    /// The admin command under the prefix (linked from `[macos].bin`).
    pub cli: String,
    pub uninstall: String,
    pub plist: String,
}

impl Paths {
    pub fn new(m: &Manifest, mac: &Macos) -> Paths {
        let prefix = &mac.prefix;
        let name = &m.package.name;
        Paths {
            node: format!("{prefix}/node/bin/node"),
            node_license: format!("{prefix}/node/LICENSE"),
            app: format!("{prefix}/app"),
            entry: format!("{prefix}/app/{}", m.payload.entry),
            cli: format!("{prefix}/bin/{name}"),
            uninstall: format!("{prefix}/bin/{name}-uninstall"),
            plist: format!("/Library/LaunchDaemons/{}.plist", m.service.launchd_label),
        }
    }
}

/// The values of the `@NAME@` placeholders.
pub fn vars(m: &Manifest) -> Result<Vars, Error> {
    let mac = m.macos()?;
    let p = Paths::new(m, mac);
    let mut vars = crate::template::common_vars(m);
    vars.extend([
        ("LABEL", m.service.launchd_label.clone()),
        ("SHELL", mac.shell.clone()),
        ("PREFIX", mac.prefix.clone()),
        ("BIN", mac.bin.clone()),
        ("USER", mac.user.clone()),
        ("GROUP", mac.group.clone()),
        ("STATE_DIR", mac.state_dir.clone()),
        ("IDENTIFIER", mac.identifier.clone()),
        ("NODE", p.node.clone()),
        ("ENTRY", p.entry.clone()),
        ("CLI", p.cli.clone()),
        ("UNINSTALL", p.uninstall.clone()),
        ("FIRST_ID", FIRST_ID.to_string()),
        ("LAST_ID", LAST_ID.to_string()),
    ]);
    Ok(vars)
}

/// The install scripts, rendered.
pub struct Scripts {
    pub preinstall: String,
    pub postinstall: String,
}

pub fn scripts(m: &Manifest, templates: &Templates) -> Result<Scripts, Error> {
    let vars = vars(m)?;
    Ok(Scripts { preinstall: templates.render("launchd/preinstall", &vars)?, postinstall: templates.render("launchd/postinstall", &vars)? })
}

/// Stages everything the package's payload installs.
pub fn stage(m: &Manifest, payload: &Payload, templates: &Templates) -> Result<Stage, Error> {
    let mac = m.macos()?;
    let vars = vars(m)?;
    let p = Paths::new(m, mac);
    let render = |name: &str| templates.render(name, &vars);
    let mut s = Stage::new();

    s.add_disk_file(&p.node, &payload.node.join("bin/node"), 0o755)?;
    s.add_disk_file(&p.node_license, &payload.node.join("LICENSE"), 0o644)?;
    s.add_tree(&p.app, &payload.app)?;
    match s.get(&p.entry) {
        Some(e) if matches!(e.kind, crate::stage::Kind::File(_)) => {}
        _ => return Err(Error::Stage(format!("the payload in {} has no gateway entry point {}", payload.app.display(), m.payload.entry))),
    }
    s.prune(&p.app, &m.payload.prune);
    s.add_bytes(&p.cli, render("launchd/clawdbot.sh")?, 0o755)?;
    s.add_bytes(&p.uninstall, render("launchd/uninstall.sh")?, 0o755)?;
    s.add_bytes(&p.plist, render("launchd/gateway.plist")?, 0o644)?;
    Ok(s)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
