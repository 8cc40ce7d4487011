//! One client connection: HTTP/1.1 served by hyper, with the faults that act
//! on the socket rather than on a reply.
//!
//! The connection is served by hand (not `axum::serve`) because `drop`
//! must reset the socket (`SO_LINGER` 0, then close: the client sees a
//! reset, not a clean end) and `refuse` below rate 1 must reset whole
//! connections. A request asks for the reset through [`Connection::reset`];
//! this task takes the socket back from hyper and does it. Everything ends
//! when the drill is cancelled, hung requests included.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::SockRef;
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tracing::debug;

use super::request;
use super::server::{Endpoint, FaultWatch};
use crate::scenario::model::FailMode;

/// The smallest read buffer hyper accepts.
const HYPER_MIN_BUF: usize = 8192;

/// What the requests of one connection share with the connection task.
pub(super) struct Connection {
    /// Notified by a request whose fault resets the connection.
    pub reset: Notify,
}

enum End {
    Finished,
    Reset,
    Cancelled,
}

/// Serves `stream` until the client leaves, a fault resets it or the drill
/// ends. `_slot` is the endpoint's connection slot, freed on return.
pub(super) async fn serve(endpoint: Arc<Endpoint>, stream: TcpStream, _slot: OwnedSemaphorePermit) {
    let ctx = &endpoint.ctx;
    let channel = endpoint.channel.as_str();
    let mut faults = FaultWatch::new(ctx.faults.watch(channel));

    // `refuse` below rate 1: each connection draws, a refused one is reset
    // before a byte is read (refusing at rate 1 closes the listener).
    if faults.is_refuse()
        && let Some(fault) = ctx.faults.begin(channel)
        && fault.fail == FailMode::Refuse
    {
        ctx.faults.hit(channel, &fault);
        debug!(channel, "connection refused by reset");
        reset(stream);
        return;
    }

    let shared = Arc::new(Connection {
        reset: Notify::new(),
    });
    let service = {
        let endpoint = Arc::clone(&endpoint);
        let shared = Arc::clone(&shared);
        service_fn(move |req| request::handle(Arc::clone(&endpoint), Arc::clone(&shared), req))
    };
    let limits = &endpoint.limits;
    let mut conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_head_bytes)
        .max_buf_size(limits.max_head_bytes.max(HYPER_MIN_BUF))
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);

    let end = loop {
        tokio::select! {
            result = &mut conn => {
                if let Err(e) = result {
                    debug!(channel, error = %e, "connection ended with an error");
                }
                break End::Finished;
            }
            () = shared.reset.notified() => break End::Reset,
            () = ctx.cancel.cancelled() => break End::Cancelled,
            // `refuse` at rate 1 takes the whole service down, open
            // connections too.
            () = faults.changed() => {
                if faults.refuses_all() {
                    break End::Reset;
                }
            }
        }
    };

    match end {
        End::Reset => reset(conn.into_parts().io.into_inner()),
        // Dropping the connection closes the socket (hung requests too).
        End::Finished | End::Cancelled => drop(conn),
    }
}

/// Closes `stream` with a reset: `SO_LINGER` 0 makes `close` send RST.
fn reset(stream: TcpStream) {
    if let Err(e) = SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
        debug!(error = %e, "cannot set SO_LINGER; closing normally");
    }
    drop(stream);
}
