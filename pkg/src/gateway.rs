//! The gateway's runtime contract, written once: the environment it runs with and
//! the first configuration it is given. The systemd unit, the LaunchDaemon's
//! plist, the macOS admin command, both first-configuration writers, the build's
//! transpile-cache start and the start-up benchmark all render theirs from here,
//! so a change of the state directory (or of anything else below) in the
//! manifest changes every one of them. The Linux admin command and the e2e
//! checks read the rendered unit itself.

use crate::Error;

/// Where one instance of the gateway keeps its state, and how it is reached.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// `HOME`, `CLAWDBOT_STATE_DIR` and the configuration's directory.
    pub state_dir: String,
    /// `TMPDIR` (jiti's transpile cache is `$TMPDIR/jiti`) and V8's code cache.
    pub cache_dir: String,
    pub port: u16,
    /// The shell the gateway's tools run commands with.
    pub shell: String,
    /// `PATH`: the bundled Node.js's directory first.
    pub path: String,
}

/// One variable of the gateway's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    pub value: String,
    /// Why it is set, for a reader of the unit or the plist (empty: obvious).
    pub why: &'static str,
}

impl Runtime {
    /// The configuration file the gateway reads.
    pub fn config_path(&self) -> String {
        format!("{}/clawdbot.json", self.state_dir)
    }

    /// The gateway's whole environment, in the order every rendering lists it.
    pub fn environment(&self) -> Vec<Var> {
        let var = |name, value: &str, why| Var { name, value: value.to_owned(), why };
        vec![
            var("HOME", &self.state_dir, ""),
            var("CLAWDBOT_STATE_DIR", &self.state_dir, ""),
            var("CLAWDBOT_CONFIG_PATH", &self.config_path(), ""),
            var("CLAWDBOT_GATEWAY_PORT", &self.port.to_string(), ""),
            var("CLAWDBOT_NO_RESPAWN", "1", "The service manager restarts the gateway; it must not re-spawn itself."),
            var("SHELL", &self.shell, ""),
            var("PATH", &self.path, ""),
            var("TMPDIR", &self.cache_dir, "The transpile cache (jiti, in $TMPDIR/jiti) and V8's code cache survive restarts here."),
            var("NODE_COMPILE_CACHE", &format!("{}/node", self.cache_dir), ""),
            var(
                "JITI_TRY_NATIVE",
                "true",
                "A plugin's JavaScript imports load through Node's own loader, sharing the gateway's modules, instead of a transpiled second copy: half the start time. Only TypeScript is transpiled.",
            ),
            var("NODE_OPTIONS", "--disable-warning=ExperimentalWarning", ""),
        ]
    }

    /// The first configuration, as one double-quoted shell word for `printf`
    /// (a builtin: the token passes through no pipe, temporary file or process
    /// argument): `$token` is the shell variable holding the new gateway token.
    pub fn first_config_word(&self, log_file: bool) -> Result<String, Error> {
        plain(&Var { name: "state directory", value: self.state_dir.clone(), why: "" })?;
        Ok(format!("\"{}\"", self.first_config(log_file).replace('"', "\\\"")))
    }

    /// The first configuration, with `$token` where the gateway token goes. `log_file`:
    /// the gateway's own log file in the state directory (macOS, where launchd
    /// keeps no journal), or none (Linux: the journal has its output).
    pub fn first_config(&self, log_file: bool) -> String {
        let state = &self.state_dir;
        let mut lines = vec![
            "{".to_owned(),
            "  \"gateway\": {".to_owned(),
            "    \"mode\": \"local\",".to_owned(),
            format!("    \"port\": {},", self.port),
            "    \"bind\": \"loopback\",".to_owned(),
            "    \"auth\": { \"mode\": \"token\", \"token\": \"$token\" }".to_owned(),
            "  },".to_owned(),
            format!("  \"agents\": {{ \"defaults\": {{ \"workspace\": \"{state}/workspace\" }} }},"),
        ];
        if log_file {
            lines.push(format!("  \"logging\": {{ \"file\": \"{state}/logs/gateway.log\" }},"));
        }
        lines.push("  \"update\": { \"checkOnStart\": false }".to_owned());
        lines.push("}".to_owned());
        lines.join("\n")
    }
}

/// A value every rendering carries as it is: no quote, no `$`, `%`, `\`, `&`,
/// `<` or white space (the manifest's paths are checked for the same).
fn plain(var: &Var) -> Result<&str, Error> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || "'\"$%\\&<>`;".contains(c);
    if var.value.is_empty() || var.value.contains(bad) {
        return Err(Error::Value(format!("the gateway's {} {:?} cannot be written into a unit, a plist and a shell script as it is", var.name, var.value)));
    }
    Ok(&var.value)
}

/// `text` in lines of at most 80 characters, each starting with `lead`.
fn comment(lead: &str, text: &str, out: &mut Vec<String>) {
    let mut line = lead.to_owned();
    for word in text.split(' ') {
        if line.len() > lead.len() && line.len() + 1 + word.len() > 80 {
            out.push(std::mem::replace(&mut line, lead.to_owned()));
        }
        if line.len() > lead.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
}

/// `Environment=` lines of a systemd unit, each preceded by its reason.
pub fn unit_lines(env: &[Var]) -> Result<String, Error> {
    let mut out = Vec::new();
    for var in env {
        if !var.why.is_empty() {
            comment("# ", var.why, &mut out);
        }
        out.push(format!("Environment={}={}", var.name, plain(var)?));
    }
    Ok(out.join("\n"))
}

/// The entries of a plist's `EnvironmentVariables` dictionary, indented by
/// `indent` spaces after the first line (which the template indents).
pub fn plist_entries(env: &[Var], indent: usize) -> Result<String, Error> {
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    for var in env {
        if var.why.contains("--") {
            return Err(Error::Value(format!("the reason given for the gateway's {} holds \"--\", which ends an XML comment", var.name)));
        }
        if !var.why.is_empty() {
            let mut lines = Vec::new();
            comment(&format!("{pad}    "), var.why, &mut lines);
            out.push(format!("<!--\n{}\n{pad}-->", lines.join("\n")));
        }
        out.push(format!("<key>{}</key>", var.name));
        out.push(format!("<string>{}</string>", plain(var)?));
    }
    Ok(out.join(&format!("\n{pad}")))
}

/// `NAME='value' \` words of an `env -i` command, one per line, indented by
/// `indent` spaces after the first line.
pub fn env_words(env: &[Var], indent: usize) -> Result<String, Error> {
    let pad = " ".repeat(indent);
    let words: Vec<String> = env.iter().map(|var| Ok(format!("{}='{}' \\", var.name, plain(var)?))).collect::<Result<_, Error>>()?;
    Ok(words.join(&format!("\n{pad}")))
}

/// `NAME=value` arguments of `env`, for a program that runs the gateway itself.
pub fn env_args(env: &[Var]) -> Result<Vec<String>, Error> {
    env.iter().map(|var| Ok(format!("{}={}", var.name, plain(var)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> Runtime {
        Runtime {
            state_dir: "/var/lib/x".into(),
            cache_dir: "/var/cache/x".into(),
            port: 18789,
            shell: "/bin/sh".into(),
            path: "/opt/node/bin:/usr/bin:/bin".into(),
        }
    }

    #[test]
    fn every_rendering_carries_every_variable() {
        let env = runtime().environment();
        let unit = unit_lines(&env).unwrap();
        let plist = plist_entries(&env, 8).unwrap();
        let words = env_words(&env, 8).unwrap();
        for var in &env {
            assert!(unit.lines().any(|l| l == format!("Environment={}={}", var.name, var.value)), "{unit}");
            assert!(plist.contains(&format!("<key>{}</key>\n        <string>{}</string>", var.name, var.value)), "{plist}");
            assert!(words.contains(&format!("{}='{}' \\", var.name, var.value)), "{words}");
        }
        assert!(env.iter().any(|v| v.name == "CLAWDBOT_CONFIG_PATH" && v.value == "/var/lib/x/clawdbot.json"));
        assert!(env.iter().any(|v| v.name == "NODE_COMPILE_CACHE" && v.value == "/var/cache/x/node"));
    }

    #[test]
    fn a_value_that_a_rendering_would_change_is_refused() {
        for state in ["/var/lib/a b", "/var/lib/a'b", "/var/lib/$x", "/var/lib/100%", "/var/lib/a<b"] {
            let env = Runtime { state_dir: state.into(), ..runtime() }.environment();
            let e = unit_lines(&env).unwrap_err().to_string();
            assert!(e.contains("HOME") && e.contains(state), "{e}");
            assert!(plist_entries(&env, 0).is_err() && env_words(&env, 0).is_err() && env_args(&env).is_err());
        }
        let mut env = runtime().environment();
        env[0].why = "an --option";
        assert!(plist_entries(&env, 0).unwrap_err().to_string().contains("ends an XML comment"));
    }

    #[test]
    fn the_first_configuration_is_json_once_the_token_is_in() {
        for log_file in [false, true] {
            let text = runtime().first_config(log_file).replace("$token", "abc");
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json["gateway"]["port"], 18789);
            assert_eq!(json["gateway"]["bind"], "loopback");
            assert_eq!(json["gateway"]["auth"]["token"], "abc");
            assert_eq!(json["agents"]["defaults"]["workspace"], "/var/lib/x/workspace");
            assert_eq!(json["update"]["checkOnStart"], false);
            assert_eq!(json["logging"]["file"].as_str(), log_file.then_some("/var/lib/x/logs/gateway.log"));

            // What the first-configuration scripts write: the same, through sh.
            let word = runtime().first_config_word(log_file).unwrap();
            let out = std::process::Command::new("sh").arg("-c").arg(format!("token=abc; printf '%s\\n' {word}")).output().unwrap();
            assert!(out.status.success(), "{word}");
            assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{}\n", runtime().first_config(log_file).replace("$token", "abc")));
        }
        assert!(Runtime { state_dir: "/var/lib/a\"b".into(), ..runtime() }.first_config_word(false).is_err());
    }
}

#[cfg(test)]
mod contract_tests {
    use std::path::Path;

    /// Every template of every format, rendered from a manifest whose state and
    /// cache directories moved, names only the new ones.
    #[test]
    fn a_new_state_directory_in_the_manifest_reaches_every_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = std::fs::read_to_string(root.join("clawdbot.toml")).unwrap();
        let moved = text
            .replace("state_dir = \"/var/lib/clawdbot\"", "state_dir = \"/var/lib/elsewhere\"")
            .replace("cache_dir = \"/var/cache/clawdbot\"", "cache_dir = \"/var/cache/elsewhere\"")
            .replace("state_dir = \"/var/db/clawdbot\"", "state_dir = \"/var/db/elsewhere\"");
        assert_eq!(moved.matches("elsewhere").count(), 3, "the manifest's directories are not where this test expects them");
        let m = crate::Manifest::parse(&moved, Path::new("clawdbot.toml")).unwrap();
        let templates = crate::format::load_templates(root).unwrap();
        let mut seen = 0;
        for format in crate::Format::ALL {
            let writer = format.writer();
            let vars = writer.vars(&m).unwrap();
            for name in writer.templates().into_iter().chain(crate::template::COMMON.iter().copied()) {
                let out = templates.render(name, &vars).unwrap();
                for old in ["/var/lib/clawdbot", "/var/cache/clawdbot", "/var/db/clawdbot"] {
                    assert!(!out.contains(old), "{format}: {name} still names {old}");
                }
                seen += usize::from(out.contains("elsewhere"));
            }
        }
        assert!(seen >= 10, "only {seen} files name the new directories");
    }
}
