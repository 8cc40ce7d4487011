//! The fuzz targets' inputs, replayed as plain tests: the seed corpora
//! (`fuzz/corpus/<target>/`) and every input a fuzzer once broke us with
//! (`tests/data/fuzz-regressions/<target>/`), each through the same check
//! its target makes. A fuzzer is not needed to run these.

use std::path::{Path, PathBuf};

use outage_drill::endpoint::smtp::replay::replay;
use outage_drill::scenario::fuzz::check as check_scenario;

use crate::harness::root;

/// Every file of the target's corpus and regressions.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        root().join("fuzz/corpus").join(target),
        root().join("tests/data/fuzz-regressions").join(target),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_file() && !is_hidden(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

#[test]
fn scenario_load_inputs_hold() {
    let files = inputs("scenario_load");
    assert!(files.len() >= 5, "the corpus is there: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        if let Err(broken) = check_scenario(&bytes) {
            panic!("{}: {broken}", file.display());
        }
    }
}

#[test]
fn smtp_session_inputs_hold() {
    let files = inputs("smtp_session");
    assert!(files.len() >= 5, "the corpus is there: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        if let Err(broken) = replay(&bytes).check() {
            panic!("{}: {broken}", file.display());
        }
    }
}
