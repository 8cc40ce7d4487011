//! What of a request is scanned for nonces: every place a client may put the
//! alert text, in every encoding the wire allows.
//!
//! [`scan_text`] builds one transient buffer from the request target (raw and
//! percent-decoded), the header values (RFC 2047 encoded words decoded), the
//! body (raw, form-decoded, and the unescaped strings of any JSON, so that
//! `\u002d` cannot hide a nonce) and what the responder decoded itself. The
//! buffer is dropped once scanned; nothing of a request is kept.

use serde_json::Value;

use super::wire::{Reply, Request, media_type, parse_form, percent_decode};

/// How deep JSON nested in a string (e.g. a form field holding JSON) is
/// unpacked; serde_json bounds the nesting inside one document itself.
const MAX_EMBEDDED_JSON: usize = 2;

/// The bytes [`crate::endpoint::Observer::observe`] scans for this request.
pub(crate) fn scan_text(req: &Request, reply: &Reply) -> Vec<u8> {
    let mut out = Vec::with_capacity(req.body.len() * 2 + 1024);

    // The target, raw and decoded (a nonce may be a query parameter).
    let target = req
        .head
        .uri
        .path_and_query()
        .map_or("", |pq| pq.as_str())
        .as_bytes();
    push_line(&mut out, target);
    if target.contains(&b'%') || target.contains(&b'+') {
        push_line(&mut out, &percent_decode(target, true));
    }

    // Header values (ntfy's `Title`, custom headers of webhook targets).
    for value in req.head.headers.values() {
        push_line(&mut out, value.as_bytes());
        if value.as_bytes().windows(2).any(|w| w == b"=?") {
            push_line(&mut out, &encoded_words(value.as_bytes()));
        }
    }

    // The body, and what its encoding may hide.
    push_line(&mut out, &req.body);
    if media_type(&req.head) == "application/x-www-form-urlencoded" {
        for (name, value) in parse_form(&req.body) {
            push_line(&mut out, name.as_bytes());
            push_line(&mut out, value.as_bytes());
            json_strings(value.as_bytes(), MAX_EMBEDDED_JSON, &mut out);
        }
    } else {
        json_strings(&req.body, MAX_EMBEDDED_JSON, &mut out);
    }

    push_line(&mut out, &reply.decoded);
    out
}

fn push_line(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.push(b'\n');
}

/// Appends every string (keys included) of `bytes` when it is JSON.
fn json_strings(bytes: &[u8], embedded: usize, out: &mut Vec<u8>) {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'{' | b'[' | b'"')) {
        return;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        collect(&value, embedded, out);
    }
}

fn collect(value: &Value, embedded: usize, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => {
            push_line(out, s.as_bytes());
            if embedded > 0 {
                json_strings(s.as_bytes(), embedded - 1, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, embedded, out)),
        Value::Object(map) => {
            for (key, v) in map {
                push_line(out, key.as_bytes());
                collect(v, embedded, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`), which ntfy accepts in
/// headers for non-ASCII titles, by reading the value as a mail subject.
fn encoded_words(value: &[u8]) -> Vec<u8> {
    let mut message = b"Subject: ".to_vec();
    message.extend_from_slice(value);
    message.extend_from_slice(b"\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse(&message)
        .and_then(|m| m.subject().map(|s| s.as_bytes().to_vec()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::observe::find_nonces;
    use hyper::StatusCode;

    fn nonces(req: &Request) -> Vec<String> {
        find_nonces(&scan_text(req, &Reply::empty(StatusCode::OK)))
    }

    #[test]
    fn json_escapes_cannot_hide_a_nonce() {
        let body = r#"{"text":"alert DRILL\u002dr1\u002dphish\u002d1 fired"}"#;
        let req = Request::build("POST", "/hook", &[], body);
        assert_eq!(nonces(&req), ["DRILL-r1-phish-1"]);
    }

    #[test]
    fn query_headers_and_forms_are_decoded() {
        let req = Request::build("GET", "/t/publish?m=DRILL%2Dr1%2Dq%2D1", &[], "");
        assert_eq!(nonces(&req), ["DRILL-r1-q-1"]);

        let title = [("Title", "=?UTF-8?B?RFJJTEwtcjEtaC0x?=")];
        let req = Request::build("POST", "/t", &title, "");
        assert_eq!(nonces(&req), ["DRILL-r1-h-1"]);

        let form = [("content-type", "application/x-www-form-urlencoded")];
        let body = "payload=%7B%22text%22%3A%22DRILL%5Cu002dr1%5Cu002df%5Cu002d1%22%7D";
        let req = Request::build("POST", "/s", &form, body);
        assert_eq!(nonces(&req), ["DRILL-r1-f-1"]);
    }

    #[test]
    fn what_the_responder_decoded_is_scanned() {
        let req = Request::build("POST", "/x", &[], "bm9uZQ==");
        let mut reply = Reply::empty(StatusCode::ACCEPTED);
        reply.decoded = b"Subject: DRILL-r1-mime-1".to_vec();
        assert_eq!(find_nonces(&scan_text(&req, &reply)), ["DRILL-r1-mime-1"]);
    }
}
