//! The CVSS parser never panics, and what it accepts prints back as given and scores in range.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = embargo_formats::cvss::parse(s) {
            assert_eq!(c.to_string(), s.trim());
            let score = c.base_score();
            assert!((0.0..=10.0).contains(&score));
        }
    }
});
