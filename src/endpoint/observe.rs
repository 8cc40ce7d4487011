//! Finds nonces in what endpoints receive and journals them as arrivals.
//!
//! A nonce is `DRILL-` followed by letters, digits, `-` and `_`; only nonces
//! the orchestrator registered count ("live" nonces), so leftovers from an
//! earlier run are ignored. Endpoints decode their protocol first (MIME,
//! quoted-printable, JSON escapes); this module only scans bytes.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use memchr::memmem;

use crate::drill::clock::Stamp;
use crate::drill::event::EventKind;
use crate::drill::journal::Journal;

/// The marker every nonce starts with.
pub const NONCE_PREFIX: &str = "DRILL-";

/// The live nonces of a run, and the journal their arrivals go to.
pub struct Observer {
    journal: Arc<Journal>,
    live: RwLock<HashSet<String>>,
}

impl Observer {
    pub fn new(journal: Arc<Journal>) -> Arc<Observer> {
        Arc::new(Observer {
            journal,
            live: RwLock::new(HashSet::new()),
        })
    }

    /// Makes `nonce` live; called before the alert is handed to the target.
    pub fn register(&self, nonce: &str) {
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(nonce.to_string());
    }

    /// Scans `content` and journals one `ArrivalSeen` on `channel` at
    /// `received` for each distinct live nonce in it. Returns how many.
    pub fn observe(&self, channel: &str, received: Stamp, content: &[u8]) -> usize {
        let found = find_nonces(content);
        if found.is_empty() {
            return 0;
        }
        let live: Vec<String> = {
            let set = self.live.read().unwrap_or_else(|p| p.into_inner());
            found.into_iter().filter(|n| set.contains(n)).collect()
        };
        for nonce in &live {
            let kind = EventKind::ArrivalSeen {
                channel: channel.to_string(),
                nonce: nonce.clone(),
            };
            self.journal.emit_at(received, kind);
        }
        live.len()
    }
}

/// Every distinct nonce-shaped token in `content`, in order of appearance.
pub fn find_nonces(content: &[u8]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for start in memmem::find_iter(content, NONCE_PREFIX.as_bytes()) {
        // A prefix glued to a longer word (`XDRILL-`) is not a nonce.
        if start > 0 && is_nonce_byte(content[start - 1]) {
            continue;
        }
        let len = content[start..]
            .iter()
            .take_while(|b| is_nonce_byte(**b))
            .count();
        let token = &content[start..start + len];
        let token = trim_trailing(token);
        if token.len() > NONCE_PREFIX.len() {
            let token = String::from_utf8_lossy(token).into_owned();
            if !found.contains(&token) {
                found.push(token);
            }
        }
    }
    found
}

fn is_nonce_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Drops separators that end a sentence rather than the nonce.
fn trim_trailing(mut token: &[u8]) -> &[u8] {
    while let [rest @ .., b'-' | b'_'] = token {
        token = rest;
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::clock::Clock;

    #[test]
    fn finds_nonces_in_json_text_and_html() {
        let body = br#"{"text":"[FIRING:1] DRILL-r1-phish-1 and <b>DRILL-r1-edr-2</b>-"}"#;
        assert_eq!(
            find_nonces(body),
            vec!["DRILL-r1-phish-1", "DRILL-r1-edr-2"]
        );
        assert!(find_nonces(b"XDRILL-r1-a-1 DRILL- nothing").is_empty());
    }

    #[test]
    fn only_live_nonces_are_arrivals() {
        let journal = Journal::in_memory(Clock::start());
        let observer = Observer::new(journal.clone());
        observer.register("DRILL-r1-a-1");
        journal.emit(EventKind::AlertFired {
            nonce: "DRILL-r1-a-1".into(),
            alert: "a".into(),
            title: "a".into(),
            severity: crate::scenario::model::Severity::High,
            purpose: crate::drill::event::Purpose::Outage,
            n: 1,
            rto_ms: 1000,
            expect: vec![],
            planned_offset_ms: None,
        });
        let t = journal.clock().now();
        let seen = observer.observe("slack", t, b"DRILL-r1-a-1 DRILL-r1-a-1 DRILL-old-a-1");
        assert_eq!(seen, 1);
        let first = journal.with_state(|s| s.first_arrival("DRILL-r1-a-1", "slack"));
        assert_eq!(first, Some(t));
    }
}
