//! Every reply the SMTP endpoint sends, worded as Exchange Online words it
//! (`shared/reference/protocols.md`), so that clients which match on reply
//! text behave as they would against the real service.
//!
//! Replies are written without their final CRLF; [`super::wire`] adds it.
//! Nothing here does I/O.

use std::net::IpAddr;

/// The name the mock gives itself in its greeting, EHLO reply, queue ids and
/// certificate. `.invalid` (RFC 2606) so it can never resolve to a real host.
pub const SERVER_NAME: &str = "exo-mock.outage-drill.invalid";

pub const SENDER_OK: &str = "250 2.1.0 Sender OK";
pub const RECIPIENT_OK: &str = "250 2.1.5 Recipient OK";
pub const START_MAIL_INPUT: &str = "354 Start mail input; end with <CRLF>.<CRLF>";
pub const RESET: &str = "250 2.0.0 Resetting";
pub const NOOP: &str = "250 2.0.0 OK";
pub const VRFY: &str = "252 2.1.5 Cannot VRFY user";
pub const HELP: &str = "214 2.0.0 HELO EHLO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT HELP";
pub const QUIT: &str = "221 2.0.0 Service closing transmission channel";
pub const READY_FOR_TLS: &str = "220 2.0.0 SMTP server ready";

pub const AUTH_OK: &str = "235 2.7.0 Authentication successful";
/// The empty challenge for PLAIN and XOAUTH2 without an initial response.
pub const AUTH_CONTINUE: &str = "334 ";
/// "Username:" in base64.
pub const AUTH_USERNAME: &str = "334 VXNlcm5hbWU6";
/// "Password:" in base64.
pub const AUTH_PASSWORD: &str = "334 UGFzc3dvcmQ6";
pub const AUTH_CANCELLED: &str = "501 5.7.0 Authentication cancelled";
pub const AUTH_UNDECODABLE: &str = "501 5.5.2 Cannot Decode response";
pub const AUTH_UNKNOWN_MECHANISM: &str = "504 5.7.4 Unrecognized authentication type";

pub const UNRECOGNIZED: &str = "500 5.3.3 Unrecognized command";
pub const LINE_TOO_LONG: &str = "500 5.5.2 Line too long";
pub const INVALID_ARGUMENTS: &str = "501 5.5.4 Invalid arguments";
pub const INVALID_SENDER: &str = "501 5.1.7 Invalid address";
pub const INVALID_RECIPIENT: &str = "501 5.1.3 Invalid address";
pub const NOT_IMPLEMENTED: &str = "502 5.3.3 Command not implemented";
pub const SEND_HELLO_FIRST: &str = "503 5.5.1 Send hello first";
pub const SENDER_ALREADY_GIVEN: &str = "503 5.5.1 Sender already specified";
pub const NEED_MAIL: &str = "503 5.5.1 Need mail command";
pub const NEED_RCPT: &str = "503 5.5.1 Need rcpt command";
pub const ALREADY_AUTHENTICATED: &str = "503 5.5.1 Already authenticated";
pub const BAD_SEQUENCE: &str = "503 5.5.1 Bad sequence of commands";
pub const TLS_ALREADY_ACTIVE: &str = "503 5.5.1 TLS already active";

pub const TOO_MANY_RECIPIENTS: &str = "452 4.5.3 Too many recipients";
pub const MESSAGE_TOO_BIG: &str = "552 5.3.4 Message size exceeds fixed maximum message size";
pub const TOO_MANY_ERRORS: &str = "421 4.7.0 Too many errors";
pub const TIMED_OUT: &str = "421 4.4.2 Timeout waiting for client input";
pub const TOO_MANY_SESSIONS: &str = "421 4.3.2 The maximum number of concurrent connections \
                                     has exceeded a limit, closing transmission channel";

/// The banner: `220 <host> Microsoft ESMTP MAIL Service ready at <date>`,
/// the date in RFC 2822 form as Exchange Online writes it.
pub fn greeting(date: &str) -> String {
    format!("220 {SERVER_NAME} Microsoft ESMTP MAIL Service ready at {date}")
}

/// The EHLO reply. STARTTLS is offered only before TLS; AUTH both before
/// and after, because clients such as Alertmanager talk to us in plain
/// text. CHUNKING and BINARYMIME are not offered: BDAT is not implemented.
pub fn ehlo(peer: IpAddr, max_message: usize, tls_active: bool) -> String {
    let mut lines = vec![
        format!("{SERVER_NAME} Hello [{peer}]"),
        format!("SIZE {max_message}"),
        "PIPELINING".to_string(),
        "DSN".to_string(),
        "ENHANCEDSTATUSCODES".to_string(),
    ];
    if !tls_active {
        lines.push("STARTTLS".to_string());
    }
    lines.push("AUTH LOGIN PLAIN XOAUTH2".to_string());
    lines.push("8BITMIME".to_string());
    lines.push("SMTPUTF8".to_string());
    multiline(250, &lines)
}

/// The HELO reply: a single line.
pub fn helo(peer: IpAddr) -> String {
    format!("250 {SERVER_NAME} Hello [{peer}]")
}

/// The reply to an accepted message. Exchange Online echoes the message's
/// Message-ID and adds its own queue id.
pub fn queued(message_id: &str, internal_id: u64) -> String {
    format!(
        "250 2.6.0 <{message_id}> [InternalId={internal_id}, Hostname={SERVER_NAME}] \
         Queued mail for delivery"
    )
}

/// `555` for a MAIL or RCPT parameter the server does not know; the
/// parameter is echoed only as far as it is printable and short.
pub fn unsupported_parameter(param: &str) -> String {
    let shown: String = param
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect();
    format!("555 5.5.4 Unsupported option: {shown}")
}

/// A fault's configured reply made safe to send: one line, no CR or LF that
/// would let it smuggle a second reply.
pub fn single_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Whether a reply makes the server close the connection after sending it:
/// `421`, as RFC 5321 section 3.8 requires.
pub fn closes(reply: &str) -> bool {
    reply.starts_with("421")
}

/// Whether a reply is a success (2xx) or an intermediate (3xx) reply.
pub fn is_positive(reply: &str) -> bool {
    matches!(reply.as_bytes().first(), Some(b'2' | b'3'))
}

fn multiline(code: u16, lines: &[String]) -> String {
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let sep = if i == last { ' ' } else { '-' };
            format!("{code}{sep}{line}")
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_offers_starttls_only_before_tls_and_auth_always() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let plain = ehlo(peer, 1000, false);
        let lines: Vec<&str> = plain.split("\r\n").collect();
        assert_eq!(lines[0], format!("250-{SERVER_NAME} Hello [127.0.0.1]"));
        assert!(lines.contains(&"250-SIZE 1000"));
        assert!(lines.contains(&"250-STARTTLS"));
        assert!(lines.contains(&"250-AUTH LOGIN PLAIN XOAUTH2"));
        assert_eq!(lines.last(), Some(&"250 SMTPUTF8"));
        assert!(!plain.contains("CHUNKING") && !plain.contains("BINARYMIME"));

        let secure = ehlo(peer, 1000, true);
        assert!(!secure.contains("STARTTLS"));
        assert!(secure.contains("250-AUTH LOGIN PLAIN XOAUTH2"));
    }

    #[test]
    fn fault_replies_cannot_smuggle_lines() {
        assert_eq!(single_line("451 a\r\n250 b"), "451 a  250 b");
        assert!(closes("421 4.3.2 x") && !closes("451 4.7.500 x"));
        assert_eq!(
            unsupported_parameter("X=\r\n1"),
            "555 5.5.4 Unsupported option: X=1"
        );
    }
}
