//! The one access rule. Every decision about who may do what to which advisory or
//! organisation is taken here; the store calls it inside every read and write, and list
//! queries apply it to every row they return.
//!
//! Site administrators create organisations and name their people; they get no access to
//! advisories by being administrators (need-to-know).

use serde::Serialize;

use crate::advisory::State;
use crate::ids::AdvisoryKey;
use crate::types::OrgRole;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    User {
        id: i64,
        admin: bool,
    },
    /// Whoever holds a reporter's private link (`/r/{token}`): the reporter of that one
    /// report and nothing more, whatever accounts the reporter's address has. `user` is the
    /// account the report was filed as (the author of what the link writes); `advisory` the
    /// report the link opens. Made from a link that is not revoked, for one request.
    ReporterLink {
        user: i64,
        advisory: AdvisoryKey,
    },
    /// Embargo itself, doing scheduled work: it acts through the same change path and
    /// checks as a person, and events and the access log name the task.
    System(SystemTask),
}

/// Work Embargo does by itself, on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemTask {
    /// Publishing an advisory marked ready when its embargo ends, and ending the embargo.
    ScheduledPublication,
    /// Disclosing a closed report under the organisation's policy.
    Disclosure,
    /// Recording that an invitation ran out.
    InvitationExpiry,
    /// Recording the releases read from repositories' upstreams.
    ReleaseWatch,
    /// Running a fix repository's checks, pushing its fix to the upstream on publication,
    /// and removing it after the retention period.
    FixRepository,
}

impl SystemTask {
    /// How events and the access log name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::ScheduledPublication => "scheduled publication",
            Self::Disclosure => "disclosure policy",
            Self::InvitationExpiry => "invitation expiry",
            Self::ReleaseWatch => "release watch",
            Self::FixRepository => "fix repository upkeep",
        }
    }

    /// The actions the task may take, and nothing else.
    fn may(self, action: Action) -> bool {
        match self {
            Self::ScheduledPublication => {
                matches!(action, Action::Publish | Action::NegotiateEmbargo)
            }
            Self::Disclosure => action == Action::Disclose,
            Self::InvitationExpiry | Self::ReleaseWatch | Self::FixRepository => false,
        }
    }
}

impl Actor {
    /// Who is writing: the author of comments and events.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::Anonymous | Self::System(_) => None,
            Self::User { id, .. } => Some(*id),
            Self::ReporterLink { user, .. } => Some(*user),
        }
    }

    /// The signed-in account whose roles and memberships count; `None` for the public and
    /// for a private link, which carries no role.
    pub fn account_id(&self) -> Option<i64> {
        match self {
            Self::User { id, .. } => Some(*id),
            Self::Anonymous | Self::ReporterLink { .. } | Self::System(_) => None,
        }
    }

    /// The scheduled task acting, if it is one.
    pub fn system_task(&self) -> Option<SystemTask> {
        match self {
            Self::System(t) => Some(*t),
            _ => None,
        }
    }
}

/// How an actor stands to one advisory. Computed by the store from memberships.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Relations {
    pub reporter: bool,
    pub maintainer: bool,
    pub security_manager: bool,
    pub steering_committee: bool,
    /// Invited to this one advisory, accepted, not revoked, not expired.
    pub collaborator: bool,
    /// That invitation lets the collaborator push to the advisory's fix repository.
    pub collaborator_writes: bool,
    /// A security manager or steering committee member whose organisation requires
    /// two-factor sign-in, which they have not turned on: the role does not count until then.
    pub needs_two_factor: bool,
}

impl Relations {
    /// The audience of an unpublished advisory.
    pub fn in_audience(&self) -> bool {
        self.reporter
            || self.maintainer
            || self.security_manager
            || self.steering_committee
            || self.collaborator
    }

    /// Triagers answer reports: their first reply stops the response clock.
    pub fn is_triager(&self) -> bool {
        self.maintainer || self.security_manager || self.steering_committee
    }
}

/// What can be done to an advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See the advisory itself (for the public: its published fields only).
    Read,
    /// See the private thread (comments) and the report's tracking (reporter, deadline).
    ReadThread,
    Comment,
    /// Change the report's or draft's fields.
    Edit,
    Accept,
    Close,
    Reopen,
    Publish,
    Withdraw,
    /// Read the advisory's audit trail of events and its access log.
    ReadEvents,
    /// Invite collaborators to the advisory.
    Invite,
    /// End a collaborator's invitation.
    Revoke,
    /// Read and write the triagers' internal notes.
    InternalNotes,
    /// Move to another repository of the organisation (or assign one).
    Transfer,
    /// Keep a closed report from being disclosed under the organisation's policy.
    ExemptFromDisclosure,
    /// See who is invited to the advisory (names, addresses, organisations): the audience
    /// only, even once a closed report is disclosed.
    ReadCollaborators,
    /// Read the files attached to it (proofs of concept): the audience only, even once a
    /// closed report is disclosed.
    ReadAttachments,
    /// Attach a file.
    Attach,
    /// Propose, accept, reject or end an embargo (the organisation's triagers, and invited
    /// downstream participants for their organisation).
    NegotiateEmbargo,
    /// Set one of the case's flags (vendor aware, fix ready, ...).
    SetCaseFlag,
    /// Mark the advisory ready to publish itself when its embargo ends.
    MarkReady,
    /// Make a closed report public under the organisation's policy (scheduled work only).
    Disclose,
    /// Give the draft (or, late, the published advisory) a CVE id from the organisation's
    /// numbering: reserved from CVE Services, the next of its block, or entered by hand.
    RequestCve,
    /// Clone and fetch the advisory's private fix repository: its audience.
    FetchFix,
    /// Push to the fix repository, and report check statuses on its commits: maintainers,
    /// security managers, and collaborators invited with write access; before publication.
    PushFix,
    /// Create the fix repository and change its settings (check command, push to the
    /// upstream on publication): maintainers and security managers.
    ManageFix,
}

impl Action {
    pub const ALL: [Action; 26] = [
        Action::Read,
        Action::ReadThread,
        Action::Comment,
        Action::Edit,
        Action::Accept,
        Action::Close,
        Action::Reopen,
        Action::Publish,
        Action::Withdraw,
        Action::ReadEvents,
        Action::Invite,
        Action::Revoke,
        Action::InternalNotes,
        Action::Transfer,
        Action::ExemptFromDisclosure,
        Action::ReadCollaborators,
        Action::ReadAttachments,
        Action::Attach,
        Action::NegotiateEmbargo,
        Action::SetCaseFlag,
        Action::MarkReady,
        Action::Disclose,
        Action::RequestCve,
        Action::FetchFix,
        Action::PushFix,
        Action::ManageFix,
    ];

    /// The states in which the action makes sense at all, whoever asks.
    pub fn allowed_in(self, state: State) -> bool {
        use State::*;
        match self {
            Action::Read
            | Action::ReadThread
            | Action::ReadEvents
            | Action::Revoke
            | Action::InternalNotes
            | Action::ReadCollaborators
            | Action::ReadAttachments
            | Action::FetchFix => true,
            // The fix repository is read-only once the advisory is public or closed.
            Action::PushFix | Action::ManageFix => matches!(state, Triage | Draft),
            // A disclosed thread is a public record: nobody writes in it any more.
            Action::Comment | Action::Attach => state != Disclosed,
            // Embargoes are negotiated before publication.
            Action::NegotiateEmbargo => matches!(state, Triage | Draft),
            Action::SetCaseFlag => matches!(state, Triage | Draft | Published),
            Action::MarkReady => state == Draft,
            Action::RequestCve => matches!(state, Draft | Published),
            Action::Disclose => state == Closed,
            Action::ExemptFromDisclosure => state == Closed,
            // A published advisory is corrected by public revisions (each in its change log).
            Action::Edit => matches!(state, Triage | Draft | Published),
            Action::Accept => state == Triage,
            Action::Close => matches!(state, Triage | Draft),
            Action::Reopen => state == Closed,
            Action::Publish => state == Draft,
            Action::Withdraw => state == Published,
            // Need-to-know sharing is for the embargo, before publication.
            Action::Invite | Action::Transfer => matches!(state, Triage | Draft),
        }
    }

    /// Whether the relations allow the action, in a state where it makes sense.
    fn role_may(self, rel: Relations) -> bool {
        match self {
            Action::Read => true,
            Action::ReadThread
            | Action::Comment
            | Action::ReadCollaborators
            | Action::ReadAttachments
            | Action::Attach
            | Action::FetchFix => rel.in_audience(),
            Action::PushFix => {
                rel.maintainer
                    || rel.security_manager
                    || (rel.collaborator && rel.collaborator_writes)
            }
            Action::ManageFix => rel.maintainer || rel.security_manager,
            Action::InternalNotes => rel.is_triager(),
            Action::Edit
            | Action::Accept
            | Action::Close
            | Action::Invite
            | Action::Revoke
            | Action::Transfer => rel.maintainer || rel.security_manager,
            Action::NegotiateEmbargo => rel.maintainer || rel.security_manager || rel.collaborator,
            Action::SetCaseFlag => rel.maintainer || rel.security_manager,
            Action::Reopen
            | Action::Publish
            | Action::Withdraw
            | Action::ReadEvents
            | Action::ExemptFromDisclosure
            | Action::MarkReady
            | Action::RequestCve => rel.security_manager,
            // Only scheduled work discloses ([`SystemTask`]).
            Action::Disclose => false,
        }
    }
}

/// The outcome of [`decide`]. `NotFound` must be indistinguishable, to the caller, from an
/// advisory that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    NotFound,
    Forbidden,
    /// Allowed for this actor, but not in the advisory's current state.
    Conflict,
    /// The actor's role would allow it, once they turn on two-factor sign-in.
    NeedsTwoFactor,
}

/// The rule: may an actor with `rel` do `action` to an advisory in `state`?
pub fn decide(rel: Relations, action: Action, state: State) -> Decision {
    let refused = if rel.needs_two_factor {
        Decision::NeedsTwoFactor
    } else {
        Decision::NotFound
    };
    if !(rel.in_audience() || state.is_public()) {
        return refused;
    }
    // A disclosed report's thread (without internal notes) is public.
    let public_thread = action == Action::ReadThread && state == State::Disclosed;
    // A change to a published advisory changes public documents (and its CVE record): it is
    // the security managers', as publishing is.
    let public_edit = action == Action::Edit && state.is_public() && !rel.security_manager;
    if public_edit || !(public_thread || action.role_may(rel)) {
        return if rel.needs_two_factor {
            Decision::NeedsTwoFactor
        } else {
            Decision::Forbidden
        };
    }
    if !action.allowed_in(state) {
        return Decision::Conflict;
    }
    Decision::Allow
}

/// The rule for scheduled work: a task may take its own actions, in the states where they
/// make sense, and nothing else; it never reads for anyone.
pub fn decide_system(task: SystemTask, action: Action, state: State) -> Decision {
    if !task.may(action) {
        Decision::Forbidden
    } else if !action.allowed_in(state) {
        Decision::Conflict
    } else {
        Decision::Allow
    }
}

/// What the actor may do to one advisory, precomputed for pages and API answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Permissions {
    pub can_read_thread: bool,
    pub can_comment: bool,
    pub can_edit: bool,
    pub can_accept: bool,
    pub can_close: bool,
    pub can_reopen: bool,
    pub can_publish: bool,
    pub can_withdraw: bool,
    pub can_read_events: bool,
    pub can_invite: bool,
    pub can_read_internal_notes: bool,
    pub can_transfer: bool,
    pub can_exempt_from_disclosure: bool,
    pub can_read_collaborators: bool,
    pub can_read_attachments: bool,
    pub can_attach: bool,
    pub can_negotiate_embargo: bool,
    pub can_set_case_flag: bool,
    pub can_mark_ready: bool,
    pub can_request_cve: bool,
    pub can_fetch_fix: bool,
    pub can_push_fix: bool,
    pub can_manage_fix: bool,
}

impl Permissions {
    pub fn of(rel: Relations, state: State) -> Self {
        let may = |a| decide(rel, a, state) == Decision::Allow;
        Self {
            can_read_thread: may(Action::ReadThread),
            can_comment: may(Action::Comment),
            can_edit: may(Action::Edit),
            can_accept: may(Action::Accept),
            can_close: may(Action::Close),
            can_reopen: may(Action::Reopen),
            can_publish: may(Action::Publish),
            can_withdraw: may(Action::Withdraw),
            can_read_events: may(Action::ReadEvents),
            can_invite: may(Action::Invite),
            can_read_internal_notes: may(Action::InternalNotes),
            can_transfer: may(Action::Transfer),
            can_exempt_from_disclosure: may(Action::ExemptFromDisclosure),
            can_read_collaborators: may(Action::ReadCollaborators),
            can_read_attachments: may(Action::ReadAttachments),
            can_attach: may(Action::Attach),
            can_negotiate_embargo: may(Action::NegotiateEmbargo),
            can_set_case_flag: may(Action::SetCaseFlag),
            can_mark_ready: may(Action::MarkReady),
            can_request_cve: may(Action::RequestCve),
            can_fetch_fix: may(Action::FetchFix),
            can_push_fix: may(Action::PushFix),
            can_manage_fix: may(Action::ManageFix),
        }
    }
}

/// May `actor` accept the invitation addressed to account `invitee` (pending, not expired)?
/// Anyone else is told it does not exist.
pub fn decide_invitation(actor: Actor, invitee: Option<i64>, pending: bool) -> Decision {
    match (actor.user_id(), invitee) {
        (Some(me), Some(them)) if me == them && pending => Decision::Allow,
        (Some(me), Some(them)) if me == them => Decision::Conflict,
        _ => Decision::NotFound,
    }
}

/// How an actor stands to an organisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgRelations {
    pub admin: bool,
    pub role: Option<OrgRole>,
    /// False when the organisation requires two-factor sign-in of its people and the actor
    /// has not turned it on: then the role does not count.
    pub two_factor_ok: bool,
}

/// What can be done to an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    Create,
    /// Name security managers and steering committee members.
    ManageMembers,
    /// Add repositories and name their maintainers.
    ManageRepos,
    /// File a report against one of its repositories.
    FileReport,
    /// Change the organisation's policy settings.
    ManagePolicy,
    /// See the organisation's response record (aggregates over its private reports).
    ReadRecord,
}

/// The organisation rule. Organisations and their repositories are public (a reporter must
/// be able to find where to report); their advisories are not.
pub fn decide_org(actor: Actor, rel: OrgRelations, action: OrgAction) -> Decision {
    let Actor::User { .. } = actor else {
        return Decision::Forbidden;
    };
    let sm = rel.role == Some(OrgRole::SecurityManager) && rel.two_factor_ok;
    let ok = match action {
        OrgAction::Create => rel.admin,
        // Administrators manage every organisation (its people, repositories and policy),
        // though its advisories stay need-to-know.
        OrgAction::ManageMembers | OrgAction::ManagePolicy | OrgAction::ManageRepos => {
            rel.admin || sm
        }
        OrgAction::FileReport => true,
        // Aggregates over private reports: their triagers only, not administrators.
        OrgAction::ReadRecord => {
            rel.two_factor_ok
                && matches!(
                    rel.role,
                    Some(OrgRole::SecurityManager | OrgRole::SteeringCommittee)
                )
        }
    };
    if ok {
        Decision::Allow
    } else if rel.role.is_some() && !rel.two_factor_ok {
        Decision::NeedsTwoFactor
    } else {
        Decision::Forbidden
    }
}

/// What can be done to the site as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteAction {
    /// The administration pages: list the accounts and create new ones (with a link to
    /// choose a password), and set up organisations.
    Administer,
}

/// The site rule: its accounts are the administrators' business only.
pub fn decide_site(actor: Actor, action: SiteAction) -> Decision {
    match (actor, action) {
        (Actor::User { admin: true, .. }, SiteAction::Administer) => Decision::Allow,
        _ => Decision::Forbidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_administrators_administer() {
        let admin = Actor::User { id: 1, admin: true };
        assert_eq!(decide_site(admin, SiteAction::Administer), Decision::Allow);
        for other in [
            Actor::Anonymous,
            Actor::User {
                id: 2,
                admin: false,
            },
            Actor::System(SystemTask::Disclosure),
        ] {
            assert_eq!(
                decide_site(other, SiteAction::Administer),
                Decision::Forbidden
            );
        }
    }

    const NOBODY: Relations = Relations {
        reporter: false,
        maintainer: false,
        security_manager: false,
        steering_committee: false,
        collaborator: false,
        collaborator_writes: false,
        needs_two_factor: false,
    };

    #[test]
    fn the_fix_repository_is_fetched_by_the_audience_and_pushed_by_writers() {
        use Action::{FetchFix, ManageFix, PushFix};
        let reporter = Relations {
            reporter: true,
            ..NOBODY
        };
        let reader = Relations {
            collaborator: true,
            ..NOBODY
        };
        let writer = Relations {
            collaborator: true,
            collaborator_writes: true,
            ..NOBODY
        };
        // A revoked or expired invitation leaves no relation, whatever its write flag said.
        let revoked_writer = Relations {
            collaborator_writes: true,
            ..NOBODY
        };
        let maintainer = Relations {
            maintainer: true,
            ..NOBODY
        };
        let sm = Relations {
            security_manager: true,
            ..NOBODY
        };
        let allow = |r, a, s| decide(r, a, s) == Decision::Allow;
        for s in [State::Triage, State::Draft] {
            for r in [reporter, reader, writer, maintainer, sm] {
                assert!(allow(r, FetchFix, s), "{r:?} fetches in {s:?}");
            }
            assert!(!allow(reporter, PushFix, s) && !allow(reader, PushFix, s));
            assert!(
                allow(writer, PushFix, s) && allow(maintainer, PushFix, s) && allow(sm, PushFix, s)
            );
            assert!(!allow(writer, ManageFix, s));
            assert!(allow(maintainer, ManageFix, s) && allow(sm, ManageFix, s));
            assert_eq!(decide(revoked_writer, FetchFix, s), Decision::NotFound);
            assert_eq!(decide(NOBODY, FetchFix, s), Decision::NotFound);
        }
        // Read-only once public or closed; still fetched by the audience.
        for s in [State::Published, State::Closed, State::Withdrawn] {
            assert!(allow(sm, FetchFix, s) && allow(writer, FetchFix, s));
            assert!(
                !allow(sm, PushFix, s) && !allow(writer, PushFix, s) && !allow(sm, ManageFix, s)
            );
        }
        // The public never reaches a published advisory's fix repository.
        assert_ne!(decide(NOBODY, FetchFix, State::Published), Decision::Allow);
    }

    #[test]
    fn collaborators_read_and_comment_on_their_advisory_only() {
        let c = Relations {
            collaborator: true,
            ..NOBODY
        };
        let p = Permissions::of(c, State::Draft);
        assert!(p.can_read_thread && p.can_comment);
        assert!(
            !p.can_edit && !p.can_invite && !p.can_publish && !p.can_read_events && !p.can_close
        );
        assert!(!c.is_triager());
    }

    #[test]
    fn outsiders_see_nothing_unpublished() {
        for state in [State::Triage, State::Draft, State::Closed] {
            for action in Action::ALL {
                assert_eq!(
                    decide(NOBODY, action, state),
                    Decision::NotFound,
                    "{action:?} {state:?}"
                );
            }
        }
    }

    #[test]
    fn steering_committee_reads_and_comments_only() {
        let sc = Relations {
            steering_committee: true,
            ..NOBODY
        };
        let p = Permissions::of(sc, State::Draft);
        assert!(p.can_read_thread && p.can_comment);
        assert!(
            !p.can_edit && !p.can_accept && !p.can_close && !p.can_publish && !p.can_read_events
        );
    }

    #[test]
    fn roles_wait_for_two_factor_when_required() {
        let pending = Relations {
            needs_two_factor: true,
            ..NOBODY
        };
        assert_eq!(
            decide(pending, Action::Read, State::Draft),
            Decision::NeedsTwoFactor
        );
        assert_eq!(
            decide(pending, Action::Read, State::Published),
            Decision::Allow
        );
        assert_eq!(
            decide(pending, Action::Publish, State::Published),
            Decision::NeedsTwoFactor
        );
        let user = Actor::User {
            id: 2,
            admin: false,
        };
        let sm = OrgRelations {
            admin: false,
            role: Some(OrgRole::SecurityManager),
            two_factor_ok: false,
        };
        assert_eq!(
            decide_org(user, sm, OrgAction::ManageRepos),
            Decision::NeedsTwoFactor
        );
        assert_eq!(
            decide_org(
                user,
                OrgRelations {
                    two_factor_ok: true,
                    ..sm
                },
                OrgAction::ManageRepos
            ),
            Decision::Allow
        );
    }

    #[test]
    fn only_security_managers_publish() {
        let m = Relations {
            maintainer: true,
            ..NOBODY
        };
        assert_eq!(
            decide(m, Action::Publish, State::Draft),
            Decision::Forbidden
        );
        let sm = Relations {
            security_manager: true,
            ..NOBODY
        };
        assert_eq!(decide(sm, Action::Publish, State::Draft), Decision::Allow);
        // Public documents change only by a security manager's edit.
        assert_eq!(decide(sm, Action::Edit, State::Published), Decision::Allow);
        assert_eq!(
            decide(m, Action::Edit, State::Published),
            Decision::Forbidden
        );
        assert_eq!(decide(m, Action::Edit, State::Draft), Decision::Allow);
        assert_eq!(
            decide(sm, Action::Publish, State::Triage),
            Decision::Conflict
        );
    }

    /// A disclosed report: everyone reads it and its thread; nobody writes in it; only
    /// triagers see internal notes; nothing else can happen to it.
    #[test]
    fn disclosed_reports_are_public_and_frozen() {
        let d = State::Disclosed;
        let sm = Relations {
            security_manager: true,
            ..Relations::default()
        };
        let reporter = Relations {
            reporter: true,
            ..Relations::default()
        };
        for rel in [NOBODY, reporter, sm] {
            assert_eq!(decide(rel, Action::Read, d), Decision::Allow);
            assert_eq!(decide(rel, Action::ReadThread, d), Decision::Allow);
        }
        assert_eq!(decide(NOBODY, Action::Comment, d), Decision::Forbidden);
        assert_eq!(decide(reporter, Action::Comment, d), Decision::Conflict);
        assert_eq!(
            decide(reporter, Action::InternalNotes, d),
            Decision::Forbidden
        );
        assert_eq!(
            decide(NOBODY, Action::InternalNotes, d),
            Decision::Forbidden
        );
        assert_eq!(decide(sm, Action::InternalNotes, d), Decision::Allow);
        // Who was invited, and the files, stay with the audience.
        for a in [Action::ReadCollaborators, Action::ReadAttachments] {
            assert_eq!(decide(NOBODY, a, d), Decision::Forbidden, "{a:?}");
            assert_eq!(decide(reporter, a, d), Decision::Allow, "{a:?}");
            assert_eq!(decide(sm, a, d), Decision::Allow, "{a:?}");
        }
        assert_eq!(decide(reporter, Action::Attach, d), Decision::Conflict);
        for a in [
            Action::Edit,
            Action::Accept,
            Action::Close,
            Action::Reopen,
            Action::Publish,
            Action::Withdraw,
            Action::Invite,
            Action::Transfer,
            Action::ExemptFromDisclosure,
        ] {
            assert_eq!(decide(sm, a, d), Decision::Conflict, "{a:?}");
        }
        assert_eq!(
            decide(sm, Action::ExemptFromDisclosure, State::Closed),
            Decision::Allow
        );
        let m = Relations {
            maintainer: true,
            ..Relations::default()
        };
        assert_eq!(
            decide(m, Action::ExemptFromDisclosure, State::Closed),
            Decision::Forbidden
        );
    }

    #[test]
    fn scheduled_work_does_its_own_task_only() {
        use SystemTask::*;
        assert_eq!(
            decide_system(ScheduledPublication, Action::Publish, State::Draft),
            Decision::Allow
        );
        assert_eq!(
            decide_system(ScheduledPublication, Action::Publish, State::Published),
            Decision::Conflict
        );
        for a in Action::ALL {
            if !matches!(a, Action::Publish | Action::NegotiateEmbargo) {
                assert_eq!(
                    decide_system(ScheduledPublication, a, State::Draft),
                    Decision::Forbidden,
                    "{a:?}"
                );
            }
            if a != Action::Disclose {
                assert_eq!(
                    decide_system(Disclosure, a, State::Closed),
                    Decision::Forbidden,
                    "{a:?}"
                );
            }
            assert_eq!(
                decide_system(InvitationExpiry, a, State::Draft),
                Decision::Forbidden
            );
        }
        assert_eq!(
            decide_system(Disclosure, Action::Disclose, State::Closed),
            Decision::Allow
        );
        // Nobody discloses by hand.
        let sm = Relations {
            security_manager: true,
            ..NOBODY
        };
        assert_eq!(
            decide(sm, Action::Disclose, State::Closed),
            Decision::Forbidden
        );
    }

    #[test]
    fn only_security_managers_request_cve_ids() {
        let sm = Relations {
            security_manager: true,
            ..NOBODY
        };
        let m = Relations {
            maintainer: true,
            ..NOBODY
        };
        assert_eq!(
            decide(sm, Action::RequestCve, State::Draft),
            Decision::Allow
        );
        assert_eq!(
            decide(sm, Action::RequestCve, State::Published),
            Decision::Allow
        );
        assert_eq!(
            decide(sm, Action::RequestCve, State::Triage),
            Decision::Conflict
        );
        assert_eq!(
            decide(m, Action::RequestCve, State::Draft),
            Decision::Forbidden
        );
        assert!(Permissions::of(sm, State::Draft).can_request_cve);
        assert!(!Permissions::of(m, State::Draft).can_request_cve);
    }

    #[test]
    fn admins_need_a_role_to_read() {
        assert_eq!(
            decide(NOBODY, Action::Read, State::Triage),
            Decision::NotFound
        );
        let admin = Actor::User { id: 1, admin: true };
        let none = OrgRelations {
            admin: true,
            role: None,
            two_factor_ok: true,
        };
        assert_eq!(
            decide_org(admin, none, OrgAction::ManageRepos),
            Decision::Allow
        );
        assert_eq!(decide_org(admin, none, OrgAction::Create), Decision::Allow);
        assert_eq!(
            decide_org(Actor::Anonymous, none, OrgAction::FileReport),
            Decision::Forbidden
        );
    }
}
