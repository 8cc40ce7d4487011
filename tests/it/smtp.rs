//! The SMTP endpoint against real clients: lettre in process, swaks as an
//! independent program, and raw sockets for what no polite client does.
//!
//! Every test runs its own endpoint on port 0 with its own journal and
//! fault board, and waits on events or replies with a deadline, never on a
//! sleep. What a test asserts is read from the journal's folded state
//! (arrivals, fault attempts and hits) and from what the client saw.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use outage_drill::drill::clock::{Clock, Stamp};
use outage_drill::drill::event::{EventKind, Purpose};
use outage_drill::drill::journal::Journal;
use outage_drill::drill::state::{FaultCounts, State};
use outage_drill::endpoint::smtp::{self, Limits};
use outage_drill::endpoint::{EndpointContext, FaultBoard, Observer};
use outage_drill::scenario::duration::Dur;
use outage_drill::scenario::model::{FailMode, Fault, Severity, Stage};

/// The channel every test endpoint serves.
const CHANNEL: &str = "mail";

/// Deadline for anything that should happen promptly on loopback.
const PROMPTLY: Duration = Duration::from_secs(5);

/// How long a test waits before calling a `hang` fault hung: far above a
/// loopback round trip, far below every other deadline.
const HUNG_AFTER: Duration = Duration::from_millis(300);

/// Slack for timers when a test asserts that something waited at least a
/// given time (tokio never fires early; this only absorbs clock reads).
const TIMER_SLACK: Duration = Duration::from_millis(5);

/// One session that reached the fault: an attempt and a hit.
const HIT_ONCE: FaultCounts = FaultCounts {
    attempts: 1,
    failed: 1,
};

/// One endpoint with its own journal, board and observer.
struct Drill {
    journal: Arc<Journal>,
    board: Arc<FaultBoard>,
    observer: Arc<Observer>,
    cancel: CancellationToken,
    addr: SocketAddr,
    task: JoinHandle<()>,
    fired: u32,
}

impl Drill {
    async fn start(seed: u64) -> Drill {
        Drill::with_limits(seed, Limits::default()).await
    }

    async fn with_limits(seed: u64, limits: Limits) -> Drill {
        let journal = Journal::in_memory(Clock::start());
        let board = FaultBoard::new(seed, [CHANNEL], journal.clone());
        let observer = Observer::new(journal.clone());
        let cancel = CancellationToken::new();
        let ctx = EndpointContext {
            journal: journal.clone(),
            faults: board.clone(),
            observer: observer.clone(),
            cancel: cancel.clone(),
        };
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let running = smtp::start_with_limits(CHANNEL, addr, ctx, limits)
            .await
            .expect("endpoint starts");
        assert_ne!(running.addr.port(), 0, "the real port is reported");
        Drill {
            journal,
            board,
            observer,
            cancel,
            addr: running.addr,
            task: running.task,
            fired: 0,
        }
    }

    /// Makes `fault` the channel's fault.
    fn fault(&self, fault: Fault) {
        let faults = BTreeMap::from([(CHANNEL.to_string(), fault)]);
        self.board.apply(0, 0.0, &faults);
    }

    /// Fires an alert as the orchestrator would: journaled, nonce live.
    fn fire(&mut self, alert: &str) -> String {
        self.fired += 1;
        let nonce = format!("DRILL-t1-{alert}-{}", self.fired);
        self.journal.emit(EventKind::AlertFired {
            nonce: nonce.clone(),
            alert: alert.to_string(),
            title: alert.to_string(),
            severity: Severity::Critical,
            purpose: Purpose::Outage,
            n: self.fired,
            rto_ms: 60_000,
            expect: vec![],
            planned_offset_ms: None,
        });
        self.observer.register(&nonce);
        nonce
    }

    fn arrivals(&self, nonce: &str) -> u32 {
        self.journal
            .with_state(|s| s.firing(nonce).map_or(0, |f| f.arrival_count))
    }

    fn first_arrival(&self, nonce: &str) -> Option<Stamp> {
        self.journal.with_state(|s| s.first_arrival(nonce, CHANNEL))
    }

    fn counts(&self) -> FaultCounts {
        self.journal
            .with_state(|s| s.fault_counts().get(CHANNEL).copied().unwrap_or_default())
    }

    fn now(&self) -> Stamp {
        self.journal.clock().now()
    }

    /// Waits until the folded state satisfies `done`, or fails the test.
    async fn wait_for(&self, what: &str, done: impl Fn(&State) -> bool) {
        let mut changes = self.journal.subscribe();
        let waited = tokio::time::timeout(PROMPTLY, async {
            while !self.journal.with_state(&done) {
                changes.changed().await.expect("journal alive");
            }
        });
        waited
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// A lettre transport to this endpoint in plain text, no AUTH.
    fn plain(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        self.builder().build()
    }

    fn builder(&self) -> lettre::transport::smtp::AsyncSmtpTransportBuilder {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.addr.ip().to_string())
            .port(self.addr.port())
            .hello_name(ClientId::Domain("client.example".into()))
            .timeout(Some(PROMPTLY))
    }

    /// A transport that authenticates with `mechanism` (any credentials).
    fn authenticating(&self, mechanism: Mechanism) -> AsyncSmtpTransport<Tokio1Executor> {
        self.builder()
            .credentials(Credentials::new(
                "alerts@contoso.example".into(),
                "s3cret".into(),
            ))
            .authentication(vec![mechanism])
            .build()
    }

    /// Sends with a deadline: lettre's own timeout covers only the connect.
    async fn send(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        nonce: &str,
    ) -> Result<Response, SmtpError> {
        let sent = tokio::time::timeout(PROMPTLY, transport.send(alert_mail(nonce)));
        sent.await.expect("lettre answered in time")
    }

    /// Cancels the drill and waits for the endpoint to finish.
    async fn stop(self) -> SocketAddr {
        self.cancel.cancel();
        tokio::time::timeout(PROMPTLY, self.task)
            .await
            .expect("endpoint stops promptly after cancel")
            .expect("endpoint task did not panic");
        self.addr
    }
}

fn fault(fail: FailMode, stage: Option<Stage>) -> Fault {
    Fault {
        fail,
        stage,
        reply: None,
        status: None,
        retry_after: None,
        delay: None,
        rate: None,
    }
}

fn alert_mail(nonce: &str) -> Message {
    Message::builder()
        .from(
            "Alertmanager <alertmanager@contoso.example>"
                .parse()
                .unwrap(),
        )
        .to("SOC <soc@contoso.example>".parse().unwrap())
        .subject(format!("[FIRING:1] PhishingReport {nonce}"))
        .body(format!("A user reported phishing. Alert {nonce}.\n"))
        .unwrap()
}

/// A raw SMTP client for what lettre will not do.
struct Raw {
    stream: BufReader<TcpStream>,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        let stream = tokio::time::timeout(PROMPTLY, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Raw {
            stream: BufReader::new(stream),
        }
    }

    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .get_mut()
            .write_all(bytes.as_ref())
            .await
            .expect("write");
    }

    /// The next whole reply (all its lines), or what ended the connection.
    async fn next_reply(&mut self) -> std::io::Result<Option<String>> {
        let mut reply = String::new();
        loop {
            let mut line = Vec::new();
            let read = tokio::time::timeout(PROMPTLY, self.stream.read_until(b'\n', &mut line));
            let n = read.await.expect("a reply in time")?;
            if n == 0 {
                return Ok((!reply.is_empty()).then_some(reply));
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            reply.push_str(&line);
            if last {
                return Ok(Some(reply.trim_end().to_string()));
            }
        }
    }

    /// The next reply, which must exist.
    async fn reply(&mut self) -> String {
        self.next_reply()
            .await
            .expect("read a reply")
            .expect("a reply before the connection closed")
    }

    /// Asserts the server closes the connection without another word.
    async fn expect_closed(&mut self) {
        match self.next_reply().await {
            Ok(None) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }

    /// Asserts nothing arrives for [`HUNG_AFTER`].
    async fn expect_silence(&mut self) {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(HUNG_AFTER, self.stream.read(&mut byte)).await;
        assert!(read.is_err(), "expected silence, got {read:?}");
    }

    /// EHLO, MAIL and RCPT, each asserted positive.
    async fn open_transaction(&mut self) {
        assert!(self.reply().await.starts_with("220 "));
        self.send("EHLO client.example\r\n").await;
        assert!(self.reply().await.starts_with("250-"));
        self.send("MAIL FROM:<alertmanager@contoso.example>\r\n")
            .await;
        assert_eq!(self.reply().await, "250 2.1.0 Sender OK");
        self.send("RCPT TO:<soc@contoso.example>\r\n").await;
        assert_eq!(self.reply().await, "250 2.1.5 Recipient OK");
    }
}

/// Whether connecting to `addr` is refused right now.
async fn refused(addr: SocketAddr) -> bool {
    match tokio::time::timeout(PROMPTLY, TcpStream::connect(addr)).await {
        Ok(Err(e)) => e.kind() == ErrorKind::ConnectionRefused,
        _ => false,
    }
}

/// Polls `addr` until connecting is (or is no longer) refused; the port's
/// state has no event to wait on.
async fn wait_refused(addr: SocketAddr, want: bool) {
    let deadline = Instant::now() + PROMPTLY;
    while refused(addr).await != want {
        assert!(
            Instant::now() < deadline,
            "port never became refused={want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------- healthy

#[tokio::test]
async fn healthy_mail_is_an_arrival_stamped_while_it_was_sent() {
    let mut drill = Drill::start(1).await;
    let nonce = drill.fire("phishing-report");

    let before = drill.now();
    let response = drill.send(&drill.plain(), &nonce).await.expect("accepted");
    let after = drill.now();

    assert_eq!(response.code().to_string(), "250");
    let text = response.message().collect::<Vec<_>>().join(" ");
    assert!(text.starts_with("2.6.0 <"), "{text}");
    assert!(text.ends_with("Queued mail for delivery"), "{text}");
    let at = drill.first_arrival(&nonce).expect("arrival journaled");
    assert!(
        before <= at && at <= after,
        "{before:?} <= {at:?} <= {after:?}"
    );
    assert_eq!(drill.arrivals(&nonce), 1, "one message, one arrival");
    assert_eq!(
        drill.counts(),
        FaultCounts::default(),
        "no fault, no attempts"
    );
    drill.stop().await;
}

#[tokio::test]
async fn starttls_with_every_auth_mechanism_delivers() {
    let mut drill = Drill::start(1).await;
    let tls = TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .expect("tls parameters");
    for mechanism in [Mechanism::Login, Mechanism::Plain, Mechanism::Xoauth2] {
        let nonce = drill.fire("edr-isolation");
        let transport = drill
            .builder()
            .tls(Tls::Required(tls.clone()))
            .credentials(Credentials::new(
                "alerts@contoso.example".into(),
                "token".into(),
            ))
            .authentication(vec![mechanism])
            .build();
        let sent = drill.send(&transport, &nonce).await;
        assert!(sent.is_ok(), "{mechanism:?} over STARTTLS: {sent:?}");
        assert_eq!(drill.arrivals(&nonce), 1, "{mechanism:?}");
    }
    // Alertmanager without TLS still authenticates.
    let nonce = drill.fire("plain-auth");
    let sent = drill
        .send(&drill.authenticating(Mechanism::Login), &nonce)
        .await;
    assert!(sent.is_ok(), "AUTH LOGIN in plain text: {sent:?}");
    assert_eq!(drill.arrivals(&nonce), 1);
    drill.stop().await;
}

#[tokio::test]
async fn a_nonce_split_by_a_quoted_printable_soft_break_is_found() {
    let mut drill = Drill::start(1).await;
    let nonce = drill.fire("phishing-report");
    let (head, tail) = nonce.split_at(12);
    // Alertmanager 0.25's HTML part: `=` written `=3D`, a soft line break
    // inside the nonce; the Subject is RFC 2047 and carries no nonce.
    let raw = format!(
        "From: alertmanager@contoso.example\r\n\
         To: soc@contoso.example\r\n\
         Subject: =?UTF-8?Q?[FIRING:1]_PhishingReport?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"am\"\r\n\
         \r\n\
         --am\r\n\
         Content-Type: text/html; charset=UTF-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         <td style=3D\"color: #333\">summary: {head}=\r\n\
         {tail}</td>\r\n\
         --am--\r\n"
    );
    assert!(!raw.contains(&nonce), "the raw message must hide the nonce");
    let envelope = Envelope::new(
        Some("alertmanager@contoso.example".parse().unwrap()),
        vec!["soc@contoso.example".parse().unwrap()],
    )
    .unwrap();
    let transport = drill.plain();
    let sent = tokio::time::timeout(PROMPTLY, transport.send_raw(&envelope, raw.as_bytes()));
    sent.await.expect("in time").expect("accepted");
    assert_eq!(
        drill.arrivals(&nonce),
        1,
        "decoded quoted-printable reveals the nonce"
    );
    drill.stop().await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let mut drill = Drill::start(1).await;
    let nonce = drill.fire("pipelined");
    let mut raw = Raw::connect(drill.addr).await;
    let greeting = raw.reply().await;
    assert!(greeting.starts_with(&format!(
        "220 {} Microsoft ESMTP MAIL Service ready at ",
        smtp::SERVER_NAME
    )));

    // One write, as a PIPELINING client sends it.
    raw.send(
        "EHLO client.example\r\n\
         MAIL FROM:<alertmanager@contoso.example> SMTPUTF8 BODY=8BITMIME SIZE=2000\r\n\
         RCPT TO:<soc@contoso.example>\r\n\
         RCPT TO:<oncall@contoso.example> NOTIFY=FAILURE\r\n\
         DATA\r\n",
    )
    .await;
    let ehlo = raw.reply().await;
    assert!(
        ehlo.starts_with(&format!("250-{} Hello [127.0.0.1]", smtp::SERVER_NAME)),
        "{ehlo}"
    );
    for capability in [
        "SIZE 10485760",
        "PIPELINING",
        "DSN",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ] {
        assert!(
            ehlo.contains(&format!("250-{capability}\r\n")),
            "{capability} in {ehlo}"
        );
    }
    assert!(ehlo.contains("250-AUTH LOGIN PLAIN XOAUTH2") && ehlo.ends_with("250 SMTPUTF8"));
    assert!(
        !ehlo.contains("CHUNKING"),
        "BDAT is not implemented, so not offered"
    );
    assert_eq!(raw.reply().await, "250 2.1.0 Sender OK");
    assert_eq!(raw.reply().await, "250 2.1.5 Recipient OK");
    assert_eq!(raw.reply().await, "250 2.1.5 Recipient OK");
    assert_eq!(
        raw.reply().await,
        "354 Start mail input; end with <CRLF>.<CRLF>"
    );

    // A dot-stuffed line carries the nonce; QUIT follows the final dot.
    raw.send(&format!(
        "Subject: pipelined\r\n\r\n..{nonce}\r\n.\r\nQUIT\r\n"
    ))
    .await;
    let queued = raw.reply().await;
    assert!(
        queued.starts_with("250 2.6.0 <") && queued.contains("[InternalId="),
        "{queued}"
    );
    assert_eq!(
        raw.reply().await,
        "221 2.0.0 Service closing transmission channel"
    );
    raw.expect_closed().await;
    assert_eq!(drill.arrivals(&nonce), 1);
    drill.stop().await;
}

#[tokio::test]
async fn commands_out_of_order_and_unknown_get_exchange_replies() {
    let drill = Drill::start(1).await;
    let mut raw = Raw::connect(drill.addr).await;
    raw.reply().await;
    let exchange = [
        (
            "MAIL FROM:<a@contoso.example>",
            "503 5.5.1 Send hello first",
        ),
        ("HELO client.example", "250 "),
        ("RCPT TO:<b@contoso.example>", "503 5.5.1 Need mail command"),
        ("MAIL FROM:<a@contoso.example>", "250 2.1.0 Sender OK"),
        (
            "MAIL FROM:<a@contoso.example>",
            "503 5.5.1 Sender already specified",
        ),
        ("DATA", "503 5.5.1 Need rcpt command"),
        ("RSET", "250 2.0.0 Resetting"),
        (
            "MAIL FROM:<a@contoso.example> SIZE=999999999",
            "552 5.3.4 Message size exceeds",
        ),
        ("VRFY postmaster", "252 2.1.5 Cannot VRFY user"),
        ("NOOP", "250 2.0.0 OK"),
        ("XYZZY", "500 5.3.3 Unrecognized command"),
        ("BDAT 10 LAST", "500 5.3.3 Unrecognized command"),
        (
            "AUTH CRAM-MD5",
            "504 5.7.4 Unrecognized authentication type",
        ),
        ("AUTH LOGIN", "334 VXNlcm5hbWU6"),
        ("dXNlcg==", "334 UGFzc3dvcmQ6"),
        ("cGFzcw==", "235 2.7.0 Authentication successful"),
        (
            "AUTH PLAIN AHVzZXIAcGFzcw==",
            "503 5.5.1 Already authenticated",
        ),
        ("QUIT", "221 2.0.0 Service closing transmission channel"),
    ];
    for (command, expected) in exchange {
        raw.send(&format!("{command}\r\n")).await;
        let reply = raw.reply().await;
        assert!(
            reply.starts_with(expected),
            "{command} -> {reply}, expected {expected}"
        );
    }
    raw.expect_closed().await;
    drill.stop().await;
}

// ----------------------------------------------------------------- faults

/// What lettre reports for each stage under `defer` and `reject` with the
/// default replies.
#[tokio::test]
async fn defer_and_reject_fail_at_every_stage_without_an_arrival() {
    let stages = [
        Stage::Connect,
        Stage::Greeting,
        Stage::Ehlo,
        Stage::Auth,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::EndOfData,
    ];
    for stage in stages {
        for (fail, code, text) in [
            (
                FailMode::Defer,
                "421",
                "4.3.2 Service not available, closing transmission channel",
            ),
            (FailMode::Reject, "550", "5.7.708 Service unavailable"),
        ] {
            let case = format!("{fail} at {}", stage.as_str());
            let mut drill = Drill::start(1).await;
            drill.fault(fault(fail, Some(stage)));
            let nonce = drill.fire("phishing-report");
            let error = drill
                .send(&drill.authenticating(Mechanism::Login), &nonce)
                .await
                .expect_err(&case);
            assert_eq!(
                error.is_transient(),
                fail == FailMode::Defer,
                "{case}: {error}"
            );
            assert_eq!(
                error.is_permanent(),
                fail == FailMode::Reject,
                "{case}: {error}"
            );
            assert_eq!(
                error.status().map(|c| c.to_string()).as_deref(),
                Some(code),
                "{case}"
            );
            assert!(error.to_string().contains(text), "{case}: {error}");
            assert_eq!(drill.counts(), HIT_ONCE, "{case}");
            assert_eq!(
                drill.arrivals(&nonce),
                0,
                "{case}: refused mail is no arrival"
            );
            drill.stop().await;
        }
    }
}

#[tokio::test]
async fn a_4xx_other_than_421_keeps_the_session_and_repeats_at_its_stage() {
    let drill = Drill::start(1).await;
    let busy = "451 4.7.500 Server busy. Please try again later";
    drill.fault(Fault {
        reply: Some(busy.to_string()),
        ..fault(FailMode::Defer, Some(Stage::Rcpt))
    });

    let mut raw = Raw::connect(drill.addr).await;
    raw.reply().await;
    raw.send("EHLO client.example\r\nMAIL FROM:<a@contoso.example>\r\n")
        .await;
    raw.reply().await;
    assert_eq!(
        raw.reply().await,
        "250 2.1.0 Sender OK",
        "MAIL is before the stage"
    );
    for _ in 0..3 {
        raw.send("RCPT TO:<soc@contoso.example>\r\n").await;
        assert_eq!(raw.reply().await, busy);
    }
    raw.send("NOOP\r\nQUIT\r\n").await;
    assert_eq!(
        raw.reply().await,
        "250 2.0.0 OK",
        "commands of no stage still work"
    );
    assert_eq!(
        raw.reply().await,
        "221 2.0.0 Service closing transmission channel"
    );
    raw.expect_closed().await;
    assert_eq!(drill.counts(), HIT_ONCE, "one session, one hit");

    // A client that leaves before the stage is an attempt, not a hit.
    let mut early = Raw::connect(drill.addr).await;
    early.reply().await;
    early.send("EHLO client.example\r\nQUIT\r\n").await;
    early.reply().await;
    assert!(early.reply().await.starts_with("221 "));
    early.expect_closed().await;
    let attempted = FaultCounts {
        attempts: 2,
        failed: 1,
    };
    assert_eq!(drill.counts(), attempted);

    // lettre reads the same reply as a transient failure.
    let mut drill = drill;
    let nonce = drill.fire("edr");
    let error = drill.send(&drill.plain(), &nonce).await.expect_err("busy");
    assert!(
        error.is_transient() && error.to_string().contains("4.7.500 Server busy"),
        "{error}"
    );
    drill.stop().await;
}

#[tokio::test]
async fn an_auth_fault_also_stops_a_client_that_skips_auth() {
    let mut drill = Drill::start(1).await;
    drill.fault(Fault {
        reply: Some("530 5.7.57 Client not authenticated to send mail".into()),
        ..fault(FailMode::Reject, Some(Stage::Auth))
    });
    let nonce = drill.fire("phishing-report");
    let error = drill
        .send(&drill.plain(), &nonce)
        .await
        .expect_err("refused at MAIL");
    assert!(
        error.is_permanent() && error.to_string().contains("5.7.57"),
        "{error}"
    );
    assert_eq!(drill.counts().failed, 1);
    assert_eq!(drill.arrivals(&nonce), 0);
    drill.stop().await;
}

#[tokio::test]
async fn drop_closes_without_a_reply() {
    for stage in [
        Stage::Connect,
        Stage::Greeting,
        Stage::Ehlo,
        Stage::Data,
        Stage::EndOfData,
    ] {
        let case = format!("drop at {}", stage.as_str());
        let mut drill = Drill::start(1).await;
        drill.fault(fault(FailMode::Drop, Some(stage)));
        let nonce = drill.fire("phishing-report");
        let error = drill.send(&drill.plain(), &nonce).await.expect_err(&case);
        assert!(
            error.status().is_none(),
            "{case}: no SMTP reply, got {error}"
        );
        assert_eq!(drill.counts(), HIT_ONCE, "{case}");
        assert_eq!(drill.arrivals(&nonce), 0, "{case}");
        drill.stop().await;
    }

    // At connect the close is a reset; at DATA a plain close after silence.
    let drill = Drill::start(1).await;
    drill.fault(fault(FailMode::Drop, Some(Stage::Connect)));
    let mut raw = Raw::connect(drill.addr).await;
    let read = raw.next_reply().await;
    assert!(
        matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "expected a reset, got {read:?}"
    );
    drill.fault(fault(FailMode::Drop, Some(Stage::Data)));
    let mut raw = Raw::connect(drill.addr).await;
    raw.open_transaction().await;
    raw.send("DATA\r\n").await;
    raw.expect_closed().await;
    drill.stop().await;
}

#[tokio::test]
async fn hang_never_answers_and_the_client_gives_up() {
    for stage in [Stage::Connect, Stage::Rcpt, Stage::Data, Stage::EndOfData] {
        let case = format!("hang at {}", stage.as_str());
        let mut drill = Drill::start(1).await;
        drill.fault(fault(FailMode::Hang, Some(stage)));
        let nonce = drill.fire("phishing-report");
        let transport = drill.plain();
        let sent = tokio::time::timeout(HUNG_AFTER, transport.send(alert_mail(&nonce))).await;
        assert!(
            sent.is_err(),
            "{case}: lettre should still be waiting, got {sent:?}"
        );
        drill
            .wait_for("the hit", |s| {
                s.fault_counts().get(CHANNEL).is_some_and(|c| c.failed == 1)
            })
            .await;
        assert_eq!(drill.arrivals(&nonce), 0, "{case}");
        drill.stop().await;
    }

    // Hung at DATA: the server keeps reading what the client sends.
    let drill = Drill::start(1).await;
    drill.fault(fault(FailMode::Hang, Some(Stage::Data)));
    let mut raw = Raw::connect(drill.addr).await;
    raw.open_transaction().await;
    raw.send("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        .await;
    raw.expect_silence().await;
    drill.stop().await;
    raw.expect_closed().await;
}

#[tokio::test]
async fn slow_answers_correctly_after_the_delay() {
    let delay = Duration::from_millis(100);
    let mut drill = Drill::start(1).await;
    drill.fault(Fault {
        delay: Some(Dur(delay)),
        ..fault(FailMode::Slow, Some(Stage::Mail))
    });
    let nonce = drill.fire("phishing-report");
    let started = Instant::now();
    drill
        .send(&drill.plain(), &nonce)
        .await
        .expect("slow is not a failure");
    // MAIL, RCPT, DATA and the end of data each waited.
    assert!(
        started.elapsed() + TIMER_SLACK >= delay * 4,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(drill.arrivals(&nonce), 1, "a slow server still delivers");
    assert_eq!(drill.counts(), HIT_ONCE);
    drill.stop().await;

    // Without `delay`, one second before the greeting.
    let drill = Drill::start(1).await;
    drill.fault(fault(FailMode::Slow, None));
    let started = Instant::now();
    let mut raw = Raw::connect(drill.addr).await;
    assert!(raw.reply().await.starts_with("220 "));
    assert!(started.elapsed() + TIMER_SLACK >= Duration::from_secs(1));
    drill.stop().await;
}

/// The first reply of `sessions` sessions under a flapping greeting fault.
async fn flapping_pattern(seed: u64, sessions: usize) -> (Vec<bool>, FaultCounts) {
    let drill = Drill::start(seed).await;
    drill.fault(Fault {
        rate: Some(0.5),
        ..fault(FailMode::Defer, None)
    });
    let mut pattern = Vec::new();
    for _ in 0..sessions {
        let mut raw = Raw::connect(drill.addr).await;
        let greeting = raw.reply().await;
        let failed = greeting.starts_with("421 4.3.2");
        assert!(failed || greeting.starts_with("220 "), "{greeting}");
        if failed {
            raw.expect_closed().await;
        } else {
            raw.send("QUIT\r\n").await;
            raw.reply().await;
        }
        pattern.push(failed);
    }
    let counts = drill.counts();
    drill.stop().await;
    (pattern, counts)
}

#[tokio::test]
async fn a_flapping_fault_replays_the_same_pattern_for_the_same_seed() {
    let (first, counts) = flapping_pattern(42, 16).await;
    let (second, _) = flapping_pattern(42, 16).await;
    assert_eq!(first, second, "same seed, same failures");
    let failed = first.iter().filter(|f| **f).count();
    assert!(
        failed > 0 && failed < 16,
        "rate 0.5 should fail some, spare some: {first:?}"
    );
    assert_eq!(
        counts,
        FaultCounts {
            attempts: 16,
            failed: failed as u64
        }
    );
}

#[tokio::test]
async fn refuse_closes_the_port_until_the_fault_is_lifted() {
    let mut drill = Drill::start(7).await;
    let addr = drill.addr;
    drill.fault(fault(FailMode::Refuse, None));
    wait_refused(addr, true).await;
    let nonce = drill.fire("phishing-report");
    let error = drill
        .send(&drill.plain(), &nonce)
        .await
        .expect_err("refused");
    assert!(error.status().is_none(), "{error}");

    drill.board.lift();
    wait_refused(addr, false).await;
    let nonce = drill.fire("phishing-report");
    drill
        .send(&drill.plain(), &nonce)
        .await
        .expect("accepted again on the same port");
    assert_eq!(drill.arrivals(&nonce), 1);

    // With a rate below 1 the port stays open and the chosen sessions are
    // reset as they connect.
    drill.fault(Fault {
        rate: Some(0.5),
        ..fault(FailMode::Refuse, None)
    });
    let before = drill.counts();
    let mut resets = 0;
    for _ in 0..12 {
        let mut raw = Raw::connect(addr).await;
        match raw.next_reply().await {
            Ok(Some(greeting)) => assert!(greeting.starts_with("220 "), "{greeting}"),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => resets += 1,
            other => panic!("expected a greeting or a reset, got {other:?}"),
        }
    }
    assert!(resets > 0 && resets < 12, "rate 0.5 reset {resets} of 12");
    let counts = drill.counts();
    assert_eq!(counts.attempts - before.attempts, 12);
    assert_eq!(counts.failed - before.failed, resets);
    drill.stop().await;
}

#[tokio::test]
async fn cancel_closes_every_session_and_releases_the_port() {
    let drill = Drill::start(1).await;
    let mut idle = Raw::connect(drill.addr).await;
    assert!(idle.reply().await.starts_with("220 "));
    drill.fault(fault(FailMode::Hang, Some(Stage::Connect)));
    let mut hung = Raw::connect(drill.addr).await;
    hung.expect_silence().await;

    let addr = drill.stop().await;
    idle.expect_closed().await;
    hung.expect_closed().await;
    assert!(refused(addr).await, "nobody listens after cancel");
    let again = tokio::net::TcpListener::bind(addr).await;
    assert!(again.is_ok(), "the port is free again: {again:?}");
}

// ---------------------------------------------------------- hostile peers

#[tokio::test]
async fn binary_garbage_gets_500s_then_421_after_too_many_in_a_row() {
    let drill = Drill::start(1).await;
    let mut raw = Raw::connect(drill.addr).await;
    raw.reply().await;
    // High bytes, NULs and control characters, but no line feed.
    let garbage = |i: u8| -> Vec<u8> {
        let mut line: Vec<u8> = (0..40u8).map(|j| (j.wrapping_mul(37) ^ i) | 0x80).collect();
        line.extend_from_slice(b"\0\x07\x1b\r\n");
        line
    };
    let errors = smtp::MAX_ERRORS as u8;
    for i in 0..errors - 1 {
        raw.send(garbage(i)).await;
        assert_eq!(raw.reply().await, "500 5.3.3 Unrecognized command");
    }
    raw.send("NOOP\r\n").await;
    assert_eq!(
        raw.reply().await,
        "250 2.0.0 OK",
        "a good command ends the run of errors"
    );
    for i in 0..errors - 1 {
        raw.send(garbage(i)).await;
        assert_eq!(raw.reply().await, "500 5.3.3 Unrecognized command");
    }
    raw.send(garbage(99)).await;
    assert_eq!(raw.reply().await, "500 5.3.3 Unrecognized command");
    assert_eq!(raw.reply().await, "421 4.7.0 Too many errors");
    raw.expect_closed().await;
    drill.stop().await;
}

#[tokio::test]
async fn an_endless_line_is_cut_and_the_peer_sent_away() {
    let drill = Drill::start(1).await;
    let mut raw = Raw::connect(drill.addr).await;
    raw.reply().await;
    let (reader, mut writer) = raw.stream.into_inner().into_split();
    // Write until the server hangs up: far more than it may store.
    let flood = tokio::spawn(async move {
        let chunk = [b'A'; 4096];
        while writer.write_all(&chunk).await.is_ok() {}
    });
    let mut replies = BufReader::new(reader);
    let mut text = String::new();
    let read = tokio::time::timeout(PROMPTLY, replies.read_to_string(&mut text)).await;
    assert!(read.is_ok(), "the server hung up in time");
    let cut = text.matches("500 5.5.2 Line too long\r\n").count();
    assert_eq!(cut, smtp::MAX_ERRORS as usize, "{text}");
    assert!(text.ends_with("421 4.7.0 Too many errors\r\n"), "{text}");
    flood.abort();
    drill.stop().await;
}

#[tokio::test]
async fn a_message_over_the_size_cap_is_read_then_refused_and_the_session_goes_on() {
    let mut drill = Drill::start(1).await;
    let nonce = drill.fire("oversized");
    let mut raw = Raw::connect(drill.addr).await;
    raw.open_transaction().await;
    raw.send("DATA\r\n").await;
    assert!(raw.reply().await.starts_with("354 "));

    // 50 MB streamed; the nonce in it must not count.
    let (reader, mut writer) = raw.stream.into_inner().into_split();
    let body_nonce = nonce.clone();
    let stream = tokio::spawn(async move {
        let line = format!("{}\r\n", "x".repeat(998));
        let block = line.repeat(64);
        writer
            .write_all(format!("Subject: {body_nonce}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        for _ in 0..(50 * 1024 * 1024 / block.len()) {
            writer.write_all(block.as_bytes()).await.unwrap();
        }
        writer.write_all(b".\r\n").await.unwrap();
        writer
    });
    let mut raw = Raw {
        stream: BufReader::new(reader.reunite(stream.await.unwrap()).unwrap()),
    };
    let refused = raw.reply().await;
    assert_eq!(
        refused,
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert_eq!(drill.arrivals(&nonce), 0);

    // The session is still in step: a small message goes through.
    raw.send("MAIL FROM:<a@contoso.example>\r\nRCPT TO:<b@contoso.example>\r\nDATA\r\n")
        .await;
    assert_eq!(raw.reply().await, "250 2.1.0 Sender OK");
    assert_eq!(raw.reply().await, "250 2.1.5 Recipient OK");
    assert!(raw.reply().await.starts_with("354 "));
    raw.send(&format!("Subject: {nonce}\r\n\r\nsmall\r\n.\r\n"))
        .await;
    assert!(raw.reply().await.starts_with("250 2.6.0 "));
    assert_eq!(drill.arrivals(&nonce), 1);
    drill.stop().await;
}

#[tokio::test]
async fn a_slowloris_is_cut_off_while_others_are_served() {
    let idle = Duration::from_secs(1);
    let step = Duration::from_millis(50);
    let limits = Limits {
        idle,
        ..Limits::default()
    };
    let mut drill = Drill::with_limits(1, limits).await;
    let mut raw = Raw::connect(drill.addr).await;
    raw.reply().await;
    let started = Instant::now();
    let (reader, mut writer) = raw.stream.into_inner().into_split();

    // One byte every 50 ms: each read is prompt, the line never completes
    // within the idle limit (53 bytes take 2.6 s).
    let command: &[u8] = b"EHLO a-very-slow-client-that-never-finishes.example\r\n";
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let trickle = tokio::spawn(async move {
        for byte in command {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(step).await;
        }
    });

    let nonce = drill.fire("meanwhile");
    drill
        .send(&drill.plain(), &nonce)
        .await
        .expect("others are served meanwhile");
    assert_eq!(drill.arrivals(&nonce), 1);
    assert!(
        started.elapsed() < idle,
        "served while the slowloris was still trickling"
    );

    let mut replies = BufReader::new(reader);
    let mut text = String::new();
    let read = tokio::time::timeout(PROMPTLY, replies.read_to_string(&mut text)).await;
    let cut_after = started.elapsed();
    assert!(read.is_ok(), "the slowloris was hung up on");
    assert_eq!(text, "421 4.4.2 Timeout waiting for client input\r\n");
    let bytes = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(bytes < command.len(), "cut mid-line, after {bytes} bytes");
    assert!(
        cut_after + step >= idle,
        "not before the idle limit: {cut_after:?}"
    );
    trickle.abort();
    drill.stop().await;
}

/// Sessions over the cap are turned away, but a session frees its slot as
/// soon as its last reply is out: a client that reconnects the moment it
/// reads `221` (as smtp-source does under load) always finds room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_frees_its_slot_with_its_last_reply() {
    const RECONNECTS: usize = 300;
    let limits = Limits {
        max_sessions: 1,
        ..Limits::default()
    };
    let drill = Drill::with_limits(1, limits).await;

    let mut held = Raw::connect(drill.addr).await;
    assert!(held.reply().await.starts_with("220 "));
    let mut turned_away = Raw::connect(drill.addr).await;
    assert!(
        turned_away.reply().await.starts_with("421 4.3.2 "),
        "the cap holds"
    );
    turned_away.expect_closed().await;
    held.send("QUIT\r\n").await;
    assert!(held.reply().await.starts_with("221 "));
    drop(held);

    for round in 0..RECONNECTS {
        let mut raw = Raw::connect(drill.addr).await;
        let greeting = raw.reply().await;
        assert!(greeting.starts_with("220 "), "round {round}: {greeting}");
        raw.send("QUIT\r\n").await;
        assert!(raw.reply().await.starts_with("221 "));
    }
    drill.stop().await;
}

// ------------------------------------------------------------------ swaks

/// How long one swaks run may take (it starts a Perl interpreter).
const SWAKS_DEADLINE: Duration = Duration::from_secs(20);

/// Runs swaks against `drill` and returns its exit code and output, or
/// `None` when swaks is not installed. With `CI` set a missing swaks fails
/// the test instead: CI must not pass by skipping.
async fn swaks(drill: &Drill, nonce: &str, extra: &[&str]) -> Option<(i32, String)> {
    let port = drill.addr.port().to_string();
    let subject = format!("Subject: [FIRING:1] PhishingReport {nonce}");
    let mut command = tokio::process::Command::new("swaks");
    command
        .args(["--server", "127.0.0.1", "--port", &port])
        .args([
            "--from",
            "alertmanager@contoso.example",
            "--to",
            "soc@contoso.example",
        ])
        .args(["--helo", "client.example", "--timeout", "5"])
        .args(["--header", &subject, "--body", "A user reported phishing."])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let ran = tokio::time::timeout(SWAKS_DEADLINE, command.output()).await;
    let output = match ran.expect("swaks finished in time") {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "swaks is required when CI is set (apt-get install swaks): {e}"
            );
            eprintln!("skipped: swaks not installed");
            return None;
        }
        Err(e) => panic!("cannot run swaks: {e}"),
    };
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Some((output.status.code().unwrap_or(-1), text))
}

#[tokio::test]
async fn swaks_delivers_in_plain_text_and_over_starttls_with_auth() {
    let mut drill = Drill::start(1).await;
    let nonce = drill.fire("phishing-report");
    let Some((code, output)) = swaks(&drill, &nonce, &[]).await else {
        return;
    };
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("250 2.6.0 <"), "{output}");
    assert_eq!(drill.arrivals(&nonce), 1, "{output}");

    let nonce = drill.fire("edr-isolation");
    let auth = [
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "alerts",
        "--auth-password",
        "x",
    ];
    let (code, output) = swaks(&drill, &nonce, &auth)
        .await
        .expect("swaks ran before");
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("220 2.0.0 SMTP server ready"), "{output}");
    assert!(
        output.contains("235 2.7.0 Authentication successful"),
        "{output}"
    );
    assert_eq!(drill.arrivals(&nonce), 1, "{output}");
    drill.stop().await;
}

#[tokio::test]
async fn swaks_sees_each_fault_at_its_stage() {
    // (stage, mode, reply or default, swaks' exit code for that stage)
    let cases: [(Stage, FailMode, Option<&str>, i32); 7] = [
        (Stage::Greeting, FailMode::Defer, None, 21),
        (Stage::Ehlo, FailMode::Reject, None, 22),
        (
            Stage::Auth,
            FailMode::Reject,
            Some(
                "535 5.7.139 Authentication unsuccessful, \
                 SmtpClientAuthentication is disabled for the Tenant.",
            ),
            28,
        ),
        (
            Stage::Mail,
            FailMode::Defer,
            Some("451 4.7.700 PFA agent busy, please try again."),
            23,
        ),
        (
            Stage::Rcpt,
            FailMode::Reject,
            Some("550 5.7.606 Access denied, banned sending IP [127.0.0.1]"),
            24,
        ),
        (Stage::Data, FailMode::Defer, None, 25),
        (
            Stage::EndOfData,
            FailMode::Reject,
            Some("554 5.2.252 SendAsDenied; alerts@contoso.example not allowed to send as x"),
            26,
        ),
    ];
    for (stage, fail, reply, exit) in cases {
        let case = format!("{fail} at {}", stage.as_str());
        let mut drill = Drill::start(1).await;
        let configured = Fault {
            reply: reply.map(str::to_string),
            ..fault(fail, Some(stage))
        };
        let expected = configured.smtp_reply();
        drill.fault(configured);
        let nonce = drill.fire("phishing-report");
        let auth = [
            "--auth",
            "LOGIN",
            "--auth-user",
            "alerts",
            "--auth-password",
            "x",
        ];
        let extra: &[&str] = if stage == Stage::Auth { &auth } else { &[] };
        let Some((code, output)) = swaks(&drill, &nonce, extra).await else {
            return;
        };
        assert_eq!(code, exit, "{case}\n{output}");
        assert!(output.contains(&expected), "{case}: {expected}\n{output}");
        assert_eq!(drill.counts(), HIT_ONCE, "{case}");
        assert_eq!(drill.arrivals(&nonce), 0, "{case}");
        drill.stop().await;
    }
}
