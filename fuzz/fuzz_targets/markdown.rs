//! Markdown rendering never panics and never lets script through: every tag in its output is
//! one of the allowed few (no `<script`, no image), the only attributes are a link's `href`
//! and `rel`, and every `href` is http, https, mailto or relative (no `javascript:`).
#![no_main]

use libfuzzer_sys::fuzz_target;

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

fuzz_target!(|text: &str| {
    let html = embargo_server::markdown::to_html(text);
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    // Text is escaped, so every '<' outside a tag opens a tag the sanitiser wrote; attribute
    // values are double-quoted (a '<' or '>' in one belongs to the value).
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        let tag = rest.get(open + 1..).unwrap_or_default();
        let tag = tag.strip_prefix('/').unwrap_or(tag);
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(tag.len());
        let (name, mut attrs) = tag.split_at(name_end);
        assert!(TAGS.contains(&name), "tag <{name}> in {html}");
        loop {
            attrs = attrs.trim_start();
            if let Some(after) = attrs.strip_prefix('>').or_else(|| attrs.strip_prefix("/>")) {
                attrs = after;
                break;
            }
            assert!(!attrs.is_empty(), "unclosed tag in {html}");
            let (attr, after) = attrs.split_once("=\"").unwrap_or((attrs, ""));
            let (value, after) = after.split_once('"').unwrap_or((after, ""));
            assert!(
                name == "a" && matches!(attr, "href" | "rel"),
                "attribute {attr} on <{name}> in {html}"
            );
            if attr == "href" {
                check_href(value, &html);
            }
            attrs = after;
        }
        rest = attrs;
    }
});

/// An `href` as the browser reads it (entities decoded, tabs and newlines dropped) has no
/// scheme but http, https and mailto.
fn check_href(value: &str, html: &str) {
    let decoded = value
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let squeezed: String = decoded
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    assert!(!squeezed.starts_with("javascript:"), "{html}");
    if let Some((scheme, _)) = squeezed.split_once(':') {
        // RFC 3986: a scheme starts with a letter (`+https:` is a relative path).
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        assert!(
            !is_scheme || matches!(scheme, "http" | "https" | "mailto"),
            "scheme {scheme} in {html}"
        );
    }
}
