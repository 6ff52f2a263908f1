//! Package URLs never panic; what reads as one builds back into a package URL that reads
//! the same (ecosystem, name and version).
#![no_main]

use embargo_formats::purl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok((eco, name, version)) = purl::parse(text, "purl") else {
        return;
    };
    assert!(!name.is_empty());
    let _ = purl::same_package(&eco, &name, &name);
    if let Some(built) = purl::build(eco.as_str(), &name, version.as_deref()) {
        let again = purl::parse(&built, "purl");
        let Ok((eco2, name2, version2)) = again else {
            panic!("{text:?} read, built as {built:?}, which does not read: {again:?}");
        };
        assert_eq!(eco2, eco, "{text:?} → {built:?}");
        assert!(
            purl::same_package(&eco, &name, &name2),
            "{text:?} → {built:?}: {name} ≠ {name2}"
        );
        assert_eq!(version2, version, "{text:?} → {built:?}");
    }
});
