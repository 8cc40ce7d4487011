//! The record's data, computed from the folded journal state alone.
//!
//! [`View`] is what the summary, JUnit and the Markdown/HTML templates read.
//! It never reads the clock or the file system, so `outage-drill report`
//! re-renders a run byte for byte.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::drill::clock::{Stamp, rfc3339, utc_at};
use crate::drill::event::{ActionSide, Purpose};
use crate::drill::state::{CheckResult, Firing, State};
use crate::drill::verdict::{self, Counts, Outcome, Verdict};
use crate::scenario::model::Role;

#[derive(Clone, Debug, Serialize)]
pub struct View {
    pub verdict: Verdict,
    pub verdict_upper: String,
    pub reasons: Vec<String>,
    pub scenario: String,
    pub title: String,
    pub description: String,
    pub controls: Vec<String>,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_s: String,
    pub speed: f64,
    pub sped_up: bool,
    pub seed: u64,
    pub tool_version: String,
    pub scenario_file: String,
    pub target_kind: String,
    pub exercise_type: String,
    pub counts: Counts,
    pub firings: Vec<FiringView>,
    pub canaries: Vec<FiringView>,
    pub channels: Vec<ChannelView>,
    pub faults: BTreeMap<String, FaultView>,
    pub timeline: Vec<TimelineRow>,
    pub checks: ChecksView,
    pub restore: String,
    pub restore_failed: bool,
    pub interrupted: Option<String>,
    pub harness_error: Option<String>,
    /// Alertmanager failure-counter deltas across the outage.
    pub target_metrics: Option<BTreeMap<String, f64>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FiringView {
    pub name: String,
    pub title: String,
    pub nonce: String,
    pub severity: String,
    pub n: u32,
    pub fired_at: String,
    pub fired_offset_s: String,
    pub rto_ms: u64,
    pub rto: String,
    pub outcome: Outcome,
    pub outcome_str: String,
    pub expect: String,
    pub arrivals: Vec<ArrivalView>,
    pub first_latency: String,
    pub via: String,
    pub error: Option<String>,
    pub routes: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ArrivalView {
    pub channel: String,
    pub at: String,
    pub latency_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChannelView {
    pub name: String,
    pub kind: String,
    pub role: String,
    pub addr: String,
    pub shares_fate_with: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FaultView {
    pub attempts: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    pub offset_s: String,
    pub planned_s: String,
    pub what: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckView {
    pub outcome: &'static str,
    pub latency_ms: Option<f64>,
    pub channel: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChecksView {
    pub baseline: CheckView,
    pub recovery: CheckView,
}

/// Builds the view of a run from its state.
pub fn build(state: &State) -> View {
    let (verdict, reasons) = verdict::verdict(state);
    let run = state.run.clone();
    let origin: DateTime<Utc> = run
        .as_ref()
        .and_then(|r| DateTime::parse_from_rfc3339(&r.origin_utc).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let at = |t: Stamp| rfc3339(utc_at(origin, t));
    let end = state.finished.as_ref().map(|f| f.0).unwrap_or(state.last);
    let outage_start = state.outage_started.map(|o| o.0);
    let offset = |t: Stamp| match outage_start {
        Some(o) if t >= o => format!("+{:.3}", t.millis_since(o) / 1e3),
        Some(o) => format!("-{:.3}", o.millis_since(t) / 1e3),
        None => format!("{:.3}", t.millis() / 1e3),
    };

    let firing_view = |f: &Firing| {
        let outcome = verdict::outcome(f);
        let mut arrivals: Vec<ArrivalView> = f
            .arrivals
            .iter()
            .map(|(c, t)| ArrivalView {
                channel: c.clone(),
                at: at(*t),
                latency_ms: round3(t.millis_since(f.fired)),
            })
            .collect();
        arrivals.sort_by(|a, b| a.latency_ms.total_cmp(&b.latency_ms));
        let first = arrivals.first();
        FiringView {
            name: f.alert.clone(),
            title: f.title.clone(),
            nonce: f.nonce.clone(),
            severity: f.severity.as_str().to_string(),
            n: f.n,
            fired_at: at(f.fired),
            fired_offset_s: offset(f.fired),
            rto_ms: f.rto_ms,
            rto: format!(
                "{}",
                crate::scenario::duration::Dur(std::time::Duration::from_millis(f.rto_ms))
            ),
            outcome,
            outcome_str: outcome.as_str().to_string(),
            expect: if f.expect.is_empty() {
                "any".into()
            } else {
                f.expect.join(", ")
            },
            first_latency: first
                .map(|a| format!("{:.0} ms", a.latency_ms))
                .unwrap_or_else(|| "—".into()),
            via: first
                .map(|a| a.channel.clone())
                .unwrap_or_else(|| "—".into()),
            arrivals,
            error: f.fire_error.clone(),
            routes: f
                .routes
                .iter()
                .map(|r| {
                    if r.accepted {
                        format!("{} ✓", r.channel)
                    } else {
                        format!("{} ✗", r.channel)
                    }
                })
                .collect::<Vec<_>>()
                .join(" → "),
        }
    };

    let firings: Vec<FiringView> = state.outage_firings().map(firing_view).collect();
    let canaries: Vec<FiringView> = state
        .firings
        .iter()
        .filter(|f| f.purpose != Purpose::Outage)
        .map(firing_view)
        .collect();

    let scenario = run.as_ref().map(|r| &r.scenario);
    let channels = scenario
        .map(|s| {
            s.channels
                .iter()
                .map(|c| ChannelView {
                    name: c.name.clone(),
                    kind: c.kind.to_string(),
                    role: if c.role == Role::Primary {
                        "primary".into()
                    } else {
                        "alternate".into()
                    },
                    addr: state
                        .endpoints
                        .iter()
                        .find(|e| e.0 == c.name)
                        .map(|e| e.2.clone())
                        .unwrap_or_else(|| c.listen.clone()),
                    shares_fate_with: c.shares_fate_with.clone(),
                })
                .collect()
        })
        .unwrap_or_default();

    let mut timeline = Vec::new();
    for (stage, t) in &state.stages {
        timeline.push((*t, String::new(), format!("stage: {}", stage.as_str())));
    }
    for a in &state.applied {
        let faults: Vec<String> = a
            .faults
            .iter()
            .map(|(c, f)| {
                let stage = f
                    .stage
                    .map(|s| format!(" at {}", s.as_str()))
                    .unwrap_or_default();
                let rate = f.rate.map(|r| format!(" (rate {r})")).unwrap_or_default();
                format!("{c}: {}{stage}{rate}", f.fail)
            })
            .collect();
        let what = if faults.is_empty() {
            "no faults".into()
        } else {
            faults.join("; ")
        };
        timeline.push((
            a.at,
            format!("+{:.3}", a.planned_offset_ms / 1e3),
            format!("phase {}: {what}", a.phase + 1),
        ));
    }
    if let Some(t) = state.faults_lifted {
        timeline.push((t, String::new(), "faults lifted".into()));
    }
    for a in &state.actions {
        let side = if a.side == ActionSide::Inject {
            "inject"
        } else {
            "restore"
        };
        let result = match &a.finished {
            Some((_, true, _)) => "ok".to_string(),
            Some((_, false, e)) => format!("FAILED: {}", e.clone().unwrap_or_default()),
            None => "did not finish".to_string(),
        };
        timeline.push((
            a.started,
            String::new(),
            format!(
                "{side} action {}: {} — {result}",
                a.index + 1,
                a.description
            ),
        ));
    }
    for f in &state.firings {
        let planned = f
            .planned_offset_ms
            .map(|p| format!("+{:.3}", p / 1e3))
            .unwrap_or_default();
        timeline.push((
            f.fired,
            planned,
            format!("fired {} ({})", f.nonce, f.severity.as_str()),
        ));
        for (c, t) in &f.arrivals {
            timeline.push((*t, String::new(), format!("arrived {} on {c}", f.nonce)));
        }
    }
    if let Some((t, s)) = &state.interrupted {
        timeline.push((*t, String::new(), format!("interrupted by {s}")));
    }
    timeline.sort_by_key(|r| r.0);
    let timeline = timeline
        .into_iter()
        .map(|(t, planned_s, what)| TimelineRow {
            offset_s: offset(t),
            planned_s,
            what,
        })
        .collect();

    let restore = restore_text(state);
    let checks = ChecksView {
        baseline: check_view(state.baseline.as_ref(), scenario.map(|s| s.checks.baseline)),
        recovery: check_view(state.recovery.as_ref(), scenario.map(|s| s.checks.recovery)),
    };
    let started_at = run
        .as_ref()
        .map(|r| r.origin_utc.clone())
        .unwrap_or_default();
    View {
        verdict,
        verdict_upper: verdict.as_str().to_uppercase(),
        reasons,
        scenario: scenario.map(|s| s.name.clone()).unwrap_or_default(),
        title: scenario.map(|s| s.title.clone()).unwrap_or_default(),
        description: scenario
            .map(|s| s.description.trim().to_string())
            .unwrap_or_default(),
        controls: scenario.map(|s| s.controls.clone()).unwrap_or_default(),
        run_id: run.as_ref().map(|r| r.run_id.clone()).unwrap_or_default(),
        started_at,
        finished_at: at(end),
        duration_s: format!("{:.1}", end.millis() / 1e3),
        speed: run.as_ref().map(|r| r.speed).unwrap_or(1.0),
        sped_up: run.as_ref().is_some_and(|r| r.speed != 1.0),
        seed: run.as_ref().map(|r| r.seed).unwrap_or_default(),
        tool_version: run
            .as_ref()
            .map(|r| r.tool_version.clone())
            .unwrap_or_default(),
        scenario_file: run
            .as_ref()
            .map(|r| r.scenario_file.clone())
            .unwrap_or_default(),
        target_kind: scenario
            .map(|s| s.target.kind.as_str().to_string())
            .unwrap_or_default(),
        exercise_type: scenario
            .map(|s| format!("{:?}", s.exercise.kind).to_lowercase())
            .unwrap_or_default(),
        counts: verdict::counts(state),
        firings,
        canaries,
        channels,
        faults: state
            .faults
            .iter()
            .map(|(c, n)| {
                (
                    c.clone(),
                    FaultView {
                        attempts: n.attempts,
                        failed: n.failed,
                    },
                )
            })
            .collect(),
        timeline,
        checks,
        restore_failed: state.restore.as_ref().is_some_and(|r| !r.1)
            || (state.restore_pending.is_some()
                && state.restore.is_none()
                && !state.actions.is_empty()),
        restore,
        interrupted: state.interrupted.as_ref().map(|i| i.1.clone()),
        harness_error: state.harness_error.clone(),
        target_metrics: match (&state.metrics_before, &state.metrics_after) {
            (Some(b), Some(a)) => Some(crate::target::metrics::deltas(b, a)),
            _ => None,
        },
    }
}

fn check_view(result: Option<&CheckResult>, enabled: Option<bool>) -> CheckView {
    match result {
        Some(r) => CheckView {
            outcome: if r.passed { "passed" } else { "failed" },
            latency_ms: r.latency_ms.map(round3),
            channel: r.channel.clone(),
        },
        None => CheckView {
            outcome: if enabled == Some(false) {
                "skipped"
            } else {
                "skipped"
            },
            latency_ms: None,
            channel: None,
        },
    }
}

/// `ok`, or what went wrong with restoring.
fn restore_text(state: &State) -> String {
    match &state.restore {
        Some((_, true, _, false)) => "ok".into(),
        Some((_, true, _, true)) => "ok (completed by `outage-drill recover`)".into(),
        Some((_, false, e, _)) => e.clone().unwrap_or_else(|| "restore failed".into()),
        None if state.actions.iter().any(|a| a.side == ActionSide::Inject) => {
            "restore did not run: run `outage-drill recover` on this folder".into()
        }
        None => "ok".into(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
