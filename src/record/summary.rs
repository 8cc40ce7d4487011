//! summary.json: the machine-readable result (spec section 8 and
//! `summary.schema.json`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::view::{ArrivalView, ChecksView, FaultView, View};
use crate::drill::verdict::Counts;

#[derive(Serialize)]
pub struct Summary<'a> {
    pub verdict: &'static str,
    pub reasons: &'a [String],
    pub scenario: &'a str,
    pub title: &'a str,
    pub run_id: &'a str,
    pub started_at: &'a str,
    pub finished_at: &'a str,
    pub speed: f64,
    pub seed: u64,
    pub counts: Counts,
    pub alerts: Vec<AlertEntry<'a>>,
    pub faults: &'a BTreeMap<String, FaultView>,
    pub checks: &'a ChecksView,
    pub restore: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alertmanager_metrics: Option<&'a BTreeMap<String, f64>>,
}

#[derive(Serialize)]
pub struct AlertEntry<'a> {
    pub name: &'a str,
    pub nonce: &'a str,
    pub severity: &'a str,
    pub fired_at: &'a str,
    pub rto_ms: u64,
    pub outcome: &'a str,
    pub arrivals: &'a [ArrivalView],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

pub fn build(view: &View) -> Summary<'_> {
    Summary {
        verdict: view.verdict.as_str(),
        reasons: &view.reasons,
        scenario: &view.scenario,
        title: &view.title,
        run_id: &view.run_id,
        started_at: &view.started_at,
        finished_at: &view.finished_at,
        speed: view.speed,
        seed: view.seed,
        counts: view.counts,
        alerts: view
            .firings
            .iter()
            .map(|f| AlertEntry {
                name: &f.name,
                nonce: &f.nonce,
                severity: &f.severity,
                fired_at: &f.fired_at,
                rto_ms: f.rto_ms,
                outcome: f.outcome.as_str(),
                arrivals: &f.arrivals,
                error: f.error.as_deref(),
            })
            .collect(),
        faults: &view.faults,
        checks: &view.checks,
        restore: &view.restore,
        alertmanager_metrics: view.target_metrics.as_ref(),
    }
}
