//! Embargo negotiation and case state, as CERT/CC's Vultron protocol defines them.
//!
//! An embargo is in one of five states: `none`, `proposed`, `active`, `revise`, `exited`.
//! Propose (none→proposed; a competing proposal keeps it proposed, with the new end), accept
//! (proposed→active), reject (proposed→none), propose a revision (active→revise), accept it
//! (revise→active with the new end) or reject it (revise→active, the old end stands),
//! terminate (active or revise→exited: at the end, or early).
//!
//! The participants are the organisation and each invited downstream organisation. Each is a
//! signatory of the current terms or not; a new proposal or revision asks everyone again.
//! Only the organisation's triagers move the embargo to `active` (their acceptance makes the
//! terms); a downstream participant's acceptance signs the terms for their organisation.
//!
//! The case state is Vultron's six flags, each set once and never unset, in the protocol's
//! order: the vendor is aware first, a fix is ready before it is deployed.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::FieldError;

/// Where the negotiation stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmbargoState {
    #[default]
    None,
    Proposed,
    Active,
    Revise,
    Exited,
}

impl EmbargoState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Proposed => "proposed",
            Self::Active => "active",
            Self::Revise => "revise",
            Self::Exited => "exited",
        }
    }

    /// Publication waits while terms are proposed or in force.
    pub fn allows_publication(self) -> bool {
        matches!(self, Self::None | Self::Exited)
    }

    /// Whether an agreed end is in force (`active`, or `active` with a revision asked).
    pub fn in_force(self) -> bool {
        matches!(self, Self::Active | Self::Revise)
    }
}

/// The embargo of one advisory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Embargo {
    pub state: EmbargoState,
    /// The agreed end (while `active` or `revise`; the end it had once `exited`).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub ends_at: Option<OffsetDateTime>,
    /// The end asked for by the open proposal or revision.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub proposed_ends_at: Option<OffsetDateTime>,
    /// Participants who accepted the current terms (or the open proposal, while one is open).
    #[serde(default)]
    pub signatories: Vec<String>,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub exited_at: Option<OffsetDateTime>,
}

/// What a participant asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum EmbargoAction {
    Propose {
        #[serde(with = "time::serde::rfc3339")]
        ends_at: OffsetDateTime,
    },
    Accept,
    Reject,
    Terminate,
}

impl EmbargoAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Propose { .. } => "propose",
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Terminate => "terminate",
        }
    }
}

/// Why an embargo action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbargoRefusal {
    /// Not an action the current state allows (a 409).
    State(String),
    /// A bad end (a 422 naming `ends_at`).
    Invalid(FieldError),
}

/// Facts of the advisory that an embargo decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct EmbargoContext {
    pub now: OffsetDateTime,
    /// The organisation's longest embargo, from now.
    pub max: Duration,
    /// Published, or the case says the exploit is public or attacks are observed: no new
    /// embargo then.
    pub no_new_embargo: Option<&'static str>,
    /// Whether the participant speaks for the organisation (its triagers), which alone can
    /// put terms in force or end them.
    pub for_organisation: bool,
}

impl Embargo {
    /// The embargo after `party` does `action`, or why not.
    pub fn after(
        &self,
        action: EmbargoAction,
        party: &str,
        cx: &EmbargoContext,
    ) -> Result<Embargo, EmbargoRefusal> {
        use EmbargoState as S;
        let refuse = |why: &str| {
            Err(EmbargoRefusal::State(format!(
                "the embargo is {}: {why}",
                self.state.as_str()
            )))
        };
        let mut next = self.clone();
        match (action, self.state) {
            (EmbargoAction::Propose { ends_at }, S::None | S::Proposed | S::Active | S::Revise) => {
                if self.state == S::None
                    && let Some(why) = cx.no_new_embargo
                {
                    return refuse(&format!("no new embargo can start, {why}"));
                }
                check_end(ends_at, cx)?;
                next.state = match self.state {
                    S::None | S::Proposed => S::Proposed,
                    _ => S::Revise,
                };
                next.proposed_ends_at = Some(ends_at);
                // A new proposal asks everyone again; the proposer agrees with it.
                next.signatories = vec![party.to_owned()];
            }
            (EmbargoAction::Propose { .. }, S::Exited) => {
                return refuse("an ended embargo does not start again");
            }
            (EmbargoAction::Accept, S::Proposed | S::Revise) => {
                if !next.signatories.iter().any(|s| s == party) {
                    next.signatories.push(party.to_owned());
                }
                if cx.for_organisation {
                    next.state = S::Active;
                    next.ends_at = next.proposed_ends_at.take();
                }
            }
            (EmbargoAction::Accept, _) => return refuse("there is no proposal to accept"),
            (EmbargoAction::Reject, S::Proposed | S::Revise) => {
                if cx.for_organisation {
                    next.proposed_ends_at = None;
                    if self.state == S::Proposed {
                        next.state = S::None;
                        next.signatories.clear();
                    } else {
                        // The old terms stand; their signatories are asked again only by a
                        // new revision.
                        next.state = S::Active;
                    }
                } else {
                    next.signatories.retain(|s| s != party);
                }
            }
            (EmbargoAction::Reject, _) => return refuse("there is no proposal to reject"),
            (EmbargoAction::Terminate, S::Active | S::Revise) => {
                if !cx.for_organisation {
                    return Err(EmbargoRefusal::State(
                        "only the organisation's triagers end an embargo".into(),
                    ));
                }
                next.state = S::Exited;
                next.proposed_ends_at = None;
                next.exited_at = Some(cx.now);
            }
            (EmbargoAction::Terminate, _) => return refuse("there is no embargo in force to end"),
        }
        Ok(next)
    }

    /// Whether an embargo in force has reached its end.
    pub fn has_ended(&self, now: OffsetDateTime) -> bool {
        self.state.in_force() && self.ends_at.is_some_and(|e| e <= now)
    }
}

fn check_end(ends_at: OffsetDateTime, cx: &EmbargoContext) -> Result<(), EmbargoRefusal> {
    if ends_at <= cx.now {
        return Err(EmbargoRefusal::Invalid(FieldError::new(
            "ends_at",
            "is in the past; give a future instant such as 2027-01-15T14:00:00Z",
        )));
    }
    if ends_at - cx.now > cx.max {
        return Err(EmbargoRefusal::Invalid(FieldError::new(
            "ends_at",
            format!(
                "is beyond the organisation's longest embargo ({} from now)",
                format_duration(cx.max)
            ),
        )));
    }
    Ok(())
}

/// Vultron's case flags, in the protocol's order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CaseFlag {
    VendorAware,
    FixReady,
    FixDeployed,
    PublicAware,
    ExploitPublic,
    AttacksObserved,
}

impl CaseFlag {
    pub const ALL: [CaseFlag; 6] = [
        Self::VendorAware,
        Self::FixReady,
        Self::FixDeployed,
        Self::PublicAware,
        Self::ExploitPublic,
        Self::AttacksObserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VendorAware => "vendor_aware",
            Self::FixReady => "fix_ready",
            Self::FixDeployed => "fix_deployed",
            Self::PublicAware => "public_aware",
            Self::ExploitPublic => "exploit_public",
            Self::AttacksObserved => "attacks_observed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "flag",
                    "must be vendor_aware, fix_ready, fix_deployed, public_aware, exploit_public or attacks_observed",
                )
            })
    }

    /// What must be set before this flag.
    fn needs(self) -> Option<CaseFlag> {
        match self {
            Self::VendorAware => None,
            Self::FixDeployed => Some(Self::FixReady),
            _ => Some(Self::VendorAware),
        }
    }

    /// Whether the flag means an embargo no longer protects anyone.
    pub fn ends_secrecy(self) -> bool {
        matches!(self, Self::ExploitPublic | Self::AttacksObserved)
    }
}

/// The case flags set so far, each with when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    #[serde(default)]
    pub flags: Vec<(CaseFlag, String)>,
}

impl CaseState {
    pub fn is_set(&self, flag: CaseFlag) -> bool {
        self.flags.iter().any(|(f, _)| *f == flag)
    }

    /// Refuses a flag set already, or one whose predecessor is not set.
    pub fn check(&self, flag: CaseFlag) -> Result<(), String> {
        if self.is_set(flag) {
            return Err(format!(
                "{} is set already; flags are never unset",
                flag.as_str()
            ));
        }
        if let Some(before) = flag.needs()
            && !self.is_set(before)
        {
            return Err(format!(
                "{} comes after {}: set that first",
                flag.as_str(),
                before.as_str()
            ));
        }
        Ok(())
    }

    pub fn set(&mut self, flag: CaseFlag, at: &str) {
        if !self.is_set(flag) {
            self.flags.push((flag, at.to_owned()));
        }
    }

    /// Why no new embargo may start, if the case says so.
    pub fn no_new_embargo(&self) -> Option<&'static str> {
        if self.is_set(CaseFlag::ExploitPublic) {
            Some("the exploit is public")
        } else if self.is_set(CaseFlag::AttacksObserved) {
            Some("attacks are observed")
        } else {
            None
        }
    }
}

/// Parses a duration as text: a whole number and a unit, `d`, `h`, `m` or `s` (`14d`,
/// `36h`, `90m`, `5s`).
pub fn parse_duration(field: &str, s: &str) -> Result<Duration, FieldError> {
    let err = || {
        FieldError::new(
            field,
            format!("'{s}' is not a duration such as 14d, 36h, 90m or 5s"),
        )
    };
    let t = s.trim();
    let unit = t.chars().last().ok_or_else(err)?;
    let n: i64 = t
        .get(..t.len().saturating_sub(1))
        .ok_or_else(err)?
        .parse()
        .map_err(|_| err())?;
    if !(0..=10 * 365 * 24 * 3600).contains(&n) {
        return Err(err());
    }
    Ok(match unit {
        'd' => Duration::days(n),
        'h' => Duration::hours(n),
        'm' => Duration::minutes(n),
        's' => Duration::seconds(n),
        _ => return Err(err()),
    })
}

/// A duration as the text [`parse_duration`] reads, in the largest exact unit.
pub fn format_duration(d: Duration) -> String {
    let s = d.whole_seconds();
    if s != 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s != 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s != 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// An instant for people: date, hour and minute, always in UTC and saying so.
pub fn format_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 09:00 UTC);

    fn cx(org: bool) -> EmbargoContext {
        EmbargoContext {
            now: NOW,
            max: Duration::days(90),
            no_new_embargo: None,
            for_organisation: org,
        }
    }

    fn propose(days: i64) -> EmbargoAction {
        EmbargoAction::Propose {
            ends_at: NOW + Duration::days(days),
        }
    }

    #[test]
    fn the_vultron_cycle() -> Result<(), EmbargoRefusal> {
        let e = Embargo::default();
        let p = e.after(propose(30), "coco", &cx(true))?;
        assert_eq!(p.state, EmbargoState::Proposed);
        // A competing proposal keeps it proposed, with the new end.
        let p = p.after(propose(20), "Downstream", &cx(false))?;
        assert_eq!(p.state, EmbargoState::Proposed);
        assert_eq!(p.proposed_ends_at, Some(NOW + Duration::days(20)));
        assert_eq!(p.signatories, ["Downstream"]);
        // Rejected: back to none.
        let n = p.after(EmbargoAction::Reject, "coco", &cx(true))?;
        assert_eq!(n.state, EmbargoState::None);
        let a = n.after(propose(30), "coco", &cx(true))?.after(
            EmbargoAction::Accept,
            "Downstream",
            &cx(false),
        )?;
        assert_eq!(
            a.state,
            EmbargoState::Proposed,
            "only the organisation activates"
        );
        let a = a.after(EmbargoAction::Accept, "coco", &cx(true))?;
        assert_eq!(a.state, EmbargoState::Active);
        assert_eq!(a.ends_at, Some(NOW + Duration::days(30)));
        assert_eq!(a.signatories, ["coco", "Downstream"]);
        // A revision asks again; rejected, the old end stands.
        let r = a.after(propose(45), "Downstream", &cx(false))?;
        assert_eq!(r.state, EmbargoState::Revise);
        assert_eq!(r.signatories, ["Downstream"]);
        let back = r.after(EmbargoAction::Reject, "coco", &cx(true))?;
        assert_eq!(back.state, EmbargoState::Active);
        assert_eq!(back.ends_at, Some(NOW + Duration::days(30)));
        // Accepted, the new end holds.
        let r = a.after(propose(45), "coco", &cx(true))?.after(
            EmbargoAction::Accept,
            "coco",
            &cx(true),
        )?;
        assert_eq!(r.ends_at, Some(NOW + Duration::days(45)));
        let x = r.after(EmbargoAction::Terminate, "coco", &cx(true))?;
        assert_eq!(x.state, EmbargoState::Exited);
        assert!(x.state.allows_publication());
        assert!(matches!(
            x.after(propose(5), "coco", &cx(true)),
            Err(EmbargoRefusal::State(_))
        ));
        Ok(())
    }

    #[test]
    fn refusals() {
        let e = Embargo::default();
        for a in [
            EmbargoAction::Accept,
            EmbargoAction::Reject,
            EmbargoAction::Terminate,
        ] {
            assert!(matches!(
                e.after(a, "coco", &cx(true)),
                Err(EmbargoRefusal::State(_))
            ));
        }
        assert!(matches!(
            e.after(propose(-1), "coco", &cx(true)),
            Err(EmbargoRefusal::Invalid(f)) if f.field == "ends_at"
        ));
        assert!(matches!(
            e.after(propose(91), "coco", &cx(true)),
            Err(EmbargoRefusal::Invalid(f)) if f.field == "ends_at"
        ));
        let blocked = EmbargoContext {
            no_new_embargo: Some("the exploit is public"),
            ..cx(true)
        };
        assert!(matches!(
            e.after(propose(5), "coco", &blocked),
            Err(EmbargoRefusal::State(m)) if m.contains("exploit is public")
        ));
        let active = Embargo {
            state: EmbargoState::Active,
            ends_at: Some(NOW + Duration::days(3)),
            ..Embargo::default()
        };
        assert!(matches!(
            active.after(EmbargoAction::Terminate, "Downstream", &cx(false)),
            Err(EmbargoRefusal::State(_))
        ));
        assert!(!active.state.allows_publication());
        assert!(active.has_ended(NOW + Duration::days(3)));
        assert!(!active.has_ended(NOW + Duration::days(2)));
    }

    #[test]
    fn case_flags_in_order_once() {
        let mut c = CaseState::default();
        assert!(c.check(CaseFlag::FixReady).is_err(), "vendor aware first");
        c.set(CaseFlag::VendorAware, "t");
        assert!(c.check(CaseFlag::FixDeployed).is_err(), "fix ready first");
        c.set(CaseFlag::FixReady, "t");
        assert!(c.check(CaseFlag::FixDeployed).is_ok());
        assert!(c.check(CaseFlag::FixReady).is_err(), "never twice");
        assert_eq!(c.no_new_embargo(), None);
        c.set(CaseFlag::AttacksObserved, "t");
        assert!(c.no_new_embargo().is_some());
        assert!(CaseFlag::parse("nope").is_err());
    }

    #[test]
    fn durations() {
        for (text, d) in [
            ("14d", Duration::days(14)),
            ("36h", Duration::hours(36)),
            ("90m", Duration::minutes(90)),
            ("5s", Duration::seconds(5)),
        ] {
            assert_eq!(parse_duration("x", text).ok(), Some(d));
            assert_eq!(format_duration(d), text);
        }
        for bad in ["", "d", "14", "14w", "-1d", "1.5d", "99999999999d"] {
            assert!(parse_duration("x", bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_instant(datetime!(2027-01-15 14:00 +02:00)),
            "2027-01-15 12:00 UTC"
        );
    }
}
