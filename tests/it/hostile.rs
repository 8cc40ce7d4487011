//! A drill that keeps judging while hostile clients hammer its endpoints.
//!
//! The endpoint tests (`smtp`, `http`) show each limit on its own; here a
//! real drill runs through the binary while, from the moment its ports are
//! bound until it exits, clients send its SMTP endpoint binary garbage, an
//! endless line, a 50 MB message and a slowloris greeting, and its Slack
//! sink a 50 MB body, malformed JSON, slow headers and 1,000 idle
//! connections. The drill must still pass with every firing delivered, and
//! nothing may panic. Each attack also reports what it saw, so the test
//! fails if an attack never reached its endpoint.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::drill::{summary, wait_exit};
use crate::harness::{bin, scratch};

/// Longest any attack keeps going, whatever the drill does.
const ATTACK_LIMIT: Duration = Duration::from_secs(60);

/// Socket timeout for a reply an attack expects.
const REPLY_WAIT: Duration = Duration::from_secs(20);

/// How long a drill that closed its endpoints may take to exit.
const TEARDOWN: Duration = Duration::from_secs(5);

/// How long the drill may take, attacks and all.
const DRILL_LIMIT: Duration = Duration::from_secs(90);

/// Size of the oversized message and body.
const FIFTY_MB: usize = 50 * 1024 * 1024;

/// The endpoints' own caps (see their module docs): SMTP bad commands in a
/// row before 421, and its session cap, which the slowloris stays under.
const SMTP_MAX_ERRORS: usize = 10;
const SLOWLORIS_SESSIONS: usize = 16;
const IDLE_CONNECTIONS: usize = 1000;
const SLOW_HEADERS: usize = 8;

/// ci-smoke's shape on port 0, its outage long enough to be hammered: the
/// primary SMTP channel refuses each message at its end, the built-in
/// notifier fails over to Slack.
const SCENARIO: &str = r#"version: 1
name: under-attack
title: A drill whose endpoints are under attack
channels:
  - { name: exchange-smtp, kind: smtp,  role: primary, listen: "127.0.0.1:0" }
  - { name: soc-slack,     kind: slack, listen: "127.0.0.1:0" }
outage:
  duration: 5s
  faults:
    exchange-smtp: { fail: defer, stage: end-of-data }
target:
  kind: builtin
  routes:
    - { channel: exchange-smtp, timeout: 3s }
    - { channel: soc-slack,     timeout: 3s }
alerts:
  - { name: phishing-report, severity: critical, at: 500ms, every: 500ms, rto: 10s }
checks: { baseline: true, recovery: true, rto: 10s }
"#;

/// Whether the drill has exited: every attack loop stops then.
type Done = Arc<AtomicBool>;

/// What an attack saw, or why it failed.
type Seen = Result<String, String>;

fn attack(
    name: &'static str,
    done: &Done,
    f: fn(SocketAddr, &Done) -> Seen,
    addr: SocketAddr,
) -> (&'static str, JoinHandle<Seen>) {
    let done = done.clone();
    (name, std::thread::spawn(move || f(addr, &done)))
}

fn over(done: &Done, started: Instant) -> bool {
    done.load(Ordering::SeqCst) || started.elapsed() > ATTACK_LIMIT
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(REPLY_WAIT)).unwrap();
    stream.set_write_timeout(Some(REPLY_WAIT)).unwrap();
    Ok(stream)
}

/// Reads until the peer closes (or resets); what it sent.
fn read_to_close(stream: &mut TcpStream) -> Result<String, String> {
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => return Err(format!("still open after {REPLY_WAIT:?}: {e}")),
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// One SMTP reply (its last line), read line by line.
fn smtp_reply(reader: &mut BufReader<TcpStream>) -> Result<String, String> {
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("no reply: {e}"))?;
        if n == 0 {
            return Err("closed without a reply".into());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line.trim_end().to_string());
        }
    }
}

// ------------------------------------------------------------------ smtp

/// Runs `round` again and again until the drill ends (at most `max`
/// times). A round that fails is a finding, unless the drill ended under
/// it: its endpoints close at teardown, mid-round.
fn repeat(
    done: &Done,
    max: usize,
    mut round: impl FnMut() -> Result<(), String>,
) -> Result<usize, String> {
    let started = Instant::now();
    let mut rounds = 0;
    while !over(done, started) && rounds < max {
        if let Err(why) = round() {
            return if rounds > 0 && ended_meanwhile(done) {
                Ok(rounds)
            } else {
                Err(why)
            };
        }
        rounds += 1;
    }
    Ok(rounds)
}

/// Whether the drill exits within [`TEARDOWN`], i.e. was tearing down.
fn ended_meanwhile(done: &Done) -> bool {
    let started = Instant::now();
    while started.elapsed() < TEARDOWN {
        if done.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Lines of binary garbage until the endpoint says `421 Too many errors`
/// and hangs up; again and again.
fn smtp_garbage(addr: SocketAddr, done: &Done) -> Seen {
    let line: Vec<u8> = (0..60u8)
        .map(|i| i.wrapping_mul(151) | 0x80)
        .chain(*b"\0\x1b\r\n")
        .collect();
    let rounds = repeat(done, 20_000, || {
        let mut stream = connect(addr)?;
        for _ in 0..SMTP_MAX_ERRORS {
            stream
                .write_all(&line)
                .map_err(|e| format!("garbage write: {e}"))?;
        }
        let text = read_to_close(&mut stream)?;
        if !text.ends_with("421 4.7.0 Too many errors\r\n") {
            return Err(format!("garbage was not sent away: {text:?}"));
        }
        Ok(())
    })?;
    Ok(format!("{rounds} sessions of garbage sent away with 421"))
}

/// A line that never ends: cut every 8 KiB, then the session is closed and
/// the flood stops getting through.
fn smtp_endless_line(addr: SocketAddr, done: &Done) -> Seen {
    let rounds = repeat(done, 1000, || {
        let mut stream = connect(addr)?;
        let mut writer = stream.try_clone().unwrap();
        let flood = std::thread::spawn(move || {
            let chunk = [b'A'; 4096];
            // At most 64 MiB; the endpoint hangs up after 80 KiB, and stops
            // reading soon after its 421.
            for _ in 0..16 * 1024 {
                if writer.write_all(&chunk).is_err() {
                    return true;
                }
            }
            false
        });
        let text = read_to_close(&mut stream)?;
        let cut = flood.join().unwrap();
        if !text.contains("500 5.5.2 Line too long")
            || !text.ends_with("421 4.7.0 Too many errors\r\n")
        {
            return Err(format!("the endless line was not cut: {text:?}"));
        }
        if !cut {
            return Err("64 MiB of one line were read without hanging up".into());
        }
        Ok(())
    })?;
    Ok(format!("{rounds} endless lines cut"))
}

/// A 50 MB message: read to its end and refused (too big, or the
/// outage's fault at end of data), never accepted.
fn smtp_big_data(addr: SocketAddr, _done: &Done) -> Seen {
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    smtp_reply(&mut reader)?;
    for command in [
        "EHLO attacker.example",
        "MAIL FROM:<a@attacker.example>",
        "RCPT TO:<soc@contoso.example>",
        "DATA",
    ] {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let reply = smtp_reply(&mut reader)?;
        if !reply.starts_with('2') && !reply.starts_with('3') {
            return Err(format!("{command}: {reply}"));
        }
    }
    let line = format!("{}\r\n", "x".repeat(998));
    let block = line.repeat(64);
    for _ in 0..FIFTY_MB / block.len() {
        writer
            .write_all(block.as_bytes())
            .map_err(|e| format!("body write: {e}"))?;
    }
    writer.write_all(b".\r\n").map_err(|e| e.to_string())?;
    let reply = smtp_reply(&mut reader)?;
    if !(reply.starts_with("552 ") || reply.starts_with("421 ")) {
        return Err(format!("a 50 MB message was answered {reply}"));
    }
    Ok(format!("50 MB message refused: {reply}"))
}

/// Sessions that trickle their greeting one byte at a time and never finish it.
fn smtp_slowloris(addr: SocketAddr, done: &Done) -> Seen {
    trickle(
        addr,
        done,
        SLOWLORIS_SESSIONS,
        b"EHLO slowloris.attacker.example",
        true,
    )
}

/// Opens `count` connections and sends `head` one byte per 200 ms on each,
/// until the drill ends; after a greeting first when `smtp`.
fn trickle(addr: SocketAddr, done: &Done, count: usize, head: &[u8], smtp: bool) -> Seen {
    let started = Instant::now();
    let mut streams = Vec::new();
    for _ in 0..count {
        let stream = connect(addr)?;
        if smtp {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let greeting = smtp_reply(&mut reader)?;
            if !greeting.starts_with("220 ") {
                return Err(format!("slowloris greeted with {greeting}"));
            }
        }
        streams.push(stream);
    }
    let mut sent = 0;
    while !over(done, started) {
        let byte = [head[sent % head.len()]];
        for stream in &mut streams {
            // A connection the endpoint already cut stays cut.
            let _ = stream.write_all(&byte);
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(format!("{count} connections trickled {sent} bytes each"))
}

// ------------------------------------------------------------------ http

/// A declared 50 MB body: answered 413 without being kept.
fn http_big_body(addr: SocketAddr, _done: &Done) -> Seen {
    let mut stream = connect(addr)?;
    let head = format!(
        "POST /services/T0/B0/attack HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {FIFTY_MB}\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| e.to_string())?;
    let chunk = vec![b' '; 1024 * 1024];
    let mut written = 0;
    for _ in 0..FIFTY_MB / chunk.len() {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        written += chunk.len();
    }
    let text = read_to_close(&mut stream)?;
    if !text.starts_with("HTTP/1.1 413") {
        return Err(format!("a 50 MB body was answered {text:?}"));
    }
    Ok(format!(
        "50 MB body answered 413 ({} MB sent)",
        written / (1024 * 1024)
    ))
}

/// JSON cut short, again and again: 400 `invalid_payload`, as Slack says.
fn http_malformed_json(addr: SocketAddr, done: &Done) -> Seen {
    let body = r#"{"text":"[critical] DRILL-attack-broken-1"#;
    let request = format!(
        "POST /services/T0/B0/attack HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let rounds = repeat(done, 100_000, || {
        let mut stream = connect(addr)?;
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let text = read_to_close(&mut stream)?;
        if !text.starts_with("HTTP/1.1 400") || !text.ends_with("invalid_payload") {
            return Err(format!("malformed JSON was answered {text:?}"));
        }
        Ok(())
    })?;
    Ok(format!("{rounds} malformed bodies refused with 400"))
}

/// Request heads sent one byte at a time, never finished.
fn http_slow_headers(addr: SocketAddr, done: &Done) -> Seen {
    let head = b"POST /services/T0/B0/attack HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    trickle(addr, done, SLOW_HEADERS, head, false)
}

/// 1,000 connections that never send a byte, held until the drill ends.
fn http_idle(addr: SocketAddr, done: &Done) -> Seen {
    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        idle.push(connect(addr)?);
    }
    while !over(done, started) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!("{} idle connections held", idle.len()))
}

// ------------------------------------------------------------------ test

/// Waits for both `endpoint_bound` events; the channels' bound addresses.
fn bound_addrs(out: &std::path::Path) -> (SocketAddr, SocketAddr) {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(out.join("journal.jsonl")).unwrap_or_default();
        let mut smtp = None;
        let mut slack = None;
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if event["event"] == "endpoint_bound" {
                let addr = event["addr"].as_str().unwrap().parse().unwrap();
                match event["kind"].as_str() {
                    Some("smtp") => smtp = Some(addr),
                    Some("slack") => slack = Some(addr),
                    _ => {}
                }
            }
        }
        if let (Some(smtp), Some(slack)) = (smtp, slack) {
            return (smtp, slack);
        }
        assert!(
            started.elapsed() < DRILL_LIMIT,
            "endpoints never bound:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_drill_under_attack_still_judges_every_firing() {
    let dir = scratch();
    std::fs::write(dir.path().join("drill.yaml"), SCENARIO).unwrap();
    let out = dir.path().join("out");
    let stderr_path = dir.path().join("stderr.txt");
    let mut child = Command::new(bin())
        .args(["run", "drill.yaml", "--out", out.to_str().unwrap()])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();

    let (smtp, slack) = bound_addrs(&out);
    let done: Done = Arc::new(AtomicBool::new(false));
    let attacks = [
        attack("smtp binary garbage", &done, smtp_garbage, smtp),
        attack("smtp endless line", &done, smtp_endless_line, smtp),
        attack("smtp 50 MB message", &done, smtp_big_data, smtp),
        attack("smtp slowloris greeting", &done, smtp_slowloris, smtp),
        attack("http 50 MB body", &done, http_big_body, slack),
        attack("http malformed JSON", &done, http_malformed_json, slack),
        attack("http slow headers", &done, http_slow_headers, slack),
        attack("http 1,000 idle connections", &done, http_idle, slack),
    ];

    let code = wait_exit(&mut child, DRILL_LIMIT);
    done.store(true, Ordering::SeqCst);
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for (name, handle) in attacks {
        match handle.join() {
            Ok(Ok(seen)) => report.push(format!("{name}: {seen}")),
            Ok(Err(why)) => failed.push(format!("{name}: {why}")),
            Err(_) => failed.push(format!("{name}: the attack panicked")),
        }
    }
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let explain = format!(
        "exit {code}\nattacks:\n{}\nfailed attacks:\n{}\n--- drill stderr\n{stderr}",
        report.join("\n"),
        failed.join("\n")
    );
    // Shown with --nocapture: what each attack did.
    println!("{explain}");
    assert!(
        failed.is_empty(),
        "an attack did not see the endpoint hold\n{explain}"
    );
    assert!(!stderr.contains("panicked"), "{explain}");
    assert_eq!(code, 0, "{explain}");

    let s = summary(&out);
    assert_eq!(s["verdict"], "pass", "{explain}\n{s:#}");
    let alerts = s["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 9, "{s:#}");
    for alert in alerts {
        assert_eq!(alert["outcome"], "delivered", "{explain}\n{alert:#}");
        assert_eq!(alert["arrivals"][0]["channel"], "soc-slack", "{alert:#}");
    }
    assert!(
        s["faults"]["exchange-smtp"]["failed"].as_u64().unwrap() >= 9,
        "{s:#}"
    );
}

/// A reader that goes away (`outage-drill plan … | head -1`) is no reason
/// to panic, nor to change a drill's exit code. Before, every print to a
/// closed stdout panicked with "failed printing to stdout" (exit 101).
#[test]
fn a_closed_stdout_changes_nothing() {
    let dir = scratch();
    let out = dir.path().join("out");
    let ex1331830 = crate::harness::root().join("scenarios/ex1331830.yaml");
    let smoke = crate::harness::root().join("scenarios/ci-smoke.yaml");
    let commands: [Vec<&str>; 3] = [
        vec!["plan", ex1331830.to_str().unwrap()],
        vec!["schema"],
        vec![
            "run",
            smoke.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    ];
    for args in commands {
        let mut child = Command::new(bin())
            .args(&args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the only reader before the command writes a line.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
    assert_eq!(summary(&out)["verdict"], "pass");
}
