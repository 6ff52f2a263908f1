//! Reports by e-mail: one RFC 5322 message, as an MTA's pipe or a `.forward` hands it over,
//! parsed with `mail-parser` (never by hand). A new message becomes a report in triage
//! filed as its sender (confirmed by having written): the subject is the title, the text
//! part (or the HTML one turned to text) the description, the attachments are kept within
//! the size limit, and the sender gets the report's id and private link. A reply (matched by
//! `In-Reply-To`/`References`, a tag in the address (`security+EMB-…@`), or an id in a "Re:"
//! subject) is a comment by the report's reporter, never a new report. Auto-replies,
//! bounces, mailing-list traffic, Embargo's own messages and blocked senders are dropped,
//! never filed.
//!
//! The steps that read the message without the store are public for the fuzz target
//! (`fuzz/fuzz_targets/mail_intake.rs`).

use embargo_domain::advisory::{NewReport, limits};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{Email, Slug};
use embargo_store::{MailAttachment, MailIntake, Store, StoreError};
use mail_parser::{MessageParser, MimeHeaders};

use crate::config::Config;

/// The largest message taken (an MTA hands the whole message; attachments count).
pub const MAX_MESSAGE: usize = 25 * 1024 * 1024;

/// Reads one message for `org` (and `repo`, else the organisation's inbox).
pub async fn receive(
    store: &Store,
    config: &Config,
    org: &Slug,
    repo: Option<&Slug>,
    raw: &[u8],
) -> Result<MailIntake, StoreError> {
    let dropped = |why: &str| Ok(MailIntake::Dropped(why.to_owned()));
    if raw.len() > MAX_MESSAGE {
        return dropped(&format!(
            "the message is larger than {} MiB",
            MAX_MESSAGE / 1024 / 1024
        ));
    }
    let Some(msg) = parse_message(raw) else {
        return dropped("not an e-mail message");
    };
    let Some(sender) = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(|a| Email::parse(a).ok())
    else {
        return dropped("no sender address");
    };
    if let Some(why) = automatic(&msg, &sender, config) {
        return dropped(why);
    }
    // PGP/MIME (RFC 3156): the encrypted part holds the real message's MIME entity; it is
    // read as the message, under the outer headers.
    if is_pgp_mime(&msg) {
        let key = match org_key(store, org).await? {
            Ok(k) => k,
            Err(why) => return dropped(&why),
        };
        let Some(armored) = msg.parts.iter().find_map(|p| {
            std::str::from_utf8(p.contents())
                .ok()
                .and_then(crate::openpgp::armored_block)
                .map(str::to_owned)
        }) else {
            return dropped("an encrypted message without its OpenPGP part");
        };
        let plain = match crate::openpgp::decrypt(&key, &armored) {
            Ok(p) => p,
            Err(e) => return dropped(&e),
        };
        let inner = rebuilt(&msg, &plain);
        let Some(inner_msg) = parse_message(&inner) else {
            return dropped("the decrypted part is not a MIME entity");
        };
        return file_or_reply(store, config, org, repo, &inner_msg, &sender).await;
    }
    file_or_reply(store, config, org, repo, &msg, &sender).await
}

/// Reads a message with `mail-parser`, or `None`. Its 0.11 panics on some malformed
/// multipart messages (found by fuzzing: "Invalid part ID, could not find multipart"); such
/// a message is not one Embargo can read, never a crash of the intake.
pub fn parse_message(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .ok()
        .flatten()
}

/// Whether the message is PGP/MIME encrypted.
pub fn is_pgp_mime(msg: &mail_parser::Message<'_>) -> bool {
    msg.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("encrypted"))
    })
}

/// The organisation's key, or why there is none to decrypt with.
async fn org_key(
    store: &Store,
    org: &Slug,
) -> Result<Result<pgp::composed::SignedSecretKey, String>, StoreError> {
    let o = store.org(org).await?;
    Ok(match store.openpgp_key(o.id).await? {
        None => Err(format!(
            "the message is encrypted, but no OpenPGP key was imported for {org} (embargo keys openpgp import)"
        )),
        Some(armored) => crate::openpgp::parse_secret_key(&armored),
    })
}

/// The outer headers (but those about the content) over the decrypted MIME entity.
pub fn rebuilt(outer: &mail_parser::Message<'_>, entity: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in outer.headers_raw() {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("content-") || lower == "mime-version" {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b":");
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out.extend_from_slice(entity);
    out
}

/// A new report, or a reply, from a (decrypted) message.
async fn file_or_reply(
    store: &Store,
    config: &Config,
    org: &Slug,
    repo: Option<&Slug>,
    msg: &mail_parser::Message<'_>,
    sender: &Email,
) -> Result<MailIntake, StoreError> {
    let dropped = |why: &str| Ok(MailIntake::Dropped(why.to_owned()));
    let subject = msg.subject().unwrap_or_default();
    let mut body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    // Inline OpenPGP: the armored block in the text is replaced by what it says.
    if let Some(block) = crate::openpgp::armored_block(&body).map(str::to_owned) {
        let key = match org_key(store, org).await? {
            Ok(k) => k,
            Err(why) => return dropped(&why),
        };
        match crate::openpgp::decrypt(&key, &block) {
            Ok(plain) => body = body.replace(&block, &String::from_utf8_lossy(&plain)),
            Err(e) => return dropped(&e),
        }
    }
    if let Some(id) = replied_to(msg) {
        let text = without_quote(&body);
        if text.trim().is_empty() {
            return dropped(&format!("an empty reply about {id}"));
        }
        return store
            .reply_by_mail(sender, &id, &clip(&text, limits::COMMENT))
            .await;
    }
    let title = one_line(subject, limits::TITLE);
    let mut files: Vec<MailAttachment> = msg
        .attachments()
        .enumerate()
        .filter(|(_, p)| !p.is_message())
        .map(|(i, p)| MailAttachment {
            filename: p
                .attachment_name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("attachment-{}", i + 1)),
            bytes: p.contents().to_vec(),
        })
        .collect();
    // A description over the limit is kept whole as an attachment.
    let description = if body.chars().count() > limits::DESCRIPTION {
        files.push(MailAttachment {
            filename: "message.txt".into(),
            bytes: body.clone().into_bytes(),
        });
        format!(
            "{}\n\n[The message was longer than {} characters; it is attached whole as message.txt.]",
            clip(&body, limits::DESCRIPTION - 200),
            limits::DESCRIPTION
        )
    } else if body.trim().is_empty() {
        "(The message had no text; see its attachments.)".to_owned()
    } else {
        body
    };
    let report = NewReport {
        title: if title.is_empty() {
            "(no subject)".into()
        } else {
            title
        },
        description,
        cvss_vector: None,
        cvss_vectors: Vec::new(),
        cvss_score: None,
        cwe_ids: Vec::new(),
        vulnerabilities: Vec::new(),
    };
    let base = config.server.public_url.clone();
    store
        .file_by_mail(
            org,
            repo,
            sender,
            report,
            &files,
            config.attachments.max_bytes,
            |t| format!("{base}/r/{t}"),
        )
        .await
}

/// Why a message is automatic (and must not be filed or answered), if it is.
pub fn automatic(
    msg: &mail_parser::Message<'_>,
    sender: &Email,
    config: &Config,
) -> Option<&'static str> {
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if header("Auto-Submitted").is_some_and(|v| v != "no") {
        return Some("an automatic message (Auto-Submitted)");
    }
    if header("Precedence")
        .is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply"))
    {
        return Some("bulk or list mail (Precedence)");
    }
    if header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("List-Id").is_some()
    {
        return Some("an auto-reply or list message");
    }
    let local = sender.as_str().split('@').next().unwrap_or_default();
    if msg.return_address() == Some("") || header("Return-Path").is_some_and(|v| v == "<>") {
        return Some("a bounce (empty return path)");
    }
    if matches!(local, "mailer-daemon" | "postmaster")
        || msg.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("multipart")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
    {
        return Some("a bounce (delivery report)");
    }
    let ours = config
        .mail
        .from
        .rsplit_once('<')
        .map_or(config.mail.from.as_str(), |(_, a)| a.trim_end_matches('>'))
        .trim();
    if sender.as_str().eq_ignore_ascii_case(ours) {
        return Some("a loop: the message comes from this server's own address");
    }
    None
}

/// The report a message answers: an id in `In-Reply-To` or `References`, a tag in the
/// address it was sent to (`security+EMB-…@`), or an id in a subject that says it is a
/// reply.
pub fn replied_to(msg: &mail_parser::Message<'_>) -> Option<AdvisoryId> {
    let headers = [msg.in_reply_to(), msg.references()];
    let from_headers = headers
        .iter()
        .filter_map(|h| h.as_text_list())
        .flatten()
        .find_map(|v| find_id(v));
    if from_headers.is_some() {
        return from_headers;
    }
    let tagged = [msg.to(), msg.cc()]
        .into_iter()
        .flatten()
        .flat_map(mail_parser::Address::iter)
        .filter_map(mail_parser::Addr::address)
        .chain(
            msg.header_values("Delivered-To")
                .filter_map(mail_parser::HeaderValue::as_text),
        )
        .find_map(|address| {
            let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
            local.split_once('+').and_then(|(_, tag)| find_id(tag))
        });
    if tagged.is_some() {
        return tagged;
    }
    let subject = msg.subject()?.trim_start();
    let lower = subject.to_ascii_lowercase();
    (lower.starts_with("re:") || lower.starts_with("aw:") || lower.starts_with("sv:"))
        .then(|| find_id(subject))
        .flatten()
}

/// The first advisory id in a text.
fn find_id(text: &str) -> Option<AdvisoryId> {
    let upper = text.to_ascii_uppercase();
    upper.match_indices("EMB-").find_map(|(i, _)| {
        let candidate = text.get(i..i + "EMB-xxxx-xxxx-xxxx".len())?;
        AdvisoryId::parse(candidate).ok()
    })
}

/// A reply without the quoted message under it.
pub fn without_quote(body: &str) -> String {
    let mut out = Vec::new();
    for line in body.lines() {
        let t = line.trim_start();
        if t.starts_with('>') {
            continue;
        }
        if t.starts_with("On ") && t.trim_end().ends_with("wrote:") {
            break;
        }
        out.push(line);
    }
    out.join("\n").trim().to_owned()
}

/// `s` as one line of at most `max` characters (a subject as a title).
pub fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The first `max` characters of `s`.
pub fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/fuzz_targets/mail_intake.rs`: mail-parser 0.11 panics reading it.
    #[test]
    fn a_message_mail_parser_panics_on_is_not_read() {
        let raw = b"Content-Type:mUltipart;boundary=b1\n\n--b1Content-Type:message/rfc822\n\nContent-Type:message/rfc822\n\n\n--b1--";
        assert!(parse_message(raw).is_none());
        assert!(parse_message(b"From: a@example.org\r\nSubject: s\r\n\r\nok\r\n").is_some());
    }

    #[test]
    fn ids_in_tagged_addresses() {
        let parse = |raw: &str| {
            MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap()
                .into_owned()
        };
        for raw in [
            "From: a@example.org\r\nTo: Security <security+EMB-2222-3333-4444@coco.example>\r\nSubject: more\r\n\r\nok\r\n",
            "From: a@example.org\r\nTo: x@example.org\r\nCc: security+emb-2222-3333-4444@coco.example\r\nSubject: more\r\n\r\nok\r\n",
            "Delivered-To: security+EMB-2222-3333-4444@coco.example\r\nFrom: a@example.org\r\nTo: list@example.org\r\nSubject: more\r\n\r\nok\r\n",
        ] {
            assert_eq!(
                replied_to(&parse(raw)).map(|i| i.as_str().to_owned()),
                Some("EMB-2222-3333-4444".to_owned()),
                "{raw}"
            );
        }
        // An id elsewhere in the address, or no tag: a new report.
        for raw in [
            "From: a@example.org\r\nTo: EMB-2222-3333-4444@coco.example\r\nSubject: new\r\n\r\nok\r\n",
            "From: a@example.org\r\nTo: security+reports@coco.example\r\nSubject: new\r\n\r\nok\r\n",
        ] {
            assert!(replied_to(&parse(raw)).is_none(), "{raw}");
        }
    }

    #[test]
    fn ids_in_headers_and_reply_subjects() {
        let parse = |raw: &str| {
            MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap()
                .into_owned()
        };
        let m = parse(
            "From: a@example.org\r\nSubject: Re: [Embargo] Your private link to report EMB-2222-3333-4444\r\n\r\nok\r\n",
        );
        assert_eq!(replied_to(&m).unwrap().as_str(), "EMB-2222-3333-4444");
        let m = parse(
            "From: a@example.org\r\nSubject: Something like EMB-2222-3333-4444\r\n\r\nnew\r\n",
        );
        assert!(
            replied_to(&m).is_none(),
            "not a reply: a new report that names an id"
        );
        let m = parse(
            "From: a@example.org\r\nIn-Reply-To: <x.emb-2222-3333-4444@embargo>\r\nSubject: hello\r\n\r\nok\r\n",
        );
        assert_eq!(replied_to(&m).unwrap().as_str(), "EMB-2222-3333-4444");
        assert_eq!(
            without_quote("Thanks!\n\nOn Mon, 1 Dec 2026, Embargo wrote:\n> old text"),
            "Thanks!"
        );
    }
}
