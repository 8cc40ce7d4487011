//! The request and reply the vendor responders work on, and the small helpers
//! they share: failure kinds, random ids, percent-decoding, form bodies.
//!
//! Responders are pure functions from a [`Request`] (or only its head) to a
//! [`Reply`]: they never touch a socket, the drill clock or the journal, so
//! each vendor's answers are unit-tested without a network.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, StatusCode};
use serde::Serialize;

/// A request whose body has been read (up to [`super::Limits::max_body`]).
pub(crate) struct Request {
    pub head: Parts,
    pub body: Bytes,
}

impl Request {
    /// A request built by hand (unit tests).
    #[cfg(test)]
    pub fn build(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        let mut builder = hyper::Request::builder().method(method).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (head, ()) = builder.body(()).expect("valid test request").into_parts();
        Request {
            head,
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }
}

/// What a responder answers. Only a reply marked [`Reply::accepted`] turns a
/// nonce in the request into an arrival.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The vendor took the message (a 2xx that real clients read as success).
    pub accepted: bool,
    /// Text the responder decoded from the body (e.g. a base64 MIME message),
    /// scanned for nonces together with the raw request.
    pub decoded: Vec<u8>,
}

impl Reply {
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            accepted: false,
            decoded: Vec::new(),
        }
    }

    /// A `text/plain; charset=utf-8` answer.
    pub fn text(status: StatusCode, text: impl Into<String>) -> Reply {
        let mut reply = Reply::empty(status);
        reply.body = Bytes::from(text.into());
        reply.with_header(CONTENT_TYPE, "text/plain; charset=utf-8")
    }

    /// An `application/json` answer; fields keep the order of `value`.
    pub fn json(status: StatusCode, value: &impl Serialize) -> Reply {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        let mut reply = Reply::empty(status);
        reply.body = Bytes::from(body);
        reply.with_header(CONTENT_TYPE, "application/json; charset=utf-8")
    }

    /// Adds a header; a value that is not a valid header value is skipped.
    pub fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Reply {
        if let Ok(value) = HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(name, value);
        }
        self
    }

    /// Marks the reply as the vendor taking the message.
    pub fn accept(mut self) -> Reply {
        self.accepted = true;
        self
    }
}

/// Why a request is answered with a failure instead of the healthy answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `fail: throttle`: 429 with `Retry-After` in whole seconds.
    Throttle { retry_after: u64 },
    /// `fail: unavailable`: 503, with `Retry-After` when the scenario set one.
    Unavailable { retry_after: Option<u64> },
    /// `fail: error`: the scenario's status.
    Error { status: StatusCode },
    /// The body exceeded the endpoint's limit: 413.
    TooLarge,
    /// The body did not arrive in time: 408.
    BodyTimeout,
}

impl Failure {
    pub fn status(self) -> StatusCode {
        match self {
            Failure::Throttle { .. } => StatusCode::TOO_MANY_REQUESTS,
            Failure::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Error { status } => status,
            Failure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The `Retry-After` value in seconds, when this failure carries one.
    pub fn retry_after(self) -> Option<u64> {
        match self {
            Failure::Throttle { retry_after } => Some(retry_after),
            Failure::Unavailable { retry_after } => retry_after,
            _ => None,
        }
    }
}

/// The canonical reason phrase of `status` ("Too Many Requests"), or
/// "Error" for codes without one.
pub(crate) fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// A header value as text (`None` when absent or not visible ASCII).
pub(crate) fn header<'a>(head: &'a Parts, name: &str) -> Option<&'a str> {
    head.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The media type of the request, lowercased, without parameters.
pub(crate) fn media_type(head: &Parts) -> String {
    header(head, "content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The non-empty path segments, raw (not percent-decoded).
pub(crate) fn segments(head: &Parts) -> Vec<&str> {
    head.uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

/// 64 random bits. Ids only need to look unique, not be unguessable: each
/// draw hashes a process-wide counter with a freshly keyed SipHash (std's
/// `RandomState` is seeded from the OS), so no RNG crate is needed.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A random version-4 UUID in its usual text form (Graph request ids).
pub(crate) fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    let time_hi = ((a & 0x0fff) | 0x4000) as u16;
    let clock = (((b >> 48) & 0x3fff) | 0x8000) as u16;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        time_hi,
        clock,
        b & 0xffff_ffff_ffff
    )
}

/// `len` random characters from `alphabet`.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(len);
    let mut bits = random_u64();
    for i in 0..len {
        if i % 8 == 0 {
            bits = random_u64();
        }
        out.push(alphabet[(bits % alphabet.len() as u64) as usize] as char);
        bits /= alphabet.len() as u64;
    }
    out
}

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const HEX: &[u8] = b"0123456789abcdef";

/// Decodes `%XX` escapes (and `+` as a space when `plus_as_space`, as in
/// query strings and form bodies). Malformed escapes are kept as written.
pub(crate) fn percent_decode(input: &[u8], plus_as_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' if i + 2 < input.len() => {
                match (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The pairs of an `application/x-www-form-urlencoded` body or query string.
pub(crate) fn parse_form(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            (decode_text(name), decode_text(value))
        })
        .collect()
}

fn decode_text(raw: &[u8]) -> String {
    String::from_utf8_lossy(&percent_decode(raw, true)).into_owned()
}

/// The first value of `name` in a form body or query string.
pub(crate) fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode(b"DRILL%2Dr1%2da", false), b"DRILL-r1-a");
        assert_eq!(percent_decode(b"a+b%20c", true), b"a b c");
        assert_eq!(percent_decode(b"a+b", false), b"a+b");
        assert_eq!(percent_decode(b"100%", false), b"100%");
        assert_eq!(percent_decode(b"%zz%4", false), b"%zz%4");
    }

    #[test]
    fn forms_split_and_decode() {
        let pairs =
            parse_form(b"grant_type=client_credentials&scope=https%3A%2F%2Fx%2F.default&&e=");
        assert_eq!(form_value(&pairs, "grant_type"), Some("client_credentials"));
        assert_eq!(form_value(&pairs, "scope"), Some("https://x/.default"));
        assert_eq!(form_value(&pairs, "e"), Some(""));
        assert_eq!(form_value(&pairs, "client_id"), None);
    }

    #[test]
    fn ids_have_their_vendor_shapes() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(uuid(), uuid());
        let s = random_string(12, ALNUM);
        assert_eq!(s.len(), 12);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
