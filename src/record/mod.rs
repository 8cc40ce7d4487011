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
pub fn write_all(dir: &Path, state: &State, templates: Option<&Path>) -> io::Result<()> {
    let view = view::build(state);
    let summary = summary::build(&view);
    let summary = serde_json::to_string_pretty(&summary).map_err(io::Error::other)?;
    write_atomic(&dir.join("summary.json"), summary.as_bytes())?;
    write_atomic(&dir.join("junit.xml"), junit::render(&view).as_bytes())?;
    let (md, html) = render::render(&view, templates).map_err(io::Error::other)?;
    write_atomic(&dir.join("record.md"), md.as_bytes())?;
    write_atomic(&dir.join("record.html"), html.as_bytes())?;
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
