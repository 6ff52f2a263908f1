//! Public text documents: bulletins for release notes, Atom feeds, `security.txt` and each
//! organisation's SECURITY.md. All read as the anonymous actor (see [`super`]).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use embargo_domain::FieldError;
use embargo_domain::types::Slug;
use embargo_formats::markdown::{SecurityMd, bulletin_entry, security_md};
use embargo_formats::web::{FeedOptions, SecurityTxt, atom, security_txt};
use serde::Deserialize;
use time::Duration;

use super::{document, public_advisory};
use crate::AppState;
use crate::error::AppError;

const MARKDOWN: &str = "text/markdown; charset=utf-8";
const ATOM: &str = "application/atom+xml";

fn org_slug(raw: &str) -> Result<Slug, AppError> {
    Slug::parse(raw).map_err(|_| AppError::not_found("organisation"))
}

/// `GET /advisories/{id}/bulletin.md`: the advisory's entry for the release notes.
pub async fn bulletin(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let a = public_advisory(&st, &id).await?;
    Ok(document(
        bulletin_entry(&a, &st.config.server.public_url),
        MARKDOWN,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseQuery {
    release: Option<String>,
}

/// `GET /orgs/{org}/bulletins.md?release=vX.Y.Z`: the "Security bulletins" section of that
/// release's notes: every published advisory of the organisation fixed in it.
pub async fn org_bulletins(
    State(st): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<ReleaseQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let release = q.release.ok_or_else(|| {
        AppError::invalid(FieldError::new(
            "release",
            "is missing; ask for one release: ?release=v0.8.1",
        ))
    })?;
    let org = org_slug(&org)?;
    let revision = st.store.public_revision().await?;
    let key = format!("bulletins:{org}:{release}");
    let doc = st
        .public_cache
        .get_or_build(&key, revision, MARKDOWN, || {
            crate::releases::org_bulletin(&st.store, &org, &release, &st.config.server.public_url)
        })
        .await?;
    Ok(doc.respond(&headers))
}

async fn feed(st: &AppState, org: Option<Slug>, headers: &HeaderMap) -> Result<Response, AppError> {
    let base = &st.config.server.public_url;
    let revision = st.store.public_revision().await?;
    let (title, self_url, key) = match &org {
        Some(o) => {
            let org = st.store.org(o).await?;
            (
                format!("{}: security advisories", org.name),
                format!("{base}/orgs/{}/advisories.atom", org.slug),
                // The title is the organisation's name: a new name is a new feed.
                format!("feed:{}:{}", org.slug, org.name),
            )
        }
        None => (
            format!(
                "{}: security advisories",
                st.config.publishing.publisher_name
            ),
            format!("{base}/feeds/advisories.atom"),
            "feed".to_owned(),
        ),
    };
    let doc = st
        .public_cache
        .get_or_build(&key, revision, ATOM, || async {
            let latest = st.store.latest_public(org.as_ref(), 100).await?;
            Ok(atom(
                &latest,
                &FeedOptions {
                    title: &title,
                    self_url: &self_url,
                    base_url: base,
                    author: &st.config.publishing.publisher_name,
                    now: st.store.now(),
                },
            ))
        })
        .await?;
    Ok(doc.respond(headers))
}

/// `GET /feeds/advisories.atom`: the latest 100 public advisories of every organisation.
pub async fn site_feed(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    feed(&st, None, &headers).await
}

/// `GET /orgs/{org}/advisories.atom`.
pub async fn org_feed(
    State(st): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    feed(&st, Some(org_slug(&org)?), &headers).await
}

/// `GET /orgs/{org}/SECURITY.md`: the policy, from the organisation's settings.
pub async fn org_security_md(
    State(st): State<AppState>,
    Path(org): Path<String>,
) -> Result<Response, AppError> {
    let org = st.store.org(&org_slug(&org)?).await?;
    let key_url = st.store.openpgp_key(org.id).await?.map(|_| {
        format!(
            "{}/orgs/{}/openpgp.asc",
            st.config.server.public_url, org.slug
        )
    });
    let md = security_md(&SecurityMd {
        org_name: &org.name,
        org_slug: org.slug.as_str(),
        policy: &org.policy,
        base_url: &st.config.server.public_url,
        openpgp_key_url: key_url.as_deref(),
        policy_text: &org.policy_text,
    });
    Ok(document(md, MARKDOWN))
}

/// `GET /orgs/{org}/openpgp.asc`: the public half of the organisation's OpenPGP key, for
/// encrypting reports sent by mail; 404 when none was imported.
pub async fn org_openpgp_key(
    State(st): State<AppState>,
    Path(org): Path<String>,
) -> Result<Response, AppError> {
    let org = st.store.org(&org_slug(&org)?).await?;
    let armored = st
        .store
        .openpgp_key(org.id)
        .await?
        .ok_or_else(|| AppError::not_found("OpenPGP key"))?;
    let key = crate::openpgp::parse_secret_key(&armored).map_err(|e| AppError::internal(&e))?;
    let (public, _) = crate::openpgp::public_key(&key).map_err(|e| AppError::internal(&e))?;
    Ok(document(public, "application/pgp-keys"))
}

/// `GET /.well-known/security.txt` (RFC 9116). `Expires` is always 90 days ahead: the file
/// is generated, so it never goes stale while the server runs.
pub async fn security_txt_file(State(st): State<AppState>) -> Result<Response, AppError> {
    let base = &st.config.server.public_url;
    let p = &st.config.publishing;
    let mut contacts = vec![format!("{base}/report")];
    contacts.extend(p.contacts.iter().cloned());
    let policy = if p.policy_url.is_empty() {
        match st.store.orgs().await?.as_slice() {
            [only] => Some(format!("{base}/orgs/{}/SECURITY.md", only.slug)),
            _ => None,
        }
    } else {
        Some(p.policy_url.clone())
    };
    // The configured key, else the one organisation's imported key (RFC 9116 names one).
    let encryption = if p.encryption_key_url.is_empty() {
        let mut with_key = Vec::new();
        for o in st.store.orgs().await? {
            if st.store.openpgp_key(o.id).await?.is_some() {
                with_key.push(format!("{base}/orgs/{}/openpgp.asc", o.slug));
            }
        }
        (with_key.len() == 1).then(|| with_key.remove(0))
    } else {
        Some(p.encryption_key_url.clone())
    };
    let txt = security_txt(&SecurityTxt {
        contacts: &contacts,
        expires: st.store.now() + Duration::days(90),
        encryption: encryption.as_deref(),
        policy: policy.as_deref(),
        acknowledgments: None,
        preferred_languages: &p.preferred_languages,
        canonical: &format!("{base}/.well-known/security.txt"),
        csaf: Some(&format!("{base}/.well-known/csaf/provider-metadata.json")),
    });
    Ok(document(txt, "text/plain; charset=utf-8"))
}
