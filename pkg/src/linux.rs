//! What a Linux package installs: the payload under the prefix, the admin entry point,
//! the systemd unit, sysusers.d and tmpfiles.d files, and the configuration file.
//!
//! Shared by the deb and rpm writers, which differ only in where the unit goes and in
//! their own metadata. The plain files come from `systemd/` (and the maintainer
//! scripts from `debian/`), with `@NAME@` placeholders filled from the manifest.

use crate::manifest::Manifest;
use crate::payload::{Payload, SEED_STAMP};
use crate::stage::Stage;
use crate::target::Target;
use crate::template::Vars;
use crate::Error;

/// Files under the repository root that both Linux formats render (the
/// maintainer scripts are each format's own: [`crate::deb::TEMPLATES`],
/// [`crate::rpm::TEMPLATES`]).
pub const TEMPLATES: &[&str] = &[
    "systemd/clawdbot-gateway.service",
    "systemd/sysusers.conf",
    "systemd/tmpfiles.conf",
    "systemd/gateway.env",
    "systemd/clawdbot-setup.sh",
    "systemd/clawdbot-first-config.sh",
    "systemd/account-check.sh",
    "systemd/account-create.sh",
    "systemd/grants-lib.sh",
    "systemd/clawdbot-grant.sh",
    "systemd/sandboxed.sh",
    "systemd/clawdbot-migrate.sh",
    "systemd/clawdbot-port-check.sh",
    "systemd/clawdbot.sh",
    "systemd/clawdbot.1",
];

pub use crate::template::Templates;

/// Which packaging conventions the tree follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Deb,
    Rpm,
}

impl Flavor {
    /// Debian bookworm's policy still ships units in /lib; RPM distributions use /usr/lib.
    pub fn unit_dir(self) -> &'static str {
        match self {
            Flavor::Deb => "/lib/systemd/system",
            Flavor::Rpm => "/usr/lib/systemd/system",
        }
    }
}

/// The two Linux formats share everything but their own templates, file name,
/// package URL and writer.
impl crate::format::Writer for Flavor {
    fn templates(&self) -> Vec<&'static str> {
        let own = match self {
            Flavor::Deb => crate::deb::TEMPLATES,
            Flavor::Rpm => crate::rpm::TEMPLATES,
        };
        [TEMPLATES, own].concat()
    }
    fn vars(&self, m: &Manifest) -> Result<Vars, Error> {
        vars(m)
    }
    fn supports(&self, target: Target) -> bool {
        target.is_linux()
    }
    fn file_name(&self, m: &Manifest, target: Target) -> Result<String, Error> {
        Ok(match self {
            Flavor::Deb => crate::deb::file_name(m, target),
            Flavor::Rpm => crate::rpm::file_name(m, target),
        })
    }
    fn purl(&self, m: &Manifest, target: Target) -> String {
        match self {
            Flavor::Deb => format!("pkg:deb/{}@{}?arch={}", m.package.name, m.deb_version(), target.deb_arch()),
            Flavor::Rpm => format!("pkg:rpm/{}@{}-{}?arch={}", m.package.name, m.upstream_version().distro(), m.package.revision, target.rpm_arch()),
        }
    }
    fn app_dir(&self, m: &Manifest) -> Result<String, Error> {
        Ok(Paths::new(m).app)
    }
    fn stage(&self, m: &Manifest, payload: &Payload, templates: &Templates) -> Result<Stage, Error> {
        stage(m, *self, payload, templates)
    }
    fn write(
        &self,
        m: &Manifest,
        target: Target,
        stage: &Stage,
        templates: &Templates,
        opts: &crate::BuildOptions,
        out_dir: &std::path::Path,
        signer: Option<&crate::rpm::Signer>,
    ) -> Result<std::path::PathBuf, Error> {
        match self {
            Flavor::Deb => crate::deb::write(m, target, stage, templates, opts, out_dir),
            Flavor::Rpm => crate::rpm::write(m, target, stage, templates, opts, out_dir, signer),
        }
    }
}

/// Install paths derived from the manifest.
pub struct Paths {
    pub node: String,
    pub node_license: String,
    pub app: String,
    pub entry: String,
    pub setup: String,
    pub seed: String,
    pub first_config: String,
    pub words: String,
    pub grant: String,
    pub migrate: String,
    pub port_check: String,
    pub seed_dir: String,
    pub sysusers: String,
    pub tmpfiles: String,
    pub env_file: String,
}

impl Paths {
    pub fn new(m: &Manifest) -> Paths {
        let prefix = &m.linux.prefix;
        let name = &m.package.name;
        Paths {
            node: format!("{prefix}/node/bin/node"),
            node_license: format!("{prefix}/node/LICENSE"),
            app: format!("{prefix}/app"),
            entry: format!("{prefix}/app/{}", m.payload.entry),
            setup: format!("{prefix}/libexec/{name}-setup"),
            seed: format!("{prefix}/libexec/{name}-seed-cache"),
            first_config: format!("{prefix}/libexec/{name}-first-config"),
            words: format!("{prefix}/libexec/{name}-words.sh"),
            grant: format!("{prefix}/libexec/{name}-grant"),
            migrate: format!("{prefix}/libexec/{name}-migrate"),
            port_check: format!("{prefix}/libexec/{name}-port-check"),
            seed_dir: format!("{prefix}/cache/jiti"),
            sysusers: format!("/usr/lib/sysusers.d/{name}.conf"),
            tmpfiles: format!("/usr/lib/tmpfiles.d/{name}.conf"),
            env_file: format!("{}/gateway.env", m.linux.config_dir),
        }
    }
}

/// The values of the `@NAME@` placeholders.
pub fn vars(m: &Manifest) -> Result<Vars, Error> {
    let p = Paths::new(m);
    let l = &m.linux;
    let file_name = |path: &str| crate::stage::file_name(path).to_owned();
    let mut vars = crate::template::common_vars(m);
    vars.extend([
        ("HOMEPAGE", m.package.homepage.clone()),
        ("UNIT", m.service.unit.clone()),
        ("SHELL", m.service.shell.clone()),
        ("PREFIX", l.prefix.clone()),
        ("USER", l.user.clone()),
        ("GROUP", l.group.clone()),
        ("STATE_DIR", l.state_dir.clone()),
        ("CACHE_DIR", l.cache_dir.clone()),
        ("CONFIG_DIR", l.config_dir.clone()),
        ("STATE_NAME", l.state_dir.trim_start_matches("/var/lib/").to_owned()),
        ("CACHE_NAME", l.cache_dir.trim_start_matches("/var/cache/").to_owned()),
        ("PREFIX_REL", l.prefix.trim_start_matches('/').to_owned()),
        ("CONFIG_REL", l.config_dir.trim_start_matches('/').to_owned()),
        ("NODE_BIN", p.node.trim_end_matches("/node").to_owned()),
        ("NODE", p.node.clone()),
        ("ENTRY", p.entry.clone()),
        ("SETUP", p.setup.clone()),
        ("SEED", p.seed.clone()),
        ("FIRST_CONFIG", p.first_config.clone()),
        ("WORDS", p.words.clone()),
        ("GRANT", p.grant.clone()),
        ("MIGRATE", p.migrate.clone()),
        ("PORT_CHECK", p.port_check.clone()),
        ("APP", p.app.clone()),
        // Upstream's per-user unit, whose name the system unit reuses.
        ("USER_UNIT", m.service.unit.clone()),
        ("MEMORY_MAX", l.limits.memory_max.clone()),
        ("TASKS_MAX", l.limits.tasks_max.to_string()),
        ("FILES_MAX", l.limits.files_max.to_string()),
        ("LOG_MAX", l.limits.log_max.clone()),
        ("SEED_DIR", p.seed_dir.clone()),
        ("SEED_STAMP", SEED_STAMP.to_owned()),
        ("SYSUSERS_NAME", file_name(&p.sysusers)),
        ("TMPFILES_NAME", file_name(&p.tmpfiles)),
    ]);
    let runtime = runtime(m);
    vars.insert("GATEWAY_ENVIRONMENT", crate::gateway::unit_lines(&runtime.environment())?);
    vars.insert("FIRST_CONFIG_WORD", runtime.first_config_word(false)?);
    Ok(vars)
}

/// The gateway's runtime contract on Linux.
pub fn runtime(m: &Manifest) -> crate::gateway::Runtime {
    let node_bin = Paths::new(m).node.trim_end_matches("/node").to_owned();
    crate::gateway::Runtime {
        state_dir: m.linux.state_dir.clone(),
        cache_dir: m.linux.cache_dir.clone(),
        port: m.service.port,
        shell: m.service.shell.clone(),
        path: format!("{node_bin}:/usr/local/bin:/usr/bin:/bin"),
    }
}

/// Stages everything a Linux package installs.
pub fn stage(m: &Manifest, flavor: Flavor, payload: &Payload, templates: &Templates) -> Result<Stage, Error> {
    let vars = vars(m)?;
    let p = Paths::new(m);
    let render = |name: &str| templates.render(name, &vars);
    let mut s = Stage::new();

    s.add_disk_file(&p.node, &payload.node.join("bin/node"), 0o755)?;
    s.add_disk_file(&p.node_license, &payload.node.join("LICENSE"), 0o644)?;
    s.add_tree(&p.app, &payload.app)?;
    s.prune(&p.app, &m.payload.prune)?;
    match s.get(&p.entry) {
        Some(e) if matches!(e.kind, crate::stage::Kind::File(_)) => {}
        _ => return Err(Error::input(&payload.app, format!("the payload has no gateway entry point {}", m.payload.entry))),
    }

    s.add_bytes(&p.setup, render("systemd/clawdbot-setup.sh")?, 0o755)?;
    s.add_bytes(&p.seed, render("admin/seed-cache.sh")?, 0o755)?;
    s.add_bytes(&p.first_config, render("systemd/clawdbot-first-config.sh")?, 0o755)?;
    s.add_bytes(&p.words, render("admin/clawdbot-words.sh")?, 0o644)?;
    s.add_bytes(&p.grant, render("systemd/clawdbot-grant.sh")?, 0o755)?;
    s.add_bytes(&p.migrate, render("systemd/clawdbot-migrate.sh")?, 0o755)?;
    s.add_bytes(&p.port_check, render("systemd/clawdbot-port-check.sh")?, 0o755)?;
    if let Some(jiti) = &payload.jiti {
        crate::jiti::add_seed(&mut s, jiti, &p.app, &p.seed_dir, SEED_STAMP)?;
    }
    s.add_bytes(&m.linux.bin, render("systemd/clawdbot.sh")?, 0o755)?;
    let man = format!("/usr/share/man/man1/{}.1.gz", m.linux.bin.rsplit('/').next().unwrap_or("clawdbot"));
    s.add_bytes(&man, crate::write::gzip(render("systemd/clawdbot.1")?.as_bytes()), 0o644)?;
    s.add_bytes(&format!("{}/{}", flavor.unit_dir(), m.service.unit), render("systemd/clawdbot-gateway.service")?, 0o644)?;
    s.add_bytes(&p.sysusers, render("systemd/sysusers.conf")?, 0o644)?;
    s.add_bytes(&p.tmpfiles, render("systemd/tmpfiles.conf")?, 0o644)?;
    // Root-only: systemd reads it before dropping privileges; it may hold API keys.
    s.add_config(&p.env_file, render("systemd/gateway.env")?, 0o600)?;
    if let Some(k) = &payload.keyring {
        match flavor {
            Flavor::Deb => s.add_bytes(&crate::repo::keyring_path(m), k.binary.clone(), 0o644)?,
            Flavor::Rpm => s.add_bytes(&crate::repo::rpm_key_path(m), k.armored.clone().into_bytes(), 0o644)?,
        }
    }
    Ok(s)
}
