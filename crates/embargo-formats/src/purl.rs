//! Package URLs (<https://github.com/package-url/purl-spec>) and package-name rules shared by
//! the formats that name packages (CSAF product helpers) and read them (the OSV query API).

use embargo_domain::FieldError;
use embargo_domain::types::Ecosystem;

/// purl types and the OSV ecosystem each names.
const TYPES: &[(&str, &str)] = &[
    ("cargo", "crates.io"),
    ("npm", "npm"),
    ("pypi", "PyPI"),
    ("golang", "Go"),
    ("maven", "Maven"),
    ("gem", "RubyGems"),
    ("nuget", "NuGet"),
    ("composer", "Packagist"),
    ("hex", "Hex"),
    ("pub", "Pub"),
    ("swift", "SwiftURL"),
    ("hackage", "Hackage"),
    ("cran", "CRAN"),
];

/// The purl type of an OSV ecosystem.
pub fn purl_type(ecosystem: &str) -> Option<&'static str> {
    TYPES.iter().find(|(_, e)| *e == ecosystem).map(|(t, _)| *t)
}

/// PyPI names as PEP 503 normalises them (lower case, runs of `-`, `_`, `.` as one `-`).
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if "-_.".contains(c) { '-' } else { c };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Whether two names of a package in `ecosystem` are the same package (PyPI compares
/// normalised names; the others exactly).
pub fn same_package(ecosystem: &Ecosystem, a: &str, b: &str) -> bool {
    if ecosystem.as_str() == "PyPI" {
        pep503(a) == pep503(b)
    } else {
        a == b
    }
}

/// Percent-encodes a purl segment (RFC 3986 unreserved characters stay).
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding of a purl part (`%40scope` → `@scope`); malformed escapes stay as they are.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if c == b'%'
            && let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The package URL of a package (and version); `None` for an ecosystem without a purl type
/// here, or a Maven name without its group.
pub fn build(ecosystem: &str, name: &str, version: Option<&str>) -> Option<String> {
    let kind = purl_type(ecosystem)?;
    let path = match kind {
        "maven" => {
            let (group, artifact) = name.split_once(':')?;
            format!("{}/{}", enc(group), enc(artifact))
        }
        // The purl spec's PyPI rule: lower case, `_` as `-` (dots stay).
        // ASCII lower case, as `pep503` compares (found by fuzzing: `Ҕ` became `ҕ`, and the
        // purl read back named another package).
        "pypi" => enc(&name.to_ascii_lowercase().replace('_', "-")),
        "golang" | "npm" | "composer" | "swift" => {
            name.split('/').map(enc).collect::<Vec<_>>().join("/")
        }
        _ => enc(name),
    };
    Some(match version {
        Some(v) => format!("pkg:{kind}/{path}@{}", enc(v)),
        None => format!("pkg:{kind}/{path}"),
    })
}

/// `pkg:TYPE/NAMESPACE/NAME@VERSION` into ecosystem, package name and version; the error
/// names `field`.
pub fn parse(purl: &str, field: &str) -> Result<(Ecosystem, String, Option<String>), FieldError> {
    let bad = |m: &str| FieldError::new(field, m);
    let rest = purl
        .strip_prefix("pkg:")
        .ok_or_else(|| bad("is not a package URL; it starts with 'pkg:'"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (kind, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("has no name after its type"))?;
    let eco = TYPES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(kind))
        .and_then(|(_, e)| Ecosystem::parse(e).ok())
        .ok_or_else(|| {
            let known: Vec<&str> = TYPES.iter().map(|(t, _)| *t).collect();
            bad(&format!(
                "has a package type this server does not know; use one of: {}",
                known.join(", ")
            ))
        })?;
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) if !p.is_empty() => (p, Some(decode(v))),
        _ => (path, None),
    };
    let name = match eco.as_str() {
        // Maven names are `group:artifact`; npm scopes are kept with their `@`.
        "Maven" => decode(path).replacen('/', ":", 1),
        _ => decode(path),
    };
    if name.is_empty() {
        return Err(bad("has an empty name"));
    }
    Ok((eco, name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/fuzz_targets/purl.rs`: a PyPI name with a non-ASCII capital read
    /// back as another package.
    #[test]
    fn a_pypi_name_reads_back_as_the_same_package() {
        let (eco, name, _) = parse("pkg:pypi/Dja_go\u{494}@1.0", "purl").unwrap();
        let built = build(eco.as_str(), &name, None).unwrap();
        let (_, again, _) = parse(&built, "purl").unwrap();
        assert!(
            same_package(&eco, &name, &again),
            "{name} → {built} → {again}"
        );
    }

    #[test]
    fn built_and_read_back() {
        assert_eq!(
            build("Maven", "org.x:core", Some("1.0")).as_deref(),
            Some("pkg:maven/org.x/core@1.0")
        );
        assert_eq!(
            build("PyPI", "Django_Stuff", None).as_deref(),
            Some("pkg:pypi/django-stuff")
        );
        assert_eq!(
            build("Go", "github.com/a/b", Some("v1.2.3")).as_deref(),
            Some("pkg:golang/github.com/a/b@v1.2.3")
        );
        assert_eq!(
            build("npm", "@scope/name", Some("1.0.0")).as_deref(),
            Some("pkg:npm/%40scope/name@1.0.0")
        );
        assert_eq!(build("Debian:12", "x", None), None);
        for (eco, name, v) in [
            ("crates.io", "guest-components", Some("0.14.0")),
            ("npm", "@scope/name", Some("1.0.0")),
            ("Maven", "org.x:core", None),
            ("Go", "github.com/a/b", Some("v1.2.3")),
        ] {
            let (e, n, ver) = parse(&build(eco, name, v).unwrap(), "purl").unwrap();
            assert_eq!((e.as_str(), n.as_str(), ver.as_deref()), (eco, name, v));
        }
        let (_, _, v) = parse("pkg:maven/org.x/core@1.2?type=jar", "purl").unwrap();
        assert_eq!(v.as_deref(), Some("1.2"));
        assert!(parse("cargo/x", "purl").is_err());
        let e = parse("pkg:unknown/x", "package.purl").unwrap_err();
        assert_eq!(e.field, "package.purl");
        assert!(e.message.contains("cargo"), "{e}");
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn pypi_names_compare_normalised() {
        assert_eq!(
            pep503("Products.PluggableAuthService"),
            "products-pluggableauthservice"
        );
        let pypi = Ecosystem::parse("PyPI").unwrap();
        assert!(same_package(&pypi, "Foo__Bar", "foo.bar"));
        let npm = Ecosystem::parse("npm").unwrap();
        assert!(!same_package(&npm, "Foo", "foo"));
    }
}
