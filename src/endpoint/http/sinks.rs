//! The capture sinks: one small responder per vendor (Slack, Teams,
//! PagerDuty, ntfy, generic webhook).
//!
//! Each answers as the real service does so that real clients (Alertmanager
//! receivers, curl scripts, SOAR connectors) take the answer as success or
//! failure for the right reason. Facts checked with public sources:
//!
//! - Slack incoming webhook: 200 `ok` (text); `invalid_payload` for a body it
//!   cannot use. Rate limiting is 429 with `Retry-After` and a JSON object
//!   (Slack's rate-limit page; a 2023 capture shows
//!   `{"retry_after":1,"ok":false,"error":"rate_limited"}`).
//! - Teams: Workflows webhooks answer 202 with no body; legacy Office 365
//!   connectors answer 200 `1`, 400 `Summary or Text is required.` and, for
//!   JSON they cannot read, `Bad payload received by generic incoming
//!   webhook.`. Connectors report throttling as text ("Microsoft Teams
//!   endpoint returned HTTP error 429 …", MicrosoftDocs/msteams-docs#7425);
//!   the real connector even sent it with status 200 — we send 429, as the
//!   scenario spec asks. Workflows (Logic Apps) throttling reads "Rate limit
//!   is exceeded. Try again in N seconds."; its error code is unconfirmed.
//! - PagerDuty Events v2: 202 `{"status":"success","message":"Event
//!   processed","dedup_key":…}`; 400 `{"status":"invalid event","message":
//!   "Event object is invalid","errors":[…]}`; 429 with an **empty body**
//!   (PagerDuty's "Send an event" reference). Bodies of other errors are
//!   unconfirmed: we answer `{"status":…,"message":…}`.
//! - ntfy: the message JSON (`id`, `time`, `expires`, `event`, `topic`,
//!   `title`, `message`, `priority`, `tags`, in ntfy's field order, one line)
//!   and errors `{"code":40009,"http":400,"error":…,"link":…}` with ntfy's
//!   own codes (`server/errors.go`: 42901 for rate limits, 50001 for 500).
//!   Parameters come from headers or the query (`X-Title`, `Title`, `ti`,
//!   `t`; `X-Priority`, `Priority`, `prio`, `p`; `X-Tags`, `Tags`, `tag`,
//!   `ta`; `X-Message`, `Message`, `m`), as ntfy reads them.
//! - webhook: anything goes; 200 `{}`.

use hyper::header::ALLOW;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::wire::{
    ALNUM, Failure, HEX, Reply, Request, form_value, header, media_type, parse_form, random_string,
    reason, segments,
};

/// Whether a sink request can carry an alert: every POST and PUT.
pub(crate) fn is_post_or_put(head: &Parts) -> bool {
    head.method == Method::POST || head.method == Method::PUT
}

fn method_not_allowed(reply: Reply, allowed: &str) -> Reply {
    reply.with_header(ALLOW, allowed)
}

/// A JSON object's field as a non-empty string.
fn has_text(value: &Value, key: &str) -> bool {
    value
        .get(key)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// A JSON object's field as a non-empty array.
fn has_items(value: &Value, key: &str) -> bool {
    value
        .get(key)
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// A snake_case token for a status, the way Slack names its errors.
fn token_of(status: StatusCode) -> String {
    reason(status).to_ascii_lowercase().replace([' ', '-'], "_")
}

pub(crate) mod slack {
    //! Slack incoming webhook: `POST` on any path.

    use super::*;

    pub(crate) fn answer(req: &Request) -> Reply {
        if req.head.method != Method::POST {
            let reply = Reply::text(StatusCode::METHOD_NOT_ALLOWED, "invalid_method");
            return method_not_allowed(reply, "POST");
        }
        match message(req) {
            Some(msg) if has_text(&msg, "text") || has_items(&msg, "blocks") => ok(),
            Some(msg) if has_items(&msg, "attachments") => ok(),
            _ => Reply::text(StatusCode::BAD_REQUEST, "invalid_payload"),
        }
    }

    fn ok() -> Reply {
        Reply::text(StatusCode::OK, "ok").accept()
    }

    /// The message object: a JSON body, or the legacy form field `payload`.
    fn message(req: &Request) -> Option<Value> {
        let value: Value = if media_type(&req.head) == "application/x-www-form-urlencoded" {
            let form = parse_form(&req.body);
            serde_json::from_str(form_value(&form, "payload")?).ok()?
        } else {
            serde_json::from_slice(&req.body).ok()?
        };
        value.is_object().then_some(value)
    }

    #[derive(Serialize)]
    struct RateLimited {
        retry_after: u64,
        ok: bool,
        error: &'static str,
    }

    pub(crate) fn failure(_head: &Parts, failure: Failure) -> Reply {
        let status = failure.status();
        match failure {
            Failure::Throttle { retry_after } => {
                let body = RateLimited {
                    retry_after,
                    ok: false,
                    error: "rate_limited",
                };
                Reply::json(status, &body)
            }
            Failure::TooLarge => Reply::text(status, "request_too_large"),
            _ => {
                let token = match status.as_u16() {
                    400 => "invalid_payload".to_string(),
                    403 => "action_prohibited".to_string(),
                    404 => "no_service".to_string(),
                    410 => "channel_is_archived".to_string(),
                    500 => "rollup_error".to_string(),
                    _ => token_of(status),
                };
                Reply::text(status, token)
            }
        }
    }
}

pub(crate) mod teams {
    //! Microsoft Teams: Workflows webhooks, and legacy Office 365 connectors
    //! (recognised by `/webhookb2/` or `IncomingWebhook` in the path).

    use super::*;

    fn is_legacy(head: &Parts) -> bool {
        let path = head.uri.path().to_ascii_lowercase();
        path.contains("/webhookb2/") || path.contains("incomingwebhook")
    }

    pub(crate) fn answer(req: &Request) -> Reply {
        let legacy = is_legacy(&req.head);
        if req.head.method != Method::POST {
            let reply = failure_body(legacy, StatusCode::METHOD_NOT_ALLOWED, None);
            return method_not_allowed(reply, "POST");
        }
        let value: Result<Value, _> = serde_json::from_slice(&req.body);
        match (legacy, value) {
            (true, Ok(card)) if card.is_object() => {
                let readable = has_text(&card, "text")
                    || has_text(&card, "summary")
                    || has_items(&card, "attachments");
                if readable {
                    Reply::text(StatusCode::OK, "1").accept()
                } else {
                    Reply::text(StatusCode::BAD_REQUEST, "Summary or Text is required.")
                }
            }
            (true, _) => Reply::text(
                StatusCode::BAD_REQUEST,
                "Bad payload received by generic incoming webhook.",
            ),
            // A workflow takes any JSON and runs later, asynchronously.
            (false, Ok(_)) => Reply::empty(StatusCode::ACCEPTED).accept(),
            (false, Err(e)) => {
                let message = format!(
                    "The request content is not valid and could not be deserialized: '{e}'."
                );
                workflow_error(StatusCode::BAD_REQUEST, "InvalidRequestContent", &message)
            }
        }
    }

    pub(crate) fn failure(head: &Parts, failure: Failure) -> Reply {
        failure_body(is_legacy(head), failure.status(), failure.retry_after())
    }

    fn failure_body(legacy: bool, status: StatusCode, retry_after: Option<u64>) -> Reply {
        if legacy {
            let text = format!(
                "Webhook message delivery failed with error: Microsoft Teams endpoint returned \
                 HTTP error {} with ContextId tcid=0,server=outage-drill,cv=0.",
                status.as_u16()
            );
            return Reply::text(status, text);
        }
        let message = match (status.as_u16(), retry_after) {
            (429, Some(secs)) => format!("Rate limit is exceeded. Try again in {secs} seconds."),
            _ => reason(status).to_string(),
        };
        let code = reason(status).replace([' ', '-'], "");
        workflow_error(status, &code, &message)
    }

    #[derive(Serialize)]
    struct WorkflowError<'a> {
        error: WorkflowErrorBody<'a>,
    }

    #[derive(Serialize)]
    struct WorkflowErrorBody<'a> {
        code: &'a str,
        message: &'a str,
    }

    fn workflow_error(status: StatusCode, code: &str, message: &str) -> Reply {
        let body = WorkflowError {
            error: WorkflowErrorBody { code, message },
        };
        Reply::json(status, &body)
    }
}

pub(crate) mod pagerduty {
    //! PagerDuty Events API v2: `POST /v2/enqueue`.

    use super::*;

    #[derive(Serialize)]
    struct Processed {
        status: &'static str,
        message: &'static str,
        dedup_key: String,
    }

    #[derive(Serialize)]
    struct Invalid {
        status: &'static str,
        message: &'static str,
        errors: Vec<String>,
    }

    #[derive(Serialize)]
    struct Other {
        status: String,
        message: &'static str,
    }

    pub(crate) fn answer(req: &Request) -> Reply {
        if segments(&req.head) != ["v2", "enqueue"] {
            return other(StatusCode::NOT_FOUND);
        }
        if req.head.method != Method::POST {
            return method_not_allowed(other(StatusCode::METHOD_NOT_ALLOWED), "POST");
        }
        let event = match serde_json::from_slice::<Value>(&req.body) {
            Ok(event) if event.is_object() => event,
            _ => return invalid(vec!["Event object is not valid JSON".to_string()]),
        };
        let errors = check(&event);
        if !errors.is_empty() {
            return invalid(errors);
        }
        let dedup_key = event
            .get("dedup_key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map_or_else(|| random_string(32, HEX), str::to_string);
        let body = Processed {
            status: "success",
            message: "Event processed",
            dedup_key,
        };
        Reply::json(StatusCode::ACCEPTED, &body).accept()
    }

    /// What PagerDuty refuses. Lenient where real clients differ: any
    /// non-empty `routing_key` (PagerDuty wants 32 characters), and `source`
    /// and `severity` are not checked.
    fn check(event: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        if !has_text(event, "routing_key") {
            errors.push("'routing_key' is missing or blank".to_string());
        }
        let action = event.get("event_action").and_then(Value::as_str);
        match action {
            Some("trigger") => {
                let payload = event.get("payload").filter(|p| p.is_object());
                match payload {
                    None => errors.push("'payload' is missing or not an object".to_string()),
                    Some(p) if !has_text(p, "summary") => {
                        errors.push("'payload.summary' is missing or blank".to_string());
                    }
                    Some(_) => {}
                }
            }
            Some("acknowledge" | "resolve") => {
                if !has_text(event, "dedup_key") {
                    errors.push("'dedup_key' is missing or blank".to_string());
                }
            }
            Some(_) => errors.push(
                "'event_action' is invalid (must be trigger, acknowledge or resolve)".to_string(),
            ),
            None => errors.push("'event_action' is missing or blank".to_string()),
        }
        errors
    }

    fn invalid(errors: Vec<String>) -> Reply {
        let body = Invalid {
            status: "invalid event",
            message: "Event object is invalid",
            errors,
        };
        Reply::json(StatusCode::BAD_REQUEST, &body)
    }

    fn other(status: StatusCode) -> Reply {
        let body = Other {
            status: reason(status).to_ascii_lowercase(),
            message: reason(status),
        };
        Reply::json(status, &body)
    }

    pub(crate) fn failure(_head: &Parts, failure: Failure) -> Reply {
        match failure {
            Failure::Throttle { .. } => Reply::empty(StatusCode::TOO_MANY_REQUESTS),
            _ => other(failure.status()),
        }
    }
}

pub(crate) mod ntfy {
    //! ntfy: publish by `POST`/`PUT /{topic}` (also `/{topic}/publish`,
    //! `/send`, `/trigger`, GET included) and JSON publish to `/`.

    use super::*;

    /// How long ntfy.sh keeps a message (its default cache duration).
    const CACHE_SECS: i64 = 12 * 3600;

    #[derive(Debug, PartialEq, Eq)]
    enum Route<'a> {
        Health,
        Publish(&'a str),
        PublishJson,
        Unknown,
    }

    fn route(head: &Parts) -> Route<'_> {
        let publishing = is_post_or_put(head);
        match segments(head).as_slice() {
            [] if publishing => Route::PublishJson,
            ["v1", "health"] if head.method == Method::GET => Route::Health,
            [topic] if publishing => Route::Publish(topic),
            [topic, "publish" | "send" | "trigger"] => Route::Publish(topic),
            _ => Route::Unknown,
        }
    }

    /// Every POST/PUT, and the GET form of publish.
    pub(crate) fn is_delivery(head: &Parts) -> bool {
        is_post_or_put(head) || matches!(route(head), Route::Publish(_))
    }

    #[derive(Serialize)]
    struct Message {
        id: String,
        time: i64,
        expires: i64,
        event: &'static str,
        topic: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
    }

    #[derive(Serialize)]
    struct Error {
        code: u32,
        http: u16,
        error: String,
        #[serde(skip_serializing_if = "str::is_empty")]
        link: &'static str,
    }

    #[derive(Serialize)]
    struct Health {
        healthy: bool,
    }

    pub(crate) fn answer(req: &Request) -> Reply {
        match route(&req.head) {
            Route::Health => Reply::json(StatusCode::OK, &Health { healthy: true }),
            Route::Publish(topic) => publish(req, topic),
            Route::PublishJson => publish_json(req),
            Route::Unknown => error(StatusCode::NOT_FOUND, 40401, "page not found", ""),
        }
    }

    fn publish(req: &Request, topic: &str) -> Reply {
        if !valid_topic(topic) {
            return error(
                StatusCode::BAD_REQUEST,
                40009,
                "invalid request: topic invalid",
                "",
            );
        }
        let priority = match param(req, &["x-priority", "priority", "prio", "p"]) {
            None => None,
            Some(text) => match parse_priority(&text) {
                Some(p) => Some(p),
                None => return bad_priority(),
            },
        };
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let message = param(req, &["x-message", "message", "m"]).unwrap_or(body);
        let tags = param(req, &["x-tags", "tags", "tag", "ta"])
            .map(|t| split_tags(&t))
            .unwrap_or_default();
        let title = param(req, &["x-title", "title", "ti", "t"]);
        published(topic.to_string(), title, message, priority, tags)
    }

    fn publish_json(req: &Request) -> Reply {
        let value = match serde_json::from_slice::<Value>(&req.body) {
            Ok(value) if value.is_object() => value,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    40017,
                    "invalid request: request body must be message JSON",
                    "https://ntfy.sh/docs/publish/#publish-as-json",
                );
            }
        };
        let topic = value.get("topic").and_then(Value::as_str).unwrap_or("");
        if !valid_topic(topic) {
            return error(
                StatusCode::BAD_REQUEST,
                40009,
                "invalid request: topic invalid",
                "",
            );
        }
        let priority = match value.get("priority") {
            None | Some(Value::Null) => None,
            Some(p) => match p.as_u64().filter(|p| (1..=5).contains(p)) {
                Some(p) => Some(p as u8),
                None => return bad_priority(),
            },
        };
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let tags = value
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let message = text("message").unwrap_or_default();
        published(topic.to_string(), text("title"), message, priority, tags)
    }

    fn published(
        topic: String,
        title: Option<String>,
        message: String,
        priority: Option<u8>,
        tags: Vec<String>,
    ) -> Reply {
        let time = chrono::Utc::now().timestamp();
        let message = Message {
            id: random_string(12, ALNUM),
            time,
            expires: time + CACHE_SECS,
            event: "message",
            topic,
            title: title.filter(|t| !t.is_empty()),
            // ntfy publishes an empty body as "triggered".
            message: if message.is_empty() {
                "triggered".to_string()
            } else {
                message
            },
            priority,
            tags,
        };
        line(Reply::json(StatusCode::OK, &message)).accept()
    }

    /// ntfy ends each JSON answer with a newline (Go's `json.Encoder`).
    fn line(mut reply: Reply) -> Reply {
        let mut body = reply.body.to_vec();
        body.push(b'\n');
        reply.body = body.into();
        reply
    }

    /// A parameter from the headers or the query, first name first.
    fn param(req: &Request, names: &[&str]) -> Option<String> {
        let query = parse_form(req.head.uri.query().unwrap_or("").as_bytes());
        names.iter().find_map(|name| {
            header(&req.head, name)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .or_else(|| form_value(&query, name).map(str::to_string))
        })
    }

    /// `1`–`5` or ntfy's names for them.
    fn parse_priority(text: &str) -> Option<u8> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "min" => Some(1),
            "2" | "low" => Some(2),
            "3" | "default" => Some(3),
            "4" | "high" => Some(4),
            "5" | "max" | "urgent" => Some(5),
            _ => None,
        }
    }

    fn split_tags(text: &str) -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// ntfy's topic rule: 1–64 letters, digits, `-` and `_`.
    fn valid_topic(topic: &str) -> bool {
        (1..=64).contains(&topic.len())
            && topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    fn bad_priority() -> Reply {
        error(
            StatusCode::BAD_REQUEST,
            40007,
            "invalid priority parameter",
            "https://ntfy.sh/docs/publish/#message-priority",
        )
    }

    fn error(status: StatusCode, code: u32, text: &str, link: &'static str) -> Reply {
        let body = Error {
            code,
            http: status.as_u16(),
            error: text.to_string(),
            link,
        };
        line(Reply::json(status, &body))
    }

    pub(crate) fn failure(head: &Parts, failure: Failure) -> Reply {
        let status = failure.status();
        match failure {
            Failure::Throttle { .. } => error(
                status,
                42901,
                "limit reached: too many requests, please be nice",
                "https://ntfy.sh/docs/publish/#limitations",
            ),
            Failure::TooLarge if route(head) == Route::PublishJson => {
                error(status, 41303, "JSON body too large", "")
            }
            Failure::TooLarge => error(
                status,
                41301,
                "attachment too large, or bandwidth limit reached",
                "https://ntfy.sh/docs/publish/#limitations",
            ),
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
                error(status, 50001, "internal server error", "")
            }
            // ntfy's scheme (HTTP status × 100 + n) for statuses it never uses.
            _ => {
                let text = reason(status).to_ascii_lowercase();
                error(status, u32::from(status.as_u16()) * 100 + 1, &text, "")
            }
        }
    }
}

pub(crate) mod webhook {
    //! A generic webhook: any method, any path, any body.

    use super::*;

    #[derive(Serialize)]
    struct Error {
        status: u16,
        error: &'static str,
    }

    pub(crate) fn answer(_req: &Request) -> Reply {
        Reply::json(StatusCode::OK, &serde_json::json!({})).accept()
    }

    pub(crate) fn failure(_head: &Parts, failure: Failure) -> Reply {
        let status = failure.status();
        let body = Error {
            status: status.as_u16(),
            error: reason(status),
        };
        Reply::json(status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).expect("json body")
    }

    #[test]
    fn slack_takes_text_blocks_or_attachments() {
        let post =
            |body: &str| slack::answer(&Request::build("POST", "/services/T/B/X", &[], body));
        let ok = post(r#"{"text":"DRILL-r1-a-1"}"#);
        assert_eq!(
            (ok.status, &ok.body[..], ok.accepted),
            (StatusCode::OK, &b"ok"[..], true)
        );
        assert!(post(r#"{"attachments":[{"title":"x"}]}"#).accepted);
        assert!(post(r#"{"blocks":[{"type":"section"}]}"#).accepted);
        for bad in ["{nope", r#"{"username":"x"}"#, r#"{"text":""}"#, "[1]"] {
            let reply = post(bad);
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(&reply.body[..], b"invalid_payload");
            assert!(!reply.accepted);
        }
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let legacy = Request::build("POST", "/s", &form, "payload=%7B%22text%22%3A%22hi%22%7D");
        assert!(slack::answer(&legacy).accepted);
    }

    #[test]
    fn slack_throttle_is_json() {
        let head = Request::build("POST", "/s", &[], "").head;
        let reply = slack::failure(&head, Failure::Throttle { retry_after: 3 });
        assert_eq!(
            &reply.body[..],
            br#"{"retry_after":3,"ok":false,"error":"rate_limited"}"#
        );
    }

    #[test]
    fn teams_workflows_and_legacy_connectors_differ() {
        let card = r#"{"type":"message","attachments":[{"contentType":
            "application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard"}}]}"#;
        let flow = teams::answer(&Request::build(
            "POST",
            "/workflows/x/triggers/manual",
            &[],
            card,
        ));
        assert_eq!(flow.status, StatusCode::ACCEPTED);
        assert!(flow.body.is_empty() && flow.accepted);

        let legacy = "/webhookb2/abc/IncomingWebhook/def/ghi";
        let ok = teams::answer(&Request::build("POST", legacy, &[], r#"{"text":"hi"}"#));
        assert_eq!((ok.status, &ok.body[..]), (StatusCode::OK, &b"1"[..]));
        let missing = teams::answer(&Request::build("POST", legacy, &[], r#"{"title":"x"}"#));
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(&missing.body[..], b"Summary or Text is required.");

        let bad = teams::answer(&Request::build("POST", "/workflows/x", &[], "{"));
        assert_eq!(json_of(&bad)["error"]["code"], "InvalidRequestContent");
    }

    #[test]
    fn pagerduty_validates_events() {
        let post =
            |body: &str| pagerduty::answer(&Request::build("POST", "/v2/enqueue", &[], body));
        let trigger = r#"{"routing_key":"k","event_action":"trigger","dedup_key":"d-1",
            "payload":{"summary":"DRILL-r1-a-1","source":"x","severity":"critical"}}"#;
        let ok = post(trigger);
        assert_eq!(ok.status, StatusCode::ACCEPTED);
        assert_eq!(
            &ok.body[..],
            br#"{"status":"success","message":"Event processed","dedup_key":"d-1"}"#
        );
        let generated =
            post(r#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s"}}"#);
        assert_eq!(json_of(&generated)["dedup_key"].as_str().unwrap().len(), 32);

        let bad = post(r#"{"event_action":"trigger","payload":{}}"#);
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let body = json_of(&bad);
        assert_eq!(body["status"], "invalid event");
        assert_eq!(body["message"], "Event object is invalid");
        assert_eq!(body["errors"].as_array().unwrap().len(), 2);
        assert!(!bad.accepted);

        let elsewhere = pagerduty::answer(&Request::build("POST", "/v2/other", &[], trigger));
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
        let head = Request::build("POST", "/v2/enqueue", &[], "").head;
        let throttled = pagerduty::failure(&head, Failure::Throttle { retry_after: 1 });
        assert!(throttled.body.is_empty());
    }

    #[test]
    fn ntfy_publishes_by_path_query_and_json() {
        let headers = [
            ("Title", "DRILL-r1-a-1"),
            ("Priority", "urgent"),
            ("Tags", "warning, skull"),
        ];
        let reply = ntfy::answer(&Request::build(
            "POST",
            "/soc-alerts",
            &headers,
            "body text",
        ));
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.accepted && reply.body.ends_with(b"\n"));
        let msg = json_of(&reply);
        assert_eq!(msg["event"], "message");
        assert_eq!(msg["topic"], "soc-alerts");
        assert_eq!(msg["title"], "DRILL-r1-a-1");
        assert_eq!(msg["message"], "body text");
        assert_eq!(msg["priority"], 5);
        assert_eq!(msg["tags"], serde_json::json!(["warning", "skull"]));
        assert_eq!(msg["id"].as_str().unwrap().len(), 12);
        assert_eq!(
            msg["expires"].as_i64().unwrap() - msg["time"].as_i64().unwrap(),
            43200
        );

        let get = ntfy::answer(&Request::build("GET", "/soc/publish?m=hi&t=T", &[], ""));
        assert_eq!(json_of(&get)["message"], "hi");
        let json = r#"{"topic":"soc","message":"m","title":"t","priority":4}"#;
        let reply = ntfy::answer(&Request::build("POST", "/", &[], json));
        assert_eq!(json_of(&reply)["priority"], 4);

        let bad = ntfy::answer(&Request::build("POST", "/", &[], "{nope"));
        assert_eq!(json_of(&bad)["code"], 40017);
        let prio = ntfy::answer(&Request::build("POST", "/t", &[("Priority", "9")], "x"));
        assert_eq!(json_of(&prio)["code"], 40007);
        let topic = ntfy::answer(&Request::build("POST", "/", &[], r#"{"topic":"a b"}"#));
        assert_eq!(json_of(&topic)["code"], 40009);
        let health = ntfy::answer(&Request::build("GET", "/v1/health", &[], ""));
        assert_eq!(&health.body[..], br#"{"healthy":true}"#);
        assert!(!health.accepted);
    }

    #[test]
    fn every_sink_shapes_its_throttle_answer() {
        let head = Request::build("POST", "/x", &[], "").head;
        let ntfy = ntfy::failure(&head, Failure::Throttle { retry_after: 1 });
        assert_eq!(json_of(&ntfy)["code"], 42901);
        let hook = webhook::failure(
            &head,
            Failure::Error {
                status: StatusCode::BAD_GATEWAY,
            },
        );
        assert_eq!(json_of(&hook)["status"], 502);
        let teams = teams::failure(&head, Failure::Throttle { retry_after: 9 });
        assert_eq!(
            json_of(&teams)["error"]["message"],
            "Rate limit is exceeded. Try again in 9 seconds."
        );
    }
}
