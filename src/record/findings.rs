//! Findings generated from the run: strengths, areas for improvement, the
//! improvement plan pre-filled from them, and the critical-lapse banner.
//!
//! Each rule reads the judged firings ([`super::judge`]) and the folded
//! state, never the clock. Areas for improvement come first in the record
//! (`AFI-n`), then strengths (`STR-n`); every area becomes a row of the
//! improvement plan with blanks for owner, dates and tracking reference.
//! Each finding names its HSEEP capability element (planning,
//! organization, equipment, training, exercises).

use serde::Serialize;

use super::judge::{Channels, Judged, THIN_MARGIN};
use super::text;
use crate::drill::event::ActionSide;
#[cfg(test)]
use crate::drill::event::EventKind;
use crate::drill::state::State;
use crate::drill::verdict::Outcome;
use crate::scenario::model::Severity;

/// One finding as the record prints it.
#[derive(Clone, Debug, Serialize)]
pub struct FindingView {
    /// `AFI-1`, `STR-1`, …
    pub id: String,
    pub title: String,
    pub detail: String,
    /// The suggested corrective action (areas for improvement only).
    pub action: String,
    pub element: &'static str,
}

/// A row of the improvement plan; the blanks are for people to fill in.
#[derive(Clone, Debug, Serialize)]
pub struct PlanRow {
    pub finding: String,
    pub issue: String,
    pub action: String,
    pub element: &'static str,
    pub owner: String,
    pub start: String,
    pub completion: String,
    pub tracking: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Findings {
    /// Lines for the critical-lapse banner; empty when nothing lapsed.
    pub lapses: Vec<String>,
    pub areas: Vec<FindingView>,
    pub strengths: Vec<FindingView>,
    pub plan: Vec<PlanRow>,
}

const PLANNING: &str = "Planning";
const EQUIPMENT: &str = "Equipment";
const EXERCISES: &str = "Exercises";

/// A finding before it is numbered.
struct Draft {
    title: String,
    detail: String,
    action: String,
    element: &'static str,
}

fn draft(title: String, detail: String, action: String, element: &'static str) -> Draft {
    Draft {
        title,
        detail,
        action,
        element,
    }
}

/// Runs every rule over the run.
pub fn find(state: &State, channels: &Channels, judged: &[Judged<'_>]) -> Findings {
    let mut areas = Vec::new();
    let mut strengths = Vec::new();

    run_level(state, &mut areas);
    for (alert, mine) in by_alert(judged) {
        per_alert(&alert, &mine, &mut areas, &mut strengths);
    }
    partial_primaries(judged, &mut areas);
    faults_never_hit(state, channels, &mut areas);
    failover(state, channels, judged, &mut strengths);
    restore_and_recovery(state, &mut areas, &mut strengths);

    let areas: Vec<FindingView> = number("AFI", areas);
    let plan = areas
        .iter()
        .map(|a| PlanRow {
            finding: a.id.clone(),
            issue: a.title.clone(),
            action: a.action.clone(),
            element: a.element,
            owner: String::new(),
            start: String::new(),
            completion: String::new(),
            tracking: String::new(),
        })
        .collect();
    Findings {
        lapses: lapses(state, judged),
        areas,
        strengths: number("STR", strengths),
        plan,
    }
}

fn number(prefix: &str, drafts: Vec<Draft>) -> Vec<FindingView> {
    drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| FindingView {
            id: format!("{prefix}-{}", i + 1),
            title: d.title,
            detail: d.detail,
            action: d.action,
            element: d.element,
        })
        .collect()
}

/// Outage firings grouped per alert, in first-firing order.
fn by_alert<'j, 'a>(judged: &'j [Judged<'a>]) -> Vec<(String, Vec<&'j Judged<'a>>)> {
    let mut groups: Vec<(String, Vec<&Judged<'_>>)> = Vec::new();
    for j in judged {
        match groups.iter_mut().find(|(a, _)| *a == j.firing.alert) {
            Some((_, list)) => list.push(j),
            None => groups.push((j.firing.alert.clone(), vec![j])),
        }
    }
    groups
}

/// `“Title” (name, severity)`, or `name (severity)` when untitled.
fn alert_name(f: &crate::drill::state::Firing) -> String {
    if f.title == f.alert {
        format!("{} ({})", f.alert, f.severity.as_str())
    } else {
        format!("“{}” ({}, {})", f.title, f.alert, f.severity.as_str())
    }
}

fn ns(list: &[&&Judged<'_>]) -> String {
    text::numbers(&list.iter().map(|j| j.firing.n).collect::<Vec<_>>())
}

/// Problems with the run itself: it could not run, was cut short, or the
/// pipeline was broken before the outage.
fn run_level(state: &State, areas: &mut Vec<Draft>) {
    if let Some(error) = &state.harness_error {
        areas.push(draft(
            "The harness could not run the drill".into(),
            format!("The drill stopped before it could test anything: {error}."),
            "Fix the cause (a port in use, a target that did not start), then re-run the drill."
                .into(),
            EXERCISES,
        ));
    }
    if let Some((t, signal)) = &state.interrupted {
        let at = state
            .outage_started
            .map(|o| format!(" at outage {} s", text::offset(t.millis_since(o.0))))
            .unwrap_or_default();
        areas.push(draft(
            "The drill was interrupted".into(),
            format!(
                "{signal} ended the drill early{at}; firings planned after that moment were \
                 not made, so this record covers part of the scenario only."
            ),
            "Re-run the drill to completion and attach that record.".into(),
            EXERCISES,
        ));
    }
    for a in state
        .actions
        .iter()
        .filter(|a| a.side == ActionSide::Inject)
    {
        if let Some((_, false, error)) = &a.finished {
            areas.push(draft(
                format!("Inject action {} failed", a.index + 1),
                format!(
                    "“{}” failed: {}. The outage was not applied as planned.",
                    a.description,
                    error.as_deref().unwrap_or("no error given")
                ),
                "Fix the inject action (credentials, URL, permissions) and re-run.".into(),
                EXERCISES,
            ));
        }
    }
    if state.baseline.as_ref().is_some_and(|b| !b.passed) {
        areas.push(draft(
            "The pipeline was broken before the outage".into(),
            "The baseline canary did not reach a primary channel with no fault active.".into(),
            "Repair the primary alert path, then re-run the drill.".into(),
            EQUIPMENT,
        ));
    }
    if state.finished.is_none() {
        areas.push(draft(
            "The journal ends before the drill finished".into(),
            "No “drill_finished” event: the harness stopped abruptly (a crash or a kill), so \
             the results below may be incomplete."
                .into(),
            "Run “outage-drill recover” on the run folder if restore actions are pending, then \
             re-run the drill."
                .into(),
            EXERCISES,
        ));
    }
}

/// Drops, refusals, late and thin-margin firings, shared-fate deliveries,
/// and a strength for an alert that had none of these.
fn per_alert(
    alert: &str,
    mine: &[&Judged<'_>],
    areas: &mut Vec<Draft>,
    strengths: &mut Vec<Draft>,
) {
    let n = mine.len();
    let first = mine[0].firing;
    let name = alert_name(first);
    let rto = text::rto(first.rto_ms);
    let of = |k: usize| text::of(k, n, "firing");
    let with = |pred: &dyn Fn(&Judged<'_>) -> bool| -> Vec<&&Judged<'_>> {
        mine.iter().filter(|j| pred(j)).collect()
    };

    let silent = with(&|j| j.outcome == Outcome::Dropped && j.arrivals.is_empty());
    if !silent.is_empty() {
        areas.push(draft(
            format!("Silent drop: {name}"),
            format!(
                "{} ({}) reached no channel at all{}; no responder would have been told.",
                of(silent.len()),
                ns(&silent),
                if silent.iter().all(|j| j.firing.exhausted) {
                    " (the target gave up after trying every route)"
                } else {
                    ""
                }
            ),
            format!(
                "Give {alert} a route that does not depend on Exchange Online (chat, paging, \
                 push), then re-run this drill."
            ),
            EQUIPMENT,
        ));
    }
    let missed = with(&|j| j.outcome == Outcome::Dropped && !j.arrivals.is_empty());
    if !missed.is_empty() {
        let expected = first.expect.join(", ");
        areas.push(draft(
            format!("Expected channel missed: {name}"),
            format!(
                "{} ({}) reached some channels but not every expected one ({expected}).",
                of(missed.len()),
                ns(&missed)
            ),
            format!("Route {alert} to every channel the plan expects ({expected})."),
            EQUIPMENT,
        ));
    }
    let refused = with(&|j| j.outcome == Outcome::NotFired);
    if !refused.is_empty() {
        let error = refused[0].firing.fire_error.clone().unwrap_or_default();
        areas.push(draft(
            format!("Pipeline refused the alert: {name}"),
            format!(
                "{} ({}) were not taken by the target; first error: {error}.",
                of(refused.len()),
                ns(&refused)
            ),
            "Make the pipeline accept alerts while mail is down (its intake must not depend on \
             Exchange Online)."
                .into(),
            EQUIPMENT,
        ));
    }
    let late = with(&|j| j.outcome == Outcome::Late);
    if !late.is_empty() {
        let worst = late.iter().filter_map(|j| j.latency_ms).fold(0.0, f64::max);
        areas.push(draft(
            format!("Late: {name}"),
            format!(
                "{} ({}) arrived after the {rto} RTO; the slowest took {}.",
                of(late.len()),
                ns(&late),
                text::latency(worst)
            ),
            "Shorten the failover (route timeouts ahead of the alternate, retries) or agree a \
             realistic RTO."
                .into(),
            EQUIPMENT,
        ));
    }
    let thin = with(&|j| j.thin_margin());
    if !thin.is_empty() {
        let least = thin
            .iter()
            .filter_map(|j| j.margin)
            .fold(f64::INFINITY, f64::min);
        areas.push(draft(
            format!("Thin RTO margin: {name}"),
            format!(
                "{} ({}) arrived in time but with less than {} of the {rto} RTO left \
                 (least: {}).",
                of(thin.len()),
                ns(&thin),
                text::whole_percent(THIN_MARGIN),
                text::percent(least)
            ),
            "Reduce the time spent on failing routes so failover ends well inside the RTO.".into(),
            EQUIPMENT,
        ));
    }
    let shared = with(&|j| j.shared_fate_only);
    if !shared.is_empty() {
        let mut via: Vec<&str> = shared
            .iter()
            .flat_map(|j| j.arrivals.iter().map(|(c, _)| c.as_str()))
            .collect();
        via.sort_unstable();
        via.dedup();
        areas.push(draft(
            format!("Reached only a shared-fate channel: {name}"),
            format!(
                "{} ({}) arrived only on {}, which shares fate with the primary mail \
                 service; in a real Microsoft 365 outage it may be down too.",
                of(shared.len()),
                ns(&shared),
                via.join(", ")
            ),
            "Try an alternate that does not share fate with Exchange Online first, or fault \
             the shared-fate channel in the drill as well."
                .into(),
            PLANNING,
        ));
    }

    let clean = mine
        .iter()
        .all(|j| j.outcome == Outcome::Delivered && !j.thin_margin() && !j.shared_fate_only);
    if clean {
        let worst = mine.iter().filter_map(|j| j.latency_ms).fold(0.0, f64::max);
        let mut via: Vec<&str> = mine
            .iter()
            .flat_map(|j| j.arrivals.first().map(|(c, _)| c.as_str()))
            .collect();
        via.sort_unstable();
        via.dedup();
        strengths.push(draft(
            format!("On time: {name}"),
            format!(
                "{} delivered via {} in {}{} of the {rto} RTO.",
                if n == 1 {
                    "The firing was".to_string()
                } else {
                    format!("All {n} firings were")
                },
                via.join(", "),
                if n == 1 { "" } else { "at most " },
                text::latency(worst)
            ),
            String::new(),
            EQUIPMENT,
        ));
    }
}

/// Firings a primary carried while its fault let a share of attempts
/// through: they show retrying, not failover.
fn partial_primaries(judged: &[Judged<'_>], areas: &mut Vec<Draft>) {
    let mut by_channel: Vec<(String, f64, Vec<String>)> = Vec::new();
    for j in judged {
        for (channel, rate) in &j.partial_primary {
            let label = format!("{} #{}", j.firing.alert, j.firing.n);
            match by_channel.iter_mut().find(|(c, _, _)| c == channel) {
                Some((_, _, list)) => list.push(label),
                None => by_channel.push((channel.clone(), *rate, vec![label])),
            }
        }
    }
    for (channel, rate, firings) in by_channel {
        areas.push(draft(
            format!("Delivered by the primary during a partial outage: {channel}"),
            format!(
                "{} ({}) arrived on the primary {channel} while its fault failed only {} of \
                 attempts; for these the drill shows a retry succeeding, not failover.",
                text::count(firings.len(), "firing"),
                firings.join(", "),
                text::percent(rate)
            ),
            format!(
                "Keep the partial fault if flapping is the point, but add a phase with \
                 {channel} fully down so every alert must fail over."
            ),
            EXERCISES,
        ));
    }
}

/// Faulted channels the target never reached.
fn faults_never_hit(state: &State, channels: &Channels, areas: &mut Vec<Draft>) {
    for (channel, counts) in &state.faults {
        if counts.attempts > 0 || counts.failed > 0 {
            continue;
        }
        let (detail, action) = if channels.is_primary(channel) {
            (
                format!(
                    "The primary {channel} was faulted but the target never reached it, so the \
                     drill shows nothing about failing over from it."
                ),
                format!(
                    "Check that the pipeline really sends through {channel} (address, route \
                     order), then re-run."
                ),
            )
        } else {
            (
                format!(
                    "The alternate {channel} was faulted but the target never tried it (an \
                     earlier route took every alert), so its failure was not exercised."
                ),
                format!(
                    "Fault the channels ahead of {channel} in the same phase, or drop this \
                     fault from the scenario."
                ),
            )
        };
        areas.push(draft(
            format!("Fault never hit: {channel}"),
            detail,
            action,
            EXERCISES,
        ));
    }
}

/// A strength when the target met the primary's fault and still delivered
/// on an independent alternate.
fn failover(state: &State, channels: &Channels, judged: &[Judged<'_>], strengths: &mut Vec<Draft>) {
    let hit: Vec<&String> = state
        .faults
        .iter()
        .filter(|(c, n)| channels.is_primary(c) && n.failed > 0)
        .map(|(c, _)| c)
        .collect();
    if hit.is_empty() {
        return;
    }
    let failed: u64 = hit.iter().map(|c| state.faults[*c].failed).sum();
    let mut via: Vec<&str> = judged
        .iter()
        .filter(|j| matches!(j.outcome, Outcome::Delivered | Outcome::Late))
        .flat_map(|j| j.arrivals.iter().map(|(c, _)| c.as_str()))
        .filter(|c| !channels.is_primary(c) && channels.fate_of(c).is_empty())
        .collect();
    via.sort_unstable();
    via.dedup();
    if via.is_empty() {
        return;
    }
    strengths.push(draft(
        "Failover to an independent channel worked".into(),
        format!(
            "The primary path failed {} ({}) and alerts still arrived on {}, which does not \
             share fate with it.",
            if failed == 1 {
                "once".to_string()
            } else {
                format!("{failed} times")
            },
            hit.iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            via.join(", ")
        ),
        String::new(),
        EQUIPMENT,
    ));
}

fn restore_and_recovery(state: &State, areas: &mut Vec<Draft>, strengths: &mut Vec<Draft>) {
    let injected = state.actions.iter().any(|a| a.side == ActionSide::Inject);
    match &state.restore {
        Some((_, false, error, _)) => areas.push(draft(
            "Restore failed".into(),
            format!(
                "{}. What the drill broke may still be broken.",
                error.as_deref().unwrap_or("a restore action failed")
            ),
            "Restore by hand now (or run “outage-drill recover” on the run folder), then fix \
             the restore action."
                .into(),
            PLANNING,
        )),
        Some((_, true, _, true)) => areas.push(draft(
            "Restore completed only by “outage-drill recover”".into(),
            "The run itself did not finish its restore actions; a later “recover” did.".into(),
            "Find why the run stopped before restoring and make restore actions fast and \
             reliable."
                .into(),
            PLANNING,
        )),
        Some((_, true, _, false)) if injected => strengths.push(draft(
            "Restore actions completed".into(),
            "Every restore action the scenario lists ran and succeeded.".into(),
            String::new(),
            PLANNING,
        )),
        None if injected => areas.push(draft(
            "Restore did not run".into(),
            "Inject actions ran but no restore was recorded.".into(),
            "Run “outage-drill recover” on the run folder now, or restore by hand.".into(),
            PLANNING,
        )),
        _ => {}
    }
    match &state.recovery {
        Some(r) if r.passed => strengths.push(draft(
            "The primary path recovered".into(),
            format!(
                "After restore, the recovery canary arrived on {} in {}.",
                r.channel.as_deref().unwrap_or("a primary channel"),
                r.latency_ms
                    .map(text::latency)
                    .unwrap_or_else(|| "time".into())
            ),
            String::new(),
            EQUIPMENT,
        )),
        Some(_) => areas.push(draft(
            "The primary path did not recover".into(),
            "After restore, the recovery canary did not reach a primary channel within the \
             check RTO."
                .into(),
            "Check the primary path now; find what restore left broken.".into(),
            EQUIPMENT,
        )),
        None => {}
    }
}

/// The critical-lapse banner: a critical alert that reached nobody it had
/// to, or a restore that failed or never ran.
fn lapses(state: &State, judged: &[Judged<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    for (_, mine) in by_alert(judged) {
        let first = mine[0].firing;
        if first.severity != Severity::Critical {
            continue;
        }
        let failed: Vec<&&Judged<'_>> = mine
            .iter()
            .filter(|j| matches!(j.outcome, Outcome::Dropped | Outcome::NotFired))
            .collect();
        if !failed.is_empty() {
            out.push(format!(
                "Critical alert {}: {} ({}) reached no responder in time (dropped or not \
                 fired) during the outage.",
                alert_name(first),
                text::of(failed.len(), mine.len(), "firing"),
                ns(&failed)
            ));
        }
    }
    let injected = state.actions.iter().any(|a| a.side == ActionSide::Inject);
    match &state.restore {
        Some((_, false, error, _)) => out.push(format!(
            "Restore failed: {}. What the drill broke may still be broken.",
            error.as_deref().unwrap_or("a restore action failed")
        )),
        None if injected => out.push(
            "Restore did not run: run “outage-drill recover” on this run's folder.".to_string(),
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::judge::{Channels, outage_firings};
    use crate::record::testkit::{Script, TWO_CHANNELS};

    fn findings(s: &mut Script, end: u64) -> Findings {
        let state = s.finish(end);
        let channels = Channels::of(&state);
        let judged = outage_firings(&state, &channels);
        find(&state, &channels, &judged)
    }

    fn titles(list: &[FindingView]) -> Vec<String> {
        list.iter().map(|f| f.title.clone()).collect()
    }

    #[test]
    fn a_silent_critical_drop_is_a_lapse_an_area_and_a_plan_row() {
        let mut s = Script::new(TWO_CHANNELS);
        s.fire(1_000, "phish", 1);
        s.fire(2_000, "phish", 2);
        let f = findings(&mut s, 20_000);
        assert_eq!(f.lapses.len(), 1, "{:?}", f.lapses);
        assert!(
            f.lapses[0].contains("2 of 2 firings (#1–2)"),
            "{:?}",
            f.lapses
        );
        assert_eq!(f.areas[0].id, "AFI-1");
        assert!(
            f.areas[0].title.starts_with("Silent drop: “Phishing”"),
            "{:?}",
            f.areas
        );
        assert_eq!(f.plan[0].finding, "AFI-1");
        assert!(f.plan[0].owner.is_empty() && f.plan[0].tracking.is_empty());
    }

    #[test]
    fn a_dropped_high_alert_is_an_area_but_not_a_lapse() {
        let mut s = Script::new(TWO_CHANNELS);
        s.fire(1_000, "edr", 1);
        let f = findings(&mut s, 20_000);
        assert!(f.lapses.is_empty(), "{:?}", f.lapses);
        assert!(
            titles(&f.areas)
                .iter()
                .any(|t| t.starts_with("Silent drop: “EDR”"))
        );
    }

    #[test]
    fn faults_never_hit_and_partial_primary_deliveries_are_found() {
        let mut s = Script::new(TWO_CHANNELS);
        let nonce = s.fire(1_000, "phish", 1);
        s.push(
            1_001,
            EventKind::FaultAttempted {
                channel: "mail".into(),
            },
        );
        s.arrive(1_050, "mail", &nonce);
        let f = findings(&mut s, 20_000);
        let areas = titles(&f.areas);
        assert!(
            areas.contains(&"Fault never hit: teams".to_string()),
            "{areas:?}"
        );
        assert!(
            !areas.contains(&"Fault never hit: mail".to_string()),
            "mail was reached: {areas:?}"
        );
        assert!(
            areas.contains(&"Delivered by the primary during a partial outage: mail".to_string()),
            "{areas:?}"
        );
    }

    #[test]
    fn thin_margins_are_areas_and_clean_alerts_strengths() {
        let mut s = Script::new(TWO_CHANNELS);
        let thin = s.fire(1_000, "phish", 1);
        s.hit(1_001, "mail");
        s.arrive(10_000, "slack", &thin);
        let quick = s.fire(2_000, "edr", 1);
        s.arrive(2_010, "slack", &quick);
        let f = findings(&mut s, 20_000);
        assert!(
            titles(&f.areas)
                .iter()
                .any(|t| t.starts_with("Thin RTO margin: “Phishing”"))
        );
        let strengths = titles(&f.strengths);
        assert!(
            strengths.iter().any(|t| t.starts_with("On time: “EDR”")),
            "{strengths:?}"
        );
        assert!(
            strengths.contains(&"Failover to an independent channel worked".to_string()),
            "mail failed, slack carried them: {strengths:?}"
        );
    }

    #[test]
    fn a_failed_restore_is_a_lapse_and_a_good_one_a_strength() {
        let mut bad = Script::new(TWO_CHANNELS);
        bad.inject_and_restore(5_000, false);
        let f = findings(&mut bad, 6_000);
        assert!(
            f.lapses.iter().any(|l| l.starts_with("Restore failed")),
            "{:?}",
            f.lapses
        );
        assert!(titles(&f.areas).contains(&"Restore failed".to_string()));

        let mut good = Script::new(TWO_CHANNELS);
        good.inject_and_restore(5_000, true);
        let f = findings(&mut good, 6_000);
        assert!(f.lapses.is_empty(), "{:?}", f.lapses);
        assert!(titles(&f.strengths).contains(&"Restore actions completed".to_string()));
    }

    #[test]
    fn a_journal_without_its_end_says_so() {
        let s = Script::new(TWO_CHANNELS);
        let state = State::from_events(&s.events);
        let f = find(&state, &Channels::of(&state), &[]);
        assert!(
            titles(&f.areas).contains(&"The journal ends before the drill finished".to_string())
        );
    }
}
