//! Embargo's own SECURITY.md is rendered from its policy settings
//! (`docs/security-policy.toml`) by `embargo security-md`, the renderer of
//! `/orgs/{org}/SECURITY.md`; the checked-in file must be exactly that rendering.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::embargo_bin;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn security_md(file: &std::path::Path) -> Output {
    Command::new(embargo_bin())
        .arg("security-md")
        .arg(file)
        .output()
        .unwrap()
}

fn policy_settings() -> String {
    std::fs::read_to_string(repo_root().join("docs/security-policy.toml")).unwrap()
}

#[test]
fn checked_in_security_md_is_the_rendering_of_the_policy_settings() {
    let out = security_md(&repo_root().join("docs/security-policy.toml"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    let checked_in = std::fs::read_to_string(repo_root().join("SECURITY.md")).unwrap();
    assert!(
        rendered == checked_in,
        "SECURITY.md differs from the rendering of docs/security-policy.toml: run \
         scripts/security-md and commit the result"
    );
    // What the policy promises is there, and the placeholders say they are placeholders.
    assert!(checked_in.contains("within 14 days"));
    assert!(checked_in.contains("<security@embargo.invalid>"));
    assert!(checked_in.contains("placeholders"));
    assert!(checked_in.contains("Only the `main` branch is supported"));
}

#[test]
fn a_changed_setting_changes_the_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    let settings = policy_settings();
    assert!(settings.contains("response_days = 14\n"));
    std::fs::write(
        &file,
        settings
            .replace("response_days = 14\n", "response_days = 5\n")
            .replace("disclose_closed_days = 0\n", "disclose_closed_days = 60\n"),
    )
    .unwrap();
    let out = security_md(&file);
    assert!(out.status.success());
    let rendered = String::from_utf8(out.stdout).unwrap();
    let checked_in = std::fs::read_to_string(repo_root().join("SECURITY.md")).unwrap();
    assert_ne!(rendered, checked_in);
    assert!(rendered.contains("within 5 days"));
    assert!(rendered.contains("60 days after they are closed"));
}

#[test]
fn bad_settings_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    let refused = |text: &str| {
        std::fs::write(&file, text).unwrap();
        let out = security_md(&file);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        String::from_utf8(out.stderr).unwrap()
    };
    let settings = policy_settings();

    let err = refused(&settings.replace("[policy]\n", "[policy]\nresponse_time = 3\n"));
    assert!(err.contains("policy.toml"), "{err}");
    assert!(err.contains("response_time"), "{err}");

    let err = refused(&settings.replace("embargo_max = \"90d\"", "embargo_max = \"ninety\""));
    assert!(err.contains("embargo_max"), "{err}");

    let err =
        refused(&settings.replace("mailto:security@embargo.invalid", "mailto:not an address"));
    assert!(err.contains("contacts"), "{err}");

    let err = refused(&format!("# {}\n{settings}", "x".repeat(70 * 1024)));
    assert!(err.contains("larger than 64 KiB"), "{err}");
}
