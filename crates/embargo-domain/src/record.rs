//! An organisation's response record: how quickly reports get their first reply, how many
//! within the deadline, and how long publication takes, overall and month by month.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

/// The dates of one report that the record is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportDates {
    pub filed_at: OffsetDateTime,
    pub first_response_at: Option<OffsetDateTime>,
    pub response_due_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
}

/// One month of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Month {
    /// `2026-11`.
    pub month: String,
    pub filed: usize,
    /// Of those filed that month whose deadline has come: answered in time.
    pub answered_in_time: usize,
    /// Of those filed that month whose deadline has come: all.
    pub due: usize,
}

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseRecord {
    pub reports: usize,
    /// Median time to the first reply, in seconds, over answered reports.
    pub median_first_reply_secs: Option<i64>,
    /// Percent of reports whose deadline has come that were answered by it.
    pub within_deadline_percent: Option<u8>,
    /// Median time from filing to publication, in seconds, over published reports.
    pub median_publication_secs: Option<i64>,
    /// The last twelve months, oldest first.
    pub months: Vec<Month>,
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    if n % 2 == 1 {
        v.get(mid).copied()
    } else {
        Some((v.get(mid - 1)? + v.get(mid)?) / 2)
    }
}

fn answered_in_time(r: &ReportDates) -> bool {
    r.first_response_at.is_some_and(|f| f <= r.response_due_at)
}

/// Whether the report's outcome is known: answered, or its deadline passed.
fn is_decided(r: &ReportDates, now: OffsetDateTime) -> bool {
    r.first_response_at.is_some() || r.response_due_at <= now
}

fn month_of(t: OffsetDateTime) -> (i32, u8) {
    let t = t.to_offset(time::UtcOffset::UTC);
    (t.year(), u8::from(t.month()))
}

/// The record of `reports` as of `now`.
pub fn compute(reports: &[ReportDates], now: OffsetDateTime) -> ResponseRecord {
    let secs = |d: Duration| d.whole_seconds();
    let decided: Vec<&ReportDates> = reports.iter().filter(|r| is_decided(r, now)).collect();
    let in_time = decided.iter().filter(|r| answered_in_time(r)).count();
    let within = if decided.is_empty() {
        None
    } else {
        u8::try_from(in_time * 100 / decided.len()).ok()
    };
    let mut months = Vec::new();
    let (mut y, mut m) = month_of(now);
    for _ in 0..12 {
        let here: Vec<&ReportDates> = reports
            .iter()
            .filter(|r| month_of(r.filed_at) == (y, m))
            .collect();
        months.push(Month {
            month: format!("{y}-{m:02}"),
            filed: here.len(),
            answered_in_time: here.iter().filter(|r| answered_in_time(r)).count(),
            due: here.iter().filter(|r| is_decided(r, now)).count(),
        });
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    months.reverse();
    ResponseRecord {
        reports: reports.len(),
        median_first_reply_secs: median(
            reports
                .iter()
                .filter_map(|r| r.first_response_at.map(|f| secs(f - r.filed_at)))
                .collect(),
        ),
        within_deadline_percent: within,
        median_publication_secs: median(
            reports
                .iter()
                .filter_map(|r| r.published_at.map(|p| secs(p - r.filed_at)))
                .collect(),
        ),
        months,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn medians_shares_and_months() {
        let now = datetime!(2026-11-29 12:00 UTC);
        let r = |filed: OffsetDateTime, reply_days: Option<i64>, published_days: Option<i64>| {
            ReportDates {
                filed_at: filed,
                first_response_at: reply_days.map(|d| filed + Duration::days(d)),
                response_due_at: filed + Duration::days(14),
                published_at: published_days.map(|d| filed + Duration::days(d)),
            }
        };
        let reports = [
            r(datetime!(2026-10-01 0:00 UTC), Some(2), Some(30)),
            r(datetime!(2026-10-05 0:00 UTC), Some(20), None),
            r(datetime!(2026-11-01 0:00 UTC), None, None),
            // Not due yet, not answered: not counted in the share.
            r(datetime!(2026-11-28 0:00 UTC), None, None),
        ];
        let rec = compute(&reports, now);
        assert_eq!(rec.reports, 4);
        assert_eq!(rec.median_first_reply_secs, Some(11 * 86_400));
        assert_eq!(rec.within_deadline_percent, Some(33));
        assert_eq!(rec.median_publication_secs, Some(30 * 86_400));
        assert_eq!(rec.months.len(), 12);
        let last = rec.months.last().unwrap();
        assert_eq!(
            (last.month.as_str(), last.filed, last.due),
            ("2026-11", 2, 1)
        );
        let oct = &rec.months[10];
        assert_eq!((oct.filed, oct.answered_in_time, oct.due), (2, 1, 2));
        assert_eq!(rec.months[0].month, "2025-12");
        let empty = compute(&[], now);
        assert_eq!(empty.within_deadline_percent, None);
        assert_eq!(empty.median_first_reply_secs, None);
    }
}
