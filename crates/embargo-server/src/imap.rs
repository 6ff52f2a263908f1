//! The IMAP intake: the `imap_intake` job reads each organisation's mailbox (its settings:
//! [`embargo_store::ImapIntake`]) and hands every message to [`crate::intake::receive`], as
//! `embargo intake mail` does for a message on standard input.
//!
//! The connection obeys the network rule: the address is checked
//! ([`NetworkPolicy::check_mail_server`]) and only the checked addresses are dialled; TLS
//! (implicit, or STARTTLS, never skipped unless the host is listed in `[network] allow`)
//! verifies the host name with Mozilla's roots, as [`crate::http_out`] does, and with the
//! certificates the administrator added in `[mail] imap_ca_file` (a private CA, or a mail
//! server's own certificate).
//!
//! Once only: a message is claimed in the store (by the SHA-256 of its bytes) before it is
//! read, its outcome is written after, and only then is it moved out of the folder (to
//! `Embargo/Taken`, or `Embargo/Dropped`). A message found again with an outcome (the job
//! died before moving it) is only moved; one found claimed without an outcome (the job died,
//! or the store failed, while reading it: it may or may not have been filed) is never read
//! again but set aside in `Embargo/Unfinished` for a person to look at. So nothing is filed
//! twice and nothing leaves the mailbox unread.

use std::collections::HashSet;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use embargo_store::{ImapClaim, ImapIntake, ImapTls, MailIntake, Store};
use futures_util::TryStreamExt;
use mail_parser::MessageParser;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::config::Config;
use crate::intake::MAX_MESSAGE;
use crate::net::{NetError, NetworkPolicy, Remote};

/// How long connecting may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
/// How long one mailbox may take, all its messages included.
const POLL_LIMIT: Duration = Duration::from_secs(300);
/// At most this many messages per mailbox and run (the next run takes the rest).
const PER_RUN: usize = 50;

/// The folders taken messages go to (under the server's hierarchy separator).
const TAKEN: &str = "Taken";
const DROPPED: &str = "Dropped";
const UNFINISHED: &str = "Unfinished";

trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}
type Stream = Box<dyn Io>;

/// What one run did, over every mailbox.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollRun {
    pub filed: usize,
    pub comments: usize,
    pub dropped: usize,
    /// Found claimed but without an outcome, and set aside.
    pub unfinished: usize,
}

/// Reads every organisation's mailbox once. One mailbox failing does not stop the others;
/// the error names each that failed (never a password).
pub async fn poll_all(
    store: &Store,
    network: &NetworkPolicy,
    config: Option<&Config>,
) -> Result<PollRun, String> {
    let intakes = store.imap_intakes().await.map_err(|e| e.to_string())?;
    let mut run = PollRun::default();
    if intakes.is_empty() {
        return Ok(run);
    }
    let config = config.ok_or("the IMAP intake needs the server's settings")?;
    let trusted = trusted_certificates(&config.mail.imap_ca_file)?;
    let mut errors = Vec::new();
    for (org_id, org, settings) in intakes {
        let mailbox = Mailbox {
            store,
            config,
            trusted: &trusted,
            org_id,
            org: &org,
            settings: &settings,
        };
        let result = tokio::time::timeout(POLL_LIMIT, mailbox.poll(network, &mut run))
            .await
            .unwrap_or_else(|_| Err(format!("not done within {} seconds", POLL_LIMIT.as_secs())));
        if let Err(e) = result {
            errors.push(format!(
                "IMAP intake of {org} ({} as {}): {e}",
                settings.url, settings.user
            ));
        }
    }
    if errors.is_empty() {
        Ok(run)
    } else {
        Err(errors.join("; "))
    }
}

struct Mailbox<'a> {
    store: &'a Store,
    config: &'a Config,
    /// Certificates trusted besides Mozilla's roots.
    trusted: &'a [CertificateDer<'static>],
    org_id: i64,
    org: &'a embargo_domain::types::Slug,
    settings: &'a ImapIntake,
}

impl Mailbox<'_> {
    async fn poll(&self, network: &NetworkPolicy, run: &mut PollRun) -> Result<(), String> {
        let mut session = connect(network, self.settings, self.trusted).await?;
        let result = self.take_all(&mut session, run).await;
        // Signing out is a courtesy; what was taken is recorded already.
        let _ = session.logout().await;
        result
    }

    async fn take_all(
        &self,
        session: &mut Session<Stream>,
        run: &mut PollRun,
    ) -> Result<(), String> {
        let mover = Mover::new(session).await?;
        session
            .select(&self.settings.folder)
            .await
            .map_err(|e| format!("opening folder '{}': {e}", self.settings.folder))?;
        let mut uids: Vec<u32> = session
            .uid_search("ALL")
            .await
            .map_err(|e| format!("listing the messages: {e}"))?
            .into_iter()
            .collect();
        uids.sort_unstable();
        uids.truncate(PER_RUN);
        let mut mover = mover;
        for uid in uids {
            self.take(session, &mut mover, uid, run).await?;
        }
        Ok(())
    }

    /// Takes one message: claim, receive, record, move.
    async fn take(
        &self,
        session: &mut Session<Stream>,
        mover: &mut Mover,
        uid: u32,
        run: &mut PollRun,
    ) -> Result<(), String> {
        let size = fetch_one(session, uid, "(UID RFC822.SIZE)")
            .await?
            .and_then(|f| f.size);
        let Some(size) = size else {
            return Ok(()); // gone meanwhile
        };
        if usize::try_from(size).unwrap_or(usize::MAX) > MAX_MESSAGE {
            // Never read, so never filed: it can be moved as often as it takes.
            tracing::info!(org = %self.org, uid, size, "IMAP intake: dropped a message over the size limit");
            run.dropped += 1;
            return mover.to(session, uid, DROPPED).await;
        }
        let Some(raw) = fetch_one(session, uid, "(UID BODY.PEEK[])")
            .await?
            .and_then(|f| f.body().map(<[u8]>::to_vec))
        else {
            return Ok(());
        };
        let digest = hex(&Sha256::digest(&raw));
        let message_id = MessageParser::default()
            .parse_headers(&raw)
            .and_then(|m| m.message_id().map(str::to_owned));
        let claim = self
            .store
            .imap_claim(self.org_id, &digest, message_id.as_deref())
            .await
            .map_err(|e| format!("recording a taken message: {e}"))?;
        let folder = match claim {
            ImapClaim::New => {
                let received = crate::intake::receive(
                    self.store,
                    self.config,
                    self.org,
                    self.settings.repo.as_ref(),
                    &raw,
                )
                .await
                .map_err(|e| {
                    format!("storing a message (it is set aside in Embargo/Unfinished): {e}")
                })?;
                let (outcome, folder) = match received {
                    MailIntake::Filed { confirmed, notes } => {
                        run.filed += 1;
                        for n in notes {
                            tracing::info!(org = %self.org, id = %confirmed.id, "{n}");
                        }
                        (format!("filed {}", confirmed.id), TAKEN)
                    }
                    MailIntake::Comment(id) => {
                        run.comments += 1;
                        (format!("comment on {id}"), TAKEN)
                    }
                    MailIntake::Dropped(why) => {
                        run.dropped += 1;
                        (format!("dropped: {why}"), DROPPED)
                    }
                };
                tracing::info!(org = %self.org, uid, message_id = ?message_id, "IMAP intake: {outcome}");
                self.store
                    .imap_taken(self.org_id, &digest, &outcome)
                    .await
                    .map_err(|e| format!("recording a taken message: {e}"))?;
                folder
            }
            ImapClaim::Done(outcome) => {
                if outcome.starts_with("dropped") {
                    DROPPED
                } else {
                    TAKEN
                }
            }
            ImapClaim::Unfinished => {
                run.unfinished += 1;
                tracing::warn!(org = %self.org, uid, message_id = ?message_id, "IMAP intake: a message whose reading was cut short is set aside in Embargo/Unfinished: check whether it was filed");
                UNFINISHED
            }
        };
        mover.to(session, uid, folder).await
    }
}

/// Moves messages into `Embargo/…` folders, creating each the first time.
struct Mover {
    separator: String,
    can_move: bool,
    known: HashSet<String>,
}

impl Mover {
    async fn new(session: &mut Session<Stream>) -> Result<Self, String> {
        let names: Vec<_> = session
            .list(Some(""), Some(""))
            .await
            .map_err(|e| format!("reading the folder separator: {e}"))?
            .try_collect()
            .await
            .map_err(|e| format!("reading the folder separator: {e}"))?;
        let separator = names
            .iter()
            .find_map(|n| n.delimiter())
            .unwrap_or("/")
            .to_owned();
        let can_move = session
            .capabilities()
            .await
            .map_err(|e| format!("reading the server's capabilities: {e}"))?
            .has_str("MOVE");
        Ok(Self {
            separator,
            can_move,
            known: HashSet::new(),
        })
    }

    async fn to(
        &mut self,
        session: &mut Session<Stream>,
        uid: u32,
        leaf: &str,
    ) -> Result<(), String> {
        let folder = format!("Embargo{}{leaf}", self.separator);
        if !self.known.contains(&folder) {
            let found: Vec<_> = session
                .list(Some(""), Some(&folder))
                .await
                .map_err(|e| format!("looking for folder {folder}: {e}"))?
                .try_collect()
                .await
                .map_err(|e| format!("looking for folder {folder}: {e}"))?;
            if found.is_empty() {
                session
                    .create(&folder)
                    .await
                    .map_err(|e| format!("creating folder {folder}: {e}"))?;
            }
            self.known.insert(folder.clone());
        }
        let set = uid.to_string();
        let moved = if self.can_move {
            session.uid_mv(&set, &folder).await
        } else {
            // Without MOVE (RFC 6851): copy, mark deleted, expunge.
            async {
                session.uid_copy(&set, &folder).await?;
                session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await?;
                session.expunge().await?.try_collect::<Vec<_>>().await?;
                Ok::<_, async_imap::error::Error>(())
            }
            .await
        };
        moved.map_err(|e| format!("moving a message to {folder}: {e}"))
    }
}

/// One message's `FETCH` answer.
async fn fetch_one(
    session: &mut Session<Stream>,
    uid: u32,
    query: &str,
) -> Result<Option<async_imap::types::Fetch>, String> {
    let fetched: Vec<_> = session
        .uid_fetch(uid.to_string(), query)
        .await
        .map_err(|e| format!("fetching a message: {e}"))?
        .try_collect()
        .await
        .map_err(|e| format!("fetching a message: {e}"))?;
    Ok(fetched.into_iter().find(|f| f.uid == Some(uid)))
}

/// Connects to the checked server and signs in.
async fn connect(
    network: &NetworkPolicy,
    s: &ImapIntake,
    trusted: &[CertificateDer<'static>],
) -> Result<Session<Stream>, String> {
    let remote = network
        .check_mail_server(&s.url)
        .await
        .map_err(|e| match e {
            NetError::Refused => "the address is outside the network rule (a public host, or one listed in [network] allow)".to_owned(),
            other => other.to_string(),
        })?;
    if s.tls == ImapTls::None && !network.lists_remote(&remote) {
        return Err("IMAP without TLS is only allowed to a host listed in [network] allow".into());
    }
    let tcp = dial(&remote).await?;
    let stream: Stream = match s.tls {
        ImapTls::Implicit => Box::new(tls(&remote, tcp, trusted).await?),
        ImapTls::Starttls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| format!("the server refused STARTTLS: {e}"))?;
            Box::new(tls(&remote, plain.into_inner(), trusted).await?)
        }
        ImapTls::None => Box::new(tcp),
    };
    let mut client = Client::new(stream);
    if s.tls != ImapTls::Starttls {
        greeting(&mut client).await?;
    }
    client
        .login(&s.user, &s.password)
        .await
        .map_err(|(e, _)| format!("signing in as {} failed: {e}", s.user))
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
    client: &mut Client<T>,
) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_LIMIT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err("the server closed the connection".into()),
        Ok(Err(e)) => Err(format!("reading the greeting: {}", e.kind())),
        Err(_) => Err("no greeting from the server".into()),
    }
}

/// The first checked address that answers.
async fn dial(remote: &Remote) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for ip in &remote.addrs {
        match tokio::time::timeout(
            CONNECT_LIMIT,
            TcpStream::connect(SocketAddr::new(*ip, remote.port)),
        )
        .await
        {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = e.kind().to_string(),
            Err(_) => last = "the connection timed out".into(),
        }
    }
    Err(format!("connecting failed: {last}"))
}

/// The certificates of `[mail] imap_ca_file` (none when it is empty).
fn trusted_certificates(file: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if file.is_empty() {
        return Ok(Vec::new());
    }
    let what = |e: &dyn std::fmt::Display| format!("[mail] imap_ca_file {file}: {e}");
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| what(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| what(&e))?;
    if certs.is_empty() {
        return Err(what(
            &"holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// TLS over `tcp`, verifying the host name with Mozilla's roots and the `trusted`
/// certificates (rustls with ring).
async fn tls(
    remote: &Remote,
    tcp: TcpStream,
    trusted: &[CertificateDer<'static>],
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = match (&remote.name, remote.addrs.first()) {
        (Some(n), _) => rustls::pki_types::ServerName::try_from(n.clone())
            .map_err(|_| "the host name cannot be verified by TLS".to_owned())?,
        (None, Some(ip)) => rustls::pki_types::ServerName::IpAddress((*ip).into()),
        (None, None) => return Err("no address".into()),
    };
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for c in trusted {
        roots
            .add(c.clone())
            .map_err(|e| format!("[mail] imap_ca_file: a certificate cannot be used: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio::time::timeout(
        CONNECT_LIMIT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| "TLS timed out".to_owned())?
    .map_err(|e| {
        let untrusted = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .is_some_and(|i| matches!(i, rustls::Error::InvalidCertificate(_)));
        if untrusted {
            format!(
                "TLS failed: the server's certificate is not trusted ({e}); if it is signed by your own CA, an administrator can add that CA to [mail] imap_ca_file"
            )
        } else {
            format!("TLS failed: {e}")
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
