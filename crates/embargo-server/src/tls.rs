//! HTTPS: served here when `[server] tls_cert_file` and `tls_key_file` are set (rustls with
//! the ring provider the outgoing clients already use; TLS 1.2 and 1.3 only), and the
//! `Strict-Transport-Security` header on every answer that went over HTTPS, here or through a
//! trusted proxy.
//!
//! The TLS listener plugs into `axum::serve`, so graceful shutdown and the client's address
//! (`ConnectInfo`) work as on plain HTTP. Handshakes run in their own tasks, each with a time
//! limit, so that a slow or silent client holds up no one else.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use crate::{AppState, Config};

/// HSTS for a year, subdomains included (the value browsers' preload lists ask for).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";
/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; connections beyond are closed at once.
const MAX_HANDSHAKES: usize = 512;

/// The TLS settings from the configured certificate chain and key, or an error that names the
/// setting, the file and what is wrong with it.
pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, String> {
    let cert_name = format!("server.tls_cert_file {}", cert_file.display());
    let key_name = format!("server.tls_key_file {}", key_file.display());
    let certs = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("{cert_name}: {}", pem_error(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{cert_name}: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "{cert_name}: holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "{key_name}: {} (expected a PEM private key: PKCS#8, PKCS#1 or SEC1, unencrypted)",
            pem_error(&e)
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                format!("{key_name}: this key does not belong to the certificate in {cert_name}")
            }
            e => format!("{cert_name} with {key_name}: {e}"),
        })?;
    // axum here speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => format!("cannot read it: {io}"),
        Error::NoItemsFound => "holds nothing of the expected kind".into(),
        e => format!("is not valid PEM: {e:?}"),
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the open requests finish:
/// over TLS with `tls`, else plain HTTP.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(config) => {
            // `tap_io` gives the listener the `ConnectInfo<SocketAddr>` a TCP listener has.
            let listener = TlsListener::new(listener, config)?.tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// A TCP listener whose connections come out after a completed TLS handshake.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let tls = TlsAcceptor::from(config);
        let acceptor = tokio::spawn(async move {
            let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
            while !tx.is_closed() {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "too many TLS handshakes at once; connection closed");
                    continue;
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            local,
            ready,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task is gone (it never ends on its own): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Whether `req` reached Embargo over HTTPS: served here, or, when the public address is
/// `https`, through a trusted proxy that says so in `X-Forwarded-Proto` (from anyone else
/// the header is ignored).
pub fn over_https(config: &Config, req: &Request) -> bool {
    if config.server.serves_tls() {
        return true;
    }
    if !config.server.public_url.starts_with("https://") {
        return false;
    }
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    if !config.server.trusted.trusts(peer.ip()) {
        return false;
    }
    // The nearest proxy's word: the last value of the last header.
    req.headers()
        .get_all("x-forwarded-proto")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// Adds `Strict-Transport-Security` to every answer that goes over HTTPS (never over plain
/// HTTP, where browsers ignore it and it would only mislead).
pub async fn hsts(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let https = over_https(&st.config, &req);
    let mut resp = next.run(req).await;
    if https {
        resp.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let e = load(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        )
        .unwrap_err();
        assert!(
            e.contains("server.tls_cert_file /nonexistent/cert.pem"),
            "{e}"
        );
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn files_without_pem_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = load(&junk, &junk).unwrap_err();
        assert!(
            e.contains("server.tls_cert_file") && e.contains("junk.pem"),
            "{e}"
        );
    }
}
