//! The API's JSON bodies, from any bytes: reading never panics, what reads writes back as
//! the same value, and the checks the handlers run (`into_content`, `check`, applying an
//! edit) answer without panicking. The first byte chooses the body.
#![no_main]

use embargo_domain::advisory::{Content, Credit, Edit, NewReport, Vulnerability};
use embargo_domain::policy::Policy;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads `bytes` as `T`; what reads must write and read back as itself.
fn read<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(bytes).ok()?;
    let written = serde_json::to_string(&value).expect("a body read writes back");
    let again: T = serde_json::from_str(&written).expect("a body written reads back");
    assert_eq!(again, value, "{written}");
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => {
            if let Some(r) = read::<NewReport>(body)
                && let Ok(content) = r.into_content()
            {
                content.check().expect("into_content checks its content");
            }
        }
        1 => {
            if let Some(edit) = read::<Edit>(body) {
                let _ = (edit.is_empty(), edit.describe());
                if edit.check().is_ok() {
                    let base = Content {
                        title: "Title".into(),
                        description: "Description".into(),
                        ..Content::default()
                    };
                    let _ = edit.applied_to(&base).check();
                }
            }
        }
        2 => {
            if let Some(v) = read::<Vulnerability>(body) {
                let _ = v.check();
                let _ = v.effective_ranges();
            }
        }
        3 => {
            if let Some(mut p) = read::<Policy>(body) {
                let _ = Policy::check_offsets("reminders", p.reminders.clone());
                let _ = Policy::check_offsets("embargo_warnings", p.embargo_warnings.clone());
                // A deadline is taken only through its check; then it is used.
                if p.set_response_deadline(p.response_deadline).is_ok() {
                    let _ = p.response_due(time::OffsetDateTime::UNIX_EPOCH);
                }
            }
        }
        4 => {
            if let Some(c) = read::<Content>(body) {
                let _ = c.check();
            }
        }
        _ => {
            let _ = read::<Vec<Credit>>(body);
        }
    }
});
