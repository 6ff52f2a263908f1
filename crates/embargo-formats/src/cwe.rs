//! Official names of common CWE entries (MITRE's CWE list, version 4.x), for the documents
//! that carry a weakness with its name (CVE `problemTypes`, CSAF `cwe`, whose mandatory test
//! 6.1.11 requires the exact name). An id not listed here has no name in Embargo's output.

/// `(id, name)`: the CWE Top 25 of 2024 and other weaknesses frequent in open-source
/// advisories.
const NAMES: &[(u32, &str)] = &[
    (20, "Improper Input Validation"),
    (
        22,
        "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')",
    ),
    (
        59,
        "Improper Link Resolution Before File Access ('Link Following')",
    ),
    (
        74,
        "Improper Neutralization of Special Elements in Output Used by a Downstream Component ('Injection')",
    ),
    (
        77,
        "Improper Neutralization of Special Elements used in a Command ('Command Injection')",
    ),
    (
        78,
        "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')",
    ),
    (
        79,
        "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')",
    ),
    (
        88,
        "Improper Neutralization of Argument Delimiters in a Command ('Argument Injection')",
    ),
    (
        89,
        "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')",
    ),
    (
        94,
        "Improper Control of Generation of Code ('Code Injection')",
    ),
    (116, "Improper Encoding or Escaping of Output"),
    (117, "Improper Output Neutralization for Logs"),
    (
        119,
        "Improper Restriction of Operations within the Bounds of a Memory Buffer",
    ),
    (121, "Stack-based Buffer Overflow"),
    (122, "Heap-based Buffer Overflow"),
    (125, "Out-of-bounds Read"),
    (129, "Improper Validation of Array Index"),
    (131, "Incorrect Calculation of Buffer Size"),
    (190, "Integer Overflow or Wraparound"),
    (191, "Integer Underflow (Wrap or Wraparound)"),
    (
        200,
        "Exposure of Sensitive Information to an Unauthorized Actor",
    ),
    (208, "Observable Timing Discrepancy"),
    (228, "Improper Handling of Syntactically Invalid Structure"),
    (252, "Unchecked Return Value"),
    (269, "Improper Privilege Management"),
    (276, "Incorrect Default Permissions"),
    (284, "Improper Access Control"),
    (285, "Improper Authorization"),
    (287, "Improper Authentication"),
    (290, "Authentication Bypass by Spoofing"),
    (295, "Improper Certificate Validation"),
    (306, "Missing Authentication for Critical Function"),
    (
        307,
        "Improper Restriction of Excessive Authentication Attempts",
    ),
    (312, "Cleartext Storage of Sensitive Information"),
    (319, "Cleartext Transmission of Sensitive Information"),
    (327, "Use of a Broken or Risky Cryptographic Algorithm"),
    (330, "Use of Insufficiently Random Values"),
    (
        338,
        "Use of Cryptographically Weak Pseudo-Random Number Generator (PRNG)",
    ),
    (345, "Insufficient Verification of Data Authenticity"),
    (347, "Improper Verification of Cryptographic Signature"),
    (352, "Cross-Site Request Forgery (CSRF)"),
    (358, "Improperly Implemented Security Check for Standard"),
    (
        362,
        "Concurrent Execution using Shared Resource with Improper Synchronization ('Race Condition')",
    ),
    (367, "Time-of-check Time-of-use (TOCTOU) Race Condition"),
    (400, "Uncontrolled Resource Consumption"),
    (401, "Missing Release of Memory after Effective Lifetime"),
    (415, "Double Free"),
    (416, "Use After Free"),
    (434, "Unrestricted Upload of File with Dangerous Type"),
    (
        444,
        "Inconsistent Interpretation of HTTP Requests ('HTTP Request/Response Smuggling')",
    ),
    (476, "NULL Pointer Dereference"),
    (502, "Deserialization of Untrusted Data"),
    (522, "Insufficiently Protected Credentials"),
    (532, "Insertion of Sensitive Information into Log File"),
    (601, "URL Redirection to Untrusted Site ('Open Redirect')"),
    (611, "Improper Restriction of XML External Entity Reference"),
    (613, "Insufficient Session Expiration"),
    (617, "Reachable Assertion"),
    (639, "Authorization Bypass Through User-Controlled Key"),
    (668, "Exposure of Resource to Wrong Sphere"),
    (674, "Uncontrolled Recursion"),
    (681, "Incorrect Conversion between Numeric Types"),
    (682, "Incorrect Calculation"),
    (703, "Improper Check or Handling of Exceptional Conditions"),
    (732, "Incorrect Permission Assignment for Critical Resource"),
    (754, "Improper Check for Unusual or Exceptional Conditions"),
    (770, "Allocation of Resources Without Limits or Throttling"),
    (787, "Out-of-bounds Write"),
    (789, "Memory Allocation with Excessive Size Value"),
    (798, "Use of Hard-coded Credentials"),
    (
        829,
        "Inclusion of Functionality from Untrusted Control Sphere",
    ),
    (834, "Excessive Iteration"),
    (
        835,
        "Loop with Unreachable Exit Condition ('Infinite Loop')",
    ),
    (
        843,
        "Access of Resource Using Incompatible Type ('Type Confusion')",
    ),
    (862, "Missing Authorization"),
    (863, "Incorrect Authorization"),
    (908, "Use of Uninitialized Resource"),
    (918, "Server-Side Request Forgery (SSRF)"),
    (
        1321,
        "Improperly Controlled Modification of Object Prototype Attributes ('Prototype Pollution')",
    ),
    (1333, "Inefficient Regular Expression Complexity"),
];

/// The weaknesses this table names, as `("CWE-n", name)`, in id order (for pickers).
pub fn known() -> impl Iterator<Item = (String, &'static str)> {
    NAMES.iter().map(|(id, name)| (format!("CWE-{id}"), *name))
}

/// The official name of `CWE-n`, if this table knows it.
pub fn name(cwe_id: &str) -> Option<&'static str> {
    let n: u32 = cwe_id.strip_prefix("CWE-")?.parse().ok()?;
    NAMES.iter().find(|(id, _)| *id == n).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas::test_data;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            name("CWE-79"),
            Some(
                "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"
            )
        );
        assert_eq!(name("CWE-99999"), None);
        assert_eq!(name("79"), None);
    }

    /// Every CWE name written in the real advisories of the shared samples (forge advisories
    /// and CVE records) agrees with this table where the table has the id.
    #[test]
    fn names_agree_with_real_advisories() {
        let Some(dir) = test_data() else { return };
        let mut checked = 0;
        let mut visit = |id: &str, written: &str| {
            if let Some(ours) = name(id) {
                assert_eq!(ours, written, "{id}");
                checked += 1;
            }
        };
        for sub in ["samples/osv-schema-testdata/ghsa", "samples/cve"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                for n in v["cwes"]["nodes"].as_array().into_iter().flatten() {
                    visit(n["cweId"].as_str().unwrap(), n["name"].as_str().unwrap());
                }
                let cna = v.get("containers").and_then(|c| c.get("cna")).unwrap_or(&v);
                for pt in cna["problemTypes"].as_array().into_iter().flatten() {
                    for d in pt["descriptions"].as_array().into_iter().flatten() {
                        let text = d["description"].as_str().unwrap_or_default();
                        if let Some((id, rest)) = text.split_once(": ") {
                            visit(id, rest);
                        }
                    }
                }
            }
        }
        assert!(checked >= 10, "only {checked} names checked");
    }
}
