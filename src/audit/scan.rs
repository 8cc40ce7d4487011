//! Walking the audited paths and sending each file to the parser that
//! recognises its content — never its name.
//!
//! JSON (first byte `{` or `[`) goes to the Logic Apps, Shuffle and n8n
//! parsers in turn; YAML with a top-level `receivers:` key goes to the
//! Alertmanager parser; outage-drill scenarios are recognised and skipped;
//! anything else, and any document no parser claims, gets the generic text
//! match. A file that cannot be read or parsed becomes a
//! [`Problem`] and the scan goes on. Files are read on a few threads; the
//! report is sorted, so its order never depends on the threads.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use super::error::AuditError;
use super::model::{Finding, Format, Problem, Report};
use super::text::yaml_message;
use super::{alertmanager, generic, logicapp, n8n, register, shuffle};

/// Files larger than this are reported and skipped (exports are far smaller).
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Folders that hold version-control data, never workflows.
const SKIPPED_DIRS: &[&str] = &[".git", ".hg", ".svn"];

/// Scans every file under `paths` (files or folders, recursively).
///
/// # Errors
///
/// [`AuditError::MissingPath`] when a path does not exist. Unreadable or
/// malformed files are not errors: they are in [`Report::problems`].
pub fn scan(paths: &[PathBuf]) -> Result<Report, AuditError> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(AuditError::MissingPath { path: path.clone() });
        }
        walk(path, true, &mut files, &mut problems);
    }
    // The same file reached twice (a folder and a file in it, `./a` and `a`)
    // is scanned once, under the first path given.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    files.sort();

    let outcomes = scan_files(&files);
    let mut report = Report {
        files_scanned: files.len(),
        problems,
        ..Report::default()
    };
    let mut parsed_n8n = Vec::new();
    for outcome in outcomes {
        report.findings.extend(outcome.findings);
        report.problems.extend(outcome.problems);
        report.notes.extend(outcome.notes);
        parsed_n8n.extend(outcome.n8n);
        report.files_recognised += usize::from(outcome.recognised);
    }
    report.findings.extend(n8n::judge(parsed_n8n));

    // Confirmed paths first, each group in file order (stable within a file).
    report.findings.sort_by(|a, b| {
        (a.format == Format::Unparsed, &a.file).cmp(&(b.format == Format::Unparsed, &b.file))
    });
    report.problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(report)
}

/// Collects the files under `path`. Symlinks given on the command line
/// (`given`) are followed; symlinked folders found inside are not, so a
/// link cannot make the walk loop.
fn walk(path: &Path, given: bool, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let meta = if given {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            problems.push(unreadable(path, &e));
            return;
        }
    };
    if meta.is_file() || (meta.file_type().is_symlink() && path.is_file()) {
        files.push(path.to_path_buf());
        return;
    }
    if !meta.is_dir() {
        return; // sockets, fifos, and symlinked folders found inside
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(unreadable(path, &e));
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        let skip = child
            .file_name()
            .is_some_and(|n| SKIPPED_DIRS.iter().any(|d| n == *d));
        if !(skip && child.is_dir()) {
            walk(&child, false, files, problems);
        }
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read: {e}"),
        hint: "check its permissions; the rest of the scan went on".into(),
    }
}

/// What one file contributed.
#[derive(Default)]
struct Outcome {
    findings: Vec<Finding>,
    n8n: Vec<n8n::Parsed>,
    problems: Vec<Problem>,
    notes: Vec<String>,
    recognised: bool,
}

fn scan_files(files: &[PathBuf]) -> Vec<Outcome> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    local.push((i, scan_file(file)));
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(local);
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, o)| o).collect()
}

fn scan_file(path: &Path) -> Outcome {
    let mut out = Outcome::default();
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            out.problems.push(Problem {
                file: path.to_path_buf(),
                line: None,
                column: None,
                message: format!("skipped: {} bytes is more than the 32 MiB limit", m.len()),
                hint: "workflow exports are far smaller; audit the export itself".into(),
            });
            return out;
        }
        Ok(_) => {}
        Err(e) => {
            out.problems.push(unreadable(path, &e));
            return out;
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            out.problems.push(unreadable(path, &e));
            return out;
        }
    };
    if bytes.iter().take(8192).any(|b| *b == 0) {
        return out; // binary
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if is_own_output(text) {
        return out;
    }

    let first = text.trim_start().as_bytes().first().copied();
    if matches!(first, Some(b'{' | b'[')) {
        json_file(path, text, &mut out);
    } else if looks_like_yaml(text) && top_level_keys(text, &["receivers"]) {
        yaml_file(path, text, &mut out);
    } else if top_level_keys(text, &["version", "channels", "outage", "alerts"]) {
        // An outage-drill scenario: a drill, not an alert path.
        out.recognised = true;
    } else {
        out.findings.extend(generic::finding(path, text));
    }
    out
}

fn json_file(path: &Path, text: &str, out: &mut Outcome) {
    let doc: Value = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            if generic::mentions_mail(text) || has_format_marker(text) {
                let message = e.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message);
                out.problems.push(Problem {
                    file: path.to_path_buf(),
                    line: Some(e.line() as u64),
                    column: Some(e.column() as u64),
                    message: format!("not valid JSON: {message}"),
                    hint: "fix the JSON (a fresh export usually is valid) and audit again; \
                           its text matches are listed as unparsed"
                        .into(),
                });
                out.findings.extend(generic::finding(path, text));
            }
            return;
        }
    };
    if let Some(found) = logicapp::findings(path, &doc) {
        out.findings = found;
        out.recognised = true;
    } else if let Some(found) = shuffle::findings(path, &doc) {
        out.findings = found;
        out.recognised = true;
    } else if let Some(parsed) = n8n::parse(path, &doc) {
        out.n8n = parsed;
        out.recognised = true;
    } else {
        out.findings.extend(generic::finding(path, text));
    }
}

fn yaml_file(path: &Path, text: &str, out: &mut Outcome) {
    let docs: Vec<Value> = match serde_saphyr::from_multiple(text) {
        Ok(docs) => docs,
        Err(e) => {
            let location = e.location();
            out.problems.push(Problem {
                file: path.to_path_buf(),
                line: location.map(|l| l.line()),
                column: location.map(|l| l.column()),
                message: format!("not valid YAML: {}", yaml_message(&e.to_string())),
                hint: "fix the YAML (check indentation and quoting near that line) and audit \
                       again; its text matches are listed as unparsed"
                    .into(),
            });
            out.findings.extend(generic::finding(path, text));
            return;
        }
    };
    let configs: Vec<&Value> = docs.iter().filter(|d| alertmanager::is_config(d)).collect();
    if configs.is_empty() {
        out.findings.extend(generic::finding(path, text));
        return;
    }
    out.recognised = true;
    for doc in configs {
        let (found, notes) = alertmanager::findings(path, text, doc);
        out.findings.extend(found);
        out.notes.extend(notes);
    }
}

fn looks_like_yaml(text: &str) -> bool {
    let Some(first) = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    else {
        return false;
    };
    if first.starts_with("---") || first.starts_with("%YAML") || first.starts_with("- ") {
        return true;
    }
    match first.split_once(':') {
        Some((key, rest)) => {
            let key = key.trim_matches(['"', '\'']);
            !key.is_empty()
                && !key.contains(' ')
                && (rest.is_empty() || rest.starts_with(' '))
                && key
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_-./$".contains(c))
        }
        None => false,
    }
}

/// Whether every one of `keys` starts a line as a top-level YAML key.
fn top_level_keys(text: &str, keys: &[&str]) -> bool {
    keys.iter().all(|k| {
        text.lines()
            .any(|l| l.strip_prefix(k).is_some_and(|rest| rest.starts_with(':')))
    })
}

fn has_format_marker(text: &str) -> bool {
    [
        "Microsoft.Logic",
        "\"actions\"",
        "\"nodes\"",
        "\"triggers\"",
        "\"branches\"",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// Registers and scenarios this command wrote on an earlier run.
fn is_own_output(text: &str) -> bool {
    text.starts_with(register::CSV_HEADER)
        || text.lines().take(5).any(|l| l.contains(register::MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_is_told_from_prose() {
        assert!(looks_like_yaml("# c\nglobal:\n  smtp_smarthost: x\n"));
        assert!(looks_like_yaml("---\nroute: {}\n"));
        assert!(!looks_like_yaml("Send email to the SOC when smtp fails.\n"));
        assert!(!looks_like_yaml("{\"a\": 1}"));
    }
}
