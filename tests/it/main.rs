//! The integration tests: one binary, one module per area.
//!
//! `harness` runs the real `outage-drill` binary in a scratch folder and,
//! when an assertion fails, prints the command, its folder, stdout and
//! lettre, swaks and raw sockets.
//! sockets.
//! stderr. `http` drives the HTTP endpoints through the library over real
//! stderr. `smtp` drives the SMTP endpoint through the library with

mod alertmanager;
mod audit;
mod drill;
mod harness;
mod http;
mod pipelines;
mod scenario_errors;
mod schema;
mod smtp;
