//! Mock Microsoft Graph: the Entra ID token endpoint and `sendMail`.
//!
//! Only `sendMail` is a delivery (faulted, and an arrival when accepted); the
//! token endpoint belongs to Entra ID, a different service, and stays healthy
//! under every fault except `refuse`. Answers follow what real clients parse:
//!
//! - token: `POST /{tenant}/oauth2/v2.0/token` (and the v1 `/oauth2/token`),
//!   a form with `grant_type` and `client_id`; success is 200
//!   `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,
//!   "access_token":…}`; a missing parameter is 400 `invalid_request` with
//!   `AADSTS900144: The request body must contain the following parameter:
//!   '…'.` (shape confirmed from clients and mocks that replay Entra's
//!   answer: `error`, `error_description` with trace/correlation ids and
//!   timestamp, `error_codes`, `timestamp`, `trace_id`, `correlation_id`,
//!   `error_uri`).
//! - `POST /v1.0/users/{id}/sendMail`, `/v1.0/me/sendMail` (also `beta`,
//!   segment names case-insensitive): needs `Authorization: Bearer …`, else
//!   401 `InvalidAuthenticationToken` "Access token is empty." (Graph's own
//!   wording, seen in captured answers) with a `WWW-Authenticate` challenge.
//!   A JSON body needs a `message` with at least one recipient (400
//!   `ErrorInvalidRecipients`, Graph's wording); unparsable JSON is 400
//!   `RequestBodyRead` (the OData reader's code for bodies it cannot read). A
//!   `text/plain` body is base64 MIME, as Graph accepts too. Success is
//!   **202 with an empty body**.
//! - every answer carries `request-id` and `client-request-id` (echoed when
//!   the client sent one), and errors are `{"error":{"code","message",
//!   "innerError":{"date","request-id","client-request-id"}}}`.
//!
//! Throttling uses code `TooManyRequests` (the scenario spec's code; Graph
//! answers with it too, with `Retry-After`, `request-id` and
//! `client-request-id` headers) and the message protocols.md gives for mail
//! (`ApplicationThrottled`'s "Application is over its MailboxConcurrency
//! limit.").

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::header::{CACHE_CONTROL, HeaderName, PRAGMA, WWW_AUTHENTICATE};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use super::wire::{
    Failure, Reply, Request, form_value, header, media_type, parse_form, reason, segments, uuid,
};

/// How long issued tokens claim to live, as Entra answers for app tokens.
const TOKEN_LIFETIME_SECS: i64 = 3599;

/// The challenge Graph sends with a 401.
const CHALLENGE: &str = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"";

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Token,
    SendMail,
    Unknown,
}

fn route(head: &Parts) -> Route {
    let segs = segments(head);
    let is = |seg: &str, name: &str| seg.eq_ignore_ascii_case(name);
    match segs.as_slice() {
        [_tenant, oauth, version, token]
            if is(oauth, "oauth2") && is(version, "v2.0") && is(token, "token") =>
        {
            Route::Token
        }
        [_tenant, oauth, token] if is(oauth, "oauth2") && is(token, "token") => Route::Token,
        [version, me, send] if is_api(version) && is(me, "me") && is(send, "sendMail") => {
            Route::SendMail
        }
        [version, users, _id, send]
            if is_api(version) && is(users, "users") && is(send, "sendMail") =>
        {
            Route::SendMail
        }
        _ => Route::Unknown,
    }
}

fn is_api(version: &str) -> bool {
    version.eq_ignore_ascii_case("v1.0") || version.eq_ignore_ascii_case("beta")
}

/// Whether the request is a `sendMail` (the only Graph request that can be
/// an arrival, hence the only one faults apply to).
pub(crate) fn is_delivery(head: &Parts) -> bool {
    head.method == Method::POST && route(head) == Route::SendMail
}

/// The healthy answer.
pub(crate) fn answer(req: &Request) -> Reply {
    match route(&req.head) {
        Route::Token => token(req),
        Route::SendMail if req.head.method == Method::POST => send_mail(req),
        Route::SendMail => graph_error(
            &req.head,
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "The HTTP method is not allowed on this resource.",
        ),
        Route::Unknown => {
            let last = segments(&req.head).last().copied().unwrap_or("");
            let message = format!("Resource not found for the segment '{last}'.");
            graph_error(
                &req.head,
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                &message,
            )
        }
    }
}

/// The answer of a faulted or rejected request.
pub(crate) fn failure(head: &Parts, failure: Failure) -> Reply {
    let status = failure.status();
    let (code, message) = match failure {
        Failure::Throttle { .. } => (
            "TooManyRequests",
            "Application is over its MailboxConcurrency limit.",
        ),
        Failure::Unavailable { .. } => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        Failure::TooLarge => ("RequestEntityTooLarge", "The request body is too large."),
        Failure::BodyTimeout => (
            "RequestTimeout",
            "The request body was not received in time.",
        ),
        Failure::Error { status } => (error_code(status), reason(status)),
    };
    graph_error(head, status, code, message)
}

/// Graph's error code for a status given by `fail: error`.
fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "ErrorInvalidRequest",
        401 => "InvalidAuthenticationToken",
        403 => "ErrorAccessDenied",
        404 => "ErrorItemNotFound",
        429 => "TooManyRequests",
        500 => "ErrorInternalServerError",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "UnknownError",
    }
}

/// `POST …/sendMail`: checks what Graph checks, answers 202 with no body.
fn send_mail(req: &Request) -> Reply {
    let head = &req.head;
    if bearer(head).is_none() {
        return graph_error(
            head,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        )
        .with_header(WWW_AUTHENTICATE, CHALLENGE);
    }

    let decoded = if media_type(head) == "text/plain" {
        match mime_text(&req.body) {
            Some(text) => text,
            None => {
                return graph_error(
                    head,
                    StatusCode::BAD_REQUEST,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                );
            }
        }
    } else {
        if let Some(refusal) = check_message(head, &req.body) {
            return refusal;
        }
        Vec::new()
    };

    let mut reply = with_ids(head, Reply::empty(StatusCode::ACCEPTED)).accept();
    reply.decoded = decoded;
    reply
}

/// Checks the JSON form (`{"message":{…,"toRecipients":[…]},
/// "saveToSentItems":…}`); the error answer when Graph would refuse it.
fn check_message(head: &Parts, body: &[u8]) -> Option<Reply> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            let message = format!("Invalid JSON. {e}");
            let reply = graph_error(head, StatusCode::BAD_REQUEST, "RequestBodyRead", &message);
            return Some(reply);
        }
    };
    let message = value
        .get("message")
        .or_else(|| value.get("Message"))
        .filter(|m| m.is_object());
    let Some(message) = message else {
        return Some(graph_error(
            head,
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The request is missing the required parameter 'message'.",
        ));
    };
    let recipients = ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .filter_map(|key| message.get(*key).and_then(Value::as_array))
        .map(Vec::len)
        .sum::<usize>();
    if recipients == 0 {
        return Some(graph_error(
            head,
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because it contains \
             no recipients.",
        ));
    }
    None
}

/// Decodes a base64 MIME message and returns its subject and text parts, so
/// that quoted-printable or RFC 2047 encoding cannot hide a nonce. `None`
/// when the body is not base64.
fn mime_text(body: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = STANDARD.decode(compact).ok()?;
    let mut text = raw.clone();
    if let Some(message) = mail_parser::MessageParser::default().parse(&raw) {
        text.extend_from_slice(message.subject().unwrap_or("").as_bytes());
        text.push(b'\n');
        for i in 0..message.text_body_count() {
            text.extend_from_slice(message.body_text(i).unwrap_or_default().as_bytes());
            text.push(b'\n');
        }
        for i in 0..message.html_body_count() {
            text.extend_from_slice(message.body_html(i).unwrap_or_default().as_bytes());
            text.push(b'\n');
        }
    }
    Some(text)
}

/// The bearer token, when the request carries a non-empty one.
fn bearer(head: &Parts) -> Option<&str> {
    let value = header(head, "authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `POST /{tenant}/oauth2/v2.0/token` with client credentials.
fn token(req: &Request) -> Reply {
    let head = &req.head;
    if head.method != Method::POST {
        return entra_error(
            head,
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            900561,
            "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
        );
    }
    let form = parse_form(&req.body);
    for required in ["grant_type", "client_id"] {
        if form_value(&form, required).is_none_or(str::is_empty) {
            let description =
                format!("The request body must contain the following parameter: '{required}'.");
            return entra_error(
                head,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                &description,
            );
        }
    }
    let tenant = segments(head)
        .first()
        .copied()
        .unwrap_or("common")
        .to_string();
    let client_id = form_value(&form, "client_id").unwrap_or_default();
    let body = TokenAnswer {
        token_type: "Bearer",
        expires_in: TOKEN_LIFETIME_SECS,
        ext_expires_in: TOKEN_LIFETIME_SECS,
        access_token: access_token(&tenant, client_id),
    };
    Reply::json(StatusCode::OK, &body)
        .with_header(CACHE_CONTROL, "no-store, no-cache")
        .with_header(PRAGMA, "no-cache")
        .with_header(
            HeaderName::from_static("client-request-id"),
            correlation(head),
        )
}

/// A JWT-shaped (unsigned) token, so clients that peek into it find claims.
fn access_token(tenant: &str, client_id: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = json!({"typ": "JWT", "alg": "none"});
    let claims = json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME_SECS,
        "appid": client_id,
        "tid": tenant,
        "roles": ["Mail.Send"],
    });
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(&header), part(&claims))
}

/// The correlation id: the client's `client-request-id`, or a new one.
fn correlation(head: &Parts) -> String {
    header(head, "client-request-id")
        .filter(|v| !v.is_empty())
        .map_or_else(uuid, str::to_string)
}

/// Entra ID's error shape (token endpoint).
fn entra_error(
    head: &Parts,
    status: StatusCode,
    error: &str,
    code: u32,
    description: &str,
) -> Reply {
    let trace = uuid();
    let correlation = correlation(head);
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = EntraError {
        error,
        error_description: format!(
            "AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: \
             {correlation}\r\nTimestamp: {timestamp}"
        ),
        error_codes: [code],
        timestamp: timestamp.clone(),
        trace_id: trace,
        correlation_id: correlation,
        error_uri: format!("https://login.microsoftonline.com/error?code={code}"),
    };
    Reply::json(status, &body)
        .with_header(CACHE_CONTROL, "no-store, no-cache")
        .with_header(PRAGMA, "no-cache")
}

/// Graph's error shape, with the ids in both the headers and `innerError`.
fn graph_error(head: &Parts, status: StatusCode, code: &str, message: &str) -> Reply {
    let (request_id, client_request_id) = ids(head);
    let body = GraphError {
        error: GraphErrorBody {
            code,
            message,
            inner_error: InnerError {
                date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                request_id: request_id.clone(),
                client_request_id: client_request_id.clone(),
            },
        },
    };
    Reply::json(status, &body)
        .with_header(CACHE_CONTROL, "no-cache")
        .with_header(HeaderName::from_static("request-id"), request_id)
        .with_header(
            HeaderName::from_static("client-request-id"),
            client_request_id,
        )
}

/// A fresh `request-id`, and the `client-request-id` (echoed, or the same).
fn ids(head: &Parts) -> (String, String) {
    let request_id = uuid();
    let client = header(head, "client-request-id")
        .filter(|v| !v.is_empty())
        .map_or_else(|| request_id.clone(), str::to_string);
    (request_id, client)
}

fn with_ids(head: &Parts, reply: Reply) -> Reply {
    let (request_id, client_request_id) = ids(head);
    reply
        .with_header(CACHE_CONTROL, "no-cache")
        .with_header(HeaderName::from_static("request-id"), request_id)
        .with_header(
            HeaderName::from_static("client-request-id"),
            client_request_id,
        )
}

/// The token endpoint's success body, in Entra's field order.
#[derive(Serialize)]
struct TokenAnswer {
    token_type: &'static str,
    expires_in: i64,
    ext_expires_in: i64,
    access_token: String,
}

/// Entra ID's error body.
#[derive(Serialize)]
struct EntraError<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
    trace_id: String,
    correlation_id: String,
    error_uri: String,
}

/// Graph's error body.
#[derive(Serialize)]
struct GraphError<'a> {
    error: GraphErrorBody<'a>,
}

#[derive(Serialize)]
struct GraphErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(rename = "innerError")]
    inner_error: InnerError,
}

#[derive(Serialize)]
struct InnerError {
    date: String,
    #[serde(rename = "request-id")]
    request_id: String,
    #[serde(rename = "client-request-id")]
    client_request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = r#"{"message":{"subject":"DRILL-r1-a-1","body":{"contentType":"Text",
        "content":"x"},"toRecipients":[{"emailAddress":{"address":"soc@example.com"}}]},
        "saveToSentItems":false}"#;

    fn json_of(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).expect("json body")
    }

    #[test]
    fn only_send_mail_is_a_delivery() {
        let post = |t: &str| Request::build("POST", t, &[], "").head;
        assert!(is_delivery(&post("/v1.0/users/a%40b.com/sendMail")));
        assert!(is_delivery(&post("/v1.0/me/sendmail")));
        assert!(!is_delivery(&post("/tenant/oauth2/v2.0/token")));
        assert!(!is_delivery(&post("/v1.0/users/x/messages")));
        assert!(!is_delivery(
            &Request::build("GET", "/v1.0/me/sendMail", &[], "").head
        ));
    }

    #[test]
    fn send_mail_is_202_with_an_empty_body_and_ids() {
        let auth = [
            ("authorization", "Bearer abc"),
            ("client-request-id", "c-1"),
        ];
        let reply = answer(&Request::build(
            "POST",
            "/v1.0/users/u/sendMail",
            &auth,
            MAIL,
        ));
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert!(reply.body.is_empty());
        assert!(reply.accepted);
        assert_eq!(reply.headers["client-request-id"], "c-1");
        assert_eq!(reply.headers["request-id"].len(), 36);
    }

    #[test]
    fn send_mail_without_a_token_is_401() {
        let reply = answer(&Request::build("POST", "/v1.0/me/sendMail", &[], MAIL));
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(!reply.accepted);
        let body = json_of(&reply);
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        assert_eq!(body["error"]["message"], "Access token is empty.");
        assert_eq!(
            body["error"]["innerError"]["request-id"],
            reply.headers["request-id"].to_str().unwrap()
        );
    }

    #[test]
    fn send_mail_rejects_bad_json_and_missing_recipients() {
        let auth = [("authorization", "Bearer t")];
        let bad = answer(&Request::build("POST", "/v1.0/me/sendMail", &auth, "{nope"));
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(json_of(&bad)["error"]["code"], "RequestBodyRead");
        let empty = r#"{"message":{"subject":"DRILL-r1-a-1"}}"#;
        let none = answer(&Request::build("POST", "/v1.0/me/sendMail", &auth, empty));
        assert_eq!(json_of(&none)["error"]["code"], "ErrorInvalidRecipients");
        assert!(!none.accepted);
    }

    #[test]
    fn send_mail_decodes_base64_mime() {
        let mime = "Subject: =?UTF-8?B?RFJJTEwtcjEtbWltZS0x?=\r\nTo: a@b\r\n\r\nhello\r\n";
        let body = STANDARD.encode(mime);
        let headers = [
            ("authorization", "Bearer t"),
            ("content-type", "text/plain"),
        ];
        let reply = answer(&Request::build(
            "POST",
            "/v1.0/me/sendMail",
            &headers,
            &body,
        ));
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        let decoded = String::from_utf8_lossy(&reply.decoded);
        assert!(decoded.contains("DRILL-r1-mime-1"), "{decoded}");
        let broken = Request::build("POST", "/v1.0/me/sendMail", &headers, "***");
        assert_eq!(answer(&broken).status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn token_answers_client_credentials_like_entra() {
        let form = "client_id=app&client_secret=s&scope=https%3A%2F%2Fgraph.microsoft.com%2F.\
                    default&grant_type=client_credentials";
        let reply = answer(&Request::build("POST", "/t1/oauth2/v2.0/token", &[], form));
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.accepted, "a token is not an arrival");
        let body = json_of(&reply);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);

        let reply = answer(&Request::build(
            "POST",
            "/t1/oauth2/v2.0/token",
            &[],
            "client_id=a",
        ));
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let body = json_of(&reply);
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_codes"][0], 900144);
        let description = body["error_description"].as_str().unwrap();
        assert!(description.starts_with(
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'."
        ));
    }

    #[test]
    fn throttling_uses_the_spec_code() {
        let head = Request::build("POST", "/v1.0/me/sendMail", &[], "").head;
        let reply = failure(&head, Failure::Throttle { retry_after: 7 });
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let body = json_of(&reply);
        assert_eq!(body["error"]["code"], "TooManyRequests");
        assert_eq!(
            body["error"]["message"],
            "Application is over its MailboxConcurrency limit."
        );
    }

    #[test]
    fn other_paths_are_404_graph_errors() {
        let reply = answer(&Request::build("GET", "/v1.0/users", &[], ""));
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(json_of(&reply)["error"]["code"], "ResourceNotFound");
    }
}
