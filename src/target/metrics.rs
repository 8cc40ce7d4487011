//! Alertmanager's own failure counters, read from its `/metrics`.
//!
//! Evidence that the fault took effect inside the pipeline: the deltas of
//! `alertmanager_notifications_failed_total` and
//! `alertmanager_notification_requests_failed_total` across the outage.
//! Only these two counter families are read, so a few lines of parsing of
//! the Prometheus text format suffice; a full parser crate would add
//! weight for nothing.

use std::collections::BTreeMap;
use std::time::Duration;

/// The counter families read.
pub const FAMILIES: [&str; 2] = [
    "alertmanager_notifications_failed_total",
    "alertmanager_notification_requests_failed_total",
];

/// Reads the counters from `base`/metrics; `None` when unreachable.
pub async fn read(base: &str) -> Option<BTreeMap<String, f64>> {
    crate::tls::ensure_provider();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let url = format!("{}/metrics", base.trim_end_matches('/'));
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    Some(parse(&text))
}

/// Picks the series of [`FAMILIES`] from Prometheus text exposition.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || !FAMILIES.iter().any(|f| line.starts_with(f)) {
            continue;
        }
        if let Some((series, value)) = line.rsplit_once(' ') {
            if let Ok(v) = value.trim().parse::<f64>() {
                out.insert(series.trim().to_string(), v);
            }
        }
    }
    out
}

/// After minus before, per series; series absent before count from zero.
pub fn deltas(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_families_and_subtracts() {
        let before = parse(
            "# HELP x\nalertmanager_notifications_failed_total{integration=\"email\"} 1\n\
             alertmanager_notifications_total{integration=\"email\"} 9\n",
        );
        let after = parse(
            "alertmanager_notifications_failed_total{integration=\"email\"} 4\n\
             alertmanager_notification_requests_failed_total{integration=\"email\"} 7\n",
        );
        let d = deltas(&before, &after);
        assert_eq!(
            d["alertmanager_notifications_failed_total{integration=\"email\"}"],
            3.0
        );
        assert_eq!(
            d["alertmanager_notification_requests_failed_total{integration=\"email\"}"],
            7.0
        );
        assert_eq!(d.len(), 2);
    }
}
