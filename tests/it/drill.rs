//! End-to-end drills against the built-in target: verdicts, timing, seeds,
//! interruption. Each test runs the real binary in its own scratch folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{isolated_copy, root, run_drill, scratch, signal, spawn_drill};

/// Checks `summary.json` in `dir` against the contract's JSON Schema.
pub fn summary(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    let summary: Value = serde_json::from_str(&text).expect("summary.json is JSON");
    let schema_path = root().join("../shared/spec/summary.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "summary.json breaks the schema: {errors:?}\n{text}"
    );
    for file in ["record.md", "record.html", "junit.xml", "journal.jsonl"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }
    summary
}

fn outcomes(summary: &Value) -> Vec<String> {
    summary["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn ex1331830_passes_with_every_fault_hit() {
    let dir = scratch();
    let out = dir.path().join("out");
    let started = Instant::now();
    // The contract's example, unchanged but for its ports.
    let scenario = isolated_copy(
        &root().join("../shared/spec/examples/ex1331830.yaml"),
        dir.path(),
    );
    let run = run_drill(dir.path(), &scenario, &out, &["--speed", "360"]);
    let wall = started.elapsed();
    run.expect_code(0);
    let s = summary(&out);
    assert_eq!(s["verdict"], "pass", "{}", run.explain());
    assert!(outcomes(&s).iter().all(|o| o == "delivered"), "{s:#}");
    assert_eq!(outcomes(&s).len(), 9);
    for channel in ["exchange-smtp", "exchange-graph", "soc-teams"] {
        assert!(
            s["faults"][channel]["failed"].as_u64().unwrap() > 0,
            "{channel} hit: {s:#}"
        );
    }
    // The 15 s timeline plus canaries and settle; a few seconds at most.
    assert!(wall < Duration::from_secs(24), "took {wall:?}");
}

#[test]
fn email_only_fails_with_every_firing_dropped() {
    let dir = scratch();
    let out = dir.path().join("out");
    let scenario = isolated_copy(
        &root().join("../shared/spec/examples/email-only.yaml"),
        dir.path(),
    );
    let run = run_drill(dir.path(), &scenario, &out, &["--speed", "20"]);
    run.expect_code(1);
    let s = summary(&out);
    assert_eq!(s["verdict"], "fail");
    assert!(!outcomes(&s).is_empty());
    assert!(outcomes(&s).iter().all(|o| o == "dropped"), "{s:#}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("dropped silently"), "{junit}");
}

const FLAPPING: &str = "version: 1
name: flapping
title: Flapping SMTP
channels:
  - { name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\" }
  - { name: soc-slack, kind: slack, listen: \"127.0.0.1:0\" }
outage:
  duration: 2s
  faults:
    mail: { fail: defer, stage: mail, rate: 0.5 }
target:
  kind: builtin
  routes:
    - { channel: mail, timeout: 2s }
    - { channel: soc-slack, timeout: 2s }
alerts:
  - { name: burst, severity: high, at: 0s, every: 100ms, rto: 5s }
checks: { baseline: false, recovery: false }
";

#[test]
fn the_same_seed_gives_the_same_fault_counts() {
    let dir = scratch();
    let scenario = write(dir.path(), "flap.yaml", FLAPPING);
    let mut counts = Vec::new();
    for round in 0..2 {
        let out = dir.path().join(format!("out{round}"));
        let run = run_drill(dir.path(), &scenario, &out, &["--seed", "1234"]);
        run.expect_code(0);
        let s = summary(&out);
        assert_eq!(s["seed"], 1234);
        counts.push(s["faults"]["mail"].clone());
    }
    assert_eq!(counts[0], counts[1]);
    let (attempts, failed) = (
        counts[0]["attempts"].as_u64().unwrap(),
        counts[0]["failed"].as_u64().unwrap(),
    );
    assert_eq!(attempts, 20, "one session per firing: {counts:?}");
    assert!(
        failed > 0 && failed < attempts,
        "rate 0.5 fails some, not all: {counts:?}"
    );
}

const HANG: &str = "version: 1
name: hang
title: SMTP hangs
channels:
  - { name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\" }
  - { name: soc-slack, kind: slack, listen: \"127.0.0.1:0\" }
outage:
  duration: 1s
  faults:
    mail: { fail: hang, stage: greeting }
target:
  kind: builtin
  routes:
    - { channel: mail, timeout: 3s }
    - { channel: soc-slack, timeout: 2s }
alerts:
  - { name: phish, severity: critical, at: 0s, rto: RTO }
checks: { baseline: false, recovery: false }
";

#[test]
fn a_hung_primary_costs_the_route_timeout() {
    let dir = scratch();
    let scenario = write(dir.path(), "hang.yaml", &HANG.replace("RTO", "10s"));
    let out = dir.path().join("out");
    run_drill(dir.path(), &scenario, &out, &[]).expect_code(0);
    let s = summary(&out);
    let arrival = &s["alerts"][0]["arrivals"][0];
    assert_eq!(arrival["channel"], "soc-slack");
    let latency = arrival["latency_ms"].as_f64().unwrap();
    assert!(
        latency >= 3000.0,
        "failover waited the 3 s route timeout: {latency}"
    );
}

#[test]
fn failover_slower_than_the_rto_is_late_and_fails() {
    let dir = scratch();
    let scenario = write(dir.path(), "hang.yaml", &HANG.replace("RTO", "2s"));
    let out = dir.path().join("out");
    run_drill(dir.path(), &scenario, &out, &[]).expect_code(1);
    let s = summary(&out);
    assert_eq!(s["verdict"], "fail");
    assert_eq!(outcomes(&s), vec!["late"]);
}

/// Waits until the journal in `dir` contains `needle`, or panics.
pub fn wait_for_journal(dir: &Path, needle: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "`{needle}` never appeared in the journal:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit within `limit`.
pub fn wait_exit(child: &mut std::process::Child, limit: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the drill did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_during_the_outage_aborts_restores_and_records() {
    let dir = scratch();
    let scenario = write(
        dir.path(),
        "long.yaml",
        &FLAPPING
            .replace("duration: 2s", "duration: 10m")
            .replace("every: 100ms", "every: 1s"),
    );
    let out = dir.path().join("out");
    let mut child = spawn_drill(dir.path(), &scenario, &out);
    wait_for_journal(&out, "\"event\":\"alert_fired\"", Duration::from_secs(20));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), 3);
    let s = summary(&out);
    assert_eq!(s["verdict"], "aborted");
    // Every endpoint the drill bound is closed again.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    let mut checked = 0;
    for line in journal.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if event["event"] == "endpoint_bound" {
            let addr: std::net::SocketAddr = event["addr"].as_str().unwrap().parse().unwrap();
            assert!(
                std::net::TcpStream::connect(addr).is_err(),
                "{addr} still listening"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
    assert!(journal.contains("faults_lifted"), "the outage was lifted");
}
