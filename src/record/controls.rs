//! The controls a drill evidences, each with one line saying what this kind
//! of drill shows for it.
//!
//! A short table of NIST SP 800-53 controls that an alert-delivery drill
//! can speak to; any other id a scenario lists gets a neutral line, so the
//! record never claims more than the drill did. CP-4 always comes first:
//! the record is a CP-4 test record whatever the scenario lists.

use serde::Serialize;

/// One control in the record's "controls exercised" table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControlView {
    pub id: String,
    pub name: String,
    pub evidence: String,
}

/// Known controls: id, name, what a drill evidences for it.
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "CP-4",
        "Contingency plan testing",
        "The alerting part of the contingency plan was tested against a defined outage; \
         results are reviewed in this record (CP-4 b) and corrective actions start from its \
         improvement plan (CP-4 c).",
    ),
    (
        "CP-4(1)",
        "Coordinate with related plans",
        "Alerts were followed into the incident-response channels that other plans rely on; \
         the channel list names who must receive each alert.",
    ),
    (
        "CP-4(2)",
        "Alternate processing site",
        "Not evidenced: the drill exercises alternate notification channels, not an \
         alternate processing site.",
    ),
    (
        "CP-4(3)",
        "Automated testing",
        "The test ran unattended from a versioned scenario; the journal and seed make it \
         repeatable and re-renderable.",
    ),
    (
        "CP-4(4)",
        "Full recovery and reconstitution",
        "After restore, a recovery canary had to arrive on a primary channel within the \
         check RTO.",
    ),
    (
        "CP-4(5)",
        "Self-challenge",
        "Faults were injected on purpose into the mail path the pipeline depends on, \
         including partial and flapping failures where the scenario sets a rate.",
    ),
    (
        "CP-2",
        "Contingency plan",
        "The scenario encodes the plan's assumption that alerts keep flowing when mail is \
         down; the results show whether that assumption held.",
    ),
    (
        "CP-8",
        "Telecommunications services",
        "With the primary mail path faulted, alerts had to reach responders over alternate \
         channels; alternates that share fate with the primary are flagged.",
    ),
    (
        "CP-8(2)",
        "Single points of failure",
        "Shared-fate analysis names alternates that fail together with the primary mail \
         service.",
    ),
    (
        "CP-10",
        "System recovery and reconstitution",
        "Restore actions and the recovery canary show the primary path was put back and \
         works.",
    ),
    (
        "CP-11",
        "Alternate communications protocols",
        "Alerts moved from SMTP and Graph to other protocols (webhooks, Events API, push) \
         while the primary protocols failed.",
    ),
    (
        "IR-3",
        "Incident response testing",
        "Security alerts were carried end to end to responder channels and timed against \
         their RTO.",
    ),
    (
        "IR-4",
        "Incident handling",
        "Shows whether the alerts that start incident handling reach a responder while mail \
         flow is down.",
    ),
    (
        "IR-6",
        "Incident reporting",
        "Shows whether reports (e.g. user-reported phishing) still reach the responders \
         during a mail outage.",
    ),
    (
        "IR-8",
        "Incident response plan",
        "Tests the plan's notification paths under a mail outage; gaps appear as findings.",
    ),
    (
        "SI-4",
        "System monitoring",
        "Monitoring alerts were delivered, and their delivery timed, with the mail path down.",
    ),
    (
        "SI-4(5)",
        "System-generated alerts",
        "System-generated alerts reached the listed personnel through the alerting pipeline \
         under test.",
    ),
];

/// Normalises how people write control ids: `cp-4 (1)` → `CP-4(1)`.
pub fn normalise(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// The controls exercised: CP-4 first, then those the scenario lists, each
/// once, with what this drill evidences for it.
pub fn exercised(listed: &[String]) -> Vec<ControlView> {
    let mut ids = vec!["CP-4".to_string()];
    for id in listed {
        let id = normalise(id);
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.into_iter().map(|id| describe(&id)).collect()
}

fn describe(id: &str) -> ControlView {
    match KNOWN.iter().find(|(known, _, _)| *known == id) {
        Some((_, name, evidence)) => ControlView {
            id: id.to_string(),
            name: (*name).to_string(),
            evidence: (*evidence).to_string(),
        },
        None => ControlView {
            id: id.to_string(),
            name: "—".to_string(),
            evidence: "Listed by the scenario. This record supplies the per-alert results; how \
                       they evidence this control is for the reviewer to state."
                .to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp4_comes_first_once_and_ids_are_normalised() {
        let listed = ["cp-8".to_string(), "CP-4".into(), "cp-4 (3)".into()];
        let ids: Vec<String> = exercised(&listed).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["CP-4", "CP-8", "CP-4(3)"]);
    }

    #[test]
    fn unknown_controls_get_a_neutral_line() {
        let c = &exercised(&["AC-2".to_string()])[1];
        assert_eq!(c.id, "AC-2");
        assert!(c.evidence.contains("for the reviewer"), "{c:?}");
    }

    #[test]
    fn every_known_control_is_normalised_already() {
        for (id, _, _) in KNOWN {
            assert_eq!(normalise(id), *id);
        }
    }
}
