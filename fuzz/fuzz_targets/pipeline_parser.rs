//! Any text as a pipeline file: every problem is reported, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = zhibao::pipeline::Pipeline::from_text("fuzz.toml", text) {
            assert!(!e.problems.is_empty());
        }
    }
});
