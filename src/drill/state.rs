//! The run folded from its events: what fired, what arrived, what broke.
//!
//! [`State::apply`] is the only way state changes, so the live orchestrator
//! and `outage-drill report` (which replays a journal) see the same thing,
//! and verdicts ([`super::verdict`]) are pure functions of it.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::clock::Stamp;
use super::event::{ActionSide, Event, EventKind, Purpose, Stage};
use crate::scenario::model::{Fault, Participant, Scenario, Severity};

/// How often the target reached a faulted channel, and how often it failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    pub attempts: u64,
    pub failed: u64,
}

/// One alert handed to the target (an outage firing or a canary).
#[derive(Clone, Debug)]
pub struct Firing {
    pub nonce: String,
    pub alert: String,
    pub title: String,
    pub severity: Severity,
    pub purpose: Purpose,
    pub n: u32,
    pub rto_ms: u64,
    /// Empty means `any`.
    pub expect: Vec<String>,
    pub planned_offset_ms: Option<f64>,
    pub fired: Stamp,
    pub fire_error: Option<String>,
    /// Built-in target only: route outcomes in order.
    pub routes: Vec<RouteResult>,
    /// Built-in target only: every route failed.
    pub exhausted: bool,
    /// First arrival per channel.
    pub arrivals: BTreeMap<String, Stamp>,
    /// Every arrival, duplicates included.
    pub arrival_count: u32,
}

#[derive(Clone, Debug)]
pub struct RouteResult {
    pub channel: String,
    pub accepted: bool,
    pub error: Option<String>,
    pub elapsed_ms: f64,
    /// When the route's outcome was journaled.
    pub at: Stamp,
}

#[derive(Clone, Debug)]
pub struct ActionRecord {
    pub side: ActionSide,
    pub index: usize,
    pub description: String,
    pub started: Stamp,
    pub finished: Option<(Stamp, bool, Option<String>)>,
}

#[derive(Clone, Debug)]
pub struct CheckResult {
    pub passed: bool,
    pub latency_ms: Option<f64>,
    pub channel: Option<String>,
    pub at: Stamp,
}

#[derive(Clone, Debug)]
pub struct Applied {
    pub phase: usize,
    pub planned_offset_ms: f64,
    pub at: Stamp,
    pub faults: BTreeMap<String, Fault>,
}

/// Facts from `DrillStarted`.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub run_id: String,
    pub tool_version: String,
    pub scenario_file: String,
    pub scenario: Scenario,
    pub origin_utc: String,
    pub seed: u64,
    pub speed: f64,
    pub live: bool,
    pub out_dir: String,
    pub participants: Vec<Participant>,
}

#[derive(Clone, Debug, Default)]
pub struct State {
    pub run: Option<RunInfo>,
    pub stages: Vec<(Stage, Stamp)>,
    pub endpoints: Vec<(String, String, String)>,
    pub target_started: Option<(Stamp, Vec<String>)>,
    pub target_ready_ms: Option<f64>,
    pub target_stopped: Option<(Stamp, String)>,
    pub firings: Vec<Firing>,
    index: HashMap<String, usize>,
    pub faults: BTreeMap<String, FaultCounts>,
    pub applied: Vec<Applied>,
    pub outage_started: Option<(Stamp, f64, usize)>,
    pub outage_ended: Option<(Stamp, bool)>,
    pub faults_lifted: Option<Stamp>,
    pub restore_pending: Option<usize>,
    pub actions: Vec<ActionRecord>,
    pub restore: Option<(Stamp, bool, Option<String>, bool)>,
    pub baseline: Option<CheckResult>,
    pub recovery: Option<CheckResult>,
    pub interrupted: Option<(Stamp, String)>,
    pub harness_error: Option<String>,
    pub finished: Option<(Stamp, String)>,
    /// Target metrics read before the outage and after restore.
    pub metrics_before: Option<BTreeMap<String, f64>>,
    pub metrics_after: Option<BTreeMap<String, f64>>,
    /// The last event's time.
    pub last: Stamp,
}

impl State {
    /// Replays a journal.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
        let mut state = State::default();
        for event in events {
            state.apply(event);
        }
        state
    }

    pub fn apply(&mut self, event: &Event) {
        let t = event.t;
        self.last = self.last.max(t);
        match &event.kind {
            EventKind::DrillStarted {
                run_id,
                tool_version,
                scenario_file,
                scenario,
                origin_utc,
                seed,
                speed,
                live,
                out_dir,
                participants,
            } => {
                self.run = Some(RunInfo {
                    run_id: run_id.clone(),
                    tool_version: tool_version.clone(),
                    scenario_file: scenario_file.clone(),
                    scenario: (**scenario).clone(),
                    origin_utc: origin_utc.clone(),
                    seed: *seed,
                    speed: *speed,
                    live: *live,
                    out_dir: out_dir.clone(),
                    participants: participants.clone(),
                });
            }
            EventKind::StageStarted { stage } => self.stages.push((*stage, t)),
            EventKind::EndpointBound {
                channel,
                kind,
                addr,
            } => {
                self.endpoints
                    .push((channel.clone(), kind.clone(), addr.clone()));
            }
            EventKind::TargetStarted { command, .. } => {
                self.target_started = Some((t, command.clone()));
            }
            EventKind::TargetReady { waited_ms } => self.target_ready_ms = Some(*waited_ms),
            EventKind::TargetStopped { how } => self.target_stopped = Some((t, how.clone())),
            EventKind::OutageStarted { planned_ms, phases } => {
                self.outage_started = Some((t, *planned_ms, *phases));
            }
            EventKind::FaultsApplied {
                phase,
                planned_offset_ms,
                faults,
            } => {
                for name in faults.keys() {
                    self.faults.entry(name.clone()).or_default();
                }
                self.applied.push(Applied {
                    phase: *phase,
                    planned_offset_ms: *planned_offset_ms,
                    at: t,
                    faults: faults.clone(),
                });
            }
            EventKind::FaultsLifted => self.faults_lifted = Some(t),
            EventKind::OutageEnded { early } => self.outage_ended = Some((t, *early)),
            EventKind::RestorePending { actions } => self.restore_pending = Some(*actions),
            EventKind::ActionStarted {
                side,
                index,
                description,
            } => {
                self.actions.push(ActionRecord {
                    side: *side,
                    index: *index,
                    description: description.clone(),
                    started: t,
                    finished: None,
                });
            }
            EventKind::ActionFinished {
                side,
                index,
                ok,
                error,
                ..
            } => {
                let record = self
                    .actions
                    .iter_mut()
                    .rev()
                    .find(|a| a.side == *side && a.index == *index && a.finished.is_none());
                if let Some(record) = record {
                    record.finished = Some((t, *ok, error.clone()));
                }
            }
            EventKind::RestoreFinished {
                ok,
                error,
                by_recover,
            } => {
                self.restore = Some((t, *ok, error.clone(), *by_recover));
            }
            EventKind::AlertFired {
                nonce,
                alert,
                title,
                severity,
                purpose,
                n,
                rto_ms,
                expect,
                planned_offset_ms,
            } => {
                self.index.insert(nonce.clone(), self.firings.len());
                self.firings.push(Firing {
                    nonce: nonce.clone(),
                    alert: alert.clone(),
                    title: title.clone(),
                    severity: *severity,
                    purpose: *purpose,
                    n: *n,
                    rto_ms: *rto_ms,
                    expect: expect.clone(),
                    planned_offset_ms: *planned_offset_ms,
                    fired: t,
                    fire_error: None,
                    routes: Vec::new(),
                    exhausted: false,
                    arrivals: BTreeMap::new(),
                    arrival_count: 0,
                });
            }
            EventKind::FireFailed { nonce, error } => {
                if let Some(f) = self.firing_mut(nonce) {
                    f.fire_error = Some(error.clone());
                }
            }
            EventKind::RouteFailed {
                nonce,
                channel,
                error,
                elapsed_ms,
            } => {
                // A listener stopped by `refuse` cannot count what the kernel
                // turned away; the built-in target's refused connection is
                // that attempt.
                if self.refusing(channel) && error.contains("refused") {
                    let counts = self.faults.entry(channel.clone()).or_default();
                    counts.attempts += 1;
                    counts.failed += 1;
                }
                if let Some(f) = self.firing_mut(nonce) {
                    f.routes.push(RouteResult {
                        channel: channel.clone(),
                        accepted: false,
                        error: Some(error.clone()),
                        elapsed_ms: *elapsed_ms,
                        at: t,
                    });
                }
            }
            EventKind::RouteAccepted {
                nonce,
                channel,
                elapsed_ms,
            } => {
                if let Some(f) = self.firing_mut(nonce) {
                    f.routes.push(RouteResult {
                        channel: channel.clone(),
                        accepted: true,
                        error: None,
                        elapsed_ms: *elapsed_ms,
                        at: t,
                    });
                }
            }
            EventKind::RoutesExhausted { nonce } => {
                if let Some(f) = self.firing_mut(nonce) {
                    f.exhausted = true;
                }
            }
            EventKind::ArrivalSeen { channel, nonce } => {
                if let Some(f) = self.firing_mut(nonce) {
                    f.arrival_count += 1;
                    // Repeat arrivals (a sink under load sees many) must not
                    // cost an allocation each.
                    match f.arrivals.get_mut(channel) {
                        Some(first) => *first = (*first).min(t),
                        None => {
                            f.arrivals.insert(channel.clone(), t);
                        }
                    }
                }
            }
            EventKind::FaultAttempted { channel } => {
                self.faults.entry(channel.clone()).or_default().attempts += 1;
            }
            EventKind::FaultHit { channel, .. } => {
                self.faults.entry(channel.clone()).or_default().failed += 1;
            }
            EventKind::CheckFinished {
                check,
                passed,
                latency_ms,
                channel,
            } => {
                let result = CheckResult {
                    passed: *passed,
                    latency_ms: *latency_ms,
                    channel: channel.clone(),
                    at: t,
                };
                match check {
                    Purpose::Baseline => self.baseline = Some(result),
                    Purpose::Recovery => self.recovery = Some(result),
                    Purpose::Outage => {}
                }
            }
            EventKind::Interrupted { signal } => {
                self.interrupted.get_or_insert((t, signal.clone()));
            }
            EventKind::HarnessFailed { error } => {
                self.harness_error.get_or_insert_with(|| error.clone());
            }
            EventKind::DrillFinished { verdict } => self.finished = Some((t, verdict.clone())),
            EventKind::TargetMetrics { when, metrics } => {
                if when == "before" {
                    self.metrics_before = Some(metrics.clone());
                } else {
                    self.metrics_after = Some(metrics.clone());
                }
            }
        }
    }

    /// Whether `channel` is under a `refuse` fault right now.
    fn refusing(&self, channel: &str) -> bool {
        let lifted_after = |at: Stamp| self.faults_lifted.is_some_and(|l| l >= at);
        self.applied.last().is_some_and(|a| {
            !lifted_after(a.at)
                && a.faults
                    .get(channel)
                    .is_some_and(|f| f.fail == crate::scenario::model::FailMode::Refuse)
        })
    }

    fn firing_mut(&mut self, nonce: &str) -> Option<&mut Firing> {
        let i = *self.index.get(nonce)?;
        self.firings.get_mut(i)
    }

    pub fn firing(&self, nonce: &str) -> Option<&Firing> {
        self.index.get(nonce).and_then(|i| self.firings.get(*i))
    }

    pub fn first_arrival(&self, nonce: &str, channel: &str) -> Option<Stamp> {
        self.firing(nonce)?.arrivals.get(channel).copied()
    }

    pub fn fault_counts(&self) -> &BTreeMap<String, FaultCounts> {
        &self.faults
    }

    /// Outage firings (canaries excluded), in firing order.
    pub fn outage_firings(&self) -> impl Iterator<Item = &Firing> {
        self.firings.iter().filter(|f| f.purpose == Purpose::Outage)
    }

    /// Whether inject actions ran (or began) without a finished restore.
    pub fn restore_outstanding(&self) -> bool {
        let injected = self.actions.iter().any(|a| a.side == ActionSide::Inject);
        injected && !self.restore.as_ref().is_some_and(|r| r.1)
    }

    /// When the stage began, if it did.
    pub fn stage_at(&self, stage: Stage) -> Option<Stamp> {
        self.stages
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, t)| *t)
    }
}
