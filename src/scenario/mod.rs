//! The scenario format: model, loading, validation and the planned timeline.

pub mod duration;
pub mod fuzz;
pub mod load;
pub mod model;
pub mod validate;

pub use load::{LoadOptions, Loaded, ScenarioError, load};
