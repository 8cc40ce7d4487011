//! Running a drill: the clock, the events, the journal and the verdicts.

pub mod clock;
pub mod event;
pub mod journal;
pub mod state;
