//! Drives one SMTP session from a byte string, with no network: the entry
//! point of the `smtp_session` fuzz target and of its regression tests.
//!
//! [`replay`] runs the real session code ([`super::session::serve`]) over an
//! in-memory stream: the client sends the input, closes its side, and reads
//! every reply until the server closes. The first input byte picks the
//! session's fault (none, or a mode at a stage), so faults are fuzzed too.
//! [`Transcript::check`] states what must hold whatever the client sent.
//! Nothing here touches a socket, a file or the clock beyond tokio's timers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::limits::Limits;
use super::session::{self, Endpoint};
use super::tls;
use super::wire::Socket;
use crate::drill::clock::Clock;
use crate::drill::event::{EventKind, Purpose};
use crate::drill::journal::Journal;
use crate::endpoint::{EndpointContext, FaultBoard, Observer};
use crate::scenario::duration::Dur;
use crate::scenario::model::{FailMode, Fault, Severity, Stage};

/// The channel a replayed session serves.
const CHANNEL: &str = "mail";

/// The one live nonce; a message carrying it is an arrival.
pub const REPLAY_NONCE: &str = "DRILL-fuzz-mail-1";

/// The limits of a replayed session: the defaults, with caps small enough
/// that a fuzzer's short inputs reach the over-long-line and oversized-message
/// paths.
pub fn replay_limits() -> Limits {
    Limits {
        line: 512,
        message: 2048,
        ..Limits::default()
    }
}

/// The longest reply line RFC 5321 allows, CRLF included.
const MAX_REPLY_LINE: usize = 512;

/// `slow`'s delay in a replayed session: none, so that inputs stay fast
/// (1 ms per reply held a fuzzer at ~150 inputs a second); the fault's
/// path through the session is the same.
const REPLAY_SLOW: Duration = Duration::ZERO;

/// The buffer between the replayed client and server.
const PIPE: usize = 64 * 1024;

/// What one replayed session produced.
#[derive(Debug)]
pub struct Transcript {
    /// The fault the session ran under.
    pub fault: Option<Fault>,
    /// The bytes the client sent (the input without its fault byte).
    pub sent: Vec<u8>,
    /// Everything the server sent, in order.
    pub replies: Vec<u8>,
    /// Arrivals the journal recorded for [`REPLAY_NONCE`].
    pub arrivals: u64,
}

/// Runs one session: `input[0]` picks the fault, the rest is what the
/// client sends before closing its side.
pub fn replay(input: &[u8]) -> Transcript {
    let (selector, sent) = match input.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, input),
    };
    let fault = fault_for(selector);
    thread_local! {
        /// Reused from input to input: building a runtime for each was
        /// much of what a fuzzer spent per input.
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
    }
    let (replies, arrivals) = RUNTIME.with(|runtime| runtime.block_on(run(fault.clone(), sent)));
    Transcript {
        fault,
        sent: sent.to_vec(),
        replies,
        arrivals,
    }
}

/// The fault selected by `selector`: 0 is none; then every mode that means
/// something to SMTP, at every stage.
pub fn fault_for(selector: u8) -> Option<Fault> {
    const MODES: [FailMode; 5] = [
        FailMode::Defer,
        FailMode::Reject,
        FailMode::Drop,
        FailMode::Hang,
        FailMode::Slow,
    ];
    const STAGES: [Stage; 8] = [
        Stage::Connect,
        Stage::Greeting,
        Stage::Ehlo,
        Stage::Auth,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::EndOfData,
    ];
    let choices = MODES.len() * STAGES.len() + 1;
    let pick = usize::from(selector) % choices;
    let pick = pick.checked_sub(1)?;
    let fail = MODES[pick / STAGES.len()];
    Some(Fault {
        fail,
        stage: Some(STAGES[pick % STAGES.len()]),
        reply: None,
        status: None,
        retry_after: None,
        delay: (fail == FailMode::Slow).then_some(Dur(REPLAY_SLOW)),
        rate: None,
    })
}

async fn run(fault: Option<Fault>, sent: &[u8]) -> (Vec<u8>, u64) {
    let journal = Journal::in_memory(Clock::start());
    let observer = Observer::new(journal.clone());
    observer.register(REPLAY_NONCE);
    journal.emit(EventKind::AlertFired {
        nonce: REPLAY_NONCE.to_string(),
        alert: "fuzz".to_string(),
        title: "fuzz".to_string(),
        severity: Severity::Low,
        purpose: Purpose::Outage,
        n: 1,
        rto_ms: 1000,
        expect: Vec::new(),
        planned_offset_ms: None,
    });
    let faults = FaultBoard::new(0, [CHANNEL], journal.clone());
    if let Some(fault) = &fault {
        faults.apply(
            0,
            0.0,
            &BTreeMap::from([(CHANNEL.to_string(), fault.clone())]),
        );
    }
    let endpoint = Arc::new(Endpoint {
        channel: CHANNEL.to_string(),
        ctx: EndpointContext {
            journal: journal.clone(),
            faults: faults.clone(),
            observer,
            cancel: CancellationToken::new(),
        },
        limits: replay_limits(),
        tls: tls::acceptor().expect("the STARTTLS certificate"),
        next_id: AtomicU64::new(1),
    });

    let (client, server) = tokio::io::duplex(PIPE);
    let peer = SocketAddr::from(([127, 0, 0, 1], 2525));
    let session_fault = faults.begin(CHANNEL);
    let slot = Arc::new(Semaphore::new(1))
        .try_acquire_owned()
        .expect("a fresh semaphore has a permit");
    let serving = session::serve(endpoint, server, peer, session_fault, slot);
    let (mut reader, mut writer) = tokio::io::split(client);
    let sending = async move {
        // The server may hang up before reading everything: that is fine.
        let _ = writer.write_all(sent).await;
        let _ = writer.shutdown().await;
    };
    let receiving = async move {
        let mut replies = Vec::new();
        let _ = reader.read_to_end(&mut replies).await;
        replies
    };
    let ((), (), replies) = tokio::join!(serving, sending, receiving);
    let arrivals = journal.with_state(|s| {
        s.firing(REPLAY_NONCE)
            .map_or(0, |f| u64::from(f.arrival_count))
    });
    (replies, arrivals)
}

/// The server's end of the in-memory connection has no TCP to reset.
impl Socket for DuplexStream {
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl Transcript {
    /// Checks what every session must satisfy whatever the client sent:
    /// replies are whole, well-formed lines within RFC 5321's length;
    /// multi-line replies keep one code; nothing follows a closing `421`;
    /// each line the client sent earns at most one reply (no amplification);
    /// and only an accepted message can be an arrival.
    ///
    /// # Errors
    ///
    /// The first rule broken, with the transcript's replies.
    pub fn check(&self) -> Result<(), String> {
        let text = String::from_utf8_lossy(&self.replies);
        let fail = |why: String| Err(format!("{why}\nfault: {:?}\nreplies:\n{text}", self.fault));
        if !self.replies.is_empty() && !self.replies.ends_with(b"\r\n") {
            return fail("the last reply is cut short".into());
        }
        let lines: Vec<&[u8]> = self
            .replies
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut continued: Option<&[u8]> = None;
        let mut closed = false;
        let mut accepted = 0u64;
        for line in &lines {
            let Some(body) = line.strip_suffix(b"\r") else {
                return fail("a reply line ends in a bare LF".into());
            };
            if closed {
                return fail("a reply follows a closing 421".into());
            }
            if line.len() + 1 > MAX_REPLY_LINE {
                return fail(format!("a reply line of {} bytes", line.len() + 1));
            }
            let well_formed = body.len() >= 3
                && (b'2'..=b'5').contains(&body[0])
                && body[1..3].iter().all(u8::is_ascii_digit)
                && matches!(body.get(3), None | Some(b' ' | b'-'))
                && body.iter().all(|b| (0x20..0x7f).contains(b));
            if !well_formed {
                return fail(format!(
                    "a malformed reply line: {:?}",
                    String::from_utf8_lossy(body)
                ));
            }
            let code = &body[..3];
            if let Some(open) = continued
                && open != code
            {
                return fail("a multi-line reply changes its code".into());
            }
            let last = body.get(3) != Some(&b'-');
            continued = (!last).then_some(code);
            if last && body.starts_with(b"421 ") {
                closed = true;
            }
            if last && body.starts_with(b"250 2.6.0 ") {
                accepted += 1;
            }
        }
        if continued.is_some() {
            return fail("a multi-line reply never ends".into());
        }
        let finals = lines.iter().filter(|l| l.get(3) != Some(&b'-')).count();
        // A greeting, one reply per line sent (an over-long line may earn
        // one per cap), one for a message's end, a closing 421.
        let line_cap = replay_limits().line;
        let newlines = self.sent.iter().filter(|b| **b == b'\n').count();
        let bound = newlines + self.sent.len() / line_cap + 3;
        if finals > bound {
            return fail(format!("{finals} replies to {newlines} lines"));
        }
        if self.arrivals > accepted {
            return fail(format!(
                "{} arrivals from {accepted} accepted messages",
                self.arrivals
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_session_delivers_and_checks_out() {
        let input = format!(
            "\0EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: {REPLAY_NONCE}\r\n\r\nhi\r\n.\r\nQUIT\r\n"
        );
        let t = replay(input.as_bytes());
        t.check().unwrap();
        assert_eq!(t.arrivals, 1, "{}", String::from_utf8_lossy(&t.replies));
        assert!(
            t.replies
                .ends_with(b"221 2.0.0 Service closing transmission channel\r\n")
        );
    }

    #[test]
    fn every_fault_selector_runs_to_the_end() {
        let input = format!(
            "EHLO a\r\nAUTH PLAIN AGEAYg==\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n{REPLAY_NONCE}\r\n.\r\nQUIT\r\n"
        );
        for selector in 0..=41u8 {
            let mut bytes = vec![selector];
            bytes.extend_from_slice(input.as_bytes());
            let t = replay(&bytes);
            t.check().unwrap();
            let healthy = t.fault.as_ref().is_none_or(|f| f.fail == FailMode::Slow);
            assert_eq!(t.arrivals, u64::from(healthy), "{:?}", t.fault);
        }
    }
}
