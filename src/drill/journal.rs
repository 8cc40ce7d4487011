//! The journal: the one place events are stamped, written and folded.
//!
//! Every component reports through [`Journal::emit`]. Each event is masked
//! (secret values become `***`), appended to `journal.jsonl` and handed to
//! the run's [`State`] so the orchestrator can wait on it. Appends are
//! buffered and reach the file within [`FLUSH_EVERY`] (a flusher thread), or
//! sooner when the buffer fills; [`Journal::sync`] forces them to stable
//! storage before every disruptive step, which is what `recover` relies on.
//! Writing through after every event cost a system call per event: an
//! eighth of the capture sinks' throughput under load.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use super::clock::{Clock, Stamp, rfc3339};
use super::event::{Event, EventKind};
use super::state::State;
use crate::secret::Secrets;

/// The longest an appended event waits in memory before it is written to
/// the file (a `tail -f` sees it then; a crash loses at most this much,
/// never what a sync covered).
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The event fields that carry text from a scenario's values or from what
/// a target or command said: where a secret can appear. The rest are
/// identifiers, tags, stamps and counts (the scenario itself goes in
/// already masked); masking a short secret inside those only broke the
/// line, or its meaning (a nonce that no longer matches its firing).
const FREE_TEXT: &[&str] = &["title", "description", "error", "command", "how", "signal"];

/// Stamps, masks, persists and folds the events of one run.
pub struct Journal {
    clock: Clock,
    secrets: Secrets,
    inner: Mutex<Inner>,
    changes: watch::Sender<u64>,
}

struct Inner {
    file: Option<BufWriter<File>>,
    /// Events appended since the last flush.
    unflushed: bool,
    state: State,
    write_error: Option<String>,
    seq: u64,
}

impl Journal {
    /// A journal that appends to `path` (created, or appended to when it
    /// exists, as `recover` does).
    pub fn create(path: &Path, clock: Clock, secrets: Secrets) -> io::Result<Arc<Journal>> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let journal = Self::build(Some(BufWriter::new(file)), clock, secrets);
        spawn_flusher(Arc::downgrade(&journal))?;
        Ok(journal)
    }

    /// A journal kept in memory only (tests, `plan`).
    pub fn in_memory(clock: Clock) -> Arc<Journal> {
        Self::build(None, clock, Secrets::default())
    }

    fn build(file: Option<BufWriter<File>>, clock: Clock, secrets: Secrets) -> Arc<Journal> {
        let (changes, _) = watch::channel(0);
        let inner = Inner {
            file,
            unflushed: false,
            state: State::default(),
            write_error: None,
            seq: 0,
        };
        Arc::new(Journal {
            clock,
            secrets,
            inner: Mutex::new(inner),
            changes,
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Records an event that happens now.
    pub fn emit(&self, kind: EventKind) -> Stamp {
        let now = self.clock.now();
        self.emit_at(now, kind);
        now
    }

    /// Records an event that happened at `t` (e.g. when a request reached an
    /// endpoint, which is earlier than when its body was read).
    pub fn emit_at(&self, t: Stamp, kind: EventKind) {
        let mut event = Event {
            t,
            at: rfc3339(self.clock.utc(t)),
            kind,
        };
        let line = if self.secrets.is_empty() {
            serde_json::to_string(&event)
        } else {
            self.mask(&mut event)
        };
        let line =
            line.unwrap_or_else(|e| format!("{{\"event\":\"unserialisable\",\"error\":\"{e}\"}}"));
        let mut inner = self.lock();
        if let Some(file) = inner.file.as_mut() {
            let written = file
                .write_all(line.as_bytes())
                .and_then(|_| file.write_all(b"\n"));
            if let Err(e) = written {
                inner.write_error.get_or_insert_with(|| e.to_string());
            }
            inner.unflushed = true;
        }
        inner.state.apply(&event);
        inner.seq += 1;
        let seq = inner.seq;
        drop(inner);
        self.changes.send_replace(seq);
    }

    /// The event's line with every secret masked, and `event` replaced by
    /// what the line reads back as. The state folds what the file holds, so
    /// nothing rendered from it (record, summary, messages) can show a
    /// secret.
    ///
    /// Masking works on the event's text fields, never on the serialized
    /// line: there a short secret (a one-digit PIN) also hit stamps, counts,
    /// nonces and quotes, and left lines that no longer parsed - `report`
    /// and `recover` then found no drill to restore. Only the fields that
    /// can carry a secret ([`FREE_TEXT`] and the faults' `reply`) are
    /// masked, and `drill_started` carries the scenario already masked
    /// where `${VAR}` stood ([`Loaded::shown`]).
    ///
    /// [`Loaded::shown`]: crate::scenario::Loaded::shown
    fn mask(&self, event: &mut Event) -> serde_json::Result<String> {
        let mut value = serde_json::to_value(&*event)?;
        self.secrets.mask_fields(&mut value, FREE_TEXT);
        if let Some(faults) = value.get_mut("faults").and_then(|f| f.as_object_mut()) {
            for reply in faults.values_mut().filter_map(|f| f.get_mut("reply")) {
                self.secrets.mask_strings(reply);
            }
        }
        match Event::deserialize(&value) {
            // Written from the event, so fields keep their usual order.
            Ok(masked) => {
                *event = masked;
                serde_json::to_string(&*event)
            }
            Err(_) => serde_json::to_string(&value),
        }
    }

    /// Folds an event read back from the file, without writing it again.
    pub fn replay(&self, event: &Event) {
        self.lock().state.apply(event);
    }

    /// Forces the journal to stable storage; called before every disruptive
    /// step so that `recover` can find what must be undone.
    pub fn sync(&self) -> io::Result<()> {
        let mut inner = self.lock();
        inner.unflushed = false;
        if let Some(file) = inner.file.as_mut() {
            file.flush()?;
            file.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Writes buffered events to the file (no sync); the flusher's tick.
    fn flush(&self) {
        let mut inner = self.lock();
        if !std::mem::take(&mut inner.unflushed) {
            return;
        }
        if let Some(file) = inner.file.as_mut()
            && let Err(e) = file.flush()
        {
            inner.write_error.get_or_insert_with(|| e.to_string());
        }
    }

    /// The first write error, if the journal could not be written.
    pub fn write_error(&self) -> Option<String> {
        self.lock().write_error.clone()
    }

    /// Reads the folded state.
    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock().state)
    }

    /// Takes the folded state out, leaving an empty one: for the end of a
    /// run, once its last event is recorded.
    pub fn take_state(&self) -> State {
        std::mem::take(&mut self.lock().state)
    }

    /// A receiver that changes whenever an event is recorded.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the state usable: every
        // update is a single append, so recover the guard.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Flushes the journal every [`FLUSH_EVERY`] until it is dropped. A thread,
/// not a task: the journal is also used outside any runtime (`recover`'s
/// tail, tests), and a flush must not wait for a busy runtime.
fn spawn_flusher(journal: Weak<Journal>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("journal-flush".into())
        .spawn(move || {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                match journal.upgrade() {
                    Some(journal) => journal.flush(),
                    None => return,
                }
            }
        })
        .map(drop)
}

/// Reads a journal file back into events, skipping (and counting) lines
/// that do not parse, e.g. a last line cut short by a crash.
pub fn read(path: &Path) -> io::Result<(Vec<Event>, usize)> {
    let text = std::fs::read_to_string(path)?;
    let mut events = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Event>(line) {
            Ok(e) => events.push(e),
            Err(_) => skipped += 1,
        }
    }
    Ok((events, skipped))
}
