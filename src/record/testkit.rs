//! Hand-made journals for the record's unit tests: a scenario from YAML,
//! then events at chosen milliseconds, folded into a [`State`].

use std::path::Path;

use crate::drill::clock::Stamp;
use crate::drill::event::{ActionSide, Event, EventKind, Purpose, Stage};
use crate::drill::state::State;
use crate::scenario::LoadOptions;
use crate::scenario::load::load_bytes;
use crate::scenario::model::{Expect, Scenario};

/// When the outage starts in every test journal.
pub const OUTAGE_AT: u64 = 100;

/// A journal under construction.
pub struct Script {
    pub scenario: Scenario,
    pub events: Vec<Event>,
}

fn stamp(ms: u64) -> Stamp {
    Stamp(ms * 1_000_000)
}

impl Script {
    /// A run of the scenario in `yaml`, with its first phase applied at
    /// [`OUTAGE_AT`] ms.
    pub fn new(yaml: &str) -> Script {
        let loaded = load_bytes(
            Path::new("t.yaml"),
            yaml.as_bytes(),
            LoadOptions::default(),
            &|_| None,
        )
        .expect("the test scenario loads");
        let scenario = loaded.scenario;
        let mut s = Script {
            scenario: scenario.clone(),
            events: Vec::new(),
        };
        s.push(
            0,
            EventKind::DrillStarted {
                run_id: "t3st01".into(),
                tool_version: "0.0.0-test".into(),
                scenario_file: "t.yaml".into(),
                scenario: Box::new(scenario.clone()),
                origin_utc: "2026-03-01T10:00:00.000Z".into(),
                seed: 1,
                speed: 1.0,
                live: false,
                out_dir: "out".into(),
                participants: Vec::new(),
            },
        );
        s.push(
            OUTAGE_AT,
            EventKind::StageStarted {
                stage: Stage::Outage,
            },
        );
        s.push(
            OUTAGE_AT,
            EventKind::OutageStarted {
                planned_ms: 60_000.0,
                phases: 1,
            },
        );
        s.push(
            OUTAGE_AT,
            EventKind::FaultsApplied {
                phase: 0,
                planned_offset_ms: 0.0,
                faults: scenario.outage.faults.clone(),
            },
        );
        s
    }

    pub fn push(&mut self, ms: u64, kind: EventKind) -> &mut Self {
        self.events.push(Event {
            t: stamp(ms),
            at: String::new(),
            kind,
        });
        self
    }

    /// Fires firing `n` of `alert` at `ms`; returns its nonce.
    pub fn fire(&mut self, ms: u64, alert: &str, n: u32) -> String {
        let a = self
            .scenario
            .alerts
            .iter()
            .find(|a| a.name == alert)
            .expect("the alert is in the scenario")
            .clone();
        let nonce = format!("DRILL-t3st01-{alert}-{n}");
        self.push(
            ms,
            EventKind::AlertFired {
                nonce: nonce.clone(),
                alert: alert.into(),
                title: a.title().into(),
                severity: a.severity,
                purpose: Purpose::Outage,
                n,
                rto_ms: a.rto.as_millis(),
                expect: match &a.expect {
                    Expect::Any => Vec::new(),
                    Expect::All(list) => list.clone(),
                },
                planned_offset_ms: Some(ms.saturating_sub(OUTAGE_AT) as f64),
            },
        );
        nonce
    }

    pub fn arrive(&mut self, ms: u64, channel: &str, nonce: &str) -> &mut Self {
        self.push(
            ms,
            EventKind::ArrivalSeen {
                channel: channel.into(),
                nonce: nonce.into(),
            },
        )
    }

    /// The target reached `channel` and its fault failed it.
    pub fn hit(&mut self, ms: u64, channel: &str) -> &mut Self {
        self.push(
            ms,
            EventKind::FaultAttempted {
                channel: channel.into(),
            },
        );
        self.push(
            ms,
            EventKind::FaultHit {
                channel: channel.into(),
                fail: "defer".into(),
                stage: None,
            },
        )
    }

    /// An inject action that succeeded, and a restore that ended with `ok`.
    pub fn inject_and_restore(&mut self, ms: u64, ok: bool) -> &mut Self {
        self.push(
            OUTAGE_AT,
            EventKind::ActionStarted {
                side: ActionSide::Inject,
                index: 0,
                description: "command: disable-connector".into(),
            },
        );
        self.push(
            OUTAGE_AT,
            EventKind::ActionFinished {
                side: ActionSide::Inject,
                index: 0,
                ok: true,
                error: None,
                elapsed_ms: 1.0,
            },
        );
        self.push(ms, EventKind::FaultsLifted);
        self.push(
            ms,
            EventKind::RestoreFinished {
                ok,
                error: (!ok).then(|| "restore action 1 failed".into()),
                by_recover: false,
            },
        )
    }

    /// Lifts the faults (unless already lifted), ends the outage and
    /// finishes the drill at `ms`.
    pub fn finish(&mut self, ms: u64) -> State {
        if !self
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::FaultsLifted))
        {
            self.push(ms, EventKind::FaultsLifted);
        }
        self.push(ms, EventKind::OutageEnded { early: false });
        let state = State::from_events(&self.events);
        let (verdict, _) = crate::drill::verdict::verdict(&state);
        self.push(
            ms,
            EventKind::DrillFinished {
                verdict: verdict.as_str().into(),
            },
        );
        State::from_events(&self.events)
    }
}

/// Two channels: a primary mail server and Slack, failover between them.
pub const TWO_CHANNELS: &str = "version: 1
name: t
title: Test drill
exercise: { frequency: quarterly, facilitator: Dana }
channels:
  - { name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\" }
  - { name: teams, kind: teams, listen: \"127.0.0.1:0\", shares_fate_with: [mail] }
  - { name: slack, kind: slack, listen: \"127.0.0.1:0\" }
outage:
  duration: 1m
  faults:
    mail: { fail: defer, rate: 0.5 }
    teams: { fail: unavailable }
target:
  kind: builtin
  routes:
    - { channel: mail, timeout: 1s }
    - { channel: teams, timeout: 1s }
    - { channel: slack, timeout: 1s }
alerts:
  - { name: phish, title: Phishing, severity: critical, rto: 10s }
  - { name: edr, title: EDR, severity: high, rto: 10s }
checks: { baseline: false, recovery: false }
";
