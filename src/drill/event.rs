//! Everything that happens in a drill, as past-tense events.
//!
//! The journal is these events, one JSON object a line; the verdicts, the
//! summary and the record are computed from them alone ([`super::state`]).
//! An event carries every datum a reader needs, so nothing has to be looked
//! up elsewhere when a run is re-rendered years later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::Stamp;
use crate::scenario::model::{Fault, Scenario, Severity};

/// One line of the journal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, as nanoseconds since the drill's origin.
    pub t: Stamp,
    /// The same moment in UTC, for people reading the journal.
    pub at: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The run's stages, in the order spec section 1 gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Validate,
    Setup,
    Baseline,
    Outage,
    Restore,
    Recovery,
    Settle,
    Record,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Validate => "validate",
            Stage::Setup => "setup",
            Stage::Baseline => "baseline",
            Stage::Outage => "outage",
            Stage::Restore => "restore",
            Stage::Recovery => "recovery",
            Stage::Settle => "settle",
            Stage::Record => "record",
        }
    }
}

/// Why a firing was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A scenario alert fired during the outage.
    Outage,
    /// The canary fired before any fault.
    Baseline,
    /// The canary fired after restore.
    Recovery,
}

/// Which side of the outage an action belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionSide {
    Inject,
    Restore,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The scenario validated and the run began.
    DrillStarted {
        run_id: String,
        tool_version: String,
        scenario_file: String,
        /// The resolved scenario, secrets already masked.
        scenario: Box<Scenario>,
        origin_utc: String,
        seed: u64,
        speed: f64,
        live: bool,
        out_dir: String,
        /// Participants added on the command line.
        #[serde(default)]
        participants: Vec<crate::scenario::model::Participant>,
    },
    /// The run entered a stage.
    StageStarted { stage: Stage },
    /// A channel's endpoint is listening.
    EndpointBound {
        channel: String,
        kind: String,
        addr: String,
    },
    /// The target's own process was started.
    TargetStarted {
        command: Vec<String>,
        pid: Option<u32>,
    },
    /// The target's readiness URL answered.
    TargetReady { waited_ms: f64 },
    /// The target's process was stopped.
    TargetStopped { how: String },
    /// The outage began; `planned_ms` is its (sped-up) length.
    OutageStarted { planned_ms: f64, phases: usize },
    /// A set of faults took effect (the start of an outage phase).
    FaultsApplied {
        phase: usize,
        planned_offset_ms: f64,
        faults: BTreeMap<String, Fault>,
    },
    /// Every fault was lifted.
    FaultsLifted,
    /// The outage ended (normally, or cut short by an interruption).
    OutageEnded { early: bool },
    /// Restore actions that must run even if the harness dies; written and
    /// flushed before the first inject action.
    RestorePending { actions: usize },
    /// An inject or restore action began.
    ActionStarted {
        side: ActionSide,
        index: usize,
        description: String,
    },
    /// An inject or restore action ended.
    ActionFinished {
        side: ActionSide,
        index: usize,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        elapsed_ms: f64,
    },
    /// Every restore action has been run; `ok` is false when any failed.
    RestoreFinished {
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Set when a later `recover` command, not the run itself, restored.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_recover: bool,
    },
    /// An alert (or a canary) was handed to the target.
    AlertFired {
        nonce: String,
        alert: String,
        title: String,
        severity: Severity,
        purpose: Purpose,
        /// Firing number of this alert, from 1.
        n: u32,
        rto_ms: u64,
        /// Empty for `any`.
        expect: Vec<String>,
        /// Planned offset from the outage start (sped up), for outage firings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        planned_offset_ms: Option<f64>,
    },
    /// The target refused or failed to take the alert.
    FireFailed { nonce: String, error: String },
    /// The built-in target tried a route.
    RouteFailed {
        nonce: String,
        channel: String,
        error: String,
        elapsed_ms: f64,
    },
    /// The built-in target's route accepted the alert.
    RouteAccepted {
        nonce: String,
        channel: String,
        elapsed_ms: f64,
    },
    /// The built-in target gave up: every route failed.
    RoutesExhausted { nonce: String },
    /// A channel's endpoint received content carrying a live nonce.
    ArrivalSeen { channel: String, nonce: String },
    /// The target reached a faulted endpoint (a session or request).
    FaultAttempted { channel: String },
    /// A fault took effect on that attempt.
    FaultHit {
        channel: String,
        fail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
    },
    /// A baseline or recovery check was decided.
    CheckFinished {
        check: Purpose,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// The target's own failure counters (Alertmanager `/metrics`), read
    /// before the outage and after restore.
    TargetMetrics {
        when: String,
        metrics: BTreeMap<String, f64>,
    },
    /// Ctrl-C or SIGTERM arrived.
    Interrupted { signal: String },
    /// The harness could not run the drill.
    HarnessFailed { error: String },
    /// The last event of a run: its verdict, as computed from the journal.
    DrillFinished { verdict: String },
    /// An artifact was written.
    OutputWritten { file: String },
}
