//! Running a drill: the clock, the events, the journal and the verdicts.

pub mod action;
pub mod clock;
pub mod event;
pub mod journal;
pub mod progress;
pub mod run;
pub mod schedule;
pub mod state;
pub mod verdict;
