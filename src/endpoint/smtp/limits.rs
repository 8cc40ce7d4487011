//! The bounds every SMTP session lives within, so that a broken or hostile
//! peer costs a known amount of memory and time: [`Limits`].
//!
//! The defaults suit a drill on one machine; tests shorten them through
//! [`super::start_with_limits`]. Nothing here reads the clock or the network.

use std::time::Duration;

/// Longest command line, CRLF included. RFC 5321 asks for 512 bytes, but an
/// `AUTH XOAUTH2` line carries a base64 bearer token that Entra ID makes
/// 2–4 KB long, so the cap leaves room for that and no more.
pub const MAX_LINE: usize = 8 * 1024;

/// Largest message accepted, advertised as `SIZE`. Alerts are a few KB;
/// Exchange Online's own default send limit is 35 MB, which would let a few
/// sessions pin a lot of memory for no gain in a drill.
pub const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// How long a client may take to send one complete command line, counted
/// from when the server starts waiting for it. Counting per line rather
/// than per byte is what stops a slowloris that trickles one byte at a time.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long a client may take to send a whole message after `354`.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long a STARTTLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bad commands in a row before the server answers `421 4.7.0 Too many
/// errors` and hangs up.
pub const MAX_ERRORS: u32 = 10;

/// Recipients per message; more are answered `452 4.5.3 Too many
/// recipients`, as Exchange Online does past its own limit.
pub const MAX_RECIPIENTS: usize = 200;

/// Concurrent sessions per channel; more are answered `421 4.3.2` with
/// Exchange Online's "too many connections" text and closed. A session
/// counts until its last reply is sent (a hung one until the peer leaves),
/// not while it lingers for the peer to close. With [`MAX_MESSAGE`] this
/// bounds the endpoint's message buffers to 640 MiB.
pub const MAX_SESSIONS: usize = 64;

/// The bounds of one channel's SMTP endpoint. `Limits::default()` uses the
/// constants above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line in bytes, CRLF included.
    pub line: usize,
    /// Largest message in bytes (after dot-unstuffing), advertised as SIZE.
    pub message: usize,
    /// Deadline for each complete command line.
    pub idle: Duration,
    /// Deadline for a whole message body.
    pub data: Duration,
    /// Deadline for a STARTTLS handshake.
    pub handshake: Duration,
    /// Bad commands in a row before the session is closed.
    pub max_errors: u32,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Concurrent sessions.
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line: MAX_LINE,
            message: MAX_MESSAGE,
            idle: IDLE_TIMEOUT,
            data: DATA_TIMEOUT,
            handshake: HANDSHAKE_TIMEOUT,
            max_errors: MAX_ERRORS,
            max_recipients: MAX_RECIPIENTS,
            max_sessions: MAX_SESSIONS,
        }
    }
}
