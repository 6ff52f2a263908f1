//! One view of an advisory's page: the advisory, its thread and its trail read together,
//! with ONE access-log entry that names everything the view read.

use embargo_domain::access::{Action, Actor, Decision, decide};
use embargo_domain::advisory::Advisory;
use embargo_domain::ids::AdvisoryId;

use crate::{Authorized, Comment, EventRecord, Result, Store};

/// What one page view read, each part only when the rule allowed it.
pub struct AdvisoryView {
    pub advisory: Authorized<Advisory>,
    /// The thread, when the caller may read it.
    pub thread: Option<Vec<Comment>>,
    /// The events: the whole trail for who may read it (security managers); for the rest
    /// of the audience (who read the thread), those of what they may read anyway.
    pub events: Option<Vec<EventRecord>>,
}

impl Store {
    /// Reads an advisory for its page: the advisory (`NotFound` as [`Store::advisory`]), and
    /// its thread and events where the same rule allows them. An unpublished advisory's view
    /// is one access-log entry, `read`, whose detail lists the parts read beyond the advisory
    /// itself (`{"with": ["thread", "events"]}`), so no read goes unrecorded.
    pub async fn advisory_view(&self, actor: Actor, id: &AdvisoryId) -> Result<AdvisoryView> {
        let advisory = self.decided(actor, id, Action::Read, "read").await?;
        let may =
            |action| decide(advisory.relations(), action, advisory.get().state) == Decision::Allow;
        let (with_thread, with_events) = (may(Action::ReadThread), may(Action::ReadEvents));
        let mut parts = Vec::new();
        if with_thread {
            parts.push("thread");
        }
        if with_events {
            parts.push("events");
        }
        if !advisory.get().state.is_public() {
            // Recorded before anything is returned, as the single reads do.
            let detail = if parts.is_empty() {
                serde_json::json!({})
            } else {
                serde_json::json!({ "with": parts })
            };
            self.audit_append_shared(actor, "read", Some(id), detail)
                .await?;
        }
        let thread = if with_thread {
            Some(self.thread_of(&advisory).await?)
        } else {
            None
        };
        let events = if with_events {
            Some(self.events_of(id).await?)
        } else if with_thread {
            // The rest of the audience: the events of what the same rule lets them read.
            let p = advisory.permissions();
            Some(
                self.events_of(id)
                    .await?
                    .into_iter()
                    .filter(|e| audience_may_see(&e.kind, &p))
                    .collect(),
            )
        } else {
            None
        };
        Ok(AdvisoryView {
            advisory,
            thread,
            events,
        })
    }
}

/// Whether an event of `kind` is one for an audience member with permissions `p` who may
/// not read the whole trail: comments come from the thread (which leaves internal notes to
/// triagers), invitations only for who may see collaborators, files for who may read them.
/// (A report kept private says why on its page already, so that event is theirs too.)
fn audience_may_see(kind: &str, p: &embargo_domain::access::Permissions) -> bool {
    match kind {
        "commented" => false,
        "collaborator_invited"
        | "collaborator_accepted"
        | "collaborator_revoked"
        | "collaborator_expired" => p.can_read_collaborators,
        "attached" => p.can_read_attachments,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use embargo_domain::access::{Permissions, Relations};
    use embargo_domain::advisory::State;

    #[test]
    fn the_audience_sees_events_by_the_rule() {
        let reporter = Permissions::of(
            Relations {
                reporter: true,
                ..Relations::default()
            },
            State::Draft,
        );
        for kind in [
            "reported",
            "accepted",
            "closed",
            "embargo_changed",
            "disclosure_exempted",
        ] {
            assert!(super::audience_may_see(kind, &reporter), "{kind}");
        }
        assert!(!super::audience_may_see("commented", &reporter));
        assert_eq!(
            super::audience_may_see("collaborator_invited", &reporter),
            reporter.can_read_collaborators
        );
    }
}
