//! Outgoing HTTP(S) requests under the network rule ([`crate::net`]): the connection goes
//! only to the addresses the rule checked (TLS still verifies the name, with Mozilla's
//! roots), no redirects are followed, no proxy is used, connecting and each exchange have
//! time limits and answers are read up to a cap. Used by the CVE Services client and the
//! webhook deliveries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::net::{Checked, NetworkPolicy, Remote};

/// How long connecting may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// Why a request went nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutError {
    /// The address is outside the network rule, or not one a request can go to.
    #[error("{0}")]
    Refused(String),
    /// No answer: connection, TLS, protocol or size limit.
    #[error("{0}")]
    Unreachable(String),
}

/// Connects to the first checked address that answers, speaks TLS for `https`, sends one
/// request and reads the answer up to `limit` bytes.
pub async fn exchange(
    remote: &Remote,
    req: Request<Full<Bytes>>,
    limit: usize,
) -> Result<(StatusCode, Bytes), OutError> {
    let mut last = String::from("no address");
    let mut stream = None;
    for ip in &remote.addrs {
        let addr = SocketAddr::new(*ip, remote.port);
        match tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last = e.kind().to_string(),
            Err(_) => last = "the connection timed out".into(),
        }
    }
    let stream = stream.ok_or(OutError::Unreachable(last))?;
    if remote.url.scheme() == "https" {
        let name = match (&remote.name, remote.addrs.first()) {
            (Some(n), _) => rustls::pki_types::ServerName::try_from(n.clone())
                .map_err(|_| OutError::Refused("has a host name TLS cannot verify".into()))?,
            (None, Some(ip)) => rustls::pki_types::ServerName::IpAddress((*ip).into()),
            (None, None) => return Err(OutError::Unreachable("no address".into())),
        };
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, stream)
            .await
            .map_err(|e| OutError::Unreachable(format!("TLS failed: {e}")))?;
        send(TokioIo::new(tls), req, limit).await
    } else {
        send(TokioIo::new(stream), req, limit).await
    }
}

async fn send<I>(
    io: I,
    req: Request<Full<Bytes>>,
    limit: usize,
) -> Result<(StatusCode, Bytes), OutError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| OutError::Unreachable(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| OutError::Unreachable(e.to_string()))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|_| {
                OutError::Unreachable(format!("the answer is over {limit} bytes or broke off"))
            })?
            .to_bytes();
        Ok((status, bytes))
    }
    .await;
    driver.abort();
    result
}

/// Mozilla's roots through rustls with ring.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, OutError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| OutError::Unreachable(format!("TLS setup: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POSTs a JSON `body` with `headers` to `url` under the network rule; the answer's status.
pub async fn post_json(
    policy: &NetworkPolicy,
    url: &str,
    headers: &[(String, String)],
    body: String,
    within: Duration,
) -> Result<StatusCode, OutError> {
    let remote = match policy.check_url(url).await {
        Ok(Checked::Remote(r)) => r,
        Ok(Checked::Local(_)) => return Err(OutError::Refused("is not an http(s) address".into())),
        Err(e) => return Err(OutError::Refused(e.to_string())),
    };
    let target = match remote.url.query() {
        Some(q) => format!("{}?{q}", remote.url.path()),
        None => remote.url.path().to_owned(),
    };
    let host = match remote.url.port() {
        Some(p) => format!("{}:{p}", remote.url.host_str().unwrap_or_default()),
        None => remote.url.host_str().unwrap_or_default().to_owned(),
    };
    let mut req = Request::post(target)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("embargo/", env!("CARGO_PKG_VERSION")),
        );
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| OutError::Refused(format!("does not make a valid request: {e}")))?;
    let (status, _) = tokio::time::timeout(within, exchange(&remote, req, 64 * 1024))
        .await
        .map_err(|_| {
            OutError::Unreachable(format!("no answer within {} seconds", within.as_secs()))
        })??;
    Ok(status)
}
