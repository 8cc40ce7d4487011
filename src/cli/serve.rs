//! `outage-drill serve` (hidden): one channel's endpoint on its own, healthy,
//! for load benchmarks (`bench/run`) and for poking at by hand.
//!
//! The endpoint runs exactly as in a drill — same code, same limits, same
//! journal and observer — but without a scenario: it registers a range of
//! live nonces (`DRILL-bench-<kind>-1` …) and journals a firing for each, so
//! that every request carrying one is scanned, journaled and folded as an
//! arrival. The bound address is the first line on stdout; on SIGINT or
//! SIGTERM the endpoint shuts down and the arrival count is printed, so a
//! benchmark can check that its load really arrived. Never used by a drill.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::drill::clock::Clock;
use crate::drill::event::{EventKind, Purpose};
use crate::drill::journal::Journal;
use crate::endpoint::{self, EndpointContext, FaultBoard, Observer};
use crate::scenario::model::{ChannelKind, Severity};
use crate::secret::Secrets;

/// How long the endpoint gets to close after the signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// RTO of the registered firings; only recorded, never judged here.
const BENCH_RTO_MS: u64 = 60_000;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Channel kind: smtp, graph, slack, teams, pagerduty, ntfy or webhook.
    #[arg(long, value_parser = parse_kind)]
    kind: ChannelKind,
    /// Address to listen on; port 0 lets the system choose.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How many live nonces to register: DRILL-bench-<kind>-1 to -N.
    #[arg(long, default_value_t = 1000)]
    nonces: u32,
    /// Append the journal to this file, as a drill does (default: memory).
    #[arg(long)]
    journal: Option<PathBuf>,
}

fn parse_kind(text: &str) -> Result<ChannelKind, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("unknown kind `{text}`"))
}

/// Serves until SIGINT or SIGTERM; exit code 0, or 3 when the endpoint
/// cannot start.
pub async fn serve(args: ServeArgs) -> u8 {
    let clock = Clock::start();
    let journal = match &args.journal {
        Some(path) => match Journal::create(path, clock, Secrets::default()) {
            Ok(journal) => journal,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return super::EXIT_ERROR;
            }
        },
        None => Journal::in_memory(clock),
    };
    let channel = args.kind.as_str();
    let observer = Observer::new(journal.clone());
    register(&journal, &observer, channel, args.nonces);

    let cancel = CancellationToken::new();
    let ctx = EndpointContext {
        journal: journal.clone(),
        faults: FaultBoard::new(0, [channel], journal.clone()),
        observer,
        cancel: cancel.clone(),
    };
    let running = match endpoint::start(channel, args.kind, args.listen, ctx).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return super::EXIT_ERROR;
        }
    };
    // A closed stdout must not take the endpoint down: write, don't print.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", running.addr).and_then(|_| stdout.flush());

    wait_for_signal().await;
    cancel.cancel();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, running.task).await;
    let _ = journal.sync();
    let (arrivals, nonces) = journal.with_state(|s| {
        let arrivals: u64 = s.firings.iter().map(|f| u64::from(f.arrival_count)).sum();
        let nonces = s.firings.iter().filter(|f| f.arrival_count > 0).count();
        (arrivals, nonces)
    });
    let _ = writeln!(stdout, "arrivals: {arrivals} ({nonces} distinct nonces)");
    0
}

/// Makes nonces 1..=count live and journals a firing for each, as the
/// orchestrator does before handing an alert to the target.
fn register(journal: &Arc<Journal>, observer: &Observer, channel: &str, count: u32) {
    for n in 1..=count {
        let nonce = format!("DRILL-bench-{channel}-{n}");
        observer.register(&nonce);
        journal.emit(EventKind::AlertFired {
            nonce,
            alert: "bench".to_string(),
            title: "Benchmark load".to_string(),
            severity: Severity::Low,
            purpose: Purpose::Outage,
            n,
            rto_ms: BENCH_RTO_MS,
            expect: Vec::new(),
            planned_offset_ms: None,
        });
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
