//! Fuzzes the SMTP endpoint's session: the first byte picks a fault, the
//! rest is what a client sends. The session must never panic, and its
//! replies must pass `Transcript::check` (well-formed, bounded, no arrival
//! without an accepted message).
#![no_main]

use libfuzzer_sys::fuzz_target;
use outage_drill::endpoint::smtp::replay::replay;

fuzz_target!(|data: &[u8]| {
    let transcript = replay(data);
    if let Err(broken) = transcript.check() {
        panic!("{broken}");
    }
});
