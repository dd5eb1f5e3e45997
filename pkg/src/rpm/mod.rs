//! The .rpm writer: an RPM v4 package built with the `rpm` crate from the same
//! staged tree as the .deb.
//!
//! What differs from the .deb is only metadata:
//!
//! - owners are root for every entry; the package owns the directories that are its
//!   own (the prefix, the configuration directory, its licence directory) and none of
//!   the system's (`/usr`, `/usr/lib/systemd/system`, ...), which belong to the
//!   `filesystem` and `systemd` packages of the distribution;
//! - configuration files are `%config(noreplace)`, licence files `%license`;
//! - `user(NAME)`/`group(NAME)` provides are derived from the shipped sysusers.d file
//!   the way rpm >= 4.19 derives them, so that such rpm creates the account from
//!   the package header; the `%pre` scriptlet creates it with the shadow tools for
//!   older rpm;
//! - the scriptlets are the plain files under `rpm/`.
//!
//! This module describes the package (tags, files, scriptlets, dependencies);
//! [`header`] streams the payload's file bytes into the compressed payload (the crate
//! gets those files empty), writes the headers again to match and signs.
//! Every time in the package (file mtimes, build time, changelog, signature) is the
//! build's `mtime`, and entries are added in stage order: the same inputs give the
//! same bytes, signed or not.
//!
//! Not here: what goes into the package (see [`crate::linux`]).

mod header;

pub use header::{identity, sign_file, Signer, ZSTD_WINDOW_LOG};

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ::rpm::{BuildConfig, CompressionWithLevel, Dependency, FileOptions, PackageBuilder, Scriptlet, Timestamp};
use base64::Engine as _;

use crate::linux::{self, Templates};
use crate::manifest::{Compression, Compressor, Manifest};
use crate::stage::{Kind, Source, Stage};
use crate::target::Target;
use crate::write::AtomicFile;
use crate::{BuildOptions, Error};

/// The `BuildHost` tag of every package.
pub const BUILD_HOST: &str = "reproducible";

/// The rpmlint filters of the package (`rpmlint -r FILE`), with their reasons.
pub fn rpmlintrc(m: &Manifest, templates: &Templates) -> Result<String, Error> {
    templates.render("rpm/rpmlintrc", &linux::vars(m)?)
}

/// The scriptlets, in the order rpm runs them on installation.
pub const SCRIPTS: [&str; 4] = ["rpm/pre", "rpm/post", "rpm/preun", "rpm/postun"];

/// `clawdbot-<version>-<release>.<arch>.rpm`.
/// The scriptlets and rpmlint's filters, besides [`linux::TEMPLATES`].
pub const TEMPLATES: &[&str] = &["rpm/pre", "rpm/post", "rpm/preun", "rpm/postun", "rpm/rpmlintrc"];

pub fn file_name(m: &Manifest, target: Target) -> String {
    format!("{}-{}-{}.{}.rpm", m.package.name, version(m), m.package.revision, target.rpm_arch())
}

/// The RPM `Version`: the upstream version mapped so that rpm sorts releases in
/// publication order (see [`crate::manifest::UpstreamVersion::distro`]).
pub fn version(m: &Manifest) -> String {
    m.upstream_version().distro()
}

/// Writes `<out_dir>/<file_name>` and returns its path. On error no file is left
/// under that name.
pub fn write(
    m: &Manifest,
    target: Target,
    stage: &Stage,
    templates: &Templates,
    opts: &BuildOptions,
    out_dir: &Path,
    signer: Option<&Signer>,
) -> Result<PathBuf, Error> {
    let dest = out_dir.join(file_name(m, target));
    let pkg = package(m, target, stage, templates, opts, signer)?;
    let mut out = AtomicFile::create(&dest)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out.file());
    pkg.write(&mut w).map_err(|e| header::rpm_error(&dest, e))?;
    w.flush().map_err(|e| Error::io(&dest, e))?;
    drop(w);
    out.commit()
}

fn package(m: &Manifest, target: Target, stage: &Stage, templates: &Templates, opts: &BuildOptions, signer: Option<&Signer>) -> Result<::rpm::Package, Error> {
    let p = &m.package;
    let mtime = u32::try_from(opts.mtime).map_err(|_| Error::Value(format!("build time {} does not fit an RPM timestamp", opts.mtime)))?;
    let paths = linux::Paths::new(m);
    let mut stage = stage.clone();
    let licence = format!("{}/LICENSE", licence_dir(m));
    let packages = crate::licences::npm_packages(&stage, &paths.app)?;
    stage.add_bytes(&licence, licence_text(m, &crate::licences::listing(&packages)), 0o644)?;

    let compression = compression(m);
    let config = BuildConfig::v4().compression(CompressionWithLevel::None).source_date(mtime);
    let mut b = PackageBuilder::new(&p.name, &version(m), &p.license, target.rpm_arch(), &p.summary);
    b.using_config(config)
        .release(p.revision.to_string())
        .description(p.description.trim())
        .url(&p.homepage)
        .vendor(&p.maintainer)
        .packager(&p.maintainer)
        // rpmbuild records the machine; a fixed name keeps rebuilds identical.
        .build_host(BUILD_HOST)
        .add_changelog_entry(
            format!("{} - {}-{}", p.maintainer, version(m), p.revision),
            format!(
                "- Package {} {} from the npm registry as an isolated system service with a bundled Node.js {} runtime.",
                p.name, p.version, m.payload.node.version
            ),
            mtime,
        );
    if let Some(rpm) = &m.rpm {
        b.group(&rpm.group);
    }

    // Files, in stage order (parents before children).
    let owned = owned_dirs(m);
    let time = Timestamp(mtime);
    let mut contents = header::Contents::new();
    for (path, entry) in stage.iter() {
        let fail = |e| header::rpm_error(Path::new(path), e);
        let mode = u16::try_from(entry.mode).map_err(|_| Error::layout(path, format!("mode {:o} is not a permission mode", entry.mode)))?;
        match &entry.kind {
            Kind::Dir => {
                if owned.iter().any(|d| path == d || path.starts_with(&format!("{d}/"))) {
                    b.with_dir_entry(FileOptions::dir(path).permissions(mode).modified_at(time)).map_err(fail)?;
                }
            }
            Kind::Symlink(target) => {
                b.with_symlink(FileOptions::symlink(path, target.as_str()).modified_at(time)).map_err(fail)?;
            }
            Kind::File(source) => {
                let mut o = FileOptions::new(path).permissions(mode).modified_at(time);
                if entry.config {
                    o = o.config().noreplace();
                }
                if path == licence || path == paths.node_license {
                    o = o.license();
                } else if path.starts_with("/usr/share/man/") || path.starts_with("/usr/share/doc/") {
                    o = o.doc();
                }
                match source {
                    // The payload's files reach the crate empty: compress_payload
                    // adds their bytes and digests, reading each once.
                    Source::Disk(src) => {
                        b.with_file_contents(Vec::new(), o).map_err(fail)?;
                        contents.insert(format!(".{path}"), (src.as_path(), entry.size));
                    }
                    // Rendered files, whole: the crate reads some (sysusers.d).
                    Source::Bytes(bytes) => {
                        b.with_file_contents(bytes.clone(), o).map_err(fail)?;
                    }
                }
            }
        }
    }

    // Scriptlets and what they run with.
    let vars = linux::vars(m)?;
    let script = |name: &str| -> Result<Scriptlet, Error> { Ok(Scriptlet::new(templates.render(name, &vars)?).prog(vec!["/bin/sh"])) };
    b.pre_install_script(script("rpm/pre")?)
        .post_install_script(script("rpm/post")?)
        .pre_uninstall_script(script("rpm/preun")?)
        .post_uninstall_script(script("rpm/postun")?)
        .requires(Dependency::script_pre("/bin/sh"))
        .requires(Dependency::script_post("/bin/sh"))
        .requires(Dependency::script_preun("/bin/sh"))
        .requires(Dependency::script_postun("/bin/sh"))
        // As rpmbuild declares it: an rpm that cannot read the payload refuses the package.
        .requires(match compression.format {
            Compressor::Xz => Dependency::rpmlib("PayloadIsXz", "5.2-1"),
            Compressor::Zstd => Dependency::rpmlib("PayloadIsZstd", "5.4.18-1"),
        });

    for dep in m.rpm.as_ref().map(|r| r.requires.as_slice()).unwrap_or_default() {
        b.requires(dependency(dep)?);
    }
    let sysusers = match stage.get(&paths.sysusers).map(|e| &e.kind) {
        Some(Kind::File(Source::Bytes(bytes))) => String::from_utf8_lossy(bytes).into_owned(),
        _ => return Err(Error::layout(&paths.sysusers, "the sysusers.d file is not in the stage")),
    };
    for (name, value) in sysusers_provides(&sysusers) {
        b.provides(match value {
            Some(v) => Dependency::eq(name, v),
            None => Dependency::any(name),
        });
    }

    let name = file_name(m, target);
    let mut pkg = b.build().map_err(|e| header::rpm_error(Path::new(&name), e))?;
    let runtime = format!("{}/node", m.linux.prefix);
    // The licence file lists the npm packages, the platform's among them.
    let owned = stage.own_paths(&|path: &str| path == licence || target.owns(path, &runtime));
    let own = |path: &str| owned.contains(path);
    header::compress_payload(&name, &mut pkg, &contents, &own, compression, opts, signer.map(|s| (s, time)))?;
    Ok(pkg)
}

/// The payload compression: the manifest's, or zstd 10 (the shipped setting) without an `[rpm]` table.
pub fn compression(m: &Manifest) -> Compression {
    m.rpm.as_ref().map_or(Compression { format: Compressor::Zstd, level: 10 }, |r| r.compression)
}

/// Directories the package owns, with everything below them.
fn owned_dirs(m: &Manifest) -> Vec<String> {
    vec![m.linux.prefix.clone(), m.linux.config_dir.clone(), licence_dir(m)]
}

fn licence_dir(m: &Manifest) -> String {
    format!("/usr/share/licenses/{}", m.package.name)
}

/// `NAME` or `NAME OP VERSION` (OP one of `<`, `<=`, `=`, `>=`, `>`).
pub fn dependency(spec: &str) -> Result<Dependency, Error> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    match parts[..] {
        [name] => Ok(Dependency::any(name)),
        [name, op, version] => match op {
            "<" => Ok(Dependency::less(name, version)),
            "<=" => Ok(Dependency::less_eq(name, version)),
            "=" => Ok(Dependency::eq(name, version)),
            ">=" => Ok(Dependency::greater_eq(name, version)),
            ">" => Ok(Dependency::greater(name, version)),
            _ => Err(Error::Value(format!("rpm requirement {spec:?}: unknown operator {op:?}"))),
        },
        _ => Err(Error::Value(format!("rpm requirement {spec:?} is not NAME or NAME OP VERSION"))),
    }
}

/// The provides rpm >= 4.19 generates for a sysusers.d file: for each `u` or `g`
/// line, `user(NAME)` or `group(NAME)` whose version is the whole line (its fields
/// joined by single spaces) in base64, the input padded with NUL bytes so that the
/// encoding has no `=` (which a version may not contain); for a user whose group
/// is implied (ID `-` or a number), also `group(NAME)` without a version.
pub fn sysusers_provides(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let kind = match fields[0] {
            "u" | "u!" => "user",
            "g" => "group",
            _ => continue,
        };
        let mut raw = fields.join(" ").into_bytes();
        raw.resize(raw.len().div_ceil(3) * 3, 0);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
        out.push((format!("{kind}({})", fields[1]), Some(encoded)));
        if kind == "user" && fields.get(2).is_none_or(|id| !id.contains(':') && !id.starts_with('/')) {
            out.push((format!("group({})", fields[1]), None));
        }
    }
    out
}

fn licence_text(m: &Manifest, npm: &[String]) -> String {
    let paths = linux::Paths::new(m);
    format!(
        "{name}: Copyright (c) {copyright}\n\n\
         The bundled Node.js runtime is under its own licence, in {node_licence};\n\
         each npm package under {app}/node_modules carries the licence it was\n\
         published with.\n\n\
         {license} License\n\n{text}\n\
         Bundled npm packages: directory under {app}, name, version, the licence\n\
         its package.json declares, and its licence files:\n\n{npm}",
        name = m.package.name,
        copyright = m.package.copyright,
        node_licence = paths.node_license,
        app = paths.app,
        license = m.package.license,
        text = MIT_TEXT,
        npm = npm.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
}

const MIT_TEXT: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysusers_provides_are_those_of_rpm() {
        let p = sysusers_provides("# comment\nu clawdbot - \"Clawdbot gateway\" /var/lib/clawdbot /usr/sbin/nologin\n\ng extra 515\nm a b\n");
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            p,
            [
                ("user(clawdbot)".to_owned(), Some(b64(b"u clawdbot - \"Clawdbot gateway\" /var/lib/clawdbot /usr/sbin/nologin\0\0"))),
                ("group(clawdbot)".to_owned(), None),
                ("group(extra)".to_owned(), Some(b64(b"g extra 515\0"))),
            ]
        );
        assert!(p.iter().all(|(_, v)| v.as_ref().is_none_or(|v| !v.contains('='))));
        // Whitespace is normalised as rpm splits the line into fields.
        assert_eq!(sysusers_provides("u  x\t-")[0].1, Some(b64(b"u x -\0")));
        assert_eq!(sysusers_provides("u x 12:wheel")[1..], []);
    }

    #[test]
    fn dependencies_parse() {
        let d = dependency("libc.so.6(GLIBC_2.28)(64bit)").unwrap();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("libc.so.6(GLIBC_2.28)(64bit)", ""));
        let d = dependency("systemd >= 239").unwrap();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("systemd", "239"));
        assert!(dependency("systemd ~> 239").unwrap_err().to_string().contains("unknown operator"));
        assert!(dependency("a b").is_err());
    }
}
