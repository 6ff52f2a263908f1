//! Random tokens and their stored form. Only a SHA-256 of each token is kept, so a copy of
//! the database gives no working session, API token or link.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::StoreError;

pub fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A new token, `prefix` followed by 256 random bits in hex.
pub fn new_token(prefix: &str) -> Result<String, StoreError> {
    Ok(format!("{prefix}{}", hex(&random_bytes::<32>()?)))
}

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
