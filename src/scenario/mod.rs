//! The scenario format: model, loading, validation and the planned timeline.

pub mod duration;
pub mod model;
