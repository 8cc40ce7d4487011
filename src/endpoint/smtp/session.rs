//! One SMTP session from greeting to close: the state machine that turns
//! command lines (parsed by smtp-proto) into Exchange Online's replies,
//! applies the session's fault at its stage, and reports each accepted
//! message to the observer as an arrival.
//!
//! [`serve`] runs a session; [`Session`] holds what the peer has done so far
//! (hello, TLS, AUTH, the open mail transaction, its run of bad commands).
//! Commands are handled strictly in the order they arrive, which is all
//! PIPELINING asks of a server; each reply is flushed as it is made.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, AUTH_XOAUTH2, Error as ParseError, Request};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::fault::{Effect, Position, SessionFault};
use super::limits::Limits;
use super::message;
use super::reply;
use super::wire::{Closed, Line, Socket, Wire};
use crate::endpoint::EndpointContext;
use crate::scenario::model::{Fault, Stage};

/// What every session of one channel's endpoint shares.
pub struct Endpoint {
    pub channel: String,
    pub ctx: EndpointContext,
    pub limits: Limits,
    pub tls: TlsAcceptor,
    /// The next queue id (`InternalId`) for an accepted message.
    pub next_id: AtomicU64,
}

/// How a step of the session left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    /// Read the next command.
    Continue,
    /// `220` was sent for STARTTLS: hand the connection to TLS.
    StartTls,
    /// Close our side politely (after a 421), reading what the peer still
    /// sends so that the reply is not lost to a reset.
    Close,
    /// `221` was sent for QUIT: close at once. The peer asked to end and
    /// sends nothing more; waiting for its FIN would only cost a wakeup.
    Quit,
    /// Close without a word; `reset` sends a TCP RST.
    Drop { reset: bool },
    /// Stop answering and read until the peer gives up.
    Hang,
    /// The peer left, the drill ended, or the connection broke.
    Gone,
}

/// The AUTH exchange waiting for the client's next line.
#[derive(Clone, Copy, Debug)]
enum AuthStep {
    /// PLAIN or XOAUTH2 after an empty `334 `.
    Credentials,
    LoginUser,
    LoginPassword,
}

/// An open mail transaction: MAIL was accepted.
struct Transaction {
    recipients: usize,
}

/// What the peer has done so far.
struct Session {
    endpoint: Arc<Endpoint>,
    peer: SocketAddr,
    fault: Option<SessionFault>,
    hello: bool,
    tls: bool,
    authenticated: bool,
    auth: Option<AuthStep>,
    transaction: Option<Transaction>,
    /// Bad commands in a row.
    errors: u32,
    /// The session's place under [`Limits::max_sessions`]; given up with
    /// the closing reply, or when the session ends.
    slot: Option<OwnedSemaphorePermit>,
}

/// Runs one session on an accepted connection, until it closes. `fault` is
/// what [`crate::endpoint::FaultBoard::begin`] gave this session. `io` is a
/// TCP connection, or an in-memory stream when [`super::replay`] drives it.
/// `slot` is the session's place under [`Limits::max_sessions`], held until
/// the session commits to closing (or, hung, until the peer leaves).
pub async fn serve<S: Socket>(
    endpoint: Arc<Endpoint>,
    io: S,
    peer: SocketAddr,
    fault: Option<Fault>,
    slot: OwnedSemaphorePermit,
) {
    let clock = endpoint.ctx.journal.clock().clone();
    let cancel = endpoint.ctx.cancel.clone();
    let mut session = Session {
        endpoint: endpoint.clone(),
        peer,
        fault: fault.map(SessionFault::new),
        hello: false,
        tls: false,
        authenticated: false,
        auth: None,
        transaction: None,
        errors: 0,
        slot: Some(slot),
    };

    let mut wire = Wire::new(io, clock.clone(), cancel.clone());
    let mut flow = session.greet(&mut wire).await;
    if flow == Flow::Continue {
        flow = session.converse(&mut wire).await;
    }
    if flow != Flow::StartTls {
        return session.finish(wire, flow).await;
    }

    let Some(tls) = session.handshake(wire.into_inner()).await else {
        return session.log_end(Flow::Gone);
    };
    let mut wire = Wire::new(tls, clock, cancel);
    let flow = session.converse(&mut wire).await;
    session.finish(wire, flow).await;
}

impl Session {
    /// Sends the banner, unless the fault strikes at connect or greeting.
    async fn greet<S: Socket>(&mut self, wire: &mut Wire<S>) -> Flow {
        if let Some(effect) = self.strike(Position::At(Stage::Greeting)) {
            return self.suffer(wire, effect).await;
        }
        let clock = self.endpoint.ctx.journal.clock();
        let date = clock.utc(clock.now()).to_rfc2822();
        self.reply(wire, &reply::greeting(&date)).await
    }

    /// Reads and answers command lines until the session changes course.
    async fn converse<S: Socket>(&mut self, wire: &mut Wire<S>) -> Flow {
        let endpoint = self.endpoint.clone();
        let limits = &endpoint.limits;
        loop {
            let deadline = Instant::now() + limits.idle;
            let line = match wire.line(limits.line, deadline).await {
                Ok(line) => line,
                Err(closed) => return self.lost(wire, closed).await,
            };
            let flow = match line {
                Line::TooLong => {
                    self.auth = None;
                    self.complain(wire, reply::LINE_TOO_LONG).await
                }
                Line::Complete(line) => match self.auth.take() {
                    Some(step) => self.auth_response(wire, step, &line).await,
                    None => self.command(wire, &line).await,
                },
            };
            if flow != Flow::Continue {
                return flow;
            }
        }
    }

    /// One command line: the fault first, then the command itself.
    async fn command<S: Socket>(&mut self, wire: &mut Wire<S>, line: &[u8]) -> Flow {
        if let Some(effect) = self.strike(Position::of_line(line)) {
            return self.suffer(wire, effect).await;
        }
        match Request::parse(&mut line.iter()) {
            Ok(request) => self.execute(wire, request).await,
            Err(error) => self.complain(wire, &parse_error(error)).await,
        }
    }

    async fn execute<S: Socket>(
        &mut self,
        wire: &mut Wire<S>,
        request: Request<Cow<'_, str>>,
    ) -> Flow {
        let endpoint = self.endpoint.clone();
        let limits = &endpoint.limits;
        match request {
            Request::Ehlo { .. } => {
                self.hello = true;
                self.transaction = None;
                let ehlo = reply::ehlo(self.peer.ip(), limits.message, self.tls);
                self.reply(wire, &ehlo).await
            }
            Request::Helo { .. } => {
                self.hello = true;
                self.transaction = None;
                self.reply(wire, &reply::helo(self.peer.ip())).await
            }
            Request::StartTls if self.tls => self.complain(wire, reply::TLS_ALREADY_ACTIVE).await,
            Request::StartTls => match self.reply(wire, reply::READY_FOR_TLS).await {
                Flow::Continue => Flow::StartTls,
                flow => flow,
            },
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(wire, mechanism, &initial_response).await,
            Request::Mail { from } => {
                if !self.hello {
                    self.complain(wire, reply::SEND_HELLO_FIRST).await
                } else if self.transaction.is_some() {
                    self.complain(wire, reply::SENDER_ALREADY_GIVEN).await
                } else if from.size > limits.message {
                    self.reply(wire, reply::MESSAGE_TOO_BIG).await
                } else {
                    self.transaction = Some(Transaction { recipients: 0 });
                    self.reply(wire, reply::SENDER_OK).await
                }
            }
            Request::Rcpt { .. } => match self.transaction.as_mut() {
                None => self.complain(wire, reply::NEED_MAIL).await,
                Some(t) if t.recipients >= limits.max_recipients => {
                    self.reply(wire, reply::TOO_MANY_RECIPIENTS).await
                }
                Some(t) => {
                    t.recipients += 1;
                    self.reply(wire, reply::RECIPIENT_OK).await
                }
            },
            Request::Data => match &self.transaction {
                None => self.complain(wire, reply::NEED_MAIL).await,
                Some(t) if t.recipients == 0 => self.complain(wire, reply::NEED_RCPT).await,
                Some(_) => match self.reply(wire, reply::START_MAIL_INPUT).await {
                    Flow::Continue => self.receive(wire).await,
                    flow => flow,
                },
            },
            Request::Rset => {
                self.transaction = None;
                self.reply(wire, reply::RESET).await
            }
            Request::Noop { .. } => self.reply(wire, reply::NOOP).await,
            Request::Vrfy { .. } => self.reply(wire, reply::VRFY).await,
            Request::Expn { .. } => self.reply(wire, reply::NOT_IMPLEMENTED).await,
            Request::Help { .. } => self.reply(wire, reply::HELP).await,
            Request::Quit => match self.reply(wire, reply::QUIT).await {
                Flow::Continue => Flow::Quit,
                flow => flow,
            },
            // Not offered in EHLO: BDAT (no CHUNKING), LMTP, ETRN and kin.
            Request::Lhlo { .. }
            | Request::Bdat { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.complain(wire, reply::UNRECOGNIZED).await,
        }
    }

    /// AUTH with any credentials: they are checked for base64 and dropped.
    async fn auth<S: Socket>(&mut self, wire: &mut Wire<S>, mechanism: u64, initial: &str) -> Flow {
        if !self.hello {
            return self.complain(wire, reply::SEND_HELLO_FIRST).await;
        }
        if self.authenticated {
            return self.complain(wire, reply::ALREADY_AUTHENTICATED).await;
        }
        if self.transaction.is_some() {
            return self.complain(wire, reply::BAD_SEQUENCE).await;
        }
        match mechanism {
            AUTH_PLAIN | AUTH_XOAUTH2 if initial.is_empty() => {
                self.auth = Some(AuthStep::Credentials);
                self.reply(wire, reply::AUTH_CONTINUE).await
            }
            AUTH_LOGIN if initial.is_empty() => {
                self.auth = Some(AuthStep::LoginUser);
                self.reply(wire, reply::AUTH_USERNAME).await
            }
            AUTH_PLAIN | AUTH_XOAUTH2 | AUTH_LOGIN if !decodable(initial) => {
                self.complain(wire, reply::AUTH_UNDECODABLE).await
            }
            AUTH_LOGIN => {
                self.auth = Some(AuthStep::LoginPassword);
                self.reply(wire, reply::AUTH_PASSWORD).await
            }
            AUTH_PLAIN | AUTH_XOAUTH2 => {
                self.authenticated = true;
                self.reply(wire, reply::AUTH_OK).await
            }
            _ => self.complain(wire, reply::AUTH_UNKNOWN_MECHANISM).await,
        }
    }

    /// The client's answer to a `334` challenge.
    async fn auth_response<S: Socket>(
        &mut self,
        wire: &mut Wire<S>,
        step: AuthStep,
        line: &[u8],
    ) -> Flow {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']).trim();
        if text == "*" {
            return self.reply(wire, reply::AUTH_CANCELLED).await;
        }
        if !decodable(text) {
            return self.complain(wire, reply::AUTH_UNDECODABLE).await;
        }
        match step {
            AuthStep::LoginUser => {
                self.auth = Some(AuthStep::LoginPassword);
                self.reply(wire, reply::AUTH_PASSWORD).await
            }
            AuthStep::LoginPassword | AuthStep::Credentials => {
                self.authenticated = true;
                self.reply(wire, reply::AUTH_OK).await
            }
        }
    }

    /// Reads a message after `354` and accepts it: an arrival, unless the
    /// fault strikes at end of data (the message was refused) or it is too
    /// big.
    async fn receive<S: Socket>(&mut self, wire: &mut Wire<S>) -> Flow {
        let endpoint = self.endpoint.clone();
        let limits = &endpoint.limits;
        let deadline = Instant::now() + limits.data;
        let body = match wire.body(limits.message, deadline).await {
            Ok(body) => body,
            Err(closed) => return self.lost(wire, closed).await,
        };
        self.transaction = None;

        if let Some(effect) = self.strike(Position::At(Stage::EndOfData)) {
            tracing::debug!(channel = %self.endpoint.channel, "message refused at end of data");
            return self.suffer(wire, effect).await;
        }
        let Some(content) = body.content else {
            return self.reply(wire, reply::MESSAGE_TOO_BIG).await;
        };

        let decoded = message::decode(&content);
        let channel = &endpoint.channel;
        let nonces = endpoint
            .ctx
            .observer
            .observe(channel, body.received, &decoded.observable);
        let id = endpoint.next_id.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%channel, bytes = content.len(), nonces, id, "message accepted");
        let message_id = decoded
            .message_id
            .unwrap_or_else(|| format!("{id}@{}", reply::SERVER_NAME));
        self.reply(wire, &reply::queued(&message_id, id)).await
    }

    /// Asks the fault what it does at `position`.
    fn strike(&mut self, position: Position) -> Option<Effect> {
        let fault = self.fault.as_mut()?;
        fault.strike(position, &self.endpoint.ctx.faults, &self.endpoint.channel)
    }

    /// Plays out a fault's effect.
    async fn suffer<S: Socket>(&mut self, wire: &mut Wire<S>, effect: Effect) -> Flow {
        match effect {
            Effect::Reply { line, closes } => match self.send(wire, &line).await {
                Flow::Continue if closes => Flow::Close,
                flow => flow,
            },
            Effect::Drop { reset } => Flow::Drop { reset },
            Effect::Hang => Flow::Hang,
        }
    }

    /// Answers a good command; a positive reply ends a run of bad ones.
    async fn reply<S: Socket>(&mut self, wire: &mut Wire<S>, text: &str) -> Flow {
        if reply::is_positive(text) {
            self.errors = 0;
        }
        self.send(wire, text).await
    }

    /// Answers a bad command, and hangs up after too many in a row.
    async fn complain<S: Socket>(&mut self, wire: &mut Wire<S>, text: &str) -> Flow {
        self.errors = self.errors.saturating_add(1);
        let flow = self.send(wire, text).await;
        if flow != Flow::Continue || self.errors < self.endpoint.limits.max_errors {
            return flow;
        }
        tracing::debug!(channel = %self.endpoint.channel, peer = %self.peer, "too many errors");
        match self.send(wire, reply::TOO_MANY_ERRORS).await {
            Flow::Continue => Flow::Close,
            flow => flow,
        }
    }

    /// Sends `text`, after the `slow` fault's delay if it has struck.
    async fn send<S: Socket>(&mut self, wire: &mut Wire<S>, text: &str) -> Flow {
        // A closing reply ends the session: free its slot before the peer
        // can read the reply, so that a client reconnecting the moment it
        // does (on another worker thread) is not turned away.
        if text == reply::QUIT || reply::closes(text) {
            self.slot = None;
        }
        if let Some(delay) = self.fault.as_ref().and_then(SessionFault::delay)
            && wire.pause(delay).await.is_err()
        {
            return Flow::Gone;
        }
        let deadline = Instant::now() + self.endpoint.limits.idle;
        match wire.send(text, deadline).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Gone,
        }
    }

    /// The peer went quiet past its deadline, or the connection ended.
    async fn lost<S: Socket>(&mut self, wire: &mut Wire<S>, closed: Closed) -> Flow {
        match closed {
            Closed::Timeout => match self.send(wire, reply::TIMED_OUT).await {
                Flow::Continue => Flow::Close,
                flow => flow,
            },
            Closed::Io(e) => {
                tracing::debug!(peer = %self.peer, error = %e, "connection failed");
                Flow::Gone
            }
            Closed::Eof | Closed::Cancelled => Flow::Gone,
        }
    }

    /// Upgrades to TLS after `220 2.0.0 SMTP server ready`. Like a real
    /// server, forgets everything negotiated in plain text.
    async fn handshake<S: Socket>(&mut self, io: S) -> Option<TlsStream<S>> {
        let endpoint = self.endpoint.clone();
        let accept = tokio::time::timeout(endpoint.limits.handshake, endpoint.tls.accept(io));
        let handshake = tokio::select! {
            _ = endpoint.ctx.cancel.cancelled() => return None,
            handshake = accept => handshake,
        };
        match handshake {
            Ok(Ok(tls)) => {
                self.tls = true;
                self.hello = false;
                self.authenticated = false;
                self.auth = None;
                self.transaction = None;
                Some(tls)
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                None
            }
        }
    }

    /// Ends the connection the way `flow` says. A hung session keeps its
    /// slot until the peer leaves; any other frees it before lingering for
    /// the peer to close.
    async fn finish<S: Socket>(&mut self, mut wire: Wire<S>, flow: Flow) {
        self.log_end(flow);
        if flow == Flow::Hang {
            let closed = wire.discard_until_closed().await;
            tracing::debug!(peer = %self.peer, ?closed, "hung session ended");
            return;
        }
        self.slot = None;
        match flow {
            Flow::Close => wire.close().await,
            Flow::Quit => wire.quit().await,
            Flow::Drop { reset: true } => wire.reset(),
            Flow::Continue
            | Flow::StartTls
            | Flow::Drop { reset: false }
            | Flow::Hang
            | Flow::Gone => {}
        }
    }

    fn log_end(&self, flow: Flow) {
        let hit = self.fault.as_ref().is_some_and(SessionFault::hit);
        tracing::debug!(channel = %self.endpoint.channel, peer = %self.peer, ?flow, hit, "session ends");
    }
}

/// The reply to a line smtp-proto could not parse.
fn parse_error(error: ParseError) -> String {
    match error {
        ParseError::UnknownCommand => reply::UNRECOGNIZED.to_string(),
        ParseError::InvalidSenderAddress => reply::INVALID_SENDER.to_string(),
        ParseError::InvalidRecipientAddress => reply::INVALID_RECIPIENT.to_string(),
        ParseError::UnsupportedParameter { param } => reply::unsupported_parameter(&param),
        ParseError::SyntaxError { .. }
        | ParseError::InvalidParameter { .. }
        | ParseError::NeedsMoreData { .. }
        | ParseError::ResponseTooLong
        | ParseError::InvalidResponse { .. } => reply::INVALID_ARGUMENTS.to_string(),
    }
}

/// Whether an AUTH response is base64 (`=` alone is the empty response).
fn decodable(text: &str) -> bool {
    text == "="
        || base64::engine::general_purpose::STANDARD
            .decode(text)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of bytes (xorshift), so failures replay.
    fn noise(seed: u64) -> impl Iterator<Item = u8> {
        let mut state = seed | 1;
        std::iter::repeat_with(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
    }

    #[test]
    fn hostile_lines_get_a_reply_and_never_panic_the_parser() {
        let verbs: [&[u8]; 10] = [
            b"MAIL FROM:<",
            b"RCPT TO:<",
            b"EHLO ",
            b"AUTH ",
            b"AUTH PLAIN ",
            b"BDAT ",
            b"MAIL FROM:<a@b> SIZE=",
            b"RCPT TO:<a@b> NOTIFY=",
            b"VRFY ",
            b"",
        ];
        let mut bytes = noise(0x5eed);
        for i in 0..50_000usize {
            let mut line = verbs[i % verbs.len()].to_vec();
            let len = usize::from(bytes.next().unwrap_or(0)) % 80;
            line.extend(bytes.by_ref().take(len).filter(|b| *b != b'\n'));
            line.extend_from_slice(b"\r\n");
            let _ = Position::of_line(&line);
            if let Err(error) = Request::parse(&mut line.iter()) {
                let reply = parse_error(error);
                assert!(reply.starts_with('5'), "{reply}");
                assert!(!reply.contains(['\r', '\n']), "{reply}");
            }
        }
    }

    #[test]
    fn auth_responses_must_be_base64() {
        assert!(decodable("dXNlcg==") && decodable("=") && decodable(""));
        assert!(!decodable("not base64!") && !decodable("dXNlcg="));
    }
}
