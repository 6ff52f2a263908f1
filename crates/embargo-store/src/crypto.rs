//! Encryption at rest: report texts, comments and events of advisories are sealed with
//! XChaCha20-Poly1305 under a key kept outside the database, in a key file.
//!
//! The key file holds one key a line, `v1 <id> <64 hex digits>`; the last line is the
//! current key, the others are older keys still needed to read what they sealed. A sealed
//! value is `enc1:<id>:<hex of 24-byte nonce and ciphertext>`, bound to its place (table,
//! column, advisory) by the associated data, so a value moved to another row does not open.
//! The file is re-read when it changes, so `embargo keys rotate` works beside a running server.
//!
//! It also holds the *audit key*, `audit <64 hex digits>`, which keys the access log's hash
//! chain (see `audit.rs`). Unlike the sealing keys it never changes: a rotation writes it back
//! unchanged, or the chain written before would no longer verify. A key file from before the
//! audit key has no such line; its audit key is then derived from its first sealing key
//! (HMAC-SHA256 with a fixed label), so every copy of that file agrees on it without writing
//! anything, and the first rotation writes the derived key out as the `audit` line before the
//! first sealing key is retired.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::secrets::{hex, random_bytes};
use crate::{Result, StoreError};

const PREFIX: &str = "enc1:";

#[derive(Clone)]
struct Key {
    id: String,
    bytes: [u8; 32],
}

#[derive(Clone)]
struct Keys {
    keys: Vec<Key>,
    /// Keys the access log's chain; survives rotation.
    audit: [u8; 32],
    /// The file's modification time and length when read: a change of either means another
    /// process rewrote it (mtime alone can miss two writes within one clock tick).
    modified: Option<(SystemTime, u64)>,
}

/// The keys that seal and open stored text.
pub struct Keyring {
    path: Option<PathBuf>,
    keys: RwLock<Keys>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    let hashed;
    let key = if key.len() > block.len() {
        hashed = Sha256::digest(key);
        hashed.as_slice()
    } else {
        key
    };
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The audit key of a key file without an `audit` line: derived from its first key, under a
/// label no other use of that key shares.
fn derived_audit_key(first: &Key) -> [u8; 32] {
    hmac_sha256(&first.bytes, &[b"embargo audit chain key v1"])
}

fn parse_keys(text: &str, path: &Path) -> Result<Keys> {
    let mut keys = Vec::new();
    let mut audit = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            StoreError::Internal(format!(
                "{} line {}: expected 'v1 ID HEXKEY' or 'audit HEXKEY'",
                path.display(),
                n + 1
            ))
        };
        let mut parts = line.split_whitespace();
        if line.starts_with("audit") {
            let (Some("audit"), Some(k), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad());
            };
            let bytes: [u8; 32] = unhex(k).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
            if audit.replace(bytes).is_some() {
                return Err(StoreError::Internal(format!(
                    "{} line {}: a second audit key (a key file holds one)",
                    path.display(),
                    n + 1
                )));
            }
            continue;
        }
        let (Some("v1"), Some(id), Some(k), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let bytes: [u8; 32] = unhex(k).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
        keys.push(Key {
            id: id.to_owned(),
            bytes,
        });
    }
    let Some(first) = keys.first() else {
        return Err(StoreError::Internal(format!(
            "{} holds no key",
            path.display()
        )));
    };
    let audit = audit.unwrap_or_else(|| derived_audit_key(first));
    Ok(Keys {
        keys,
        audit,
        modified: None,
    })
}

fn modified(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Writes the key file atomically with owner-only permissions; the audit key always goes
/// with it, so a rotation cannot lose it.
fn write_keys(path: &Path, keys: &[Key], audit: &[u8; 32]) -> Result<()> {
    let io = |e: std::io::Error| StoreError::Internal(format!("writing {}: {e}", path.display()));
    let mut text = String::from(
        "# Embargo's encryption keys. Keep this file secret, and back it up apart from the database:\n\
         # without it, unpublished reports cannot be read. The last line is the current key.\n\
         # The audit line keys the access log's chain: it never changes, keep it.\n",
    );
    text.push_str(&format!("audit {}\n", hex(audit)));
    for k in keys {
        text.push_str(&format!("v1 {} {}\n", k.id, hex(&k.bytes)));
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

impl Keyring {
    /// A keyring with one new key that lives only in memory (tests).
    pub fn ephemeral() -> Result<Self> {
        let key = Key {
            id: "k1".into(),
            bytes: random_bytes::<32>()?,
        };
        Ok(Self {
            path: None,
            keys: RwLock::new(Keys {
                keys: vec![key],
                audit: random_bytes::<32>()?,
                modified: None,
            }),
        })
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Internal(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        let keys = Keys {
            modified: modified(path),
            ..parse_keys(&text, path)?
        };
        Ok(Self {
            path: Some(path.to_owned()),
            keys: RwLock::new(keys),
        })
    }

    /// Creates a key file with one new key; refuses to overwrite one.
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists already",
                path.display()
            )));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Internal(format!("creating {}: {e}", dir.display())))?;
        }
        let key = Key {
            id: "k1".into(),
            bytes: random_bytes::<32>()?,
        };
        write_keys(path, std::slice::from_ref(&key), &random_bytes::<32>()?)?;
        Self::load(path)
    }

    /// Adds a new current key to the key file (the old ones stay, to open older values).
    /// Returns the new key's id.
    pub fn add_key(&self) -> Result<String> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| StoreError::Internal("this keyring has no file".into()))?;
        let Keys {
            mut keys, audit, ..
        } = self.snapshot()?;
        let next = keys
            .iter()
            .filter_map(|k| k.id.strip_prefix('k')?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("k{next}");
        keys.push(Key {
            id: id.clone(),
            bytes: random_bytes::<32>()?,
        });
        write_keys(path, &keys, &audit)?;
        self.reload()?;
        Ok(id)
    }

    /// Drops every key but the current one from the key file.
    pub fn retire_old_keys(&self) -> Result<usize> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| StoreError::Internal("this keyring has no file".into()))?;
        let Keys { keys, audit, .. } = self.snapshot()?;
        let Some(current) = keys.last() else {
            return Ok(0);
        };
        write_keys(path, std::slice::from_ref(current), &audit)?;
        self.reload()?;
        Ok(keys.len() - 1)
    }

    fn reload(&self) -> Result<()> {
        if let Some(path) = &self.path {
            let text = std::fs::read_to_string(path).map_err(|e| {
                StoreError::Internal(format!("cannot read the key file {}: {e}", path.display()))
            })?;
            let keys = Keys {
                modified: modified(path),
                ..parse_keys(&text, path)?
            };
            let mut w = self
                .keys
                .write()
                .map_err(|_| StoreError::Internal("keyring lock".into()))?;
            *w = keys;
        }
        Ok(())
    }

    /// The keys, re-read first if the file changed (a rotation by another process).
    fn snapshot(&self) -> Result<Keys> {
        if let Some(path) = &self.path {
            let on_disk = modified(path);
            let stale = self
                .keys
                .read()
                .map(|k| k.modified != on_disk)
                .unwrap_or(true);
            if stale {
                self.reload()?;
            }
        }
        self.keys
            .read()
            .map(|k| k.clone())
            .map_err(|_| StoreError::Internal("keyring lock".into()))
    }

    /// The key of the access log's chain (never the database's to hold).
    pub(crate) fn audit_key(&self) -> Result<[u8; 32]> {
        Ok(self.snapshot()?.audit)
    }

    /// The id of the key that seals new values.
    pub fn current_id(&self) -> Result<String> {
        Ok(self
            .snapshot()?
            .keys
            .last()
            .map(|k| k.id.clone())
            .unwrap_or_default())
    }

    /// Seals `plain` for the place named by `aad`.
    pub fn seal(&self, aad: &str, plain: &str) -> Result<String> {
        self.seal_raw(aad, plain.as_bytes())
    }

    fn seal_raw(&self, aad: &str, plain: &[u8]) -> Result<String> {
        let keys = self.snapshot()?;
        let key = keys
            .keys
            .last()
            .ok_or_else(|| StoreError::Internal("no encryption key".into()))?;
        let cipher = XChaCha20Poly1305::new((&key.bytes).into());
        let nonce_bytes = random_bytes::<24>()?;
        let nonce = XNonce::from_slice(&nonce_bytes);
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Internal("encryption failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", key.id, hex(&out)))
    }

    /// Seals bytes (an attachment) for the place named by `aad`.
    pub fn seal_bytes(&self, aad: &str, plain: &[u8]) -> Result<String> {
        self.seal_raw(aad, plain)
    }

    /// Opens sealed bytes.
    pub fn open_bytes(&self, aad: &str, stored: &str) -> Result<Vec<u8>> {
        self.open_raw(aad, stored)
    }

    /// Opens a stored value: sealed values are decrypted and checked, others (public text)
    /// returned as they are.
    pub fn open(&self, aad: &str, stored: &str) -> Result<String> {
        if !stored.starts_with(PREFIX) {
            return Ok(stored.to_owned());
        }
        String::from_utf8(self.open_raw(aad, stored)?)
            .map_err(|_| StoreError::Internal("a sealed value is not text".into()))
    }

    fn open_raw(&self, aad: &str, stored: &str) -> Result<Vec<u8>> {
        let rest = stored
            .strip_prefix(PREFIX)
            .ok_or_else(|| StoreError::Internal("the value is not sealed".into()))?;
        let (id, data) = rest
            .split_once(':')
            .ok_or_else(|| StoreError::Internal("malformed sealed value".into()))?;
        let keys = self.snapshot()?;
        let key = keys.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            StoreError::Internal(format!(
                "a stored value is sealed with key '{id}', which the key file does not hold"
            ))
        })?;
        let bytes =
            unhex(data).ok_or_else(|| StoreError::Internal("malformed sealed value".into()))?;
        let (nonce, sealed) = bytes
            .split_at_checked(24)
            .ok_or_else(|| StoreError::Internal("malformed sealed value".into()))?;
        let cipher = XChaCha20Poly1305::new((&key.bytes).into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                StoreError::Internal(
                    "a stored value failed its integrity check (wrong key, or tampered)".into(),
                )
            })
    }

    /// The key id a stored value is sealed with, if it is sealed.
    pub fn sealed_with(stored: &str) -> Option<&str> {
        stored
            .strip_prefix(PREFIX)?
            .split_once(':')
            .map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_place() {
        let k = Keyring::ephemeral().unwrap();
        let sealed = k.seal("comments.body:EMB-1", "secret text").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(
            k.open("comments.body:EMB-1", &sealed).unwrap(),
            "secret text"
        );
        assert!(
            k.open("comments.body:EMB-2", &sealed).is_err(),
            "bound to its place"
        );
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });
        assert!(
            k.open("comments.body:EMB-1", &tampered).is_err(),
            "tampering is detected"
        );
        assert!(
            Keyring::ephemeral()
                .unwrap()
                .open("comments.body:EMB-1", &sealed)
                .is_err(),
            "another key does not open it"
        );
        assert_eq!(k.open("x", "public text").unwrap(), "public text");
    }

    #[test]
    fn key_file_rotation_keeps_old_values_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embargo.key");
        let k = Keyring::create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let old = k.seal("a", "one").unwrap();
        assert_eq!(k.add_key().unwrap(), "k2");
        let new = k.seal("a", "two").unwrap();
        assert_eq!(Keyring::sealed_with(&new), Some("k2"));
        // Another process holding the file sees the new key.
        let other = Keyring::load(&path).unwrap();
        assert_eq!(other.open("a", &old).unwrap(), "one");
        assert_eq!(other.open("a", &new).unwrap(), "two");
        assert_eq!(k.retire_old_keys().unwrap(), 1);
        assert!(other.open("a", &old).is_err(), "retired keys are gone");
        assert!(
            Keyring::create(&path).is_err(),
            "never overwrites a key file"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], &[b"Hi There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_audit_key_survives_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embargo.key");
        let k = Keyring::create(&path).unwrap();
        let audit = k.audit_key().unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains(&hex(&audit))
        );
        k.add_key().unwrap();
        assert_eq!(Keyring::load(&path).unwrap().audit_key().unwrap(), audit);
        k.retire_old_keys().unwrap();
        assert_eq!(Keyring::load(&path).unwrap().audit_key().unwrap(), audit);
        assert_ne!(
            Keyring::ephemeral().unwrap().audit_key().unwrap(),
            audit,
            "each key file has its own"
        );
    }

    #[test]
    fn an_old_key_file_derives_its_audit_key_and_keeps_it_through_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embargo.key");
        let first = "11".repeat(32);
        std::fs::write(&path, format!("# old\nv1 k1 {first}\n")).unwrap();
        let k = Keyring::load(&path).unwrap();
        let derived = k.audit_key().unwrap();
        assert_eq!(
            derived,
            hmac_sha256(&[0x11; 32], &[b"embargo audit chain key v1"])
        );
        // Another copy of the same file agrees, without anything written.
        assert_eq!(Keyring::load(&path).unwrap().audit_key().unwrap(), derived);
        k.add_key().unwrap();
        k.retire_old_keys().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&first), "the first key is retired");
        assert_eq!(Keyring::load(&path).unwrap().audit_key().unwrap(), derived);
        std::fs::write(&path, format!("{text}audit {}\n", "22".repeat(32))).unwrap();
        assert!(Keyring::load(&path).is_err(), "one audit key a file");
    }
}
