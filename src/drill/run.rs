//! The orchestrator: runs one drill through its stages and writes its record.
//!
//! setup → baseline → outage (faults, inject, firings) → restore → recovery
//! → settle → record. Restore runs on every path out of a started outage:
//! normal end, Ctrl-C/SIGTERM, a failed inject, a panic in the outage task.
//! Every wait has a deadline and also ends on interruption. Decisions are
//! taken from the journal's folded state, never from private flags.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::action;
use super::clock::{Clock, rfc3339};
use super::event::{ActionSide, EventKind, Purpose, Stage};
use super::journal::Journal;
use super::schedule::{self, Step};
use super::state::State;
use super::verdict::{self, Verdict};
use crate::endpoint::{self, EndpointContext, FaultBoard, Observer};
use crate::scenario::Loaded;
use crate::scenario::model::{Participant, Role, Severity};
use crate::target::process::{self, TargetProcess};
use crate::target::template::run_vars;
use crate::target::{FireRequest, Target, TargetContext};

/// How long endpoints get to close after the drill before we move on.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Re-evaluation tick while waiting on time-based deadlines.
const SETTLE_TICK: Duration = Duration::from_millis(50);

/// Command-line choices for one run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub speed: f64,
    pub seed: Option<u64>,
    pub out_dir: Option<PathBuf>,
    pub participants: Vec<Participant>,
    pub live: bool,
    /// Show a live progress display (terminal only).
    pub progress: bool,
}

/// How a run ended.
pub struct Finished {
    pub verdict: Verdict,
    pub dir: PathBuf,
    pub state: State,
}

/// Runs the drill described by `loaded`.
pub async fn run(loaded: Loaded, opts: RunOptions) -> Result<Finished, String> {
    // Listen before anything else: a Ctrl-C while the run starts is held for
    // the watcher below, instead of killing the process unrecorded.
    let signals = Signals::listen();
    let clock = Clock::start();
    let run_id = new_run_id();
    let dir = match &opts.out_dir {
        Some(d) => d.clone(),
        None => PathBuf::from("reports").join(format!(
            "{}-{}",
            loaded.scenario.name,
            clock.origin_utc().format("%Y%m%dT%H%M%SZ")
        )),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
    let journal_path = dir.join(crate::record::JOURNAL);
    if journal_path.exists() {
        return Err(format!(
            "{} already holds a run (journal.jsonl exists); choose another --out",
            dir.display()
        ));
    }
    let journal = Journal::create(&journal_path, clock.clone(), loaded.secrets.clone())
        .map_err(|e| format!("cannot write {}: {e}", journal_path.display()))?;

    let seed = opts
        .seed
        .or(loaded.scenario.seed)
        .unwrap_or_else(rand::random);
    let speed = if opts.speed > 0.0 { opts.speed } else { 1.0 };
    journal.emit(EventKind::DrillStarted {
        run_id: run_id.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario_file: loaded.path.display().to_string(),
        scenario: Box::new(loaded.shown.clone()),
        origin_utc: rfc3339(clock.origin_utc()),
        seed,
        speed,
        live: opts.live && loaded.scenario.live,
        out_dir: dir.display().to_string(),
        participants: opts.participants.clone(),
    });
    // On disk at once: even a run killed in its first moments leaves a
    // journal that `recover` and `report` recognise.
    let _ = journal.sync();

    let stop = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(signals, journal.clone(), stop.clone()));
    let drill = Arc::new(Drill {
        board: FaultBoard::new(
            seed,
            loaded.scenario.channels.iter().map(|c| c.name.as_str()),
            journal.clone(),
        ),
        observer: Observer::new(journal.clone()),
        journal: journal.clone(),
        run_id,
        speed,
        dir: dir.clone(),
        stop,
        endpoints_stop: CancellationToken::new(),
        in_flight: Arc::new(Mutex::new(HashSet::new())),
        target_done: Arc::new(Notify::new()),
        loaded,
    });
    let progress = opts
        .progress
        .then(|| super::progress::Progress::start(journal.clone()));

    drill.clone().execute().await;
    signals.abort();
    if let Some(p) = progress {
        p.finish();
    }

    let verdict = journal.with_state(|s| verdict::verdict(s).0);
    journal.emit(EventKind::DrillFinished {
        verdict: verdict.as_str().to_string(),
    });
    let _ = journal.sync();
    // The last event is in: the state moves out rather than being copied
    // (after an alert storm it is tens of megabytes).
    let state = journal.take_state();
    let outputs = crate::record::Outputs {
        dir: &dir,
        journal: &journal_path,
        templates: None,
    };
    crate::record::write_all(&outputs, &state)
        .map_err(|e| format!("cannot write the record: {e}"))?;
    Ok(Finished {
        verdict,
        dir,
        state,
    })
}

struct Drill {
    loaded: Loaded,
    journal: Arc<Journal>,
    board: Arc<FaultBoard>,
    observer: Arc<Observer>,
    run_id: String,
    speed: f64,
    dir: PathBuf,
    /// Cancelled by Ctrl-C / SIGTERM: every wait ends, restore still runs.
    stop: CancellationToken,
    /// Cancelled at teardown: endpoints close.
    endpoints_stop: CancellationToken,
    /// Nonces the target is still working on.
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// Signalled each time the target finishes with a firing (that is no
    /// event, so waits would otherwise only notice on their next tick).
    target_done: Arc<Notify>,
}

impl Drill {
    async fn execute(self: Arc<Self>) {
        // Canaries and outage firings; dropped (aborted) at teardown.
        let mut canaries = JoinSet::new();
        let mut outage_firings = JoinSet::new();
        let mut process: Option<TargetProcess> = None;
        let mut endpoint_tasks = Vec::new();

        self.journal.emit(EventKind::StageStarted {
            stage: Stage::Setup,
        });
        let target = match self.setup(&mut process, &mut endpoint_tasks).await {
            Ok(target) => Some(Arc::new(target)),
            Err(error) => {
                self.journal.emit(EventKind::HarnessFailed { error });
                None
            }
        };

        if let Some(target) = &target {
            let baseline_ok = if self.loaded.scenario.checks.baseline && !self.stopped() {
                self.journal.emit(EventKind::StageStarted {
                    stage: Stage::Baseline,
                });
                self.canary(Purpose::Baseline, target, &mut canaries).await
            } else {
                true
            };

            if baseline_ok && !self.stopped() {
                self.journal.emit(EventKind::StageStarted {
                    stage: Stage::Outage,
                });
                // The outage runs in its own task so that a panic in it
                // still leads to restore below.
                let outage = tokio::spawn(self.clone().outage(target.clone()));
                outage_firings = match outage.await {
                    Ok(set) => set,
                    Err(e) => {
                        self.journal.emit(EventKind::HarnessFailed {
                            error: format!("the outage task failed: {e}"),
                        });
                        JoinSet::new()
                    }
                };
                self.journal.emit(EventKind::StageStarted {
                    stage: Stage::Restore,
                });
                self.restore().await;
                self.read_metrics("after").await;

                if self.loaded.scenario.checks.recovery && !self.stopped() {
                    self.journal.emit(EventKind::StageStarted {
                        stage: Stage::Recovery,
                    });
                    self.canary(Purpose::Recovery, target, &mut canaries).await;
                }
            }
            self.journal.emit(EventKind::StageStarted {
                stage: Stage::Settle,
            });
            self.settle().await;
        }

        // Teardown: stop firings, endpoints and the target's process.
        canaries.abort_all();
        outage_firings.abort_all();
        self.endpoints_stop.cancel();
        for task in endpoint_tasks {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, task).await;
        }
        if let Some(mut p) = process {
            let how = p.stop().await;
            self.journal.emit(EventKind::TargetStopped { how });
        }
        self.journal.emit(EventKind::StageStarted {
            stage: Stage::Record,
        });
    }

    fn stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    async fn setup(
        &self,
        process: &mut Option<TargetProcess>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Result<Target, String> {
        let ctx = EndpointContext {
            journal: self.journal.clone(),
            faults: self.board.clone(),
            observer: self.observer.clone(),
            cancel: self.endpoints_stop.clone(),
        };
        let mut channels: BTreeMap<String, (crate::scenario::model::ChannelKind, SocketAddr)> =
            BTreeMap::new();
        for c in &self.loaded.scenario.channels {
            let addr = self.loaded.listen[&c.name];
            let running = endpoint::start(&c.name, c.kind, addr, ctx.clone())
                .await
                .map_err(|e| format!("{e} (is another program using the port?)"))?;
            self.journal.emit(EventKind::EndpointBound {
                channel: c.name.clone(),
                kind: c.kind.to_string(),
                addr: running.addr.to_string(),
            });
            channels.insert(c.name.clone(), (c.kind, running.addr));
            tasks.push(running.task);
        }

        let spec = &self.loaded.scenario.target;
        if let Some(start) = &spec.start {
            let vars = self.vars();
            let hb = crate::target::template::engine();
            let argv: Vec<String> = start
                .command
                .iter()
                .map(|a| crate::target::template::render(&hb, a, &vars))
                .collect::<Result<_, _>>()?;
            let mut p = process::spawn(&argv, &self.loaded.dir, &self.dir, self.journal.secrets())?;
            self.journal.emit(EventKind::TargetStarted {
                command: argv,
                pid: p.pid,
            });
            if let Some(ready) = &start.ready {
                let limit = start
                    .timeout
                    .map(|d| d.0)
                    .unwrap_or(process::DEFAULT_READY_TIMEOUT);
                let waited = tokio::select! {
                    r = p.wait_ready(ready, limit) => r,
                    _ = self.stop.cancelled() => Err("interrupted while waiting for the target".into()),
                };
                *process = Some(p);
                let waited = waited?;
                self.journal.emit(EventKind::TargetReady {
                    waited_ms: waited.as_secs_f64() * 1e3,
                });
            } else {
                *process = Some(p);
            }
        }
        let tctx = TargetContext {
            journal: self.journal.clone(),
            channels,
            dir: self.loaded.dir.clone(),
            run_dir: self.dir.clone(),
        };
        Ok(Target::new(&self.loaded.scenario, tctx))
    }

    fn vars(&self) -> serde_json::Value {
        let dir = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        run_vars(
            &self.loaded.scenario.name,
            &self.run_id,
            &dir.display().to_string(),
        )
    }

    /// Fires one alert in its own task; journals `AlertFired` first.
    fn fire(&self, target: &Arc<Target>, set: &mut JoinSet<()>, plan: FirePlan<'_>) -> String {
        let FirePlan {
            alert,
            title,
            severity,
            purpose,
            n,
            rto_ms,
            expect,
            planned_offset_ms,
        } = plan;
        let nonce = format!("DRILL-{}-{}-{}", self.run_id, alert, n);
        self.observer.register(&nonce);
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(nonce.clone());
        self.journal.emit(EventKind::AlertFired {
            nonce: nonce.clone(),
            alert: alert.to_string(),
            title: title.to_string(),
            severity,
            purpose,
            n,
            rto_ms,
            expect,
            planned_offset_ms,
        });
        let req = FireRequest {
            nonce: nonce.clone(),
            alert: alert.to_string(),
            title: title.to_string(),
            severity,
            drill: self.loaded.scenario.name.clone(),
            run_id: self.run_id.clone(),
        };
        let target = target.clone();
        let journal = self.journal.clone();
        let in_flight = self.in_flight.clone();
        let target_done = self.target_done.clone();
        set.spawn(async move {
            if let Err(error) = target.fire(&req).await {
                journal.emit(EventKind::FireFailed {
                    nonce: req.nonce.clone(),
                    error,
                });
            }
            in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&req.nonce);
            target_done.notify_one();
        });
        nonce
    }

    /// Fires a canary and waits for it on a primary channel within
    /// `checks.rto`. Journals `CheckFinished`.
    async fn canary(&self, purpose: Purpose, target: &Arc<Target>, set: &mut JoinSet<()>) -> bool {
        let checks = &self.loaded.scenario.checks;
        let name = match purpose {
            Purpose::Baseline => "baseline",
            _ => "recovery",
        };
        let title = format!("Drill {name} canary");
        let plan = FirePlan {
            alert: name,
            title: &title,
            severity: Severity::Low,
            purpose,
            n: 1,
            rto_ms: checks.rto.as_millis(),
            expect: Vec::new(),
            planned_offset_ms: None,
        };
        let nonce = self.fire(target, set, plan);
        let primaries: Vec<String> = self.primaries();
        let deadline = deadline_in(checks.rto.0);
        let arrived = self
            .wait_for(deadline, |s| first_on(s, &nonce, &primaries).is_some())
            .await;
        let (latency_ms, channel) = self.journal.with_state(|s| {
            match (s.firing(&nonce), first_on(s, &nonce, &primaries)) {
                (Some(f), Some((c, t))) => (Some(t.millis_since(f.fired)), Some(c)),
                _ => (None, None),
            }
        });
        if self.stopped() && !arrived {
            return false;
        }
        self.journal.emit(EventKind::CheckFinished {
            check: purpose,
            passed: arrived,
            latency_ms,
            channel,
        });
        arrived
    }

    fn primaries(&self) -> Vec<String> {
        let channels = &self.loaded.scenario.channels;
        let primaries: Vec<String> = channels
            .iter()
            .filter(|c| c.role == Role::Primary)
            .map(|c| c.name.clone())
            .collect();
        if primaries.is_empty() {
            channels.iter().map(|c| c.name.clone()).collect()
        } else {
            primaries
        }
    }

    /// Applies faults, runs inject actions and fires alerts on schedule.
    /// Returns the firing tasks still running.
    async fn outage(self: Arc<Self>, target: Arc<Target>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let scenario = &self.loaded.scenario;
        let timeline = match schedule::plan(scenario, self.speed) {
            Ok(t) => t,
            Err(error) => {
                self.journal.emit(EventKind::HarnessFailed { error });
                return set;
            }
        };
        let phases = scenario.outage.phases.len().max(1);
        self.journal.emit(EventKind::OutageStarted {
            planned_ms: timeline.length.as_secs_f64() * 1e3,
            phases,
        });

        self.read_metrics("before").await;

        // The ledger first: whatever happens next, recover knows what to undo.
        if !scenario.outage.inject.is_empty() {
            self.journal.emit(EventKind::RestorePending {
                actions: scenario.outage.restore.len(),
            });
            if let Err(e) = self.journal.sync() {
                self.journal.emit(EventKind::HarnessFailed {
                    error: format!("cannot sync the journal before injecting: {e}"),
                });
                return set;
            }
        }
        let start = Instant::now();
        for (i, a) in scenario.outage.inject.iter().enumerate() {
            if self.stopped() {
                break;
            }
            if !self.run_action(ActionSide::Inject, i, a).await {
                self.journal.emit(EventKind::OutageEnded { early: true });
                return set;
            }
        }

        for planned in &timeline.steps {
            let at = start + planned.offset;
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = self.stop.cancelled() => break,
            }
            match &planned.step {
                Step::Faults { index, faults } => {
                    self.board
                        .apply(*index, planned.offset.as_secs_f64() * 1e3, faults);
                }
                Step::Fire { alert, n } => {
                    let a = &scenario.alerts[*alert];
                    let expect = match &a.expect {
                        crate::scenario::model::Expect::Any => Vec::new(),
                        crate::scenario::model::Expect::All(list) => list.clone(),
                    };
                    let plan = FirePlan {
                        alert: &a.name,
                        title: a.title(),
                        severity: a.severity,
                        purpose: Purpose::Outage,
                        n: *n,
                        rto_ms: a.rto.as_millis(),
                        expect,
                        planned_offset_ms: Some(planned.offset.as_secs_f64() * 1e3),
                    };
                    self.fire(&target, &mut set, plan);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(start + timeline.length) => {}
            _ = self.stop.cancelled() => {}
        }
        self.journal.emit(EventKind::OutageEnded {
            early: self.stopped(),
        });
        set
    }

    /// Reads Alertmanager's failure counters, when the target is one.
    async fn read_metrics(&self, when: &str) {
        let target = &self.loaded.scenario.target;
        if target.kind != crate::scenario::model::TargetKind::Alertmanager {
            return;
        }
        let Some(url) = &target.url else { return };
        if let Some(metrics) = crate::target::metrics::read(url).await {
            self.journal.emit(EventKind::TargetMetrics {
                when: when.to_string(),
                metrics,
            });
        }
    }

    /// Lifts every fault and runs every restore action, even after an
    /// interruption; a failure is journaled loudly and restore goes on.
    async fn restore(&self) {
        self.board.lift();
        let scenario = &self.loaded.scenario;
        let injected = self
            .journal
            .with_state(|s| s.actions.iter().any(|a| a.side == ActionSide::Inject));
        if !injected {
            return;
        }
        let mut errors = Vec::new();
        for (i, a) in scenario.outage.restore.iter().enumerate() {
            if !self.run_action(ActionSide::Restore, i, a).await {
                errors.push(format!("restore action {} failed", i + 1));
            }
        }
        let ok = errors.is_empty();
        let error = (!ok).then(|| errors.join("; "));
        self.journal.emit(EventKind::RestoreFinished {
            ok,
            error,
            by_recover: false,
        });
        let _ = self.journal.sync();
    }

    async fn run_action(
        &self,
        side: ActionSide,
        index: usize,
        a: &crate::scenario::model::Action,
    ) -> bool {
        let description = action::describe(a);
        self.journal.emit(EventKind::ActionStarted {
            side,
            index,
            description,
        });
        let _ = self.journal.sync();
        let started = Instant::now();
        let result = action::run(a, &self.vars(), &self.loaded.dir).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        let ok = result.is_ok();
        self.journal.emit(EventKind::ActionFinished {
            side,
            index,
            ok,
            error: result.err(),
            elapsed_ms,
        });
        let _ = self.journal.sync();
        ok
    }

    /// Waits until every firing is decided (arrived, refused, given up, or
    /// past its RTO plus the grace) and the target is done with all of them,
    /// or the hard cap passes. Waiting for the target too keeps the record
    /// whole and the verdict fixed: a firing that arrived while its target
    /// was still working (a slow route, a script that exits 1 after sending)
    /// would otherwise be cut off at teardown, its route outcome or its
    /// refusal unrecorded, and judged on a race.
    async fn settle(&self) {
        let cap = self.journal.with_state(|s| {
            s.firings
                .iter()
                .map(verdict::deadline)
                .max()
                .unwrap_or_default()
        });
        let cap = Instant::from_std(self.journal.clock().instant(cap));
        let cap = cap
            .checked_add(verdict::SETTLE_GRACE.saturating_add(settle_cap_margin(&self.loaded)))
            .unwrap_or_else(|| deadline_in(Duration::MAX));
        let in_flight = self.in_flight.clone();
        let clock = self.journal.clock().clone();
        self.wait_for(cap, move |s| {
            let now = clock.now();
            let busy = in_flight.lock().unwrap_or_else(|p| p.into_inner());
            busy.is_empty()
                && s.firings
                    .iter()
                    .all(|f| verdict::decided(f, now, busy.contains(&f.nonce)))
        })
        .await;
    }

    /// Waits until `cond` holds on the state, `deadline` passes, or the drill
    /// is interrupted. Re-evaluates on every event and every tick.
    async fn wait_for(&self, deadline: Instant, cond: impl Fn(&State) -> bool) -> bool {
        let mut changes = self.journal.subscribe();
        loop {
            if self.journal.with_state(&cond) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = self.target_done.notified() => {}
                _ = tokio::time::sleep(SETTLE_TICK) => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = self.stop.cancelled() => return self.journal.with_state(&cond),
            }
        }
    }
}

/// The instant `d` from now; a `d` too long for the clock (a scenario may
/// write `rto: 18446744073709551615s`) waits as long as a timeline may last.
fn deadline_in(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d.min(schedule::MAX_TIMELINE))
        .unwrap_or(now)
}

/// What to fire: one alert or canary.
struct FirePlan<'a> {
    alert: &'a str,
    title: &'a str,
    severity: Severity,
    purpose: Purpose,
    n: u32,
    rto_ms: u64,
    expect: Vec<String>,
    planned_offset_ms: Option<f64>,
}

/// How much longer than the last RTO deadline settle may wait for a target
/// that is still working: the built-in target's whole failover chain.
fn settle_cap_margin(loaded: &Loaded) -> Duration {
    let routes = loaded
        .scenario
        .target
        .routes
        .iter()
        .fold(Duration::ZERO, |sum, r| sum.saturating_add(r.timeout.0));
    let fire = loaded
        .scenario
        .target
        .timeout
        .map(|d| d.0)
        .unwrap_or(Duration::from_secs(10));
    routes.max(fire)
}

fn first_on(s: &State, nonce: &str, channels: &[String]) -> Option<(String, super::clock::Stamp)> {
    let f = s.firing(nonce)?;
    f.arrivals
        .iter()
        .filter(|(c, _)| channels.contains(c))
        .min_by_key(|(_, t)| **t)
        .map(|(c, t)| (c.clone(), *t))
}

/// The run's listeners for Ctrl-C (SIGINT) and SIGTERM.
struct Signals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl Signals {
    /// Replaces the default action (die) of both signals with delivery to
    /// these listeners, from this moment on: a signal that comes before
    /// anyone waits on them is kept, not lost. A listener that cannot be
    /// installed leaves that signal's default action in place.
    fn listen() -> Signals {
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(signal = name, error = %e, "cannot listen for the signal");
                None
            }
        };
        Signals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
        }
    }
}

/// Resolves when `signal` arrives; never without a listener.
async fn arrival(signal: Option<&mut Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Ctrl-C or SIGTERM: journal it and cancel every wait.
async fn watch_signals(mut signals: Signals, journal: Arc<Journal>, stop: CancellationToken) {
    let name = tokio::select! {
        _ = arrival(signals.interrupt.as_mut()) => "SIGINT",
        _ = arrival(signals.terminate.as_mut()) => "SIGTERM",
    };
    eprintln!("\n{name}: lifting every fault and running restore actions before exiting…");
    journal.emit(EventKind::Interrupted {
        signal: name.to_string(),
    });
    let _ = journal.sync();
    stop.cancel();
}

fn new_run_id() -> String {
    let n: u32 = rand::random();
    format!("{:08x}", n)[..6].to_string()
}
