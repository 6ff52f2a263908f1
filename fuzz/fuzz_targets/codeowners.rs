//! The CODEOWNERS reader never panics; every owner it reads is named once, is found in the
//! file as written, and a handle is lower case.
#![no_main]

use embargo_domain::codeowners::{Owner, owners};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (found, invalid) = owners(text);
    let lower = text.to_lowercase();
    for (i, o) in found.iter().enumerate() {
        assert!(!found[..i].contains(o), "{o:?} named twice");
        let written = o.as_written();
        assert!(
            lower.contains(&written.to_lowercase()),
            "{written} not in the file"
        );
        if let Owner::Handle(h) = o {
            assert_eq!(*h, h.to_ascii_lowercase());
        }
    }
    for token in &invalid {
        assert!(text.contains(token.as_str()), "{token} not in the file");
    }
});
