//! The direction of the dependencies, as ARCHITECTURE.md states it, checked on
//! the sources: a file must not name a module of a layer above it.

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    /// The format modules, which only `pkg/src/format.rs` maps to.
    const FORMATS: &[&str] = &["crate::deb", "crate::rpm", "crate::macos", "crate::linux", "crate::format"];

    /// (files, names they must not use, the rule).
    const RULES: &[(&[&str], &[&str], &str)] = &[
        (
            &["pkg/src/template.rs", "pkg/src/stage.rs", "pkg/src/target.rs", "pkg/src/sbom.rs", "pkg/src/licences.rs"],
            FORMATS,
            "the renderer and the staged tree know no format",
        ),
        (&["pkg/src/stage.rs"], &["crate::licences"], "licences read the staged tree, not the other way"),
        (
            &["pkg/src/gateway.rs", "pkg/src/payload.rs", "pkg/src/manifest.rs", "pkg/src/jiti.rs"],
            FORMATS,
            "the contract, the payload and the manifest know no format",
        ),
        (
            &["xtask/src/fetch.rs", "xtask/src/warm.rs", "xtask/src/dist.rs", "xtask/src/repo.rs"],
            &["crate::test", "crate::e2e", "crate::bench", "crate::release", "crate::checks"],
            "building never calls the checks",
        ),
        (
            &[
                "xtask/src/bench/mod.rs",
                "xtask/src/bench/reference.rs",
                "xtask/src/bench/report.rs",
                "xtask/src/e2e/mod.rs",
                "xtask/src/e2e/packages.rs",
                "xtask/src/e2e/tree.rs",
                "xtask/src/e2e/container.rs",
                "xtask/src/release.rs",
                "xtask/src/rpm_checks.rs",
                "xtask/src/pkg_checks.rs",
                "xtask/src/repo_checks.rs",
            ],
            &["crate::test"],
            "no command depends on the test command (tools come from tools.rs)",
        ),
        (
            &["xtask/src/dist.rs"],
            &["pkg::deb::", "pkg::rpm::write", "pkg::macos::", "Format::Deb", "Format::Rpm", "Format::Pkg"],
            "dist builds every format through format::Writer",
        ),
    ];

    /// The code of a source file: no comments, no tests.
    fn code(text: &str) -> String {
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
    }

    fn broken(root: &Path) -> Vec<String> {
        let mut broken = Vec::new();
        for (files, banned, rule) in RULES {
            for file in *files {
                let text = code(&fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")));
                for name in *banned {
                    if text.contains(name) {
                        broken.push(format!("{file} names {name}: {rule}"));
                    }
                }
            }
        }
        // pkg knows nothing of xtask.
        for path in crate::files::regular_files(&root.join("pkg/src")).unwrap() {
            if path.extension().is_some_and(|x| x == "rs") && code(&fs::read_to_string(&path).unwrap()).contains("xtask::") {
                broken.push(format!("{} names xtask: pkg knows nothing of xtask", path.display()));
            }
        }
        // Every source file that ARCHITECTURE.md's code map names is there.
        match fs::read_to_string(root.join("ARCHITECTURE.md")) {
            Err(e) => broken.push(format!("ARCHITECTURE.md cannot be read ({e}): it states these rules and the code map")),
            Ok(map) => {
                for named in map.split('`').skip(1).step_by(2).filter(|w| w.contains("/src/") && w.ends_with(".rs") && !w.contains(' ')) {
                    // `dir/{a,b}.rs` names dir/a.rs and dir/b.rs.
                    let paths: Vec<String> = match (named.split_once('{'), named.split_once('}')) {
                        (Some((head, _)), Some((inner, tail))) => {
                            inner.split_once('{').map_or("", |(_, i)| i).split(',').map(|name| format!("{head}{name}{tail}")).collect()
                        }
                        _ => vec![named.to_owned()],
                    };
                    for path in paths.iter().filter(|p| !root.join(p).is_file()) {
                        broken.push(format!("ARCHITECTURE.md names {path}, which is not in the tree"));
                    }
                }
            }
        }
        broken
    }

    #[test]
    fn dependencies_point_one_way() {
        let broken = broken(&crate::root());
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }

    #[test]
    fn a_file_that_names_a_layer_above_breaks_the_rule() {
        let dir = crate::files::tempdir("layers").unwrap();
        for (files, _, _) in RULES {
            for file in *files {
                let to = dir.join(file);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                fs::write(&to, "// crate::linux in a comment is no use\nfn f() {}\n").unwrap();
            }
        }
        fs::create_dir_all(dir.join("pkg/src/macos")).unwrap();
        assert!(broken(&dir).iter().any(|b| b.contains("ARCHITECTURE.md cannot be read")), "a missing ARCHITECTURE.md passed");
        fs::write(dir.join("ARCHITECTURE.md"), "").unwrap();
        assert_eq!(broken(&dir), Vec::<String>::new());
        fs::write(dir.join("pkg/src/template.rs"), "use crate::linux::TEMPLATES;\n").unwrap();
        fs::write(dir.join("xtask/src/fetch.rs"), "crate::test::need_tools(sh, &[])?;\n").unwrap();
        fs::write(dir.join("pkg/src/macos/x.rs"), "// xtask:: in a comment\nuse xtask::root;\n#[cfg(test)]\nuse crate::linux;\n").unwrap();
        fs::create_dir_all(dir.join("pkg/src/rpm")).unwrap();
        fs::write(dir.join("pkg/src/rpm/header.rs"), "use xtask::root;\n").unwrap();
        fs::write(dir.join("ARCHITECTURE.md"), "| the writer | `pkg/src/template.rs` |\n| gone | `pkg/src/rpm.rs` |\n| two | `pkg/src/{template,gone}.rs` |\n")
            .unwrap();
        let got = broken(&dir);
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(got[0].contains("template.rs names crate::linux") && got[1].contains("fetch.rs names crate::test"), "{got:#?}");
        assert!(got[2..4].iter().any(|g| g.contains("rpm/header.rs names xtask")), "{got:#?}");
        assert!(got[4].contains("ARCHITECTURE.md names pkg/src/rpm.rs") && got[5].contains("names pkg/src/gone.rs"), "{got:#?}");
    }
}
