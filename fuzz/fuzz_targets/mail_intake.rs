//! E-mail intake, every step that reads a message before the store is asked anything:
//! `mail-parser`'s reading of any bytes, the sender, the automatic-mail checks, the PGP/MIME
//! rebuild, the reply detection, the body, the quote cut and the attachments, as
//! `embargo_server::intake::receive` runs them. None may panic; the title is one line within
//! its limit.
#![no_main]

use std::cell::Cell;
use std::sync::{LazyLock, Once};

use embargo_domain::advisory::limits;
use embargo_domain::types::Email;
use embargo_server::config::Config;
use embargo_server::intake;
use libfuzzer_sys::fuzz_target;
use mail_parser::MimeHeaders;

static CONFIG: LazyLock<Config> = LazyLock::new(Config::default);

thread_local!(static CAUGHT: Cell<bool> = const { Cell::new(false) });
static HOOK: Once = Once::new();

/// `intake::parse_message`, which catches mail-parser's panics. libfuzzer-sys's panic hook
/// aborts on any panic, caught or not, so it is skipped for this call alone.
fn parse(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CAUGHT.get() {
                fuzzer_hook(info);
            }
        }));
    });
    CAUGHT.set(true);
    let msg = intake::parse_message(raw);
    CAUGHT.set(false);
    msg
}

fn read(msg: &mail_parser::Message<'_>) {
    let sender = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(|a| Email::parse(a).ok());
    if let Some(sender) = &sender {
        let _ = intake::automatic(msg, sender, &CONFIG);
    }
    let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let _ = embargo_server::openpgp::armored_block(&body);
    if intake::replied_to(msg).is_some() {
        let _ = intake::clip(&intake::without_quote(&body), limits::COMMENT);
    }
    let title = intake::one_line(msg.subject().unwrap_or_default(), limits::TITLE);
    assert!(title.chars().count() <= limits::TITLE);
    assert!(!title.contains(['\n', '\r']));
    for (i, p) in msg.attachments().enumerate() {
        let _ = (i, p.is_message(), p.attachment_name(), p.contents().len());
    }
    if body.chars().count() > limits::DESCRIPTION {
        let _ = intake::clip(&body, limits::DESCRIPTION - 200);
    }
}

fuzz_target!(|raw: &[u8]| {
    let Some(msg) = parse(raw) else {
        return;
    };
    read(&msg);
    if intake::is_pgp_mime(&msg) {
        for p in &msg.parts {
            if let Ok(text) = std::str::from_utf8(p.contents()) {
                let _ = embargo_server::openpgp::armored_block(text);
            }
        }
        // The decrypted entity is read under the outer headers: here the message's own body
        // stands in for what decryption would give.
        let inner = intake::rebuilt(&msg, msg.raw_message());
        if let Some(inner_msg) = parse(&inner) {
            read(&inner_msg);
        }
    }
});
