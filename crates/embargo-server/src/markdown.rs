//! Markdown of descriptions and comments, as HTML that is safe to put in a page.
//!
//! `pulldown-cmark` renders and passes raw HTML through, so its raw HTML is turned into text
//! first and `ammonia` sanitises the result anyway: no tag, attribute or URL scheme outside a
//! short list reaches the page, images are dropped (no outside requests from a private page),
//! and every link gets `rel="nofollow noopener noreferrer"`.

use std::collections::HashSet;

use pulldown_cmark::{Event, Options, Parser, html};

/// The tags a rendered text may hold: what Markdown itself produces, without images.
const TAGS: &[&str] = &[
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
];

/// Renders Markdown to sanitised HTML.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    // Raw HTML in the text is shown as the text it is, never interpreted.
    let events = Parser::new_ext(markdown, options).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, events);
    ammonia::Builder::default()
        .tags(TAGS.iter().copied().collect::<HashSet<_>>())
        .generic_attributes(HashSet::new())
        .tag_attributes(
            [("a", ["href"].into_iter().collect::<HashSet<_>>())]
                .into_iter()
                .collect(),
        )
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(&rendered)
        .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::to_html;

    #[test]
    fn renders_the_usual_markdown() {
        let h = to_html(
            "# Impact\n\nA **bold** claim with `code`:\n\n```\nlet x = 1;\n```\n\n- one\n- two\n",
        );
        assert!(h.contains("<h1>Impact</h1>"), "{h}");
        assert!(h.contains("<strong>bold</strong>"), "{h}");
        assert!(h.contains("<code>code</code>"), "{h}");
        assert!(h.contains("<pre><code>let x = 1;\n</code></pre>"), "{h}");
        assert!(h.contains("<li>one</li>"), "{h}");
    }

    #[test]
    fn raw_html_is_text_not_markup() {
        let h =
            to_html("hello <script>alert(1)</script> <b onclick=\"x()\">b</b>\n\n<div>block</div>");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<b"), "{h}");
        assert!(!h.contains("<div"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
    }

    #[test]
    fn links_are_marked_and_dangerous_schemes_dropped() {
        let h = to_html(
            "[site](https://example.org/x) [bad](javascript:alert(1)) <https://a.example/>",
        );
        assert!(
            h.contains(
                r#"<a href="https://example.org/x" rel="nofollow noopener noreferrer">site</a>"#
            ),
            "{h}"
        );
        assert!(!h.contains("javascript"), "{h}");
        assert!(h.contains(r#"href="https://a.example/""#), "{h}");
    }

    #[test]
    fn images_are_not_loaded() {
        let h = to_html("![tracker](https://evil.example/pixel.png)");
        assert!(!h.contains("<img"), "{h}");
        assert!(!h.contains("evil.example"), "{h}");
    }
}
