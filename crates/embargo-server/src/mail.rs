//! Delivery of queued messages: over SMTP (`mail.smtp_url`), or, with no relay configured,
//! as RFC 5322 files in `<data dir>/outbox/`, so a fresh install shows what it would send.

use std::path::PathBuf;

use embargo_store::{QueuedMail, Store};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// Where messages go.
pub enum Transport {
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    Outbox(PathBuf),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    /// The mailer the settings describe; a readable error for a bad URL or sender.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let from: Mailbox =
            config.mail.from.parse().map_err(|e| {
                format!("mail.from: '{}' is not an address ({e})", config.mail.from)
            })?;
        let transport = if config.mail.smtp_url.is_empty() {
            Transport::Outbox(config.data_dir.join("outbox"))
        } else {
            let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.mail.smtp_url)
                .map_err(|e| format!("mail.smtp_url: {e}"))?
                .timeout(Some(std::time::Duration::from_secs(30)))
                .build();
            Transport::Smtp(Box::new(t))
        };
        Ok(Self { transport, from })
    }

    fn message(&self, m: &QueuedMail) -> Result<Message, String> {
        let to: Mailbox =
            m.to.parse()
                .map_err(|e| format!("recipient is not an address ({e})"))?;
        let builder = Message::builder().from(self.from.clone()).to(to);
        let builder = match encoded_subject(&m.subject)? {
            Some(h) => builder.raw_header(h),
            None => builder.subject(m.subject.clone()),
        };
        // RFC 2369 and RFC 8058: a list member's mail client offers one-click unsubscribe.
        let builder = match &m.unsubscribe_url {
            Some(url) => builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                )),
            None => builder,
        };
        builder
            // RFC 3834: an automatic message, so that auto-responders (and Embargo's own
            // intake, should one come back) do not answer it.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ))
            .header(ContentType::TEXT_PLAIN)
            // lettre picks the transfer encoding: 7bit, or quoted-printable for long lines.
            .body(m.body.clone())
            .map_err(|e| e.to_string())
    }

    /// Delivers one message.
    pub async fn send(&self, m: &QueuedMail) -> Result<(), String> {
        let msg = self.message(m)?;
        match &self.transport {
            Transport::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
            Transport::Outbox(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("{:010}.eml", m.id));
                std::fs::write(&path, msg.formatted())
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }
}

/// The `Subject` header, when lettre's own would not show exactly the text given: lettre
/// leaves ASCII words as they are, so a title typed as `=?utf-8?b?...?=` would reach the
/// reader decoded, as text nobody typed. Such a subject is sent whole as RFC 2047 encoded
/// words, which decode to what was typed.
fn encoded_subject(subject: &str) -> Result<Option<HeaderValue>, String> {
    if !subject.contains("=?") {
        return Ok(None);
    }
    let mut encoded = String::new();
    {
        let mut w = email_encoding::headers::writer::EmailWriter::new(
            &mut encoded,
            "Subject: ".len(),
            0,
            false,
        );
        email_encoding::headers::rfc2047::encode(subject, &mut w).map_err(|e| e.to_string())?;
    }
    Ok(Some(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("Subject"),
        subject.to_owned(),
        encoded,
    )))
}

/// One round: new events become messages, due messages are delivered. Returns how many
/// were delivered.
pub async fn deliver(store: &Store, mailer: &Mailer, base_url: &str) -> usize {
    match store.notify(base_url).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(n, "queued messages"),
        Err(e) => tracing::warn!(error = %e, "making messages from events failed"),
    }
    let mut delivered = 0;
    loop {
        let batch = match store.claim_mail(20).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "reading the mail queue failed");
                return delivered;
            }
        };
        if batch.is_empty() {
            return delivered;
        }
        for m in &batch {
            // Logs name the queue entry, never the recipient or the subject.
            let result = match mailer.send(m).await {
                Ok(()) => {
                    delivered += 1;
                    store.mail_sent(m.id).await
                }
                Err(e) => {
                    tracing::warn!(mail_id = m.id, attempts = m.attempts + 1, error = %e, "sending a message failed");
                    store.mail_failed(m.id, m.attempts, &e).await
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "recording a delivery failed");
                return delivered;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject_as_read(mailer: &Mailer, subject: &str) -> String {
        let m = QueuedMail {
            id: 1,
            to: "someone@example.org".into(),
            subject: subject.into(),
            body: "text".into(),
            attempts: 0,
            unsubscribe_url: None,
        };
        let raw = mailer.message(&m).unwrap().formatted();
        let parsed = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("the message parses");
        parsed.subject().unwrap_or_default().to_owned()
    }

    /// Every message says it is automatic (RFC 3834); a list member's offers one-click
    /// unsubscribe (RFC 2369, RFC 8058).
    #[test]
    fn automatic_and_list_headers() {
        let mailer = Mailer {
            transport: Transport::Outbox(std::env::temp_dir()),
            from: "embargo@example.org".parse().unwrap(),
        };
        let mut m = QueuedMail {
            id: 1,
            to: "fan@example.org".into(),
            subject: "s".into(),
            body: "b".into(),
            attempts: 0,
            unsubscribe_url: None,
        };
        let plain = String::from_utf8(mailer.message(&m).unwrap().formatted()).unwrap();
        assert!(plain.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(!plain.contains("List-Unsubscribe"));
        m.unsubscribe_url = Some("https://e.example/subscriptions/t/unsubscribe".into());
        let list = String::from_utf8(mailer.message(&m).unwrap().formatted()).unwrap();
        assert!(
            list.contains("List-Unsubscribe: <https://e.example/subscriptions/t/unsubscribe>\r\n")
        );
        assert!(list.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
    }

    /// What a mail reader shows is what was typed, even when the title is itself an
    /// encoded word (here `Bcc: evil@example.org` in base64).
    #[test]
    fn subjects_show_what_was_typed() {
        let mailer = Mailer {
            transport: Transport::Outbox(std::env::temp_dir()),
            from: "embargo@example.org".parse().unwrap(),
        };
        for typed in [
            "New report EMB-1 (org/repo): =?utf-8?b?QmNjOiBldmlsQGV4YW1wbGUub3Jn?=",
            "=?utf-8?q?Bcc=3A_x?= and =?ISO-8859-1?B?SGk=?=",
            "Grüße =?utf-8?b?eA==?= ünd a long tail that goes on and on and on past the fold of seventy-eight characters",
            "Plain ASCII title",
            "Schöne Grüße",
        ] {
            assert_eq!(subject_as_read(&mailer, typed), typed);
        }
    }
}
