//! The CSAF provider layout (CSAF 2.0 section 7): `provider-metadata.json`, and a directory
//! of TLP:WHITE documents by year with `index.txt`, `changes.csv` and a `.sha256` and
//! `.sha512` file beside each document.

use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use time::OffsetDateTime;

/// Where the provider's documents live, under the server's public URL.
pub const WELL_KNOWN: &str = "/.well-known/csaf";
/// The folder of TLP:WHITE documents (CSAF 2.0 section 7.1.13).
pub const WHITE: &str = "white";

/// What the provider says about itself.
pub struct ProviderOptions<'a> {
    pub base_url: &'a str,
    pub publisher_name: &'a str,
    /// When the newest document changed.
    pub last_updated: OffsetDateTime,
    /// Address and fingerprint of the OpenPGP key documents are signed with, if any.
    pub openpgp_key: Option<(&'a str, &'a str)>,
}

/// `provider-metadata.json`, role `csaf_provider`, directory distribution.
pub fn provider_metadata(o: &ProviderOptions<'_>) -> Value {
    let base = o.base_url;
    let mut doc = json!({
        "canonical_url": format!("{base}{WELL_KNOWN}/provider-metadata.json"),
        "distributions": [{"directory_url": format!("{base}{WELL_KNOWN}/{WHITE}")}],
        "last_updated": crate::utc_seconds(o.last_updated),
        "list_on_CSAF_aggregators": true,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": true,
        "publisher": {
            "category": "vendor",
            "name": o.publisher_name,
            "namespace": base,
        },
        "role": "csaf_provider",
    });
    if let (Some((url, fingerprint)), Some(obj)) = (o.openpgp_key, doc.as_object_mut()) {
        obj.insert(
            "public_openpgp_keys".into(),
            json!([{"fingerprint": fingerprint, "url": url}]),
        );
    }
    doc
}

/// A document's place in the directory: `2026/emb-….json`, by the year of its initial
/// release (section 7.1.11).
pub fn directory_path(initial_release: OffsetDateTime, file_name: &str) -> String {
    format!("{}/{file_name}", initial_release.year())
}

/// `index.txt`: every document's path, one per line (section 7.1.15).
pub fn index_txt(paths: &[String]) -> String {
    let mut out = String::new();
    for p in paths {
        out.push_str(p);
        out.push('\n');
    }
    out
}

/// `changes.csv`: path and current release date, most recent first (section 7.1.16).
pub fn changes_csv(entries: &[(String, OffsetDateTime)]) -> String {
    let mut sorted: Vec<&(String, OffsetDateTime)> = entries.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = String::new();
    for (path, at) in sorted {
        out.push_str(&format!(
            "\"{}\",\"{}\"\n",
            path.replace('"', "\"\""),
            crate::utc_seconds(*at)
        ));
    }
    out
}

/// The `.sha256` file of a document (section 7.1.18): `HEX  NAME`, as `sha256sum` writes it.
pub fn sha256_file(bytes: &[u8], file_name: &str) -> String {
    format!("{}  {file_name}\n", hex(&Sha256::digest(bytes)))
}

/// The `.sha512` file of a document.
pub fn sha512_file(bytes: &[u8], file_name: &str) -> String {
    format!("{}  {file_name}\n", hex(&Sha512::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas::{Schema, assert_valid, errors};
    use time::macros::datetime;

    #[test]
    fn provider_metadata_is_valid() {
        let mut doc = provider_metadata(&ProviderOptions {
            base_url: "https://embargo.example",
            publisher_name: "Example Foundation",
            last_updated: datetime!(2026-11-25 10:00:00.123 UTC),
            openpgp_key: Some((
                "https://embargo.example/.well-known/csaf/openpgp/key.asc",
                "0123456789ABCDEF0123456789ABCDEF01234567",
            )),
        });
        assert_valid(Schema::CsafProvider, &doc);
        assert_eq!(doc["last_updated"], "2026-11-25T10:00:00Z");
        assert_eq!(
            doc["distributions"][0]["directory_url"],
            "https://embargo.example/.well-known/csaf/white"
        );
        // The schema bites: a role it does not know is refused.
        doc["role"] = json!("csaf_superprovider");
        if crate::schemas::test_data().is_some() {
            assert!(!errors(Schema::CsafProvider, &doc).is_empty());
        }
    }

    #[test]
    fn directory_files() {
        assert_eq!(
            directory_path(datetime!(2026-01-02 0:00 UTC), "emb-a.json"),
            "2026/emb-a.json"
        );
        assert_eq!(
            index_txt(&["2026/a.json".into(), "2025/b.json".into()]),
            "2026/a.json\n2025/b.json\n"
        );
        let csv = changes_csv(&[
            ("2025/b.json".into(), datetime!(2025-05-01 0:00 UTC)),
            ("2026/a.json".into(), datetime!(2026-01-02 3:04:05 UTC)),
        ]);
        assert_eq!(
            csv,
            "\"2026/a.json\",\"2026-01-02T03:04:05Z\"\n\"2025/b.json\",\"2025-05-01T00:00:00Z\"\n"
        );
        // `printf abc | sha256sum`
        assert_eq!(
            sha256_file(b"abc", "x.json"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  x.json\n"
        );
        assert!(sha512_file(b"abc", "x.json").starts_with("ddaf35a193617aba"));
    }
}
