//! The input parsers (ids, e-mail, slugs, version ranges, upstreams) never panic.
#![no_main]

use embargo_domain::{ids::AdvisoryId, types, version_range::VersionRange};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = AdvisoryId::parse(s);
        let _ = types::Email::parse(s);
        let _ = types::Slug::parse(s);
        let _ = types::Upstream::parse(s);
        let _ = types::CvssVector::parse(s);
        if let Ok(r) = VersionRange::parse(s) {
            assert_eq!(VersionRange::parse(&r.to_string()), Ok(r));
        }
        let _ = embargo_domain::codeowners::owners(s);
    }
});
