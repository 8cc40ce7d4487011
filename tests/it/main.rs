//! The integration tests: one binary, one module per area.
//!
//! `harness` runs the real `outage-drill` binary in a scratch folder and,
//! when an assertion fails, prints the command, its folder, stdout and
//! stderr.

mod audit;
mod harness;
