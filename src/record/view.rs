//! The record's data, computed from the folded journal state alone.
//!
//! [`View`] is what the summary, JUnit and the Markdown/HTML templates read
//! (organisations' own templates too, so its field names are an interface).
//! [`build`] never reads the clock or the file system, so `outage-drill
//! report` re-renders a run byte for byte; the evidence hashes are the one
//! input from disk, attached by [`super::write_all`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::controls::{self, ControlView};
use super::evidence::EvidenceFile;
use super::findings::{self, FindingView, PlanRow};
use super::judge::{self, Channels, Judged};
use super::overview::{self, CheckRow, ObjectiveView, ParticipantView, PlannedPhase, SignOffRow};
use super::rating::{self, LegendRow, RatingView};
use super::stats::{self, FaultRow, LatencyRow, MetricRow, OutcomeRow};
use super::text;
use super::timeline::{self, Origin, PhaseSpan, TimelineRow};
use crate::drill::clock::{Stamp, rfc3339, utc_at};
use crate::drill::event::Purpose;
use crate::drill::state::State;
use crate::drill::verdict::{self, Counts, Outcome, Verdict};
use crate::scenario::duration::Dur;

#[derive(Clone, Debug, Serialize)]
pub struct View {
    pub verdict: Verdict,
    pub verdict_upper: String,
    pub reasons: Vec<String>,
    /// Critical lapses for the banner at the top; empty when none.
    pub lapses: Vec<String>,
    /// False when the journal has no `drill_finished` (a crashed run).
    pub journal_complete: bool,

    // Exercise overview.
    pub scenario: String,
    pub title: String,
    pub description: String,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub started_date: String,
    pub duration_s: String,
    /// The run's length for people (`3.1 s`, `4 min 05 s`).
    pub duration: String,
    /// The outage as planned (after the speed factor) and as it ran.
    pub outage_planned: String,
    pub outage_actual: String,
    pub speed: f64,
    pub sped_up: bool,
    pub speed_note: String,
    pub seed: u64,
    pub tool_version: String,
    pub scenario_file: String,
    pub exercise_type: String,
    /// What the drill covered, in one sentence.
    pub scope: String,
    pub frequency: String,
    pub facilitator: String,
    pub participants: Vec<ParticipantView>,

    // Controls, objectives, environment.
    pub controls: Vec<String>,
    pub controls_exercised: Vec<ControlView>,
    pub objectives: Vec<ObjectiveView>,
    pub criteria: Vec<String>,
    pub target_kind: String,
    pub target: Vec<String>,
    pub channels: Vec<ChannelView>,
    pub shared_fate: Vec<String>,
    pub planned_phases: Vec<PlannedPhase>,
    pub inject_actions: Vec<String>,
    pub restore_actions: Vec<String>,

    // Timeline.
    pub timeline: Vec<TimelineRow>,
    pub phases: Vec<PhaseSpan>,
    /// The run's first and last moment, in ms from the outage start.
    pub run_start_ms: f64,
    pub run_end_ms: f64,
    /// The timeline chart: SVG markup whose every text was escaped when it
    /// was drawn ([`super::chart`]); the only value templates insert raw.
    pub timeline_svg: String,

    // Results and metrics.
    pub counts: Counts,
    pub firings: Vec<FiringView>,
    pub canaries: Vec<FiringView>,
    pub ratings: Vec<RatingView>,
    /// Set when the verdict limits what the ratings mean (aborted,
    /// inconclusive, error).
    pub ratings_note: String,
    pub rating_legend: Vec<LegendRow>,
    pub checks: ChecksView,
    pub check_rows: Vec<CheckRow>,
    pub outcome_rows: Vec<OutcomeRow>,
    pub latency_rows: Vec<LatencyRow>,
    pub faults: BTreeMap<String, FaultView>,
    pub fault_rows: Vec<FaultRow>,
    /// Alertmanager failure-counter deltas across the outage.
    pub target_metrics: Option<BTreeMap<String, f64>>,
    /// Counters that moved across the outage, and how many did not.
    pub metric_rows: Vec<MetricRow>,
    pub metrics_unchanged: usize,
    /// True when the target reported its counters before and after.
    pub has_target_metrics: bool,
    pub restore: String,
    pub restore_failed: bool,
    pub interrupted: Option<String>,
    pub harness_error: Option<String>,

    // Findings, plan, sign-off, evidence.
    pub areas: Vec<FindingView>,
    pub strengths: Vec<FindingView>,
    pub plan: Vec<PlanRow>,
    pub sign_off: Vec<SignOffRow>,
    pub next_due: String,
    /// Filled by [`super::write_all`] from the files on disk.
    pub evidence: Vec<EvidenceFile>,
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
    /// Milliseconds from the outage start to the firing, and to its RTO
    /// deadline (for the chart).
    pub fired_ms: f64,
    pub deadline_ms: f64,
    pub rto_ms: u64,
    pub rto: String,
    pub outcome: Outcome,
    pub outcome_str: String,
    pub expect: String,
    /// Expected channels that did not receive it in time (empty for `any`).
    pub missing: Vec<String>,
    pub arrivals: Vec<ArrivalView>,
    /// First arrival per channel, e.g. `soc-slack 3 ms; exchange-smtp 40 ms`.
    pub arrivals_text: String,
    pub first_latency: String,
    /// The latency that decided the outcome, and against the RTO:
    /// `3 ms of 5s (99.9 % left)`.
    pub latency_ms: Option<f64>,
    pub latency_vs_rto: String,
    pub via: String,
    /// What the record noticed about it (shared fate, partial outage).
    pub notes: String,
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
    let run = state.run.as_ref();
    let scenario = run.map(|r| &r.scenario);
    let origin_utc: Option<DateTime<Utc>> = run
        .and_then(|r| DateTime::parse_from_rfc3339(&r.origin_utc).ok())
        .map(|t| t.with_timezone(&Utc));
    let utc0 = origin_utc.unwrap_or_default();
    let origin = Origin::of(state, utc0);
    let end = state.finished.as_ref().map(|f| f.0).unwrap_or(state.last);
    let speed = run.map(|r| r.speed).unwrap_or(1.0);
    let planned_ms = state.outage_started.map(|o| o.1);

    let channels = Channels::of(state);
    let judged = judge::outage_firings(state, &channels);
    let canaries: Vec<Judged<'_>> = state
        .firings
        .iter()
        .filter(|f| f.purpose != Purpose::Outage)
        .map(|f| judge::judge(state, &channels, f))
        .collect();
    let found = findings::find(state, &channels, &judged);
    let counts = verdict::counts(state);
    let metric_rows = stats::metric_deltas(target_metrics(state).as_ref());

    let mut view = View {
        verdict,
        verdict_upper: verdict.as_str().to_uppercase(),
        reasons,
        lapses: found.lapses,
        journal_complete: state.finished.is_some(),

        scenario: scenario.map(|s| s.name.clone()).unwrap_or_default(),
        title: scenario.map(|s| s.title.clone()).unwrap_or_default(),
        description: scenario
            .map(|s| s.description.trim().to_string())
            .unwrap_or_default(),
        run_id: run.map(|r| r.run_id.clone()).unwrap_or_default(),
        started_at: run.map(|r| r.origin_utc.clone()).unwrap_or_default(),
        finished_at: rfc3339(utc_at(utc0, end)),
        started_date: origin_utc
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        duration_s: format!("{:.1}", end.millis() / 1e3),
        duration: text::length(end.millis()),
        outage_planned: planned_ms.map(text::length).unwrap_or_else(|| "—".into()),
        outage_actual: outage_actual(state),
        speed,
        sped_up: speed != 1.0,
        speed_note: overview::speed_note(speed, planned_ms),
        seed: run.map(|r| r.seed).unwrap_or_default(),
        tool_version: run.map(|r| r.tool_version.clone()).unwrap_or_default(),
        scenario_file: run.map(|r| r.scenario_file.clone()).unwrap_or_default(),
        exercise_type: scenario
            .map(|s| format!("{:?}", s.exercise.kind).to_lowercase())
            .unwrap_or_default(),
        scope: scope(state),
        frequency: scenario
            .and_then(|s| s.exercise.frequency)
            .map(|f| text::frequency_word(f).to_string())
            .unwrap_or_else(|| "not set".into()),
        facilitator: scenario
            .and_then(|s| s.exercise.facilitator.clone())
            .unwrap_or_default(),
        participants: run.map(overview::participants).unwrap_or_default(),

        controls: scenario.map(|s| s.controls.clone()).unwrap_or_default(),
        controls_exercised: controls::exercised(
            scenario.map(|s| s.controls.as_slice()).unwrap_or_default(),
        ),
        objectives: scenario.map(overview::objectives).unwrap_or_default(),
        criteria: scenario.map(overview::criteria).unwrap_or_default(),
        target_kind: scenario
            .map(|s| s.target.kind.as_str().to_string())
            .unwrap_or_default(),
        target: scenario.map(overview::target).unwrap_or_default(),
        channels: channel_views(state),
        shared_fate: overview::shared_fate(&channels),
        planned_phases: scenario.map(overview::planned_phases).unwrap_or_default(),
        inject_actions: scenario.map(|s| overview::actions(s).0).unwrap_or_default(),
        restore_actions: scenario.map(|s| overview::actions(s).1).unwrap_or_default(),

        timeline: timeline::rows(state, &origin),
        phases: timeline::phases(state, &origin),
        run_start_ms: origin.ms(Stamp(0)),
        run_end_ms: origin.ms(end),
        timeline_svg: String::new(),

        counts,
        firings: judged
            .iter()
            .map(|j| firing_view(j, &origin, utc0))
            .collect(),
        canaries: canaries
            .iter()
            .map(|j| firing_view(j, &origin, utc0))
            .collect(),
        ratings: scenario
            .map(|s| rating::rate(s, &judged))
            .unwrap_or_default(),
        ratings_note: ratings_note(verdict),
        rating_legend: rating::legend(),
        checks: ChecksView {
            baseline: check_view(state.baseline.as_ref()),
            recovery: check_view(state.recovery.as_ref()),
        },
        check_rows: overview::checks(state, scenario),
        outcome_rows: stats::outcomes(&counts),
        latency_rows: stats::latencies(state, &channels, &judged),
        faults: state
            .faults
            .iter()
            .map(|(c, n)| {
                let counts = FaultView {
                    attempts: n.attempts,
                    failed: n.failed,
                };
                (c.clone(), counts)
            })
            .collect(),
        fault_rows: stats::faults(state, &channels),
        target_metrics: target_metrics(state),
        metric_rows: metric_rows.0,
        metrics_unchanged: metric_rows.1,
        has_target_metrics: target_metrics(state).is_some(),
        restore: restore_text(state),
        restore_failed: state.restore.as_ref().is_some_and(|r| !r.1)
            || (state.restore.is_none() && state.restore_outstanding()),
        interrupted: state.interrupted.as_ref().map(|i| i.1.clone()),
        harness_error: state.harness_error.clone(),

        areas: found.areas,
        strengths: found.strengths,
        plan: found.plan,
        sign_off: overview::sign_off(scenario),
        next_due: text::next_due(origin_utc, scenario.and_then(|s| s.exercise.frequency)),
        evidence: Vec::new(),
    };
    view.timeline_svg = super::chart::render(&view);
    view
}

fn firing_view(j: &Judged<'_>, origin: &Origin, utc0: DateTime<Utc>) -> FiringView {
    let f = j.firing;
    let fired_ms = origin.ms(f.fired);
    let arrivals: Vec<ArrivalView> = j
        .arrivals
        .iter()
        .map(|(channel, ms)| ArrivalView {
            channel: channel.clone(),
            at: rfc3339(utc_at(utc0, f.arrivals[channel])),
            latency_ms: round3(*ms),
        })
        .collect();
    let first = arrivals.first();
    let rto = format!("{}", Dur(std::time::Duration::from_millis(f.rto_ms)));
    let latency_vs_rto = match (j.latency_ms, j.margin) {
        (Some(ms), Some(margin)) if margin >= 0.0 => format!(
            "{} of {rto} ({} left)",
            text::latency(ms),
            text::percent(margin)
        ),
        (Some(ms), Some(margin)) => format!(
            "{} of {rto} ({} over)",
            text::latency(ms),
            text::percent(-margin)
        ),
        _ => "—".into(),
    };
    let mut notes = Vec::new();
    if j.shared_fate_only {
        notes.push("reached only a shared-fate channel".to_string());
    }
    if j.thin_margin() {
        notes.push("thin margin".to_string());
    }
    for (channel, rate) in &j.partial_primary {
        notes.push(format!(
            "via primary {channel} during a partial outage (rate {rate})"
        ));
    }
    if j.outcome == Outcome::Dropped && j.arrivals.is_empty() {
        notes.push("silent drop".to_string());
    }
    FiringView {
        name: f.alert.clone(),
        title: f.title.clone(),
        nonce: f.nonce.clone(),
        severity: f.severity.as_str().to_string(),
        n: f.n,
        fired_at: rfc3339(utc_at(utc0, f.fired)),
        fired_offset_s: text::offset(fired_ms),
        fired_ms: round3(fired_ms),
        deadline_ms: round3(fired_ms + f.rto_ms as f64),
        rto_ms: f.rto_ms,
        rto,
        outcome: j.outcome,
        outcome_str: j.outcome.as_str().to_string(),
        expect: if f.expect.is_empty() {
            "any".into()
        } else {
            f.expect.join(", ")
        },
        missing: f
            .expect
            .iter()
            .filter(|c| !j.arrivals.iter().any(|(a, _)| a == *c))
            .cloned()
            .collect(),
        arrivals_text: if arrivals.is_empty() {
            "none".into()
        } else {
            arrivals
                .iter()
                .map(|a| format!("{} {}", a.channel, text::latency(a.latency_ms)))
                .collect::<Vec<_>>()
                .join("; ")
        },
        first_latency: first
            .map(|a| format!("{:.0} ms", a.latency_ms))
            .unwrap_or_else(|| "—".into()),
        latency_ms: j.latency_ms.map(round3),
        latency_vs_rto,
        via: first
            .map(|a| a.channel.clone())
            .unwrap_or_else(|| "—".into()),
        notes: notes.join("; "),
        arrivals,
        error: f.fire_error.clone(),
        routes: f
            .routes
            .iter()
            .map(|r| format!("{} {}", r.channel, if r.accepted { "✓" } else { "✗" }))
            .collect::<Vec<_>>()
            .join(" → "),
    }
}

fn channel_views(state: &State) -> Vec<ChannelView> {
    let Some(run) = &state.run else {
        return Vec::new();
    };
    run.scenario
        .channels
        .iter()
        .map(|c| ChannelView {
            name: c.name.clone(),
            kind: c.kind.to_string(),
            role: if c.role == crate::scenario::model::Role::Primary {
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
}

/// What the drill covered: alerts and firings, target, channels, outage.
fn scope(state: &State) -> String {
    let Some(run) = &state.run else {
        return String::new();
    };
    let s = &run.scenario;
    let primaries = s
        .channels
        .iter()
        .filter(|c| c.role == crate::scenario::model::Role::Primary)
        .count();
    let length = Dur(crate::scenario::validate::outage_length(s));
    let phases = match s.outage.phases.len() {
        0 | 1 => String::new(),
        n => format!(" in {n} phases"),
    };
    format!(
        "Delivery of {} ({}) through the {} target to {} ({primaries} primary, {} alternate) \
         while the primary mail path was faulted for {length} of scenario time{phases}.",
        text::count(s.alerts.len(), "alert"),
        text::count(state.outage_firings().count(), "firing"),
        s.target.kind.as_str(),
        text::count(s.channels.len(), "channel"),
        s.channels.len() - primaries
    )
}

/// What the ratings can and cannot say under this verdict.
fn ratings_note(verdict: Verdict) -> String {
    match verdict {
        Verdict::Pass | Verdict::Fail => String::new(),
        Verdict::Aborted => "The drill was cut short: alerts planned after the interruption \
                             were not fired, so the ratings cover only what ran."
            .into(),
        Verdict::Inconclusive => "The verdict is inconclusive: the ratings describe the \
                                  deliveries seen, but the drill did not show failover from a \
                                  broken primary path (see the verdict's reason)."
            .into(),
        Verdict::Error => "The harness could not run the drill; nothing can be rated.".into(),
    }
}

/// How long the outage really lasted, and whether it was cut short.
fn outage_actual(state: &State) -> String {
    match (state.outage_started, state.outage_ended) {
        (Some((start, _, _)), Some((end, early))) => {
            let length = text::length(end.millis_since(start));
            if early {
                format!("{length} (cut short)")
            } else {
                length
            }
        }
        (Some(_), None) => "did not end cleanly".into(),
        _ => "did not start".into(),
    }
}

fn target_metrics(state: &State) -> Option<BTreeMap<String, f64>> {
    match (&state.metrics_before, &state.metrics_after) {
        (Some(b), Some(a)) => Some(crate::target::metrics::deltas(b, a)),
        _ => None,
    }
}

fn check_view(result: Option<&crate::drill::state::CheckResult>) -> CheckView {
    match result {
        Some(r) => CheckView {
            outcome: if r.passed { "passed" } else { "failed" },
            latency_ms: r.latency_ms.map(round3),
            channel: r.channel.clone(),
        },
        None => CheckView {
            outcome: "skipped",
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
        None if state.restore_outstanding() => {
            "restore did not run: run `outage-drill recover` on this folder".into()
        }
        None => "ok".into(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::event::EventKind;
    use crate::record::testkit::{Script, TWO_CHANNELS};

    #[test]
    fn a_drill_the_harness_could_not_run_still_renders() {
        let mut s = Script::new(TWO_CHANNELS);
        s.events.truncate(1);
        s.push(
            5,
            EventKind::HarnessFailed {
                error: "127.0.0.1:2525 is in use".into(),
            },
        );
        s.push(
            6,
            EventKind::DrillFinished {
                verdict: "error".into(),
            },
        );
        let view = build(&State::from_events(&s.events));
        assert_eq!(view.verdict, Verdict::Error);
        assert_eq!(view.outage_actual, "did not start");
        let render = super::super::render::render_both;
        let (md, html) = render(&view).unwrap();
        assert!(md.contains("**Verdict: ERROR**"), "{md}");
        assert!(md.contains("The harness could not run the drill"), "{md}");
        assert!(html.contains("<svg"), "the chart is drawn even when empty");
    }

    #[test]
    fn late_and_uncounted_arrivals_are_marked_in_the_timeline() {
        let mut s = Script::new(TWO_CHANNELS);
        let nonce = s.fire(1_000, "phish", 1);
        s.arrive(11_500, "slack", &nonce);
        s.arrive(30_000, "teams", &nonce);
        let view = build(&s.finish(31_000));
        let rows: Vec<&str> = view.timeline.iter().map(|r| r.what.as_str()).collect();
        assert!(
            rows.contains(&"Arrived: phish #1 on slack after 10.500 s — LATE"),
            "{rows:?}"
        );
        assert!(
            rows.contains(
                &"Arrived: phish #1 on teams after 29.000 s — after its verdict, not counted"
            ),
            "{rows:?}"
        );
        let fired = view
            .timeline
            .iter()
            .find(|r| r.what.starts_with("Fired"))
            .unwrap();
        assert_eq!(
            (fired.planned_s.as_str(), fired.offset_s.as_str()),
            ("+0.900", "+0.900")
        );
        assert_eq!(view.firings[0].outcome, Outcome::Late);
        assert_eq!(
            view.firings[0].latency_vs_rto,
            "10.500 s of 10s (5.0 % over)"
        );
    }

    #[test]
    fn the_next_test_is_due_from_the_runs_own_start_date() {
        let view = build(&Script::new(TWO_CHANNELS).finish(1_000));
        assert!(
            view.next_due.starts_with("2026-06-01 (quarterly"),
            "{}",
            view.next_due
        );
        let yaml = TWO_CHANNELS.replace("frequency: quarterly, ", "");
        let view = build(&Script::new(&yaml).finish(1_000));
        assert!(
            view.next_due.starts_with("not scheduled"),
            "{}",
            view.next_due
        );
    }
}
