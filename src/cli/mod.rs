//! The command line: parses arguments, runs a command, maps results to exit
//! codes (0 pass, 1 fail, 2 invalid scenario or usage, 3 inconclusive,
//! aborted or error). User-facing output goes to stdout/stderr directly;
//! diagnostics go through `tracing` (set `RUST_LOG=debug` to see them).

/// Prints a line to stdout. A reader that went away (`| head`) gets no
/// more, and is no reason to panic or to change the exit code.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod recover;
mod serve;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::drill::run::{RunOptions, run};
use crate::drill::schedule::{self, Step};
use crate::scenario::model::Participant;
use crate::scenario::{LoadOptions, load};

/// Exit code for an invalid scenario or bad usage.
pub const EXIT_INVALID: u8 = 2;
/// Exit code when the harness itself failed.
pub const EXIT_ERROR: u8 = 3;

/// Contingency-plan drills for alert pipelines that depend on Exchange
/// Online: break the mail path on purpose, fire test alerts, and prove they
/// still reach a responder within their RTO.
#[derive(Parser, Debug)]
#[command(name = "outage-drill", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check scenario files without running anything.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Accept `live: true` scenarios (non-loopback addresses).
        #[arg(long)]
        live: bool,
    },
    /// Print the resolved timeline: every fault change, action and firing.
    Plan {
        file: PathBuf,
        /// Divide the outage timeline by N (RTOs and timeouts are not scaled).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        #[arg(long)]
        live: bool,
    },
    /// Run a drill and write its record.
    Run(RunArgs),
    /// Run the restore actions an interrupted or crashed run left pending.
    Recover {
        /// The run's output folder (holding journal.jsonl).
        dir: PathBuf,
    },
    /// Re-render a run's record, summary and JUnit from its journal.
    Report {
        dir: PathBuf,
        /// A folder with record.md.hbs and/or record.html.hbs to use instead
        /// of the built-in templates.
        #[arg(long)]
        template: Option<PathBuf>,
    },
    /// Print the scenario format's JSON Schema (for editors and CI).
    Schema,
    /// Find every alert path that sends mail through Exchange Online, and
    /// whether it has a fallback; write a dependency register and a drill.
    Audit(crate::audit::AuditArgs),
    /// Serve one healthy channel endpoint on its own, for load benchmarks
    /// (see bench/README.md). Not part of a drill.
    #[command(hide = true)]
    Serve(serve::ServeArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The scenario file.
    file: PathBuf,
    /// Output folder (default: reports/<name>-<UTC timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Divide the outage duration, `at` and `every` by N; RTOs and timeouts
    /// are never scaled.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Seed for `rate` faults (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Confirm a `live: true` scenario may touch non-loopback addresses.
    #[arg(long)]
    live: bool,
    /// Add a participant to the record, as "Name:role" (repeatable).
    #[arg(long, value_name = "NAME:ROLE")]
    participant: Vec<String>,
    /// A folder with record.md.hbs and/or record.html.hbs templates.
    #[arg(long)]
    template: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    crate::tls::ensure_provider();
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_INVALID,
            });
        }
    };
    ExitCode::from(dispatch(cli))
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::secret::MaskingStderr)
        .try_init();
}

fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::Validate { files, live } => validate(&files, live),
        Command::Plan { file, speed, live } => plan(&file, speed, live),
        Command::Run(args) => run_drill(args),
        Command::Recover { dir } => runtime().block_on(recover::recover(&dir)),
        Command::Report { dir, template } => report(&dir, template.as_deref()),
        Command::Audit(args) => match crate::audit::run(&args) {
            Ok(exit) => {
                print!("{}", exit.stdout);
                eprint!("{}", exit.stderr);
                exit.code
            }
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        },
        Command::Serve(args) => runtime().block_on(serve::serve(args)),
        Command::Schema => {
            let schema = schemars::schema_for!(crate::scenario::model::Scenario);
            say!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            0
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn validate(files: &[PathBuf], live: bool) -> u8 {
    let mut code = 0;
    for file in files {
        // A scenario whose timeline cannot be planned (too many firings, an
        // outage longer than the clock) would fail at its outage: refuse it
        // here, as `plan` does.
        let planned = load(file, LoadOptions { live }).and_then(|loaded| {
            match schedule::plan(&loaded.scenario, 1.0) {
                Ok(timeline) => Ok((loaded, timeline)),
                Err(e) => Err(crate::scenario::ScenarioError::whole_file(file, e)),
            }
        });
        match planned {
            Ok((loaded, timeline)) => {
                let firings = timeline
                    .steps
                    .iter()
                    .filter(|s| matches!(s.step, Step::Fire { .. }))
                    .count();
                say!(
                    "{}: ok ({} channels, {} alerts, {} firings)",
                    file.display(),
                    loaded.scenario.channels.len(),
                    loaded.scenario.alerts.len(),
                    firings
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_INVALID;
            }
        }
    }
    code
}

fn plan(file: &std::path::Path, speed: f64, live: bool) -> u8 {
    if !(speed > 0.0 && speed.is_finite()) {
        eprintln!("error: --speed must be a positive number");
        return EXIT_INVALID;
    }
    let loaded = match load(file, LoadOptions { live }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let s = &loaded.scenario;
    let timeline = match schedule::plan(s, speed) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return EXIT_INVALID;
        }
    };
    say!("{} — {}", s.name, s.title);
    say!(
        "speed {speed}×: the outage lasts {:.3}s",
        timeline.length.as_secs_f64()
    );
    say!(
        "setup: bind {} channel(s); baseline canary: {}",
        s.channels.len(),
        s.checks.baseline
    );
    for (i, a) in s.outage.inject.iter().enumerate() {
        say!(
            "  +0.000s  inject {}: {}",
            i + 1,
            crate::drill::action::describe(a)
        );
    }
    for p in &timeline.steps {
        let at = p.offset.as_secs_f64();
        match &p.step {
            Step::Faults { index, faults } => {
                let list: Vec<String> = faults
                    .iter()
                    .map(|(c, f)| {
                        let stage = f
                            .stage
                            .map(|st| format!(" at {}", st.as_str()))
                            .unwrap_or_default();
                        let rate = f.rate.map(|r| format!(" rate {r}")).unwrap_or_default();
                        format!("{c}={}{stage}{rate}", f.fail)
                    })
                    .collect();
                say!(
                    "  +{at:.3}s  phase {}: {}",
                    index + 1,
                    if list.is_empty() {
                        "no faults".into()
                    } else {
                        list.join(", ")
                    }
                );
            }
            Step::Fire { alert, n } => {
                let a = &s.alerts[*alert];
                say!(
                    "  +{at:.3}s  fire {} #{n} ({}, RTO {})",
                    a.name,
                    a.severity.as_str(),
                    a.rto
                );
            }
        }
    }
    say!(
        "  +{:.3}s  outage ends: lift faults",
        timeline.length.as_secs_f64()
    );
    for (i, a) in s.outage.restore.iter().enumerate() {
        say!(
            "  +{:.3}s  restore {}: {}",
            timeline.length.as_secs_f64(),
            i + 1,
            crate::drill::action::describe(a)
        );
    }
    say!(
        "then: recovery canary: {}; settle; record",
        s.checks.recovery
    );
    0
}

fn parse_participant(text: &str) -> Option<Participant> {
    let (name, role) = text.split_once(':').unwrap_or((text, ""));
    let name = name.trim();
    (!name.is_empty()).then(|| Participant {
        name: name.to_string(),
        role: role.trim().to_string(),
    })
}

fn run_drill(args: RunArgs) -> u8 {
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        eprintln!("error: --speed must be a positive number, e.g. --speed 60");
        return EXIT_INVALID;
    }
    let mut participants = Vec::new();
    for p in &args.participant {
        match parse_participant(p) {
            Some(p) => participants.push(p),
            None => {
                eprintln!("error: --participant `{p}`: write it as \"Name:role\"");
                return EXIT_INVALID;
            }
        }
    }
    let loaded = match load(&args.file, LoadOptions { live: args.live }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    crate::secret::set_global(&loaded.secrets);
    let opts = RunOptions {
        speed: args.speed,
        seed: args.seed,
        out_dir: args.out.clone(),
        participants,
        live: args.live,
        progress: std::io::stderr().is_terminal(),
    };
    let finished = match runtime().block_on(run(loaded, opts)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    if let Some(dir) = &args.template {
        let journal = finished.dir.join(crate::record::JOURNAL);
        let outputs = crate::record::Outputs {
            dir: &finished.dir,
            journal: &journal,
            templates: Some(dir),
        };
        if let Err(e) = crate::record::write_all(&outputs, &finished.state) {
            eprintln!(
                "error: cannot render with the templates in {}: {e}",
                dir.display()
            );
        }
    }
    print_summary(&finished.state, &finished.dir);
    finished.verdict.exit_code()
}

fn print_summary(state: &crate::drill::state::State, dir: &std::path::Path) {
    let view = crate::record::view::build(state);
    let c = view.counts;
    say!(
        "verdict: {} — {} delivered, {} late, {} dropped, {} not fired",
        view.verdict,
        c.delivered,
        c.late,
        c.dropped,
        c.not_fired
    );
    for reason in &view.reasons {
        say!("  {reason}");
    }
    if view.restore != "ok" {
        say!("  RESTORE: {}", view.restore);
    }
    say!("record: {}", dir.join("record.html").display());
}

fn report(dir: &std::path::Path, template: Option<&std::path::Path>) -> u8 {
    let path = dir.join(crate::record::JOURNAL);
    let (events, skipped) = match crate::drill::journal::read(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return EXIT_INVALID;
        }
    };
    if skipped > 0 {
        eprintln!(
            "warning: {skipped} unreadable line(s) in {} were skipped",
            path.display()
        );
    }
    let state = crate::drill::state::State::from_events(&events);
    if state.run.is_none() {
        eprintln!(
            "error: {} has no drill in it (no drill_started event)",
            path.display()
        );
        return EXIT_INVALID;
    }
    let outputs = crate::record::Outputs {
        dir,
        journal: &path,
        templates: template,
    };
    if let Err(e) = crate::record::write_all(&outputs, &state) {
        eprintln!("error: cannot write the record: {e}");
        return EXIT_ERROR;
    }
    print_summary(&state, dir);
    0
}
