//! One advisory's page: its text, the private thread, the triage actions and the draft form.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_domain::access::Permissions;
use embargo_domain::advisory::{Advisory, CloseReason, Edit};
use embargo_store::{Comment, Transition};
use serde_json::{Value, json};

use super::auth::to_login;
use super::{Fields, Nav, SessionForm, check_session_form, redirect, render};
use crate::AppState;
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::Req;
use crate::extract::WebCaller;

/// Precomputed lines for the template.
pub struct Affected {
    pub ecosystem: String,
    pub name: String,
    pub range: String,
    pub patched: String,
}

#[derive(Template)]
#[template(path = "advisory.html")]
struct AdvisoryPage {
    user: Option<Nav>,
    csrf: String,
    a: Advisory,
    audience: bool,
    p: Permissions,
    headline: String,
    affected: Vec<Affected>,
    reporter: String,
    overdue: bool,
    comments: Vec<Comment>,
    collaborators: Vec<embargo_store::Collaborator>,
    attachments: Vec<embargo_store::Attachment>,
    /// The repositories of the organisation, for the transfer form.
    org_repos: Vec<String>,
    close_reasons: Vec<(&'static str, &'static str)>,
    created: String,
    updated: String,
    published: String,
    due: String,
    first_response: String,
    /// The embargo's agreed and proposed ends, for people.
    embargo_end: String,
    embargo_proposed: String,
    /// Case flags: (name, when set, or empty).
    case_flags: Vec<(&'static str, String)>,
    error: Option<String>,
}

pub(crate) fn fmt_time(t: time::OffsetDateTime) -> String {
    embargo_domain::embargo::format_instant(t)
}

async fn page(
    st: &AppState,
    caller: &WebCaller,
    id: &str,
    error: Option<String>,
) -> Result<AdvisoryPage, PageError> {
    let id = advisory_id(id)?;
    let a = st.store.advisory(caller.actor, &id).await?;
    let p = a.permissions();
    let audience = a.relations().in_audience();
    let comments = if p.can_read_thread {
        st.store.comments(caller.actor, &id).await?
    } else {
        Vec::new()
    };
    let collaborators = if p.can_read_collaborators {
        st.store.collaborators(caller.actor, &id).await?
    } else {
        Vec::new()
    };
    let attachments = if p.can_read_attachments {
        st.store.attachments(caller.actor, &id).await?
    } else {
        Vec::new()
    };
    let org_repos = if p.can_transfer {
        st.store
            .repos(Some(&a.get().org))
            .await?
            .iter()
            .map(|r| r.slug.to_string())
            .collect()
    } else {
        Vec::new()
    };
    let adv = a.get().clone();
    let reporter = if audience {
        st.store
            .user_by_id(adv.reporter_id)
            .await?
            .map(|u| u.name)
            .unwrap_or_default()
    } else {
        String::new()
    };
    let affected = adv
        .content
        .vulnerabilities
        .iter()
        .map(|v| Affected {
            ecosystem: v.package.ecosystem.to_string(),
            name: v.package.name.to_string(),
            range: v
                .vulnerable_version_range
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| "all versions".into()),
            patched: v.patched_versions.clone().unwrap_or_default(),
        })
        .collect();
    Ok(AdvisoryPage {
        user: Nav::of(caller),
        csrf: caller
            .session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default(),
        headline: if audience {
            adv.content.title.clone()
        } else {
            adv.content.headline().to_owned()
        },
        overdue: adv.first_response_at.is_none() && st.store.now() > adv.response_due_at,
        created: fmt_time(adv.created_at),
        updated: fmt_time(if audience {
            adv.updated_at
        } else {
            adv.public_modified_at()
        }),
        published: adv.published_at.map(fmt_time).unwrap_or_default(),
        due: fmt_time(adv.response_due_at),
        first_response: adv.first_response_at.map(fmt_time).unwrap_or_default(),
        embargo_end: adv.embargo.ends_at.map(fmt_time).unwrap_or_default(),
        embargo_proposed: adv
            .embargo
            .proposed_ends_at
            .map(fmt_time)
            .unwrap_or_default(),
        case_flags: embargo_domain::embargo::CaseFlag::ALL
            .iter()
            .map(|f| {
                let at = adv
                    .case
                    .flags
                    .iter()
                    .find(|(g, _)| g == f)
                    .map(|(_, at)| at.clone())
                    .unwrap_or_default();
                (f.as_str(), at)
            })
            .collect(),
        a: adv,
        audience,
        p,
        affected,
        reporter,
        comments,
        collaborators,
        attachments,
        org_repos,
        close_reasons: CloseReason::ALL
            .iter()
            .map(|r| (r.as_str(), r.label()))
            .collect(),
        error,
    })
}

pub async fn show(
    Req(st): Req,
    caller: WebCaller,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    Ok(render(&page(&st, &caller, &id, None).await?))
}

/// Shows the page again with an error, or turns the error into an error page.
pub(super) async fn after(
    st: &AppState,
    caller: &WebCaller,
    id: &str,
    result: Result<(), embargo_store::StoreError>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(redirect(&format!("/advisories/{id}"))),
        Err(
            e @ (embargo_store::StoreError::Invalid(_) | embargo_store::StoreError::Conflict(_)),
        ) => {
            let status = if matches!(e, embargo_store::StoreError::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((
                status,
                render(&page(st, caller, id, Some(e.to_string())).await?),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn comment(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let r = st
        .store
        .comment(caller.actor, &aid, f.get("body"), f.get("internal") == "on")
        .await
        .map(|_| ());
    after(&st, &caller, &id, r).await
}

/// `POST /advisories/{id}/disclosure-exemption`: keeps a closed report private.
pub async fn exempt_from_disclosure(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let r = st
        .store
        .exempt_from_disclosure(caller.actor, &aid, f.get("reason"))
        .await
        .map(|_| ());
    after(&st, &caller, &id, r).await
}

pub async fn transition(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let t = match f.get("action") {
        "accept" => Transition::Accept,
        "close" => Transition::Close {
            reason: CloseReason::parse(f.get("reason")).map_err(AppError::invalid)?,
            message: Some(f.get("message").trim().to_owned()).filter(|m| !m.is_empty()),
            duplicate_of: Some(f.get("duplicate_of").trim())
                .filter(|d| !d.is_empty())
                .map(embargo_domain::ids::AdvisoryId::parse)
                .transpose()
                .map_err(|e| {
                    AppError::invalid(embargo_domain::FieldError::new("duplicate_of", e.message))
                })?,
        },
        "reopen" => Transition::Reopen,
        "publish" => Transition::Publish,
        "withdraw" => Transition::Withdraw {
            reason: f.get("reason").to_owned(),
        },
        "transfer" => {
            let to =
                embargo_domain::types::Slug::parse(f.get("repo")).map_err(AppError::invalid)?;
            let r = st.store.transfer(caller.actor, &aid, &to).await.map(|_| ());
            return after(&st, &caller, &id, r).await;
        }
        _ => return Err(PageError(AppError::bad_request("unknown action"))),
    };
    let r = st.store.transition(caller.actor, &aid, t).await.map(|_| ());
    after(&st, &caller, &id, r).await
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    user: Option<Nav>,
    csrf: String,
    id: String,
    f: EditFields,
    error: Option<String>,
    /// The fix Embargo proposes from the repository's releases, and its warnings.
    proposal: Option<embargo_domain::release::Proposal>,
}

/// The draft form's values, as text.
#[derive(Default)]
struct EditFields {
    title: String,
    summary: String,
    description: String,
    cve_id: String,
    cvss_vector: String,
    cwe_ids: String,
    references: String,
    credits: String,
    rows: Vec<Affected>,
    /// The change-log line of an edit to a published advisory.
    revision_summary: String,
    /// Whether the advisory is public (the form then asks for the change-log line).
    public: bool,
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
        rows.push(Affected {
            ecosystem: String::new(),
            name: String::new(),
            range: String::new(),
            patched: String::new(),
        });
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
            cwe_ids: c
                .cwe_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            references: c
                .references
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            credits: c
                .credits
                .iter()
                .map(|cr| {
                    format!(
                        "{}: {}",
                        serde_json::to_value(cr.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        cr.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
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
        let rows = (0..e.len().max(n.len()))
            .map(|i| Affected {
                ecosystem: e.get(i).copied().unwrap_or_default().to_owned(),
                name: n.get(i).copied().unwrap_or_default().to_owned(),
                range: r.get(i).copied().unwrap_or_default().to_owned(),
                patched: p.get(i).copied().unwrap_or_default().to_owned(),
            })
            .collect();
        Self {
            title: f.get("title").to_owned(),
            summary: f.get("summary").to_owned(),
            description: f.get("description").to_owned(),
            cve_id: f.get("cve_id").to_owned(),
            cvss_vector: f.get("cvss_vector").to_owned(),
            cwe_ids: f.get("cwe_ids").to_owned(),
            references: f.get("references").to_owned(),
            credits: f.get("credits").to_owned(),
            rows,
            revision_summary: f.get("revision_summary").to_owned(),
            public: f.get("public") == "1",
        }
    }

    /// The same `Edit` the API takes, so the form gets the same checks and messages.
    fn to_edit(&self) -> Result<Edit, AppError> {
        let opt = |s: &str| {
            if s.trim().is_empty() {
                Value::Null
            } else {
                json!(s.trim())
            }
        };
        let list = |s: &str, sep: char| {
            s.split(sep)
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| json!(x))
                .collect::<Vec<_>>()
        };
        let credits: Vec<Value> = self
            .credits
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once(':') {
                Some((kind, name)) => json!({"type": kind.trim().to_lowercase().replace(' ', "_"), "name": name.trim()}),
                None => json!({"type": "other", "name": l}),
            })
            .collect();
        let vulns: Vec<Value> = self
            .rows
            .iter()
            .filter(|r| !(r.ecosystem.trim().is_empty() && r.name.trim().is_empty()))
            .map(|r| json!({"package": {"ecosystem": r.ecosystem, "name": r.name}, "vulnerable_version_range": opt(&r.range), "patched_versions": opt(&r.patched)}))
            .collect();
        let v = json!({
            "title": self.title, "summary": opt(&self.summary), "description": self.description,
            "cve_id": opt(&self.cve_id), "cvss_vectors": list(&self.cvss_vector, '\n'),
            "cwe_ids": list(&self.cwe_ids, ','), "references": list(&self.references, '\n'),
            "credits": credits, "vulnerabilities": vulns,
            "revision_summary": opt(&self.revision_summary),
        });
        crate::extract::parse_json(v.to_string().as_bytes())
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
    let csrf = caller
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let proposal = crate::releases::proposal_for(&st.store, a.get()).await.ok();
    Ok(render(&EditPage {
        user: Nav::of(&caller),
        csrf,
        id,
        f: EditFields::of(a.get()),
        error: None,
        proposal,
    }))
}

pub async fn edit(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = Fields(form);
    check_session_form(&st, &headers, &caller, &form)?;
    let aid = advisory_id(&id)?;
    let fields = EditFields::from_form(&form);
    let result = match fields.to_edit() {
        Ok(e) => st
            .store
            .edit(caller.actor, &aid, e)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect(&format!("/advisories/{id}"))),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let csrf = caller
                .session
                .as_ref()
                .map(|s| s.csrf_token.clone())
                .unwrap_or_default();
            let page = EditPage {
                user: Nav::of(&caller),
                csrf,
                id,
                f: fields,
                error: Some(e.message),
                proposal: None,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    user: Option<Nav>,
    id: String,
    entries: Vec<embargo_store::AuditEntry>,
}

/// The access log of one advisory, for its security managers.
pub async fn audit(
    Req(st): Req,
    caller: WebCaller,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if caller.session.is_none() {
        return Ok(to_login(&format!("/advisories/{id}/audit")));
    }
    let entries = st.store.audit_log(caller.actor, &advisory_id(&id)?).await?;
    Ok(render(&AuditPage {
        user: Nav::of(&caller),
        id,
        entries,
    }))
}

/// The same log as JSON lines, as a download.
pub async fn audit_jsonl(
    Req(st): Req,
    caller: WebCaller,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let entries = st.store.audit_log(caller.actor, &advisory_id(&id)?).await?;
    let mut body = String::new();
    for e in &entries {
        body.push_str(
            &serde_json::to_string(e).map_err(|e| PageError(AppError::internal(&e.to_string())))?,
        );
        body.push('\n');
    }
    let disposition = format!("attachment; filename=\"{id}-access-log.jsonl\"");
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/x-ndjson".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `POST /advisories/{id}/attachments` (multipart form: `csrf`, then `file`).
pub async fn upload(
    Req(st): Req,
    headers: HeaderMap,
    caller: WebCaller,
    Path(id): Path<String>,
    mut form: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let max = st.config.attachments.max_bytes;
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    let bad = |m: String| PageError(AppError::bad_request(m));
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError(crate::api::attachments::too_large(max))
        } else {
            bad(e.body_text())
        }
    })? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|e| bad(e.body_text()))?,
            Some("file") => {
                let name = field.file_name().unwrap_or("attachment").to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        PageError(crate::api::attachments::too_large(max))
                    } else {
                        bad(e.body_text())
                    }
                })?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    check_session_form(&st, &headers, &caller, &Fields(vec![("csrf".into(), csrf)]))?;
    let aid = advisory_id(&id)?;
    let Some((name, bytes)) = file else {
        return Err(PageError(AppError::invalid(
            embargo_domain::FieldError::new("file", "choose a file"),
        )));
    };
    let r = st
        .store
        .attach(caller.actor, &aid, &name, &bytes, max)
        .await
        .map(|_| ());
    after(&st, &caller, &id, r).await
}

/// `GET /advisories/{id}/attachments/{aid}`: the file, as a download.
pub async fn download(
    Req(st): Req,
    caller: WebCaller,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (meta, bytes) = st
        .store
        .attachment(caller.actor, &advisory_id(&id)?, &aid)
        .await?;
    Ok(crate::api::attachments::as_download(&meta, bytes))
}
