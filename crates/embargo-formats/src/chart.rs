//! The response record as an SVG chart, drawn on the server (no script): per month, the
//! reports filed, and of those due, how many were answered within the deadline.

use std::fmt::Write as _;

use embargo_domain::record::ResponseRecord;

const W: usize = 640;
const H: usize = 220;
const TOP: usize = 20;
const BOTTOM: usize = 40;
const LEFT: usize = 30;

/// An accessible SVG (a title and description, and numbers as text on each bar).
pub fn response_chart(r: &ResponseRecord) -> String {
    let max = r.months.iter().map(|m| m.filed).max().unwrap_or(0).max(1);
    let n = r.months.len().max(1);
    let slot = (W - LEFT) / n;
    let bar = slot * 2 / 3;
    let plot = H - TOP - BOTTOM;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"rr-title rr-desc\" class=\"chart\">\
         <title id=\"rr-title\">Reports per month, and those answered within the deadline</title>\
         <desc id=\"rr-desc\">{}</desc>",
        r.months
            .iter()
            .map(|m| format!(
                "{}: {} filed, {} of {} due answered in time",
                m.month, m.filed, m.answered_in_time, m.due
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{W}\" y2=\"{}\" stroke=\"currentColor\" stroke-width=\"1\"/>",
        H - BOTTOM,
        H - BOTTOM
    );
    for (i, m) in r.months.iter().enumerate() {
        let x = LEFT + i * slot + (slot - bar) / 2;
        let h = m.filed * plot / max;
        let ok = m.answered_in_time * plot / max;
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"#b8c4d6\"><title>{} filed</title></rect>",
            H - BOTTOM - h,
            m.filed
        );
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{ok}\" fill=\"#2f6f3e\"><title>{} answered in time</title></rect>",
            H - BOTTOM - ok,
            m.answered_in_time
        );
        if m.filed > 0 {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                x + bar / 2,
                H - BOTTOM - h - 4,
                m.filed
            );
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x + bar / 2,
            H - BOTTOM + 14,
            m.month.get(2..).unwrap_or(&m.month)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"11\"><tspan fill=\"#2f6f3e\">■</tspan> answered within the deadline  <tspan fill=\"#b8c4d6\">■</tspan> filed</text></svg>",
        H - 8
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use embargo_domain::record::{ReportDates, compute};
    use time::macros::datetime;

    #[test]
    fn the_chart_is_well_formed_svg_with_its_numbers() {
        let filed = datetime!(2026-11-02 0:00 UTC);
        let rec = compute(
            &[ReportDates {
                filed_at: filed,
                first_response_at: Some(filed + time::Duration::days(1)),
                response_due_at: filed + time::Duration::days(14),
                published_at: None,
            }],
            datetime!(2026-11-29 0:00 UTC),
        );
        let svg = response_chart(&rec);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("2026-11: 1 filed, 1 of 1 due answered in time"));
        assert_eq!(svg.matches("<rect").count(), 24);
        // Balanced elements: every opened text and rect is closed.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
    }
}
