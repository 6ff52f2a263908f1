//! Git's smart HTTP for fix repositories: `/git/{advisory-id}.git/info/refs`,
//! `/git-upload-pack` and `/git-receive-pack`.
//!
//! Embargo drives `git upload-pack` and `git receive-pack --stateless-rpc` itself rather than
//! running `git http-backend` as a CGI: the access decision, the repository's path (from a
//! parsed advisory id, never from the URL's text), the environment and the settings are all
//! Embargo's, the request body is read with Embargo's limits (and un-gzipped by it, so the
//! wanted objects can be recorded), and there is no CGI header parsing between them.
//!
//! Who is not allowed (no account, a wrong token, outside the audience, an advisory that does
//! not exist or has no fix repository) gets the same 404 as a repository that does not
//! exist; a request without credentials gets a 401 asking for them, whatever the id.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use embargo_domain::access::Actor;
use embargo_domain::ids::AdvisoryId;
use embargo_store::{FixAccess, FixAccessKind, StoreError};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{Group, LocalGit};
use crate::AppState;
use crate::error::AppError;
use crate::extract::Req;

/// The largest fetch request (wants and haves), after un-gzipping.
const FETCH_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// The most a ref advertisement or a push's report may be.
const ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// One fetch or push may take this long in all.
const GIT_TIME: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Deserialize)]
pub struct Service {
    service: Option<String>,
}

/// The one answer for whatever may not be seen.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Repository not found\n",
    )
        .into_response()
}

fn ask_for_credentials() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Basic realm=\"Embargo\""),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        "Sign in: any user name, and an API token as the password\n",
    )
        .into_response()
}

/// The token in `Authorization: Basic` (the password; the user name is not used) or
/// `Bearer`. `Ok(None)`: no credentials; `Err`: credentials that cannot be a token.
fn token(headers: &HeaderMap) -> Result<Option<String>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?.trim();
    let token = if let Some(b) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|_| ())?;
        let text = String::from_utf8(raw).map_err(|_| ())?;
        let (_, password) = text.split_once(':').ok_or(())?;
        password.to_owned()
    } else if let Some(t) = value.strip_prefix("Bearer ") {
        t.trim().to_owned()
    } else {
        return Err(());
    };
    if token.is_empty() || token.len() > 256 {
        return Err(());
    }
    Ok(Some(token))
}

/// Why a request goes no further.
enum Refusal {
    Ask,
    Hidden,
    /// Allowed to fetch, not to push (with why).
    NoPush(String),
    Error(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Self::Error(e)
    }
}

impl Refusal {
    fn into_response(self, service: &str) -> Response {
        match self {
            Self::Ask => ask_for_credentials(),
            Self::Hidden => not_found(),
            Self::NoPush(why) => {
                if service == "git-receive-pack" {
                    // git prints an ERR line of the advertisement as "remote error: ...".
                    let mut body = pkt(&format!("ERR {why}"));
                    body.extend_from_slice(b"0000");
                    (
                        StatusCode::OK,
                        [(
                            header::CONTENT_TYPE,
                            "application/x-git-receive-pack-advertisement",
                        )],
                        body,
                    )
                        .into_response()
                } else {
                    (StatusCode::FORBIDDEN, format!("{why}\n")).into_response()
                }
            }
            Self::Error(e) => e.into_response(),
        }
    }
}

/// Checks the caller and takes the access decision.
async fn access(
    st: &AppState,
    headers: &HeaderMap,
    repo: &str,
    kind: FixAccessKind,
) -> Result<(FixAccess, AdvisoryId), Refusal> {
    let token = match token(headers) {
        Ok(Some(t)) => t,
        Ok(None) => return Err(Refusal::Ask),
        Err(()) => return Err(Refusal::Hidden),
    };
    let id = repo
        .strip_suffix(".git")
        .and_then(|r| AdvisoryId::parse(r).ok())
        .ok_or(Refusal::Hidden)?;
    let user = st
        .store
        .user_for_api_token(&token)
        .await
        .map_err(|e| Refusal::Error(e.into()))?
        .ok_or(Refusal::Hidden)?;
    let actor: Actor = user.actor();
    match st.store.fix_access(actor, &id, kind).await {
        Ok(a) => Ok((a, id)),
        Err(StoreError::NotFound(_)) => Err(Refusal::Hidden),
        Err(StoreError::Forbidden(m) | StoreError::Conflict(m)) => Err(Refusal::NoPush(m)),
        Err(e) => Err(Refusal::Error(e.into())),
    }
}

/// A pkt-line.
fn pkt(text: &str) -> Vec<u8> {
    let mut out = format!("{:04x}", text.len() + 4 + 1).into_bytes();
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

/// The protocol version a client asks for (`Git-Protocol: version=2`), passed to git only
/// when it is made of what that header may hold.
fn git_protocol(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("git-protocol")?.to_str().ok()?;
    (v.len() <= 256
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | ':' | '.' | '-' | '_')))
    .then(|| v.to_owned())
}

fn service_of(kind: FixAccessKind) -> &'static str {
    match kind {
        FixAccessKind::Fetch => "git-upload-pack",
        FixAccessKind::Push => "git-receive-pack",
    }
}

/// `GET /git/{id}.git/info/refs?service=...`: the ref advertisement.
pub async fn info_refs(
    Req(st): Req,
    Path(repo): Path<String>,
    Query(q): Query<Service>,
    headers: HeaderMap,
) -> Response {
    let kind = match q.service.as_deref() {
        Some("git-upload-pack") => FixAccessKind::Fetch,
        Some("git-receive-pack") => FixAccessKind::Push,
        // The dumb protocol is not served.
        _ => {
            return match token(&headers) {
                Ok(None) => ask_for_credentials(),
                _ => not_found(),
            };
        }
    };
    let service = service_of(kind);
    match advertise(&st, &headers, &repo, kind).await {
        Ok(r) => r,
        Err(refusal) => refusal.into_response(service),
    }
}

async fn advertise(
    st: &AppState,
    headers: &HeaderMap,
    repo: &str,
    kind: FixAccessKind,
) -> Result<Response, Refusal> {
    let (access, id) = access(st, headers, repo, kind).await?;
    let local = LocalGit::new(&st.config, &id)?;
    if !local.exists() {
        return Err(Refusal::Hidden);
    }
    let service = service_of(kind);
    let protocol = match kind {
        FixAccessKind::Fetch => git_protocol(headers),
        FixAccessKind::Push => None,
    };
    let mut cmd = local.command([
        service.trim_start_matches("git-"),
        "--stateless-rpc",
        "--advertise-refs",
        ".",
    ]);
    if let Some(p) = &protocol {
        cmd.env("GIT_PROTOCOL", p);
    }
    let out = run_buffered(cmd, Bytes::new()).await?;
    if kind == FixAccessKind::Fetch {
        st.store
            .record_fix_refs(&access)
            .await
            .map_err(|e| Refusal::Error(e.into()))?;
    }
    let mut body = Vec::new();
    if !protocol.as_deref().is_some_and(|p| p.contains("version=2")) {
        body.extend(pkt(&format!("# service={service}")));
        body.extend_from_slice(b"0000");
    }
    body.extend(out);
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&format!("application/x-{service}-advertisement"))
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

/// Runs git with `input` on its stdin and returns its stdout (at most [`ANSWER_BYTES`]).
async fn run_buffered(mut cmd: tokio::process::Command, input: Bytes) -> Result<Vec<u8>, AppError> {
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| AppError::internal(&format!("cannot run git: {e}")))?;
    let guard = Group::of(&child);
    let deadline = Instant::now() + GIT_TIME;
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| AppError::internal("git without stdout"))?;
    let stderr = child.stderr.take();
    let err_task = tokio::spawn(async move {
        let mut err = Vec::new();
        if let Some(mut e) = stderr {
            let _ = (&mut e).take(64 * 1024).read_to_end(&mut err).await;
        }
        err
    });
    let mut out = Vec::new();
    tokio::time::timeout_at(
        deadline,
        (&mut stdout)
            .take(ANSWER_BYTES as u64)
            .read_to_end(&mut out),
    )
    .await
    .map_err(|_| AppError::internal("git took too long on a fix repository"))?
    .map_err(|e| AppError::internal(&format!("reading git: {e}")))?;
    let status = tokio::time::timeout_at(deadline, child.wait())
        .await
        .map_err(|_| AppError::internal("git took too long on a fix repository"))?
        .map_err(|e| AppError::internal(&format!("git failed: {e}")))?;
    guard.disarm();
    if !status.success() {
        let err = err_task.await.unwrap_or_default();
        return Err(AppError::internal(&format!(
            "git on a fix repository: {}",
            crate::upstream_git::first_line(&err)
        )));
    }
    Ok(out)
}

/// The object ids a fetch request wants (`want OID ...` lines, protocol v0 and v2).
fn wants(body: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while rest.len() >= 4 {
        let Some(len) = rest
            .get(..4)
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(|l| usize::from_str_radix(l, 16).ok())
        else {
            break;
        };
        if len < 4 {
            // flush, delimiter, response-end
            rest = rest.get(4..).unwrap_or_default();
            continue;
        }
        let Some(line) = rest.get(4..len) else { break };
        if let Some(w) = line.strip_prefix(b"want ") {
            let oid: String = w
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .map(|b| char::from(*b))
                .collect();
            if oid.len() >= 40 {
                out.push(oid);
            }
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    out
}

/// The request body, un-gzipped when the client compressed it, within `limit`.
async fn fetch_request(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the fetch request is larger than 16 MiB\n",
        )
            .into_response()
    };
    let raw = axum::body::to_bytes(body, FETCH_REQUEST_BYTES)
        .await
        .map_err(|_| too_large())?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip"));
    if !gzip {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_ref())
        .take(FETCH_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| {
            (StatusCode::BAD_REQUEST, "the gzip body does not inflate\n").into_response()
        })?;
    if out.len() > FETCH_REQUEST_BYTES {
        return Err(too_large());
    }
    Ok(Bytes::from(out))
}

/// `POST /git/{id}.git/git-upload-pack`: a fetch. The branch heads it wants are recorded
/// (for the force-push rule) with an entry of the access log; the pack streams back.
pub async fn upload_pack(Req(st): Req, Path(repo): Path<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (access, id) = match access(&st, &parts.headers, &repo, FixAccessKind::Fetch).await {
        Ok(a) => a,
        Err(r) => return r.into_response("git-upload-pack"),
    };
    let input = match fetch_request(&parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match serve_upload_pack(&st, &access, &id, &parts.headers, input).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve_upload_pack(
    st: &AppState,
    access: &FixAccess,
    id: &AdvisoryId,
    headers: &HeaderMap,
    input: Bytes,
) -> Result<Response, AppError> {
    let local = LocalGit::new(&st.config, id)?;
    let wanted = wants(&input);
    if !wanted.is_empty() {
        let heads = local
            .text(
                &[
                    "for-each-ref",
                    "--format=%(objectname) %(refname)",
                    "refs/heads/",
                ],
                4 * 1024 * 1024,
            )
            .await?;
        let fetched: Vec<(String, String)> = heads
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(sha, _)| wanted.iter().any(|w| w == sha))
            .map(|(sha, name)| (name.to_owned(), sha.to_owned()))
            .collect();
        st.store
            .record_fix_fetch(access, &fetched, wanted.len())
            .await?;
    }
    let mut cmd = local.command(["upload-pack", "--stateless-rpc", "."]);
    if let Some(p) = git_protocol(headers) {
        cmd.env("GIT_PROTOCOL", p);
    }
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| AppError::internal(&format!("cannot run git: {e}")))?;
    let guard = Group::of(&child);
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| AppError::internal("git without stdout"))?;
    // git's messages reach the client in its side band; what is left is for the log.
    if let Some(mut stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut err = Vec::new();
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut err).await;
            // Only how much: git's words can name refs and commits of an unpublished fix.
            if !err.is_empty() {
                tracing::info!(
                    bytes = err.len(),
                    "upload-pack on a fix repository wrote to stderr"
                );
            }
        });
    }
    let deadline = Instant::now() + GIT_TIME;
    // The pack streams out; git's group is killed when the client goes or time runs out.
    let stream =
        futures_util::stream::unfold(Some((stdout, child, guard)), move |state| async move {
            let (mut out, mut child, guard) = state?;
            let mut buf = vec![0u8; 64 * 1024];
            match tokio::time::timeout_at(deadline, out.read(&mut buf)).await {
                Ok(Ok(0)) => {
                    let _ = tokio::time::timeout_at(deadline, child.wait()).await;
                    guard.disarm();
                    None
                }
                Ok(Ok(n)) => {
                    buf.truncate(n);
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(buf)),
                        Some((out, child, guard)),
                    ))
                }
                Ok(Err(e)) => Some((Err(e), None)),
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the fetch took too long",
                    )),
                    None,
                )),
            }
        });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-git-upload-pack-result"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `POST /git/{id}.git/git-receive-pack`: a push. Embargo's pre-receive hook refuses what
/// the rules refuse (with `remote:` lines), the post-receive hook tells which refs changed;
/// the push is an entry of the access log, and the checks start on what changed.
pub async fn receive_pack(Req(st): Req, Path(repo): Path<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (access, id) = match access(&st, &parts.headers, &repo, FixAccessKind::Push).await {
        Ok(a) => a,
        Err(r) => return r.into_response("git-receive-pack-post"),
    };
    if parts.headers.contains_key(header::CONTENT_ENCODING) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the push without Content-Encoding\n",
        )
            .into_response();
    }
    match serve_receive_pack(&st, &access, &id, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve_receive_pack(
    st: &AppState,
    access: &FixAccess,
    id: &AdvisoryId,
    body: Body,
) -> Result<Response, AppError> {
    let local = LocalGit::new(&st.config, id)?;
    if !local.exists() {
        return Ok(not_found());
    }
    local.ensure_hooks()?;
    let scratch = tempfile::Builder::new()
        .prefix(".push-")
        .tempdir_in(local.repo.parent().unwrap_or(&local.repo))
        .map_err(|e| AppError::internal(&format!("no temporary folder for a push: {e}")))?;
    let updates_file = scratch.path().join("updates");
    let refusals_file = scratch.path().join("refusals");
    let others = st.store.fix_fetched_by_others(access).await?;
    let mut cmd = local.command(["receive-pack", "--stateless-rpc", "."]);
    cmd.env("EMBARGO_UPDATES_FILE", &updates_file)
        .env("EMBARGO_REFUSALS_FILE", &refusals_file)
        .env("EMBARGO_FETCHED_BY_OTHERS", others.join("\n"))
        .env(
            "EMBARGO_FORCE_ALLOWED",
            if access.is_security_manager() {
                "1"
            } else {
                "0"
            },
        )
        .stdin(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| AppError::internal(&format!("cannot run git: {e}")))?;
    let guard = Group::of(&child);
    let deadline = Instant::now() + GIT_TIME;
    // The body streams into git; past the push limit (and a margin for the commands) it is
    // cut, and git's own limit (receive.maxInputSize) has already said why.
    let cap = st
        .config
        .fix_repository
        .max_push_bytes
        .saturating_add(1024 * 1024);
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| AppError::internal("git without stdin"))?;
    let feeder = tokio::spawn(async move {
        let mut sent: u64 = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            sent += chunk.len() as u64;
            if sent > cap || stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
        sent
    });
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| AppError::internal("git without stdout"))?;
    let stderr = child.stderr.take();
    let err_task = tokio::spawn(async move {
        let mut err = Vec::new();
        if let Some(mut e) = stderr {
            let _ = (&mut e).take(64 * 1024).read_to_end(&mut err).await;
        }
        err
    });
    let mut out = Vec::new();
    tokio::time::timeout_at(
        deadline,
        (&mut stdout)
            .take(ANSWER_BYTES as u64)
            .read_to_end(&mut out),
    )
    .await
    .map_err(|_| AppError::internal("a push to a fix repository took too long"))?
    .map_err(|e| AppError::internal(&format!("reading git: {e}")))?;
    let _ = tokio::time::timeout_at(deadline, child.wait()).await;
    guard.disarm();
    let sent = feeder.await.unwrap_or(0);
    let err = err_task.await.unwrap_or_default();
    if !err.is_empty() {
        tracing::info!(
            bytes = err.len(),
            "receive-pack on a fix repository wrote to stderr"
        );
    }
    let updated: Vec<(String, String, String)> = std::fs::read_to_string(&updates_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (old, new, name) = (f.next()?, f.next()?, f.next()?);
            Some((name.to_owned(), old.to_owned(), new.to_owned()))
        })
        .collect();
    let refused: Vec<String> = std::fs::read_to_string(&refusals_file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    // git's probe before a large push is a bare flush: not a push.
    if sent > 4 || !updated.is_empty() {
        st.store.record_fix_push(access, &updated, &refused).await?;
    }
    if !updated.is_empty()
        && let Err(e) = crate::fix_checks::after_push(st, id.as_str(), &updated).await
    {
        tracing::error!(advisory = %id, error = %e.message, "could not start the checks of a push");
    }
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/x-git-receive-pack-result",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_are_read_from_both_protocols() {
        let oid = "0123456789abcdef0123456789abcdef01234567";
        let mut v0 = pkt(&format!("want {oid} multi_ack side-band-64k"));
        v0.extend(b"0000");
        v0.extend(pkt("done"));
        assert_eq!(wants(&v0), vec![oid.to_owned()]);
        let mut v2 = pkt("command=fetch");
        v2.extend(b"0001");
        v2.extend(pkt(&format!("want {oid}")));
        v2.extend(pkt("have 1111111111111111111111111111111111111111"));
        v2.extend(b"0000");
        assert_eq!(wants(&v2), vec![oid.to_owned()]);
        assert!(wants(b"00zz").is_empty());
    }

    #[test]
    fn tokens_come_from_basic_or_bearer() {
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), Ok(None));
        let basic = base64::engine::general_purpose::STANDARD.encode("x:secret");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}"))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(token(&h), Ok(Some("secret".into())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(token(&h), Err(()));
    }
}
