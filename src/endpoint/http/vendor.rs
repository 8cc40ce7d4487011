//! Which service an HTTP endpoint emulates, and the three questions the
//! server asks it: is this request a delivery, what is the healthy answer,
//! and what does this service answer when it fails.
//!
//! This is the only place that maps a [`ChannelKind`] to its responder; the
//! server never looks at vendor details.

use hyper::header::RETRY_AFTER;
use hyper::http::request::Parts;

use super::wire::{Failure, Reply, Request};
use super::{graph, sinks};
use crate::scenario::model::ChannelKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vendor {
    Graph,
    Slack,
    Teams,
    Pagerduty,
    Ntfy,
    Webhook,
}

impl Vendor {
    /// The responder for `kind`; `None` for kinds not served over HTTP.
    pub fn of(kind: ChannelKind) -> Option<Vendor> {
        match kind {
            ChannelKind::Smtp => None,
            ChannelKind::Graph => Some(Vendor::Graph),
            ChannelKind::Slack => Some(Vendor::Slack),
            ChannelKind::Teams => Some(Vendor::Teams),
            ChannelKind::Pagerduty => Some(Vendor::Pagerduty),
            ChannelKind::Ntfy => Some(Vendor::Ntfy),
            ChannelKind::Webhook => Some(Vendor::Webhook),
        }
    }

    /// Whether a request with this head can carry an alert: only such
    /// requests meet faults and can become arrivals. Graph: `sendMail`;
    /// ntfy: every POST/PUT and the GET form of publish; webhook: every
    /// request ("any method accepted"); the others: every POST/PUT.
    pub fn is_delivery(self, head: &Parts) -> bool {
        match self {
            Vendor::Graph => graph::is_delivery(head),
            Vendor::Ntfy => sinks::ntfy::is_delivery(head),
            Vendor::Webhook => true,
            Vendor::Slack | Vendor::Teams | Vendor::Pagerduty => sinks::is_post_or_put(head),
        }
    }

    /// The answer of the healthy service.
    pub fn answer(self, req: &Request) -> Reply {
        match self {
            Vendor::Graph => graph::answer(req),
            Vendor::Slack => sinks::slack::answer(req),
            Vendor::Teams => sinks::teams::answer(req),
            Vendor::Pagerduty => sinks::pagerduty::answer(req),
            Vendor::Ntfy => sinks::ntfy::answer(req),
            Vendor::Webhook => sinks::webhook::answer(req),
        }
    }

    /// The service's answer when it fails this way, with `Retry-After` when
    /// the failure carries one. Needs only the head: a failure may be
    /// answered before (or instead of) reading the body.
    pub fn failure(self, head: &Parts, failure: Failure) -> Reply {
        let reply = match self {
            Vendor::Graph => graph::failure(head, failure),
            Vendor::Slack => sinks::slack::failure(head, failure),
            Vendor::Teams => sinks::teams::failure(head, failure),
            Vendor::Pagerduty => sinks::pagerduty::failure(head, failure),
            Vendor::Ntfy => sinks::ntfy::failure(head, failure),
            Vendor::Webhook => sinks::webhook::failure(head, failure),
        };
        match failure.retry_after() {
            Some(secs) => reply.with_header(RETRY_AFTER, secs.to_string()),
            None => reply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_retry_after_only_when_set() {
        let head = Request::build("POST", "/v1.0/me/sendMail", &[], "").head;
        let throttled = Vendor::Graph.failure(&head, Failure::Throttle { retry_after: 60 });
        assert_eq!(throttled.headers[RETRY_AFTER], "60");
        let down = Vendor::Slack.failure(&head, Failure::Unavailable { retry_after: None });
        assert!(down.headers.get(RETRY_AFTER).is_none());
        let down = Vendor::Slack.failure(
            &head,
            Failure::Unavailable {
                retry_after: Some(5),
            },
        );
        assert_eq!(down.headers[RETRY_AFTER], "5");
    }

    #[test]
    fn only_deliveries_meet_faults() {
        let head = |method: &str, target: &str| Request::build(method, target, &[], "").head;
        assert!(Vendor::Slack.is_delivery(&head("POST", "/services/a")));
        assert!(!Vendor::Slack.is_delivery(&head("GET", "/services/a")));
        assert!(!Vendor::Ntfy.is_delivery(&head("GET", "/v1/health")));
        assert!(Vendor::Ntfy.is_delivery(&head("GET", "/alerts/publish?m=x")));
        assert!(Vendor::Webhook.is_delivery(&head("GET", "/hook?m=x")));
        assert!(!Vendor::Graph.is_delivery(&head("POST", "/t/oauth2/v2.0/token")));
    }
}
