//! OSV: the record of each published advisory, and the query API scanners use
//! (`/osv/v1/query`, `/osv/v1/querybatch`), answering as the public OSV API does.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use embargo_domain::FieldError;
use embargo_domain::advisory::{Advisory, State as AdvState, Vulnerability};
use embargo_domain::types::Ecosystem;
use embargo_formats::affects::{commit_affected, version_affected};
use embargo_formats::osv::{OsvOptions, record};
use embargo_store::PublicKey;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{json_document, public_advisory};
use crate::AppState;
use crate::error::AppError;
use crate::extract::AnyJson;

/// At most this many queries in one batch, as the public OSV API allows.
pub const MAX_BATCH: usize = 1000;

fn options(st: &AppState) -> OsvOptions<'_> {
    OsvOptions {
        id_prefix: &st.config.osv.id_prefix,
        base_url: &st.config.server.public_url,
    }
}

fn osv_record(st: &AppState, a: &Advisory) -> Result<Value, AppError> {
    record(a, &options(st)).ok_or_else(|| AppError::not_found("advisory"))
}

/// `GET /osv/v1/vulns/{id}`: by OSV id (with the configured prefix) or by advisory id.
pub async fn vuln(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let raw = id.strip_suffix(".json").unwrap_or(&id);
    let raw = raw
        .strip_prefix(st.config.osv.id_prefix.as_str())
        .unwrap_or(raw);
    let a = public_advisory(&st, raw).await?;
    Ok(json_document(&osv_record(&st, &a)?))
}

/// `GET /advisories/{id}/osv.json`.
pub async fn advisory_osv(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let a = public_advisory(&st, &id).await?;
    Ok(json_document(&osv_record(&st, &a)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OsvQueryPackage)]
pub struct QueryPackage {
    name: Option<String>,
    ecosystem: Option<String>,
    purl: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OsvQuery)]
pub struct Query {
    commit: Option<String>,
    version: Option<String>,
    package: Option<QueryPackage>,
    /// Accepted for compatibility; every answer here fits one page.
    #[allow(dead_code)]
    page_token: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OsvQueryBatch)]
pub struct Batch {
    queries: Vec<Query>,
}

/// A checked query.
#[derive(Debug)]
enum Wanted {
    Commit(String),
    Package {
        ecosystem: Option<Ecosystem>,
        name: String,
        version: Option<String>,
    },
}

fn field(f: &str, m: &str) -> FieldError {
    FieldError::new(f, m)
}

fn check(q: Query) -> Result<Wanted, FieldError> {
    const MAX: usize = 1024;
    // Control characters name no commit, package or version (and PostgreSQL refuses NUL in
    // text): refused here, before they reach a query.
    for (f, v) in [
        ("commit", q.commit.as_deref()),
        ("version", q.version.as_deref()),
        (
            "package.name",
            q.package.as_ref().and_then(|p| p.name.as_deref()),
        ),
        (
            "package.ecosystem",
            q.package.as_ref().and_then(|p| p.ecosystem.as_deref()),
        ),
        (
            "package.purl",
            q.package.as_ref().and_then(|p| p.purl.as_deref()),
        ),
    ] {
        if v.is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(field(f, "may not contain control characters"));
        }
    }
    for (f, v) in [
        ("commit", q.commit.as_deref()),
        ("version", q.version.as_deref()),
    ] {
        if v.is_some_and(|v| v.is_empty() || v.len() > MAX) {
            return Err(field(f, "is empty or longer than 1024 characters"));
        }
    }
    if let Some(c) = q.commit {
        if q.version.is_some() || q.package.is_some() {
            return Err(field(
                "commit",
                "ask by commit alone, or by package and version",
            ));
        }
        return Ok(Wanted::Commit(c));
    }
    let Some(p) = q.package else {
        return Err(field(
            "package",
            "is missing; give a package (name and ecosystem, or purl) or a commit",
        ));
    };
    if let Some(purl) = p.purl {
        if p.name.is_some() || p.ecosystem.is_some() {
            return Err(field(
                "package.purl",
                "give either a purl or a name and ecosystem",
            ));
        }
        if purl.len() > MAX {
            return Err(field("package.purl", "is longer than 1024 characters"));
        }
        let (eco, name, in_purl) = embargo_formats::purl::parse(&purl, "package.purl")?;
        if in_purl.is_some() && q.version.is_some() {
            return Err(field(
                "version",
                "is given twice: in the purl and as version",
            ));
        }
        return Ok(Wanted::Package {
            ecosystem: Some(eco),
            name,
            version: in_purl.or(q.version),
        });
    }
    let name = p
        .name
        .filter(|n| !n.is_empty() && n.len() <= MAX)
        .ok_or_else(|| field("package.name", "is missing or empty"))?;
    let ecosystem = p
        .ecosystem
        .map(|e| Ecosystem::parse(&e).map_err(|e| e.within("package")))
        .transpose()?;
    Ok(Wanted::Package {
        ecosystem,
        name,
        version: q.version,
    })
}

fn matches(v: &Vulnerability, wanted: &Wanted) -> bool {
    match wanted {
        Wanted::Commit(c) => commit_affected(v, c),
        Wanted::Package {
            ecosystem,
            name,
            version,
        } => {
            let eco_ok = ecosystem.as_ref().is_none_or(|e| *e == v.package.ecosystem);
            eco_ok
                && embargo_formats::purl::same_package(
                    &v.package.ecosystem,
                    v.package.name.as_str(),
                    name,
                )
                && version
                    .as_deref()
                    .is_none_or(|ver| version_affected(v, ver))
        }
    }
}

/// What the index is asked for a query.
fn index_key(w: &Wanted) -> PublicKey {
    match w {
        Wanted::Commit(c) => PublicKey::Commit(c.clone()),
        Wanted::Package {
            ecosystem, name, ..
        } => PublicKey::Package {
            ecosystem: ecosystem.as_ref().map(|e| e.as_str().to_owned()),
            name: name.clone(),
        },
    }
}

/// Published (not withdrawn) advisories that affect what is asked, as the public OSV API
/// leaves withdrawn entries out of query results.
fn hits<'a>(all: &'a [Advisory], wanted: &Wanted) -> Vec<&'a Advisory> {
    all.iter()
        .filter(|a| a.state == AdvState::Published)
        .filter(|a| a.content.vulnerabilities.iter().any(|v| matches(v, wanted)))
        .collect()
}

/// `POST /osv/v1/query`: the full records that affect a package version (or commit); `{}`
/// when none do, as the public API answers.
pub async fn query(
    State(st): State<AppState>,
    AnyJson(q): AnyJson<Query>,
) -> Result<Json<Value>, AppError> {
    let wanted = check(q).map_err(AppError::invalid)?;
    // Only the advisories the index names as candidates are loaded; the match decides.
    let all = st.store.osv_candidates(&[index_key(&wanted)]).await?;
    let vulns: Vec<Value> = hits(&all, &wanted)
        .into_iter()
        .filter_map(|a| record(a, &options(&st)))
        .collect();
    if vulns.is_empty() {
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({ "vulns": vulns })))
}

/// `POST /osv/v1/querybatch`: for each query, the ids and modification times of the records
/// that match, in the order asked.
pub async fn querybatch(
    State(st): State<AppState>,
    AnyJson(b): AnyJson<Batch>,
) -> Result<Json<Value>, AppError> {
    if b.queries.len() > MAX_BATCH {
        return Err(AppError::invalid(field(
            "queries",
            &format!("has {} entries; the limit is {MAX_BATCH}", b.queries.len()),
        )));
    }
    let mut wanted = Vec::with_capacity(b.queries.len());
    for (i, q) in b.queries.into_iter().enumerate() {
        wanted.push(check(q).map_err(|e| AppError::invalid(e.within(&format!("queries[{i}]"))))?);
    }
    let keys: Vec<PublicKey> = wanted.iter().map(index_key).collect();
    let all = st.store.osv_candidates(&keys).await?;
    let opts = options(&st);
    let results: Vec<Value> = wanted
        .iter()
        .map(|w| {
            let vulns: Vec<Value> = hits(&all, w)
                .into_iter()
                .filter_map(|a| record(a, &opts))
                .map(|r| json!({"id": r.get("id"), "modified": r.get("modified")}))
                .collect();
            if vulns.is_empty() {
                json!({})
            } else {
                json!({ "vulns": vulns })
            }
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}
