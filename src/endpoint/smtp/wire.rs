//! One SMTP connection's bytes: [`Wire`] frames command lines and message
//! bodies out of what the peer sends and writes replies back.
//!
//! Every wait here has a deadline and gives way to the drill's
//! cancellation. Memory stays bounded: a command line is cut at the line
//! cap (the rest of it is skipped, not stored), and a body is kept only up
//! to the message cap, then read to its end while discarded. Dot-unstuffing
//! and the `<CRLF>.<CRLF>` terminator come from smtp-proto's receivers. The
//! wire knows nothing of commands or faults.

use std::io;
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::drill::clock::{Clock, Stamp};

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// How long closing a connection politely may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How much a peer may still send while we close politely. A polite peer
/// sends a QUIT at most; past this the peer is flooding (an endless line),
/// and the reset that closing with unread input causes is what it earned.
const CLOSE_DRAIN: usize = 64 * 1024;

/// A stream the session can run over: plain TCP, or TLS after STARTTLS
/// (or an in-memory stream, when [`super::replay`] drives a session).
pub trait Socket: AsyncRead + AsyncWrite + Unpin + Send {
    /// The TCP connection underneath, e.g. to reset it; none in memory.
    fn tcp(&self) -> Option<&TcpStream>;
}

impl Socket for TcpStream {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl<S: Socket> Socket for TlsStream<S> {
    fn tcp(&self) -> Option<&TcpStream> {
        self.get_ref().0.tcp()
    }
}

/// A framed command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, its line ending included.
    Complete(Vec<u8>),
    /// The line passed the cap; what was read of it is gone, and the rest,
    /// up to its line ending, will be skipped.
    TooLong,
}

/// Why the wire stopped before a line, body or reply was through.
#[derive(Debug)]
pub enum Closed {
    /// The peer closed its side.
    Eof,
    Io(io::Error),
    /// The deadline passed.
    Timeout,
    /// The drill was cancelled.
    Cancelled,
}

/// A message body read up to `<CRLF>.<CRLF>`.
#[derive(Debug)]
pub struct Body {
    /// The dot-unstuffed content, or `None` when it passed the cap.
    pub content: Option<Vec<u8>>,
    /// When the read that delivered the final `.` line returned.
    pub received: Stamp,
}

/// A connection with its unread input.
pub struct Wire<S> {
    io: S,
    /// Bytes read but not yet consumed: `input[pos..]`.
    input: Vec<u8>,
    pos: usize,
    /// The rest of an over-long line is still to be skipped.
    skipping: bool,
    clock: Clock,
    last_read: Stamp,
    cancel: CancellationToken,
}

impl<S: Socket> Wire<S> {
    pub fn new(io: S, clock: Clock, cancel: CancellationToken) -> Wire<S> {
        let last_read = clock.now();
        Wire {
            io,
            input: Vec::new(),
            pos: 0,
            skipping: false,
            clock,
            last_read,
            cancel,
        }
    }

    /// The stream, without the unread input. After STARTTLS that input must
    /// be dropped (RFC 3207 section 4.2: nothing sent before the handshake
    /// may be read as if it came over TLS).
    pub fn into_inner(self) -> S {
        self.io
    }

    /// The next command line, at most `max` bytes long.
    pub async fn line(&mut self, max: usize, deadline: Instant) -> Result<Line, Closed> {
        loop {
            let pending = &self.input[self.pos..];
            if let Some(end) = memchr::memchr(b'\n', pending) {
                let line = &pending[..=end];
                self.pos += end + 1;
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                if line.len() > max {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Complete(line.to_vec()));
            }
            if pending.len() >= max {
                // Forget what we have; each further `max` bytes without a
                // line ending is reported again, so an endless line costs
                // the peer its error budget instead of costing us memory.
                self.input.clear();
                self.pos = 0;
                self.skipping = true;
                return Ok(Line::TooLong);
            }
            self.fill(Some(deadline)).await?;
        }
    }

    /// The message body after `354`, dot-unstuffed, up to the final
    /// `<CRLF>.<CRLF>`. Content past `max` bytes is read and discarded.
    pub async fn body(&mut self, max: usize, deadline: Instant) -> Result<Body, Closed> {
        let mut receiver = DataReceiver::new();
        let mut content = Vec::new();
        // The CRLF that ended the DATA line also starts the body's first
        // line, so that a body of just "." ends at once.
        receiver.ingest(&mut b"\r\n".iter(), &mut content);
        content.clear();
        let mut overflow: Option<DummyDataReceiver> = None;
        loop {
            let pending = &self.input[self.pos..];
            let mut bytes = pending.iter();
            let done = match overflow.as_mut() {
                Some(discard) => discard.ingest(&mut bytes),
                None => receiver.ingest(&mut bytes, &mut content),
            };
            self.pos += pending.len() - bytes.len();
            let too_big = overflow.is_some() || content.len() > max;
            if done {
                return Ok(Body {
                    content: (!too_big).then_some(content),
                    received: self.last_read,
                });
            }
            if too_big && overflow.is_none() {
                overflow = Some(DummyDataReceiver::new_data(&receiver));
                content = Vec::new();
            }
            self.fill(Some(deadline)).await?;
        }
    }

    /// Reads and throws away everything until the peer closes, the read
    /// fails or the drill is cancelled: a hung server. No deadline on
    /// purpose; the client decides how long it waits.
    pub async fn discard_until_closed(&mut self) -> Closed {
        loop {
            self.input.clear();
            self.pos = 0;
            if let Err(closed) = self.fill(None).await {
                return closed;
            }
        }
    }

    /// Writes one reply (one or more lines) and its final CRLF.
    pub async fn send(&mut self, reply: &str, deadline: Instant) -> Result<(), Closed> {
        let mut bytes = Vec::with_capacity(reply.len() + 2);
        bytes.extend_from_slice(reply.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let io = &mut self.io;
        let write = async {
            io.write_all(&bytes).await?;
            io.flush().await
        };
        tokio::select! {
            biased;
            // Cancellation first: a drill that ends must not wait on a
            // peer that stopped reading.
            _ = self.cancel.cancelled() => Err(Closed::Cancelled),
            written = tokio::time::timeout_at(deadline, write) => match written {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Closed::Io(e)),
                Err(_) => Err(Closed::Timeout),
            },
        }
    }

    /// Waits `delay` (a `slow` fault), or less if the drill is cancelled.
    pub async fn pause(&self, delay: Duration) -> Result<(), Closed> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(Closed::Cancelled),
            _ = crate::endpoint::fault::hold(delay) => Ok(()),
        }
    }

    /// Closes politely: shuts down our side (with TLS, after close_notify),
    /// then reads until the peer closes too, for at most [`CLOSE_GRACE`] and
    /// [`CLOSE_DRAIN`] bytes. Closing with unread input would make the
    /// kernel send a reset, which can destroy our last reply (a 421) before
    /// the peer has read it.
    pub async fn close(mut self) {
        let io = &mut self.io;
        let mut sink = [0u8; 4096];
        let linger = async {
            io.shutdown().await?;
            let mut drained = 0;
            while drained < CLOSE_DRAIN {
                match io.read(&mut sink).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            Ok::<(), io::Error>(())
        };
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::timeout(CLOSE_GRACE, linger) => {}
        }
    }

    /// Closes after a QUIT: shuts down our side (with TLS, after
    /// close_notify) without waiting for the peer's.
    pub async fn quit(mut self) {
        let io = &mut self.io;
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::timeout(CLOSE_GRACE, io.shutdown()) => {}
        }
    }

    /// Closes abruptly with a TCP reset (SO_LINGER 0), as a host that drops
    /// connections does.
    pub fn reset(self) {
        let Some(tcp) = self.io.tcp() else { return };
        if let Err(e) = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO)) {
            tracing::debug!(error = %e, "cannot set SO_LINGER 0; closing normally");
        }
    }

    /// Reads more input, waiting until `deadline` (`None`: no deadline).
    async fn fill(&mut self, deadline: Option<Instant>) -> Result<(), Closed> {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.reserve(READ_CHUNK);
        let read = self.io.read_buf(&mut self.input);
        let read = async {
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, read).await,
                None => Ok(read.await),
            }
        };
        let read = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Err(Closed::Cancelled),
            read = read => read,
        };
        match read {
            Ok(Ok(0)) => Err(Closed::Eof),
            Ok(Ok(_)) => {
                self.last_read = self.clock.now();
                Ok(())
            }
            Ok(Err(e)) => Err(Closed::Io(e)),
            Err(_) => Err(Closed::Timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A wire over a loopback connection, and the peer's end of it.
    async fn pair() -> (Wire<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (
            Wire::new(server, Clock::start(), CancellationToken::new()),
            peer,
        )
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn pipelined_lines_come_out_one_by_one() {
        let (mut wire, mut peer) = pair().await;
        peer.write_all(b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n")
            .await
            .unwrap();
        for expected in ["EHLO a\r\n", "MAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\n"] {
            let line = wire.line(64, soon()).await.unwrap();
            assert_eq!(line, Line::Complete(expected.as_bytes().to_vec()));
        }
    }

    #[tokio::test]
    async fn an_over_long_line_is_reported_per_cap_and_skipped_to_its_end() {
        let (mut wire, mut peer) = pair().await;
        peer.write_all(&[b'x'; 100]).await.unwrap();
        peer.write_all(b"yy\r\nNOOP\r\n").await.unwrap();
        assert_eq!(wire.line(40, soon()).await.unwrap(), Line::TooLong);
        // However the bytes were split into reads, the rest of the long
        // line (more x's, then "yy") never comes out as a command.
        let mut next = wire.line(40, soon()).await.unwrap();
        while next == Line::TooLong {
            next = wire.line(40, soon()).await.unwrap();
        }
        assert_eq!(next, Line::Complete(b"NOOP\r\n".to_vec()));
    }

    #[tokio::test]
    async fn bodies_are_dot_unstuffed_and_end_at_the_lone_dot() {
        let (mut wire, mut peer) = pair().await;
        peer.write_all(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
            .await
            .unwrap();
        let body = wire.body(1024, soon()).await.unwrap();
        let content = body.content.unwrap();
        assert_eq!(content, b"Subject: x\r\n\r\n.leading dot\r\n");
        let next = wire.line(64, soon()).await.unwrap();
        assert_eq!(next, Line::Complete(b"QUIT\r\n".to_vec()));

        peer.write_all(b".\r\n").await.unwrap();
        let empty = wire.body(1024, soon()).await.unwrap();
        assert_eq!(empty.content, Some(Vec::new()));
    }

    #[tokio::test]
    async fn a_body_past_the_cap_is_read_to_its_end_and_dropped() {
        let (mut wire, mut peer) = pair().await;
        let writer = tokio::spawn(async move {
            let chunk = [b'a'; 1000];
            for _ in 0..100 {
                peer.write_all(&chunk).await.unwrap();
                peer.write_all(b"\r\n").await.unwrap();
            }
            peer.write_all(b".\r\nNOOP\r\n").await.unwrap();
            peer
        });
        let body = wire.body(10_000, soon()).await.unwrap();
        assert!(body.content.is_none());
        let next = wire.line(64, soon()).await.unwrap();
        assert_eq!(next, Line::Complete(b"NOOP\r\n".to_vec()));
        assert!(
            wire.input.capacity() < 64 * 1024,
            "input buffer stayed small"
        );
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn waits_end_at_the_deadline_or_on_cancel() {
        let (mut wire, _peer) = pair().await;
        let short = Instant::now() + Duration::from_millis(50);
        assert!(matches!(wire.line(64, short).await, Err(Closed::Timeout)));
        wire.cancel.cancel();
        assert!(matches!(
            wire.discard_until_closed().await,
            Closed::Cancelled
        ));
        assert!(matches!(
            wire.send("220 x", soon()).await,
            Err(Closed::Cancelled)
        ));
    }
}
