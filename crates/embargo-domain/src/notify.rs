//! The e-mail messages Embargo sends, composed from facts that are safe to mail.
//!
//! A message about an unpublished advisory carries its id, where it is filed, the title
//! only when the organisation's policy allows it, and a link: never the description,
//! comments, internal notes or attachments. Everything is plain text.

use crate::advisory::CloseReason;
use crate::ids::AdvisoryId;

/// What happened, as far as a message may say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A report was filed (to the triagers; no "watch" needed).
    NewReport,
    /// A report was moved to this repository (to its triagers).
    Transferred,
    /// Someone wrote in the thread. Internal notes go to triagers only.
    Reply {
        internal: bool,
    },
    Closed {
        reason: CloseReason,
    },
    Reopened,
    Published,
    /// Someone was invited to read the advisory (to the invitee).
    Invited,
    /// A closed report will be disclosed on a date (to the reporter).
    DisclosureScheduled {
        date: String,
    },
    /// A closed report was disclosed (to the reporter).
    Disclosed,
    /// The embargo's terms changed (to everyone in the audience): what happened, in words.
    EmbargoChanged {
        what: String,
    },
    /// The exploit is public or attacks are observed while an embargo runs (to the
    /// security managers): the embargo should end early.
    EmbargoAtRisk {
        why: String,
    },
}

/// Who a message goes to, which decides the link it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Triager,
    Reporter,
    /// A reporter without an account: links to the advisory page would ask them to sign in,
    /// so the message points them to their private link instead.
    ReporterWithoutAccount,
    Collaborator,
}

/// The facts of the advisory a message may carry.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub id: &'a AdvisoryId,
    /// `org/repo`, or `org` while it waits in the organisation's inbox.
    pub place: &'a str,
    /// Only when the organisation's policy puts titles in mail.
    pub title: Option<&'a str>,
    /// The server's public address, no trailing slash.
    pub base_url: &'a str,
}

/// A message ready for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Titles are user text: one line, bounded, in a subject.
pub fn one_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    line.trim().to_owned()
}

/// The message for `to` about `notice`.
pub fn compose(notice: &Notice, facts: &Facts<'_>, to: &str, audience: Audience) -> Message {
    let id = facts.id;
    let about = match facts.title {
        Some(t) => format!("{id} ({}): {}", facts.place, one_line(t)),
        None => format!("{id} ({})", facts.place),
    };
    let (subject, what) = match notice {
        Notice::NewReport => (
            format!("New report {about}"),
            format!("A new vulnerability report was filed in {}.", facts.place),
        ),
        Notice::Transferred => (
            format!("Report moved to {}: {about}", facts.place),
            format!(
                "A report was moved to {}, where you are a triager.",
                facts.place
            ),
        ),
        Notice::Reply { internal: true } => (
            format!("New internal note on {about}"),
            "A triager added an internal note (not shown to the reporter).".to_owned(),
        ),
        Notice::Reply { internal: false } => (
            format!("New reply on {about}"),
            "There is a new message in the thread.".to_owned(),
        ),
        Notice::Closed { reason } => (
            format!("Closed ({}): {about}", reason.label()),
            format!("The report was closed: {}.", reason.label()),
        ),
        Notice::Reopened => (
            format!("Reopened: {about}"),
            "The report was reopened and is being triaged again.".to_owned(),
        ),
        Notice::Published => (
            format!("Published: {about}"),
            "The advisory was published.".to_owned(),
        ),
        Notice::Invited => (
            format!("You were invited to {about}"),
            "You were invited to read an embargoed vulnerability report on a need-to-know \
             basis. Sign in (or create your account with the link the inviter gave you) and \
             accept the invitation under Invitations."
                .to_owned(),
        ),
        Notice::Disclosed => (
            format!("Disclosed: {about}"),
            "Following the organisation's policy, this closed report and its thread (without \
             internal notes) are now public."
                .to_owned(),
        ),
        Notice::DisclosureScheduled { date } => (
            format!("To be disclosed on {date}: {about}"),
            format!(
                "Following the organisation's policy, this closed report and its thread \
                 (without internal notes) will be made public on {date}."
            ),
        ),
        Notice::EmbargoChanged { what } => (
            format!("Embargo: {about}"),
            format!("The embargo changed: {what}."),
        ),
        Notice::EmbargoAtRisk { why } => (
            format!("End the embargo early? {about}"),
            format!(
                "The case now says {why} while the embargo runs. An embargo protects nobody \
                 then: consider ending it now and publishing."
            ),
        ),
    };
    let link = match (audience, notice) {
        (Audience::ReporterWithoutAccount, _) => {
            "Open the private link you received when you confirmed your report.".to_owned()
        }
        (_, Notice::Invited) => format!("{}/invitations", facts.base_url),
        _ => format!("{}/advisories/{id}", facts.base_url),
    };
    let body = format!(
        "{what}\n\n{link}\n\nThis message names the report only; read it in Embargo. \
         Do not forward this message: the report is under embargo until it is published.\n"
    );
    Message {
        to: to.to_owned(),
        subject: format!("[Embargo] {subject}"),
        body,
    }
}

/// The invitation of someone without an account: the link creates it and accepts.
pub fn invitation_signup(facts: &Facts<'_>, to: &str, link: &str) -> Message {
    let id = facts.id;
    let about = match facts.title {
        Some(t) => format!("{id} ({}): {}", facts.place, one_line(t)),
        None => format!("{id} ({})", facts.place),
    };
    Message {
        to: to.to_owned(),
        subject: format!("[Embargo] You were invited to {about}"),
        body: format!(
            "You were invited to read an embargoed vulnerability report on a need-to-know \
             basis. Create your account with this link; it works once, and accepts the \
             invitation:\n\n{link}\n\nThis message names the report only; read it in Embargo. \
             Do not forward this message: the link is yours, and the report is under embargo \
             until it is published.\n"
        ),
    }
}

/// The confirmation message of a report filed without an account.
pub fn confirmation(to: &str, place: &str, link: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: format!("[Embargo] Confirm your report to {place}"),
        body: format!(
            "Someone, hopefully you, filed a vulnerability report to {place} with this address.\n\n\
             Confirm it here (the link works once and expires):\n{link}\n\n\
             Until you confirm it, nobody sees the report. If it was not you, ignore this message.\n"
        ),
    }
}

/// The private link of a confirmed report filed without an account.
pub fn private_link(to: &str, id: &AdvisoryId, link: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: format!("[Embargo] Your private link to report {id}"),
        body: format!(
            "Your report {id} is confirmed and waits for the triagers.\n\n\
             Read and answer its thread at your private link. Keep it secret: whoever has it can \
             read the report.\n{link}\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_no_more_than_the_facts() {
        let id = AdvisoryId::from_random([1; 12]);
        let facts = Facts {
            id: &id,
            place: "coco/guest",
            title: None,
            base_url: "https://e.example",
        };
        let m = compose(
            &Notice::NewReport,
            &facts,
            "sm@example.org",
            Audience::Triager,
        );
        assert_eq!(m.subject, format!("[Embargo] New report {id} (coco/guest)"));
        assert!(
            m.body
                .contains(&format!("https://e.example/advisories/{id}"))
        );
        let titled = Facts {
            title: Some("Overflow\r\nBcc: x@example.org"),
            ..facts.clone()
        };
        let m = compose(
            &Notice::Reply { internal: false },
            &titled,
            "r@example.org",
            Audience::ReporterWithoutAccount,
        );
        assert!(!m.subject.contains('\n') && m.subject.contains("Overflow  Bcc"));
        assert!(m.body.contains("private link") && !m.body.contains("/advisories/"));
    }
}
