//! The exposure audit: `outage-drill audit PATH...` finds every alert path
//! that sends mail through Exchange Online, judges whether it has a
//! fallback, writes the dependency register and can emit a drill scenario.
//!
//! It reads files only, never the network. `scan` walks the paths and
//! hands each file to the parser that recognises its content
//! (`logicapp`, `shuffle`, `n8n`, `alertmanager`), or to `generic` for a
//! labelled text match; `register` and `emit` render the [`Report`].

mod alertmanager;
mod channel;
mod command;
pub mod criticality;
pub mod emit;
mod error;
mod generic;
mod logicapp;
pub mod model;
mod n8n;
pub mod register;
pub mod scan;
mod shuffle;
mod text;

pub use channel::{Channel, ChannelKind, Independence};
pub use command::{AuditArgs, AuditExit, run};
pub use error::AuditError;
pub use model::{
    Coverage, Criticality, FallbackRoute, Finding, Format, Gap, Location, Problem, Report,
    Transport, Verdict,
};
