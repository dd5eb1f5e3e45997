//! `macos-pkg-reader PKG`: prints what apple-flat-package and apple-xar read from a
//! product package, one fact a line, for the tests to compare:
//!
//! ```text
//! toc-checksum sha1 ok
//! member PATH SIZE
//! distribution title=.. host=.. pkg-ref=ID auth=.. version=.. kbytes=.. component=#NAME.pkg domains=local-only
//! package-info identifier=.. version=.. auth=.. location=.. files=N kbytes=K overwrite=true relocatable=false scripts=preinstall,postinstall
//! bom MODE UID GID SIZE PATH
//! payload MODE UID GID SIZE NAME
//! scripts MODE UID GID SIZE NAME
//! ```

use std::io::Read;

use apple_flat_package::PkgReader;
use apple_xar::reader::XarReader;

fn main() {
    let path = std::env::args().nth(1).expect("usage: macos-pkg-reader PKG");
    if let Err(e) = run(&path) {
        eprintln!("macos-pkg-reader: {path}: {e}");
        std::process::exit(1);
    }
}

fn run(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut xar = XarReader::new(std::fs::File::open(path)?)?;
    let (style, _) = xar.checksum()?;
    let ok = xar.verify_table_of_contents_checksum()?;
    println!("toc-checksum {style:?} {}", if ok { "ok" } else { "MISMATCH" });
    for (name, file) in xar.files()? {
        println!("member {name} {}", file.size.or(file.data.as_ref().map(|d| d.size)).unwrap_or(0));
    }

    let mut pkg = PkgReader::new(std::fs::File::open(path)?)?;
    println!("flavor {:?}", pkg.flavor());
    let d = pkg.distribution()?.ok_or("no Distribution")?;
    let opts = d.options.as_ref().ok_or("Distribution has no options")?;
    let domains = d.domains.as_ref().ok_or("Distribution has no domains")?;
    for r in d.pkg_ref.iter().filter(|r| r.version.is_some()) {
        println!(
            "distribution title={} host={} min-spec={} pkg-ref={} auth={} version={} kbytes={} domains={}",
            d.title.as_ref().map(|t| t.title.as_str()).unwrap_or(""),
            opts.host_architecutres.as_deref().unwrap_or(""),
            d.min_spec_version,
            r.id,
            r.auth.as_deref().unwrap_or(""),
            r.version.as_deref().unwrap_or(""),
            r.install_kbytes.unwrap_or(0),
            if domains.enable_local_system && !domains.enable_anywhere && !domains.enable_current_user_home { "local-only" } else { "other" },
        );
    }
    let components = pkg.component_packages()?;
    if components.len() != 1 {
        return Err(format!("{} component packages, expected 1", components.len()).into());
    }
    let c = &components[0];
    let info = c.package_info().ok_or("no PackageInfo")?;
    let payload = info.payload.as_ref().ok_or("PackageInfo has no payload")?;
    let scripts: Vec<String> = info
        .scripts
        .scripts
        .iter()
        .map(|s| match s {
            apple_flat_package::package_info::Script::PreInstall(p) => format!("preinstall:{}", p.file),
            apple_flat_package::package_info::Script::PostInstall(p) => format!("postinstall:{}", p.file),
        })
        .collect();
    println!(
        "package-info identifier={} version={} auth={} location={} files={} kbytes={} overwrite={} relocatable={} format={} scripts={}",
        info.identifier,
        info.version,
        info.auth,
        info.install_location.as_deref().unwrap_or(""),
        payload.number_of_files,
        payload.install_kbytes,
        info.overwrite_permissions.unwrap_or(false),
        info.relocatable.unwrap_or(true),
        info.format_version,
        scripts.join(","),
    );
    let bom = apple_bom::ParsedBom::parse(c.bom().ok_or("no Bom")?)?;
    for p in bom.paths()? {
        println!("bom {:o} {} {} {} {}", p.file_mode(), p.user_id(), p.group_id(), p.size(), p.path());
    }
    for (what, reader) in [("payload", c.payload_reader()?), ("scripts", c.scripts_reader()?)] {
        let mut reader = reader.ok_or(format!("no {what}"))?;
        while let Some(h) = reader.read_next()? {
            let mut data = Vec::new();
            reader.read_to_end(&mut data)?;
            if data.len() as u64 != h.file_size() {
                return Err(format!("{what} {}: {} bytes read, header says {}", h.name(), data.len(), h.file_size()).into());
            }
            println!("{what} {:o} {} {} {} {}", h.mode(), h.uid(), h.gid(), h.file_size(), h.name());
        }
    }
    Ok(())
}
