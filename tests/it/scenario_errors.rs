//! Every class of malformed scenario: exit 2, a message naming where, and
//! never a panic.

use crate::harness::{run_in, scratch};

const GOOD: &str = "version: 1
name: bad-input
title: Bad input
channels:
  - { name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\" }
  - { name: soc-slack, kind: slack, listen: \"127.0.0.1:0\" }
outage:
  duration: 2s
  faults:
    mail: { fail: defer }
target:
  kind: builtin
  routes:
    - { channel: mail, timeout: 1s }
    - { channel: soc-slack, timeout: 1s }
alerts:
  - { name: a, severity: critical, at: 100ms, rto: 5s }
";

/// Writes `content` as a scenario, validates it, and checks the failure.
fn refused(content: &[u8], expect_in_stderr: &[&str]) {
    let dir = scratch();
    std::fs::write(dir.path().join("s.yaml"), content).unwrap();
    let run = run_in(dir.path(), &["validate", "s.yaml"]);
    run.expect_code(2);
    let stderr = run.stderr();
    assert!(!stderr.contains("panicked"), "{}", run.explain());
    assert!(
        stderr.contains("s.yaml"),
        "the file is named\n{}",
        run.explain()
    );
    for needle in expect_in_stderr {
        assert!(
            stderr.contains(needle),
            "missing `{needle}`\n{}",
            run.explain()
        );
    }
    assert!(
        stderr.contains("hint:"),
        "a hint is given\n{}",
        run.explain()
    );
}

#[test]
fn the_good_scenario_validates() {
    let dir = scratch();
    std::fs::write(dir.path().join("s.yaml"), GOOD).unwrap();
    run_in(dir.path(), &["validate", "s.yaml"]).expect_code(0);
}

#[test]
fn yaml_syntax() {
    refused(
        GOOD.replace("{ name: a,", "{ name: [a,").as_bytes(),
        &["s.yaml:17:"],
    );
}

#[test]
fn unknown_key() {
    refused(
        GOOD.replace("rto: 5s", "rtoo: 5s").as_bytes(),
        &["s.yaml:17:", "did you mean `rto`"],
    );
}

#[test]
fn wrong_type() {
    refused(
        GOOD.replace("version: 1", "version: [1]").as_bytes(),
        &["s.yaml:1:"],
    );
}

#[test]
fn bad_duration() {
    refused(
        GOOD.replace("duration: 2s", "duration: 2 fortnights")
            .as_bytes(),
        &["s.yaml:8:"],
    );
}

#[test]
fn unknown_channel_reference() {
    refused(
        GOOD.replace("{ channel: soc-slack", "{ channel: soc-slakc")
            .as_bytes(),
        &["target.routes[1].channel", "did you mean `soc-slack`"],
    );
}

#[test]
fn duplicate_name() {
    refused(
        GOOD.replace("name: soc-slack", "name: mail").as_bytes(),
        &["channels[1].name", "duplicate"],
    );
}

#[test]
fn non_loopback_address() {
    refused(
        GOOD.replace(
            "127.0.0.1:0\" }\n  - { name: soc",
            "192.0.2.10:25\" }\n  - { name: soc",
        )
        .as_bytes(),
        &["channels[0].listen", "loopback"],
    );
}

#[test]
fn unset_variable() {
    refused(
        GOOD.replace("title: Bad input", "title: \"${OUTAGE_DRILL_TEST_UNSET}\"")
            .as_bytes(),
        &["title", "OUTAGE_DRILL_TEST_UNSET"],
    );
}

#[test]
fn out_of_range_rate() {
    refused(
        GOOD.replace("{ fail: defer }", "{ fail: defer, rate: 2 }")
            .as_bytes(),
        &["outage.faults.mail.rate", "out of range"],
    );
}

#[test]
fn empty_file() {
    refused(b"", &["empty"]);
}

#[test]
fn binary_garbage() {
    let mut garbage = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    garbage.extend((0..2000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    refused(&garbage, &["not a text file"]);
}

#[test]
fn missing_file_and_bad_usage() {
    let dir = scratch();
    let run = run_in(dir.path(), &["validate", "nope.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("nope.yaml"), "{}", run.explain());
    run_in(dir.path(), &["run"]).expect_code(2);
    run_in(dir.path(), &["run", "x.yaml", "--speed", "0"]).expect_code(2);
}
