//! The fuzz targets' inputs, replayed as plain tests: the seed corpora
//! (`fuzz/corpus/<target>/`) and every input a fuzzer once broke us with
//! (`tests/data/fuzz-regressions/<target>/`), each through the same check
//! its target makes. A fuzzer is not needed to run these.

use std::path::{Path, PathBuf};

use outage_drill::endpoint::smtp::replay::replay;
use outage_drill::scenario::fuzz::check as check_scenario;

use crate::drill::summary;
use crate::harness::{root, run_in, scratch};

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

/// Durations as long as a scenario can write them (`u64::MAX` seconds) for
/// every timeout, interval and RTO: the drill runs and passes. Before, the
/// canary's deadline and settle's cap overflowed the clock and panicked.
#[test]
fn durations_at_the_edge_of_the_clock_run_without_panicking() {
    const LONGEST: &str = "18446744073709551615s";
    let scenario = format!(
        r#"version: 1
name: edge-of-the-clock
title: Durations at the edge of the clock
channels:
  - {{ name: exchange-smtp, kind: smtp,  role: primary, listen: "127.0.0.1:0" }}
  - {{ name: soc-slack,     kind: slack, listen: "127.0.0.1:0" }}
outage:
  duration: 1s
  faults:
    exchange-smtp: {{ fail: defer, stage: rcpt }}
  inject:
    - {{ command: ["true"], timeout: {LONGEST} }}
  restore:
    - {{ command: ["true"], timeout: {LONGEST} }}
target:
  kind: builtin
  routes:
    - {{ channel: exchange-smtp, timeout: {LONGEST} }}
    - {{ channel: soc-slack,     timeout: {LONGEST} }}
alerts:
  - {{ name: a, severity: critical, at: 100ms, every: {LONGEST}, rto: {LONGEST} }}
checks: {{ baseline: true, recovery: true, rto: {LONGEST} }}
"#
    );
    let dir = scratch();
    std::fs::write(dir.path().join("edge.yaml"), scenario).unwrap();
    let out = dir.path().join("out");
    let run = run_in(
        dir.path(),
        &["run", "edge.yaml", "--out", out.to_str().unwrap()],
    );
    assert!(!run.stderr().contains("panicked"), "{}", run.explain());
    run.expect_code(0);
    assert_eq!(summary(&out)["verdict"], "pass");

    // A timeline longer than the clock is refused by validate, not accepted
    // with "0 firings" and left to fail at its outage.
    let huge =
        std::fs::read_to_string(root().join(
            "tests/data/fuzz-regressions/scenario_load/phase-lengths-overflow-their-sum.yaml",
        ))
        .unwrap();
    std::fs::write(dir.path().join("huge.yaml"), huge).unwrap();
    let run = run_in(dir.path(), &["validate", "huge.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("100 years"), "{}", run.explain());
}
