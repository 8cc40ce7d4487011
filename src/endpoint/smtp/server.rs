//! The listener of one `smtp` channel: binds, accepts, gives each session
//! its fault, stops listening while the channel's fault is `refuse`, and on
//! cancellation closes every session and releases the port.
//!
//! [`start`] returns once the port is bound; the accept loop runs in
//! [`Running::task`], which ends after the last session has closed. Under
//! `refuse` the sessions already open go on; only new connections are
//! refused, and the kernel refuses them, so they are not counted as fault
//! attempts. The listener never touches message content.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::limits::Limits;
use super::reply;
use super::session::{self, Endpoint};
use super::tls;
use crate::endpoint::{EndpointContext, EndpointError, Running};
use crate::scenario::model::{ChannelKind, FailMode, Fault};

/// Pending connections the kernel queues for us.
const BACKLOG: u32 = 1024;

/// Wait after a failed accept (e.g. out of file descriptors), so that the
/// loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Wait between attempts to listen again after a `refuse` fault was lifted,
/// when the port is briefly unavailable.
const REBIND_RETRY: Duration = Duration::from_millis(100);

/// Binds `addr` and serves SMTP on it with the default [`Limits`].
///
/// # Errors
///
/// [`EndpointError::Bind`] when the address cannot be bound;
/// [`EndpointError::Setup`] when the STARTTLS certificate cannot be made.
pub async fn start(
    channel: &str,
    addr: SocketAddr,
    ctx: EndpointContext,
) -> Result<Running, EndpointError> {
    start_with_limits(channel, addr, ctx, Limits::default()).await
}

/// [`start`] with chosen limits (tests shorten the timeouts).
///
/// # Errors
///
/// As for [`start`].
pub async fn start_with_limits(
    channel: &str,
    addr: SocketAddr,
    ctx: EndpointContext,
    limits: Limits,
) -> Result<Running, EndpointError> {
    let bind_error = |source| EndpointError::Bind {
        channel: channel.to_string(),
        addr,
        source,
    };
    let listener = listen(addr).map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let tls = tls::acceptor().map_err(|message| EndpointError::Setup {
        channel: channel.to_string(),
        message,
    })?;
    tracing::info!(channel, addr = %bound, "smtp endpoint listening");

    let endpoint = Arc::new(Endpoint {
        channel: channel.to_string(),
        ctx,
        limits,
        tls,
        next_id: AtomicU64::new(1),
    });
    let task = tokio::spawn(accept_loop(endpoint, listener, bound));
    Ok(Running {
        channel: channel.to_string(),
        kind: ChannelKind::Smtp,
        addr: bound,
        task,
    })
}

/// Accepts until cancelled, then waits for the sessions to close.
async fn accept_loop(endpoint: Arc<Endpoint>, listener: TcpListener, addr: SocketAddr) {
    let channel = endpoint.channel.as_str();
    let cancel = endpoint.ctx.cancel.clone();
    let sessions = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(endpoint.limits.max_sessions));
    let mut current = endpoint.ctx.faults.watch(channel);
    let mut watching = true;
    let mut listener = Some(listener);
    let mut rebind_failures = 0u32;

    loop {
        let refusing = refuses_all(current.borrow_and_update().as_ref());
        if refusing && listener.take().is_some() {
            tracing::info!(channel, %addr, "refuse fault: stopped listening");
        }
        if !refusing && listener.is_none() {
            match listen(addr) {
                Ok(bound) => {
                    tracing::info!(channel, %addr, "listening again");
                    listener = Some(bound);
                    rebind_failures = 0;
                }
                // Warn once; the retries every REBIND_RETRY would flood.
                Err(e) if rebind_failures == 0 => {
                    rebind_failures += 1;
                    tracing::warn!(channel, %addr, error = %e, "cannot listen again yet; retrying");
                }
                Err(e) => {
                    rebind_failures = rebind_failures.saturating_add(1);
                    tracing::debug!(channel, %addr, error = %e, rebind_failures, "still cannot listen");
                }
            }
        }
        let rebind_pending = !refusing && listener.is_none();

        tokio::select! {
            _ = cancel.cancelled() => break,
            // The fault changed: re-check `refuse` at the top of the loop.
            changed = current.changed(), if watching => {
                // The board is gone; the last fault stays in force.
                watching = changed.is_ok();
            }
            accepted = accept(listener.as_ref()) => match accepted {
                Ok((tcp, peer)) => admit(&endpoint, &sessions, &slots, tcp, peer),
                Err(e) => {
                    tracing::warn!(channel, error = %e, "accept failed");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            },
            _ = tokio::time::sleep(REBIND_RETRY), if rebind_pending => {}
        }
    }

    // Release the port first, then let the sessions (which watch the same
    // token) close.
    drop(listener);
    sessions.close();
    sessions.wait().await;
    tracing::info!(channel, %addr, "smtp endpoint stopped");
}

/// Starts a session for an accepted connection, or turns it away when every
/// session slot is taken. A session frees its slot as soon as its last reply
/// is out (see [`session::serve`]), not when its task ends: a client that
/// reconnects the moment it reads `221` must find the slot free, whether or
/// not the old task has run again since.
fn admit(
    endpoint: &Arc<Endpoint>,
    sessions: &TaskTracker,
    slots: &Arc<Semaphore>,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let Ok(slot) = Arc::clone(slots).try_acquire_owned() else {
        // Best effort on a fresh socket whose send buffer is empty.
        let _ = tcp.try_write(format!("{}\r\n", reply::TOO_MANY_SESSIONS).as_bytes());
        tracing::warn!(channel = %endpoint.channel, %peer, "too many sessions; turned away");
        return;
    };
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let fault = endpoint.ctx.faults.begin(&endpoint.channel);
    sessions.spawn(session::serve(endpoint.clone(), tcp, peer, fault, slot));
}

/// The next connection, or never when not listening.
async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Whether `fault` closes the port: `refuse` for every connection. With a
/// lower rate the listener stays and the sessions the draw picks are reset.
fn refuses_all(fault: Option<&Fault>) -> bool {
    fault.is_some_and(|f| f.fail == FailMode::Refuse && f.rate() >= 1.0)
}

/// A listening socket on `addr`, with SO_REUSEADDR so that the port can be
/// taken again while old connections linger in TIME_WAIT.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
