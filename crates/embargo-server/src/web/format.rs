//! One way to show an instant on every page: `2026-11-29 22:41 UTC`, inside a
//! `<time datetime="2026-11-29T22:41:00Z">` element, so a reader and a machine agree.
//!
//! Two ways to use it in a template:
//! - a page field of type [`When`] (`{{ r.due }}`), built with [`When::maybe`]: it renders
//!   the `<time>` element, or nothing for no instant;
//! - the filter `when` on an `OffsetDateTime` (`{{ a.created_at|when }}`), after
//!   `use crate::web::format::filters;` in the module that derives the template.

use std::fmt;

use time::OffsetDateTime;

/// An instant for a page, or none (renders nothing). `{% if r.due.is_some() %}` tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct When(Option<OffsetDateTime>);

impl When {
    pub fn maybe(t: Option<OffsetDateTime>) -> Self {
        Self(t)
    }

    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

/// `2026-11-29 22:41 UTC`: the words every page uses for an instant.
pub fn text(t: OffsetDateTime) -> String {
    embargo_domain::embargo::format_instant(t)
}

/// `2026-11-29T22:41:00Z`: the machine-readable form, in `datetime`.
pub fn machine(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // Digits, dashes, colons and letters only: nothing to escape.
            Some(t) => write!(f, "<time datetime=\"{}\">{}</time>", machine(t), text(t)),
            None => Ok(()),
        }
    }
}

// The output is built above from numbers and fixed words only.
impl askama::filters::HtmlSafe for When {}

/// A CVSS severity badge: `<span class="badge sev-high">7.5 High <small>CVSS 3.1</small></span>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Badge {
    /// `3.1`, `4.0`.
    pub version: String,
    pub score: f64,
    pub severity: embargo_formats::cvss::Severity,
}

impl Badge {
    /// The badge of a vector, or `None` when it does not score (a stored one always does).
    pub fn of(vector: &str) -> Option<Self> {
        let c = embargo_formats::cvss::parse(vector).ok()?;
        Some(Self {
            version: c.version().to_owned(),
            score: c.base_score(),
            severity: c.severity(),
        })
    }

    /// One badge per vector of the advisory, CVSS 4.0 first.
    pub fn all(content: &embargo_domain::advisory::Content) -> Vec<Self> {
        content
            .cvss_v4()
            .into_iter()
            .chain(content.cvss_v3())
            .filter_map(|v| Self::of(v.as_ref()))
            .collect()
    }

    /// The class naming the rating: `sev-critical`, … `sev-none`.
    pub fn class(&self) -> &'static str {
        severity_class(self.severity)
    }
}

/// `sev-critical`, `sev-high`, `sev-medium`, `sev-low` or `sev-none`.
pub fn severity_class(s: embargo_formats::cvss::Severity) -> &'static str {
    use embargo_formats::cvss::Severity;
    match s {
        Severity::Critical => "sev-critical",
        Severity::High => "sev-high",
        Severity::Medium => "sev-medium",
        Severity::Low => "sev-low",
        Severity::None => "sev-none",
    }
}

impl fmt::Display for Badge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<span class=\"badge {}\">{:.1} {} <small>CVSS {}</small></span>",
            self.class(),
            self.score,
            self.severity,
            // A parsed vector's version: digits and a dot.
            self.version
        )
    }
}

// Built from a class and words of fixed lists, a number and a parsed version.
impl askama::filters::HtmlSafe for Badge {}

/// Template filters: `{{ t|when }}` for an `OffsetDateTime` (or an `Option` of one).
pub mod filters {
    use super::When;

    /// Anything `when` takes: an instant, or maybe one.
    pub trait Instant {
        fn instant(&self) -> Option<time::OffsetDateTime>;
    }

    impl Instant for time::OffsetDateTime {
        fn instant(&self) -> Option<time::OffsetDateTime> {
            Some(*self)
        }
    }

    impl Instant for Option<time::OffsetDateTime> {
        fn instant(&self) -> Option<time::OffsetDateTime> {
            *self
        }
    }

    impl<T: Instant + ?Sized> Instant for &T {
        fn instant(&self) -> Option<time::OffsetDateTime> {
            (**self).instant()
        }
    }

    /// `<time datetime="…">2026-11-29 22:41 UTC</time>`, or nothing.
    #[askama::filter_fn]
    pub fn when(t: impl Instant, _: &dyn askama::Values) -> askama::Result<When> {
        Ok(When::maybe(t.instant()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::Template;
    use time::macros::datetime;

    #[derive(Template)]
    #[template(
        source = "[{{ w }}][{{ t|when }}][{{ none|when }}][{{ empty }}]",
        ext = "html"
    )]
    struct Page {
        w: When,
        t: OffsetDateTime,
        none: Option<OffsetDateTime>,
        empty: When,
    }

    #[test]
    fn one_format_in_a_time_element_unescaped() {
        let t = datetime!(2026-11-29 23:41:07 +01:00);
        let html = Page {
            w: When::maybe(Some(t)),
            t,
            none: None,
            empty: When::default(),
        }
        .render()
        .unwrap();
        let one = "<time datetime=\"2026-11-29T22:41:07Z\">2026-11-29 22:41 UTC</time>";
        assert_eq!(html, format!("[{one}][{one}][][]"));
        assert_eq!(text(t), "2026-11-29 22:41 UTC");
    }

    #[derive(Template)]
    #[template(source = "{% for b in badges %}{{ b }}{% endfor %}", ext = "html")]
    struct Badges {
        badges: Vec<Badge>,
    }

    #[test]
    fn a_badge_per_vector_v4_first() {
        let content = embargo_domain::advisory::Content {
            cvss_vectors: vec![
                embargo_domain::types::CvssVector::parse(
                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                )
                .unwrap(),
                embargo_domain::types::CvssVector::parse(
                    "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N",
                )
                .unwrap(),
            ],
            ..Default::default()
        };
        let html = Badges {
            badges: Badge::all(&content),
        }
        .render()
        .unwrap();
        assert_eq!(
            html,
            "<span class=\"badge sev-high\">7.1 High <small>CVSS 4.0</small></span>\
             <span class=\"badge sev-critical\">9.8 Critical <small>CVSS 3.1</small></span>"
        );
    }
}
