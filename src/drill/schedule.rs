//! The planned timeline of an outage: fault changes and firings by offset.
//!
//! Pure arithmetic on the scenario and the speed factor; `outage-drill plan`
//! prints it and the orchestrator follows it. `--speed` divides the outage
//! length, `at`, `every` and phase lengths; RTOs and timeouts are never
//! scaled.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::scenario::model::{Fault, Scenario};
use crate::scenario::validate::outage_length;

/// One thing the orchestrator does during the outage.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A set of faults takes effect (phase `index`).
    Faults {
        index: usize,
        faults: BTreeMap<String, Fault>,
    },
    /// Alert `alert` (its index in the scenario) fires for the `n`th time.
    Fire { alert: usize, n: u32 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// Offset from the outage start, already divided by the speed.
    pub offset: Duration,
    pub step: Step,
}

/// The whole outage, in order.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub steps: Vec<Planned>,
    /// The outage's length after speed-up.
    pub length: Duration,
    pub speed: f64,
}

/// Alerts per firing above which a plan is refused, to keep runs bounded.
pub const MAX_FIRINGS: usize = 100_000;

/// The longest a timeline may last once `--speed` has scaled it: far beyond
/// any drill, and well inside what the clock can add to an instant.
pub const MAX_TIMELINE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `d` divided by `speed`, or `None` past [`MAX_TIMELINE`] (a huge outage,
/// or a tiny `--speed`).
pub fn scale(d: Duration, speed: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(d.as_secs_f64() / speed)
        .ok()
        .filter(|d| *d <= MAX_TIMELINE)
}

/// Plans the outage of `s` at `speed`.
pub fn plan(s: &Scenario, speed: f64) -> Result<Timeline, String> {
    let real_length = outage_length(s);
    let length = scale(real_length, speed).ok_or_else(|| {
        format!(
            "at speed {speed} the outage would last longer than 100 years; \
             shorten it or raise --speed"
        )
    })?;
    // Every offset lies within the outage, so it scales too.
    let offset_of = |d: Duration| scale(d, speed).unwrap_or(length);
    let mut steps = Vec::new();

    if s.outage.phases.is_empty() {
        steps.push(Planned {
            offset: Duration::ZERO,
            step: Step::Faults {
                index: 0,
                faults: s.outage.faults.clone(),
            },
        });
    } else {
        let mut offset = Duration::ZERO;
        for (index, phase) in s.outage.phases.iter().enumerate() {
            steps.push(Planned {
                offset: offset_of(offset),
                step: Step::Faults {
                    index,
                    faults: phase.faults.clone(),
                },
            });
            offset = offset.saturating_add(phase.length.0);
        }
    }

    let mut firings = 0usize;
    for (i, alert) in s.alerts.iter().enumerate() {
        let mut at = alert.at.0;
        let mut n = 1;
        while at < real_length {
            firings += 1;
            if firings > MAX_FIRINGS {
                return Err(format!(
                    "the scenario fires more than {MAX_FIRINGS} alerts; raise `every` or shorten the outage"
                ));
            }
            steps.push(Planned {
                offset: offset_of(at),
                step: Step::Fire { alert: i, n },
            });
            // An interval too long for the clock has no next firing.
            match alert.every.and_then(|every| at.checked_add(every.0)) {
                Some(next) => at = next,
                None => break,
            }
            n += 1;
        }
    }
    // Stable: a fault change at the same offset as a firing comes first.
    steps.sort_by(|a, b| a.offset.cmp(&b.offset));
    Ok(Timeline {
        steps,
        length,
        speed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{LoadOptions, load};
    use std::path::Path;

    fn example(name: &str) -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/spec/examples")
            .join(name);
        load(&path, LoadOptions::default())
            .expect("example loads")
            .scenario
    }

    #[test]
    fn ex1331830_has_two_phases_and_nine_firings() {
        let t = plan(&example("ex1331830.yaml"), 360.0).unwrap();
        assert_eq!(t.length, Duration::from_secs(15));
        let phases: Vec<_> = t
            .steps
            .iter()
            .filter(|p| matches!(p.step, Step::Faults { .. }))
            .map(|p| p.offset)
            .collect();
        assert_eq!(
            phases,
            vec![
                Duration::ZERO,
                scale(Duration::from_secs(1200), 360.0).unwrap()
            ]
        );
        let fires = t
            .steps
            .iter()
            .filter(|p| matches!(p.step, Step::Fire { .. }))
            .count();
        // phishing-report at 1m, 16m, 31m, 46m, 61m, 76m + three one-off alerts.
        assert_eq!(fires, 9);
        assert!(t.steps.windows(2).all(|w| w[0].offset <= w[1].offset));
    }

    #[test]
    fn timelines_past_the_clock_are_refused_not_panicked_on() {
        let mut s = example("ex1331830.yaml");
        assert!(plan(&s, 1e-300).unwrap_err().contains("100 years"));
        assert!(plan(&s, f64::MAX).is_ok(), "a tiny timeline is fine");
        s.outage.phases[0].length.0 = Duration::MAX;
        assert!(plan(&s, 1.0).is_err());
    }
}
