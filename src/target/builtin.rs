//! The built-in reference failover notifier.
//!
//! Tries the scenario's routes in order (`failover`) or all at once
//! (`fanout`), each bounded by its own timeout — the whole send, not just
//! the connect: lettre's timeout only covers connecting, so every send is
//! wrapped in `tokio::time::timeout`. It speaks each channel's real protocol
//! to the harness's endpoints: SMTP via lettre, Graph (token, then sendMail)
//! and the webhook APIs via reqwest. Route outcomes are journaled.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use super::{FireRequest, TargetContext};
use crate::drill::event::EventKind;
use crate::scenario::model::{ChannelKind, Route, RouteMode, Target as TargetSpec};

/// Graph identities the built-in target uses against the mock Graph.
const GRAPH_TENANT: &str = "outage-drill-tenant";
const GRAPH_SENDER: &str = "drill-sender@example.test";
const MAIL_TO: &str = "soc@example.test";

pub struct Builtin {
    mode: RouteMode,
    routes: Vec<Route>,
    ctx: TargetContext,
    http: reqwest::Client,
}

impl Builtin {
    pub fn new(spec: &TargetSpec, ctx: TargetContext) -> Builtin {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client with the ring provider installed");
        Builtin {
            mode: spec.mode.unwrap_or_default(),
            routes: spec.routes.clone(),
            ctx,
            http,
        }
    }

    pub async fn fire(&self, req: &FireRequest) -> Result<(), String> {
        let delivered = match self.mode {
            RouteMode::Failover => {
                let mut ok = false;
                for route in &self.routes {
                    if self.try_route(route, req).await {
                        ok = true;
                        break;
                    }
                }
                ok
            }
            RouteMode::Fanout => {
                let tries = self.routes.iter().map(|r| self.try_route(r, req));
                join_all(tries).await.into_iter().any(|ok| ok)
            }
        };
        if !delivered {
            self.ctx.journal.emit(EventKind::RoutesExhausted {
                nonce: req.nonce.clone(),
            });
        }
        // The pipeline took the alert either way: losing it is a drop, not a
        // refusal to fire.
        Ok(())
    }

    /// Sends over one route within its timeout; journals the result.
    async fn try_route(&self, route: &Route, req: &FireRequest) -> bool {
        let started = Instant::now();
        let Some((kind, addr)) = self.ctx.channels.get(&route.channel).copied() else {
            return false;
        };
        let deadline = route.timeout.0;
        let result =
            match tokio::time::timeout(deadline, self.send(kind, addr, deadline, req)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "no answer within the route timeout ({})",
                    route.timeout
                )),
            };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        let nonce = req.nonce.clone();
        let channel = route.channel.clone();
        match result {
            Ok(()) => {
                self.ctx.journal.emit(EventKind::RouteAccepted {
                    nonce,
                    channel,
                    elapsed_ms,
                });
                true
            }
            Err(error) => {
                self.ctx.journal.emit(EventKind::RouteFailed {
                    nonce,
                    channel,
                    error,
                    elapsed_ms,
                });
                false
            }
        }
    }

    async fn send(
        &self,
        kind: ChannelKind,
        addr: SocketAddr,
        budget: Duration,
        req: &FireRequest,
    ) -> Result<(), String> {
        match kind {
            ChannelKind::Smtp => send_smtp(addr, budget, req).await,
            ChannelKind::Graph => self.send_graph(addr, budget, req).await,
            _ => self.send_webhook(kind, addr, req).await,
        }
    }

    /// Graph: a client-credentials token, then sendMail. A 429 whose
    /// Retry-After fits in what is left of the route's budget is waited out
    /// and retried; a longer one means moving on to the next route.
    async fn send_graph(
        &self,
        addr: SocketAddr,
        budget: Duration,
        req: &FireRequest,
    ) -> Result<(), String> {
        let started = Instant::now();
        let base = format!("http://{addr}");
        let token: serde_json::Value = self
            .http
            .post(format!("{base}/{GRAPH_TENANT}/oauth2/v2.0/token"))
            .form(&[
                ("client_id", "outage-drill"),
                ("client_secret", "drill-only"),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .map_err(|e| format!("token request failed: {}", error_chain(&e)))?
            .error_for_status()
            .map_err(|e| format!("token request refused: {e}"))?
            .json()
            .await
            .map_err(|e| format!("token answer unreadable: {e}"))?;
        let access = token["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let body = json!({
            "message": {
                "subject": req.headline(),
                "body": {"contentType": "Text", "content": body_text(req)},
                "toRecipients": [{"emailAddress": {"address": MAIL_TO}}]
            },
            "saveToSentItems": false
        });
        loop {
            let answer = self
                .http
                .post(format!("{base}/v1.0/users/{GRAPH_SENDER}/sendMail"))
                .bearer_auth(&access)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("sendMail failed: {}", error_chain(&e)))?;
            let status = answer.status();
            if status.as_u16() == 202 {
                return Ok(());
            }
            let retry_after = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = answer.text().await.unwrap_or_default();
            let code = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
                .unwrap_or_default();
            let left = budget.saturating_sub(started.elapsed());
            match retry_after {
                Some(wait) if status.as_u16() == 429 && wait < left => {
                    tokio::time::sleep(wait).await;
                }
                Some(wait) => {
                    return Err(format!(
                        "sendMail answered {status} {code}; Retry-After {}s exceeds the route timeout",
                        wait.as_secs()
                    ));
                }
                None => return Err(format!("sendMail answered {status} {code}")),
            }
        }
    }

    /// Slack, Teams, PagerDuty, ntfy and plain webhooks, each with the
    /// payload its real senders use.
    async fn send_webhook(
        &self,
        kind: ChannelKind,
        addr: SocketAddr,
        req: &FireRequest,
    ) -> Result<(), String> {
        let base = format!("http://{addr}");
        let (url, body) = match kind {
            ChannelKind::Slack => (
                format!("{base}/services/T0DRILL/B0DRILL/outage-drill"),
                json!({"text": req.headline()}),
            ),
            ChannelKind::Teams => (
                format!("{base}/workflows/outage-drill"),
                json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "content": {
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": [{"type": "TextBlock", "text": req.headline(), "wrap": true}]
                        }
                    }]
                }),
            ),
            ChannelKind::Pagerduty => (
                format!("{base}/v2/enqueue"),
                json!({
                    "routing_key": "0123456789abcdef0123456789abcdef",
                    "event_action": "trigger",
                    "dedup_key": req.nonce,
                    "payload": {
                        "summary": req.headline(),
                        "source": "outage-drill",
                        "severity": pagerduty_severity(req.severity),
                    }
                }),
            ),
            ChannelKind::Ntfy => (
                format!("{base}/"),
                json!({"topic": req.drill, "title": req.title, "message": req.headline()}),
            ),
            _ => (
                format!("{base}/outage-drill"),
                json!({"nonce": req.nonce, "alert": req.alert, "title": req.title,
                       "severity": req.severity.as_str(), "drill": req.drill}),
            ),
        };
        super::send_expecting_success(self.http.post(url).json(&body), kind.as_str()).await
    }
}

async fn send_smtp(addr: SocketAddr, budget: Duration, req: &FireRequest) -> Result<(), String> {
    let from: Mailbox = "outage-drill <drill-sender@example.test>"
        .parse()
        .map_err(|e| format!("{e}"))?;
    let to: Mailbox = MAIL_TO.parse().map_err(|e| format!("{e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(req.headline())
        .header(ContentType::TEXT_PLAIN)
        .body(body_text(req))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .hello_name(ClientId::Domain("outage-drill.localhost".into()))
        .timeout(Some(budget))
        .build();
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| error_chain(&e))
}

/// An error and its causes on one line: lettre and reqwest keep the useful
/// part ("Connection refused", the SMTP reply) in the sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn body_text(req: &FireRequest) -> String {
    format!(
        "{}\n\nSeverity: {}\nAlert: {}\nDrill: {} (run {})\nNonce: {}\n\nThis is a contingency-plan drill.",
        req.title,
        req.severity.as_str(),
        req.alert,
        req.drill,
        req.run_id,
        req.nonce
    )
}

fn pagerduty_severity(s: crate::scenario::model::Severity) -> &'static str {
    use crate::scenario::model::Severity;
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "info",
    }
}
