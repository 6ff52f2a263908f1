//! Public documents that list many advisories (feeds, the CSAF directory, bulletins), built
//! once per public revision and served from memory.
//!
//! The store bumps its public revision in the transaction of every public change, in the
//! database, so a cached document is rebuilt on the first request after a change made by
//! any instance. Each document is kept with its gzip form (compressed once, not per
//! request) and an `ETag` made of its bytes, so `If-None-Match` answers 304 while the
//! document is unchanged, and a change no one outside an audience can see (which never
//! touches these documents) never changes the tag.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// At most this many documents are kept (one per feed, organisation and release asked
/// for); beyond it the cache starts over.
const MAX_DOCUMENTS: usize = 1024;

/// Caches must revalidate (cheap: a 304), so a withdrawal is seen at once.
const CACHE_CONTROL: &str = "public, no-cache";

/// One built document.
#[derive(Debug)]
pub struct Cached {
    revision: i64,
    content_type: &'static str,
    /// The tag of the identity form, quotes included; the gzip form's ends in `-gz"`.
    etag: String,
    gzip_etag: String,
    body: Bytes,
    gzip: Bytes,
}

impl Cached {
    fn new(revision: i64, content_type: &'static str, body: String) -> Result<Self, AppError> {
        let hash = Sha256::digest(body.as_bytes());
        let tag = embargo_store::secrets::hex(hash.get(..16).unwrap_or_default());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.as_bytes())
            .map_err(|e| AppError::internal(&e.to_string()))?;
        let gzip = gz
            .finish()
            .map_err(|e| AppError::internal(&e.to_string()))?;
        Ok(Self {
            revision,
            content_type,
            etag: format!("\"{tag}\""),
            gzip_etag: format!("\"{tag}-gz\""),
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
        })
    }

    /// The answer to a request with `headers`: gzip when accepted, 304 when the client
    /// holds this version.
    pub fn respond(&self, headers: &HeaderMap) -> Response {
        let gzip = accepts_gzip(headers);
        let etag = if gzip { &self.gzip_etag } else { &self.etag };
        let fresh = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| none_match_hits(v, etag));
        let mut resp = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let body = if gzip { &self.gzip } else { &self.body };
            Response::new(Body::from(body.clone()))
        };
        let h = resp.headers_mut();
        if !fresh {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            if gzip {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
        }
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        resp
    }
}

/// Whether `Accept-Encoding` takes gzip (by name or `*`, with a weight above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
        })
}

/// `If-None-Match` (weak comparison, RFC 9110 13.1.2): `*`, or a list holding the tag.
fn none_match_hits(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t == etag
    })
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<Cached>>>,
    /// Held while building: one build per document at a time.
    building: tokio::sync::Mutex<()>,
}

/// The documents, by key (the route and what varies it).
#[derive(Default)]
pub struct DocumentCache {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl std::fmt::Debug for DocumentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCache").finish_non_exhaustive()
    }
}

impl DocumentCache {
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if !slots.contains_key(key) && slots.len() >= MAX_DOCUMENTS {
            slots.clear();
        }
        slots.entry(key.to_owned()).or_default().clone()
    }

    /// The document `key` at public revision `revision`: the kept one when it was built at
    /// that revision, else built by `build` (once, however many ask at the same time). A
    /// build that fails is not kept.
    pub async fn get_or_build<F, Fut>(
        &self,
        key: &str,
        revision: i64,
        content_type: &'static str,
        build: F,
    ) -> Result<Arc<Cached>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, AppError>>,
    {
        let slot = self.slot(key);
        let kept = |slot: &Slot| {
            slot.current
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .filter(|c| c.revision >= revision)
        };
        if let Some(c) = kept(&slot) {
            return Ok(c);
        }
        let _building = slot.building.lock().await;
        if let Some(c) = kept(&slot) {
            return Ok(c);
        }
        let body = build().await?;
        // Hashing and compressing a large document is CPU work: off the async workers.
        let built = tokio::task::spawn_blocking(move || Cached::new(revision, content_type, body))
            .await
            .map_err(|e| AppError::internal(&e.to_string()))??;
        let built = Arc::new(built);
        let mut current = slot.current.lock().unwrap_or_else(PoisonError::into_inner);
        // Never replace a document of a later revision (built by a request that read it later).
        if current.as_ref().is_none_or(|c| c.revision <= revision) {
            *current = Some(built.clone());
        }
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_and_encoding_headers() {
        assert!(none_match_hits("\"a\", W/\"b\"", "\"b\""));
        assert!(none_match_hits("*", "\"b\""));
        assert!(!none_match_hits("\"a\"", "\"b\""));
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.5"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, br"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!accepts_gzip(&h));
    }
}
