//! The live display on a terminal: outage clock and firings by state.
//!
//! Reads the journal's folded state on a timer; never goes through the
//! logger, and is not started at all when output is not a terminal.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::journal::Journal;
use super::verdict::{Outcome, outcome};

const REFRESH: Duration = Duration::from_millis(200);

pub struct Progress {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(journal: Arc<Journal>) -> Progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                let line = journal.with_state(|s| {
                    let now = journal.clock().now();
                    let stage = s.stages.last().map(|(st, _)| st.as_str()).unwrap_or("setup");
                    let clock = match (s.outage_started, s.outage_ended) {
                        (Some((t, planned, _)), None) => {
                            format!(" {:.1}s/{:.1}s", now.millis_since(t) / 1e3, planned / 1e3)
                        }
                        _ => String::new(),
                    };
                    let (mut pending, mut arrived, mut late) = (0, 0, 0);
                    for f in s.outage_firings() {
                        match outcome(f) {
                            Outcome::Delivered => arrived += 1,
                            Outcome::Late => late += 1,
                            _ => pending += 1,
                        }
                    }
                    format!(
                        "{stage}{clock} · fired {} · arrived {arrived} · late {late} · pending/dropped {pending}",
                        s.outage_firings().count()
                    )
                });
                shown.set_message(line);
                shown.tick();
                tokio::time::sleep(REFRESH).await;
            }
        });
        Progress { bar, task }
    }

    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
