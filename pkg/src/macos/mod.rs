//! The macOS installer package: what it installs and how it is written.
//!
//! - the payload under the `[macos]` prefix, root-owned: the Node.js runtime, the
//!   gateway tree, the admin command and the uninstaller, and under `libexec/` the
//!   shared word classifier the admin command sources and the script that writes
//!   the first configuration (run as the daemon account, never as root);
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

use crate::manifest::{Macos, Manifest};
use crate::payload::Payload;
use crate::stage::Stage;
use crate::target::Target;
use crate::template::Vars;
use crate::Error;

/// Files under the repository root that are rendered into the package.
pub const TEMPLATES: &[&str] = &[
    "launchd/gateway.plist",
    "launchd/preinstall",
    "launchd/postinstall",
    "launchd/uninstall.sh",
    "launchd/clawdbot.sh",
    "launchd/first-config.sh",
    "launchd/grant.sh",
    "launchd/migrate.sh",
];

/// The shared template of the admin command's words (in [`crate::template::COMMON`]),
/// staged under `libexec/`.
pub const WORDS_TEMPLATE: &str = "admin/clawdbot-words.sh";

/// The range in which the postinstall script looks for a free user and group id,
/// where macOS installers keep their daemon accounts.
pub const FIRST_ID: u32 = 200;
pub const LAST_ID: u32 = 400;

/// Owner and group of every payload entry: root:wheel.
pub const UID: u32 = 0;
pub const GID: u32 = 0;

pub use crate::template::Templates;

/// The macOS flat package format.
pub struct Pkg;

impl crate::format::Writer for Pkg {
    fn templates(&self) -> Vec<&'static str> {
        TEMPLATES.to_vec()
    }
    fn vars(&self, m: &Manifest) -> Result<Vars, Error> {
        vars(m)
    }
    fn supports(&self, target: Target) -> bool {
        !target.is_linux()
    }
    fn file_name(&self, m: &Manifest, target: Target) -> Result<String, Error> {
        file_name(m, target)
    }
    fn purl(&self, m: &Manifest, target: Target) -> String {
        format!("pkg:generic/{}@{}-{}?arch={}", m.package.name, m.upstream_version().distro(), m.package.revision, target.name())
    }
    fn app_dir(&self, m: &Manifest) -> Result<String, Error> {
        app_dir(m)
    }
    fn stage(&self, m: &Manifest, payload: &Payload, templates: &Templates) -> Result<Stage, Error> {
        stage(m, payload, templates)
    }
    fn write(
        &self,
        m: &Manifest,
        target: Target,
        stage: &Stage,
        templates: &Templates,
        opts: &crate::BuildOptions,
        out_dir: &std::path::Path,
        _signer: Option<&crate::rpm::Signer>,
    ) -> Result<std::path::PathBuf, Error> {
        write(m, target, stage, templates, opts, out_dir)
    }
}

/// What macOS calls the target's CPU (`hostArchitectures`, `uname -m`).
pub fn arch(target: Target) -> Result<&'static str, Error> {
    match target {
        Target::DarwinArm64 => Ok("arm64"),
        Target::DarwinX64 => Ok("x86_64"),
        t => Err(Error::Value(format!("{t} is not a macOS target"))),
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
    /// The word classifier sourced by the admin command (0644).
    pub words: String,
    /// Writes the first configuration; run as the account by postinstall and reset.
    pub first_config: String,
    /// `clawdbot grant|revoke|grants`, run by the admin command and the uninstaller.
    pub grant: String,
    /// Root's record of the grants (root-owned `/var/db`, outside the state directory).
    pub grants: String,
    /// `clawdbot migrate`, run by the admin command as root.
    pub migrate: String,
    /// Root's record of the per-user gateways moved into the daemon.
    pub migrations: String,
    /// Copies the shipped transpile cache into the account's cache (run by
    /// postinstall as the account).
    pub seed: String,
    /// The transpile cache built for [`Paths::app`], shipped read-only.
    pub seed_dir: String,
    pub plist: String,
    /// The daemon's temporary files and V8's code cache (`TMPDIR`,
    /// `NODE_COMPILE_CACHE`): `<state_dir>/cache`, made by postinstall as the account.
    pub cache_dir: String,
    /// launchd's stdout/stderr files of the daemon: root-owned, outside the state
    /// directory, `/Library/Logs/<last component of the prefix>`.
    pub log_dir: String,
    /// Root's record of whether the package created the account and the group, in
    /// root-owned `/var/db`, outside the state directory and the prefix.
    pub account_record: String,
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
            words: format!("{prefix}/libexec/{name}-words.sh"),
            first_config: format!("{prefix}/libexec/{name}-first-config"),
            grant: format!("{prefix}/libexec/{name}-grant"),
            grants: format!("/var/db/.{name}-grants"),
            migrate: format!("{prefix}/libexec/{name}-migrate"),
            migrations: format!("/var/db/.{name}-migrations"),
            seed: format!("{prefix}/libexec/{name}-seed-cache"),
            seed_dir: format!("{prefix}/cache/jiti"),
            plist: format!("/Library/LaunchDaemons/{}.plist", m.service.launchd_label),
            cache_dir: format!("{}/cache", mac.state_dir),
            log_dir: format!("/Library/Logs/{}", prefix.rsplit('/').next().unwrap_or(name)),
            account_record: format!("/var/db/.{name}-account"),
        }
    }
}

/// Where the app is installed (`/Library/Clawdbot/app`).
pub fn app_dir(m: &Manifest) -> Result<String, Error> {
    Ok(Paths::new(m, m.macos()?).app)
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
        ("WORDS", p.words.clone()),
        ("FIRST_CONFIG", p.first_config.clone()),
        ("GRANT", p.grant.clone()),
        ("GRANTS", p.grants.clone()),
        ("MIGRATE", p.migrate.clone()),
        ("MIGRATIONS", p.migrations.clone()),
        ("APP", p.app.clone()),
        ("SEED", p.seed.clone()),
        ("SEED_DIR", p.seed_dir.clone()),
        ("SEED_STAMP", crate::payload::SEED_STAMP.to_owned()),
        ("PLIST", p.plist.clone()),
        ("CACHE_DIR", p.cache_dir.clone()),
        ("LOG_DIR", p.log_dir.clone()),
        ("ACCOUNT_RECORD", p.account_record.clone()),
        // What Installer and `pkgutil --pkg-info` show: the version with the revision.
        ("PKG_VERSION", m.deb_version()),
        ("FIRST_ID", FIRST_ID.to_string()),
        ("LAST_ID", LAST_ID.to_string()),
    ]);
    vars.extend(runtime_vars(&runtime(m)?)?);
    Ok(vars)
}

/// The placeholders that the gateway's runtime contract fills: the plist's
/// environment, the admin command's `env -i` words, the first configuration.
pub fn runtime_vars(runtime: &crate::gateway::Runtime) -> Result<Vars, Error> {
    let env = runtime.environment();
    Ok(Vars::from([
        ("GATEWAY_ENVIRONMENT", crate::gateway::plist_entries(&env, 8)?),
        ("GATEWAY_ENV_WORDS", crate::gateway::env_words(&env, 8)?),
        ("FIRST_CONFIG_WORD", runtime.first_config_word(true)?),
    ]))
}

/// The gateway's runtime contract on macOS.
pub fn runtime(m: &Manifest) -> Result<crate::gateway::Runtime, Error> {
    let mac = m.macos()?;
    let p = Paths::new(m, mac);
    Ok(crate::gateway::Runtime {
        state_dir: mac.state_dir.clone(),
        cache_dir: p.cache_dir,
        port: m.service.port,
        shell: mac.shell.clone(),
        path: format!("{}/node/bin:/usr/bin:/bin:/usr/sbin:/sbin", mac.prefix),
    })
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
        _ => return Err(Error::input(&payload.app, format!("the payload has no gateway entry point {}", m.payload.entry))),
    }
    s.prune(&p.app, &m.payload.prune)?;
    s.add_bytes(&p.cli, render("launchd/clawdbot.sh")?, 0o755)?;
    s.add_bytes(&p.uninstall, render("launchd/uninstall.sh")?, 0o755)?;
    s.add_bytes(&p.words, render(WORDS_TEMPLATE)?, 0o644)?;
    s.add_bytes(&p.first_config, render("launchd/first-config.sh")?, 0o755)?;
    s.add_bytes(&p.grant, render("launchd/grant.sh")?, 0o755)?;
    s.add_bytes(&p.migrate, render("launchd/migrate.sh")?, 0o755)?;
    s.add_bytes(&p.seed, render("admin/seed-cache.sh")?, 0o755)?;
    if let Some(jiti) = &payload.jiti {
        crate::jiti::add_seed(&mut s, jiti, &p.app, &p.seed_dir, crate::payload::SEED_STAMP)?;
    }
    s.add_bytes(&p.plist, render("launchd/gateway.plist")?, 0o644)?;
    Ok(s)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
