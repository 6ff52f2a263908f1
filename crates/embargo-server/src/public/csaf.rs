//! CSAF and CVE documents of published advisories, and the CSAF provider's directory
//! (`/.well-known/csaf/`): provider metadata, `index.txt`, `changes.csv`, each document
//! with its `.sha256` and `.sha512`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use embargo_domain::advisory::Advisory;
use embargo_formats::csaf::{self, CsafOptions, path_in_directory};
use embargo_formats::csaf_provider::{
    ProviderOptions, changes_csv, index_txt, provider_metadata, sha256_file, sha512_file,
};
use embargo_formats::cve::{CveOptions, record as cve_record};

use super::{document, json_document, public_advisory};
use crate::AppState;
use crate::error::AppError;

const TEXT: &str = "text/plain; charset=utf-8";
const CSV: &str = "text/csv; charset=utf-8";

async fn vendor(st: &AppState, a: &Advisory) -> Result<String, AppError> {
    Ok(st.store.org(&a.org).await?.name)
}

/// The CSAF document of an advisory, as the exact bytes served everywhere (so that the
/// directory's hashes match).
fn csaf_bytes(st: &AppState, a: &Advisory, vendor: &str, vex: bool) -> Option<String> {
    let o = CsafOptions {
        publisher_name: &st.config.publishing.publisher_name,
        base_url: &st.config.server.public_url,
        vendor,
    };
    let doc = if vex {
        csaf::vex(a, &o)
    } else {
        csaf::advisory(a, &o)
    }?;
    serde_json::to_string_pretty(&doc).ok()
}

async fn csaf_response(st: &AppState, id: &str, vex: bool) -> Result<Response, AppError> {
    let a = public_advisory(st, id).await?;
    let v = vendor(st, &a).await?;
    let body = csaf_bytes(st, &a, &v, vex).ok_or_else(|| AppError::not_found("advisory"))?;
    Ok(document(body, "application/json"))
}

/// `GET /advisories/{id}/csaf.json`.
pub async fn advisory_csaf(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    csaf_response(&st, &id, false).await
}

/// `GET /advisories/{id}/vex.json`.
pub async fn advisory_vex(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    csaf_response(&st, &id, true).await
}

/// `GET /advisories/{id}/cve.json`: 404 when the advisory has no CVE id.
pub async fn advisory_cve(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let a = public_advisory(&st, &id).await?;
    let v = vendor(&st, &a).await?;
    let p = &st.config.publishing;
    let rec = cve_record(
        &a,
        &CveOptions {
            assigner_org_id: &p.cve_assigner_org_id,
            assigner_short_name: &p.cve_assigner_short_name,
            vendor: &v,
            base_url: &st.config.server.public_url,
        },
    )
    .ok_or_else(|| AppError::not_found("CVE record"))?;
    Ok(json_document(&rec))
}

/// `GET /.well-known/csaf/provider-metadata.json`.
pub async fn provider(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let revision = st.store.public_revision().await?;
    let doc = st
        .public_cache
        .get_or_build("csaf:provider", revision, "application/json", || async {
            let last = st
                .store
                .public_last_modified()
                .await?
                .unwrap_or_else(|| st.store.now());
            let key_url = st.signer.as_ref().map(|s| {
                (
                    format!(
                        "{}{}/openpgp/{}.asc",
                        st.config.server.public_url,
                        embargo_formats::csaf_provider::WELL_KNOWN,
                        s.fingerprint
                    ),
                    s.fingerprint.clone(),
                )
            });
            let doc = provider_metadata(&ProviderOptions {
                base_url: &st.config.server.public_url,
                publisher_name: &st.config.publishing.publisher_name,
                last_updated: last,
                openpgp_key: key_url.as_ref().map(|(u, f)| (u.as_str(), f.as_str())),
            });
            Ok(serde_json::to_string_pretty(&doc).unwrap_or_default())
        })
        .await?;
    Ok(doc.respond(&headers))
}

/// Every document of the directory: its path, and when it last changed (from the store's
/// public index, without opening the advisories).
async fn entries(st: &AppState) -> Result<Vec<(String, time::OffsetDateTime)>, AppError> {
    Ok(st
        .store
        .public_directory()
        .await?
        .into_iter()
        .map(|e| (e.path, e.changed))
        .collect())
}

/// `GET /.well-known/csaf/white/index.txt`.
pub async fn index(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let revision = st.store.public_revision().await?;
    let doc = st
        .public_cache
        .get_or_build("csaf:index.txt", revision, TEXT, || async {
            let paths: Vec<String> = entries(&st).await?.into_iter().map(|(p, _)| p).collect();
            Ok(index_txt(&paths))
        })
        .await?;
    Ok(doc.respond(&headers))
}

/// `GET /.well-known/csaf/white/changes.csv`.
pub async fn changes(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let revision = st.store.public_revision().await?;
    let doc = st
        .public_cache
        .get_or_build("csaf:changes.csv", revision, CSV, || async {
            Ok(changes_csv(&entries(&st).await?))
        })
        .await?;
    Ok(doc.respond(&headers))
}

/// `GET /.well-known/csaf/white/{year}/{file}`: a document (`emb-….json`, `emb-…-vex.json`)
/// or its hash (`.sha256`, `.sha512`).
pub async fn directory_file(
    State(st): State<AppState>,
    Path((year, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let missing = || AppError::not_found("document");
    let (doc_name, hash) = if let Some(d) = file.strip_suffix(".sha256") {
        (d, Some(256))
    } else if let Some(d) = file.strip_suffix(".sha512") {
        (d, Some(512))
    } else if let Some(d) = file.strip_suffix(".asc") {
        (d, Some(0))
    } else {
        (file.as_str(), None)
    };
    let stem = doc_name.strip_suffix(".json").ok_or_else(missing)?;
    let (id, vex) = match stem.strip_suffix("-vex") {
        Some(id) => (id, true),
        None => (stem, false),
    };
    let a = public_advisory(&st, id).await.map_err(|_| missing())?;
    // The year and the exact name must be the document's own.
    if path_in_directory(&a, vex).as_deref() != Some(&format!("{year}/{doc_name}")) {
        return Err(missing());
    }
    let v = vendor(&st, &a).await?;
    let body = csaf_bytes(&st, &a, &v, vex).ok_or_else(missing)?;
    Ok(match hash {
        None => document(body, "application/json"),
        Some(0) => {
            let signer = st.signer.as_ref().ok_or_else(missing)?;
            let sig = signer
                .sign(body.as_bytes())
                .map_err(|e| AppError::internal(&e))?;
            document(sig, "application/pgp-signature")
        }
        Some(256) => document(
            sha256_file(body.as_bytes(), doc_name),
            "text/plain; charset=utf-8",
        ),
        Some(_) => document(
            sha512_file(body.as_bytes(), doc_name),
            "text/plain; charset=utf-8",
        ),
    })
}

/// `GET /.well-known/csaf/openpgp/{fingerprint}.asc`: the public key the documents are
/// signed with.
pub async fn openpgp_key(
    State(st): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let missing = || AppError::not_found("key");
    let signer = st.signer.as_ref().ok_or_else(missing)?;
    if file != format!("{}.asc", signer.fingerprint) {
        return Err(missing());
    }
    Ok(document(
        signer.public_armored.clone(),
        "application/pgp-keys",
    ))
}
