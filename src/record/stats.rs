//! The record's metrics: counts by outcome, latency percentiles per
//! channel, how often each fault was hit, and the target's own counters.
//!
//! Percentiles are exact, by the nearest-rank method over the sorted
//! latencies: a drill makes tens of firings (a storm a few thousand), so a
//! sorted list is cheap and, unlike a histogram, reports the very values
//! the per-firing table shows.

use std::collections::BTreeMap;

use serde::Serialize;

use super::judge::{Channels, Judged};
use super::text;
use crate::drill::state::State;
use crate::drill::verdict::{Counts, Outcome};

#[derive(Clone, Debug, Serialize)]
pub struct OutcomeRow {
    pub outcome: &'static str,
    pub count: u32,
    pub share: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyRow {
    pub channel: String,
    pub role: String,
    /// First arrivals of outage firings counted on this channel.
    pub n: usize,
    pub p50: String,
    pub p95: String,
    pub max: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FaultRow {
    pub channel: String,
    pub role: String,
    /// The faults applied to it, phase by phase.
    pub faults: String,
    pub attempts: u64,
    pub failed: u64,
    /// Share of attempts the fault failed, or `—` when never reached.
    pub failed_share: String,
    pub hit: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct MetricRow {
    pub series: String,
    pub delta: String,
}

/// The value at quantile `q` (0–1] of `sorted`, by nearest rank.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn outcomes(counts: &Counts) -> Vec<OutcomeRow> {
    let total = counts.delivered + counts.late + counts.dropped + counts.not_fired;
    let share = |n: u32| {
        if total == 0 {
            "—".to_string()
        } else {
            text::percent(f64::from(n) / f64::from(total))
        }
    };
    [
        (Outcome::Delivered, counts.delivered),
        (Outcome::Late, counts.late),
        (Outcome::Dropped, counts.dropped),
        (Outcome::NotFired, counts.not_fired),
    ]
    .into_iter()
    .map(|(o, n)| OutcomeRow {
        outcome: o.as_str(),
        count: n,
        share: share(n),
    })
    .collect()
}

/// Latency percentiles per channel (scenario order), then one row for the
/// deciding latency of every delivered or late firing.
pub fn latencies(state: &State, channels: &Channels, judged: &[Judged<'_>]) -> Vec<LatencyRow> {
    let names: Vec<String> = state
        .run
        .as_ref()
        .map(|r| r.scenario.channels.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for name in names {
        let values: Vec<f64> = judged
            .iter()
            .flat_map(|j| j.arrivals.iter())
            .filter(|(c, _)| *c == name)
            .map(|(_, ms)| *ms)
            .collect();
        if !values.is_empty() {
            rows.push(row(name.clone(), channels.role(&name).to_string(), values));
        }
    }
    let deciding: Vec<f64> = judged.iter().filter_map(|j| j.latency_ms).collect();
    if !deciding.is_empty() {
        rows.push(row(
            "all firings".into(),
            "deciding arrival".into(),
            deciding,
        ));
    }
    rows
}

fn row(channel: String, role: String, mut values: Vec<f64>) -> LatencyRow {
    values.sort_by(f64::total_cmp);
    let show = |q: f64| {
        nearest_rank(&values, q)
            .map(text::latency)
            .unwrap_or_default()
    };
    LatencyRow {
        channel,
        role,
        n: values.len(),
        p50: show(0.50),
        p95: show(0.95),
        max: show(1.0),
    }
}

/// Every faulted channel: what was applied, how often it was reached and
/// how often the fault failed it.
pub fn faults(state: &State, channels: &Channels) -> Vec<FaultRow> {
    let mut applied: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for a in &state.applied {
        for (channel, fault) in &a.faults {
            applied.entry(channel.as_str()).or_default().push(format!(
                "phase {}: {}",
                a.phase + 1,
                text::fault(fault)
            ));
        }
    }
    state
        .faults
        .iter()
        .map(|(channel, n)| FaultRow {
            channel: channel.clone(),
            role: channels.role(channel).to_string(),
            faults: applied
                .get(channel.as_str())
                .map(|l| l.join("; "))
                .unwrap_or_default(),
            attempts: n.attempts,
            failed: n.failed,
            failed_share: if n.attempts == 0 {
                "—".into()
            } else {
                text::percent(n.failed as f64 / n.attempts as f64)
            },
            hit: n.attempts > 0 || n.failed > 0,
        })
        .collect()
}

/// The target's failure counters that moved across the outage, and how
/// many did not (a receiver type nobody configured stays at zero, and a
/// table of zeros would hide the ones that count).
pub fn metric_deltas(deltas: Option<&BTreeMap<String, f64>>) -> (Vec<MetricRow>, usize) {
    let all: Vec<(&String, &f64)> = deltas.into_iter().flatten().collect();
    let moved: Vec<MetricRow> = all
        .iter()
        .filter(|(_, d)| **d != 0.0)
        .map(|(series, delta)| MetricRow {
            series: (*series).clone(),
            delta: format!("{delta}"),
        })
        .collect();
    let unchanged = all.len() - moved.len();
    (moved, unchanged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_actual_values() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(10.0));
        assert_eq!(nearest_rank(&v, 0.95), Some(19.0));
        assert_eq!(nearest_rank(&v, 1.0), Some(20.0));
        assert_eq!(nearest_rank(&[7.0], 0.5), Some(7.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn only_counters_that_moved_are_listed() {
        let deltas: BTreeMap<String, f64> = [("a{x=\"email\"}", 9.0), ("a{x=\"slack\"}", 0.0)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let (rows, unchanged) = metric_deltas(Some(&deltas));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].series.as_str(), rows[0].delta.as_str()),
            ("a{x=\"email\"}", "9")
        );
        assert_eq!(unchanged, 1);
        assert_eq!(metric_deltas(None).0.len(), 0);
    }

    #[test]
    fn outcome_shares_add_up() {
        let counts = Counts {
            delivered: 3,
            late: 1,
            dropped: 0,
            not_fired: 0,
        };
        let rows = outcomes(&counts);
        assert_eq!(rows[0].share, "75.0 %");
        assert_eq!(rows[1].share, "25.0 %");
        assert_eq!(outcomes(&Counts::default())[0].share, "—");
    }
}
