//! The timeline: every stage, fault change, action, firing, arrival and
//! check, planned against actual, plus the outage phases as time spans for
//! the chart.
//!
//! Times are offsets from the outage start (the moment the scenario's `at`
//! offsets count from), so planned and actual line up; before any outage
//! they count from the run's origin.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::text;
use crate::drill::clock::{Stamp, utc_at};
use crate::drill::event::{ActionSide, Purpose};
use crate::drill::state::State;
use crate::drill::verdict;

#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    /// Actual offset from the outage start, in seconds (`+1.502`).
    pub offset_s: String,
    /// Planned offset, when the scenario planned this moment.
    pub planned_s: String,
    /// Time of day, UTC (`17:07:25.317`).
    pub utc: String,
    pub what: String,
    /// `stage`, `fault`, `action`, `fire`, `arrival`, `check`, `problem`.
    pub class: &'static str,
}

/// An outage phase as it actually ran.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseSpan {
    pub n: usize,
    pub start_ms: f64,
    pub end_ms: f64,
    pub faults: String,
}

/// Converts stamps to offsets from the outage start.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    outage: Option<Stamp>,
    utc: DateTime<Utc>,
}

impl Origin {
    pub fn of(state: &State, utc: DateTime<Utc>) -> Origin {
        Origin {
            outage: state.outage_started.map(|o| o.0),
            utc,
        }
    }

    /// Milliseconds from the outage start (negative before it).
    pub fn ms(&self, t: Stamp) -> f64 {
        match self.outage {
            Some(o) if t >= o => t.millis_since(o),
            Some(o) => -o.millis_since(t),
            None => t.millis(),
        }
    }

    pub fn offset(&self, t: Stamp) -> String {
        text::offset(self.ms(t))
    }

    pub fn time_of_day(&self, t: Stamp) -> String {
        utc_at(self.utc, t).format("%H:%M:%S%.3f").to_string()
    }
}

/// The timeline rows, in time order (events at the same moment keep the
/// journal's order).
pub fn rows(state: &State, origin: &Origin) -> Vec<TimelineRow> {
    let mut rows: Vec<(Stamp, Option<f64>, String, &'static str)> = Vec::new();
    let planned_end = state.outage_started.map(|o| o.1);

    for (stage, t) in &state.stages {
        rows.push((*t, None, format!("Stage: {}", stage.as_str()), "stage"));
    }
    if let Some((t, argv)) = &state.target_started {
        rows.push((
            *t,
            None,
            format!("Target process started: {}", argv.join(" ")),
            "stage",
        ));
    }
    if let Some((t, how)) = &state.target_stopped {
        rows.push((*t, None, format!("Target process stopped ({how})"), "stage"));
    }
    if let Some((t, planned_ms, _)) = state.outage_started {
        rows.push((
            t,
            Some(0.0),
            format!("Outage began (planned length {})", text::length(planned_ms)),
            "fault",
        ));
    }
    for a in &state.applied {
        rows.push((
            a.at,
            Some(a.planned_offset_ms),
            format!("Phase {}: {}", a.phase + 1, faults(&a.faults)),
            "fault",
        ));
    }
    if let Some(t) = state.faults_lifted {
        rows.push((t, None, "Faults lifted".into(), "fault"));
    }
    if let Some((t, early)) = state.outage_ended {
        let what = if early {
            "Outage cut short"
        } else {
            "Outage ended"
        };
        rows.push((t, planned_end, what.into(), "fault"));
    }
    for a in &state.actions {
        let (side, planned) = match a.side {
            ActionSide::Inject => ("Inject", Some(0.0)),
            ActionSide::Restore => ("Restore", planned_end),
        };
        let result = match &a.finished {
            Some((end, true, _)) => format!("ok in {}", text::latency(end.millis_since(a.started))),
            Some((_, false, e)) => format!("FAILED: {}", e.as_deref().unwrap_or("no error given")),
            None => "did not finish".into(),
        };
        let what = format!(
            "{side} action {}: {} — {result}",
            a.index + 1,
            a.description
        );
        let class = if matches!(a.finished, Some((_, true, _))) {
            "action"
        } else {
            "problem"
        };
        rows.push((a.started, planned, what, class));
    }
    if let Some((t, ok, error, by_recover)) = &state.restore {
        let what = match (ok, by_recover) {
            (true, false) => "Restore finished".to_string(),
            (true, true) => "Restore finished by “outage-drill recover”".to_string(),
            (false, _) => format!("RESTORE FAILED: {}", error.as_deref().unwrap_or("")),
        };
        rows.push((*t, None, what, if *ok { "action" } else { "problem" }));
    }
    firings(state, &mut rows);
    for (check, result) in [("Baseline", &state.baseline), ("Recovery", &state.recovery)] {
        if let Some(r) = result {
            let what = if r.passed {
                format!("{check} check passed")
            } else {
                format!("{check} check FAILED")
            };
            rows.push((r.at, None, what, if r.passed { "check" } else { "problem" }));
        }
    }
    if let Some((t, signal)) = &state.interrupted {
        rows.push((*t, None, format!("Interrupted by {signal}"), "problem"));
    }
    if let Some((t, verdict)) = &state.finished {
        rows.push((*t, None, format!("Drill finished: {verdict}"), "stage"));
    }

    rows.sort_by_key(|r| r.0);
    rows.into_iter()
        .map(|(t, planned, what, class)| TimelineRow {
            offset_s: origin.offset(t),
            planned_s: planned.map(text::offset).unwrap_or_default(),
            utc: origin.time_of_day(t),
            what,
            class,
        })
        .collect()
}

fn firings(state: &State, rows: &mut Vec<(Stamp, Option<f64>, String, &'static str)>) {
    for f in &state.firings {
        let label = match f.purpose {
            Purpose::Outage => format!("{} #{}", f.alert, f.n),
            Purpose::Baseline => "baseline canary".into(),
            Purpose::Recovery => "recovery canary".into(),
        };
        rows.push((
            f.fired,
            f.planned_offset_ms,
            format!(
                "Fired {label} ({}, RTO {}) — {}",
                f.severity.as_str(),
                text::rto(f.rto_ms),
                f.nonce
            ),
            "fire",
        ));
        if let Some(error) = &f.fire_error {
            rows.push((
                f.fired,
                None,
                format!("Target refused {label}: {error}"),
                "problem",
            ));
        }
        let end = verdict::window_end(f);
        let due = verdict::deadline(f);
        for (channel, t) in &f.arrivals {
            let after = text::latency(t.millis_since(f.fired));
            let (note, class) = if *t > end {
                (" — after its verdict, not counted", "problem")
            } else if *t > due {
                (" — LATE", "problem")
            } else {
                ("", "arrival")
            };
            rows.push((
                *t,
                None,
                format!("Arrived: {label} on {channel} after {after}{note}"),
                class,
            ));
        }
    }
}

/// The faults of one phase as one phrase.
pub fn faults(
    faults: &std::collections::BTreeMap<String, crate::scenario::model::Fault>,
) -> String {
    if faults.is_empty() {
        return "no faults".into();
    }
    faults
        .iter()
        .map(|(c, f)| format!("{c} {}", text::fault(f)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The outage phases as they ran: each lasts until the next one, the
/// lifting of faults, or the end of the outage.
pub fn phases(state: &State, origin: &Origin) -> Vec<PhaseSpan> {
    let stop = state
        .faults_lifted
        .or(state.outage_ended.map(|o| o.0))
        .unwrap_or(state.last);
    state
        .applied
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let end = state.applied.get(i + 1).map(|b| b.at).unwrap_or(stop);
            PhaseSpan {
                n: a.phase + 1,
                start_ms: origin.ms(a.at),
                end_ms: origin.ms(end.max(a.at)),
                faults: faults(&a.faults),
            }
        })
        .collect()
}
