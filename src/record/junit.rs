//! junit.xml: one test case per firing, grouped in one suite per alert, so
//! CI dashboards show which alert failed, how, and how fast each arrived.
//!
//! A firing that was not delivered in time is a failure whose message says
//! what happened in one readable line (late by how much, dropped where,
//! refused why); every case lists its arrivals and the routes tried.

use std::fmt::Write;

use super::view::{FiringView, View};
use crate::drill::verdict::Outcome;

pub fn render(view: &View) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = view
        .firings
        .iter()
        .filter(|f| f.outcome != Outcome::Delivered)
        .count();
    let _ = writeln!(
        out,
        "<testsuites name=\"outage-drill {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        xml(&view.scenario),
        view.firings.len(),
    );
    let mut alerts: Vec<&str> = Vec::new();
    for f in &view.firings {
        if !alerts.contains(&f.name.as_str()) {
            alerts.push(&f.name);
        }
    }
    for alert in alerts {
        let cases: Vec<&FiringView> = view.firings.iter().filter(|f| f.name == alert).collect();
        let failed = cases
            .iter()
            .filter(|f| f.outcome != Outcome::Delivered)
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\">",
            xml(alert),
            cases.len(),
        );
        for f in cases {
            case(&mut out, &view.scenario, f);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn case(out: &mut String, scenario: &str, f: &FiringView) {
    let secs = f.latency_ms.unwrap_or(0.0) / 1e3;
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}.{}\" name=\"{} #{} ({})\" time=\"{secs:.3}\">",
        xml(scenario),
        xml(&f.name),
        xml(&f.name),
        f.n,
        xml(&f.nonce),
    );
    let _ = writeln!(
        out,
        "      <properties><property name=\"outcome\" value=\"{}\"/><property name=\"severity\" \
         value=\"{}\"/><property name=\"rto_ms\" value=\"{}\"/><property name=\"via\" \
         value=\"{}\"/></properties>",
        f.outcome.as_str(),
        xml(&f.severity),
        f.rto_ms,
        xml(&f.via)
    );
    if f.outcome != Outcome::Delivered {
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\"/>",
            f.outcome.as_str(),
            xml(&message(f))
        );
    }
    let _ = writeln!(
        out,
        "      <system-out>arrivals: {}\nroutes: {}</system-out>",
        xml(&f.arrivals_text),
        xml(if f.routes.is_empty() {
            "not recorded by this target"
        } else {
            &f.routes
        })
    );
    out.push_str("    </testcase>\n");
}

/// What went wrong with a firing, in one line.
fn message(f: &FiringView) -> String {
    match f.outcome {
        Outcome::Delivered => String::new(),
        Outcome::Late => format!("late: {} (via {})", f.latency_vs_rto, f.via),
        Outcome::Dropped if f.arrivals.is_empty() => format!(
            "dropped silently: no channel received it within the RTO {} (expected {})",
            f.rto, f.expect
        ),
        Outcome::Dropped => format!(
            "dropped: {} never received it within the RTO {}; it arrived on {}",
            f.missing.join(", "),
            f.rto,
            f.arrivals_text
        ),
        Outcome::NotFired => format!(
            "not fired: the target refused it: {}",
            f.error.as_deref().unwrap_or("no error given")
        ),
    }
}

/// Escapes text for XML, dropping characters XML 1.0 cannot carry (control
/// characters from a peer's error message would make the file unreadable).
fn xml(text: &str) -> String {
    let allowed: String = text
        .chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || !c.is_control())
        .collect();
    quick_xml::escape::escape(allowed.as_str()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::testkit::{Script, TWO_CHANNELS};
    use crate::record::view;

    #[test]
    fn one_case_per_firing_grouped_per_alert_with_readable_failures() {
        let mut s = Script::new(TWO_CHANNELS);
        let a = s.fire(1_000, "phish", 1);
        s.arrive(1_050, "slack", &a);
        let b = s.fire(2_000, "phish", 2);
        s.arrive(14_000, "slack", &b);
        let c = s.fire(3_000, "edr", 1);
        s.hit(3_001, "mail");
        let _ = c;
        let state = s.finish(20_000);
        let xml = render(&view::build(&state));

        assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert!(xml.contains("tests=\"3\" failures=\"2\""), "{xml}");
        assert!(
            xml.contains("message=\"late: 12.000 s of 10s (20.0 % over) (via slack)\""),
            "{xml}"
        );
        assert!(
            xml.contains("dropped silently: no channel received it"),
            "{xml}"
        );
        assert!(xml.contains("time=\"0.050\""), "{xml}");
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        assert_eq!(xml("451 \u{1}busy <now>"), "451 busy &lt;now&gt;");
    }
}
