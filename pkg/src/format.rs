//! The one interface every package format implements. A format is its own
//! module (its templates, their values, what it stages, its file name, its
//! writer) and one arm of [`Format::writer`]; nothing else names it. The two
//! Linux formats share one implementation (`linux::Flavor`), which takes each
//! one's templates, file name and writer from its module (`deb`, `rpm`). The
//! renderer ([`crate::template`]) and the staged tree ([`crate::stage`]) know no
//! format.

use std::path::{Path, PathBuf};

use crate::payload::Payload;
use crate::rpm::Signer;
use crate::stage::Stage;
use crate::target::{Format, Target};
use crate::template::{Templates, Vars};
use crate::{BuildOptions, Error, Manifest};

/// What building one artifact of a format takes.
pub trait Writer: Sync {
    /// The files under the repository root that its packages render, besides
    /// [`crate::template::COMMON`].
    fn templates(&self) -> Vec<&'static str>;
    /// The values of its templates' `@NAME@` placeholders.
    fn vars(&self, m: &Manifest) -> Result<Vars, Error>;
    /// The targets it is built for.
    fn supports(&self, target: Target) -> bool;
    /// The artifact's file name.
    fn file_name(&self, m: &Manifest, target: Target) -> Result<String, Error>;
    /// The package URL of the artifact, for its bill of materials.
    fn purl(&self, m: &Manifest, target: Target) -> String;
    /// Where the gateway's app is installed.
    fn app_dir(&self, m: &Manifest) -> Result<String, Error>;
    /// Everything the package installs.
    fn stage(&self, m: &Manifest, payload: &Payload, templates: &Templates) -> Result<Stage, Error>;
    /// Writes `<out_dir>/<file_name>` and returns its path; on error no file is
    /// left under that name. `signer` signs an `.rpm`; the other formats are
    /// signed by their repositories or not at all.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        m: &Manifest,
        target: Target,
        stage: &Stage,
        templates: &Templates,
        opts: &BuildOptions,
        out_dir: &Path,
        signer: Option<&Signer>,
    ) -> Result<PathBuf, Error>;
}

impl Format {
    /// The format's implementation: the one place that maps a format to its module.
    pub fn writer(self) -> &'static dyn Writer {
        match self {
            Format::Deb => &crate::linux::Flavor::Deb,
            Format::Rpm => &crate::linux::Flavor::Rpm,
            Format::Pkg => &crate::macos::Pkg,
        }
    }
}

/// Every template of every format, each once.
pub fn template_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = crate::template::COMMON.to_vec();
    for format in Format::ALL {
        for name in format.writer().templates() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Reads every template of every format from the repository at `root`.
pub fn load_templates(root: &Path) -> Result<Templates, Error> {
    Templates::load(root, &template_names())
}
