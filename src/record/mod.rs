//! The run's outputs: summary.json, junit.xml, record.md and record.html.
//!
//! Every output is a pure function of the journal's folded state (through
//! [`view::View`]), so `outage-drill report DIR` reproduces them. Files are
//! written to a temporary name and renamed, so a reader never sees half a
//! record.

pub mod junit;
pub mod render;
pub mod summary;
pub mod view;

use std::io;
use std::path::Path;

use crate::drill::state::State;

/// Writes every output of a run into `dir`.
///
/// Each output is dropped once written, and the view once the templates
/// have it as JSON: after an alert storm these are tens of megabytes each,
/// and holding them all at once set the run's peak memory.
pub fn write_all(dir: &Path, state: &State, templates: Option<&Path>) -> io::Result<()> {
    let view = view::build(state);
    let summary = serde_json::to_string_pretty(&summary::build(&view)).map_err(io::Error::other)?;
    write_atomic(&dir.join("summary.json"), summary.as_bytes())?;
    drop(summary);
    write_atomic(&dir.join("junit.xml"), junit::render(&view).as_bytes())?;
    let context = render::context(&view).map_err(io::Error::other)?;
    drop(view);
    let md = render::markdown(&context, templates).map_err(io::Error::other)?;
    write_atomic(&dir.join("record.md"), md.as_bytes())?;
    drop(md);
    let html = render::html(&context, templates).map_err(io::Error::other)?;
    write_atomic(&dir.join("record.html"), html.as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
