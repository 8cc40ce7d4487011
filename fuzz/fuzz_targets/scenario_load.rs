//! Fuzzes the scenario loader (`load_bytes`) and what a loaded scenario
//! goes through next: planning at any speed and the journal's round trip.
//! Refusing bytes is fine; panicking or breaking a rule of
//! `outage_drill::scenario::fuzz::check` is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = outage_drill::scenario::fuzz::check(data) {
        panic!("{broken}");
    }
});
