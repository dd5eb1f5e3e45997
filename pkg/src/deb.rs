//! The .deb writer: `ar` of `debian-binary`, `control.tar.xz` and `data.tar.xz`.
//!
//! The data member is streamed from the stage through a multi-threaded xz encoder
//! of independent blocks ([`crate::blocks::Encoder`], which does not compress again
//! what the build's other .deb already compressed) into a temporary file next to
//! the output while the MD5 sums are taken, so every payload file is read exactly
//! once; the control member (which needs those sums) is made while the last
//! pieces compress, and written before it, as dpkg requires. Owners are root,
//! times are the build's `mtime`, order is [`Stage::iter_packed`]'s: the same
//! inputs give the same bytes.
//!
//! Not here: what goes into the package (see [`crate::linux`]).

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use crate::linux::{self, Templates};
use crate::manifest::Manifest;
use crate::stage::Stage;
use crate::target::Target;
use crate::write::{gzip, hex, rfc2822, tar_bytes, tar_stage, xz_writer, AtomicFile};
use crate::{BuildOptions, Error};

/// The maintainer scripts and lintian's overrides, besides [`linux::TEMPLATES`].
pub const TEMPLATES: &[&str] = &["debian/preinst", "debian/postinst", "debian/prerm", "debian/postrm", "debian/lintian-overrides"];

pub fn file_name(m: &Manifest, target: Target) -> String {
    format!("{}_{}_{}.deb", m.package.name, m.deb_version(), target.deb_arch())
}

/// Writes `<out_dir>/<name>_<version>_<arch>.deb` and returns its path. On error no
/// file is left under that name.
pub fn write(m: &Manifest, target: Target, stage: &Stage, templates: &Templates, opts: &BuildOptions, out_dir: &Path) -> Result<PathBuf, Error> {
    let mut stage = stage.clone();
    add_docs(m, &mut stage, templates, opts.mtime)?;

    let dest = out_dir.join(file_name(m, target));
    // data.tar.xz first, into a temporary file, collecting md5sums on the way.
    let mut data = tempfile::tempfile_in(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut md5sums = String::new();
    let control = {
        let codec = crate::blocks::Codec::Xz(m.deb.compression.level);
        let xz = crate::blocks::Encoder::new(io::BufWriter::with_capacity(1 << 20, &mut data), codec, opts.threads, opts.blocks.clone())?;
        let mut tar = tar::Builder::new(xz);
        // The architecture's own files last (see Target::owns); the copyright
        // file lists the npm packages, the platform's among them.
        let (runtime, copyright) = (format!("{}/node", m.linux.prefix), format!("/usr/share/doc/{}/copyright", m.package.name));
        let own = |path: &str| path == copyright || target.owns(path, &runtime);
        tar_stage(&mut tar, &stage, &own, opts.mtime, |path, sum| {
            md5sums.push_str(&format!("{}  {}\n", hex(&sum), &path[1..]));
        })?;
        let xz = tar.into_inner().map_err(|e| Error::io(&dest, e))?;
        // Every file is read: the control member is made while the compressor
        // threads finish the last pieces.
        let control = control_tar(m, target, &stage, templates, &md5sums, opts)?;
        let mut buf = xz.finish().map_err(|e| Error::io(&dest, e))?;
        buf.flush().map_err(|e| Error::io(&dest, e))?;
        control
    };

    let mut out = AtomicFile::create(&dest)?;
    let w = out.file();
    let io_err = |e| Error::io(&dest, e);
    w.write_all(b"!<arch>\n").map_err(io_err)?;
    ar_member(w, "debian-binary", opts.mtime, 4, &mut &b"2.0\n"[..]).map_err(io_err)?;
    ar_member(w, "control.tar.xz", opts.mtime, control.len() as u64, &mut &control[..]).map_err(io_err)?;
    let data_len = data.seek(io::SeekFrom::End(0)).map_err(io_err)?;
    data.rewind().map_err(io_err)?;
    ar_member(w, "data.tar.xz", opts.mtime, data_len, &mut data).map_err(io_err)?;
    out.commit()
}

fn ar_member(w: &mut File, name: &str, mtime: u64, size: u64, data: &mut impl io::Read) -> io::Result<()> {
    // dpkg-deb writes names without GNU ar's trailing slash.
    let header = format!("{name:<16}{mtime:<12}{:<6}{:<6}{:<8o}{size:<10}`\n", 0, 0, 0o100644);
    debug_assert_eq!(header.len(), 60);
    w.write_all(header.as_bytes())?;
    let copied = io::copy(data, w)?;
    if copied != size {
        return Err(io::Error::other(format!("{name}: wrote {copied} bytes, expected {size}")));
    }
    if size % 2 == 1 {
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn control_tar(m: &Manifest, target: Target, stage: &Stage, templates: &Templates, md5sums: &str, opts: &BuildOptions) -> Result<Vec<u8>, Error> {
    let vars = linux::vars(m)?;
    let mut files: Vec<(&str, Vec<u8>, u32)> =
        vec![("control", control(m, target, stage).into_bytes(), 0o644), ("md5sums", md5sums.as_bytes().to_vec(), 0o644)];
    let conffiles: String = stage.config_files().iter().map(|p| format!("{p}\n")).collect();
    if !conffiles.is_empty() {
        files.push(("conffiles", conffiles.into_bytes(), 0o644));
    }
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        files.push((script, templates.render(&format!("debian/{script}"), &vars)?.into_bytes(), 0o755));
    }
    files.sort_by(|a, b| a.0.cmp(b.0));

    let xz = xz_writer(Vec::new(), m.deb.compression.level, 1)?;
    let mut tar = tar::Builder::new(xz);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_mtime(opts.mtime);
    h.set_size(0);
    tar.append_data(&mut h, "./", io::empty()).map_err(|e| Error::io(Path::new("control.tar"), e))?;
    for (name, bytes, mode) in files {
        tar_bytes(&mut tar, &format!("./{name}"), &bytes, mode, opts.mtime)?;
    }
    let xz = tar.into_inner().map_err(|e| Error::io(Path::new("control.tar"), e))?;
    xz.finish().map_err(|e| Error::io(Path::new("control.tar.xz"), e))
}

/// The `control` file.
pub fn control(m: &Manifest, target: Target, stage: &Stage) -> String {
    let p = &m.package;
    let mut description = format!("Description: {}\n", p.summary);
    for line in p.description.trim().lines() {
        if line.trim().is_empty() {
            description.push_str(" .\n");
        } else {
            description.push_str(&format!(" {line}\n"));
        }
    }
    format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {}\nDepends: {}\nSection: {}\nPriority: {}\nHomepage: {}\n{description}",
        p.name,
        m.deb_version(),
        target.deb_arch(),
        p.maintainer,
        stage.installed_size_kib(),
        m.deb.depends.join(", "),
        m.deb.section,
        m.deb.priority,
        p.homepage,
    )
}

/// `/usr/share/doc/NAME/{copyright,changelog.Debian.gz}`, which Debian policy requires,
/// and the lintian overrides (each with the reason next to it).
fn add_docs(m: &Manifest, stage: &mut Stage, templates: &Templates, mtime: u64) -> Result<(), Error> {
    let doc = format!("/usr/share/doc/{}", m.package.name);
    let packages = crate::licences::npm_packages(stage, &linux::Paths::new(m).app)?;
    stage.add_bytes(&format!("{doc}/copyright"), copyright(m, &crate::licences::listing(&packages)), 0o644)?;
    let changelog = format!(
        "{name} ({version}) unstable; urgency=medium\n\n  * Package {name} {upstream} from the npm registry as an isolated system\n    service with a bundled Node.js {node} runtime.\n\n -- {maintainer}  {date}\n",
        name = m.package.name,
        version = m.deb_version(),
        upstream = m.package.version,
        node = m.payload.node.version,
        maintainer = m.package.maintainer,
        date = rfc2822(mtime),
    );
    stage.add_bytes(&format!("{doc}/changelog.Debian.gz"), gzip(changelog.as_bytes()), 0o644)?;
    let overrides = templates.render("debian/lintian-overrides", &linux::vars(m)?)?;
    stage.add_bytes(&format!("/usr/share/lintian/overrides/{}", m.package.name), overrides, 0o644)
}

/// A machine-readable (DEP-5) copyright file; `npm` lists the bundled npm
/// packages with their licences (see [`crate::licences::listing`]).
pub fn copyright(m: &Manifest, npm: &[String]) -> String {
    let paths = linux::Paths::new(m);
    let rel = |p: &str| p.trim_start_matches('/').to_owned();
    let node_dir = rel(paths.node_license.trim_end_matches("/LICENSE"));
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: {name}\n\
         Source: https://www.npmjs.com/package/{name}\n\
         \n\
         Files: *\n\
         Copyright: {copyright}\n\
         License: {license}\n\
         \n\
         Files: {node_dir}/*\n\
         Copyright: Node.js contributors and the authors of the libraries it bundles\n\
         License: Node.js\n \
         Node.js is released under the MIT licence; it bundles libraries under their\n \
         own licences. The full text of all of them is in /{node_dir}/LICENSE.\n\
         \n\
         Files: {app}/node_modules/*\n\
         Copyright: the authors of each npm package\n\
         License: npm-packages\n \
         The gateway's npm dependencies are installed unmodified, each with the\n \
         licence file it was published with, under /{app}/<directory>/. Each\n \
         package's directory, name, version, the licence its package.json declares\n \
         and its licence files:\n \
         .\n\
         {npm}\
         \n\
         License: {license}\n{license_text}",
        name = m.package.name,
        copyright = m.package.copyright,
        license = m.package.license,
        app = rel(&paths.app),
        license_text = MIT_TEXT,
        npm = npm.iter().map(|l| format!(" {l}\n")).collect::<String>(),
    )
}

const MIT_TEXT: &str = " Permission is hereby granted, free of charge, to any person obtaining a copy\n \
of this software and associated documentation files (the \"Software\"), to deal\n \
in the Software without restriction, including without limitation the rights\n \
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n \
copies of the Software, and to permit persons to whom the Software is\n \
furnished to do so, subject to the following conditions:\n \
.\n \
The above copyright notice and this permission notice shall be included in\n \
all copies or substantial portions of the Software.\n \
.\n \
THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n \
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\n \
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\n \
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\n \
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\n \
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN\n \
THE SOFTWARE.\n";
