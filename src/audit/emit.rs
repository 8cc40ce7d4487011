//! `--emit-scenario FILE`: a ready-to-edit drill scenario (format v1) with
//! one alert per email-dependent workflow, so the audit flows into a drill.
//!
//! The YAML is written by hand rather than serialised, so that it carries
//! comments saying what to edit; it is then loaded back through
//! [`crate::scenario::load::load_bytes`] — the same validation `run` uses —
//! and an emitted file that would not validate is an internal error, never
//! a file on disk. A JSON Schema generated from the scenario model is
//! written beside it for editors.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::channel::ChannelKind;
use super::error::AuditError;
use super::model::{Criticality, Finding, Report, Transport, Verdict};
use super::register::MARKER;
use super::text::{excerpt, slug};
use crate::scenario::load::{LoadOptions, load_bytes};
use crate::scenario::model::Scenario;

/// The schema file written beside an emitted scenario.
pub const SCHEMA_NAME: &str = "scenario-v1.schema.json";

/// An emitted scenario, not yet on disk.
#[derive(Clone, Debug)]
pub struct Emitted {
    pub yaml: String,
    pub alerts: usize,
}

/// The scenario for `report`, or `None` when no email-dependent path was
/// found (a drill needs at least one alert).
///
/// # Errors
///
/// [`AuditError::Emit`] if the generated YAML does not validate (a bug).
pub fn scenario(report: &Report) -> Result<Option<Emitted>, AuditError> {
    let workflows = group(report);
    if workflows.is_empty() {
        return Ok(None);
    }
    let yaml = render(report, &workflows);
    load_bytes(
        Path::new("emitted-scenario.yaml"),
        yaml.as_bytes(),
        LoadOptions::default(),
        &|_| None,
    )
    .map_err(|e| AuditError::Emit(e.to_string()))?;
    Ok(Some(Emitted {
        yaml,
        alerts: workflows.len(),
    }))
}

/// Writes the scenario to `path` and the schema beside it; returns the
/// files written and the number of alerts, or `None` when there was nothing
/// to drill.
///
/// # Errors
///
/// [`AuditError::Write`] when a file cannot be written, [`AuditError::Emit`]
/// as for [`scenario`].
pub fn write(path: &Path, report: &Report) -> Result<Option<(Vec<PathBuf>, usize)>, AuditError> {
    let Some(emitted) = scenario(report)? else {
        return Ok(None);
    };
    let write = |p: &Path, body: &str| {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| AuditError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(p, body).map_err(|source| AuditError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    write(path, &emitted.yaml)?;
    let schema = path.with_file_name(SCHEMA_NAME);
    let mut schema_value = serde_json::to_value(schemars::schema_for!(Scenario))
        .map_err(|e| AuditError::Emit(e.to_string()))?;
    if let Some(map) = schema_value.as_object_mut() {
        // Sorts first, so a later audit recognises the file as its own output.
        map.insert(
            "$comment".into(),
            format!("{MARKER} (the scenario model)").into(),
        );
    }
    let body =
        serde_json::to_string_pretty(&schema_value).map_err(|e| AuditError::Emit(e.to_string()))?;
    write(&schema, &body)?;
    Ok(Some((vec![path.to_path_buf(), schema], emitted.alerts)))
}

/// Confirmed findings grouped by workflow, in report order.
fn group(report: &Report) -> Vec<(String, Vec<&Finding>)> {
    let mut out: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in report.confirmed() {
        match out.iter_mut().find(|(w, _)| *w == f.workflow) {
            Some((_, list)) => list.push(f),
            None => out.push((f.workflow.clone(), vec![f])),
        }
    }
    out
}

/// Severity and default RTO for a criticality; unrated paths are drilled
/// as medium until someone rates them.
fn severity(c: Criticality) -> (&'static str, &'static str) {
    match c {
        Criticality::Critical => ("critical", "5m"),
        Criticality::High => ("high", "15m"),
        Criticality::Medium | Criticality::Unrated => ("medium", "30m"),
        Criticality::Low => ("low", "1h"),
    }
}

/// An alternate channel found as a fallback: (name, scenario kind).
fn alternate(kind: ChannelKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        ChannelKind::Slack => ("soc-slack", "slack"),
        ChannelKind::Teams => ("soc-teams", "teams"),
        ChannelKind::PagerDuty => ("oncall-pagerduty", "pagerduty"),
        ChannelKind::Ntfy => ("soc-ntfy", "ntfy"),
        ChannelKind::Opsgenie => ("oncall-opsgenie", "webhook"),
        ChannelKind::Telegram => ("soc-telegram", "webhook"),
        ChannelKind::Sms => ("oncall-sms", "webhook"),
        ChannelKind::Discord => ("soc-discord", "webhook"),
        ChannelKind::Chat => ("soc-chat", "webhook"),
        ChannelKind::OtherMail => ("backup-mail-api", "webhook"),
        ChannelKind::Webhook => ("fallback-webhook", "webhook"),
        ChannelKind::Unresolved => return None,
    })
}

/// A double-quoted YAML string. `${` becomes `$${`, which the loader reads
/// as a literal `${` rather than an environment variable.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.replace("${", "$${").chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Workflow template expressions (`@{...}`, `{{ ... }}`) replaced by `…`:
/// a test alert's title is plain text.
fn without_templates(text: &str) -> String {
    static TEMPLATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"@\{[^}]*\}|\{\{[^}]*\}\}").expect("static regex"));
    TEMPLATE.replace_all(text, "…").into_owned()
}

/// Text safe inside a `#` comment line.
fn comment(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn render(report: &Report, workflows: &[(String, Vec<&Finding>)]) -> String {
    let confirmed: Vec<&Finding> = report.confirmed().collect();
    let uses_graph = confirmed.iter().any(|f| f.transport == Transport::Graph);
    let kinds: BTreeSet<ChannelKind> = confirmed
        .iter()
        .flat_map(|f| f.fallback.iter().map(|r| r.channel.kind))
        .collect();
    let alternates: Vec<(&str, &str)> = kinds.into_iter().filter_map(alternate).collect();
    let without = confirmed
        .iter()
        .filter(|f| f.verdict == Verdict::No)
        .count();

    let mut y = String::new();
    let _ = writeln!(y, "# yaml-language-server: $schema={SCHEMA_NAME}");
    let _ = writeln!(
        y,
        "# Drill scenario {MARKER} from {} email-dependent {}.",
        workflows.len(),
        if workflows.len() == 1 {
            "workflow"
        } else {
            "workflows"
        }
    );
    let _ = writeln!(
        y,
        "# Ready to edit: check each alert's severity and RTO, point `target` at your\n\
         # pipeline, then `outage-drill validate` and `outage-drill run` this file."
    );
    let _ = writeln!(y, "version: 1");
    let _ = writeln!(y, "name: exchange-online-exposure");
    let _ = writeln!(
        y,
        "title: {}",
        quoted(&format!(
            "Exchange Online outage: {} email-dependent workflows",
            workflows.len()
        ))
    );
    let _ = writeln!(y, "description: |");
    let _ = writeln!(
        y,
        "  From the exposure audit: {}.",
        comment(&report.summary())
    );
    let _ = writeln!(
        y,
        "  {without} paths had no fallback when audited; their alerts are expected to be\n  \
         dropped until a fallback is added. Each alert below stands for one workflow."
    );
    let _ = writeln!(y, "controls: [CP-4, CP-8, CP-11, IR-3, IR-4]");
    let _ = writeln!(
        y,
        "\nexercise:\n  type: functional\n  frequency: quarterly\n"
    );

    // Channels: the primary mail path, then the fallbacks the audit found.
    let _ = writeln!(y, "channels:");
    let _ = writeln!(
        y,
        "  # The primary mail path (Exchange Online), faulted during the outage."
    );
    let _ = writeln!(
        y,
        "  - {{ name: exchange-smtp, kind: smtp, role: primary, listen: \"127.0.0.1:2525\" }}"
    );
    let mut primaries = vec!["exchange-smtp"];
    if uses_graph {
        let _ = writeln!(
            y,
            "  - {{ name: exchange-graph, kind: graph, role: primary, listen: \"127.0.0.1:8443\" }}"
        );
        primaries.push("exchange-graph");
    }
    if alternates.is_empty() {
        let _ = writeln!(
            y,
            "  # No fallback channel was found. This alternate stands for the one you will\n  \
             # add; it is not in the routes, so the drill fails until you add it there."
        );
        let _ = writeln!(
            y,
            "  - {{ name: soc-slack, kind: slack, listen: \"127.0.0.1:9101\" }}"
        );
    } else {
        let _ = writeln!(y, "  # Alternate channels the audit found as fallbacks.");
        for (i, (name, kind)) in alternates.iter().enumerate() {
            let fate = if *kind == "teams" {
                format!(", shares_fate_with: [{}]", primaries.join(", "))
            } else {
                String::new()
            };
            let _ = writeln!(
                y,
                "  - {{ name: {name}, kind: {kind}, listen: \"127.0.0.1:{}\"{fate} }}",
                9101 + i
            );
        }
    }

    // The outage: the EX1331830 pattern, 90 minutes.
    let _ = writeln!(y, "\noutage:\n  duration: 90m\n  faults:");
    let _ = writeln!(
        y,
        "    exchange-smtp: {{ fail: defer, stage: rcpt, reply: \"451 4.7.500 Server busy. \
         Please try again later\" }}"
    );
    if uses_graph {
        let _ = writeln!(y, "    exchange-graph: {{ fail: unavailable }}");
    }
    if alternates.iter().any(|(_, k)| *k == "teams") {
        let _ = writeln!(
            y,
            "    soc-teams: {{ fail: unavailable }}  # Microsoft 365, like Exchange"
        );
    }

    let _ = writeln!(
        y,
        "\ntarget:\n  # The harness's reference notifier: it tries the mail path, then each fallback\n  \
         # the audit found. It shows what the workflows' fallbacks must achieve, without\n  \
         # running them. To drill a workflow itself, use `kind: webhook` (e.g. a Logic\n  \
         # App's HTTP trigger URL) or `kind: command` instead.\n  kind: builtin\n  \
         mode: failover\n  routes:"
    );
    for p in &primaries {
        let _ = writeln!(y, "    - {{ channel: {p}, timeout: 30s }}");
    }
    for (name, _) in &alternates {
        let _ = writeln!(y, "    - {{ channel: {name}, timeout: 10s }}");
    }

    let _ = writeln!(y, "\nalerts:");
    let mut names = BTreeSet::new();
    for (i, (workflow, findings)) in workflows.iter().enumerate() {
        let criticality = findings
            .iter()
            .map(|f| f.criticality)
            .min()
            .unwrap_or(Criticality::Unrated);
        let (sev, rto) = severity(criticality);
        let mut name = slug(workflow);
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{}-{n}", slug(workflow));
            n += 1;
        }
        let verdicts: BTreeSet<&str> = findings.iter().map(|f| f.verdict.as_str()).collect();
        let first = findings[0];
        let _ = writeln!(
            y,
            "  # {} ({}, {}): {} send(s), fallback {}; criticality {}{}",
            comment(workflow),
            first.format,
            comment(&first.file.display().to_string()),
            findings.len(),
            verdicts.into_iter().collect::<Vec<_>>().join("/"),
            criticality,
            if criticality == Criticality::Unrated {
                " (set the severity)"
            } else {
                ""
            }
        );
        let about = findings
            .iter()
            .map(|f| f.notifies.as_str())
            .find(|t| !t.is_empty())
            .unwrap_or(first.action.as_str());
        let title = excerpt(&without_templates(&format!("{workflow}: {about}")), 100);
        let at = 1 + (2 * i) % 88;
        let _ = writeln!(
            y,
            "  - {{ name: {name}, title: {}, severity: {sev}, at: {at}m, rto: {rto} }}",
            quoted(&title)
        );
    }
    let _ = writeln!(
        y,
        "\nchecks: {{ baseline: true, recovery: true, rto: 2m }}\npass: {{ max_dropped: 0, max_late: 0 }}"
    );
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_template_expressions() {
        assert_eq!(
            without_templates("Phish: @{triggerBody()?['title']} by {{ $json.user }}"),
            "Phish: … by …"
        );
    }

    #[test]
    fn quoting_survives_quotes_backslashes_and_variables() {
        let q = quoted("say \"hi\" \\ ${HOME}\n");
        assert_eq!(q, "\"say \\\"hi\\\" \\\\ $${HOME} \"");
        let back: String = serde_saphyr::from_str(&q).unwrap();
        let (expanded, _) = crate::scenario::load::expand(&back, &|_| None).unwrap();
        assert_eq!(expanded, "say \"hi\" \\ ${HOME} ");
    }
}
