//! OpenPGP signatures of the CSAF provider's documents (CSAF 2.0 section 7.1.19: a `.asc`
//! beside each document), made with the key in `publishing.openpgp_key_file`: an
//! ASCII-armored secret key without a passphrase (Ed25519 recommended), kept like the
//! data-at-rest key file.

use std::path::Path;

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{KeyDetails, Password};

pub struct Signer {
    key: SignedSecretKey,
    /// The public key, armored, as served.
    pub public_armored: String,
    /// Upper-case hex, as CSAF's provider metadata writes it.
    pub fingerprint: String,
}

impl Signer {
    /// Reads the key file; a readable error says what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (key, _) =
            SignedSecretKey::from_armor_single(std::io::BufReader::new(file)).map_err(|e| {
                format!(
                    "{}: not an armored OpenPGP secret key ({e})",
                    path.display()
                )
            })?;
        let public_armored = key
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| e.to_string())?;
        let fingerprint = format!("{:X}", key.fingerprint());
        let signer = Self {
            key,
            public_armored,
            fingerprint,
        };
        // Fails now, not on the first request, when the key cannot sign (a passphrase).
        signer
            .sign(b"check")
            .map_err(|e| format!("{}: the key cannot sign ({e})", path.display()))?;
        Ok(signer)
    }

    /// An armored detached signature of `data`.
    pub fn sign(&self, data: &[u8]) -> Result<String, String> {
        let sig = DetachedSignature::sign_binary_data(
            rand::rngs::OsRng,
            &self.key.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha512,
            data,
        )
        .map_err(|e| e.to_string())?;
        sig.to_armored_string(ArmorOptions::default())
            .map_err(|e| e.to_string())
    }
}
