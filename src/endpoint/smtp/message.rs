//! What an accepted message says once its MIME is undone: [`decode`] turns
//! the raw message into the bytes the [`Observer`] scans for nonces.
//!
//! Senders hide a nonce from a byte scan in several ways: an RFC 2047
//! encoded Subject, a base64 body, quoted-printable whose soft line breaks
//! split long tokens (Alertmanager 0.25 writes `DRILL-7f3a2c=` CRLF `...`)
//! and whose `=` becomes `=3D`. mail-parser undoes all of them; the result
//! is the raw message followed by every decoded header text and every text
//! and HTML part, nested messages included, so that one scan of one buffer
//! yields each nonce once.
//!
//! [`Observer`]: crate::endpoint::Observer

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{HeaderValue, Message, MessageParser, PartType};

/// How deep `message/rfc822` parts are followed.
const MAX_NESTING: usize = 8;

/// Longest Message-ID echoed in the end-of-data reply, which must stay
/// within SMTP's 512-byte reply line.
const MAX_MESSAGE_ID: usize = 200;

/// A message decoded for observation.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The raw message, then each decoded text, separated by newlines.
    pub observable: Vec<u8>,
    /// The message's own Message-ID, without angle brackets, made safe to
    /// echo in a reply.
    pub message_id: Option<String>,
}

/// Decodes `raw` (a dot-unstuffed DATA body). Never fails: what cannot be
/// parsed is still scanned raw.
pub fn decode(raw: &[u8]) -> Decoded {
    let mut decoded = Decoded {
        observable: raw.to_vec(),
        message_id: None,
    };
    let parser = MessageParser::new()
        .with_mime_headers()
        .with_message_ids()
        .with_address_headers()
        .with_date_headers()
        .default_header_text();
    // mail-parser is fuzzed upstream, but a panic on hostile input must not
    // cost the arrival: the raw bytes are already in `observable`.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        let message = parser.parse(raw)?;
        let mut texts = Vec::new();
        collect_texts(&message, 0, &mut texts);
        let message_id = message.message_id().map(safe_message_id);
        Some((texts, message_id))
    }));
    match parsed {
        Ok(Some((texts, message_id))) => {
            for text in texts {
                decoded.observable.push(b'\n');
                decoded.observable.extend_from_slice(text.as_bytes());
            }
            decoded.message_id = message_id.filter(|id| !id.is_empty());
        }
        Ok(None) => tracing::debug!("message is not parseable as RFC 5322; scanning it raw"),
        Err(_) => tracing::warn!("mail-parser panicked on a message; scanning it raw"),
    }
    decoded
}

/// Every decoded header text and text/HTML body of `message` and of the
/// messages nested in it.
fn collect_texts(message: &Message<'_>, depth: usize, out: &mut Vec<String>) {
    for header in message.headers() {
        match &header.value {
            HeaderValue::Text(text) => out.push(text.to_string()),
            HeaderValue::TextList(list) => out.extend(list.iter().map(|t| t.to_string())),
            _ => {}
        }
    }
    for part in &message.parts {
        match &part.body {
            PartType::Text(text) | PartType::Html(text) => out.push(text.to_string()),
            PartType::Message(nested) if depth < MAX_NESTING => {
                collect_texts(nested, depth + 1, out);
            }
            _ => {}
        }
    }
}

/// A Message-ID reduced to printable ASCII without brackets or spaces.
fn safe_message_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>'))
        .take(MAX_MESSAGE_ID)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::observe::find_nonces;

    /// Alertmanager 0.25's HTML part as captured in the lab: quoted-printable
    /// with a soft line break inside the nonce and `=` written `=3D`.
    const ALERTMANAGER_QP: &str = "From: am@example.org\r\n\
        To: soc@example.org\r\n\
        Subject: =?UTF-8?B?W0ZJUklORzoxXSBEUklMTC03ZjNhMmMtc3ViamVjdC0z?=\r\n\
        Message-Id: <1700000000.42@am.example.org>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/html; charset=UTF-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\
        \r\n\
        <a href=3D\"http://am/#/alerts?receiver=3Demail\">summary: DRILL-7f3a2c=\r\n\
        -phishing-report-1</a>\r\n\
        --b1\r\n\
        Content-Type: text/plain; charset=UTF-8\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        RFJJTEwtN2YzYTJjLWVkci0y\r\n\
        --b1--\r\n";

    #[test]
    fn decoding_reveals_nonces_a_byte_scan_misses() {
        let raw = ALERTMANAGER_QP.as_bytes();
        // The raw bytes hold none of the three nonces whole.
        assert!(
            find_nonces(raw)
                .iter()
                .all(|n| !n.starts_with("DRILL-7f3a2c-"))
        );
        let decoded = decode(raw);
        let found = find_nonces(&decoded.observable);
        assert!(
            found.contains(&"DRILL-7f3a2c-phishing-report-1".to_string()),
            "{found:?}"
        );
        assert!(
            found.contains(&"DRILL-7f3a2c-edr-2".to_string()),
            "{found:?}"
        );
        assert!(
            found.contains(&"DRILL-7f3a2c-subject-3".to_string()),
            "{found:?}"
        );
        assert_eq!(
            decoded.message_id.as_deref(),
            Some("1700000000.42@am.example.org")
        );
    }

    #[test]
    fn mangled_messages_decode_without_panicking() {
        let mut state = 0x9e37_79b9_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let sample = ALERTMANAGER_QP.as_bytes();
        for _ in 0..300 {
            let mut raw = sample.to_vec();
            for _ in 0..8 {
                let at = (next() as usize) % raw.len();
                match next() % 3 {
                    0 => raw[at] = next() as u8,
                    1 => raw.truncate(at.max(1)),
                    _ => raw.insert(at, b'='),
                }
            }
            let decoded = decode(&raw);
            assert!(decoded.observable.starts_with(&raw));
        }
    }

    #[test]
    fn garbage_is_still_scanned_raw() {
        let decoded = decode(b"\xff\xfe DRILL-x-y-1 \x00\r\n\r\n");
        assert_eq!(find_nonces(&decoded.observable), vec!["DRILL-x-y-1"]);
        let hostile = decode(b"Message-ID: <a\r\n b>\x07<c>\r\n\r\nbody");
        assert!(
            hostile
                .message_id
                .iter()
                .all(|id| id.chars().all(|c| c.is_ascii_graphic()))
        );
    }
}
