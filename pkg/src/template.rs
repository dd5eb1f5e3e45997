//! `@NAME@` substitution for the plain files under `systemd/` and `debian/`.
//!
//! The files stay readable (and copyable by any distribution's packager) with the
//! placeholders in them; every value comes from the manifest. A placeholder with no
//! value is an error naming the file, so a typo never ships as literal text.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

pub type Vars = BTreeMap<&'static str, String>;

/// Templates that every platform ships or includes, rendered with that
/// platform's values: the meaning of the admin command's words, sourced by each
/// platform's admin command, what a grant accepts, included by each
/// platform's grant command, the steps of each platform's migrate command, and
/// the script that seeds the transpile cache.
pub const COMMON: &[&str] =
    &["admin/clawdbot-words.sh", "admin/grant-paths.sh", "admin/grant-records.sh", "admin/messages.sh", "admin/migrate.sh", "admin/seed-cache.sh"];

/// Every template file of every format, read once from the repository.
#[derive(Debug, Clone)]
pub struct Templates {
    files: BTreeMap<&'static str, String>,
}

impl Templates {
    /// Reads the templates `names` (relative to `root`); see
    /// [`crate::format::load_templates`] for every format's.
    pub fn load(root: &Path, names: &[&'static str]) -> Result<Templates, Error> {
        let mut files = BTreeMap::new();
        for &name in names {
            let path = root.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            files.insert(name, text);
        }
        Ok(Templates { files })
    }

    /// Renders a template. A line `#include NAME` is replaced by the rendered
    /// template NAME, so that two scripts can share a fragment that neither can
    /// read at run time (a `preinst` runs before the package's files exist).
    pub fn render(&self, name: &str, vars: &Vars) -> Result<String, Error> {
        let text = self.files.get(name).ok_or_else(|| Error::Template { file: name.to_owned(), message: "not a known template".into() })?;
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            match line.trim_end().strip_prefix("#include ") {
                Some(inner) if inner != name => out.push_str(&self.render(inner, vars)?),
                Some(_) => return Err(Error::Template { file: name.to_owned(), message: "includes itself".into() }),
                None => out.push_str(&render(name, line, vars)?),
            }
        }
        Ok(out)
    }
}

/// The values every format's templates share.
pub fn common_vars(m: &crate::Manifest) -> Vars {
    Vars::from([
        ("NAME", m.package.name.clone()),
        ("VERSION", m.package.version.clone()),
        ("DESCRIPTION", m.service.description.clone()),
        ("PORT", m.service.port.to_string()),
    ])
}

/// Replaces every `@NAME@` (NAME: upper-case letters, digits, `_`) with its value.
pub fn render(file: &str, text: &str, vars: &Vars) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let name_len = after.bytes().take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_').count();
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'@') {
            let name = &after[..name_len];
            let value = vars.get(name).ok_or_else(|| Error::Template {
                file: file.to_owned(),
                message: format!("unknown placeholder @{name}@ (known: {})", vars.keys().copied().collect::<Vec<_>>().join(", ")),
            })?;
            out.push_str(value);
            rest = &after[name_len + 1..];
        } else {
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_leaves_other_at_signs() {
        let vars = Vars::from([("USER", "clawdbot".to_owned())]);
        assert_eq!(render("f", "User=@USER@ mail a@b.c @ @x@", &vars).unwrap(), "User=clawdbot mail a@b.c @ @x@");
    }

    #[test]
    fn unknown_placeholder_names_file_and_placeholder() {
        let e = render("systemd/x.service", "User=@USR@", &Vars::new()).unwrap_err().to_string();
        assert!(e.starts_with("systemd/x.service: unknown placeholder @USR@"), "{e}");
    }
}
