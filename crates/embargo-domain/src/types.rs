//! Checked input types: each is built only by `parse`, and serde goes through `parse` too.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::error::check_text;

macro_rules! string_type {
    ($name:ident, $field:literal) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            /// The message alone: serde reports the field's path itself.
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s).map_err(|e| e.message)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// An e-mail address: one `@`, a plausible domain, lower-cased so it identifies one account.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);
string_type!(Email, "email");

impl Email {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let f = |m: &str| FieldError::new("email", m.to_owned());
        let s = s.trim();
        if s.is_empty() {
            return Err(f("is empty; give an address such as alice@example.org"));
        }
        if s.len() > 254 {
            return Err(f("is longer than 254 characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(f("has no '@'; give an address such as alice@example.org"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(f("needs 1 to 64 characters before the '@'"));
        }
        if local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "@<>()[]\\,;:\"".contains(c))
        {
            return Err(f("has a character that is not allowed before the '@'"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(f(
                "has a domain that is not a valid host name such as example.org",
            ));
        }
        Ok(Self(s.to_lowercase()))
    }
}

/// A slug for organisations and repositories: lower-case letters, digits, `-`, `_` and `.`,
/// 1 to 64 characters, starting and ending with a letter or digit.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(pattern = r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")]
pub struct Slug(String);
string_type!(Slug, "slug");

impl Slug {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let f = |m: &str| FieldError::new("slug", m.to_owned());
        if s.is_empty() || s.len() > 64 {
            return Err(f("needs 1 to 64 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        {
            return Err(f(
                "may hold only lower-case letters, digits, '-', '_' and '.'",
            ));
        }
        let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if !edge_ok(s.chars().next()) || !edge_ok(s.chars().last()) {
            return Err(f("must start and end with a letter or digit"));
        }
        if s.contains("..") {
            return Err(f("may not contain '..'"));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A CVE id, `CVE-YYYY-NNNN` with four or more digits in the sequence part.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(pattern = r"^CVE-[0-9]{4}-[0-9]{4,19}$")]
pub struct CveId(String);
string_type!(CveId, "cve_id");

impl CveId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let err = || FieldError::new("cve_id", "is not a CVE id of the form CVE-2026-12345");
        let upper = s.trim().to_ascii_uppercase();
        let mut parts = upper.splitn(3, '-');
        let (Some("CVE"), Some(year), Some(seq)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        if year.len() != 4 || !digits(year) || !(4..=19).contains(&seq.len()) || !digits(seq) {
            return Err(err());
        }
        Ok(Self(upper))
    }
}

/// A CWE id, `CWE-79`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(pattern = r"^CWE-[1-9][0-9]{0,5}$")]
pub struct CweId(String);
string_type!(CweId, "cwe_ids");

impl CweId {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let upper = s.trim().to_ascii_uppercase();
        match upper.strip_prefix("CWE-") {
            // Written without leading zeros (`CWE-079` is CWE-79), as CVE records require.
            Some(n)
                if (1..=6).contains(&n.len())
                    && n.chars().all(|c| c.is_ascii_digit())
                    && !n.trim_start_matches('0').is_empty() =>
            {
                Ok(Self(format!("CWE-{}", n.trim_start_matches('0'))))
            }
            _ => Err(FieldError::new(
                "cwe_ids",
                format!("'{}' is not a CWE id of the form CWE-79", truncate(s, 40)),
            )),
        }
    }
}

/// A CVSS vector as text (`CVSS:3.1/AV:N/...` or `CVSS:4.0/AV:N/...`). Only its shape is
/// checked here; scoring checks every metric.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct CvssVector(String);
string_type!(CvssVector, "cvss_vector");

impl CvssVector {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let f = |m: String| FieldError::new("cvss_vector", m);
        let s = s.trim();
        if s.len() > 512 {
            return Err(f("is longer than 512 characters".into()));
        }
        let Some((prefix, metrics)) = s.split_once('/') else {
            return Err(f("must start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/".into()));
        };
        if !["CVSS:3.0", "CVSS:3.1", "CVSS:4.0"].contains(&prefix) {
            return Err(f(format!(
                "starts with '{}'; it must start with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/",
                truncate(prefix, 20)
            )));
        }
        for part in metrics.split('/') {
            let ok = part.split_once(':').is_some_and(|(m, v)| {
                !m.is_empty()
                    && !v.is_empty()
                    && m.chars().all(|c| c.is_ascii_alphanumeric())
                    && v.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !ok {
                return Err(f(format!(
                    "'{}' is not a METRIC:VALUE pair",
                    truncate(part, 20)
                )));
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// `3.0`, `3.1` or `4.0`.
    pub fn version(&self) -> &str {
        self.0.get(5..8).unwrap_or_default()
    }
}

/// A package ecosystem, in OSV's spelling. Forge spellings (`cargo`, `pip`, `composer`, ...)
/// are accepted and translated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Ecosystem(String);
string_type!(Ecosystem, "ecosystem");

/// OSV ecosystem names this version knows, and forge aliases for some of them.
const ECOSYSTEMS: &[(&str, &[&str])] = &[
    ("AlmaLinux", &[]),
    ("Alpaquita", &[]),
    ("Alpine", &[]),
    ("Android", &[]),
    ("Azure Linux", &[]),
    ("BellSoft Hardened Containers", &[]),
    ("Bioconductor", &[]),
    ("Bitnami", &[]),
    ("Chainguard", &[]),
    ("CleanStart", &[]),
    ("ConanCenter", &["conan"]),
    ("CRAN", &[]),
    ("crates.io", &["cargo", "rust"]),
    ("Debian", &[]),
    ("Docker Hardened Images", &[]),
    ("Echo", &[]),
    ("FreeBSD", &[]),
    ("GHC", &[]),
    ("GitHub Actions", &["actions"]),
    ("Go", &["golang"]),
    ("Hackage", &[]),
    ("Hex", &["erlang"]),
    ("Julia", &[]),
    ("Kubernetes", &[]),
    ("Linux", &[]),
    ("Mageia", &[]),
    ("Maven", &[]),
    ("MinimOS", &[]),
    ("npm", &[]),
    ("NuGet", &[]),
    ("opam", &[]),
    ("openEuler", &[]),
    ("openSUSE", &[]),
    ("OSS-Fuzz", &[]),
    ("Packagist", &["composer"]),
    ("Photon OS", &[]),
    ("Pub", &[]),
    ("PyPI", &["pip", "python"]),
    ("Red Hat", &[]),
    ("Rocky Linux", &[]),
    ("Root", &[]),
    ("RubyGems", &["rubygems", "gem"]),
    ("SUSE", &[]),
    ("SwiftURL", &["swift"]),
    ("TuxCare", &[]),
    ("Ubuntu", &[]),
    ("VSCode", &[]),
    ("Wolfi", &[]),
    ("GIT", &["git"]),
];

impl Ecosystem {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        // OSV scopes some ecosystems to a release: `Debian:11`, `Alpine:v3.16`.
        let (base, suffix) = match s.split_once(':') {
            Some((b, rest)) => (b, Some(rest)),
            None => (s, None),
        };
        if let Some(rest) = suffix {
            let ok = !rest.is_empty()
                && rest.len() <= 60
                && rest.chars().all(|c| c.is_ascii_graphic() || c == ' ');
            if !ok {
                return Err(FieldError::new(
                    "ecosystem",
                    format!(
                        "'{}' has an empty or unreadable release after ':'",
                        truncate(s, 40)
                    ),
                ));
            }
        }
        for (name, aliases) in ECOSYSTEMS {
            if name.eq_ignore_ascii_case(base)
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(base))
            {
                return Ok(Self(match suffix {
                    Some(rest) => format!("{name}:{rest}"),
                    None => (*name).to_owned(),
                }));
            }
        }
        let known: Vec<&str> = ECOSYSTEMS.iter().map(|(n, _)| *n).collect();
        Err(FieldError::new(
            "ecosystem",
            format!(
                "'{}' is not a known ecosystem; use one of: {}",
                truncate(s, 40),
                known.join(", ")
            ),
        ))
    }

    /// The ecosystems accepted, in OSV's spelling (for pickers).
    pub fn known() -> impl Iterator<Item = &'static str> {
        ECOSYSTEMS.iter().map(|(name, _)| *name)
    }

    /// Whether versions in this ecosystem follow Semantic Versioning (OSV `SEMVER` ranges).
    pub fn is_semver(&self) -> bool {
        matches!(
            self.0.as_str(),
            "crates.io" | "npm" | "Go" | "Hex" | "Pub" | "SwiftURL"
        )
    }
}

/// A package name within an ecosystem: 1 to 214 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct PackageName(String);
string_type!(PackageName, "name");

impl PackageName {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FieldError::new("name", "is empty"));
        }
        check_text("name", s, 214, false)?;
        Ok(Self(s.to_owned()))
    }
}

/// A reference: an absolute `http` or `https` URL of at most 2,048 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ReferenceUrl(String);
string_type!(ReferenceUrl, "references");

impl ReferenceUrl {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let f = |m: String| FieldError::new("references", m);
        let s = s.trim();
        if s.len() > 2048 {
            return Err(f("a URL is longer than 2,048 characters".into()));
        }
        let url = url::Url::parse(s)
            .map_err(|e| f(format!("'{}' is not a URL ({e})", truncate(s, 60))))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(f(format!(
                "'{}' must be an http or https URL",
                truncate(s, 60)
            )));
        }
        Ok(Self(url.to_string()))
    }
}

/// Where a repository's upstream lives, as git names it: an `https://` URL, or (where an
/// administrator allows it) an `http://` URL, a `file://` URL or an absolute local path.
/// Nothing that `git` would take as an option or a remote helper. Which of these the server
/// actually reaches is its network rule (`embargo_server::net`): `https://` on public hosts
/// unless `[network] allow` says more. `ssh://`, `git://` and `user@host:path` are still read
/// (rows stored before that rule) but never fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Upstream(String);
string_type!(Upstream, "upstream");

impl Upstream {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        let f = |m: &str| FieldError::new("upstream", m.to_owned());
        if s.is_empty() || s.len() > 1024 {
            return Err(f(
                "give an https:// address of the git repository, at most 1,024 characters",
            ));
        }
        if s.starts_with('-') || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(f("is not a git URL or path that Embargo fetches"));
        }
        if let Some(scheme) = ["https", "http", "file", "ssh", "git"]
            .into_iter()
            .find(|p| s.strip_prefix(p).is_some_and(|r| r.starts_with("://")))
        {
            // A URL: `::` inside it (an IPv6 address) is no remote helper.
            let url = url::Url::parse(s).map_err(|e| f(&format!("is not a URL ({e})")))?;
            let host = url.host_str().is_some_and(|h| !h.is_empty());
            return match scheme {
                "file" if host => Err(f(
                    "a file:// URL names a local path and no host: file:///srv/git/repo.git",
                )),
                "file" => Ok(Self(s.to_owned())),
                _ if !host => Err(f("has no host")),
                _ => Ok(Self(s.to_owned())),
            };
        }
        if s.contains("::") {
            return Err(f("is not a git URL or path that Embargo fetches"));
        }
        let scp_like = !s.contains("://")
            && s.split_once(':')
                .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'));
        if scp_like || s.starts_with('/') {
            Ok(Self(s.to_owned()))
        } else {
            Err(f(
                "must be an https:// address of the git repository (or, where an administrator allows it, an http:// or file:// URL or an absolute path)",
            ))
        }
    }
}

/// A user's handle on the forge, as CODEOWNERS names them (`@handle`, stored without `@`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ForgeHandle(String);
string_type!(ForgeHandle, "forge_handle");

impl ForgeHandle {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let h = s.trim().trim_start_matches('@').to_ascii_lowercase();
        if h.is_empty()
            || h.len() > 64
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FieldError::new(
                "forge_handle",
                "use the handle's letters, digits, '-' and '_' (such as octocat)",
            ));
        }
        Ok(Self(h))
    }
}

/// A role in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    SecurityManager,
    SteeringCommittee,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityManager => "security_manager",
            Self::SteeringCommittee => "steering_committee",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s {
            "security_manager" => Ok(Self::SecurityManager),
            "steering_committee" => Ok(Self::SteeringCommittee),
            _ => Err(FieldError::new(
                "role",
                "must be security_manager or steering_committee",
            )),
        }
    }
}

/// A short, single-line display name (of a person, organisation or repository).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);
string_type!(DisplayName, "name");

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FieldError::new("name", "is empty"));
        }
        check_text("name", s, 200, false)?;
        Ok(Self(s.to_owned()))
    }
}

/// At most `max` characters of `s`, for quoting user input back in an error message.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Alice@Example.ORG ").map(String::from),
            Ok("alice@example.org".into())
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.org",
            "alice@localhost",
            "a b@example.org",
            "alice@-x.org",
            "alice@exa_mple.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        for good in ["coco", "guest-components", "a", "kata.containers", "x_1"] {
            assert!(Slug::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a b", "a/b", "a..b", &"a".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cve_and_cwe() {
        assert_eq!(
            CveId::parse("cve-2024-12345").map(String::from),
            Ok("CVE-2024-12345".into())
        );
        assert!(CveId::parse("CVE-24-1234").is_err());
        assert!(CveId::parse("CVE-2024-123").is_err());
        assert_eq!(
            CweId::parse("cwe-79").map(String::from),
            Ok("CWE-79".into())
        );
        assert!(CweId::parse("79").is_err());
        assert_eq!(
            CweId::parse("CWE-079").map(String::from),
            Ok("CWE-79".into())
        );
        assert!(CweId::parse("CWE-0").is_err() && CweId::parse("CWE-000").is_err());
    }

    #[test]
    fn cvss_shapes() {
        let v = CvssVector::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
        assert_eq!(v.as_ref().map(CvssVector::version), Ok("3.1"));
        for bad in [
            "",
            "AV:N",
            "CVSS:2.0/AV:N",
            "CVSS:3.1/AV",
            "CVSS:3.1/AV:N/",
            "CVSS:3.1//AV:N",
        ] {
            assert!(CvssVector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ecosystems_accept_forge_spellings() {
        assert_eq!(
            Ecosystem::parse("cargo").map(String::from),
            Ok("crates.io".into())
        );
        assert_eq!(
            Ecosystem::parse("pypi").map(String::from),
            Ok("PyPI".into())
        );
        assert!(Ecosystem::parse("nonsense").is_err());
    }

    #[test]
    fn upstreams_are_urls_or_paths() {
        for good in [
            "https://github.com/confidential-containers/guest-components",
            "git@github.com:org/repo.git",
            "/srv/git/guest.git",
            "ssh://git@host/x",
            "file:///srv/git/guest.git",
            "https://[2001:db8::1]/x",
            "http://127.0.0.1:3000/x.git",
        ] {
            assert!(Upstream::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-uhelp",
            "ext::sh -c touch% /tmp/pwned",
            "relative/path",
            "file::x",
            "https://a b",
            "https://",
            "https://[::1/x",
            "file://host/etc",
            "ftp://example.org/x",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_are_http() {
        assert!(ReferenceUrl::parse("https://example.org/a").is_ok());
        assert!(ReferenceUrl::parse("javascript:alert(1)").is_err());
        assert!(ReferenceUrl::parse("file:///etc/passwd").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = Email::parse(&s);
            let _ = Slug::parse(&s);
            let _ = CveId::parse(&s);
            let _ = CweId::parse(&s);
            let _ = CvssVector::parse(&s);
            let _ = Ecosystem::parse(&s);
            let _ = ReferenceUrl::parse(&s);
        }

        #[test]
        fn parsed_values_parse_again(s in "[a-z0-9._-]{1,64}") {
            if let Ok(slug) = Slug::parse(&s) {
                prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
            }
        }
    }
}
