//! The integration tests: one binary, one module per area.
//!
//! `harness` runs the real `outage-drill` binary in a scratch folder and,
//! when an assertion fails, prints the command, its folder, stdout and
//! stderr. `smtp` drives the SMTP endpoint through the library with
//! lettre, swaks and raw sockets.

mod alertmanager;
mod drill;
mod harness;
mod pipelines;
mod scenario_errors;
mod schema;
mod smtp;
