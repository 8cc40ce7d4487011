//! Reading a scenario file: YAML, `${VAR}` substitution, then validation.
//!
//! Every failure becomes a [`ScenarioError`] that names the file, the line
//! and column (from the YAML parser) or the key path (from validation), and
//! a hint. Substitution runs on the parsed values, not on the raw text, so a
//! secret containing quotes or colons cannot change the YAML's structure;
//! each substituted value is registered as a secret to be masked.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::Scenario;
use super::validate;
use crate::secret::{MASK, Secrets};

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub path: PathBuf,
    /// The scenario's folder: working directory of every command it runs.
    pub dir: PathBuf,
    pub secrets: Secrets,
    /// The scenario as records show it: each `${NAME}` written as `***`
    /// where it stood, every other value as written (so a short secret
    /// cannot mask a digit of a duration and leave a copy that no longer
    /// reads back). The journal's `drill_started` carries this copy.
    pub shown: Scenario,
    /// Each channel's parsed `listen` address.
    pub listen: BTreeMap<String, SocketAddr>,
}

/// What is wrong with a scenario, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// Key path such as `alerts[2].expect[0]`.
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ScenarioError {
    pub fn at_key(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.display().to_string(),
            line: None,
            column: None,
            key: Some(key.into()),
            message: message.into(),
            hint: None,
        }
    }

    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.display().to_string(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Options that come from the command line rather than the file.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// `--live` was given.
    pub live: bool,
}

/// Reads, substitutes and validates the scenario at `path`.
pub fn load(path: &Path, options: LoadOptions) -> Result<Loaded, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ScenarioError::whole_file(path, format!("cannot read the scenario: {e}"))
            .hint("check the path; scenarios are YAML files such as scenarios/ci-smoke.yaml")
    })?;
    load_bytes(path, &bytes, options, &|name| std::env::var(name).ok())
}

/// Like [`load`], for bytes already read and a given environment.
pub fn load_bytes(
    path: &Path,
    bytes: &[u8],
    options: LoadOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ScenarioError> {
    let text = as_text(path, bytes)?;
    let parsed = parse(path, text)?;
    let mut secrets = Secrets::default();
    let (scenario, shown) = substitute(path, parsed, env, &mut secrets)?;
    let listen = validate::validate(path, &scenario, options)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    Ok(Loaded {
        scenario,
        path: path.to_path_buf(),
        dir,
        secrets,
        shown,
        listen,
    })
}

fn as_text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, ScenarioError> {
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err(ScenarioError::whole_file(
            path,
            format!("this is not a text file (a NUL byte at offset {at})"),
        )
        .hint("a scenario is a YAML text file; did you pass a binary or an archive?"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ScenarioError::whole_file(
            path,
            format!(
                "this is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
        .hint("save the scenario as UTF-8")
    })?;
    if text
        .trim()
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(ScenarioError::whole_file(path, "the scenario is empty")
            .hint("a scenario starts with `version: 1`; see scenarios/ci-smoke.yaml"));
    }
    Ok(text)
}

fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    serde_saphyr::from_str::<Scenario>(text).map_err(|e| {
        let location = e.location();
        let raw = e.to_string();
        let message = first_line(&raw);
        let hint = hint_for(&message);
        ScenarioError {
            file: path.display().to_string(),
            line: location.map(|l| l.line()),
            column: location.map(|l| l.column()),
            key: None,
            message,
            hint,
        }
    })
}

/// The parser's message without its rendered snippet.
fn first_line(raw: &str) -> String {
    let line = raw
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(raw)
        .trim();
    // The parser prefixes "error: " and may append " at line X column Y".
    let mut line = line.strip_prefix("error: ").unwrap_or(line);
    // "line 3 column 1: ..." repeats what the error's location already says.
    if line.starts_with("line ") {
        if let Some((_, rest)) = line.split_once(": ") {
            line = rest;
        }
    }
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// A suggestion for the common mistakes, including "did you mean".
fn hint_for(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = message
            .split("expected")
            .nth(1)
            .unwrap_or_default()
            .trim_start_matches(" one of")
            .split(|c: char| c == ',' || c == '`' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        let best = expected
            .iter()
            .map(|cand| (strsim::jaro_winkler(unknown, cand), *cand))
            .filter(|(score, _)| *score > 0.75)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        return Some(match best {
            Some((_, cand)) => format!("did you mean `{cand}`?"),
            None => format!("allowed here: {}", expected.join(", ")),
        });
    }
    if message.contains("unknown variant") {
        return Some("check the spelling against docs/scenario-format.md".to_string());
    }
    if message.contains("duration") {
        return Some("durations are written like `250ms`, `30s`, `5m` or `1h30m`".to_string());
    }
    if message.contains("missing field") {
        return Some("see docs/scenario-format.md for the required keys".to_string());
    }
    if message.contains("expected") || message.contains("invalid type") {
        return Some(
            "this value has the wrong type here; docs/scenario-format.md lists each key's type"
                .to_string(),
        );
    }
    Some("check the YAML syntax at this point: brackets, quotes and indentation".to_string())
}

/// Replaces `${NAME}` in every string value; `$${` stands for a literal `${`.
/// Returns the scenario and the copy records show ([`Loaded::shown`]).
fn substitute(
    path: &Path,
    scenario: Scenario,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Secrets,
) -> Result<(Scenario, Scenario), ScenarioError> {
    let mut value = serde_json::to_value(&scenario)
        .map_err(|e| ScenarioError::whole_file(path, format!("internal: {e}")))?;
    let written = value.clone();
    let mut changed = false;
    walk(&mut value, String::new(), &mut |key, text| {
        if !text.contains('$') {
            return Ok(());
        }
        let (out, names) = expand(text, env).map_err(|name| {
            ScenarioError::at_key(
                path,
                key,
                format!("environment variable `{name}` is not set"),
            )
            .hint(format!(
                "export {name}=... before running, or write the value in the file"
            ))
        })?;
        for name in &names {
            if let Some(v) = env(name) {
                secrets.add(&v);
            }
        }
        if out != *text {
            *text = out;
            changed = true;
        }
        Ok(())
    })?;
    if !changed {
        return Ok((scenario.clone(), scenario));
    }
    let scenario: Scenario = serde_json::from_value(value).map_err(|e| {
        ScenarioError::whole_file(path, format!("a substituted value does not fit: {e}"))
            .hint("`${VAR}` may only stand in string values such as URLs, headers and argv")
    })?;
    Ok((scenario.clone(), shown(written, &scenario, secrets)))
}

/// The scenario with `***` for each `${NAME}` in what was `written`; when
/// that does not fit (a `${NAME}` standing for a duration), the substituted
/// scenario with its strings masked instead.
fn shown(mut written: Value, scenario: &Scenario, secrets: &Secrets) -> Scenario {
    let masked = walk(&mut written, String::new(), &mut |_, text| {
        if text.contains('$')
            && let Ok((out, _)) = expand(text, &|_| Some(MASK.to_string()))
        {
            *text = out;
        }
        Ok(())
    });
    if masked.is_ok()
        && let Ok(shown) = serde_json::from_value(written)
    {
        return shown;
    }
    let mut value = serde_json::to_value(scenario).unwrap_or(Value::Null);
    secrets.mask_strings(&mut value);
    serde_json::from_value(value).unwrap_or_else(|_| scenario.clone())
}

type Visit<'a> = dyn FnMut(&str, &mut String) -> Result<(), ScenarioError> + 'a;

fn walk(value: &mut Value, key: String, f: &mut Visit<'_>) -> Result<(), ScenarioError> {
    match value {
        Value::String(s) => f(&key, s),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{key}[{i}]"), f)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let sub = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                walk(v, sub, f)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Expands `${NAME}` references; returns the names used, or the first unset
/// name as the error.
pub fn expand(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("$${") {
            out.push_str("${");
            rest = &tail[3..];
        } else if let Some(body) = tail.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    let name = &body[..end];
                    let value = env(name).ok_or_else(|| name.to_string())?;
                    out.push_str(&value);
                    names.push(name.to_string());
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok((out, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: 1
name: t
title: T
channels:
  - { name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\" }
  - { name: soc-slack, kind: slack, listen: \"127.0.0.1:0\" }
outage:
  duration: 10s
  faults:
    mail: { fail: defer }
target:
  kind: builtin
  routes:
    - { channel: mail, timeout: 1s }
    - { channel: soc-slack, timeout: 1s }
alerts:
  - { name: a, severity: critical, at: 1s, rto: 5s }
";

    fn try_load(text: &str) -> Result<Loaded, ScenarioError> {
        let env = |name: &str| match name {
            "TOKEN" => Some("s3cr3t-value".to_string()),
            _ => None,
        };
        load_bytes(
            Path::new("t.yaml"),
            text.as_bytes(),
            LoadOptions::default(),
            &env,
        )
    }

    fn error(text: &str) -> ScenarioError {
        try_load(text).expect_err("should be refused")
    }

    #[test]
    fn the_good_scenario_loads() {
        let loaded = try_load(GOOD).unwrap();
        assert_eq!(loaded.scenario.alerts[0].rto.as_millis(), 5000);
        assert_eq!(loaded.listen["mail"].ip().to_string(), "127.0.0.1");
    }

    #[test]
    fn yaml_syntax_errors_have_a_line_and_column() {
        let e = error("version: 1\nname: [unclosed\n");
        assert!(e.line.is_some(), "{e}");
        assert!(e.to_string().starts_with("t.yaml:"), "{e}");
    }

    #[test]
    fn unknown_keys_suggest_the_right_one() {
        let e = error(&GOOD.replace("title: T", "titel: T"));
        assert!(e.message.contains("titel"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `title`?"), "{e}");
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn wrong_types_and_bad_durations_are_located() {
        let e = error(&GOOD.replace("version: 1", "version: one"));
        assert_eq!(e.line, Some(1), "{e}");
        let e = error(&GOOD.replace("rto: 5s", "rto: soon"));
        assert_eq!(e.line, Some(17), "{e}");
        assert!(e.hint.unwrap().contains("30s"));
    }

    #[test]
    fn cross_references_are_checked() {
        let e = error(&GOOD.replace("{ channel: soc-slack", "{ channel: soc-slak"));
        assert_eq!(e.key.as_deref(), Some("target.routes[1].channel"));
        assert_eq!(e.hint.as_deref(), Some("did you mean `soc-slack`?"));
        let e = error(&GOOD.replace("name: soc-slack", "name: mail"));
        assert!(e.message.contains("duplicate channel"), "{e}");
    }

    #[test]
    fn non_loopback_addresses_need_live() {
        let e = error(&GOOD.replace(
            "127.0.0.1:0\" }\n  - { name: soc",
            "10.1.2.3:25\" }\n  - { name: soc",
        ));
        assert!(e.message.contains("not a loopback"), "{e}");
        let live = GOOD.replace("title: T", "title: T\nlive: true");
        assert!(error(&live).message.contains("--live"));
    }

    #[test]
    fn variables_are_substituted_and_become_secrets() {
        let text = GOOD.replace("title: T", "title: \"T ${TOKEN}\"");
        let loaded = try_load(&text).unwrap();
        assert_eq!(loaded.scenario.title, "T s3cr3t-value");
        assert_eq!(loaded.secrets.mask(&loaded.scenario.title), "T ***");
        let e = error(&GOOD.replace("title: T", "title: \"${NOPE}\""));
        assert_eq!(e.key.as_deref(), Some("title"));
        assert!(e.message.contains("NOPE"));
        let literal = try_load(&GOOD.replace("title: T", "title: \"$${KEEP}\"")).unwrap();
        assert_eq!(literal.scenario.title, "${KEEP}");
    }

    #[test]
    fn the_shown_copy_is_masked_where_variables_stood_and_nowhere_else() {
        let text = GOOD.replace("title: T", "title: \"T1 ${PIN}\"");
        let env = |name: &str| (name == "PIN").then(|| "1".to_string());
        let loaded = load_bytes(
            Path::new("t.yaml"),
            text.as_bytes(),
            LoadOptions::default(),
            &env,
        )
        .unwrap();
        assert_eq!(loaded.scenario.title, "T1 1");
        assert_eq!(loaded.shown.title, "T1 ***");
        // The durations that hold the secret's digit keep it.
        assert_eq!(loaded.shown.alerts[0].at, loaded.scenario.alerts[0].at);
        assert_eq!(loaded.shown.target.routes[0].timeout.to_string(), "1s");
    }

    #[test]
    fn ranges_empty_files_and_garbage() {
        let e = error(&GOOD.replace("{ fail: defer }", "{ fail: defer, rate: 1.5 }"));
        assert_eq!(e.key.as_deref(), Some("outage.faults.mail.rate"));
        assert!(error("").message.contains("empty"));
        assert!(error("# only a comment\n").message.contains("empty"));
        let garbage = try_load_bytes(&[0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]);
        assert!(garbage.message.contains("not a text file"));
        let latin1 = try_load_bytes(b"title: caf\xe9\n");
        assert!(latin1.message.contains("UTF-8"));
    }

    fn try_load_bytes(bytes: &[u8]) -> ScenarioError {
        let env = |_: &str| None;
        load_bytes(Path::new("t.yaml"), bytes, LoadOptions::default(), &env).unwrap_err()
    }
}
