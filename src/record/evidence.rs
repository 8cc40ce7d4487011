//! The record's supporting evidence: the run's files with their SHA-256.
//!
//! The only part of the record read from disk rather than from the folded
//! journal, and only from files that are final when the record is rendered:
//! the journal (complete after `drill_finished`) and the summary and JUnit
//! files written just before the record. `outage-drill report` rewrites
//! those identically, so a re-rendered record carries the same hashes.

use std::io;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceFile {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// What the file is, for the reader.
    pub what: &'static str,
}

/// Hashes `path`, naming it by its file name only (the folder is wherever
/// the record was copied to).
pub fn hash(path: &Path, what: &'static str) -> io::Result<EvidenceFile> {
    let bytes = std::fs::read(path)?;
    Ok(EvidenceFile {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_file_as_it_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, b"abc").unwrap();
        let e = hash(&path, "journal").unwrap();
        assert_eq!(e.file, "journal.jsonl");
        assert_eq!(e.bytes, 3);
        assert_eq!(
            e.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
