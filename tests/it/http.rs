//! The HTTP endpoints (mock Graph and the capture sinks), driven over real
//! sockets: vendor answers as real clients see them, every http fault mode,
//! hostile peers and shutdown.
//!
//! Each test runs its own endpoint on port 0 with its own journal and fault
//! board, and waits on journal events or socket outcomes with deadlines.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use outage_drill::drill::clock::{Clock, Stamp};
use outage_drill::drill::event::{EventKind, Purpose};
use outage_drill::drill::journal::Journal;
use outage_drill::drill::state::{FaultCounts, State};
use outage_drill::endpoint::http::{Limits, start_with_limits};
use outage_drill::endpoint::{
    EndpointContext, EndpointError, FaultBoard, Observer, Running, start,
};
use outage_drill::scenario::duration::Dur;
use outage_drill::scenario::model::{ChannelKind, FailMode, Fault, Severity};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

/// Deadline for anything that should happen at once (an arrival, a socket
/// closing, shutdown).
const PROMPT: Duration = Duration::from_secs(3);

/// Client-side timeout for requests expected to be answered.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Scheduling slack allowed below a configured delay or timeout.
const TIMER_SLACK: Duration = Duration::from_millis(20);

/// One endpoint under test, with the drill parts around it.
struct Bench {
    channel: &'static str,
    journal: Arc<Journal>,
    board: Arc<FaultBoard>,
    observer: Arc<Observer>,
    cancel: CancellationToken,
    running: Running,
}

async fn bench(kind: ChannelKind) -> Bench {
    bench_with(kind, Limits::default()).await
}

async fn bench_with(kind: ChannelKind, limits: Limits) -> Bench {
    let channel = "soc-chan";
    let journal = Journal::in_memory(Clock::start());
    let board = FaultBoard::new(7, [channel], journal.clone());
    let observer = Observer::new(journal.clone());
    let cancel = CancellationToken::new();
    let ctx = EndpointContext {
        journal: journal.clone(),
        faults: board.clone(),
        observer: observer.clone(),
        cancel: cancel.clone(),
    };
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let running = start_with_limits(channel, kind, addr, ctx, limits)
        .await
        .expect("endpoint starts");
    assert_ne!(running.addr.port(), 0, "the real port is reported");
    Bench {
        channel,
        journal,
        board,
        observer,
        cancel,
        running,
    }
}

impl Bench {
    fn url(&self, target: &str) -> String {
        format!("http://{}{}", self.running.addr, target)
    }

    /// Makes `nonce` a live firing, as the orchestrator does before firing.
    fn fire(&self, nonce: &str) {
        self.observer.register(nonce);
        self.journal.emit(EventKind::AlertFired {
            nonce: nonce.to_string(),
            alert: "phishing-report".into(),
            title: nonce.to_string(),
            severity: Severity::Critical,
            purpose: Purpose::Outage,
            n: 1,
            rto_ms: 60_000,
            expect: vec![],
            planned_offset_ms: None,
        });
    }

    fn apply(&self, fault: Fault) {
        let faults = BTreeMap::from([(self.channel.to_string(), fault)]);
        self.board.apply(0, 0.0, &faults);
    }

    fn counts(&self) -> FaultCounts {
        self.journal.with_state(|s| {
            s.fault_counts()
                .get(self.channel)
                .copied()
                .unwrap_or_default()
        })
    }

    fn arrivals(&self, nonce: &str) -> u32 {
        self.journal
            .with_state(|s| s.firing(nonce).map_or(0, |f| f.arrival_count))
    }

    fn now(&self) -> Stamp {
        self.journal.clock().now()
    }

    /// Waits until the journal's state satisfies `what`.
    async fn until(&self, what: &str, cond: impl Fn(&State) -> bool) {
        let mut changes = self.journal.subscribe();
        let deadline = Instant::now() + PROMPT;
        loop {
            if self.journal.with_state(&cond) {
                return;
            }
            match timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!("journal closed while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// The first arrival of `nonce` on this channel, waited for.
    async fn arrival(&self, nonce: &str) -> Stamp {
        let channel = self.channel;
        let what = format!("the arrival of {nonce}");
        self.until(&what, |s| s.first_arrival(nonce, channel).is_some())
            .await;
        self.journal
            .with_state(|s| s.first_arrival(nonce, channel))
            .expect("arrival")
    }

    /// Cancels the drill and waits for the endpoint to end.
    async fn stop(self) -> SocketAddr {
        let addr = self.running.addr;
        self.cancel.cancel();
        timeout(PROMPT, self.running.task)
            .await
            .expect("endpoint stops promptly")
            .expect("endpoint task did not panic");
        addr
    }
}

fn counted(attempts: u64, failed: u64) -> FaultCounts {
    FaultCounts { attempts, failed }
}

fn fault(fail: FailMode) -> Fault {
    Fault {
        fail,
        stage: None,
        reply: None,
        status: None,
        retry_after: None,
        delay: None,
        rate: None,
    }
}

fn client() -> reqwest::Client {
    client_with(CLIENT_TIMEOUT)
}

fn client_with(request_timeout: Duration) -> reqwest::Client {
    // reqwest builds its TLS configuration even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(request_timeout)
        .build()
        .expect("http client")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("header {name} missing"))
}

/// Sends `request` on a fresh raw connection and reads until the server
/// closes it (see [`read_to_close`]).
async fn raw_exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    read_to_close(&mut stream, wait).await
}

/// Reads until the server closes the connection and returns what it sent;
/// a `TimedOut` error when it is still open after `wait`, or the read error.
async fn read_to_close(stream: &mut TcpStream, wait: Duration) -> std::io::Result<String> {
    let mut out = Vec::new();
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
            Ok(Ok(0)) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------- healthy

/// What Alertmanager 0.25's Slack receiver posts (legacy attachments).
fn alertmanager_slack(nonce: &str) -> Value {
    json!({
        "channel": "#soc",
        "username": "Alertmanager",
        "attachments": [{
            "title": format!("[FIRING:1] PhishingReport ({nonce} critical)"),
            "title_link": "http://alertmanager:9093/#/alerts?receiver=slack",
            "text": format!("*Alert:* Reported phishing - `critical`\n*Nonce:* {nonce}"),
            "fallback": "[FIRING:1] PhishingReport",
            "callback_id": "",
            "footer": "",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"]
        }]
    })
}

#[tokio::test]
async fn slack_answers_ok_to_an_alertmanager_post() {
    let bench = bench(ChannelKind::Slack).await;
    let nonce = "DRILL-r7f3a-phishing-report-1";
    bench.fire(nonce);

    let sent = bench.now();
    let response = client()
        .post(bench.url("/services/T000/B000/XXXX"))
        .json(&alertmanager_slack(nonce))
        .send()
        .await
        .expect("slack answers");
    let answered = bench.now();

    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.text().await.unwrap(), "ok");
    let at = bench.arrival(nonce).await;
    assert!(
        sent <= at && at <= answered,
        "{sent:?} <= {at:?} <= {answered:?}"
    );
    assert_eq!(bench.arrivals(nonce), 1, "one request, one arrival");
    bench.stop().await;
}

#[tokio::test]
async fn teams_answers_workflows_and_legacy_connectors() {
    let bench = bench(ChannelKind::Teams).await;
    let nonce = "DRILL-r7f3a-edr-isolation-1";
    bench.fire(nonce);
    let card = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "TextBlock", "text": format!("EDR isolation {nonce}")}]
            }
        }]
    });
    let workflow = "/workflows/6f1c2a/triggers/manual/paths/invoke?api-version=2016-06-01&sig=x";

    let sent = bench.now();
    let response = client()
        .post(bench.url(workflow))
        .json(&card)
        .send()
        .await
        .expect("workflow answers");
    let answered = bench.now();
    assert_eq!(response.status(), 202);
    assert_eq!(response.text().await.unwrap(), "");
    let at = bench.arrival(nonce).await;
    assert!(sent <= at && at <= answered);

    let legacy = "/webhookb2/a@b/IncomingWebhook/c/d";
    let text = json!({"@type": "MessageCard", "summary": "s", "text": nonce});
    let response = client()
        .post(bench.url(legacy))
        .json(&text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "1");
    let empty = json!({"@type": "MessageCard", "title": nonce});
    let response = client()
        .post(bench.url(legacy))
        .json(&empty)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        "Summary or Text is required."
    );
    assert_eq!(bench.arrivals(nonce), 2, "the refused card is no arrival");
    bench.stop().await;
}

#[tokio::test]
async fn pagerduty_accepts_an_events_v2_trigger() {
    let bench = bench(ChannelKind::Pagerduty).await;
    let nonce = "DRILL-r7f3a-ransomware-canary-1";
    bench.fire(nonce);
    let event = json!({
        "routing_key": "0123456789abcdef0123456789abcdef",
        "dedup_key": "5f1d0c2e9a",
        "event_action": "trigger",
        "payload": {
            "summary": format!("[FIRING:1] RansomwareCanary ({nonce})"),
            "source": "Alertmanager",
            "severity": "critical",
            "custom_details": {"firing": "canary file touched"}
        },
        "client": "Alertmanager",
        "client_url": "http://alertmanager:9093/#/alerts?receiver=pagerduty"
    });

    let sent = bench.now();
    let response = client()
        .post(bench.url("/v2/enqueue"))
        .json(&event)
        .send()
        .await
        .unwrap();
    let answered = bench.now();
    assert_eq!(response.status(), 202);
    assert!(header(&response, "content-type").starts_with("application/json"));
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"status":"success","message":"Event processed","dedup_key":"5f1d0c2e9a"}"#
    );
    let at = bench.arrival(nonce).await;
    assert!(sent <= at && at <= answered);

    let invalid = json!({"event_action": "trigger", "payload": {"summary": nonce}});
    let response = client()
        .post(bench.url("/v2/enqueue"))
        .json(&invalid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "invalid event");
    assert_eq!(body["message"], "Event object is invalid");
    assert_eq!(body["errors"][0], "'routing_key' is missing or blank");

    let elsewhere = client()
        .post(bench.url("/v1/enqueue"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(bench.arrivals(nonce), 1);
    bench.stop().await;
}

#[tokio::test]
async fn ntfy_publishes_by_path_and_by_json() {
    let bench = bench(ChannelKind::Ntfy).await;
    let by_title = "DRILL-r7f3a-mfa-fatigue-1";
    let by_json = "DRILL-r7f3a-mfa-fatigue-2";
    bench.fire(by_title);
    bench.fire(by_json);

    // The nonce only in the Title header, as a curl script might send it.
    let sent = bench.now();
    let response = client()
        .post(bench.url("/soc-alerts"))
        .header("Title", by_title)
        .header("Priority", "urgent")
        .header("Tags", "warning,skull")
        .body("MFA fatigue attack in progress")
        .send()
        .await
        .unwrap();
    let answered = bench.now();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.ends_with('\n'), "one JSON line");
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(message["event"], "message");
    assert_eq!(message["topic"], "soc-alerts");
    assert_eq!(message["title"], by_title);
    assert_eq!(message["message"], "MFA fatigue attack in progress");
    assert_eq!(message["priority"], 5);
    assert_eq!(message["tags"], json!(["warning", "skull"]));
    assert_eq!(message["id"].as_str().unwrap().len(), 12);
    assert!(message["expires"].as_i64().unwrap() > message["time"].as_i64().unwrap());
    let at = bench.arrival(by_title).await;
    assert!(sent <= at && at <= answered);

    let publish = json!({"topic": "soc-alerts", "message": by_json, "title": "MFA", "priority": 4});
    let response = client()
        .post(bench.url("/"))
        .json(&publish)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["message"], by_json);
    assert_eq!(message["priority"], 4);
    bench.arrival(by_json).await;

    let health = client().get(bench.url("/v1/health")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), r#"{"healthy":true}"#);
    bench.stop().await;
}

#[tokio::test]
async fn graph_issues_a_token_then_accepts_send_mail() {
    let bench = bench(ChannelKind::Graph).await;
    let nonce = "DRILL-r7f3a-impossible-travel-1";
    bench.fire(nonce);
    let http = client();

    let form = "client_id=6731de76&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default\
                &client_secret=s3cr3t&grant_type=client_credentials";
    let response = http
        .post(bench.url("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3599);
    assert_eq!(token["ext_expires_in"], 3599);
    let access_token = token["access_token"].as_str().unwrap().to_string();

    let mail = json!({
        "message": {
            "subject": format!("[SOC] Impossible travel {nonce}"),
            "body": {"contentType": "Text", "content": "Sign-in from two continents."},
            "toRecipients": [{"emailAddress": {"address": "soc@contoso.com"}}]
        },
        "saveToSentItems": false
    });
    let sent = bench.now();
    let response = http
        .post(bench.url("/v1.0/users/alerts%40contoso.com/sendMail"))
        .bearer_auth(&access_token)
        .header("client-request-id", "5a1c0e7e-0000-4000-8000-000000000001")
        .json(&mail)
        .send()
        .await
        .unwrap();
    let answered = bench.now();
    assert_eq!(response.status(), 202);
    assert_eq!(
        header(&response, "client-request-id"),
        "5a1c0e7e-0000-4000-8000-000000000001"
    );
    assert_eq!(header(&response, "request-id").len(), 36);
    assert_eq!(response.text().await.unwrap(), "", "202 with an empty body");
    let at = bench.arrival(nonce).await;
    assert!(sent <= at && at <= answered);

    let response = http
        .post(bench.url("/v1.0/me/sendMail"))
        .json(&mail)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(
        bench.arrivals(nonce),
        1,
        "the unauthenticated mail is no arrival"
    );
    bench.stop().await;
}

#[tokio::test]
async fn webhook_sees_nonces_through_escapes_and_queries() {
    let bench = bench(ChannelKind::Webhook).await;
    let escaped = "DRILL-r7f3a-dlp-exfil-1";
    let queried = "DRILL-r7f3a-dlp-exfil-2";
    bench.fire(escaped);
    bench.fire(queried);

    let body = r#"{"text":"DLP DRILL\u002dr7f3a\u002ddlp\u002dexfil\u002d1"}"#;
    let response = client()
        .post(bench.url("/hooks/soar"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "{}");
    bench.arrival(escaped).await;

    let response = client()
        .get(bench.url("/notify?msg=DRILL%2Dr7f3a%2Ddlp%2Dexfil%2D2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    bench.arrival(queried).await;
    bench.stop().await;
}

#[tokio::test]
async fn curl_is_answered_as_by_slack_and_ntfy() {
    let slack = bench(ChannelKind::Slack).await;
    let nonce = "DRILL-r7f3a-curl-1";
    slack.fire(nonce);
    let payload = json!({"text": format!("curl says {nonce}")}).to_string();
    let url = slack.url("/services/T1/B1/C1");
    let args = [
        "-sS",
        "-i",
        "--noproxy",
        "*",
        "--max-time",
        "5",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        &payload,
        &url,
    ];
    let output = timeout(
        PROMPT,
        tokio::process::Command::new("curl").args(args).output(),
    )
    .await
    .expect("curl finishes")
    .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "curl failed: {output:?}");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nok"), "{text}");
    slack.arrival(nonce).await;

    // A 2 MiB upload announced with `Expect: 100-continue` is refused on its
    // length with a final 413, not invited with `100 Continue`.
    let scratch = tempfile::tempdir().unwrap();
    let big = scratch.path().join("big.json");
    std::fs::write(&big, vec![b' '; 2 * 1024 * 1024]).unwrap();
    let upload = format!("@{}", big.display());
    let args = [
        "-sS",
        "-i",
        "--noproxy",
        "*",
        "--max-time",
        "5",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &upload,
        &url,
    ];
    let output = timeout(
        PROMPT,
        tokio::process::Command::new("curl").args(args).output(),
    )
    .await
    .expect("curl finishes")
    .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    slack.stop().await;

    let ntfy = bench(ChannelKind::Ntfy).await;
    let nonce = "DRILL-r7f3a-curl-2";
    ntfy.fire(nonce);
    let url = ntfy.url("/phil_alerts");
    let title = format!("Title: {nonce}");
    let args = [
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "5",
        "-H",
        &title,
        "-H",
        "Priority: urgent",
        "-d",
        "Remote access detected",
        &url,
    ];
    let output = tokio::process::Command::new("curl")
        .args(args)
        .output()
        .await
        .unwrap();
    let message: Value = serde_json::from_slice(&output.stdout).expect("ntfy JSON");
    assert_eq!(message["title"], nonce);
    ntfy.arrival(nonce).await;
    ntfy.stop().await;
}

#[tokio::test]
async fn malformed_json_is_refused_as_the_vendor_would() {
    let nonce = "DRILL-r7f3a-broken-1";
    let broken = format!(r#"{{"text":"{nonce}""#);
    let cases = [
        (
            ChannelKind::Slack,
            "/services/T/B/X",
            400,
            "invalid_payload",
        ),
        (
            ChannelKind::Pagerduty,
            "/v2/enqueue",
            400,
            "Event object is invalid",
        ),
        (ChannelKind::Ntfy, "/", 400, "40017"),
        (
            ChannelKind::Teams,
            "/workflows/x/triggers/manual",
            400,
            "InvalidRequestContent",
        ),
        (
            ChannelKind::Graph,
            "/v1.0/me/sendMail",
            400,
            "RequestBodyRead",
        ),
    ];
    for (kind, target, status, marker) in cases {
        let bench = bench(kind).await;
        bench.fire(nonce);
        let response = client()
            .post(bench.url(target))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .body(broken.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{kind}");
        let body = response.text().await.unwrap();
        assert!(body.contains(marker), "{kind}: {body}");
        assert_eq!(
            bench.arrivals(nonce),
            0,
            "{kind}: a refused request is no arrival"
        );
        bench.stop().await;
    }
}

// ----------------------------------------------------------------- faults

#[tokio::test]
async fn throttle_answers_429_with_retry_after() {
    // Graph: its error JSON; the token endpoint (Entra ID) is not throttled.
    let graph = bench(ChannelKind::Graph).await;
    let nonce = "DRILL-r7f3a-throttle-1";
    graph.fire(nonce);
    let mut throttle = fault(FailMode::Throttle);
    throttle.retry_after = Some(Dur(Duration::from_secs(7)));
    graph.apply(throttle);

    let form = "client_id=a&client_secret=b&grant_type=client_credentials";
    let token = client()
        .post(graph.url("/t/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "Entra ID is a different service");

    let mail = json!({"message": {"subject": nonce,
        "toRecipients": [{"emailAddress": {"address": "a@b.c"}}]}});
    let response = client()
        .post(graph.url("/v1.0/me/sendMail"))
        .bearer_auth("t")
        .json(&mail)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), "7");
    assert_eq!(header(&response, "request-id").len(), 36);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "TooManyRequests");
    assert_eq!(
        error["error"]["message"],
        "Application is over its MailboxConcurrency limit."
    );
    assert_eq!(graph.counts(), counted(1, 1));
    assert_eq!(graph.arrivals(nonce), 0);
    graph.stop().await;

    // Slack: default Retry-After (60 s) and Slack's JSON.
    let slack = bench(ChannelKind::Slack).await;
    slack.fire(nonce);
    slack.apply(fault(FailMode::Throttle));
    let response = client()
        .post(slack.url("/services/T/B/X"))
        .json(&json!({"text": nonce}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), "60");
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"retry_after":60,"ok":false,"error":"rate_limited"}"#
    );
    assert_eq!(slack.counts(), counted(1, 1));
    assert_eq!(slack.arrivals(nonce), 0);

    // Lifted: the same request is an arrival again.
    slack.board.lift();
    let response = client()
        .post(slack.url("/services/T/B/X"))
        .json(&json!({"text": nonce}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    slack.arrival(nonce).await;
    slack.stop().await;
}

#[tokio::test]
async fn unavailable_answers_503() {
    let pd = bench(ChannelKind::Pagerduty).await;
    let nonce = "DRILL-r7f3a-unavailable-1";
    pd.fire(nonce);
    pd.apply(fault(FailMode::Unavailable));
    let event = json!({"routing_key": "k", "event_action": "trigger",
        "payload": {"summary": nonce, "source": "s", "severity": "critical"}});
    let response = client()
        .post(pd.url("/v2/enqueue"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        response.headers().get("retry-after").is_none(),
        "none configured"
    );
    assert_eq!(pd.counts(), counted(1, 1));
    assert_eq!(pd.arrivals(nonce), 0);
    pd.stop().await;

    let graph = bench(ChannelKind::Graph).await;
    graph.fire(nonce);
    let mut unavailable = fault(FailMode::Unavailable);
    unavailable.retry_after = Some(Dur(Duration::from_millis(2500)));
    graph.apply(unavailable);
    let mail = json!({"message": {"subject": nonce,
        "toRecipients": [{"emailAddress": {"address": "a@b.c"}}]}});
    let response = client()
        .post(graph.url("/v1.0/users/u/sendMail"))
        .bearer_auth("t")
        .json(&mail)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        header(&response, "retry-after"),
        "3",
        "rounded up to whole seconds"
    );
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "ServiceUnavailable");
    assert_eq!(graph.counts(), counted(1, 1));
    assert_eq!(graph.arrivals(nonce), 0);
    graph.stop().await;
}

#[tokio::test]
async fn error_answers_the_configured_status() {
    let teams = bench(ChannelKind::Teams).await;
    let nonce = "DRILL-r7f3a-error-1";
    teams.fire(nonce);
    let mut error = fault(FailMode::Error);
    error.status = Some(502);
    teams.apply(error);
    let response = client()
        .post(teams.url("/workflows/x/triggers/manual/paths/invoke"))
        .json(&json!({"type": "message", "text": nonce}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadGateway");
    assert_eq!(teams.counts(), counted(1, 1));
    assert_eq!(teams.arrivals(nonce), 0);
    teams.stop().await;

    let hook = bench(ChannelKind::Webhook).await;
    hook.fire(nonce);
    hook.apply(fault(FailMode::Error));
    for _ in 0..3 {
        let response = client()
            .post(hook.url("/hook"))
            .body(nonce)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500, "the default status");
    }
    assert_eq!(hook.counts(), counted(3, 3));
    assert_eq!(hook.arrivals(nonce), 0);
    hook.stop().await;
}

#[tokio::test]
async fn drop_resets_the_connection_before_any_response() {
    let slack = bench(ChannelKind::Slack).await;
    let nonce = "DRILL-r7f3a-drop-1";
    slack.fire(nonce);
    slack.apply(fault(FailMode::Drop));
    let error = client()
        .post(slack.url("/services/T/B/X"))
        .json(&json!({"text": nonce}))
        .send()
        .await
        .expect_err("a dropped request has no response");
    assert!(!error.is_timeout(), "reset at once, not hung: {error:?}");
    assert_eq!(slack.counts(), counted(1, 1));
    assert_eq!(slack.arrivals(nonce), 0);
    slack.stop().await;

    // A raw client sees a reset (RST), not an orderly close.
    let ntfy = bench(ChannelKind::Ntfy).await;
    ntfy.fire(nonce);
    ntfy.apply(fault(FailMode::Drop));
    let request = format!(
        "POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{nonce}",
        nonce.len()
    );
    let outcome = raw_exchange(ntfy.running.addr, request.as_bytes(), PROMPT).await;
    let error = outcome.expect_err("no HTTP answer");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(ntfy.counts(), counted(1, 1));
    assert_eq!(ntfy.arrivals(nonce), 0);
    ntfy.stop().await;
}

#[tokio::test]
async fn hang_never_answers_until_the_client_gives_up() {
    let give_up = Duration::from_millis(300);
    let graph = bench(ChannelKind::Graph).await;
    let nonce = "DRILL-r7f3a-hang-1";
    graph.fire(nonce);
    graph.apply(fault(FailMode::Hang));
    let mail = json!({"message": {"subject": nonce,
        "toRecipients": [{"emailAddress": {"address": "a@b.c"}}]}});
    let started = Instant::now();
    let error = client_with(give_up)
        .post(graph.url("/v1.0/me/sendMail"))
        .bearer_auth("t")
        .json(&mail)
        .send()
        .await
        .expect_err("a hung request has no response");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= give_up - TIMER_SLACK);
    assert_eq!(graph.counts(), counted(1, 1));
    assert_eq!(graph.arrivals(nonce), 0);
    graph.stop().await;

    let hook = bench(ChannelKind::Webhook).await;
    hook.fire(nonce);
    hook.apply(fault(FailMode::Hang));
    let error = client_with(give_up)
        .put(hook.url("/h"))
        .body(nonce)
        .send()
        .await
        .expect_err("hung");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(hook.counts(), counted(1, 1));
    assert_eq!(hook.arrivals(nonce), 0);
    hook.stop().await;

    // A client that gave up frees its connection: with room for a single
    // connection, the next client is served once the fault is lifted.
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let narrow = bench_with(ChannelKind::Webhook, limits).await;
    narrow.fire(nonce);
    narrow.apply(fault(FailMode::Hang));
    // A body larger than socket buffers, so that it must be read for the
    // client's departure to be noticed.
    let error = client_with(give_up)
        .post(narrow.url("/h"))
        .body(vec![b'x'; 256 * 1024])
        .send()
        .await
        .expect_err("hung");
    assert!(error.is_timeout(), "{error:?}");
    narrow.board.lift();
    let response = client()
        .post(narrow.url("/h"))
        .body(nonce)
        .send()
        .await
        .expect("the hung connection was released when its client left");
    assert_eq!(response.status(), 200);
    narrow.arrival(nonce).await;
    narrow.stop().await;
}

#[tokio::test]
async fn slow_answers_correctly_after_the_delay() {
    let delay = Duration::from_millis(300);
    for (kind, target) in [
        (ChannelKind::Pagerduty, "/v2/enqueue"),
        (
            ChannelKind::Teams,
            "/workflows/x/triggers/manual/paths/invoke",
        ),
    ] {
        let bench = bench(kind).await;
        let nonce = "DRILL-r7f3a-slow-1";
        bench.fire(nonce);
        let mut slow = fault(FailMode::Slow);
        slow.delay = Some(Dur(delay));
        bench.apply(slow);
        let event = json!({"routing_key": "k", "event_action": "trigger",
            "payload": {"summary": nonce}, "type": "message"});

        let started = Instant::now();
        let sent = bench.now();
        let response = client()
            .post(bench.url(target))
            .json(&event)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(
            response.status().is_success(),
            "{kind}: {}",
            response.status()
        );
        assert!(took >= delay, "{kind}: answered after {took:?}");
        // The arrival is when the request reached the endpoint, not the reply.
        let at = bench.arrival(nonce).await;
        assert!(at.millis_since(sent) < delay.as_millis() as f64, "{kind}");
        assert_eq!(bench.counts(), counted(1, 1));
        bench.stop().await;
    }
}

/// Connects until the outcome is what `refused` asks, within [`PROMPT`]: the
/// listener reacts to fault changes on its own task.
async fn until_connect(addr: SocketAddr, refused: bool) {
    let deadline = Instant::now() + PROMPT;
    loop {
        let outcome = TcpStream::connect(addr).await;
        let is_refused =
            matches!(&outcome, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
        if is_refused == refused {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "connect still {outcome:?}, wanted refused={refused}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn refuse_stops_listening_until_lifted() {
    for (kind, target, body) in [
        (
            ChannelKind::Slack,
            "/services/T/B/X",
            json!({"text": "DRILL-r7f3a-refuse-1"}),
        ),
        (
            ChannelKind::Webhook,
            "/hook",
            json!({"text": "DRILL-r7f3a-refuse-1"}),
        ),
    ] {
        let bench = bench(kind).await;
        let nonce = "DRILL-r7f3a-refuse-1";
        bench.fire(nonce);
        let addr = bench.running.addr;

        // A keep-alive connection opened before the outage dies with it.
        let mut early = TcpStream::connect(addr).await.unwrap();
        bench.apply(fault(FailMode::Refuse));
        until_connect(addr, true).await;
        let error = client()
            .post(bench.url(target))
            .json(&body)
            .send()
            .await
            .expect_err("refused");
        assert!(error.is_connect(), "{kind}: {error:?}");
        let request = format!("POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}");
        let _ = early.write_all(request.as_bytes()).await;
        let answer = read_to_close(&mut early, PROMPT).await;
        assert!(
            !matches!(&answer, Ok(text) if text.starts_with("HTTP/1.1")),
            "{kind}: an open connection was served while refused: {answer:?}"
        );
        assert_eq!(bench.arrivals(nonce), 0);

        bench.board.lift();
        until_connect(addr, false).await;
        let response = client()
            .post(bench.url(target))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{kind}");
        bench.arrival(nonce).await;
        // Connections the kernel refused are never seen; those accepted
        // while the listener was closing drew the fault and were reset.
        let counts = bench.counts();
        assert_eq!(counts.attempts, counts.failed, "{kind}: {counts:?}");
        bench.stop().await;
    }
}

#[tokio::test]
async fn refuse_below_rate_one_resets_drawn_connections() {
    let bench = bench(ChannelKind::Webhook).await;
    let mut refuse = fault(FailMode::Refuse);
    refuse.rate = Some(0.5);
    bench.apply(refuse);

    let connections = 24;
    let mut served = 0;
    for _ in 0..connections {
        let request = b"POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                        Content-Length: 2\r\n\r\n{}";
        match raw_exchange(bench.running.addr, request, PROMPT).await {
            Ok(text) if text.starts_with("HTTP/1.1 200") => served += 1,
            _ => {}
        }
    }
    let counts = bench.counts();
    assert_eq!(counts.attempts, connections, "one draw per connection");
    assert_eq!(
        counts.failed,
        connections - served,
        "every drawn connection was reset"
    );
    assert!(
        served > 0 && served < connections,
        "rate 0.5 served {served}/{connections}"
    );
    bench.stop().await;
}

#[tokio::test]
async fn a_reused_connection_draws_afresh_for_each_request() {
    let bench = bench(ChannelKind::Slack).await;
    bench.apply(fault(FailMode::Throttle));
    let body = r#"{"text":"x"}"#;
    let one = format!(
        "POST /s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(bench.running.addr).await.unwrap();
    stream
        .write_all(format!("{one}{one}{one}").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    let deadline = Instant::now() + PROMPT;
    let mut buf = [0u8; 4096];
    while text.matches("HTTP/1.1 429").count() < 3 {
        let n = timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("three answers in time")
            .unwrap();
        assert!(n > 0, "closed early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(bench.counts(), counted(3, 3));
    bench.stop().await;
}

// ---------------------------------------------------------------- hostile

#[tokio::test]
async fn oversized_bodies_are_refused_without_buffering_them() {
    let bench = bench(ChannelKind::Slack).await;
    let addr = bench.running.addr;

    // Chunked, no declared length: the 413 must come after ~1 MiB, while the
    // rest of the 50 MB has not been sent yet, so it cannot have been kept.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /services/T/B/X HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    let total = 50 * 1024 * 1024 / chunk.len();
    for _ in 0..32 {
        stream.write_all(&framed).await.unwrap();
    }
    let mut buf = [0u8; 4096];
    let n = timeout(PROMPT, stream.read(&mut buf))
        .await
        .expect("413 before the body ends")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    // The rest streams into the drain and the connection then ends cleanly.
    for _ in 32..total {
        stream
            .write_all(&framed)
            .await
            .expect("the server keeps reading");
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let rest = read_to_close(&mut stream, PROMPT)
        .await
        .expect("orderly close");
    assert!(!rest.contains("HTTP/1.1"), "no second answer: {rest}");

    // A declared 50 MB body is refused before reading it; reqwest reads the
    // 413 rather than a reset.
    let big = vec![b' '; 50 * 1024 * 1024];
    let response = client()
        .post(bench.url("/services/T/B/X"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(response.status(), 413);
    assert_eq!(response.text().await.unwrap(), "request_too_large");

    // Announced with `Expect: 100-continue`, it is refused unsent: no
    // `100 Continue`, and the connection ends without waiting for the body.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /services/T/B/X HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\
                Expect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream, PROMPT)
        .await
        .expect("closed at once, without waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert_eq!(bench.counts(), FaultCounts::default(), "no fault active");
    bench.stop().await;
}

#[tokio::test]
async fn slow_heads_and_bodies_are_cut_off() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let bench = bench_with(ChannelKind::Webhook, limits).await;
    let addr = bench.running.addr;

    // Slowloris: half a head, then silence.
    let started = Instant::now();
    let outcome = raw_exchange(addr, b"POST /hook HTTP/1.1\r\nHost: x\r\n", PROMPT).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) - TIMER_SLACK,
        "closed after {took:?}"
    );
    assert!(took < PROMPT, "never closed");
    if let Ok(text) = outcome {
        assert!(!text.contains("200"), "{text}");
    }

    // A body promised and not sent: 408.
    let outcome = raw_exchange(
        addr,
        b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        PROMPT,
    )
    .await
    .unwrap();
    assert!(outcome.starts_with("HTTP/1.1 408"), "{outcome}");
    bench.stop().await;
}

#[tokio::test]
async fn garbage_and_oversized_heads_are_refused() {
    let bench = bench(ChannelKind::Pagerduty).await;
    let addr = bench.running.addr;
    let garbage = raw_exchange(addr, b"\x16\x03\x01 not http at all\r\n\r\n", PROMPT)
        .await
        .expect("an answer, then close");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");

    let mut huge = b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let answer = raw_exchange(addr, &huge, PROMPT)
        .await
        .expect("an answer, then close");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // The endpoint is unharmed.
    let response = client().get(bench.url("/v2/enqueue")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    bench.stop().await;
}

#[tokio::test]
async fn idle_connections_do_not_keep_others_waiting() {
    let bench = bench(ChannelKind::Slack).await;
    let nonce = "DRILL-r7f3a-idle-1";
    bench.fire(nonce);
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        idle.push(
            TcpStream::connect(bench.running.addr)
                .await
                .expect("idle connect"),
        );
    }

    let started = Instant::now();
    let response = client()
        .post(bench.url("/services/T/B/X"))
        .json(&json!({"text": nonce}))
        .send()
        .await
        .expect("served beside 1,000 idle connections");
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    bench.arrival(nonce).await;
    drop(idle);
    bench.stop().await;
}

// --------------------------------------------------------------- lifecycle

#[tokio::test]
async fn cancel_closes_hung_connections_and_releases_the_port() {
    let bench = bench(ChannelKind::Webhook).await;
    bench.apply(fault(FailMode::Hang));
    let mut hung = TcpStream::connect(bench.running.addr).await.unwrap();
    hung.write_all(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let channel = bench.channel;
    bench
        .until("the hang to take effect", |s| {
            s.fault_counts().get(channel).is_some_and(|c| c.failed == 1)
        })
        .await;

    let addr = bench.stop().await;
    let mut buf = [0u8; 64];
    let read = timeout(PROMPT, hung.read(&mut buf))
        .await
        .expect("the hung connection is closed promptly");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "no answer after cancel: {read:?}"
    );
    let again = tokio::net::TcpListener::bind(addr).await;
    assert!(again.is_ok(), "port released: {again:?}");
}

#[tokio::test]
async fn start_reports_bind_failures_and_non_http_kinds() {
    let bench = bench(ChannelKind::Webhook).await;
    let ctx = EndpointContext {
        journal: bench.journal.clone(),
        faults: bench.board.clone(),
        observer: bench.observer.clone(),
        cancel: bench.cancel.clone(),
    };
    let taken = start("other", ChannelKind::Slack, bench.running.addr, ctx.clone()).await;
    assert!(
        matches!(&taken, Err(EndpointError::Bind { channel, .. }) if channel == "other"),
        "{:?}",
        taken.err()
    );
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let smtp = outage_drill::endpoint::http::start("mail", ChannelKind::Smtp, addr, ctx).await;
    assert!(matches!(smtp, Err(EndpointError::Setup { .. })));
    bench.stop().await;
}
