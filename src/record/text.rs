//! The short text forms the record repeats: latencies, lengths, offsets,
//! shares, firing-number lists, fault descriptions and due dates.
//!
//! One place for them keeps the Markdown, the HTML, the chart and JUnit
//! saying the same thing the same way. Nothing here reads the clock: a due
//! date is computed from the run's own start date.

use chrono::{DateTime, Months, Utc};

use crate::scenario::model::{Fault, Frequency};

/// A latency: `850 ms` under a second, `3.012 s` under a minute, then
/// minutes and seconds.
pub fn latency(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.3} s", ms / 1e3)
    } else {
        length(ms)
    }
}

/// A length of time for people: `3.1 s`, `4 min 05 s`, `1 h 30 min`.
pub fn length(ms: f64) -> String {
    let ms = ms.max(0.0);
    if ms < 60_000.0 {
        return format!("{:.1} s", ms / 1e3);
    }
    let secs = (ms / 1e3).round() as u64;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, s) {
        (0, _) => format!("{m} min {s:02} s"),
        (_, 0) => format!("{h} h {m:02} min"),
        _ => format!("{h} h {m:02} min {s:02} s"),
    }
}

/// A signed offset in seconds from the outage start, as the timeline
/// prints it: `+1.502`, `-0.054`.
pub fn offset(ms: f64) -> String {
    if ms <= -0.5 {
        format!("-{:.3}", -ms / 1e3)
    } else {
        format!("+{:.3}", ms.max(0.0) / 1e3)
    }
}

/// A share as a whole percentage: `20 %`.
pub fn whole_percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// `1 firing`, `3 firings`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 of 1 firing`, `2 of 3 firings`.
pub fn of(k: usize, n: usize, noun: &str) -> String {
    format!("{k} of {}", count(n, noun))
}

/// An RTO as scenarios write it: `5s`, `2m`, `1h30m`.
pub fn rto(ms: u64) -> String {
    crate::scenario::duration::Dur(std::time::Duration::from_millis(ms)).to_string()
}

/// A share as a percentage with one decimal: `12.5 %`.
pub fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// Firing numbers with runs collapsed: `#1–3, #5`.
pub fn numbers(ns: &[u32]) -> String {
    let mut sorted = ns.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            format!("#{start}")
        } else {
            format!("#{start}–{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

/// A fault as one phrase: `defer at rcpt (rate 0.6)`.
pub fn fault(f: &Fault) -> String {
    let mut out = f.fail.to_string();
    if let Some(stage) = f.stage {
        out.push_str(&format!(" at {}", stage.as_str()));
    }
    if let Some(status) = f.status {
        out.push_str(&format!(" {status}"));
    }
    if let Some(delay) = f.delay {
        out.push_str(&format!(" by {delay}"));
    }
    if let Some(rate) = f.rate {
        out.push_str(&format!(" (rate {rate})"));
    }
    out
}

/// When the next test is due: the run's start date plus the frequency's
/// months (a day past the end of the month becomes its last day).
pub fn next_due(started: Option<DateTime<Utc>>, frequency: Option<Frequency>) -> String {
    let (Some(started), Some(frequency)) = (started, frequency) else {
        return "not scheduled: the scenario sets no “exercise.frequency”".into();
    };
    let due = started
        .date_naive()
        .checked_add_months(Months::new(frequency.months()));
    match due {
        Some(due) => format!(
            "{} ({} test: {} after {})",
            due.format("%Y-%m-%d"),
            frequency_word(frequency),
            count(frequency.months() as usize, "month"),
            started.format("%Y-%m-%d")
        ),
        None => "not scheduled: the date is out of range".into(),
    }
}

pub fn frequency_word(frequency: Frequency) -> &'static str {
    match frequency {
        Frequency::Monthly => "monthly",
        Frequency::Quarterly => "quarterly",
        Frequency::Annual => "annual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_pick_a_readable_unit() {
        assert_eq!(latency(3.4), "3 ms");
        assert_eq!(latency(3012.0), "3.012 s");
        assert_eq!(latency(125_000.0), "2 min 05 s");
        assert_eq!(length(5_400_000.0), "1 h 30 min");
        assert_eq!(length(5_405_000.0), "1 h 30 min 05 s");
    }

    #[test]
    fn offsets_carry_their_sign() {
        assert_eq!(offset(-54.2), "-0.054");
        assert_eq!(offset(1502.0), "+1.502");
        assert_eq!(offset(-0.2), "+0.000", "no negative zero");
    }

    #[test]
    fn firing_numbers_collapse_into_runs() {
        assert_eq!(numbers(&[3, 1, 2, 5, 7, 8]), "#1–3, #5, #7–8");
        assert_eq!(numbers(&[4]), "#4");
        assert_eq!(numbers(&[]), "");
    }

    #[test]
    fn the_next_test_is_due_months_after_the_start_date() {
        let started = DateTime::parse_from_rfc3339("2026-01-31T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(next_due(Some(started), Some(Frequency::Monthly)).starts_with("2026-02-28 "));
        assert!(next_due(Some(started), Some(Frequency::Quarterly)).starts_with("2026-04-30 "));
        assert!(next_due(Some(started), Some(Frequency::Annual)).starts_with("2027-01-31 "));
        assert!(next_due(Some(started), None).starts_with("not scheduled"));
    }
}
