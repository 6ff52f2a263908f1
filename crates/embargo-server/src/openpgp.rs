//! The organisations' OpenPGP keys: mail to them may be encrypted (PGP/MIME, RFC 3156, or
//! an inline armored message); Embargo decrypts it with the key imported by
//! `embargo keys openpgp import` and publishes the public half (SECURITY.md, security.txt's
//! `Encryption:`, `/orgs/{org}/openpgp.asc`). Parsing and decryption are rPGP's.

use pgp::composed::{ArmorOptions, Deserializable, Message, SignedSecretKey};
use pgp::types::{KeyDetails, Password};

/// The largest plaintext a message may decrypt to.
const MAX_PLAINTEXT: u64 = 32 * 1024 * 1024;

/// Reads an armored secret key without a passphrase; a readable error otherwise.
pub fn parse_secret_key(armored: &str) -> Result<SignedSecretKey, String> {
    let (key, _) = SignedSecretKey::from_armor_single(armored.as_bytes())
        .map_err(|e| format!("not an armored OpenPGP secret key ({e})"))?;
    key.verify_bindings()
        .map_err(|e| format!("the key's self-signatures do not verify ({e})"))?;
    Ok(key)
}

/// The public half, armored, and its fingerprint (upper-case hex).
pub fn public_key(key: &SignedSecretKey) -> Result<(String, String), String> {
    let armored = key
        .to_public_key()
        .to_armored_string(ArmorOptions::default())
        .map_err(|e| e.to_string())?;
    Ok((armored, format!("{:X}", key.fingerprint())))
}

/// Decrypts one armored OpenPGP message with `key`.
pub fn decrypt(key: &SignedSecretKey, armored: &str) -> Result<Vec<u8>, String> {
    let (msg, _) =
        Message::from_string(armored).map_err(|e| format!("not an OpenPGP message ({e})"))?;
    let mut plain = msg
        .decrypt(&Password::empty(), key)
        .map_err(|e| format!("could not decrypt it with the organisation's key ({e})"))?;
    if plain.is_compressed() {
        plain = plain
            .decompress()
            .map_err(|e| format!("could not decompress it ({e})"))?;
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut plain, MAX_PLAINTEXT + 1),
        &mut out,
    )
    .map_err(|e| format!("could not read the decrypted message ({e})"))?;
    if u64::try_from(out.len()).unwrap_or(u64::MAX) > MAX_PLAINTEXT {
        return Err("the decrypted message is too large".into());
    }
    Ok(out)
}

/// The armored block of an inline-encrypted text, if there is one.
pub fn armored_block(text: &str) -> Option<&str> {
    const BEGIN: &str = "-----BEGIN PGP MESSAGE-----";
    const END: &str = "-----END PGP MESSAGE-----";
    let start = text.find(BEGIN)?;
    let end = text.get(start..)?.find(END)? + start + END.len();
    text.get(start..end)
}
