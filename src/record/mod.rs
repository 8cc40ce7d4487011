//! The run's outputs: summary.json, junit.xml and the CP-4 test record
//! (record.md and record.html).
//!
//! Every output is a pure function of the journal's folded state (through
//! [`view::View`]), so `outage-drill report DIR` reproduces them; the one
//! outside input is the evidence section's SHA-256 of the journal and of
//! the files written before the record ([`evidence`]). Files are written to
//! a temporary name and renamed, so a reader never sees half a record.

mod chart;
mod controls;
pub mod evidence;
mod findings;
mod judge;
pub mod junit;
mod overview;
mod rating;
pub mod render;
mod stats;
pub mod summary;
mod text;
mod timeline;
pub mod view;

#[cfg(test)]
mod testkit;

use std::io;
use std::path::Path;

use crate::drill::state::State;

/// The journal's file name inside a run's folder.
pub const JOURNAL: &str = "journal.jsonl";

/// Where a run's outputs come from and go to.
#[derive(Clone, Copy, Debug)]
pub struct Outputs<'a> {
    /// The run's folder: every output is written here.
    pub dir: &'a Path,
    /// The run's journal, complete (ending in `drill_finished`) when a
    /// finished run is recorded; its hash goes into the record.
    pub journal: &'a Path,
    /// A folder with an organisation's `record.md.hbs` / `record.html.hbs`.
    pub templates: Option<&'a Path>,
}

/// Writes every output of a run: summary.json and junit.xml first, then
/// the record, whose evidence section hashes the journal and those two
/// files as they are on disk.
///
/// Each output is dropped once written, and the view once the templates
/// have it as JSON: after an alert storm these are tens of megabytes each,
/// and holding them all at once set the run's peak memory.
pub fn write_all(out: &Outputs<'_>, state: &State) -> io::Result<()> {
    // A bad --template folder is found before anything is written.
    let (md_src, html_src) = render::sources(out.templates).map_err(io::Error::other)?;
    let mut view = view::build(state);
    let summary = summary::build(&view);
    let summary = serde_json::to_string_pretty(&summary).map_err(io::Error::other)?;
    let summary_path = out.dir.join("summary.json");
    write_atomic(&summary_path, summary.as_bytes())?;
    drop(summary);
    let junit_path = out.dir.join("junit.xml");
    write_atomic(&junit_path, junit::render(&view).as_bytes())?;

    view.evidence = vec![
        evidence::hash(
            out.journal,
            "every event of the run; the record is computed from it",
        )?,
        evidence::hash(&summary_path, "machine-readable results")?,
        evidence::hash(&junit_path, "one test case per firing, for CI")?,
    ];
    let context = render::context(&view).map_err(io::Error::other)?;
    drop(view);
    let md = render::markdown(&context, &md_src).map_err(io::Error::other)?;
    write_atomic(&out.dir.join("record.md"), md.as_bytes())?;
    drop(md);
    let html = render::html(&context, &html_src).map_err(io::Error::other)?;
    write_atomic(&out.dir.join("record.html"), html.as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
