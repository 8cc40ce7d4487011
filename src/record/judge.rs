//! What the record concludes about each firing beyond its outcome: the
//! latency that decided it, the share of the RTO left, whether it reached
//! only channels that share fate with the primary, and whether a primary
//! carried it while its fault let some attempts through.
//!
//! [`Judged`] is computed once per firing from the folded state and read by
//! the ratings, the findings and the per-firing table, so they cannot
//! disagree. Like the verdicts, it never reads the clock.

use std::collections::BTreeMap;

use crate::drill::clock::Stamp;
use crate::drill::state::{Firing, State};
use crate::drill::verdict::{self, Outcome};
use crate::scenario::model::Role;

/// A firing delivered with less than this share of its RTO left has a thin
/// margin: a finding, and an `S` rating at best.
pub const THIN_MARGIN: f64 = 0.20;

/// The channels of a run: roles and shared fate.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    roles: BTreeMap<String, Role>,
    /// Alternate → the primaries it shares fate with (declared on either
    /// side).
    fate: BTreeMap<String, Vec<String>>,
}

impl Channels {
    pub fn of(state: &State) -> Channels {
        let Some(run) = &state.run else {
            return Channels::default();
        };
        let list = &run.scenario.channels;
        let roles: BTreeMap<String, Role> = list.iter().map(|c| (c.name.clone(), c.role)).collect();
        let mut fate: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in list.iter().filter(|c| c.role != Role::Primary) {
            let primaries: Vec<String> = list
                .iter()
                .filter(|p| p.role == Role::Primary)
                .filter(|p| {
                    c.shares_fate_with.contains(&p.name) || p.shares_fate_with.contains(&c.name)
                })
                .map(|p| p.name.clone())
                .collect();
            if !primaries.is_empty() {
                fate.insert(c.name.clone(), primaries);
            }
        }
        Channels { roles, fate }
    }

    pub fn is_primary(&self, channel: &str) -> bool {
        self.roles.get(channel) == Some(&Role::Primary)
    }

    pub fn role(&self, channel: &str) -> &'static str {
        match self.roles.get(channel) {
            Some(Role::Primary) => "primary",
            Some(Role::Alternate) => "alternate",
            None => "unknown",
        }
    }

    /// The primaries an alternate shares fate with (empty when none).
    pub fn fate_of(&self, channel: &str) -> &[String] {
        self.fate.get(channel).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Alternates that share fate with a primary, with those primaries.
    pub fn shared_fate(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.fate.iter()
    }
}

/// One firing, judged.
#[derive(Clone, Debug)]
pub struct Judged<'a> {
    pub firing: &'a Firing,
    pub outcome: Outcome,
    /// The arrival that decided the outcome: the first for `any`, the last
    /// expected channel's otherwise; `None` when dropped or not fired.
    pub latency_ms: Option<f64>,
    /// Share of the RTO left at that arrival (negative when late).
    pub margin: Option<f64>,
    /// Counted first arrivals: channel and latency, earliest first.
    pub arrivals: Vec<(String, f64)>,
    /// Every counted arrival was on an alternate that shares fate with a
    /// primary.
    pub shared_fate_only: bool,
    /// Primary channels that carried it while their fault failed only a
    /// share of attempts: channel and that rate.
    pub partial_primary: Vec<(String, f64)>,
}

impl Judged<'_> {
    pub fn thin_margin(&self) -> bool {
        self.outcome == Outcome::Delivered && self.margin.is_some_and(|m| m < THIN_MARGIN)
    }
}

/// Judges one firing.
pub fn judge<'a>(state: &State, channels: &Channels, f: &'a Firing) -> Judged<'a> {
    let outcome = verdict::outcome(f);
    let mut arrivals: Vec<(String, f64)> = verdict::counted_arrivals(f)
        .map(|(c, t)| (c.clone(), t.millis_since(f.fired)))
        .collect();
    arrivals.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));

    let latency_ms = match outcome {
        Outcome::Dropped | Outcome::NotFired => None,
        _ if f.expect.is_empty() => arrivals.first().map(|a| a.1),
        _ => arrivals
            .iter()
            .filter(|(c, _)| f.expect.contains(c))
            .map(|a| a.1)
            .max_by(f64::total_cmp),
    };
    let margin = latency_ms
        .filter(|_| f.rto_ms > 0)
        .map(|l| (f.rto_ms as f64 - l) / f.rto_ms as f64);

    let shared_fate_only = !arrivals.is_empty()
        && arrivals
            .iter()
            .all(|(c, _)| !channels.is_primary(c) && !channels.fate_of(c).is_empty());

    let partial_primary = verdict::counted_arrivals(f)
        .filter(|(c, _)| channels.is_primary(c))
        .filter_map(|(c, t)| {
            let rate = fault_rate_at(state, c, *t)?;
            (rate < 1.0).then(|| (c.clone(), rate))
        })
        .collect();

    Judged {
        firing: f,
        outcome,
        latency_ms,
        margin,
        arrivals,
        shared_fate_only,
        partial_primary,
    }
}

/// The `rate` of the fault on `channel` at `t`, when one was active (1.0
/// when the fault sets none).
pub fn fault_rate_at(state: &State, channel: &str, t: Stamp) -> Option<f64> {
    if state.faults_lifted.is_some_and(|lifted| lifted <= t) {
        return None;
    }
    let phase = state.applied.iter().rev().find(|a| a.at <= t)?;
    phase.faults.get(channel).map(|f| f.rate.unwrap_or(1.0))
}

/// Every outage firing, judged, in firing order.
pub fn outage_firings<'a>(state: &'a State, channels: &Channels) -> Vec<Judged<'a>> {
    state
        .outage_firings()
        .map(|f| judge(state, channels, f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::testkit::{Script, TWO_CHANNELS};

    #[test]
    fn shared_fate_counts_whichever_side_declares_it() {
        let yaml = TWO_CHANNELS.replace(
            "{ name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\" }",
            "{ name: mail, kind: smtp, role: primary, listen: \"127.0.0.1:0\", \
             shares_fate_with: [slack] }",
        );
        let state = Script::new(&yaml).finish(1_000);
        let channels = Channels::of(&state);
        assert_eq!(channels.fate_of("teams"), ["mail"]);
        assert_eq!(channels.fate_of("slack"), ["mail"]);
        assert!(
            channels.fate_of("mail").is_empty(),
            "a primary is not flagged"
        );
    }

    #[test]
    fn the_last_expected_channel_decides_the_latency() {
        let yaml = TWO_CHANNELS.replace(
            "severity: critical, rto: 10s }",
            "severity: critical, rto: 10s, expect: [slack, teams] }",
        );
        let mut s = Script::new(&yaml);
        let nonce = s.fire(1_000, "phish", 1);
        s.arrive(1_500, "slack", &nonce)
            .arrive(3_000, "teams", &nonce);
        let state = s.finish(5_000);
        let channels = Channels::of(&state);
        let j = &outage_firings(&state, &channels)[0];
        assert_eq!(j.outcome, Outcome::Delivered);
        assert_eq!(j.latency_ms, Some(2_000.0));
        assert_eq!(j.margin, Some(0.8));
        assert!(!j.shared_fate_only, "slack does not share fate");
    }

    #[test]
    fn only_a_shared_fate_channel_is_flagged() {
        let mut s = Script::new(TWO_CHANNELS);
        let nonce = s.fire(1_000, "phish", 1);
        s.arrive(1_100, "teams", &nonce);
        let state = s.finish(5_000);
        let j = &outage_firings(&state, &Channels::of(&state))[0];
        assert!(j.shared_fate_only);
    }

    #[test]
    fn a_primary_arrival_under_a_partial_fault_is_noticed_only_while_faulted() {
        let mut s = Script::new(TWO_CHANNELS);
        let during = s.fire(1_000, "phish", 1);
        s.arrive(1_100, "mail", &during);
        s.push(2_000, crate::drill::event::EventKind::FaultsLifted);
        let after = s.fire(3_000, "phish", 2);
        s.arrive(3_100, "mail", &after);
        let state = s.finish(5_000);
        let judged = outage_firings(&state, &Channels::of(&state));
        assert_eq!(judged[0].partial_primary, [("mail".to_string(), 0.5)]);
        assert!(judged[1].partial_primary.is_empty(), "{:?}", judged[1]);
    }
}
