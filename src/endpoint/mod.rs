//! What the harness runs at each channel's `listen` address.
//!
//! `smtp` is a hand-written SMTP server; `http` serves Graph and the capture
//! sinks (Slack, Teams, PagerDuty, ntfy, webhook). Both ask the
//! [`FaultBoard`] how to misbehave and report nonces to the [`Observer`].

pub mod fault;
pub mod http;
pub mod observe;
pub mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use fault::FaultBoard;
pub use observe::Observer;

use crate::drill::journal::Journal;
use crate::scenario::model::ChannelKind;

/// What every endpoint task is given.
#[derive(Clone)]
pub struct EndpointContext {
    pub journal: Arc<Journal>,
    pub faults: Arc<FaultBoard>,
    pub observer: Arc<Observer>,
    /// Cancelled when the drill ends; endpoints stop accepting and close.
    pub cancel: CancellationToken,
}

/// A running endpoint.
pub struct Running {
    pub channel: String,
    pub kind: ChannelKind,
    /// The bound address (the real port when the scenario asked for 0).
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("channel `{channel}` cannot listen on {addr}: {source}")]
    Bind {
        channel: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("channel `{channel}`: {message}")]
    Setup { channel: String, message: String },
}

/// Binds and starts the endpoint for one channel.
pub async fn start(
    channel: &str,
    kind: ChannelKind,
    addr: SocketAddr,
    ctx: EndpointContext,
) -> Result<Running, EndpointError> {
    match kind {
        ChannelKind::Smtp => smtp::start(channel, addr, ctx).await,
        _ => http::start(channel, kind, addr, ctx).await,
    }
}
