//! HSEEP-style ratings, one per alert (one objective each).
//!
//! - **P** performed without challenges: every firing delivered with at
//!   least [`THIN_MARGIN`] of its RTO left, and none reached only channels
//!   that share fate with the primary;
//! - **S** some challenges: every firing delivered in time, but some with a
//!   thin margin or only through a shared-fate channel;
//! - **M** major challenges: nothing dropped or unfired, but some firings
//!   arrived after their RTO;
//! - **U** unable to perform: a firing was dropped or not fired.
//!
//! An alert that never fired (the drill ended first) is not rated.

use serde::Serialize;

use super::judge::{Judged, THIN_MARGIN};
use super::text;
use crate::drill::verdict::Outcome;
use crate::scenario::model::Scenario;

/// The rating legend, as the record prints it.
pub fn legend() -> Vec<LegendRow> {
    let thin = text::whole_percent(THIN_MARGIN);
    vec![
        LegendRow {
            rating: "P",
            name: "Performed without challenges",
            rule: format!(
                "every firing delivered with at least {thin} of its RTO left, and not only \
                 through channels that share fate with the primary"
            ),
        },
        LegendRow {
            rating: "S",
            name: "Performed with some challenges",
            rule: format!(
                "every firing delivered within its RTO, but some with less than {thin} of \
                 it left or only through a shared-fate channel"
            ),
        },
        LegendRow {
            rating: "M",
            name: "Performed with major challenges",
            rule: "nothing dropped or unfired, but some firings arrived after their RTO".into(),
        },
        LegendRow {
            rating: "U",
            name: "Unable to be performed",
            rule: "a firing was dropped (no expected channel received it in time) or the \
                   pipeline refused it"
                .into(),
        },
    ]
}

#[derive(Clone, Debug, Serialize)]
pub struct LegendRow {
    pub rating: &'static str,
    pub name: &'static str,
    pub rule: String,
}

/// One alert's rating with the counts behind it.
#[derive(Clone, Debug, Serialize)]
pub struct RatingView {
    pub alert: String,
    pub title: String,
    pub severity: String,
    pub rto: String,
    pub firings: usize,
    pub delivered: usize,
    pub late: usize,
    pub dropped: usize,
    pub not_fired: usize,
    /// The counts in words: `2 delivered, 1 late`.
    pub outcomes: String,
    /// The slowest deciding latency, or `—`.
    pub worst: String,
    /// The least share of the RTO left, or `—`.
    pub least_margin: String,
    /// `P`, `S`, `M`, `U`, or `—` when the alert never fired.
    pub rating: &'static str,
    pub rating_name: &'static str,
    /// Why this rating, in one sentence.
    pub why: String,
}

/// Rates every alert of the scenario, in the scenario's order.
pub fn rate(scenario: &Scenario, judged: &[Judged<'_>]) -> Vec<RatingView> {
    scenario
        .alerts
        .iter()
        .map(|alert| {
            let mine: Vec<&Judged<'_>> = judged
                .iter()
                .filter(|j| j.firing.alert == alert.name)
                .collect();
            let count = |o: Outcome| mine.iter().filter(|j| j.outcome == o).count();
            let worst = mine
                .iter()
                .filter_map(|j| j.latency_ms)
                .max_by(f64::total_cmp);
            let least = mine.iter().filter_map(|j| j.margin).min_by(f64::total_cmp);
            let (rating, rating_name, why) = decide(&mine);
            let outcomes: Vec<String> = [
                Outcome::Delivered,
                Outcome::Late,
                Outcome::Dropped,
                Outcome::NotFired,
            ]
            .into_iter()
            .filter(|o| count(*o) > 0)
            .map(|o| format!("{} {}", count(o), o.as_str()))
            .collect();
            RatingView {
                alert: alert.name.clone(),
                title: alert.title().to_string(),
                severity: alert.severity.as_str().to_string(),
                rto: alert.rto.to_string(),
                firings: mine.len(),
                delivered: count(Outcome::Delivered),
                late: count(Outcome::Late),
                dropped: count(Outcome::Dropped),
                not_fired: count(Outcome::NotFired),
                outcomes: if outcomes.is_empty() {
                    "—".into()
                } else {
                    outcomes.join(", ")
                },
                worst: worst.map(text::latency).unwrap_or_else(|| "—".into()),
                least_margin: least.map(text::percent).unwrap_or_else(|| "—".into()),
                rating,
                rating_name,
                why,
            }
        })
        .collect()
}

/// The rating of one alert's firings.
fn decide(mine: &[&Judged<'_>]) -> (&'static str, &'static str, String) {
    let n = mine.len();
    if n == 0 {
        return (
            "—",
            "Not rated",
            "never fired: the drill ended before its first firing".into(),
        );
    }
    let failed = mine
        .iter()
        .filter(|j| matches!(j.outcome, Outcome::Dropped | Outcome::NotFired))
        .count();
    if failed > 0 {
        return (
            "U",
            "Unable to be performed",
            format!("{} dropped or not fired", text::of(failed, n, "firing")),
        );
    }
    let late = mine.iter().filter(|j| j.outcome == Outcome::Late).count();
    if late > 0 {
        return (
            "M",
            "Performed with major challenges",
            format!("{} arrived after the RTO", text::of(late, n, "firing")),
        );
    }
    let thin = mine.iter().filter(|j| j.thin_margin()).count();
    let shared = mine.iter().filter(|j| j.shared_fate_only).count();
    if thin > 0 || shared > 0 {
        let mut parts = Vec::new();
        if thin > 0 {
            parts.push(format!(
                "{} with less than {} of the RTO left",
                text::of(thin, n, "firing"),
                text::whole_percent(THIN_MARGIN)
            ));
        }
        if shared > 0 {
            parts.push(format!(
                "{} reached only a shared-fate channel",
                text::of(shared, n, "firing")
            ));
        }
        return ("S", "Performed with some challenges", parts.join("; "));
    }
    (
        "P",
        "Performed without challenges",
        format!(
            "{} delivered with at least {} of the RTO left",
            if n == 1 {
                "the firing".to_string()
            } else {
                format!("all {n} firings")
            },
            text::whole_percent(THIN_MARGIN)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::judge::{Channels, outage_firings};
    use crate::record::testkit::{Script, TWO_CHANNELS};

    /// Fires `phish` once at 1 s; `arrive` says where and after how long.
    fn rating_with(arrive: Option<(&str, u64)>) -> RatingView {
        let mut s = Script::new(TWO_CHANNELS);
        let nonce = s.fire(1_000, "phish", 1);
        if let Some((channel, after)) = arrive {
            s.arrive(1_000 + after, channel, &nonce);
        }
        let state = s.finish(20_000);
        let judged = outage_firings(&state, &Channels::of(&state));
        let scenario = &state.run.as_ref().unwrap().scenario;
        rate(scenario, &judged).remove(0)
    }

    #[test]
    fn each_rating_is_given_by_its_rule() {
        assert_eq!(rating_with(Some(("slack", 1_000))).rating, "P");
        assert_eq!(
            rating_with(Some(("slack", 9_000))).rating,
            "S",
            "thin margin"
        );
        assert_eq!(
            rating_with(Some(("teams", 1_000))).rating,
            "S",
            "shared fate"
        );
        assert_eq!(rating_with(Some(("slack", 11_000))).rating, "M", "late");
        assert_eq!(rating_with(None).rating, "U", "dropped");
    }

    #[test]
    fn the_boundary_margin_still_performs() {
        // Exactly 20 % of a 10 s RTO left.
        assert_eq!(rating_with(Some(("slack", 8_000))).rating, "P");
    }

    #[test]
    fn an_alert_that_never_fired_is_not_rated() {
        let state = Script::new(TWO_CHANNELS).finish(1_000);
        let scenario = &state.run.as_ref().unwrap().scenario;
        let ratings = rate(scenario, &[]);
        assert_eq!(ratings.len(), 2);
        assert!(ratings.iter().all(|r| r.rating == "—" && r.firings == 0));
    }
}
