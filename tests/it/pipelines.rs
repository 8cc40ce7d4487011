//! Real pipelines as targets: a SOAR webhook, a script; inject/restore
//! actions under interruption and after a crash; secrets never leak.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::drill::{summary, wait_exit, wait_for_journal};
use crate::harness::{
    free_port, isolated_copy, root, run_drill, run_in, run_with_env, scratch, signal, spawn_drill,
};

/// Copies an example folder into `dir` on fresh ports.
fn example_copy(name: &str, dir: &Path) -> PathBuf {
    isolated_copy(&root().join("examples").join(name).join("drill.yaml"), dir)
}

#[test]
fn soar_webhook_falls_back_and_is_restored() {
    let dir = scratch();
    let scenario = example_copy("soar-webhook", dir.path());
    let out = dir.path().join("out");
    let run = run_drill(dir.path(), &scenario, &out, &[]);
    run.expect_code(0);
    let s = summary(&out);
    assert_eq!(s["restore"], "ok");
    assert!(
        s["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["arrivals"][0]["channel"] == "soc-slack"),
        "{s:#}"
    );
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(journal.contains("/connectors/email/enable"), "restore ran");
}

#[test]
fn command_target_passes_and_restores_its_marker() {
    let dir = scratch();
    let scenario = example_copy("command", dir.path());
    let out = dir.path().join("out");
    run_drill(dir.path(), &scenario, &out, &[]).expect_code(0);
    let s = summary(&out);
    assert_eq!(s["verdict"], "pass", "{s:#}");
    assert!(
        !dir.path().join("mail-connector.state").exists(),
        "restore removed the marker"
    );
}

fn long_command_drill(dir: &Path) -> PathBuf {
    let scenario = example_copy("command", dir);
    let text = std::fs::read_to_string(&scenario)
        .unwrap()
        .replace("duration: 4s", "duration: 10m");
    std::fs::write(&scenario, text).unwrap();
    scenario
}

#[test]
fn sigint_during_the_outage_runs_restore() {
    let dir = scratch();
    let scenario = long_command_drill(dir.path());
    let out = dir.path().join("out");
    let mut child = spawn_drill(dir.path(), &scenario, &out);
    wait_for_journal(
        &out,
        "\"event\":\"alert_fired\",\"nonce\":\"DRILL-",
        Duration::from_secs(30),
    );
    wait_for_journal(&out, "\"purpose\":\"outage\"", Duration::from_secs(30));
    assert!(
        dir.path().join("mail-connector.state").exists(),
        "inject ran"
    );
    signal(&child, nix::sys::signal::Signal::SIGINT);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), 3);
    assert!(
        !dir.path().join("mail-connector.state").exists(),
        "restore undid the inject"
    );
    assert_eq!(summary(&out)["verdict"], "aborted");
}

#[test]
fn sigkill_then_recover_restores_once() {
    let dir = scratch();
    let scenario = long_command_drill(dir.path());
    let out = dir.path().join("out");
    let mut child = spawn_drill(dir.path(), &scenario, &out);
    wait_for_journal(&out, "\"purpose\":\"outage\"", Duration::from_secs(30));
    child.kill().unwrap();
    wait_exit(&mut child, Duration::from_secs(10));
    assert!(
        dir.path().join("mail-connector.state").exists(),
        "the killed run left its inject"
    );

    let first = run_in(dir.path(), &["recover", out.to_str().unwrap()]);
    first.expect_code(0);
    assert!(
        !dir.path().join("mail-connector.state").exists(),
        "recover undid the inject"
    );
    let s = summary(&out);
    assert_eq!(s["verdict"], "aborted");
    assert!(s["restore"].as_str().unwrap().starts_with("ok"), "{s:#}");
    let second = run_in(dir.path(), &["recover", out.to_str().unwrap()]);
    second.expect_code(0);
    assert!(
        second.stdout().contains("nothing to recover"),
        "{}",
        second.explain()
    );
}

#[test]
fn secrets_never_reach_an_output() {
    const SECRET: &str = "tok-7Hq2ZpX9w";
    let dir = scratch();
    let slack = free_port();
    let scenario = format!(
        "version: 1
name: secrets
title: Secrets stay secret
channels:
  - {{ name: mail, kind: smtp, listen: \"127.0.0.1:0\" }}
  - {{ name: soc-slack, kind: slack, listen: \"127.0.0.1:{slack}\" }}
outage:
  duration: 1s
  faults:
    mail: {{ fail: defer }}
  inject:
    - {{ command: [sh, -c, 'echo \"using $0\" >&2; exit 0', \"${{DRILL_SECRET}}\"] }}
  restore:
    - {{ command: [sh, -c, 'exit 0', \"--token=${{DRILL_SECRET}}\"] }}
target:
  kind: webhook
  url: \"http://127.0.0.1:{slack}/services/T0/B0/${{DRILL_SECRET}}\"
  headers: {{ Authorization: \"Bearer ${{DRILL_SECRET}}\" }}
  body: '{{\"text\": \"{{{{nonce}}}}\"}}'
alerts:
  - {{ name: a, severity: high, at: 100ms, rto: 5s }}
checks: {{ baseline: false, recovery: false }}
"
    );
    let path = dir.path().join("secrets.yaml");
    std::fs::write(&path, scenario).unwrap();
    let out = dir.path().join("out");
    let run = run_with_env(
        dir.path(),
        &[
            "run",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[("DRILL_SECRET", SECRET), ("RUST_LOG", "debug")],
    );
    run.expect_code(0);
    assert!(
        !run.stdout().contains(SECRET) && !run.stderr().contains(SECRET),
        "{}",
        run.explain()
    );
    let mut files = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(
                !text.contains(SECRET),
                "{} leaks the secret",
                path.display()
            );
            files += 1;
        }
    }
    assert!(files >= 5);
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("Bearer ***") || journal.contains("***"),
        "masked, not dropped"
    );
}

#[test]
fn non_loopback_targets_need_live() {
    let dir = scratch();
    let text = std::fs::read_to_string(root().join("examples/soar-webhook/drill.yaml"))
        .unwrap()
        .replace(
            "url: http://127.0.0.1:9151/trigger",
            "url: http://198.51.100.7/trigger",
        );
    std::fs::write(dir.path().join("live.yaml"), &text).unwrap();
    let run = run_in(dir.path(), &["validate", "live.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("target.url"), "{}", run.explain());
    std::fs::write(
        dir.path().join("live.yaml"),
        text.replace("version: 1", "version: 1\nlive: true"),
    )
    .unwrap();
    run_in(dir.path(), &["validate", "live.yaml"]).expect_code(2);
    run_in(dir.path(), &["validate", "live.yaml", "--live"]).expect_code(0);
}

const SMALL: &str = "version: 1
name: small
title: Small drill
channels:
  - { name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:MAILPORT\" }
  - { name: soc-slack, kind: slack, listen: \"127.0.0.1:0\" }
outage:
  duration: 1s
  faults:
    mail: { fail: defer }
target:
  kind: builtin
  routes:
    - { channel: mail, timeout: 2s }
    - { channel: soc-slack, timeout: 2s }
alerts:
  - { name: a, severity: high, at: 100ms, rto: 5s }
checks: { baseline: false, recovery: false }
";

fn small(dir: &Path, mail_port: u16, extra: &str, target: Option<&str>) -> PathBuf {
    let mut text = SMALL.replace("MAILPORT", &mail_port.to_string());
    text = text.replace(
        "    mail: { fail: defer }\n",
        &format!("    mail: {{ fail: defer }}\n{extra}"),
    );
    if let Some(target) = target {
        let start = text.find("target:").unwrap();
        let end = text.find("alerts:").unwrap();
        text.replace_range(start..end, target);
    }
    let path = dir.join("small.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_port_in_use_is_a_harness_error_with_a_record() {
    let dir = scratch();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let scenario = small(dir.path(), port, "", None);
    let out = dir.path().join("out");
    let run = run_drill(dir.path(), &scenario, &out, &[]);
    run.expect_code(3);
    let s = summary(&out);
    assert_eq!(s["verdict"], "error");
    assert!(
        s["reasons"][0]
            .as_str()
            .unwrap()
            .contains(&port.to_string()),
        "{s:#}"
    );
}

#[test]
fn a_target_that_does_not_start_is_a_harness_error() {
    let dir = scratch();
    let target = "target:
  kind: webhook
  url: http://127.0.0.1:9/never
  start: { command: [./no-such-program], ready: \"http://127.0.0.1:9/\", timeout: 2s }
";
    let scenario = small(dir.path(), 0, "", Some(target));
    let out = dir.path().join("out");
    run_drill(dir.path(), &scenario, &out, &[]).expect_code(3);
    let s = summary(&out);
    assert_eq!(s["verdict"], "error");
    assert!(
        s["reasons"][0]
            .as_str()
            .unwrap()
            .contains("no-such-program"),
        "{s:#}"
    );
}

#[test]
fn a_failed_inject_aborts_and_still_restores() {
    let dir = scratch();
    let actions = "  inject:
    - { command: [sh, -c, 'touch injected'] }
    - { command: [sh, -c, 'echo connector API said no >&2; exit 7'] }
  restore:
    - { command: [rm, -f, injected] }
";
    let scenario = small(dir.path(), 0, actions, None);
    let out = dir.path().join("out");
    run_drill(dir.path(), &scenario, &out, &[]).expect_code(3);
    let s = summary(&out);
    assert_eq!(s["verdict"], "aborted");
    assert_eq!(s["restore"], "ok");
    assert!(
        !dir.path().join("injected").exists(),
        "restore undid the first inject"
    );
    let reasons = s["reasons"].to_string();
    assert!(reasons.contains("inject action 2"), "{reasons}");
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("connector API said no"),
        "stderr excerpt journaled"
    );
}
