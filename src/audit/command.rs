//! `outage-drill audit PATH...`: the arguments, the run from scan to
//! written files, and the text and exit code it ends with.
//!
//! [`run`] never prints and never exits: it returns an [`AuditExit`] and the
//! CLI prints `stdout` and `stderr` and exits with `code`. That keeps the
//! command testable as a function.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::criticality::Mapping;
use super::error::AuditError;
use super::model::{Finding, Format, Report};
use super::{emit, register, scan};

/// Find every alert path that sends mail through Exchange Online, and
/// whether it has a fallback.
///
/// Reads Logic Apps / Microsoft Sentinel playbooks (ARM templates and
/// workflow definitions), Shuffle and n8n workflow exports and Prometheus
/// Alertmanager configs, recognised by content; other files get a labelled
/// text match. Works on files only. Exit 0 when the gate passes, 1 when a
/// path without a fallback fails it, 2 on a usage or input error.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AuditArgs {
    /// Files or folders to audit (folders are searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Write dependency-register.csv and dependency-register.md into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// YAML mapping of workflow-name patterns to critical/high/medium/low;
    /// with it, only critical paths without a fallback fail the gate.
    #[arg(long, value_name = "FILE")]
    pub criticality: Option<PathBuf>,

    /// Write a ready-to-edit drill scenario (format v1) with one alert per
    /// email-dependent workflow, and its JSON Schema beside it.
    #[arg(long, value_name = "FILE")]
    pub emit_scenario: Option<PathBuf>,

    /// Also fail the gate on partial fallbacks, unparsed matches and files
    /// that could not be parsed.
    #[arg(long)]
    pub strict: bool,
}

/// How an audit ended: the exit code and the text to print.
#[derive(Clone, Debug)]
pub struct AuditExit {
    /// 0: the gate passed; 1: a path without a fallback failed it (ready
    /// for `ExitCode::from`).
    pub code: u8,
    /// The findings, the summary and what was written.
    pub stdout: String,
    /// Files that could not be parsed, and warnings.
    pub stderr: String,
    /// The full report, for callers that want more than the text.
    pub report: Report,
}

/// Runs the audit described by `args`.
///
/// # Errors
///
/// An [`AuditError`] (exit code 2) when a path does not exist, the
/// criticality mapping is invalid, or an output cannot be written.
pub fn run(args: &AuditArgs) -> Result<AuditExit, AuditError> {
    let mapping = args.criticality.as_deref().map(Mapping::load).transpose()?;
    let mut report = scan::scan(&args.paths)?;
    if let Some(mapping) = &mapping {
        mapping.apply(&mut report);
    }

    let mut stdout = String::new();
    let mut stderr = String::new();
    for finding in report.confirmed().chain(report.unparsed()) {
        let _ = writeln!(stdout, "{}", line(finding));
    }
    for problem in &report.problems {
        let _ = writeln!(stderr, "warning: {problem}");
    }
    for note in &report.notes {
        let _ = writeln!(stderr, "note: {note}");
    }
    let _ = writeln!(stdout, "summary: {}", report.summary());
    let _ = writeln!(stdout, "{}", gate_line(&report, args.strict));

    if let Some(dir) = &args.out {
        let written = register::write(dir, &report, args.strict)?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        let _ = writeln!(stdout, "wrote {}", names.join(", "));
    }
    if let Some(path) = &args.emit_scenario {
        match emit::write(path, &report)? {
            Some((_, alerts)) => {
                let _ = writeln!(
                    stdout,
                    "wrote {} ({alerts} {}; schema in {} beside it): edit the target, then \
                     `outage-drill validate {}`",
                    path.display(),
                    if alerts == 1 { "alert" } else { "alerts" },
                    emit::SCHEMA_NAME,
                    path.display()
                );
            }
            None => {
                let _ = writeln!(
                    stderr,
                    "warning: --emit-scenario: nothing written to {}: no email-dependent path \
                     was found, and a drill needs at least one alert\n  hint: audit the folder \
                     that holds your playbooks and alert configs",
                    path.display()
                );
            }
        }
    }

    let code = if report.gate_fails(args.strict) { 1 } else { 0 };
    Ok(AuditExit {
        code,
        stdout,
        stderr,
        report,
    })
}

/// One finding as a line: verdict, criticality, workflow/action, where.
fn line(f: &Finding) -> String {
    let (verdict, criticality) = match f.format {
        Format::Unparsed => ("unparsed".to_string(), "-".to_string()),
        _ => (f.verdict.to_string(), f.criticality.to_string()),
    };
    let mut text = format!(
        "{verdict:<8} {criticality:<9} {} / {}  {} {}",
        f.workflow,
        f.action,
        f.file.display(),
        f.location
    );
    if !f.fallback.is_empty() {
        let _ = write!(text, "\n         fallback: {}", f.fallback_channels());
    }
    if let Some(gap) = f.gap {
        let _ = write!(text, "\n         gap: {}", gap.describe());
    }
    text
}

fn gate_line(report: &Report, strict: bool) -> String {
    let failing = report.failing(strict);
    let scope = if report.rated {
        "critical paths"
    } else {
        "paths"
    };
    let mut why = Vec::new();
    if !report.rated {
        why.push("no --criticality mapping, so every path counts");
    }
    if strict {
        why.push("strict: partial fallbacks, unparsed matches and unparsable files count too");
    }
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    };
    if !report.gate_fails(strict) {
        format!("gate: passed: no {scope} lack a fallback{why}")
    } else if failing.is_empty() {
        format!(
            "gate: failed: {} files could not be parsed{why}",
            report.problems.len()
        )
    } else {
        let (scope, verb) = if failing.len() == 1 {
            (scope.trim_end_matches('s'), "lacks")
        } else {
            (scope, "lack")
        };
        format!(
            "gate: failed: {} {scope} {verb} a fallback{why}",
            failing.len()
        )
    }
}
