//! Drills against a real Prometheus Alertmanager 0.25 (Debian package).
//!
//! Skipped, with a message saying why, when the binary is missing; in CI
//! (`CI` set) a missing binary is a failure, since `.ci/run` installs it.

use std::path::Path;

use crate::drill::summary;
use crate::harness::{isolated_copy, root, run_drill, scratch};

const BINARY: &str = "prometheus-alertmanager";

fn available() -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {BINARY}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{BINARY} is missing in CI: .ci/run must install it"
        );
        eprintln!("skipped: {BINARY} is not installed (apt-get install -y {BINARY})");
    }
    found
}

/// Runs a copy of `scenario` (and its Alertmanager config) on fresh ports.
fn drill(scenario: &Path, speed: &str) -> (crate::harness::Run, serde_json::Value) {
    let dir = scratch();
    let scenario = isolated_copy(scenario, dir.path());
    let out = dir.path().join("out");
    let run = run_drill(dir.path(), &scenario, &out, &["--speed", speed]);
    let s = summary(&out);
    (run, s)
}

#[test]
fn alertmanager_fails_over_to_slack() {
    if !available() {
        return;
    }
    let (run, s) = drill(
        &root().join("../shared/spec/examples/alertmanager.yaml"),
        "8",
    );
    run.expect_code(0);
    assert_eq!(s["verdict"], "pass");
    for alert in s["alerts"].as_array().unwrap() {
        assert_eq!(alert["outcome"], "delivered", "{s:#}");
        let channels: Vec<&str> = alert["arrivals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["channel"].as_str().unwrap())
            .collect();
        assert!(channels.contains(&"soc-slack"), "{s:#}");
    }
    assert!(
        s["faults"]["exchange-smtp"]["failed"].as_u64().unwrap() > 0,
        "{s:#}"
    );
    let metrics = s["alertmanager_metrics"]
        .as_object()
        .expect("metric deltas in the summary");
    let email_failures: f64 = metrics
        .iter()
        .filter(|(k, _)| {
            k.contains("integration=\"email\"")
                && k.starts_with("alertmanager_notifications_failed_total")
        })
        .map(|(_, v)| v.as_f64().unwrap())
        .sum();
    assert!(
        email_failures > 0.0,
        "Alertmanager itself counted email failures: {metrics:?}"
    );
}

#[test]
fn alertmanager_with_email_only_fails() {
    if !available() {
        return;
    }
    let (run, s) = drill(
        &root().join("examples/alertmanager-email-only/drill.yaml"),
        "1",
    );
    run.expect_code(1);
    assert_eq!(s["verdict"], "fail");
    assert!(
        s["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["outcome"] == "dropped"),
        "{s:#}"
    );
}

#[test]
fn a_refusal_after_the_final_dot_is_caught() {
    if !available() {
        return;
    }
    let (run, s) = drill(
        &root().join("examples/alertmanager-email-only/end-of-data.yaml"),
        "1",
    );
    run.expect_code(1);
    assert_eq!(s["verdict"], "fail");
    assert!(
        s["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["outcome"] == "dropped"),
        "{s:#}"
    );
    assert!(
        s["faults"]["exchange-smtp"]["failed"].as_u64().unwrap() > 0,
        "{s:#}"
    );
}
