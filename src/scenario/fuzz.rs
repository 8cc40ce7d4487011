//! The scenario loader as a fuzz entry: [`check`] takes any bytes, as the
//! `scenario_load` fuzz target and its regression tests do.
//!
//! Loading may refuse the bytes, never panic, and its error must name the
//! file. A scenario that loads must then survive what `run` and `plan` do
//! next: plan its timeline at any speed the command line accepts, and go
//! into the journal's `drill_started` event and come back unchanged, since
//! `report` and `recover` read the scenario from there.

use std::path::Path;

use super::load::{LoadOptions, Loaded, ScenarioError, load_bytes};
use super::model::Scenario;
use crate::drill::schedule;

/// The path fuzzed bytes are loaded as.
const FUZZ_PATH: &str = "fuzz/scenario.yaml";

/// Speeds `plan` is tried at: `--speed` accepts any positive finite number.
const SPEEDS: [f64; 4] = [1.0, 360.0, 1e-9, f64::MAX];

/// Loads `data` as a scenario file. `${VAR}` resolves to a value derived
/// from the name, except for names starting with `UNSET`; `live` is
/// allowed when the input's length is odd, so both paths are fuzzed.
///
/// # Errors
///
/// The loader's own error for bytes that are not a valid scenario.
pub fn load(data: &[u8]) -> Result<Loaded, ScenarioError> {
    let env = |name: &str| (!name.starts_with("UNSET")).then(|| format!("secret-{name}"));
    let options = LoadOptions {
        live: data.len() % 2 == 1,
    };
    load_bytes(Path::new(FUZZ_PATH), data, options, &env)
}

/// Loads `data` and checks what must hold for any input.
///
/// # Errors
///
/// The first rule broken (a panic is not caught here: the fuzzer sees it).
pub fn check(data: &[u8]) -> Result<(), String> {
    let loaded = match load(data) {
        Ok(loaded) => loaded,
        Err(error) => {
            let text = error.to_string();
            return if text.starts_with(FUZZ_PATH) {
                Ok(())
            } else {
                Err(format!("the error does not name the file: {text}"))
            };
        }
    };
    for speed in SPEEDS {
        // Refusing (too many firings, too long) is fine; panicking is not.
        let _ = schedule::plan(&loaded.scenario, speed);
    }
    round_trip(&loaded.scenario)
}

/// The scenario as the journal stores it must read back the same.
fn round_trip(scenario: &Scenario) -> Result<(), String> {
    let json = serde_json::to_string(scenario).map_err(|e| format!("unserialisable: {e}"))?;
    let back: Scenario = serde_json::from_str(&json)
        .map_err(|e| format!("the journal's copy does not read back: {e}\n{json}"))?;
    let again = serde_json::to_string(&back).map_err(|e| format!("unserialisable: {e}"))?;
    if again != json {
        return Err(format!("the journal's copy changes:\n{json}\n{again}"));
    }
    Ok(())
}
