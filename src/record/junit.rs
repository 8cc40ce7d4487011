//! junit.xml: one test case per firing, grouped per alert, for CI.

use quick_xml::escape::escape;

use super::view::View;
use crate::drill::verdict::Outcome;

pub fn render(view: &View) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = view
        .firings
        .iter()
        .filter(|f| f.outcome != Outcome::Delivered)
        .count();
    out.push_str(&format!(
        "<testsuites name=\"outage-drill {}\" tests=\"{}\" failures=\"{}\">\n",
        escape(view.scenario.as_str()),
        view.firings.len(),
        failures
    ));
    let mut alerts: Vec<&str> = view.firings.iter().map(|f| f.name.as_str()).collect();
    alerts.dedup();
    let mut seen = std::collections::BTreeSet::new();
    alerts.retain(|a| seen.insert(*a));
    for alert in alerts {
        let cases: Vec<_> = view.firings.iter().filter(|f| f.name == alert).collect();
        let failed = cases
            .iter()
            .filter(|f| f.outcome != Outcome::Delivered)
            .count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
            escape(alert),
            cases.len(),
            failed
        ));
        for f in cases {
            let secs = f
                .arrivals
                .first()
                .map(|a| a.latency_ms / 1e3)
                .unwrap_or(0.0);
            out.push_str(&format!(
                "    <testcase classname=\"{}.{}\" name=\"{} #{} ({})\" time=\"{:.3}\">\n",
                escape(view.scenario.as_str()),
                escape(alert),
                escape(alert),
                f.n,
                escape(f.nonce.as_str()),
                secs
            ));
            out.push_str(&format!(
                "      <properties><property name=\"outcome\" value=\"{}\"/><property name=\"rto_ms\" value=\"{}\"/><property name=\"via\" value=\"{}\"/></properties>\n",
                f.outcome.as_str(),
                f.rto_ms,
                escape(f.via.as_str())
            ));
            if f.outcome != Outcome::Delivered {
                let message = match f.outcome {
                    Outcome::Late => format!(
                        "late: first arrival after {} on {}, RTO {}",
                        f.first_latency, f.via, f.rto
                    ),
                    Outcome::Dropped if f.arrivals.is_empty() => {
                        format!(
                            "dropped silently: no channel received it (expected {})",
                            f.expect
                        )
                    }
                    Outcome::Dropped => {
                        format!("dropped: expected {}, received on {}", f.expect, f.via)
                    }
                    _ => format!("not fired: {}", f.error.clone().unwrap_or_default()),
                };
                out.push_str(&format!(
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                    f.outcome.as_str(),
                    escape(message.as_str()),
                    escape(format!("routes: {}", f.routes).as_str())
                ));
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
