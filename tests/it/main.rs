//! The integration tests: one binary, one module per area.
//!
//! `harness` runs the real `outage-drill` binary in a scratch folder and,
//! when an assertion fails, prints the command, its folder, stdout and
//! stderr. `smtp` and `http` drive the endpoints through the library with
//! real clients (lettre, swaks, reqwest, curl, raw sockets); `drill`,
//! `pipelines` and `alertmanager` run whole drills through the binary;
//! `record` pins the CP-4 test record and renders it in headless Chromium;
//! `hostile` runs a drill while clients attack its endpoints; `interrupt`
//! (ignored by default, run by `.ci/run`) stops drills at 20 moments with
//! SIGINT and SIGKILL; `fuzz` replays the fuzz corpora and regressions.

mod alertmanager;
mod audit;
mod drill;
mod fuzz;
mod harness;
mod hostile;
mod http;
mod interrupt;
mod pipelines;
mod record;
mod scenario_errors;
mod schema;
mod smtp;
