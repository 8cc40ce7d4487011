//! The exposure audit on the fixture corpus in `tests/fixtures/audit`,
//! through the library API the CLI calls (`outage_drill::audit`).
//!
//! Every email send in the corpus is listed in [`EXPECTED`] with its
//! verdict and fallback; the first test fails on anything found that is not
//! listed and on anything listed that is not found.

use std::path::{Path, PathBuf};
use std::time::Instant;

use outage_drill::audit::criticality::Mapping;
use outage_drill::audit::scan::scan;
use outage_drill::audit::{
    AuditArgs, AuditError, Criticality, Finding, Format, Gap, Location, Verdict, emit, register,
    run,
};
use outage_drill::scenario::load::{LoadOptions, load};
use outage_drill::scenario::model::Severity;

use crate::harness::{root, scratch};

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/audit")
}

fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

fn rel(path: &Path) -> String {
    path.strip_prefix(fixtures())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// (file, workflow, action, verdict, fallback column) for every confirmed
/// email-dependent path, in report order.
const EXPECTED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "alertmanager/alertmanager.yml",
        "soc-email",
        "soc-email",
        "no",
        "",
    ),
    (
        "alertmanager/alertmanager.yml",
        "soc-email-and-slack",
        "soc-email-and-slack",
        "yes",
        "slack via slack_configs[0]",
    ),
    (
        "alertmanager/alertmanager.yml",
        "ops-teams",
        "ops-teams",
        "partial",
        "teams via msteams_configs[0]",
    ),
    (
        "alertmanager/relay-alertmanager.yaml",
        "edge-oncall",
        "edge-oncall",
        "partial",
        "webhook (alert-bridge.contoso.local) via webhook_configs[0]",
    ),
    (
        "logicapps/approval-failed-only.json",
        "approval-failed-only",
        "Send_approval_email",
        "partial",
        "ntfy via Notify_ntfy (on Failed only)",
    ),
    (
        "logicapps/containment-scoped.json",
        "Host-Containment",
        "Send_from_SOC_mailbox",
        "yes",
        "pagerduty via Page_on_call",
    ),
    (
        "logicapps/containment-scoped.json",
        "Host-Containment",
        "Graph_sendMail_to_owner",
        "yes",
        "pagerduty via Page_on_call",
    ),
    (
        "logicapps/incident-escalation-with-fallback.json",
        "Incident-Escalation",
        "Send_escalation_mail",
        "yes",
        "slack via Post_to_SOC_channel",
    ),
    (
        "logicapps/parallel-slack.json",
        "parallel-slack",
        "Send_DLP_digest",
        "yes",
        "slack via Post_DLP_to_Slack (runs independently)",
    ),
    (
        "logicapps/power-automate-flow.json",
        "Risky sign-in alert (flow)",
        "Send_an_email_(V2)",
        "no",
        "",
    ),
    (
        "logicapps/ransomware-triage/workflow.json",
        "ransomware-triage",
        "Forward_original_alert",
        "no",
        "",
    ),
    (
        "logicapps/ransomware-triage/workflow.json",
        "ransomware-triage",
        "Mail_incident_commander",
        "no",
        "",
    ),
    (
        "logicapps/sentinel-phishing-notify.json",
        "Phishing-Notify-SOC",
        "Send_an_email_(V2)",
        "no",
        "",
    ),
    (
        "logicapps/solution-nested-template.json",
        "SMTP-Relay-Alert",
        "Send_email_from_SMTP_relay",
        "yes",
        "slack via Alert_Slack_when_mail_fails",
    ),
    (
        "logicapps/teams-fallback.json",
        "Impossible-Travel-Alert",
        "Send_an_email",
        "partial",
        "teams via Post_message_in_a_chat_or_channel",
    ),
    (
        "n8n/edr-isolation.json",
        "EDR isolation notice",
        "Reply to requester",
        "yes",
        "telegram via Telegram on-call in error workflow \"Workflow error handler\"",
    ),
    (
        "n8n/soc-alert.json",
        "SOC alert fan-out",
        "Mail SOC",
        "yes",
        "slack via Slack SOC",
    ),
    (
        "n8n/soc-alert.json",
        "SOC alert fan-out",
        "Mail manager",
        "partial",
        "teams via Teams SOC",
    ),
    (
        "n8n/vuln-digest.json",
        "Weekly vulnerability digest",
        "Send digest",
        "partial",
        "error workflow NotExported42 via settings.errorWorkflow (not among the audited files)",
    ),
    (
        "n8n/vuln-digest.json",
        "Weekly vulnerability digest",
        "Graph sendMail",
        "no",
        "",
    ),
    (
        "shuffle/malware-alert-workflow.json",
        "EDR malware alert",
        "Mail IR team",
        "partial",
        "teams via Teams webhook",
    ),
    (
        "shuffle/phishing-report-workflow.json",
        "Phishing report triage",
        "Send report to SOC",
        "yes",
        "slack via Tell SOC in Slack",
    ),
    (
        "shuffle/phishing-report-workflow.json",
        "Phishing report triage",
        "Notify reporter",
        "no",
        "",
    ),
];

fn summarise(f: &Finding) -> (String, String, String, String, String) {
    (
        rel(&f.file),
        f.workflow.clone(),
        f.action.clone(),
        f.verdict.to_string(),
        f.fallback_channels(),
    )
}

fn find<'a>(findings: &'a [Finding], action: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.action == action)
        .unwrap_or_else(|| panic!("no finding for `{action}`"))
}

#[test]
fn every_send_in_the_corpus_is_found_with_its_verdict() {
    let report = scan(&[fixtures()]).unwrap();
    let got: Vec<_> = report.confirmed().map(summarise).collect();
    let want: Vec<_> = EXPECTED
        .iter()
        .map(|(a, b, c, d, e)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
            )
        })
        .collect();
    let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
    let unexpected: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing: {missing:#?}\nunexpected: {unexpected:#?}"
    );
    assert_eq!(got, want, "same findings, different order");
}

#[test]
fn mail_readers_and_other_providers_are_not_findings() {
    let files = [
        "other/email-only-drill.yaml",
        "logicapps/read-only-mailbox.json",
        "logicapps/sendgrid-gmail-notify.json",
        "n8n/ses-newsletter.json",
        "n8n/error-handler.json",
    ];
    let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
    let report = scan(&paths).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    // Recognised (so no text match either), not skipped.
    assert_eq!(report.files_recognised, files.len());
}

#[test]
fn nested_sends_are_located_by_json_pointer() {
    let report = scan(&[fixture("logicapps")]).unwrap();
    let f: Vec<Finding> = report.findings.clone();
    assert_eq!(
        find(&f, "Send_from_SOC_mailbox").location,
        Location::Pointer(
            "/resources/0/properties/definition/actions/Notify_SOC/actions/\
             Condition_high_severity/actions/Send_from_SOC_mailbox"
                .into()
        )
    );
    assert_eq!(
        find(&f, "Forward_original_alert").location,
        Location::Pointer(
            "/definition/actions/Switch_on_verdict/default/actions/Until_acknowledged/actions/\
             Forward_original_alert"
                .into()
        )
    );
    assert_eq!(
        find(&f, "Send_email_from_SMTP_relay").location,
        Location::Pointer(
            "/resources/0/properties/template/resources/0/properties/definition/actions/\
             Send_email_from_SMTP_relay"
                .into()
        )
    );
}

#[test]
fn findings_say_what_they_notify_how_and_why_partial() {
    let report = scan(&[fixtures()]).unwrap();
    let f: Vec<Finding> = report.findings.clone();

    let phish = f
        .iter()
        .find(|f| f.workflow == "Phishing-Notify-SOC")
        .unwrap();
    assert_eq!(
        phish.notifies,
        "Phishing reported: @{triggerBody()?['object']?['properties']?['title']}"
    );
    assert_eq!(phish.via, "Office 365 Outlook: Send an email (/v2/Mail)");
    assert_eq!(
        phish.trigger,
        "Microsoft_Sentinel_incident (Microsoft Sentinel incident)"
    );
    assert!(phish.recommendation.contains("Failed and TimedOut"));

    assert_eq!(
        find(&f, "Send_approval_email").gap,
        Some(Gap::NotOnTimedOut)
    );
    assert_eq!(find(&f, "Send_an_email").gap, Some(Gap::SharesFate));
    assert_eq!(find(&f, "edge-oncall").gap, Some(Gap::Unverified));
    assert_eq!(find(&f, "Send digest").gap, Some(Gap::Unverified));

    let am = find(&f, "soc-email-and-slack");
    assert_eq!(
        am.location,
        Location::PointerAt {
            pointer: "/receivers/1".into(),
            line: 34
        }
    );
    assert_eq!(am.notifies, "[CRITICAL] {{ .CommonLabels.alertname }}");
    assert_eq!(am.trigger, "route /route/routes/0 {severity=\"critical\"}");
    assert_eq!(
        find(&f, "soc-email").via,
        "email_configs via smarthost smtp.office365.com:587 (Exchange Online)"
    );

    let n8n = find(&f, "Mail SOC");
    assert_eq!(n8n.notifies, "{{ $json.title }} ({{ $json.severity }})");
    assert_eq!(
        n8n.via,
        "Send Email node (SMTP; server in credential \"Exchange Online SMTP\")"
    );
    assert_eq!(find(&f, "Graph sendMail").notifies, "Digest");
}

#[test]
fn malformed_files_are_located_and_do_not_stop_the_scan() {
    let report = scan(&[fixtures()]).unwrap();
    let problems: Vec<(String, Option<u64>, Option<u64>)> = report
        .problems
        .iter()
        .map(|p| (rel(&p.file), p.line, p.column))
        .collect();
    assert_eq!(
        problems,
        [
            (
                "malformed/broken-alertmanager.yml".to_string(),
                Some(7),
                Some(8)
            ),
            (
                "malformed/broken-playbook.json".to_string(),
                Some(19),
                Some(25)
            ),
        ]
    );
    let shown = report.problems[1].to_string();
    assert!(
        shown.contains("broken-playbook.json:19:25: not valid JSON: expected `,` or `}`"),
        "{shown}"
    );
    assert!(shown.contains("hint: fix the JSON"), "{shown}");
    // Files after the broken ones were still parsed.
    assert!(
        report
            .confirmed()
            .any(|f| rel(&f.file).starts_with("shuffle/"))
    );
}

#[test]
fn unparsed_files_that_mention_mail_are_listed_not_judged() {
    let report = scan(&[fixtures()]).unwrap();
    let unparsed: Vec<(String, String, String)> = report
        .unparsed()
        .map(|f| (rel(&f.file), f.location.to_string(), f.action.clone()))
        .collect();
    assert_eq!(
        unparsed,
        [
            (
                "malformed/broken-alertmanager.yml".to_string(),
                "line 7".to_string(),
                "text match: smtp, office365".to_string()
            ),
            (
                "malformed/broken-playbook.json".to_string(),
                "line 14".to_string(),
                "text match: office365".to_string()
            ),
            (
                "other/notify-soc.ps1".to_string(),
                "line 6".to_string(),
                "text match: smtp, office365".to_string()
            ),
            (
                "other/xsoar-playbook.yml".to_string(),
                "line 8".to_string(),
                "text match: send email".to_string()
            ),
        ]
    );
    assert!(report.unparsed().all(|f| f.verdict == Verdict::Unknown));
    assert!(report.unparsed().all(|f| f.format == Format::Unparsed));
    assert_eq!(
        report.notes,
        [format!(
            "{}: receiver `legacy-email` sends email but no route reaches it; it was not counted",
            fixture("alertmanager/alertmanager.yml").display()
        )]
    );
}

fn args(paths: &[PathBuf]) -> AuditArgs {
    AuditArgs {
        paths: paths.to_vec(),
        ..AuditArgs::default()
    }
}

#[test]
fn without_a_mapping_any_path_without_fallback_fails_the_gate() {
    let exit = run(&args(&[fixtures()])).unwrap();
    assert_eq!(exit.code, 1, "{}", exit.stdout);
    assert!(
        exit.stdout.contains(
            "summary: 23 email-dependent paths in 18 workflows: 7 without fallback, 7 partial; \
             4 unparsed matches to review; 2 files could not be parsed (27 files scanned)"
        ),
        "{}",
        exit.stdout
    );
    assert!(
        exit.stdout
            .contains("gate: failed: 7 paths lack a fallback"),
        "{}",
        exit.stdout
    );
    assert!(
        exit.stderr.contains("broken-playbook.json:19:25"),
        "{}",
        exit.stderr
    );

    // Paths that all have a fallback pass.
    let good = [
        fixture("logicapps/incident-escalation-with-fallback.json"),
        fixture("logicapps/containment-scoped.json"),
    ];
    let exit = run(&args(&good)).unwrap();
    assert_eq!(exit.code, 0, "{}", exit.stdout);
}

#[test]
fn with_a_mapping_only_critical_paths_without_fallback_fail() {
    let mapping = Some(fixture("criticality.yaml"));
    // Critical and covered, plus unrated without a fallback: passes.
    let exit = run(&AuditArgs {
        criticality: mapping.clone(),
        ..args(&[
            fixture("logicapps/containment-scoped.json"),
            fixture("logicapps/ransomware-triage"),
        ])
    })
    .unwrap();
    assert_eq!(exit.code, 0, "{}", exit.stdout);
    let rated: Vec<(String, Criticality)> = exit
        .report
        .findings
        .iter()
        .map(|f| (f.workflow.clone(), f.criticality))
        .collect();
    assert!(rated.contains(&("Host-Containment".into(), Criticality::Critical)));
    assert!(rated.contains(&("ransomware-triage".into(), Criticality::Unrated)));

    // A critical path without a fallback fails it.
    let exit = run(&AuditArgs {
        criticality: mapping,
        ..args(&[fixtures()])
    })
    .unwrap();
    assert_eq!(exit.code, 1);
    let failing: Vec<&str> = exit
        .report
        .failing(false)
        .iter()
        .map(|f| f.workflow.as_str())
        .collect();
    assert_eq!(
        failing,
        ["soc-email", "Phishing-Notify-SOC", "Phishing report triage"]
    );
}

#[test]
fn strict_also_fails_on_partial_fallbacks_and_unparsable_files() {
    let partial = [fixture("logicapps/approval-failed-only.json")];
    assert_eq!(run(&args(&partial)).unwrap().code, 0);
    let strict = AuditArgs {
        strict: true,
        ..args(&partial)
    };
    assert_eq!(run(&strict).unwrap().code, 1);

    // With a mapping, strict widens what lacks a fallback, not which paths count.
    let rated = AuditArgs {
        strict: true,
        criticality: Some(fixture("criticality.yaml")),
        ..args(&[fixture("logicapps/teams-fallback.json")])
    };
    let exit = run(&rated).unwrap();
    assert_eq!(exit.code, 0, "high, not critical: {}", exit.stdout);

    let broken = AuditArgs {
        strict: true,
        ..args(&[fixture("malformed")])
    };
    let exit = run(&broken).unwrap();
    assert_eq!(exit.code, 1, "{}", exit.stdout);
}

#[test]
fn a_file_reached_twice_is_scanned_once() {
    let file = fixture("logicapps/sentinel-phishing-notify.json");
    let report = scan(&[fixture("logicapps"), file.clone(), file]).unwrap();
    let once = scan(&[fixture("logicapps")]).unwrap();
    assert_eq!(report.files_scanned, once.files_scanned);
    assert_eq!(report.findings.len(), once.findings.len());
}

#[test]
fn usage_errors_say_what_where_and_how_to_fix() {
    let err = run(&args(&[fixture("no-such-folder")])).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    assert!(text.contains("no-such-folder` does not exist"), "{text}");
    assert!(text.contains("hint: give files or folders"), "{text}");

    let dir = scratch();
    let bad = dir.path().join("crit.yaml");
    std::fs::write(&bad, "critical: ['Phish*']\nhihg: ['x']\n").unwrap();
    let err = run(&AuditArgs {
        criticality: Some(bad.clone()),
        ..args(&[fixtures()])
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AuditError::Mapping { .. }), "{text}");
    assert!(
        text.starts_with(&format!("{}:2:1: unknown field `hihg`", bad.display())),
        "{text}"
    );
    assert!(text.contains("did you mean `high`?"), "{text}");
}

/// Splits one CSV record (quoted cells may hold commas and doubled quotes).
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cells.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            (c, _) => cells.last_mut().unwrap().push(c),
        }
    }
    cells
}

#[test]
fn the_register_is_written_as_csv_and_markdown() {
    let dir = scratch();
    let out = dir.path().join("register");
    let exit = run(&AuditArgs {
        out: Some(out.clone()),
        criticality: Some(fixture("criticality.yaml")),
        ..args(&[fixtures()])
    })
    .unwrap();

    let csv = std::fs::read_to_string(out.join(register::CSV_NAME)).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], register::CSV_HEADER);
    assert_eq!(lines.len(), 1 + EXPECTED.len() + 4, "{csv}");
    for line in &lines {
        assert_eq!(csv_cells(line).len(), 13, "{line}");
    }
    let phish = lines
        .iter()
        .map(|l| csv_cells(l))
        .find(|c| c[0] == "Phishing-Notify-SOC")
        .unwrap();
    assert_eq!(phish[1], "critical");
    assert_eq!(phish[2], "logic-app");
    assert_eq!(phish[9], "no");
    assert_eq!(
        phish[7],
        "Phishing reported: @{triggerBody()?['object']?['properties']?['title']}"
    );

    let md = std::fs::read_to_string(out.join(register::MD_NAME)).unwrap();
    assert!(md.starts_with("# Exchange Online dependency register"));
    assert!(md.contains(&exit.report.summary()));
    assert!(md.contains("**Gate:** failed: 3 of the critical paths lack a fallback."));
    assert!(
        md.contains("| Phishing-Notify-SOC | critical | `Send_an_email_(V2)` |"),
        "{md}"
    );
    assert!(md.contains("## Unparsed matches (review by hand)"));
    assert!(md.contains("## Files that could not be parsed"));
    assert!(exit.stdout.contains("wrote "), "{}", exit.stdout);

    // A later audit of a folder holding the register skips it.
    let again = scan(&[out]).unwrap();
    assert!(again.findings.is_empty(), "{:#?}", again.findings);
}

#[test]
fn the_emitted_scenario_is_a_valid_v1_drill() {
    let dir = scratch();
    let path = dir.path().join("drills/exchange.yaml");
    let exit = run(&AuditArgs {
        emit_scenario: Some(path.clone()),
        criticality: Some(fixture("criticality.yaml")),
        ..args(&[fixtures()])
    })
    .unwrap();
    assert!(exit.stdout.contains("18 alerts"), "{}", exit.stdout);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=scenario-v1.schema.json\n"));
    let schema = std::fs::read_to_string(path.with_file_name(emit::SCHEMA_NAME)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(schema["title"], "Scenario");

    // The same loader and validation `run` uses.
    let loaded = load(&path, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let s = loaded.scenario;
    assert_eq!(s.version, 1);
    assert_eq!(s.alerts.len(), 18);
    let alert = |name: &str| s.alerts.iter().find(|a| a.name == name).unwrap();
    assert_eq!(alert("phishing-notify-soc").severity, Severity::Critical);
    assert_eq!(alert("phishing-notify-soc").rto.to_string(), "5m");
    assert_eq!(alert("edr-isolation-notice").severity, Severity::High);
    assert_eq!(alert("weekly-vulnerability-digest").severity, Severity::Low);
    assert_eq!(alert("ransomware-triage").severity, Severity::Medium);

    let channels: Vec<(&str, &str)> = s
        .channels
        .iter()
        .map(|c| (c.name.as_str(), c.kind.as_str()))
        .collect();
    assert_eq!(
        channels,
        [
            ("exchange-smtp", "smtp"),
            ("exchange-graph", "graph"),
            ("soc-slack", "slack"),
            ("soc-teams", "teams"),
            ("oncall-pagerduty", "pagerduty"),
            ("soc-ntfy", "ntfy"),
            ("soc-telegram", "webhook"),
            ("fallback-webhook", "webhook"),
        ]
    );
    assert!(s.outage.faults.contains_key("exchange-smtp"));
    assert!(s.outage.faults.contains_key("soc-teams"));
    assert_eq!(s.target.routes[0].channel, "exchange-smtp");

    // A later audit of the folder skips the scenario and its schema.
    let again = scan(&[dir.path().join("drills")]).unwrap();
    assert_eq!(again.files_scanned, 2);
    assert!(again.findings.is_empty(), "{:#?}", again.findings);

    // Nothing to drill: no file, a warning that says why.
    let none = dir.path().join("none.yaml");
    let exit = run(&AuditArgs {
        emit_scenario: Some(none.clone()),
        ..args(&[fixture("n8n/ses-newsletter.json")])
    })
    .unwrap();
    assert!(!none.exists());
    assert!(exit.stderr.contains("nothing written"), "{}", exit.stderr);
}

#[test]
fn a_scenario_for_paths_without_any_fallback_still_validates() {
    let dir = scratch();
    let path = dir.path().join("email-only.yaml");
    run(&AuditArgs {
        emit_scenario: Some(path.clone()),
        ..args(&[fixture("logicapps/sentinel-phishing-notify.json")])
    })
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let s = load(&path, LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .scenario;
    // A placeholder alternate exists, but the routes only reach the mail path.
    assert!(s.channels.iter().any(|c| c.name == "soc-slack"));
    let routed: Vec<&str> = s.target.routes.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(routed, ["exchange-smtp", "exchange-graph"]);
    assert!(text.contains("No fallback channel was found"), "{text}");
}

#[test]
fn a_mapping_rates_by_the_most_severe_matching_pattern() {
    let mapping = Mapping::load(&fixture("criticality.yaml")).unwrap();
    assert_eq!(
        mapping.rate("Phishing report triage"),
        Criticality::Critical
    );
    assert_eq!(mapping.rate("Host-Containment"), Criticality::Critical);
    assert_eq!(mapping.rate("EDR malware alert"), Criticality::High);
    assert_eq!(mapping.rate("Security newsletter"), Criticality::Low);
    assert_eq!(mapping.rate("parallel-slack"), Criticality::Unrated);
}

/// Not a check: a measurement. Copies the corpus until there are about
/// 3,000 files and times one scan of them. Run it with
/// `cargo test --test it audit::scan_timing -- --ignored --nocapture`.
#[test]
#[ignore = "a timing measurement, not a check"]
fn scan_timing() {
    let dir = scratch();
    let sources: Vec<PathBuf> = walk(&fixtures());
    let copies = 3000 / sources.len() + 1;
    for i in 0..copies {
        for src in &sources {
            let dst = dir.path().join(format!("copy-{i:03}")).join(rel(src));
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(src, &dst).unwrap();
        }
    }
    let started = Instant::now();
    let report = scan(&[dir.path().to_path_buf()]).unwrap();
    let elapsed = started.elapsed();
    println!(
        "scanned {} files ({} findings) in {:.2?}",
        report.files_scanned,
        report.findings.len(),
        elapsed
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Through the binary: the gate's exit code, and the emitted scenario
/// validates and runs as a drill.
#[test]
fn the_command_gates_ci_and_its_scenario_runs() {
    let dir = scratch();
    let out = dir.path().join("audit");
    let emitted = out.join("drill.yaml");
    let run = crate::harness::run_in(
        dir.path(),
        &[
            "audit",
            fixtures().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--emit-scenario",
            emitted.to_str().unwrap(),
        ],
    );
    run.expect_code(1);
    assert!(run.stdout().contains("summary:"), "{}", run.explain());
    assert!(out.join("dependency-register.csv").is_file());
    crate::harness::run_in(dir.path(), &["validate", emitted.to_str().unwrap()]).expect_code(0);

    // Run it on fresh ports, compressed: the built-in target proves what
    // the found fallbacks must achieve.
    let copy = dir.path().join("run");
    std::fs::create_dir_all(&copy).unwrap();
    let scenario = crate::harness::isolated_copy(&emitted, &copy);
    let record = dir.path().join("record");
    let drill = crate::harness::run_in(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--speed",
            "900",
            "--out",
            record.to_str().unwrap(),
        ],
    );
    assert!(
        drill.code() == 0 || drill.code() == 1,
        "{}",
        drill.explain()
    );
    let summary = crate::drill::summary(&record);
    assert_eq!(
        summary["alerts"].as_array().unwrap().len(),
        18,
        "one firing per workflow"
    );
}
