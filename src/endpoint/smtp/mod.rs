//! The mock Exchange Online SMTP endpoint the harness runs for channels of
//! kind `smtp`: a hand-written tokio state machine over smtp-proto's parser,
//! because no server crate can fail on purpose at each stage of a session
//! (see `shared/reference/stack.md`).
//!
//! - `server`: binds, accepts, stops listening under `refuse`, shuts down;
//! - `session`: one session, command by command, with its fault;
//! - `fault`: which command a fault strikes and what the client sees;
//! - `wire`: framing of lines and bodies with deadlines;
//! - `message`: MIME decoding before the nonce scan;
//! - `reply`: Exchange Online's reply texts;
//! - `tls`: STARTTLS with a self-signed certificate;
//! - `limits`: the bounds every session lives within;
//! - `replay`: one session driven from bytes in memory (fuzzing, tests).
//!
//! Limits (defaults, see [`Limits`]): command lines of 8 KiB (`500 5.5.2
//! Line too long`), messages of 10 MiB advertised as `SIZE` (larger ones are
//! read to the end and refused with `552 5.3.4`), 5 minutes to send each
//! command line (this also ends slowloris peers; `421 4.4.2`), 10 minutes
//! per message body, 30 s per TLS handshake, 10 bad commands in a row
//! (`421 4.7.0 Too many errors`), 200 recipients per message, 64 concurrent
//! sessions (more are answered `421 4.3.2` and closed; a session's place is
//! freed with its closing `221`/`421`, so a client that reconnects at once is
//! not turned away). After a closing `421` a session reads what the peer
//! still sends for at most 1 s and 64 KiB, so that the reply is not lost to
//! a reset, then closes; after the `221` to QUIT it closes at once. A session hung by a `hang` fault has no deadline:
//! it lasts until the client gives up or the drill is cancelled.

mod fault;
mod limits;
mod message;
pub mod replay;
mod reply;
mod server;
mod session;
mod tls;
mod wire;

pub use limits::{
    DATA_TIMEOUT, HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, Limits, MAX_ERRORS, MAX_LINE, MAX_MESSAGE,
    MAX_RECIPIENTS, MAX_SESSIONS,
};
pub use reply::SERVER_NAME;
pub use server::{start, start_with_limits};
