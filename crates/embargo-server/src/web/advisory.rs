//! One advisory's page, a workspace for its audience and a readable page for the public: its
//! text (Markdown, sanitised), a timeline of events and comments, and a side panel with the
//! actions the viewer may take (risky ones confirmed, see [`super::confirm`]).

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_domain::access::Permissions;
use embargo_domain::advisory::{Advisory, Change, CloseReason};
use embargo_store::{Comment, EventRecord, Transition};

use super::auth::to_login;
use super::{Fields, Nav, SessionForm, check_session_form, redirect, render};
use crate::AppState;
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::Req;
use crate::extract::WebCaller;
use crate::markdown;

/// Precomputed lines for the template.
pub struct Affected {
    pub ecosystem: String,
    pub name: String,
    pub range: String,
    pub patched: String,
}

/// A CVSS vector with its score and rating, computed here.
pub struct Score {
    pub version: String,
    pub vector: String,
    /// `9.8`, or empty when the vector does not score (it always should).
    pub score: String,
    /// `Critical`, `High`, …
    pub rating: String,
    class: &'static str,
}

impl Score {
    /// From the shared badge of [`super::format`], with the vector beside it.
    pub fn of(vector: &str) -> Self {
        match super::format::Badge::of(vector) {
            Some(b) => Self {
                version: b.version.clone(),
                vector: vector.to_owned(),
                score: format!("{:.1}", b.score),
                rating: b.severity.as_str().to_owned(),
                class: b.class(),
            },
            None => Self {
                version: String::new(),
                vector: vector.to_owned(),
                score: String::new(),
                rating: String::new(),
                class: "",
            },
        }
    }

    /// The badge's class: `sev-high`.
    pub fn class(&self) -> &'static str {
        self.class
    }
}

/// A weakness with its official name, when Embargo knows it.
pub struct Weakness {
    pub id: String,
    pub name: String,
}

/// What the public sees of an advisory (and its audience, above their workspace): computed
/// once, for the page and for the preview on the publish confirmation.
pub struct PublicView {
    pub headline: String,
    pub summary: String,
    pub description_html: String,
    pub scores: Vec<Score>,
    pub weaknesses: Vec<Weakness>,
    pub affected: Vec<Affected>,
    /// "Name (finder)": the credits of the advisory it is made of (for the public: those
    /// with consent, see `embargo_store::CreditConsent`).
    pub credits: Vec<String>,
    pub published: String,
    pub updated: String,
}

impl PublicView {
    pub fn of(a: &Advisory, audience: bool) -> Self {
        let c = &a.content;
        Self {
            headline: if audience {
                c.title.clone()
            } else {
                c.headline().to_owned()
            },
            summary: c.summary.clone().unwrap_or_default(),
            description_html: markdown::to_html(&c.description),
            scores: c
                .cvss_vectors
                .iter()
                .map(|v| Score::of(v.as_ref()))
                .collect(),
            weaknesses: c
                .cwe_ids
                .iter()
                .map(|w| {
                    let id = w.to_string();
                    Weakness {
                        name: embargo_formats::cwe::name(&id).unwrap_or("").to_owned(),
                        id,
                    }
                })
                .collect(),
            affected: c
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
                .collect(),
            credits: c
                .credits
                .iter()
                .map(|cr| {
                    format!(
                        "{} ({})",
                        cr.name,
                        cr.kind.osv().to_lowercase().replace('_', " ")
                    )
                })
                .collect(),
            published: a.published_at.map(fmt_time).unwrap_or_default(),
            updated: fmt_time(if audience {
                a.updated_at
            } else {
                a.public_modified_at()
            }),
        }
    }

    /// The score the badge shows: the highest of the vectors'.
    pub fn badge(&self) -> Option<&Score> {
        self.scores
            .iter()
            .filter(|s| !s.score.is_empty())
            .max_by(|a, b| {
                a.score
                    .parse::<f64>()
                    .unwrap_or(0.0)
                    .total_cmp(&b.score.parse::<f64>().unwrap_or(0.0))
            })
    }
}

/// One entry of the timeline: an event or a comment, in order.
pub struct TimelineItem {
    at: time::OffsetDateTime,
    pub when: String,
    /// `when`, machine-readable, for `<time datetime>`.
    pub machine: String,
    pub who: String,
    /// What happened, in words ("Closed as a duplicate").
    pub what: String,
    /// Sanitised HTML: a comment's body, a close message.
    pub body_html: String,
    /// An advisory this entry links to (a duplicate's original).
    pub link: Option<String>,
    pub comment: bool,
    pub internal: bool,
}

impl TimelineItem {
    fn event(at: time::OffsetDateTime, who: String, what: String) -> Self {
        Self {
            at,
            when: fmt_time(at),
            machine: super::format::machine(at),
            who,
            what,
            body_html: String::new(),
            link: None,
            comment: false,
            internal: false,
        }
    }
}

fn closed_item(
    at: time::OffsetDateTime,
    who: String,
    reason: CloseReason,
    message: Option<&str>,
    duplicate_of: Option<String>,
) -> TimelineItem {
    let mut item = TimelineItem::event(at, who, format!("Closed: {}", reason.label()));
    item.body_html = message.map(markdown::to_html).unwrap_or_default();
    item.link = duplicate_of;
    item
}

/// The events of the trail, in words; comments come from the thread (with their text), so
/// their events are left out.
fn event_items(events: &[EventRecord]) -> Vec<TimelineItem> {
    events
        .iter()
        .filter_map(|e| {
            let who = e.actor.clone().unwrap_or_else(|| "Embargo".into());
            let change: Change = serde_json::from_value(e.data.clone()).ok()?;
            let what = match &change {
                Change::Commented { .. } => return None,
                Change::Closed {
                    reason,
                    message,
                    duplicate_of,
                } => {
                    return Some(closed_item(
                        e.at,
                        who,
                        *reason,
                        message.as_deref(),
                        duplicate_of.as_ref().map(ToString::to_string),
                    ));
                }
                Change::Reported { .. } => "Reported".to_owned(),
                Change::Imported { .. } => "Imported".to_owned(),
                Change::Edited { .. } => "Edited".to_owned(),
                Change::Accepted => "Accepted as a draft advisory".to_owned(),
                Change::Reopened => "Reopened".to_owned(),
                Change::Published => "Published".to_owned(),
                Change::Withdrawn { reason } => match reason {
                    Some(r) => format!("Withdrawn: {r}"),
                    None => "Withdrawn".to_owned(),
                },
                Change::CollaboratorInvited { email, .. } => format!("Invited {email}"),
                Change::CollaboratorAccepted { .. } => "A collaborator accepted".to_owned(),
                Change::CollaboratorRevoked { .. } => "A collaborator's access revoked".to_owned(),
                Change::CollaboratorExpired { .. } => "A collaborator's access expired".to_owned(),
                Change::Transferred { to, .. } => format!("Moved to {to}"),
                Change::Attached { .. } => "Attached a file".to_owned(),
                Change::DisclosureAnnounced { on } => {
                    format!("Disclosure announced for {}", fmt_time(*on))
                }
                Change::DisclosureExempted { reason } => format!("Kept private: {reason}"),
                Change::Disclosed => "Disclosed under the disclosure policy".to_owned(),
                Change::EmbargoChanged { action, party, .. } => {
                    format!("Embargo: {} ({party})", action.as_str().replace('_', " "))
                }
                Change::CaseFlagSet { flag } => format!("Case flag set: {}", flag.as_str()),
                Change::ReadyChanged { ready: true } => {
                    "Marked ready to publish at the embargo's end".to_owned()
                }
                Change::ReadyChanged { ready: false } => "Marked not ready".to_owned(),
                Change::CveAssigned { cve_id, .. } => format!("CVE id {cve_id} assigned"),
            };
            Some(TimelineItem::event(e.at, who, what))
        })
        .collect()
}

/// Without the trail (everyone but security managers): the milestones the page shows anyway.
fn milestone_items(a: &Advisory, reporter: &str) -> Vec<TimelineItem> {
    let mut items = vec![TimelineItem::event(
        a.created_at,
        reporter.to_owned(),
        "Reported".into(),
    )];
    items.extend(
        a.public_history
            .iter()
            .map(|r| TimelineItem::event(r.at, String::new(), r.summary.clone())),
    );
    if let (Some(at), Some(reason)) = (a.closed_at, a.close_reason) {
        items.push(closed_item(
            at,
            String::new(),
            reason,
            a.close_message.as_deref(),
            a.duplicate_of.as_ref().map(ToString::to_string),
        ));
    }
    items
}

fn timeline(
    a: &Advisory,
    reporter: &str,
    thread: Vec<Comment>,
    events: Option<&[EventRecord]>,
) -> Vec<TimelineItem> {
    let mut items = match events {
        Some(e) => event_items(e),
        None => milestone_items(a, reporter),
    };
    items.extend(thread.into_iter().map(|c| TimelineItem {
        at: c.created_at,
        when: fmt_time(c.created_at),
        machine: super::format::machine(c.created_at),
        who: c.author,
        what: if c.internal {
            "Internal note".into()
        } else {
            "Comment".into()
        },
        body_html: markdown::to_html(&c.body),
        link: None,
        comment: true,
        internal: c.internal,
    }));
    // Stable: an event and the comment it made keep their order.
    items.sort_by_key(|i| i.at);
    items
}

#[derive(Template)]
#[template(path = "advisory.html")]
struct AdvisoryPage {
    user: Option<Nav>,
    csrf: String,
    a: Advisory,
    audience: bool,
    p: Permissions,
    v: PublicView,
    reporter: String,
    overdue: bool,
    /// Events and comments in order (for those who may read the thread).
    timeline: Vec<TimelineItem>,
    collaborators: Vec<embargo_store::Collaborator>,
    attachments: Vec<embargo_store::Attachment>,
    /// The repositories of the organisation, for the transfer form.
    org_repos: Vec<String>,
    close_reasons: Vec<(&'static str, &'static str)>,
    created: String,
    due: String,
    first_response: String,
    /// The embargo's agreed and proposed ends, for people.
    embargo_end: String,
    embargo_proposed: String,
    /// Case flags: (name, when set, or empty).
    case_flags: Vec<(&'static str, String)>,
    /// The private fix repository, for who may fetch it (or create it).
    fix: Option<crate::fix_repo::page::FixSection>,
    /// The checks on the fix (statuses, check runs, upstream pushes), escaped HTML.
    fix_checks_html: String,
    /// The publish form's warnings about the fix's checks, and its push checkbox.
    fix_publish: crate::fix_checks::PublishForm,
    /// The documents as they would be published, for the publish dialog.
    exports: Vec<(&'static str, &'static str)>,
    /// The credits with their consent: all for the audience, the viewer's own for others.
    credits: Vec<embargo_store::CreditEntry>,
    error: Option<String>,
}

impl AdvisoryPage {
    fn any_action(&self) -> bool {
        let p = &self.p;
        p.can_edit
            || p.can_accept
            || p.can_close
            || p.can_reopen
            || p.can_publish
            || p.can_withdraw
            || p.can_transfer
            || p.can_exempt_from_disclosure
            || p.can_read_events
    }
}

/// The one date format of the pages (UTC, to the minute), from [`super::format`].
pub(crate) fn fmt_time(t: time::OffsetDateTime) -> String {
    super::format::text(t)
}

/// The organisation's other repositories, for the transfer form (only for who may transfer).
pub(super) async fn org_repos(
    st: &AppState,
    a: &Advisory,
    p: &Permissions,
) -> Result<Vec<String>, PageError> {
    Ok(if p.can_transfer {
        st.store
            .repos(Some(&a.org))
            .await?
            .iter()
            .filter(|r| a.repo.as_ref() != Some(&r.slug))
            .map(|r| r.slug.to_string())
            .collect()
    } else {
        Vec::new()
    })
}

pub(super) fn close_reasons() -> Vec<(&'static str, &'static str)> {
    CloseReason::ALL
        .iter()
        .map(|r| (r.as_str(), r.label()))
        .collect()
}

async fn page(
    st: &AppState,
    caller: &WebCaller,
    id: &str,
    error: Option<String>,
) -> Result<AdvisoryPage, PageError> {
    let id = advisory_id(id)?;
    // One store call, one access-log entry for the advisory, its thread and its trail.
    let view = st.store.advisory_view(caller.actor, &id).await?;
    let a = view.advisory;
    let p = a.permissions();
    let audience = a.relations().in_audience();
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
    let fix = crate::fix_repo::page::section(st, caller.actor, &id, &p).await?;
    let fix_checks_html = if p.can_fetch_fix {
        crate::fix_checks::section_html(st, caller.actor, &id).await?
    } else {
        String::new()
    };
    let fix_publish = crate::fix_checks::publish_form(st, caller.actor, &id, p.can_publish).await?;
    let org_repos = org_repos(st, a.get(), &p).await?;
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
    let exports = if p.can_publish {
        super::confirm::export_previews(&adv)
    } else {
        Vec::new()
    };
    let credits = if caller.session.is_some() || audience {
        st.store.credits_on_page(caller.actor, &a).await?
    } else {
        Vec::new()
    };
    // The public part of the page shows what the public sees, credits included.
    let public = if audience {
        st.store.with_public_credits(adv.clone()).await?
    } else {
        adv.clone()
    };
    let timeline = match view.thread {
        Some(thread) => timeline(&adv, &reporter, thread, view.events.as_deref()),
        None => Vec::new(),
    };
    Ok(AdvisoryPage {
        user: Nav::of(caller),
        csrf: caller
            .session
            .as_ref()
            .map(|s| s.csrf_token.clone())
            .unwrap_or_default(),
        v: PublicView::of(&public, audience),
        overdue: adv.first_response_at.is_none() && st.store.now() > adv.response_due_at,
        created: fmt_time(adv.created_at),
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
        reporter,
        timeline,
        collaborators,
        attachments,
        org_repos,
        fix,
        fix_checks_html,
        fix_publish,
        exports,
        credits,
        close_reasons: close_reasons(),
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
        "publish" => {
            let push_fix = f.get("push_fix") == "on";
            let r = crate::fix_checks::publish_from_page(&st, caller.actor, &aid, push_fix).await;
            return after(&st, &caller, &id, r).await;
        }
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

/// An upload form's fields (multipart: `csrf`, then `file`), with the size limit of
/// attachments enforced while reading: the CSRF token sent, and the file when one was.
pub(super) async fn read_upload(
    form: &mut axum::extract::Multipart,
    max: usize,
) -> Result<(String, Option<(String, Vec<u8>)>), PageError> {
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
    Ok((csrf, file))
}

/// The file of an upload form, or the field error that asks for one.
pub(super) fn chosen(file: Option<(String, Vec<u8>)>) -> Result<(String, Vec<u8>), PageError> {
    file.ok_or_else(|| {
        PageError(AppError::invalid(embargo_domain::FieldError::new(
            "file",
            "choose a file",
        )))
    })
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
    let (csrf, file) = read_upload(&mut form, max).await?;
    check_session_form(&st, &headers, &caller, &Fields(vec![("csrf".into(), csrf)]))?;
    let aid = advisory_id(&id)?;
    let (name, bytes) = chosen(file)?;
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
