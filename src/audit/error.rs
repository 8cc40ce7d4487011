//! Errors that stop an audit before or after the scan (bad arguments, an
//! unreadable mapping file, an output that cannot be written). Problems
//! with scanned files are not errors: they become [`super::model::Problem`]s
//! and the scan goes on.

use std::io;
use std::path::PathBuf;

/// Why `outage-drill audit` could not run; each maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "`{}` does not exist\n  hint: give files or folders holding workflow exports, \
         ARM templates or Alertmanager configs",
        path.display()
    )]
    MissingPath { path: PathBuf },

    #[error("cannot read `{}`: {source}\n  hint: {hint}", path.display())]
    Read {
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },

    #[error("{location}: {message}\n  hint: {hint}")]
    Mapping {
        /// `file:line:col`, or `file` alone.
        location: String,
        message: String,
        hint: String,
    },

    #[error(
        "cannot write `{}`: {source}\n  hint: check that the folder exists (or can be \
         created) and is writable",
        path.display()
    )]
    Write { path: PathBuf, source: io::Error },

    #[error(
        "internal error: the emitted scenario does not validate: {0}\n  hint: this is a bug \
         in outage-drill; please report it with the audited files"
    )]
    Emit(String),
}

impl AuditError {
    /// The exit code for this error: usage and input errors are 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}
