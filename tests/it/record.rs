//! The CP-4 test record: pinned Markdown for a passing, failing, aborted and
//! inconclusive run (journals fixed under `tests/data/journals/`), the HTML
//! in headless Chromium, hostile scenario text, and `report` reproducing a
//! run's record byte for byte.
//!
//! Chromium tests are skipped, with a message, when no browser is
//! installed; with `CI` set a missing browser fails them, since `.ci/run`
//! installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::drill::wait_exit;
use crate::harness::{root, run_in, scratch};

/// How long Chromium may take to load one local page and exit.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

/// Renders the fixed journal `name` with `report` in a fresh folder and
/// returns that folder (kept alive by the returned guard).
fn report_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = scratch();
    let run_dir = dir.path().join(name);
    std::fs::create_dir(&run_dir).unwrap();
    let journal = root().join(format!("tests/data/journals/{name}.jsonl"));
    std::fs::copy(&journal, run_dir.join("journal.jsonl")).unwrap();
    run_in(dir.path(), &["report", run_dir.to_str().unwrap()]).expect_code(0);
    (dir, run_dir)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn record_md(name: &str) -> String {
    let (_dir, run_dir) = report_fixture(name);
    read(&run_dir.join("record.md"))
}

#[test]
fn record_of_a_passing_run() {
    insta::assert_snapshot!("pass", record_md("pass"));
}

#[test]
fn record_of_a_failing_run() {
    let md = record_md("fail");
    assert!(md.contains("> **CRITICAL LAPSE**"), "the banner is on top");
    insta::assert_snapshot!("fail", md);
}

#[test]
fn record_of_an_aborted_run() {
    insta::assert_snapshot!("aborted", record_md("aborted"));
}

#[test]
fn record_of_an_inconclusive_run() {
    insta::assert_snapshot!("inconclusive", record_md("inconclusive"));
}

/// The record's evidence names the journal's and summary's SHA-256 as they
/// are on disk.
#[test]
fn evidence_hashes_match_the_files_on_disk() {
    let (_dir, run_dir) = report_fixture("pass");
    let md = read(&run_dir.join("record.md"));
    for file in ["journal.jsonl", "summary.json", "junit.xml"] {
        let digest = hex::encode(Sha256::digest(std::fs::read(run_dir.join(file)).unwrap()));
        assert!(
            md.contains(&format!("| {file} |")) && md.contains(&digest),
            "{file} ({digest}) is not in the evidence:\n{md}"
        );
    }
}

#[test]
fn report_reproduces_a_finished_runs_outputs_byte_for_byte() {
    let dir = scratch();
    let out = dir.path().join("run");
    let scenario = root().join("scenarios/ci-smoke.yaml");
    run_in(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let files = ["record.md", "record.html", "summary.json", "junit.xml"];
    let before: Vec<String> = files.iter().map(|f| read(&out.join(f))).collect();

    let report = run_in(dir.path(), &["report", out.to_str().unwrap()]);
    report.expect_code(0);
    for (file, before) in files.iter().zip(&before) {
        let after = read(&out.join(file));
        assert!(
            *before == after,
            "{file} changed when re-rendered\n--- run\n{before}\n--- report\n{after}\n{}",
            report.explain()
        );
    }
}

#[test]
fn an_organisations_template_replaces_the_built_in_one() {
    let (dir, run_dir) = report_fixture("pass");
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("record.md.hbs"),
        "ACME record {{run_id}}: {{verdict_upper}}, next due {{next_due}}\n",
    )
    .unwrap();
    run_in(
        dir.path(),
        &[
            "report",
            run_dir.to_str().unwrap(),
            "--template",
            templates.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    let md = read(&run_dir.join("record.md"));
    assert!(
        md.starts_with("ACME record c008e6: PASS, next due 2027-01-03"),
        "{md}"
    );
    let html = read(&run_dir.join("record.html"));
    assert!(
        html.contains("<svg"),
        "record.html kept the built-in template"
    );
}

const HOSTILE: &str = r#"version: 1
name: hostile-text
title: "<script>alert(1)</script> drill"
description: "Before <img src=x onerror=alert(2)> after"
controls: [CP-4, "<b>CP-99</b>"]
exercise:
  facilitator: "<b>Mallory</b>"
  participants:
    - { name: "<i>Eve</i>", role: "<svg onload=alert(5)>" }
channels:
  - { name: exchange-smtp, kind: smtp,  role: primary, listen: "127.0.0.1:0" }
  - { name: soc-slack,     kind: slack, listen: "127.0.0.1:0" }
outage:
  duration: 1s
  faults:
    exchange-smtp: { fail: defer }
target:
  kind: builtin
  routes:
    - { channel: exchange-smtp, timeout: 2s }
    - { channel: soc-slack,     timeout: 2s }
alerts:
  - { name: phish, title: "<img src=x onerror=alert(3)>", severity: critical, at: 200ms, rto: 5s }
  - { name: edr, title: "</td></tr><script>alert(4)</script>", severity: high, at: 400ms, rto: 5s }
checks: { baseline: false, recovery: false }
"#;

/// Markup that must never appear live in the record. (An attribute such as
/// `onerror=` is only live inside a tag, and every tag starts with a raw
/// `<`, so the tags are what is checked.)
const LIVE: [&str; 7] = [
    "<script",
    "<img",
    "<svg onload",
    "<b>",
    "<i>Eve",
    "<u>Trent",
    "<em>lead",
];

#[test]
fn scenario_text_never_becomes_markup() {
    let dir = scratch();
    let scenario = dir.path().join("hostile.yaml");
    std::fs::write(&scenario, HOSTILE).unwrap();
    let out = dir.path().join("out");
    run_in(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--participant",
            "<u>Trent</u>:<em>lead</em>",
        ],
    )
    .expect_code(0);

    let html = read(&out.join("record.html"));
    for live in LIVE {
        assert!(!html.contains(live), "`{live}` is live in record.html");
    }
    for escaped in [
        "&lt;script&gt;alert(1)&lt;",
        "&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;",
        "&lt;img src&#x3D;x onerror&#x3D;alert(3)&gt;",
        "&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(4)",
        "&lt;svg onload&#x3D;alert(5)&gt;",
        "&lt;b&gt;Mallory&lt;",
        "&lt;u&gt;Trent&lt;",
    ] {
        assert!(
            html.contains(escaped),
            "`{escaped}` missing from record.html"
        );
    }

    // The chart is inserted unescaped, so its own escaping must hold.
    let start = html.find("<svg").expect("the chart is inline");
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    assert!(svg.contains("Timeline of the drill: &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(svg.contains("&lt;img src=x onerror=alert(3)&gt;"), "{svg}");
    assert!(
        svg.contains("&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;alert(4)"),
        "{svg}"
    );
    assert_eq!(svg.matches("<svg").count(), 1, "one svg element only");

    let md = read(&out.join("record.md"));
    for live in LIVE {
        assert!(!md.contains(live), "`{live}` is live in record.md");
    }
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{md}");

    // What the browser builds: escaped text stays text.
    if let Some(browser) = chromium() {
        let dom = dump_dom(&browser, &out.join("record.html"), dir.path());
        for live in LIVE {
            assert!(!dom.contains(live), "`{live}` became an element:\n{dom}");
        }
    }
}

/// The Chromium binary, or `None` (with a message) when not installed.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success());
        if let Some(o) = found {
            return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing in CI: .ci/run must install it"
    );
    eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
    None
}

/// Runs headless Chromium on `page` with `args`, its output to `stdout`.
fn browse(browser: &Path, page: &Path, work: &Path, args: &[String], stdout: &Path) {
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile-")
        .tempdir_in(work)
        .unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(format!("file://{}", page.display()))
    .stdout(Stdio::from(std::fs::File::create(stdout).unwrap()))
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("chromium starts");
    let code = wait_exit(&mut child, BROWSER_LIMIT);
    assert_eq!(code, 0, "chromium failed on {}: {cmd:?}", page.display());
}

fn dump_dom(browser: &Path, page: &Path, work: &Path) -> String {
    let out = work.join("dom.html");
    browse(browser, page, work, &["--dump-dom".into()], &out);
    read(&out)
}

/// Where tests leave files for people to look at.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn record_html_loads_in_headless_chromium_with_its_chart() {
    let Some(browser) = chromium() else {
        return;
    };
    let (dir, run_dir) = report_fixture("aborted");
    let page = run_dir.join("record.html");

    let dom = dump_dom(&browser, &page, dir.path());
    assert!(
        dom.contains("Contingency plan test record"),
        "the page loaded:\n{dom}"
    );
    assert!(dom.contains("<svg"), "the timeline chart is in the DOM");
    assert!(dom.contains("class=\"timeline-chart\""), "{dom}");
    assert!(dom.contains("Review and sign-off"), "the page is complete");

    let png = artifacts().join("record-aborted.png");
    let _ = std::fs::remove_file(&png);
    browse(
        &browser,
        &page,
        dir.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,2400".into(),
        ],
        &dir.path().join("screenshot.log"),
    );
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a blank page would be tiny: {} bytes",
        bytes.len()
    );
}
