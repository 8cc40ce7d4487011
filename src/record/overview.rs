//! The record's descriptive sections, from the scenario as the journal
//! stored it: who took part, what was planned (objectives, success
//! criteria, outage phases, actions), the environment (target, channels,
//! shared fate) and the sign-off block.
//!
//! Nothing here judges the run; [`super::judge`], [`super::rating`] and
//! [`super::findings`] do. The scenario in the journal is already masked,
//! so secrets cannot reach the record through these tables.

use serde::Serialize;

use super::judge::Channels;
use super::text;
use crate::drill::state::{RunInfo, State};
use crate::scenario::model::{Expect, RouteMode, Scenario, TargetKind};

#[derive(Clone, Debug, Serialize)]
pub struct ParticipantView {
    pub name: String,
    pub role: String,
    /// `scenario` or `command line`.
    pub source: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct ObjectiveView {
    pub name: String,
    pub title: String,
    pub severity: String,
    pub rto: String,
    /// `any channel`, or the channels that must each receive it.
    pub expect: String,
    /// When it fires, in scenario time: `at +1m, every 15m`.
    pub schedule: String,
    /// The success criterion in one sentence.
    pub criterion: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedPhase {
    pub n: usize,
    pub length: String,
    pub faults: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SignOffRow {
    pub role: &'static str,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckRow {
    pub check: &'static str,
    pub outcome: String,
    pub detail: String,
}

/// Everyone recorded as taking part: the scenario's list, then those added
/// with `--participant`.
pub fn participants(run: &RunInfo) -> Vec<ParticipantView> {
    let listed = run
        .scenario
        .exercise
        .participants
        .iter()
        .map(|p| (p, "scenario"));
    let added = run.participants.iter().map(|p| (p, "command line"));
    listed
        .chain(added)
        .map(|(p, source)| ParticipantView {
            name: p.name.clone(),
            role: if p.role.is_empty() {
                "—".into()
            } else {
                p.role.clone()
            },
            source,
        })
        .collect()
}

/// What the speed factor did, said plainly.
pub fn speed_note(speed: f64, planned_ms: Option<f64>) -> String {
    if speed == 1.0 {
        return "1× — real time".into();
    }
    let (how, verb) = if speed > 1.0 {
        ("SPED UP", "divided")
    } else {
        ("SLOWED DOWN", "multiplied")
    };
    let factor = if speed > 1.0 { speed } else { 1.0 / speed };
    let outage = planned_ms
        .map(|ms| {
            format!(
                " The outage planned for {} ran in {}.",
                text::length(ms * speed),
                text::length(ms)
            )
        })
        .unwrap_or_default();
    format!(
        "{speed}× — {how}: the outage, its phases and the alerts' at/every offsets were {verb} \
         by {factor}; RTOs and timeouts were not.{outage} Latencies are real, but the pipeline \
         saw faults change at {speed}× the pace of a real outage."
    )
}

pub fn objectives(scenario: &Scenario) -> Vec<ObjectiveView> {
    scenario
        .alerts
        .iter()
        .map(|a| {
            let expect = match &a.expect {
                Expect::Any => "any channel".to_string(),
                Expect::All(list) => list.join(", "),
            };
            let mut schedule = format!("at +{}", a.at);
            if let Some(every) = a.every {
                schedule.push_str(&format!(", every {every}"));
            }
            let criterion = match &a.expect {
                Expect::Any => {
                    format!("every firing reaches at least one channel within {}", a.rto)
                }
                Expect::All(list) => {
                    format!(
                        "every firing reaches each of {} within {}",
                        list.join(", "),
                        a.rto
                    )
                }
            };
            ObjectiveView {
                name: a.name.clone(),
                title: a.title().to_string(),
                severity: a.severity.as_str().to_string(),
                rto: a.rto.to_string(),
                expect,
                schedule,
                criterion,
            }
        })
        .collect()
}

/// The pass limits and canary checks, as sentences.
pub fn criteria(scenario: &Scenario) -> Vec<String> {
    let p = &scenario.pass;
    let c = &scenario.checks;
    let mut out = vec![format!(
        "The drill passes with at most {} dropped, {} late and {} not-fired firing(s), and \
         every check holding.",
        p.max_dropped, p.max_late, p.max_not_fired
    )];
    out.push(if c.baseline {
        format!(
            "Baseline: before any fault, a canary must reach a primary channel within {}.",
            c.rto
        )
    } else {
        "Baseline: not checked (disabled in the scenario).".into()
    });
    out.push(if c.recovery {
        format!(
            "Recovery: after restore, a canary must reach a primary channel within {}.",
            c.rto
        )
    } else {
        "Recovery: not checked (disabled in the scenario).".into()
    });
    out
}

/// How alerts enter the pipeline under test, one line per fact.
pub fn target(scenario: &Scenario) -> Vec<String> {
    let t = &scenario.target;
    let mut out = Vec::new();
    match t.kind {
        TargetKind::Builtin => {
            let mode = match t.mode.unwrap_or_default() {
                RouteMode::Failover => "failover: the first route that accepts, in order",
                RouteMode::Fanout => "fan-out: every route at once",
            };
            out.push(format!("Built-in reference notifier, {mode}."));
            let routes: Vec<String> = t
                .routes
                .iter()
                .map(|r| format!("{} (timeout {})", r.channel, r.timeout))
                .collect();
            out.push(format!("Routes: {}.", routes.join(" → ")));
        }
        TargetKind::Alertmanager => out.push(format!(
            "Prometheus Alertmanager at {}.",
            t.url.as_deref().unwrap_or("?")
        )),
        TargetKind::Webhook => out.push(format!(
            "Webhook: {} {}.",
            t.method.as_deref().unwrap_or("POST").to_uppercase(),
            t.url.as_deref().unwrap_or("?")
        )),
        TargetKind::Command => out.push(format!("Command per alert: {}.", t.argv.join(" "))),
    }
    if let Some(start) = &t.start {
        out.push(format!(
            "Started by the harness: {}{}.",
            start.command.join(" "),
            start
                .ready
                .as_deref()
                .map(|r| format!(", ready when {r} answers"))
                .unwrap_or_default()
        ));
    }
    out
}

/// One warning per alternate that fails together with a primary.
pub fn shared_fate(channels: &Channels) -> Vec<String> {
    channels
        .shared_fate()
        .map(|(alternate, primaries)| {
            format!(
                "{alternate} is an alternate that shares fate with {} (primary): an outage \
                 of the primary may take it down too, so it cannot be counted on as the \
                 fallback.",
                primaries.join(", ")
            )
        })
        .collect()
}

/// The outage as planned (scenario time, before any speed factor).
pub fn planned_phases(scenario: &Scenario) -> Vec<PlannedPhase> {
    if scenario.outage.phases.is_empty() {
        let length = scenario
            .outage
            .duration
            .map(|d| d.to_string())
            .unwrap_or_else(|| "—".into());
        return vec![PlannedPhase {
            n: 1,
            length,
            faults: super::timeline::faults(&scenario.outage.faults),
        }];
    }
    scenario
        .outage
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| PlannedPhase {
            n: i + 1,
            length: p.length.to_string(),
            faults: super::timeline::faults(&p.faults),
        })
        .collect()
}

/// Inject and restore actions as the scenario lists them.
pub fn actions(scenario: &Scenario) -> (Vec<String>, Vec<String>) {
    let describe = |list: &[crate::scenario::model::Action]| {
        list.iter().map(crate::drill::action::describe).collect()
    };
    (
        describe(&scenario.outage.inject),
        describe(&scenario.outage.restore),
    )
}

/// The baseline and recovery checks, as the record tells them.
pub fn checks(state: &State, scenario: Option<&Scenario>) -> Vec<CheckRow> {
    let enabled = |baseline: bool| {
        scenario.is_none_or(|s| {
            if baseline {
                s.checks.baseline
            } else {
                s.checks.recovery
            }
        })
    };
    [
        ("baseline", &state.baseline, true),
        ("recovery", &state.recovery, false),
    ]
    .into_iter()
    .map(|(check, result, is_baseline)| {
        let (outcome, detail) = match result {
            Some(r) => (
                if r.passed { "passed" } else { "failed" }.to_string(),
                match (r.channel.as_deref(), r.latency_ms) {
                    (Some(c), Some(ms)) => format!("arrived on {c} after {}", text::latency(ms)),
                    _ => "no primary channel received the canary in time".into(),
                },
            ),
            None if !enabled(is_baseline) => ("skipped".into(), "disabled in the scenario".into()),
            None => (
                "skipped".into(),
                "not reached: the drill ended before it".into(),
            ),
        };
        CheckRow {
            check,
            outcome,
            detail,
        }
    })
    .collect()
}

/// The sign-off block: who prepares, reviews and approves the record.
pub fn sign_off(scenario: Option<&Scenario>) -> Vec<SignOffRow> {
    let facilitator = scenario
        .and_then(|s| s.exercise.facilitator.clone())
        .unwrap_or_default();
    vec![
        SignOffRow {
            role: "Exercise facilitator (prepared by)",
            name: facilitator,
        },
        SignOffRow {
            role: "Contingency plan coordinator (reviewed by)",
            name: String::new(),
        },
        SignOffRow {
            role: "System owner / authorizing official (approved by)",
            name: String::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::testkit::{Script, TWO_CHANNELS};

    #[test]
    fn a_sped_up_drill_says_so_plainly() {
        assert_eq!(speed_note(1.0, Some(60_000.0)), "1× — real time");
        let note = speed_note(360.0, Some(15_000.0));
        assert!(note.starts_with("360× — SPED UP"), "{note}");
        assert!(
            note.contains("planned for 1 h 30 min ran in 15.0 s"),
            "{note}"
        );
        assert!(note.contains("RTOs and timeouts were not"), "{note}");
        assert!(speed_note(0.5, None).contains("SLOWED DOWN"));
    }

    #[test]
    fn participants_from_the_scenario_come_before_those_added_on_the_command_line() {
        let yaml = TWO_CHANNELS.replace(
            "facilitator: Dana }",
            "facilitator: Dana, participants: [{ name: Lee, role: analyst }] }",
        );
        let mut state = Script::new(&yaml).finish(1_000);
        let run = state.run.as_mut().unwrap();
        run.participants.push(crate::scenario::model::Participant {
            name: "Sam".into(),
            role: String::new(),
        });
        let list = participants(run);
        let rows: Vec<(&str, &str, &str)> = list
            .iter()
            .map(|p| (p.name.as_str(), p.role.as_str(), p.source))
            .collect();
        assert_eq!(
            rows,
            [("Lee", "analyst", "scenario"), ("Sam", "—", "command line")]
        );
        assert_eq!(sign_off(Some(&run.scenario))[0].name, "Dana");
    }

    #[test]
    fn each_shared_fate_alternate_gets_a_warning() {
        let state = Script::new(TWO_CHANNELS).finish(1_000);
        let warnings = shared_fate(&Channels::of(&state));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("teams is an alternate that shares fate with mail"));
    }
}
