//! One request, from its head to its answer: stamp, fault, body, reply,
//! arrival.
//!
//! The steps, in order: stamp the arrival time as soon as the head is in;
//! draw the channel's fault for a delivery (a fresh draw per request, also on
//! a reused connection); apply socket faults (`drop`, `hang`) at once; read
//! the body within [`Limits`]; answer with the fault's failure or the
//! vendor's healthy answer (after `slow`'s delay); and only for an accepted
//! delivery hand the request's text to the observer, once. Nothing of the
//! request outlives this function.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use tokio::time::{Instant, timeout_at};
use tracing::debug;

use super::connection::Connection;
use super::content::scan_text;
use super::server::{Endpoint, Limits, refuses_all};
use super::wire::{Failure, Reply, Request, header};
use crate::scenario::model::{FailMode, Fault};

/// `slow`'s delay when the scenario gives none (spec section 4 default).
const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(1);

/// `error`'s status when the scenario gives none.
const DEFAULT_ERROR_STATUS: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;

/// How a drawn fault shapes the reply.
enum Plan {
    Healthy,
    Fail(Failure),
    Slow(Duration),
}

/// The body as far as it was read.
enum BodyRead {
    Complete(Bytes),
    /// Over [`Limits::max_body`]; the rest is still on the wire. `declared`:
    /// refused on its `Content-Length`, before reading any of it.
    TooLarge {
        rest: Incoming,
        declared: bool,
    },
    TimedOut,
    /// The client broke the body (bad chunking, connection lost).
    Broken,
}

/// hyper's service function for one request.
pub(super) async fn handle(
    endpoint: Arc<Endpoint>,
    conn: Arc<Connection>,
    req: hyper::Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let ctx = &endpoint.ctx;
    let channel = endpoint.channel.as_str();
    let received = ctx.journal.clock().now();
    let (head, body) = req.into_parts();

    let delivery = endpoint.vendor.is_delivery(&head);
    let fault = if delivery { draw(&endpoint) } else { None };

    // Socket faults: no reply at all.
    if let Some(fault) = &fault
        && matches!(
            fault.fail,
            FailMode::Drop | FailMode::Refuse | FailMode::Hang
        )
    {
        ctx.faults.hit(channel, fault);
        debug!(channel, fail = fault.fail.as_str(), "request gets no reply");
        if fault.fail == FailMode::Hang {
            // Take the body in: with nothing left to read, hyper notices
            // when the client gives up and ends the connection.
            let read = read_body(body, &endpoint.limits).await;
            discard(&endpoint, &head, read);
        } else {
            conn.reset.notify_one();
        }
        // Held until the client gives up or the drill ends; either drops
        // this future with its connection.
        let never = std::future::pending::<Infallible>().await;
        match never {}
    }

    let plan = plan(fault.as_ref());
    let read = read_body(body, &endpoint.limits).await;
    if let Some(fault) = &fault {
        ctx.faults.hit(channel, fault);
    }
    if let Plan::Slow(delay) = plan {
        crate::endpoint::fault::hold(delay).await;
    }

    // A body left unread ends the connection; the reply says so.
    let close = !matches!(read, BodyRead::Complete(_));
    let vendor = endpoint.vendor;
    let (reply, request) = match (plan, read) {
        (Plan::Fail(failure), read) => {
            discard(&endpoint, &head, read);
            (vendor.failure(&head, failure), None)
        }
        (_, BodyRead::Complete(body)) => {
            let request = Request { head, body };
            (vendor.answer(&request), Some(request))
        }
        (_, read @ BodyRead::TooLarge { .. }) => {
            discard(&endpoint, &head, read);
            (vendor.failure(&head, Failure::TooLarge), None)
        }
        (_, BodyRead::TimedOut) => (vendor.failure(&head, Failure::BodyTimeout), None),
        (_, BodyRead::Broken) => {
            let failure = Failure::Error {
                status: StatusCode::BAD_REQUEST,
            };
            (vendor.failure(&head, failure), None)
        }
    };

    // Only a delivery the vendor accepted is an arrival.
    if let Some(request) = &request
        && delivery
        && reply.accepted
    {
        let text = scan_text(request, &reply);
        let seen = ctx.observer.observe(channel, received, &text);
        debug!(channel, seen, "delivery accepted");
    }
    Ok(response(reply, close))
}

/// The fault for this request. `refuse` is drawn per connection, not per
/// request, so it is skipped here (no second draw on a spared connection).
fn draw(endpoint: &Endpoint) -> Option<Fault> {
    let faults = &endpoint.ctx.faults;
    let current = faults.watch(&endpoint.channel).borrow().clone();
    let refuse = current.as_ref().is_some_and(|f| f.fail == FailMode::Refuse);
    if refuse && !refuses_all(current.as_ref()) {
        return None;
    }
    faults.begin(&endpoint.channel)
}

fn plan(fault: Option<&Fault>) -> Plan {
    let Some(fault) = fault else {
        return Plan::Healthy;
    };
    match fault.fail {
        FailMode::Throttle => Plan::Fail(Failure::Throttle {
            retry_after: whole_seconds(fault.retry_after().as_duration()),
        }),
        FailMode::Unavailable => Plan::Fail(Failure::Unavailable {
            retry_after: fault.retry_after.map(|d| whole_seconds(d.as_duration())),
        }),
        FailMode::Error => Plan::Fail(Failure::Error {
            status: error_status(fault.status),
        }),
        FailMode::Slow => Plan::Slow(fault.delay.map_or(DEFAULT_SLOW_DELAY, |d| d.as_duration())),
        // SMTP-only modes never validate on an HTTP channel; should one
        // arrive, answer with the nearest HTTP failure rather than ignore it.
        FailMode::Defer => Plan::Fail(Failure::Unavailable { retry_after: None }),
        FailMode::Reject => Plan::Fail(Failure::Error {
            status: DEFAULT_ERROR_STATUS,
        }),
        // Answered without a reply before the body is read.
        FailMode::Drop | FailMode::Hang | FailMode::Refuse => Plan::Healthy,
    }
}

/// Seconds for `Retry-After`, rounded up so a sub-second value is not 0.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The scenario's status for `fail: error`, when it is a final status.
fn error_status(status: Option<u16>) -> StatusCode {
    status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .unwrap_or(DEFAULT_ERROR_STATUS)
}

/// Reads the body up to [`Limits::max_body`] within [`Limits::body_timeout`],
/// never buffering more than the limit.
async fn read_body(mut body: Incoming, limits: &Limits) -> BodyRead {
    let max = limits.max_body;
    if body.size_hint().lower() > max as u64 {
        return BodyRead::TooLarge {
            rest: body,
            declared: true,
        };
    }
    let deadline = Instant::now() + limits.body_timeout;
    let mut buf = Vec::new();
    loop {
        match timeout_at(deadline, body.frame()).await {
            Err(_) => return BodyRead::TimedOut,
            Ok(None) => return BodyRead::Complete(Bytes::from(buf)),
            Ok(Some(Err(e))) => {
                debug!(error = %e, "request body broken");
                return BodyRead::Broken;
            }
            Ok(Some(Ok(frame))) => {
                let Some(data) = frame.data_ref() else {
                    continue;
                };
                if buf.len() + data.len() > max {
                    return BodyRead::TooLarge {
                        rest: body,
                        declared: false,
                    };
                }
                buf.extend_from_slice(data);
            }
        }
    }
}

/// Disposes of a body that will not be used. An unread rest is drained,
/// unless the client waits for `100 Continue` and has sent none of it:
/// dropping it then makes hyper skip the `100`, and the client never sends.
fn discard(endpoint: &Endpoint, head: &Parts, read: BodyRead) {
    if let BodyRead::TooLarge { rest, declared } = read {
        let waits = header(head, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if !(declared && waits) {
            drain(endpoint, rest);
        }
    }
}

/// Reads and throws away the rest of an oversized body, within
/// [`Limits::drain_max`] and [`Limits::drain_timeout`], so that the client
/// finishes sending and reads the 413 rather than meeting a reset.
fn drain(endpoint: &Endpoint, mut rest: Incoming) {
    let limit = endpoint.limits.drain_max;
    let deadline = Instant::now() + endpoint.limits.drain_timeout;
    let cancel = endpoint.ctx.cancel.clone();
    endpoint.tasks.spawn(async move {
        let mut thrown = 0u64;
        while thrown <= limit {
            let frame = tokio::select! {
                () = cancel.cancelled() => return,
                frame = timeout_at(deadline, rest.frame()) => frame,
            };
            match frame {
                Ok(Some(Ok(frame))) => {
                    thrown += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                // Done, broken, or out of time: the connection closes.
                _ => return,
            }
        }
    });
}

fn response(reply: Reply, close: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    if close {
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::duration::Dur;

    fn fault(fail: FailMode) -> Fault {
        Fault {
            fail,
            stage: None,
            reply: None,
            status: None,
            retry_after: None,
            delay: None,
            rate: None,
        }
    }

    #[test]
    fn faults_map_to_failures_with_spec_defaults() {
        let throttle = plan(Some(&fault(FailMode::Throttle)));
        assert!(matches!(
            throttle,
            Plan::Fail(Failure::Throttle { retry_after: 60 })
        ));
        let mut half = fault(FailMode::Throttle);
        half.retry_after = Some(Dur(Duration::from_millis(1500)));
        assert!(matches!(
            plan(Some(&half)),
            Plan::Fail(Failure::Throttle { retry_after: 2 })
        ));
        assert!(matches!(
            plan(Some(&fault(FailMode::Unavailable))),
            Plan::Fail(Failure::Unavailable { retry_after: None })
        ));
        let mut error = fault(FailMode::Error);
        assert!(matches!(
            plan(Some(&error)),
            Plan::Fail(Failure::Error { status }) if status == StatusCode::INTERNAL_SERVER_ERROR
        ));
        error.status = Some(502);
        assert!(matches!(
            plan(Some(&error)),
            Plan::Fail(Failure::Error { status }) if status == StatusCode::BAD_GATEWAY
        ));
        error.status = Some(101);
        assert!(matches!(
            plan(Some(&error)),
            Plan::Fail(Failure::Error { status }) if status == StatusCode::INTERNAL_SERVER_ERROR
        ));
        assert!(matches!(
            plan(Some(&fault(FailMode::Slow))),
            Plan::Slow(d) if d == Duration::from_secs(1)
        ));
    }
}
