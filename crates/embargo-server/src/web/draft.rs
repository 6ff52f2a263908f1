//! The draft form of an advisory: every field checked at once, each error next to its field
//! in words; affected packages and credits as rows, with "add another" working without
//! JavaScript (the form comes back with an empty row, nothing saved).

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use embargo_domain::advisory::{Advisory, Edit};
use embargo_domain::types::Ecosystem;
use serde_json::{Value, json};

use super::advisory::{Affected, Score};
use super::auth::to_login;
use super::{Fields, Nav, SessionForm, redirect, render};
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

/// Credit types, OSV's, with their names in words.
const CREDIT_TYPES: &[(&str, &str)] = &[
    ("finder", "Finder"),
    ("reporter", "Reporter"),
    ("analyst", "Analyst"),
    ("coordinator", "Coordinator"),
    ("remediation_developer", "Fix developer"),
    ("remediation_reviewer", "Fix reviewer"),
    ("remediation_verifier", "Fix verifier"),
    ("tool", "Tool"),
    ("sponsor", "Sponsor"),
    ("other", "Other"),
];

/// At most this many rows of packages or credits in one form.
const MAX_ROWS: usize = 100;

/// One credit row.
pub struct CreditRow {
    pub kind: String,
    pub name: String,
}

/// An error of the form: the field it belongs to (`title`, `package.0`, `credit.1`) and
/// what is wrong, in words.
pub struct FormError {
    pub key: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    user: Option<Nav>,
    csrf: String,
    id: String,
    f: EditFields,
    errors: Vec<FormError>,
    /// The fix Embargo proposes from the repository's releases, and its warnings.
    proposal: Option<embargo_domain::release::Proposal>,
    ecosystems: Vec<&'static str>,
    credit_types: &'static [(&'static str, &'static str)],
    /// Known weaknesses, `(id, name, checked)`.
    weaknesses: Vec<(String, &'static str, bool)>,
    /// The vectors' scores, as saved or as sent.
    scores: Vec<Score>,
}

impl EditPage {
    /// The error of one field, if it has one.
    fn err(&self, key: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.message.as_str())
    }

    fn row_err(&self, kind: &str, i: &usize) -> Option<&str> {
        self.err(&format!("{kind}.{i}"))
    }
}

/// The draft form's values, as text.
#[derive(Default)]
struct EditFields {
    title: String,
    summary: String,
    description: String,
    cve_id: String,
    cvss_vector: String,
    /// Weaknesses ticked in the picker.
    cwe_picked: Vec<String>,
    /// Other weaknesses, typed: `CWE-1234, CWE-5678`.
    cwe_ids: String,
    references: String,
    credits: Vec<CreditRow>,
    rows: Vec<Affected>,
    /// The change-log line of an edit to a published advisory.
    revision_summary: String,
    /// Whether the advisory is public (the form then asks for the change-log line).
    public: bool,
}

fn empty_row() -> Affected {
    Affected {
        ecosystem: String::new(),
        name: String::new(),
        range: String::new(),
        patched: String::new(),
    }
}

fn empty_credit() -> CreditRow {
    CreditRow {
        kind: "finder".into(),
        name: String::new(),
    }
}

impl EditFields {
    fn of(a: &Advisory) -> Self {
        let c = &a.content;
        let mut rows: Vec<Affected> = c
            .vulnerabilities
            .iter()
            .map(|v| Affected {
                ecosystem: v.package.ecosystem.to_string(),
                name: v.package.name.to_string(),
                range: v
                    .vulnerable_version_range
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                patched: v.patched_versions.clone().unwrap_or_default(),
            })
            .collect();
        if rows.is_empty() {
            rows.push(empty_row());
        }
        let mut credits: Vec<CreditRow> = c
            .credits
            .iter()
            .map(|cr| CreditRow {
                kind: serde_json::to_value(cr.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                name: cr.name.clone(),
            })
            .collect();
        if credits.is_empty() {
            credits.push(empty_credit());
        }
        let known: Vec<String> = embargo_formats::cwe::known().map(|(id, _)| id).collect();
        let (picked, other): (Vec<String>, Vec<String>) = c
            .cwe_ids
            .iter()
            .map(ToString::to_string)
            .partition(|id| known.contains(id));
        Self {
            title: c.title.clone(),
            summary: c.summary.clone().unwrap_or_default(),
            description: c.description.clone(),
            cve_id: c
                .cve_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            cvss_vector: c
                .cvss_vectors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            cwe_picked: picked,
            cwe_ids: other.join(", "),
            references: c
                .references
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            credits,
            rows,
            revision_summary: String::new(),
            public: a.state.is_public(),
        }
    }

    fn from_form(f: &Fields) -> Self {
        let (e, n, r, p) = (
            f.all("ecosystem"),
            f.all("package"),
            f.all("range"),
            f.all("patched"),
        );
        let cell = |v: &[&str], i: usize| v.get(i).copied().unwrap_or_default().to_owned();
        let rows = (0..e.len().max(n.len()).min(MAX_ROWS))
            .map(|i| Affected {
                ecosystem: cell(&e, i),
                name: cell(&n, i),
                range: cell(&r, i),
                patched: cell(&p, i),
            })
            .collect();
        let (kinds, names) = (f.all("credit_type"), f.all("credit_name"));
        let credits = (0..kinds.len().max(names.len()).min(MAX_ROWS))
            .map(|i| CreditRow {
                kind: cell(&kinds, i),
                name: cell(&names, i),
            })
            .collect();
        Self {
            title: f.get("title").to_owned(),
            summary: f.get("summary").to_owned(),
            description: f.get("description").to_owned(),
            cve_id: f.get("cve_id").to_owned(),
            cvss_vector: f.get("cvss_vector").to_owned(),
            cwe_picked: f.all("cwe").into_iter().map(str::to_owned).collect(),
            cwe_ids: f.get("cwe_ids").to_owned(),
            references: f.get("references").to_owned(),
            credits,
            rows,
            revision_summary: f.get("revision_summary").to_owned(),
            public: f.get("public") == "1",
        }
    }

    fn package_json(r: &Affected) -> Value {
        json!({"package": {"ecosystem": r.ecosystem.trim(), "name": r.name.trim()},
            "vulnerable_version_range": opt(&r.range), "patched_versions": opt(&r.patched)})
    }

    /// The form rows that name a package, with their place in the form.
    fn packages(&self) -> Vec<(usize, &Affected)> {
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !(r.ecosystem.trim().is_empty() && r.name.trim().is_empty()))
            .collect()
    }

    fn credits_named(&self) -> Vec<(usize, &CreditRow)> {
        self.credits
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.name.trim().is_empty())
            .collect()
    }

    fn cwe_list(&self) -> Vec<Value> {
        let mut ids: Vec<String> = self.cwe_picked.clone();
        for typed in list(&self.cwe_ids, ',') {
            if !ids.contains(&typed) {
                ids.push(typed);
            }
        }
        ids.into_iter().map(|x| json!(x)).collect()
    }

    /// Every field checked on its own, so that the form shows all its errors at once; then
    /// the same `Edit` the API takes, so the form gets the API's checks and messages.
    fn to_edit(&self) -> Result<Edit, Vec<FormError>> {
        let errors = std::cell::RefCell::new(Vec::new());
        let check = |key: String, label: &str, body: Value| {
            if let Err(e) = crate::extract::parse_json::<Edit>(body.to_string().as_bytes()) {
                errors.borrow_mut().push(FormError {
                    key,
                    message: in_words(label, &e),
                });
            }
        };
        check("title".into(), "Title", json!({"title": self.title}));
        check(
            "summary".into(),
            "Summary",
            json!({"summary": opt(&self.summary)}),
        );
        check(
            "description".into(),
            "Description",
            json!({"description": self.description}),
        );
        check(
            "cve_id".into(),
            "CVE id",
            json!({"cve_id": opt(&self.cve_id)}),
        );
        check(
            "cvss_vector".into(),
            "CVSS vectors",
            json!({"cvss_vectors": list(&self.cvss_vector, '\n')}),
        );
        // Scored here too, so a vector that does not score is found with the rest.
        for (i, line) in list(&self.cvss_vector, '\n').iter().enumerate() {
            if let Err(e) = embargo_formats::cvss::parse(line) {
                errors.borrow_mut().push(FormError {
                    key: "cvss_vector".into(),
                    message: format!("CVSS vectors, line {}: {e}", i + 1),
                });
            }
        }
        // The picked weaknesses are known ones; what was typed is checked on its own.
        check(
            "cwe_ids".into(),
            "Other CWE ids",
            json!({"cwe_ids": list(&self.cwe_ids, ',')}),
        );
        check(
            "references".into(),
            "References",
            json!({"references": list(&self.references, '\n')}),
        );
        for (i, r) in self.packages() {
            check(
                format!("package.{i}"),
                &format!("Affected package {}", i + 1),
                json!({"vulnerabilities": [Self::package_json(r)]}),
            );
        }
        for (i, c) in self.credits_named() {
            check(
                format!("credit.{i}"),
                &format!("Credit {}", i + 1),
                json!({"credits": [{"type": c.kind, "name": c.name.trim()}]}),
            );
        }
        check(
            "revision_summary".into(),
            "What changed",
            json!({"revision_summary": opt(&self.revision_summary)}),
        );
        let errors = errors.into_inner();
        if !errors.is_empty() {
            return Err(errors);
        }
        let v = json!({
            "title": self.title, "summary": opt(&self.summary), "description": self.description,
            "cve_id": opt(&self.cve_id), "cvss_vectors": list(&self.cvss_vector, '\n'),
            "cwe_ids": self.cwe_list(), "references": list(&self.references, '\n'),
            "credits": self.credits_named().iter().map(|(_, c)| json!({"type": c.kind, "name": c.name.trim()})).collect::<Vec<_>>(),
            "vulnerabilities": self.packages().iter().map(|(_, r)| Self::package_json(r)).collect::<Vec<_>>(),
            "revision_summary": opt(&self.revision_summary),
        });
        crate::extract::parse_json(v.to_string().as_bytes()).map_err(|e| vec![self.placed(&e)])
    }

    /// An error of the whole edit (the store's checks), placed at its field.
    fn placed(&self, e: &AppError) -> FormError {
        let path = e.field.clone().unwrap_or_default();
        let indexed = |prefix: &str| -> Option<usize> {
            let rest = path.strip_prefix(prefix)?;
            rest.split(']').next()?.parse().ok()
        };
        let (key, label) = if let Some(n) = indexed("vulnerabilities[") {
            let i = self.packages().get(n).map_or(n, |(i, _)| *i);
            (
                format!("package.{i}"),
                format!("Affected package {}", i + 1),
            )
        } else if let Some(n) = indexed("credits[") {
            let i = self.credits_named().get(n).map_or(n, |(i, _)| *i);
            (format!("credit.{i}"), format!("Credit {}", i + 1))
        } else {
            let top = path.split(['.', '[']).next().unwrap_or_default();
            match top {
                "title" => ("title".into(), "Title".into()),
                "summary" => ("summary".into(), "Summary".into()),
                "description" => ("description".into(), "Description".into()),
                "cve_id" => ("cve_id".into(), "CVE id".into()),
                "cvss_vector" | "cvss_vectors" | "cvss_score" => {
                    ("cvss_vector".into(), "CVSS vectors".into())
                }
                "cwe_ids" => ("cwe_ids".into(), "Weaknesses".into()),
                "references" => ("references".into(), "References".into()),
                "revision_summary" => ("revision_summary".into(), "What changed".into()),
                _ => ("form".into(), "The draft".into()),
            }
        };
        FormError {
            key,
            message: in_words(&label, e),
        }
    }
}

fn opt(s: &str) -> Value {
    if s.trim().is_empty() {
        Value::Null
    } else {
        json!(s.trim())
    }
}

fn list(s: &str, sep: char) -> Vec<String> {
    s.split(sep)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `vulnerabilities[0].package.ecosystem: 'x' is not …` as "Affected package 1: ecosystem:
/// 'x' is not …": the field in words, never an internal path.
fn in_words(label: &str, e: &AppError) -> String {
    let path = e.field.clone().unwrap_or_default();
    // The message without its leading path (`path: message`).
    let mut message = e
        .message
        .strip_prefix(&format!("{path}: "))
        .unwrap_or(&e.message)
        .to_owned();
    // Deeper parts of a row, named.
    let part = [
        ("package.ecosystem", "ecosystem"),
        ("package.name", "package name"),
        ("vulnerable_version_range", "affected versions"),
        ("patched_versions", "patched versions"),
        ("type", "type"),
        ("name", "name"),
    ]
    .iter()
    .find(|(p, _)| path.ends_with(p))
    .map(|(_, words)| *words);
    if let Some(words) = part {
        for inner in ["ecosystem: ", "name: ", "vulnerable_version_range: "] {
            if let Some(rest) = message.strip_prefix(inner) {
                message = rest.to_owned();
            }
        }
        return format!("{label}: {words}: {message}");
    }
    // A list's item: "CWE ids: item 2: …".
    if let Some(i) = path
        .rsplit('[')
        .next()
        .filter(|_| path.ends_with(']'))
        .and_then(|r| r.trim_end_matches(']').parse::<usize>().ok())
    {
        return format!("{label}, item {}: {message}", i + 1);
    }
    format!("{label}: {message}")
}

fn csrf_of(caller: &WebCaller) -> String {
    caller
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default()
}

fn form_page(
    caller: &WebCaller,
    id: String,
    f: EditFields,
    errors: Vec<FormError>,
    proposal: Option<embargo_domain::release::Proposal>,
) -> EditPage {
    let weaknesses = embargo_formats::cwe::known()
        .map(|(id, name)| {
            let checked = f.cwe_picked.contains(&id);
            (id, name, checked)
        })
        .collect();
    let scores = list(&f.cvss_vector, '\n')
        .iter()
        .map(|v| Score::of(v))
        .filter(|s| !s.score.is_empty())
        .collect();
    EditPage {
        user: Nav::of(caller),
        csrf: csrf_of(caller),
        id,
        f,
        errors,
        proposal,
        ecosystems: Ecosystem::known().collect(),
        credit_types: CREDIT_TYPES,
        weaknesses,
        scores,
    }
}

pub async fn edit_form(
    Req(st): Req,
    caller: WebCaller,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/advisories/{id}/edit")));
    }
    let a = st.store.advisory(caller.actor, &advisory_id(&id)?).await?;
    if !a.permissions().can_edit {
        return Err(PageError(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you may not edit this advisory now",
        )));
    }
    let proposal = crate::releases::proposal_for(&st.store, a.get()).await.ok();
    let f = EditFields::of(a.get());
    Ok(render(&form_page(&caller, id, f, Vec::new(), proposal)))
}

/// `POST /advisories/{id}/edit`: saves, or shows the form again with every error; with
/// `add=package` or `add=credit`, shows it again with one more empty row, saving nothing.
pub async fn edit(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let mut f = EditFields::from_form(&fields);
    match fields.get("add") {
        "package" | "credit" => {
            // Nothing is saved, but only who may edit sees the form.
            let a = st.store.advisory(caller.actor, &aid).await?;
            if !a.permissions().can_edit {
                return Err(PageError(AppError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "you may not edit this advisory now",
                )));
            }
            if fields.get("add") == "package" {
                if f.rows.len() < MAX_ROWS {
                    f.rows.push(empty_row());
                }
            } else if f.credits.len() < MAX_ROWS {
                f.credits.push(empty_credit());
            }
            return Ok(render(&form_page(&caller, id, f, Vec::new(), None)));
        }
        _ => {}
    }
    let result = match f.to_edit() {
        Ok(e) => st
            .store
            .edit(caller.actor, &aid, e)
            .await
            .map_err(AppError::from)
            .map_err(|e| {
                if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                    Ok(vec![f.placed(&e)])
                } else {
                    Err(e)
                }
            }),
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(_) => Ok(redirect(&format!("/advisories/{id}"))),
        Err(Ok(errors)) => {
            if f.rows.is_empty() {
                f.rows.push(empty_row());
            }
            if f.credits.is_empty() {
                f.credits.push(empty_credit());
            }
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&form_page(&caller, id, f, errors, None)),
            )
                .into_response())
        }
        Err(Err(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn every_error_at_once_in_words() {
        let f = EditFields::from_form(&fields(&[
            ("title", "T"),
            ("description", "D"),
            ("cvss_vector", "CVSS:3.1/AV:N"),
            ("cwe_ids", "XSS"),
            ("ecosystem", "crates.io"),
            ("package", "fine"),
            ("ecosystem", "nonsense"),
            ("package", "guest"),
            ("credit_type", "finder"),
            ("credit_name", "Rita"),
        ]));
        let errors = f.to_edit().err().unwrap();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["cvss_vector", "cwe_ids", "package.1"]);
        let eco = &errors[2].message;
        assert!(
            eco.starts_with("Affected package 2: ecosystem: 'nonsense' is not a known ecosystem"),
            "{eco}"
        );
        assert!(errors.iter().all(|e| !e.message.contains("vulnerabilities[")
            && !e.message.contains("cwe_ids[")));
        assert!(
            errors[1].message.starts_with("Other CWE ids, item 1: "),
            "{}",
            errors[1].message
        );
    }

    #[test]
    fn picked_and_typed_weaknesses_join() {
        let f = EditFields::from_form(&fields(&[
            ("title", "T"),
            ("description", "D"),
            ("cwe", "CWE-79"),
            ("cwe_ids", "CWE-1234, CWE-79"),
        ]));
        let e = f.to_edit().ok().unwrap();
        let ids: Vec<String> = e.cwe_ids.unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["CWE-79", "CWE-1234"]);
    }
}
