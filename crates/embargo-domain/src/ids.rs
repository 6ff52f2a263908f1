//! Advisory identifiers: `EMB-xxxx-xxxx-xxxx`, random, in the style of forge advisory ids.
//!
//! Random rather than sequential so an id says nothing about how many reports an
//! organisation has received, or when.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// The alphabet of the random part: no vowels (no words), no look-alikes (0/o, 1/l).
const ALPHABET: &[u8; 20] = b"23456789cfghjmpqrvwx";
const PREFIX: &str = "EMB-";
/// Bytes of randomness the caller supplies to [`AdvisoryId::from_random`].
pub const RANDOM_BYTES: usize = 12;

/// An advisory id, checked on the way in.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(
    pattern = r"^[Ee][Mm][Bb]-[2-9cfghjmpqrvwx]{4}-[2-9cfghjmpqrvwx]{4}-[2-9cfghjmpqrvwx]{4}$"
)]
pub struct AdvisoryId(String);

impl AdvisoryId {
    /// Builds an id from random bytes (the domain has no randomness of its own).
    pub fn from_random(bytes: [u8; RANDOM_BYTES]) -> Self {
        let mut out = String::from(PREFIX);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            // 256 is not a multiple of 20: the small bias is irrelevant for an identifier.
            let c = ALPHABET
                .get(usize::from(*b) % ALPHABET.len())
                .copied()
                .unwrap_or(b'x');
            out.push(char::from(c));
        }
        Self(out)
    }

    /// Parses `EMB-xxxx-xxxx-xxxx` (the prefix is accepted in any case).
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let err = || FieldError::new("id", "is not an advisory id of the form EMB-xxxx-xxxx-xxxx");
        if s.len() != PREFIX.len() + 14 || !s.is_ascii() {
            return Err(err());
        }
        let (Some(prefix), Some(rest)) = (s.get(..PREFIX.len()), s.get(PREFIX.len()..)) else {
            return Err(err());
        };
        if !prefix.eq_ignore_ascii_case(PREFIX) {
            return Err(err());
        }
        for (i, c) in rest.bytes().enumerate() {
            let ok = if i % 5 == 4 {
                c == b'-'
            } else {
                ALPHABET.contains(&c)
            };
            if !ok {
                return Err(err());
            }
        }
        Ok(Self(format!("{PREFIX}{rest}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a small fixed-size value, for `Copy` types such as an actor bound to one
    /// advisory.
    pub fn key(&self) -> AdvisoryKey {
        let mut k = [0u8; ID_LEN];
        for (slot, b) in k.iter_mut().zip(self.0.bytes()) {
            *slot = b;
        }
        AdvisoryKey(k)
    }
}

const ID_LEN: usize = PREFIX.len() + 14;

/// An [`AdvisoryId`] by value: equal exactly when the ids are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdvisoryKey([u8; ID_LEN]);

impl fmt::Display for AdvisoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AdvisoryId {
    /// The message alone: serde reports the field's path itself.
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|e| e.message)
    }
}

impl From<AdvisoryId> for String {
    fn from(id: AdvisoryId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_ids_parse_back(bytes in proptest::array::uniform12(any::<u8>())) {
            let id = AdvisoryId::from_random(bytes);
            prop_assert_eq!(AdvisoryId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(id.as_str().len(), 18);
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = AdvisoryId::parse(&s);
        }
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in [
            "",
            "EMB-",
            "EMB-2222-2222-222",
            "EMB-2222-2222-2222-",
            "GHSA-2222-2222-2222",
            "EMB-aaaa-2222-2222",
            "EMB-2222_2222-2222",
        ] {
            assert!(AdvisoryId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            AdvisoryId::parse("emb-2345-6789-cfgh").map(|i| i.to_string()),
            Ok("EMB-2345-6789-cfgh".to_owned())
        );
    }
}
