//! What the "Report a vulnerability" form adds to a report's title and description: the
//! repositories grouped by organisation (organisation, then repository), the affected versions
//! as the reporter knows them, an optional CVSS severity, and (for a signed-in reporter) files
//! sent with the report in a multipart form.

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::{Form, RequestExt};
use embargo_domain::FieldError;
use embargo_domain::advisory::{Package, Vulnerability};
use embargo_domain::types::{CvssVector, Ecosystem, PackageName};
use embargo_domain::version_range::VersionRange;

use super::Fields;
use crate::error::{AppError, PageError};

/// The longest "affected versions" text a report takes.
pub(crate) const VERSIONS_MAX: usize = 1_000;

/// The most files a report takes when it is filed (more go on the report's page).
pub(crate) const FILES_MAX: usize = 5;

/// A size for people: "10 MiB", "1.5 MiB", "512 KiB", "100 bytes".
pub(crate) fn size_label(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if bytes >= MIB {
        let tenths = bytes * 10 / MIB;
        if tenths.is_multiple_of(10) {
            format!("{} MiB", tenths / 10)
        } else {
            format!("{}.{} MiB", tenths / 10, tenths % 10)
        }
    } else if bytes >= KIB {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A file sent with the form: its name, and its bytes or why they could not be read.
pub(crate) struct Upload {
    pub name: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// The largest form without files (urlencoded) the report form takes.
const TEXT_FORM_MAX: usize = 2 * 1024 * 1024;

/// The largest request the report form takes: [`FILES_MAX`] files of `max` bytes, and the
/// form's text (a description of up to 100,000 characters).
pub(crate) fn body_limit(max: usize) -> usize {
    FILES_MAX.saturating_mul(max).saturating_add(512 * 1024)
}

/// The form's fields and files, from either encoding: `application/x-www-form-urlencoded`
/// (the anonymous form) or `multipart/form-data` (the signed-in form, files last). A file
/// over `max` bytes, or past [`FILES_MAX`], becomes an [`Upload`] with the reason; so does
/// whatever follows a broken body, and the fields read before it are kept: a file never
/// loses the report.
///
/// Without `keep_files` (an anonymous reporter), each file is read past and only named, so
/// that nobody without an account makes the server hold files.
pub(crate) async fn read(
    req: Request,
    max: usize,
    keep_files: bool,
) -> Result<(Fields, Vec<Upload>), PageError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let bad = |m: String| PageError(AppError::bad_request(m));
    if !multipart {
        // Text only: held to the usual size of a form, not to the files' allowance.
        let req =
            req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, TEXT_FORM_MAX)));
        let Form(form) = req
            .extract::<Form<Vec<(String, String)>>, _>()
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    PageError(AppError::new(
                        e.status(),
                        "payload_too_large",
                        format!("the form is larger than {TEXT_FORM_MAX} bytes"),
                    ))
                } else {
                    bad(e.body_text())
                }
            })?;
        return Ok((Fields(form), Vec::new()));
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(e.body_text()))?;
    let mut fields = Vec::new();
    let mut files = Vec::new();
    // Why the body could not be read to its end, if it could not.
    let mut broken: Option<MultipartError> = None;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                broken = Some(e);
                break;
            }
        };
        let Some(key) = field.name().map(str::to_owned) else {
            continue;
        };
        if key != "file" {
            match field.text().await {
                Ok(value) => fields.push((key, value)),
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
            continue;
        }
        let name = field.file_name().unwrap_or("").to_owned();
        // Read chunk by chunk: a file over the limit is dropped, not held, and the fields
        // after it are still read.
        let mut bytes = Vec::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(c)) if keep_files && !over && bytes.len() + c.len() <= max => {
                    bytes.extend_from_slice(&c)
                }
                Ok(Some(_)) => {
                    over = true;
                    bytes = Vec::new();
                }
                Ok(None) => break,
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = &broken {
            files.push(Upload {
                name,
                bytes: Err(reason(e, max)),
            });
            break;
        }
        if bytes.is_empty() && name.is_empty() && !over {
            // What an empty file input sends.
            continue;
        }
        let bytes = if !keep_files {
            Err("sign in to send files with a report".to_owned())
        } else if over {
            Err(format!("is larger than the limit of {max} bytes"))
        } else if files.len() >= FILES_MAX {
            Err(format!(
                "only {FILES_MAX} files can be sent with a report; attach it on the report's page"
            ))
        } else {
            Ok(bytes)
        };
        files.push(Upload { name, bytes });
    }
    if let Some(e) = broken {
        if fields.is_empty() {
            // Nothing of the report arrived: say so, rather than "the form has expired".
            return Err(PageError(AppError::new(
                e.status(),
                "form_unreadable",
                format!(
                    "nothing was filed: {}; send at most {FILES_MAX} files of at most {max} bytes each",
                    reason(&e, max)
                ),
            )));
        }
        if !files.iter().any(|f| f.bytes.is_err()) {
            files.push(Upload {
                name: "the files after it".into(),
                bytes: Err(reason(&e, max)),
            });
        }
    }
    Ok((Fields(fields), files))
}

fn reason(e: &MultipartError, max: usize) -> String {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the form is larger than {FILES_MAX} files of {max} bytes")
    } else {
        e.body_text()
    }
}

/// An organisation and where in it a report can go, for the form's `optgroup`s.
pub(crate) struct RepoGroup {
    pub org: String,
    /// `org/`: the organisation, when the reporter does not know the repository.
    pub unknown: String,
    /// `org/repo`, with the repository's short name.
    pub repos: Vec<(String, String)>,
}

/// The targets (`org/` and `org/repo`, sorted) grouped by organisation.
pub(crate) fn groups(targets: &[String]) -> Vec<RepoGroup> {
    let mut out: Vec<RepoGroup> = Vec::new();
    for t in targets {
        let Some((org, repo)) = t.split_once('/') else {
            continue;
        };
        if out.last().is_none_or(|g| g.org != org) {
            out.push(RepoGroup {
                org: org.to_owned(),
                unknown: format!("{org}/"),
                repos: Vec::new(),
            });
        }
        if let (Some(g), false) = (out.last_mut(), repo.is_empty()) {
            g.repos.push((t.clone(), repo.to_owned()));
        }
    }
    out
}

/// The description with the affected versions appended under a heading of their own, and
/// the severity vectors (one a line, at most one per CVSS version), from the form.
pub(crate) fn details(f: &Fields) -> Result<(String, Vec<CvssVector>), FieldError> {
    let versions = f.get("versions").trim();
    if versions.chars().count() > VERSIONS_MAX {
        return Err(FieldError::new(
            "versions",
            format!("must be at most {VERSIONS_MAX} characters"),
        ));
    }
    let mut description = f.get("description").replace("\r\n", "\n");
    if !versions.is_empty() {
        description = format!(
            "{}\n\nAffected versions: {}",
            description.trim_end(),
            versions.replace("\r\n", "\n")
        );
    }
    let vectors = f
        .get("cvss_vector")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            // Every metric checked here, so the form names what is wrong with the vector.
            embargo_formats::cvss::parse(l)
                .map_err(|e| FieldError::new("cvss_vector", e.to_string()))?;
            CvssVector::parse(l).map_err(|e| FieldError::new("cvss_vector", e.message))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((description, vectors))
}

/// How many affected packages the report form offers (the first open, the others behind
/// "Another package"): enough for a report, and no script needed to add rows.
pub(crate) const PACKAGE_ROWS: usize = 3;

/// The longest version a package row takes.
const VERSION_MAX: usize = 100;

/// One affected package as the reporter fills it in: the ecosystem from the list, the
/// package's name, and the versions where the problem starts and where it is fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PackageRow {
    pub ecosystem: String,
    pub name: String,
    pub introduced: String,
    pub fixed: String,
}

impl PackageRow {
    fn is_empty(&self) -> bool {
        [&self.ecosystem, &self.name, &self.introduced, &self.fixed]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

/// The package rows of the form, [`PACKAGE_ROWS`] of them (the empty ones too, to show).
pub(crate) fn package_rows(f: &Fields) -> Vec<PackageRow> {
    let col = |name: &str, i: usize| {
        f.all(name)
            .get(i)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    (0..PACKAGE_ROWS)
        .map(|i| PackageRow {
            ecosystem: col("pkg_ecosystem", i),
            name: col("pkg_name", i),
            introduced: col("pkg_introduced", i),
            fixed: col("pkg_fixed", i),
        })
        .collect()
}

/// The affected packages of the filled rows, each checked by the domain's own types; an
/// error names the row and the field ("Affected package 2: fixed version: …").
pub(crate) fn vulnerabilities(rows: &[PackageRow]) -> Result<Vec<Vulnerability>, FieldError> {
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
        let field = format!("package.{i}");
        let err = |m: String| FieldError::new(&field, format!("Affected package {}: {m}", i + 1));
        if r.ecosystem.is_empty() {
            return Err(err("choose the ecosystem from the list".into()));
        }
        if r.name.is_empty() {
            return Err(err("give the package's name".into()));
        }
        let ecosystem =
            Ecosystem::parse(&r.ecosystem).map_err(|e| err(format!("ecosystem: {}", e.message)))?;
        let name =
            PackageName::parse(&r.name).map_err(|e| err(format!("package name: {}", e.message)))?;
        for (what, v) in [
            ("introduced version", &r.introduced),
            ("fixed version", &r.fixed),
        ] {
            if v.chars().count() > VERSION_MAX {
                return Err(err(format!(
                    "{what}: must be at most {VERSION_MAX} characters"
                )));
            }
            if v.contains(',') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err(format!("{what}: give one version, such as 1.4.2")));
            }
        }
        let range = match (r.introduced.as_str(), r.fixed.as_str()) {
            ("", "") => None,
            ("", f) => Some(format!("< {f}")),
            (i, "") => Some(format!(">= {i}")),
            (i, f) => Some(format!(">= {i}, < {f}")),
        };
        let range = range
            .map(|v| VersionRange::parse(&v))
            .transpose()
            .map_err(|e| err(format!("versions: {}", e.message)))?;
        out.push(Vulnerability {
            package: Package { ecosystem, name },
            vulnerable_version_range: range,
            patched_versions: Some(r.fixed.clone()).filter(|f| !f.is_empty()),
            ranges: Vec::new(),
            versions: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(e: &str, n: &str, i: &str, f: &str) -> PackageRow {
        PackageRow {
            ecosystem: e.into(),
            name: n.into(),
            introduced: i.into(),
            fixed: f.into(),
        }
    }

    #[test]
    fn package_rows_become_affected_packages() {
        let v = vulnerabilities(&[
            row("crates.io", "guest", "0.9.0", "1.2.0"),
            PackageRow::default(),
            row("npm", "left-pad", "", "1.3.0"),
        ])
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].package.ecosystem.as_str(), "crates.io");
        assert_eq!(
            v[0].vulnerable_version_range
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(">= 0.9.0, < 1.2.0")
        );
        assert_eq!(v[0].patched_versions.as_deref(), Some("1.2.0"));
        assert_eq!(
            v[1].vulnerable_version_range
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("< 1.3.0")
        );
        let only_start = vulnerabilities(&[row("PyPI", "coco", "2.0", "")]).unwrap();
        assert_eq!(only_start[0].patched_versions, None);
    }

    #[test]
    fn package_rows_say_what_is_wrong_and_where() {
        let e = vulnerabilities(&[PackageRow::default(), row("", "guest", "", "")]).unwrap_err();
        assert_eq!(e.field, "package.1");
        assert!(
            e.message
                .contains("Affected package 2: choose the ecosystem"),
            "{e}"
        );
        let e = vulnerabilities(&[row("nonsense", "guest", "", "")]).unwrap_err();
        assert!(
            e.message.starts_with("Affected package 1: ecosystem: "),
            "{e}"
        );
        let e = vulnerabilities(&[row("npm", "", "1.0", "")]).unwrap_err();
        assert!(e.message.contains("give the package's name"), "{e}");
        let e = vulnerabilities(&[row("npm", "x", "1.0, 2.0", "")]).unwrap_err();
        assert!(
            e.message.contains("introduced version: give one version"),
            "{e}"
        );
        let long = "1".repeat(VERSION_MAX + 1);
        let e = vulnerabilities(&[row("npm", "x", "", &long)]).unwrap_err();
        assert!(e.message.contains("fixed version: must be at most"), "{e}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_label(10 * 1024 * 1024), "10 MiB");
        assert_eq!(size_label(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(size_label(512 * 1024), "512 KiB");
        assert_eq!(size_label(100), "100 bytes");
    }

    #[test]
    fn targets_group_by_organisation() {
        let g = groups(&[
            "coco/".into(),
            "coco/guest".into(),
            "coco/operator".into(),
            "kata/".into(),
        ]);
        let shape: Vec<(&str, &str, Vec<&str>)> = g
            .iter()
            .map(|g| {
                (
                    g.org.as_str(),
                    g.unknown.as_str(),
                    g.repos.iter().map(|(v, _)| v.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("coco", "coco/", vec!["coco/guest", "coco/operator"]),
                ("kata", "kata/", vec![])
            ]
        );
    }

    #[test]
    fn versions_join_the_description_and_vectors_are_checked() {
        let f = |pairs: &[(&str, &str)]| {
            Fields(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        let (d, v) = details(&f(&[
            ("description", "Steps.\r\n"),
            ("versions", "0.9 to 1.2"),
            (
                "cvss_vector",
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\r\n",
            ),
        ]))
        .unwrap();
        assert_eq!(d, "Steps.\n\nAffected versions: 0.9 to 1.2");
        assert_eq!(v.len(), 1);
        let (d, v) = details(&f(&[("description", "Steps.")])).unwrap();
        assert_eq!((d.as_str(), v.len()), ("Steps.", 0));
        let e = details(&f(&[("cvss_vector", "CVSS:3.1/AV:N")])).unwrap_err();
        assert_eq!(e.field, "cvss_vector");
        let long = "1".repeat(VERSIONS_MAX + 1);
        assert_eq!(
            details(&f(&[("versions", &long)])).unwrap_err().field,
            "versions"
        );
    }
}
