//! The listener of one HTTP endpoint: binds, accepts within the connection
//! limit, stops listening while the channel is refused, and shuts down when
//! the drill ends.
//!
//! Each accepted connection is served by [`super::connection`]. The accept
//! loop owns the listener; `refuse` at rate 1 closes it (clients get
//! "connection refused") and lifting the fault binds the same address again.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::connection;
use super::vendor::Vendor;
use crate::endpoint::{EndpointContext, EndpointError, Running};
use crate::scenario::model::{ChannelKind, FailMode, Fault};

/// The bounds that keep an endpoint responsive, and its memory flat, under
/// an alert storm or a hostile peer.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body read; a larger one is answered 413 after reading
    /// at most this much (a declared `Content-Length` over it, at once).
    pub max_body: usize,
    /// Time a client has to send a complete request head, on a new or an
    /// idle keep-alive connection (slowloris); then the connection closes.
    pub header_read_timeout: Duration,
    /// Time a client has to send the whole body once the head is in; then
    /// 408 and the connection closes.
    pub body_timeout: Duration,
    /// Largest request head (request line and headers); hyper answers 431.
    pub max_head_bytes: usize,
    /// Connections served at once; past it, new ones wait in the listen
    /// backlog until a slot frees.
    pub max_connections: usize,
    /// After a 413, how much more of the body is read and thrown away so the
    /// client can finish sending and read the answer (instead of a reset).
    pub drain_max: u64,
    /// How long that draining may take.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_head_bytes: 64 * 1024,
            max_connections: 4096,
            drain_max: 64 * 1024 * 1024,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// How many connections wait in the kernel's queue while all slots are used.
const BACKLOG: u32 = 1024;

/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Pause between attempts to bind again after `refuse` is lifted.
const REBIND_BACKOFF: Duration = Duration::from_millis(100);

/// How long shutdown waits for connection tasks, which end as soon as they
/// see the cancellation; past it the task returns and they finish alone.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Everything a connection and its requests need.
pub(super) struct Endpoint {
    pub channel: String,
    pub vendor: Vendor,
    pub ctx: EndpointContext,
    pub limits: Limits,
    /// Connection and drain tasks, awaited at shutdown.
    pub tasks: TaskTracker,
}

/// Binds `addr` and serves the endpoint of `channel` with the default
/// [`Limits`] until `ctx.cancel` is cancelled.
///
/// # Errors
///
/// [`EndpointError::Bind`] when the address cannot be bound, and
/// [`EndpointError::Setup`] for a kind not served over HTTP (`smtp`).
pub async fn start(
    channel: &str,
    kind: ChannelKind,
    addr: SocketAddr,
    ctx: EndpointContext,
) -> Result<Running, EndpointError> {
    start_with_limits(channel, kind, addr, ctx, Limits::default()).await
}

/// [`start`] with chosen limits (tests shorten the timeouts).
///
/// # Errors
///
/// As [`start`].
pub async fn start_with_limits(
    channel: &str,
    kind: ChannelKind,
    addr: SocketAddr,
    ctx: EndpointContext,
    limits: Limits,
) -> Result<Running, EndpointError> {
    let vendor = Vendor::of(kind).ok_or_else(|| EndpointError::Setup {
        channel: channel.to_string(),
        message: format!("`{kind}` is not served over HTTP"),
    })?;
    let bind_error = |source| EndpointError::Bind {
        channel: channel.to_string(),
        addr,
        source,
    };
    let listener = bind(addr).map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;

    let endpoint = Arc::new(Endpoint {
        channel: channel.to_string(),
        vendor,
        ctx,
        limits,
        tasks: TaskTracker::new(),
    });
    info!(channel, %kind, addr = %bound, "http endpoint listening");
    let task = tokio::spawn(accept_loop(endpoint, listener, bound));
    Ok(Running {
        channel: channel.to_string(),
        kind,
        addr: bound,
        task,
    })
}

/// A listening socket with `SO_REUSEADDR`, so that the address can be bound
/// again after `refuse` even while closed connections linger in TIME_WAIT.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accepts connections until the drill ends, listening only while the
/// channel is not refused.
async fn accept_loop(endpoint: Arc<Endpoint>, listener: TcpListener, addr: SocketAddr) {
    let channel = endpoint.channel.as_str();
    let cancel = endpoint.ctx.cancel.clone();
    let slots = Arc::new(Semaphore::new(endpoint.limits.max_connections.max(1)));
    let mut faults = FaultWatch::new(endpoint.ctx.faults.watch(channel));
    let mut listener = Some(listener);

    loop {
        // Listen, or not, as the channel's current fault says.
        if faults.refuses_all() {
            if listener.take().is_some() {
                info!(channel, %addr, "refusing connections: listener closed");
            }
        } else if listener.is_none() {
            let Some(bound) = bind_again(addr, &cancel, channel).await else {
                break;
            };
            info!(channel, %addr, "listening again");
            listener = Some(bound);
        }
        let Some(active) = listener.as_ref() else {
            // Every select! below ends on cancellation, or on a fault change
            // that may open or close the listener.
            tokio::select! {
                () = cancel.cancelled() => break,
                () = faults.changed() => continue,
            }
        };

        // A free slot first, so that a full endpoint leaves new clients in
        // the backlog rather than accepting and starving them.
        let slot = tokio::select! {
            () = cancel.cancelled() => break,
            () = faults.changed() => continue,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = cancel.cancelled() => break,
            () = faults.changed() => continue,
            accepted = active.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    warn!(channel, error = %e, "accept failed");
                    pause(&cancel, ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        debug!(channel, %peer, "connection accepted");
        let serving = connection::serve(Arc::clone(&endpoint), stream, slot);
        endpoint.tasks.spawn(serving);
    }

    // Stop accepting, then let every connection see the cancellation.
    drop(listener);
    endpoint.tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, endpoint.tasks.wait())
        .await
        .is_err()
    {
        warn!(
            channel,
            "connections still closing after the shutdown grace"
        );
    }
    info!(channel, %addr, "http endpoint stopped");
}

/// Binds `addr` again, retrying until it works or the drill ends.
async fn bind_again(
    addr: SocketAddr,
    cancel: &CancellationToken,
    channel: &str,
) -> Option<TcpListener> {
    loop {
        match bind(addr) {
            Ok(listener) => return Some(listener),
            Err(e) => warn!(channel, %addr, error = %e, "cannot listen again yet"),
        }
        if !pause(cancel, REBIND_BACKOFF).await {
            return None;
        }
    }
}

/// Sleeps for `wait`; false when the drill ended first.
async fn pause(cancel: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// Whether `fault` refuses every connection (`refuse` at rate 1). Below
/// rate 1 the listener stays open and each connection draws.
pub(super) fn refuses_all(fault: Option<&Fault>) -> bool {
    fault.is_some_and(|f| f.fail == FailMode::Refuse && f.rate() >= 1.0)
}

/// The channel's current fault, as the fault board publishes it.
pub(super) struct FaultWatch {
    rx: watch::Receiver<Option<Fault>>,
    open: bool,
}

impl FaultWatch {
    pub fn new(rx: watch::Receiver<Option<Fault>>) -> FaultWatch {
        FaultWatch { rx, open: true }
    }

    /// Whether the current fault refuses every connection; marks it seen.
    pub fn refuses_all(&mut self) -> bool {
        refuses_all(self.rx.borrow_and_update().as_ref())
    }

    /// Whether the current fault is `refuse`, at any rate.
    pub fn is_refuse(&mut self) -> bool {
        matches!(&*self.rx.borrow_and_update(), Some(f) if f.fail == FailMode::Refuse)
    }

    /// Resolves when the fault changes; never, once the board is gone.
    pub async fn changed(&mut self) {
        if self.open && self.rx.changed().await.is_ok() {
            return;
        }
        self.open = false;
        std::future::pending::<()>().await;
    }
}
