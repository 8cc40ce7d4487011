//! How alerts enter the pipeline under test.
//!
//! [`Target::fire`] hands one alert (with its nonce) to the pipeline and
//! returns once the pipeline has taken it or refused it; arrival is judged
//! elsewhere, from what the endpoints see. `builtin` is the harness's own
//! reference failover notifier; the others drive real pipelines.

pub mod builtin;
pub mod external;
pub mod metrics;
pub mod process;
pub mod template;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::drill::journal::Journal;
use crate::scenario::model::{ChannelKind, Scenario, Severity, TargetKind};

/// One alert to hand to the target.
#[derive(Clone, Debug)]
pub struct FireRequest {
    pub nonce: String,
    pub alert: String,
    pub title: String,
    pub severity: Severity,
    pub drill: String,
    pub run_id: String,
}

impl FireRequest {
    /// The text every target puts in front of a human: title and nonce.
    pub fn headline(&self) -> String {
        format!(
            "[{}] {} ({})",
            self.severity.as_str(),
            self.title,
            self.nonce
        )
    }
}

/// What a target needs from the running drill.
#[derive(Clone)]
pub struct TargetContext {
    pub journal: Arc<Journal>,
    /// Each channel's kind and bound address (real ports after binding 0).
    pub channels: BTreeMap<String, (ChannelKind, SocketAddr)>,
    /// The scenario's folder: working directory for commands.
    pub dir: PathBuf,
    /// The run's output folder (`{{run.dir}}`).
    pub run_dir: PathBuf,
}

/// A pipeline under test.
pub enum Target {
    Builtin(builtin::Builtin),
    External(external::External),
}

impl Target {
    pub fn new(scenario: &Scenario, ctx: TargetContext) -> Target {
        crate::tls::ensure_provider();
        match scenario.target.kind {
            TargetKind::Builtin => Target::Builtin(builtin::Builtin::new(&scenario.target, ctx)),
            _ => Target::External(external::External::new(&scenario.target, ctx)),
        }
    }

    /// Hands `req` to the pipeline. `Err` means the pipeline did not take
    /// it (a `not-fired` firing); the text says why.
    pub async fn fire(&self, req: &FireRequest) -> Result<(), String> {
        match self {
            Target::Builtin(t) => t.fire(req).await,
            Target::External(t) => t.fire(req).await,
        }
    }
}

/// Sends `request` and expects a 2xx; `peer` names the other side in the
/// error (`"Alertmanager"`, `"slack"`), which carries the cause chain or an
/// excerpt of the answer.
pub async fn send_expecting_success(
    request: reqwest::RequestBuilder,
    peer: &str,
) -> Result<(), String> {
    let answer = request
        .send()
        .await
        .map_err(|e| format!("{peer} request failed: {}", builtin::error_chain(&e)))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let text = answer.text().await.unwrap_or_default();
    Err(format!(
        "{peer} answered {status}: {}",
        crate::drill::action::excerpt(&text)
    ))
}
