//! outage-drill: contingency-plan drills for alert pipelines.
//!
//! A drill breaks the primary mail path (Exchange Online SMTP, Graph
//! sendMail) on purpose, fires test alerts through the pipeline under test,
//! and proves — per alert, per channel, against an RTO — that they still
//! reached a responder. The layout follows the data:
//!
//! - [`scenario`]: the YAML contract, loading and validation;
//! - [`endpoint`]: what the harness runs on each channel (mock SMTP and
//!   Graph, capture sinks) and the faults they apply;
//! - [`target`]: how alerts enter the pipeline under test;
//! - [`drill`]: the orchestrator, its event journal and the verdicts;
//! - [`record`]: summary.json, junit.xml and the CP-4 test record;
//! - [`audit`]: the exposure audit of playbooks and alert configs that
//!   send mail through Exchange Online;
//! - [`cli`]: the command line.

pub mod audit;
pub mod cli;
pub mod drill;
pub mod endpoint;
pub mod record;
pub mod scenario;
pub mod secret;
pub mod target;
pub mod tls;
