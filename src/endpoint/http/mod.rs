//! The HTTP endpoints the harness runs: mock Microsoft Graph (`graph`) and the
//! capture sinks (`slack`, `teams`, `pagerduty`, `ntfy`, `webhook`).
//!
//! Data flows one way: `server` accepts connections, `connection` serves
//! each with hyper, `request` takes one request from head to answer (fault,
//! body, reply, arrival), the vendor responders (`graph`, `sinks`, picked
//! by `vendor`) decide what the real service would answer, and `content`
//! gives the observer the request's text. Nothing is kept per request: no
//! request log, so memory stays flat under an alert storm.
//!
//! Faults (spec section 4) are drawn for each delivery request, afresh for
//! every request of a kept-alive connection: `throttle` 429 with
//! `Retry-After` (rounded up to whole seconds, default 60), `unavailable` 503
//! (`Retry-After` only when set), `error` the given status (default 500),
//! `slow` the healthy answer after `delay` (default 1 s), `drop` a reset
//! before any reply, `hang` no reply until the client leaves or the drill
//! ends. `refuse` at rate 1 closes the listener and resets open connections
//! until lifted; the kernel refuses those clients, so they are not counted
//! as attempts. Below rate 1 each new connection draws, and a refused one is
//! reset before a byte is read.
//!
//! Limits ([`Limits`], defaults): bodies up to 1 MiB (413 past it, after
//! reading at most that much; a declared larger `Content-Length` is refused
//! before reading); 10 s to send a request head, which also closes idle
//! keep-alive connections (slowloris); 30 s to send a body (408); heads up
//! to 64 KiB (431); 4096 connections at once (more wait in the backlog);
//! after a 413, up to 64 MiB / 5 s of the rest is read and discarded so the
//! client can read the answer. Hung requests are held until the client
//! leaves or the drill is cancelled.
//!
//! Hand-written on hyper rather than `axum::serve` because faults act on the
//! socket (resets, refusing, per-connection draws), which axum's server hides.

mod connection;
mod content;
mod graph;
mod request;
mod server;
mod sinks;
mod vendor;
mod wire;

pub use server::{Limits, start, start_with_limits};
