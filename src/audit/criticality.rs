//! The criticality mapping (`--criticality FILE`): workflow-name patterns
//! per level, so the register can say which email-dependent paths matter
//! most and the gate can fail on critical ones only.
//!
//! ```yaml
//! critical: ["Phishing*", "*containment*"]
//! high:     ["Impossible travel*"]
//! low:      ["*digest*"]
//! ```
//!
//! Patterns are globs (`*` any text, `?` one character), matched against the
//! whole workflow name, ignoring case. The most severe matching level wins;
//! a name no pattern matches stays `unrated`.

use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use super::error::AuditError;
use super::model::{Criticality, Report};
use super::text::yaml_message;

/// Compiled patterns, most severe level first.
#[derive(Debug)]
pub struct Mapping {
    levels: Vec<(Criticality, Vec<(String, Regex)>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    critical: Vec<String>,
    #[serde(default)]
    high: Vec<String>,
    #[serde(default)]
    medium: Vec<String>,
    #[serde(default)]
    low: Vec<String>,
}

impl Mapping {
    /// Reads and compiles the mapping at `path`.
    ///
    /// # Errors
    ///
    /// [`AuditError::Read`] when the file cannot be read,
    /// [`AuditError::Mapping`] (with line and column where known) when it
    /// is not a valid mapping.
    pub fn load(path: &Path) -> Result<Mapping, AuditError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuditError::Read {
            path: path.to_path_buf(),
            source,
            hint: "--criticality takes a YAML file such as `critical: [\"Phishing*\"]`",
        })?;
        Mapping::parse(path, &text)
    }

    /// Compiles the mapping in `text` (`path` is for messages only).
    pub fn parse(path: &Path, text: &str) -> Result<Mapping, AuditError> {
        let whole = |message: String, hint: &str| AuditError::Mapping {
            location: path.display().to_string(),
            message,
            hint: hint.to_string(),
        };
        let example = "write e.g. `critical: [\"Phishing*\", \"*containment*\"]`";
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Err(whole("the criticality mapping is empty".into(), example));
        }
        let file: MappingFile = serde_saphyr::from_str(text).map_err(|e| {
            let location = match e.location() {
                Some(l) => format!("{}:{}:{}", path.display(), l.line(), l.column()),
                None => path.display().to_string(),
            };
            let message = yaml_message(&e.to_string());
            let hint = did_you_mean(&message).unwrap_or_else(|| {
                format!("the keys are critical, high, medium and low; {example}")
            });
            AuditError::Mapping {
                location,
                message,
                hint,
            }
        })?;

        let mut levels = Vec::new();
        for (level, patterns) in [
            (Criticality::Critical, file.critical),
            (Criticality::High, file.high),
            (Criticality::Medium, file.medium),
            (Criticality::Low, file.low),
        ] {
            let mut compiled = Vec::new();
            for pattern in patterns {
                if pattern.trim().is_empty() {
                    return Err(whole(
                        format!("an empty pattern under `{level}`"),
                        "remove it, or write `*` to match every workflow",
                    ));
                }
                compiled.push((pattern.clone(), glob(&pattern)));
            }
            levels.push((level, compiled));
        }
        if levels.iter().all(|(_, p)| p.is_empty()) {
            return Err(whole(
                "the criticality mapping lists no pattern".into(),
                example,
            ));
        }
        Ok(Mapping { levels })
    }

    /// The criticality of a workflow name.
    pub fn rate(&self, workflow: &str) -> Criticality {
        self.levels
            .iter()
            .find(|(_, patterns)| patterns.iter().any(|(_, re)| re.is_match(workflow)))
            .map(|(level, _)| *level)
            .unwrap_or(Criticality::Unrated)
    }

    /// Rates every finding of `report` and marks the report as rated.
    pub fn apply(&self, report: &mut Report) {
        for finding in &mut report.findings {
            finding.criticality = self.rate(&finding.workflow);
        }
        report.rated = true;
    }
}

/// A case-insensitive, anchored regex for a glob.
fn glob(pattern: &str) -> Regex {
    let mut re = String::from("(?i)^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).expect("an escaped glob is a valid regex")
}

fn did_you_mean(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let unknown = rest.split('`').next()?;
    let best = Criticality::RATED
        .iter()
        .map(|c| (strsim::jaro_winkler(unknown, c.as_str()), c.as_str()))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Some(match best {
        Some((_, level)) => format!("did you mean `{level}`?"),
        None => "the keys are critical, high, medium and low".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Mapping, AuditError> {
        Mapping::parse(Path::new("crit.yaml"), text)
    }

    #[test]
    fn the_most_severe_matching_level_wins() {
        let m = parse("critical: ['Phish*']\nhigh: ['*triage*', 'Phishing-Digest']\n").unwrap();
        assert_eq!(m.rate("phishing-triage"), Criticality::Critical);
        assert_eq!(m.rate("Malware triage"), Criticality::High);
        assert_eq!(m.rate("Weekly report"), Criticality::Unrated);
        let q = parse("low: ['Report-??']").unwrap();
        assert_eq!(q.rate("report-01"), Criticality::Low);
        assert_eq!(q.rate("report-001"), Criticality::Unrated);
    }

    #[test]
    fn mistakes_are_located_and_explained() {
        let err = parse("critcal: ['x']\n").unwrap_err().to_string();
        assert!(
            err.starts_with("crit.yaml:1:1: unknown field `critcal`"),
            "{err}"
        );
        assert!(err.contains("did you mean `critical`?"), "{err}");
        let err = parse("# nothing\n").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = parse("# levels\nhigh:\n  name: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("crit.yaml:3:"), "{err}");
    }
}
