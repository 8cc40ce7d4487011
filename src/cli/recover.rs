//! `outage-drill recover DIR`: finish the restore a dead run left pending.
//!
//! Reads the run's journal; when inject actions ran without a successful
//! restore, runs the scenario's restore actions (re-read from the scenario
//! file, so `${VAR}` secrets resolve again), appends the outcome to the same
//! journal and re-renders the record. A second call finds nothing to do.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::drill::clock::Clock;
use crate::drill::event::{ActionSide, EventKind};
use crate::drill::journal::{self, Journal};
use crate::drill::state::State;
use crate::scenario::{LoadOptions, load};

pub async fn recover(dir: &Path) -> u8 {
    let path = dir.join(crate::record::JOURNAL);
    let (events, _) = match journal::read(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return super::EXIT_INVALID;
        }
    };
    let state = State::from_events(&events);
    let Some(run) = state.run.clone() else {
        eprintln!("error: {} has no drill in it", path.display());
        return super::EXIT_INVALID;
    };
    if !state.restore_outstanding() {
        say!(
            "nothing to recover: {} has no pending restore",
            dir.display()
        );
        return 0;
    }

    // Prefer the scenario file (its secrets resolve); fall back to the
    // journal's copy, whose secrets are masked.
    let scenario = match load(
        Path::new(&run.scenario_file),
        LoadOptions { live: run.live },
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot re-read the scenario to restore: {e}");
            return super::EXIT_ERROR;
        }
    };
    crate::secret::set_global(&scenario.secrets);
    let origin = DateTime::parse_from_rfc3339(&run.origin_utc)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let journal = match Journal::create(&path, Clock::resume(origin), scenario.secrets.clone()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: cannot append to {}: {e}", path.display());
            return super::EXIT_ERROR;
        }
    };
    for e in &events {
        journal.replay(e);
    }
    if state.finished.is_none() && state.interrupted.is_none() {
        journal.emit(EventKind::Interrupted {
            signal: "the run died before finishing".into(),
        });
    }
    let vars = crate::target::template::run_vars(
        &run.scenario.name,
        &run.run_id,
        &std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display()
            .to_string(),
    );
    let mut errors = Vec::new();
    for (index, action) in scenario.scenario.outage.restore.iter().enumerate() {
        let description = crate::drill::action::describe(action);
        journal.emit(EventKind::ActionStarted {
            side: ActionSide::Restore,
            index,
            description,
        });
        let started = std::time::Instant::now();
        let result = crate::drill::action::run(action, &vars, &scenario.dir).await;
        let ok = result.is_ok();
        if let Err(e) = &result {
            errors.push(format!("restore action {}: {e}", index + 1));
        }
        journal.emit(EventKind::ActionFinished {
            side: ActionSide::Restore,
            index,
            ok,
            error: result.err(),
            elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
        });
    }
    let ok = errors.is_empty();
    journal.emit(EventKind::RestoreFinished {
        ok,
        error: (!ok).then(|| errors.join("; ")),
        by_recover: true,
    });
    if state.finished.is_none() {
        let verdict = journal.with_state(|s| crate::drill::verdict::verdict(s).0);
        journal.emit(EventKind::DrillFinished {
            verdict: verdict.as_str().to_string(),
        });
    }
    let _ = journal.sync();
    let state = journal.with_state(|s| s.clone());
    let outputs = crate::record::Outputs {
        dir,
        journal: &path,
        templates: None,
    };
    if let Err(e) = crate::record::write_all(&outputs, &state) {
        eprintln!("error: restored, but cannot re-render the record: {e}");
        return super::EXIT_ERROR;
    }
    if ok {
        say!(
            "restored: {} restore action(s) ran; record re-rendered",
            scenario.scenario.outage.restore.len()
        );
        0
    } else {
        eprintln!("error: RESTORE FAILED: {}", errors.join("; "));
        super::EXIT_ERROR
    }
}
