//! Judging firings and the drill, from the folded state alone.
//!
//! Spec section 6: a firing is `delivered`, `late`, `dropped` or
//! `not-fired`; the drill is `pass`, `fail`, `inconclusive`, `aborted` or
//! `error`. These functions never read the clock: "now" is an argument, so
//! a replayed journal is judged exactly as the live run was.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::clock::Stamp;
use super::state::{Firing, State};
use crate::scenario::model::Role;

/// After a firing's RTO deadline, how long arrivals are still awaited (and
/// judged `late`) before the firing is judged `dropped`.
pub const SETTLE_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Delivered,
    Late,
    Dropped,
    NotFired,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Late => "late",
            Outcome::Dropped => "dropped",
            Outcome::NotFired => "not-fired",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
    Aborted,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Aborted => "aborted",
            Verdict::Error => "error",
        }
    }

    /// Spec section 8: 0 pass, 1 fail, 3 inconclusive, aborted or error.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Inconclusive | Verdict::Aborted | Verdict::Error => 3,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The channels that must receive `f`: its expect list, or every channel
/// that received it when it expects `any`.
pub fn deadline(f: &Firing) -> Stamp {
    f.fired.plus(Duration::from_millis(f.rto_ms))
}

/// The firing's outcome judged with everything seen so far.
pub fn outcome(f: &Firing) -> Outcome {
    if f.fire_error.is_some() {
        return Outcome::NotFired;
    }
    let due = deadline(f);
    if f.expect.is_empty() {
        return match f.arrivals.values().min() {
            Some(first) if *first <= due => Outcome::Delivered,
            Some(_) => Outcome::Late,
            None => Outcome::Dropped,
        };
    }
    let mut late = false;
    for channel in &f.expect {
        match f.arrivals.get(channel) {
            Some(t) => late |= *t > due,
            None => return Outcome::Dropped,
        }
    }
    if late {
        Outcome::Late
    } else {
        Outcome::Delivered
    }
}

/// Whether nothing more can change `f`'s outcome at `now`. `in_flight` is
/// true while the target is still working on it (the built-in target's
/// failover chain).
pub fn decided(f: &Firing, now: Stamp, in_flight: bool) -> bool {
    if f.fire_error.is_some() {
        return true;
    }
    let complete = if f.expect.is_empty() {
        !f.arrivals.is_empty()
    } else {
        f.expect.iter().all(|c| f.arrivals.contains_key(c))
    };
    if complete {
        return true;
    }
    if in_flight {
        return false;
    }
    f.exhausted || now >= deadline(f).plus(SETTLE_GRACE)
}

/// Counts of outage firings by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub delivered: u32,
    pub late: u32,
    pub dropped: u32,
    pub not_fired: u32,
}

pub fn counts(state: &State) -> Counts {
    let mut c = Counts::default();
    for f in state.outage_firings() {
        match outcome(f) {
            Outcome::Delivered => c.delivered += 1,
            Outcome::Late => c.late += 1,
            Outcome::Dropped => c.dropped += 1,
            Outcome::NotFired => c.not_fired += 1,
        }
    }
    c
}

/// The drill's verdict, with the reasons a reader needs.
pub fn verdict(state: &State) -> (Verdict, Vec<String>) {
    let mut reasons = Vec::new();
    if let Some(error) = &state.harness_error {
        reasons.push(format!("the harness could not run the drill: {error}"));
        return (Verdict::Error, reasons);
    }
    if let Some((_, signal)) = &state.interrupted {
        reasons.push(format!("the drill was interrupted ({signal})"));
        return (Verdict::Aborted, reasons);
    }
    let failed_inject = state.actions.iter().find(|a| {
        a.side == super::event::ActionSide::Inject && a.finished.as_ref().is_some_and(|f| !f.1)
    });
    if let Some(action) = failed_inject {
        reasons.push(format!(
            "inject action {} failed: {}",
            action.index + 1,
            action.description
        ));
        return (Verdict::Aborted, reasons);
    }
    if state.baseline.as_ref().is_some_and(|b| !b.passed) {
        reasons.push(
            "the baseline canary did not reach a primary channel: the pipeline was broken before \
             the outage"
                .to_string(),
        );
        return (Verdict::Inconclusive, reasons);
    }

    let counts = counts(state);
    let pass = state
        .run
        .as_ref()
        .map(|r| r.scenario.pass.clone())
        .unwrap_or_default();
    let mut failed = false;
    if counts.dropped > pass.max_dropped {
        failed = true;
        reasons.push(format!(
            "{} firing(s) dropped (allowed: {})",
            counts.dropped, pass.max_dropped
        ));
    }
    if counts.late > pass.max_late {
        failed = true;
        reasons.push(format!(
            "{} firing(s) late (allowed: {})",
            counts.late, pass.max_late
        ));
    }
    if counts.not_fired > pass.max_not_fired {
        failed = true;
        reasons.push(format!(
            "{} firing(s) not fired (allowed: {})",
            counts.not_fired, pass.max_not_fired
        ));
    }
    if state.recovery.as_ref().is_some_and(|r| !r.passed) {
        failed = true;
        reasons.push("the recovery canary did not reach a primary channel after restore".into());
    }
    if state.restore.as_ref().is_some_and(|r| !r.1) {
        failed = true;
        reasons.push("restore failed: what the drill broke may still be broken".into());
    }
    if failed {
        return (Verdict::Fail, reasons);
    }

    let faulted_primaries = faulted_primaries(state);
    if !faulted_primaries.is_empty() {
        let hit = faulted_primaries.iter().any(|c| {
            state
                .faults
                .get(c)
                .is_some_and(|n| n.attempts > 0 || n.failed > 0)
        });
        if !hit {
            reasons.push(format!(
                "the target never reached the faulted primary channel(s) {}: the drill proved \
                 nothing about failover",
                faulted_primaries.join(", ")
            ));
            return (Verdict::Inconclusive, reasons);
        }
    }
    reasons.push(format!(
        "{} firing(s) delivered within their RTO; every check held",
        counts.delivered
    ));
    (Verdict::Pass, reasons)
}

/// Primary channels that some outage phase faulted.
pub fn faulted_primaries(state: &State) -> Vec<String> {
    let Some(run) = &state.run else {
        return Vec::new();
    };
    let mut names: Vec<String> = run
        .scenario
        .channels
        .iter()
        .filter(|c| c.role == Role::Primary)
        .filter(|c| {
            run.scenario.outage.faults.contains_key(&c.name)
                || run
                    .scenario
                    .outage
                    .phases
                    .iter()
                    .any(|p| p.faults.contains_key(&c.name))
        })
        .map(|c| c.name.clone())
        .collect();
    names.dedup();
    names
}
