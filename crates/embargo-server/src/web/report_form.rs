//! What the "Report a vulnerability" form adds to a report's title and description: the
//! repositories grouped by organisation (organisation, then repository), the affected versions
//! as the reporter knows them, and an optional CVSS severity.

use embargo_domain::FieldError;
use embargo_domain::types::CvssVector;

use super::Fields;

/// The longest "affected versions" text a report takes.
pub(crate) const VERSIONS_MAX: usize = 1_000;

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

#[cfg(test)]
mod tests {
    use super::*;

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
