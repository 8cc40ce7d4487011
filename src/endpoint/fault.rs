//! The fault board: which fault each channel's endpoint applies right now.
//!
//! The orchestrator sets faults per outage phase; endpoints ask the board at
//! the start of every session or request. `rate` is drawn from a ChaCha
//! stream seeded by (seed, channel, phase), so the same seed replays the
//! same sequence of failures. The board journals each attempt and each hit.
//! [`hold`] is how endpoints wait out a `slow` fault's delay.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::drill::event::EventKind;
use crate::drill::journal::Journal;
use crate::scenario::model::Fault;

/// Current faults of every channel of a run.
pub struct FaultBoard {
    seed: u64,
    journal: Arc<Journal>,
    slots: HashMap<String, Slot>,
}

struct Slot {
    state: Mutex<SlotState>,
    current: watch::Sender<Option<Fault>>,
}

struct SlotState {
    fault: Option<Fault>,
    rng: ChaCha8Rng,
}

impl FaultBoard {
    pub fn new<'a>(
        seed: u64,
        channels: impl IntoIterator<Item = &'a str>,
        journal: Arc<Journal>,
    ) -> Arc<FaultBoard> {
        let slots = channels
            .into_iter()
            .map(|name| {
                let state = SlotState {
                    fault: None,
                    rng: stream(seed, name, 0),
                };
                let (current, _) = watch::channel(None);
                (
                    name.to_string(),
                    Slot {
                        state: Mutex::new(state),
                        current,
                    },
                )
            })
            .collect();
        Arc::new(FaultBoard {
            seed,
            journal,
            slots,
        })
    }

    /// Makes `faults` the active set for outage phase `phase`; channels not
    /// named become healthy. Journals `FaultsApplied`.
    pub fn apply(&self, phase: usize, planned_offset_ms: f64, faults: &BTreeMap<String, Fault>) {
        for (name, slot) in &self.slots {
            let fault = faults.get(name).cloned();
            let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
            state.fault = fault.clone();
            state.rng = stream(self.seed, name, phase);
            drop(state);
            slot.current.send_replace(fault);
        }
        let faults = faults.clone();
        self.journal.emit(EventKind::FaultsApplied {
            phase,
            planned_offset_ms,
            faults,
        });
    }

    /// Makes every channel healthy. Journals `FaultsLifted`.
    pub fn lift(&self) {
        for slot in self.slots.values() {
            slot.state.lock().unwrap_or_else(|p| p.into_inner()).fault = None;
            slot.current.send_replace(None);
        }
        self.journal.emit(EventKind::FaultsLifted);
    }

    /// Called by an endpoint when a session or request begins. Returns the
    /// fault to apply to it, or `None` when the channel is healthy or the
    /// `rate` draw spared this attempt. Journals `FaultAttempted` whenever a
    /// fault is active, spared or not.
    pub fn begin(&self, channel: &str) -> Option<Fault> {
        let slot = self.slots.get(channel)?;
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        let fault = state.fault.clone()?;
        let draw: f64 = state.rng.random();
        drop(state);
        self.journal.emit(EventKind::FaultAttempted {
            channel: channel.to_string(),
        });
        (draw < fault.rate()).then_some(fault)
    }

    /// Called by an endpoint when `fault` actually took effect on an attempt.
    pub fn hit(&self, channel: &str, fault: &Fault) {
        let stage = fault.stage.map(|s| s.as_str().to_string());
        self.journal.emit(EventKind::FaultHit {
            channel: channel.to_string(),
            fail: fault.fail.as_str().to_string(),
            stage,
        });
    }

    /// The fault currently set on `channel` (before any `rate` draw), e.g.
    /// for a listener that must stop listening under `refuse`.
    pub fn watch(&self, channel: &str) -> watch::Receiver<Option<Fault>> {
        match self.slots.get(channel) {
            Some(slot) => slot.current.subscribe(),
            None => watch::channel(None).1,
        }
    }
}

/// How much of a `slow` delay is slept on a blocking thread rather than on
/// tokio's timer, whose 1 ms ticks round every sleep up by up to 2 ms.
const FINE_SLEEP: Duration = Duration::from_millis(3);

/// Waits `delay` (a `slow` fault) to within a fraction of a millisecond, so
/// that the latency a drill measures through a slow channel is the delay the
/// scenario set: tokio's timer covers all but the last [`FINE_SLEEP`], a
/// blocking-pool thread sleeps the rest. Each slow reply borrows a thread
/// for at most that long, however many are pending.
pub async fn hold(delay: Duration) {
    let Some(deadline) = Instant::now().checked_add(delay) else {
        // Longer than the clock counts: tokio's timer waits "forever".
        return tokio::time::sleep(delay).await;
    };
    tokio::time::sleep(delay.saturating_sub(FINE_SLEEP)).await;
    let rest = deadline.saturating_duration_since(Instant::now());
    if rest.is_zero() {
        return;
    }
    if tokio::task::spawn_blocking(move || std::thread::sleep(rest))
        .await
        .is_err()
    {
        // No blocking thread (the runtime is shutting down): sleep coarsely.
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// The random stream for one channel in one phase.
fn stream(seed: u64, channel: &str, phase: usize) -> ChaCha8Rng {
    // DefaultHasher with fixed keys (SipHash 1-3, zero key) is stable for a
    // given Rust release; ChaCha8 makes the draws themselves portable.
    let mut h = DefaultHasher::new();
    (seed, channel, phase).hash(&mut h);
    ChaCha8Rng::seed_from_u64(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::clock::Clock;
    use crate::scenario::model::FailMode;

    fn flapping(rate: f64) -> BTreeMap<String, Fault> {
        let fault = Fault {
            fail: FailMode::Defer,
            stage: None,
            reply: None,
            status: None,
            retry_after: None,
            delay: None,
            rate: Some(rate),
        };
        BTreeMap::from([("smtp".to_string(), fault)])
    }

    fn pattern(seed: u64) -> Vec<bool> {
        let board = FaultBoard::new(seed, ["smtp"], Journal::in_memory(Clock::start()));
        board.apply(0, 0.0, &flapping(0.5));
        (0..64).map(|_| board.begin("smtp").is_some()).collect()
    }

    #[test]
    fn same_seed_replays_the_same_failures() {
        assert_eq!(pattern(7), pattern(7));
        assert_ne!(pattern(7), pattern(8));
        let failures = pattern(7).iter().filter(|f| **f).count();
        assert!((16..=48).contains(&failures), "rate 0.5 gave {failures}/64");
    }

    #[test]
    fn healthy_channels_are_not_counted() {
        let journal = Journal::in_memory(Clock::start());
        let board = FaultBoard::new(1, ["smtp", "slack"], journal.clone());
        board.apply(0, 0.0, &flapping(1.0));
        assert!(board.begin("slack").is_none());
        assert!(board.begin("smtp").is_some());
        board.lift();
        assert!(board.begin("smtp").is_none());
        let attempts = journal.with_state(|s| s.fault_counts().get("smtp").map(|c| c.attempts));
        assert_eq!(attempts, Some(1));
    }
}
