//! The import reader (OSV JSON/YAML, GHSA JSON, RustSec Markdown) never panics, and nothing
//! is accepted half: what it reads passes every check of the content it becomes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = embargo_formats::import::parse(data) {
        assert!(!i.source_id.is_empty());
        if let Err(e) = i.content.check() {
            panic!("accepted {} but its content fails: {e}", i.source_id);
        }
    }
});
