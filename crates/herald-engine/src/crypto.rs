//! Sealing of channel-account secrets at rest: AES-256-GCM under a master key that is named
//! by a key id, stored next to the ciphertext so the master key can rotate (new secrets are
//! sealed with the current key; old ones open with the key they name until re-saved).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use herald_domain::account::SealedSecret;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("master key {0:?} is not base64 of 32 bytes")]
    BadKey(String),
    #[error("no master key with id {0:?} is configured")]
    UnknownKeyId(String),
    #[error("secret could not be decrypted (wrong key or corrupt data)")]
    Decrypt,
}

/// The configured master keys: one current, plus older ones kept for reading.
#[derive(Clone)]
pub struct MasterKeys {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl MasterKeys {
    /// `current` = (id, base64 key); `older` = other ids still needed to open old secrets.
    pub fn new(current: (&str, &str), older: &[(String, String)]) -> Result<Self, CryptoError> {
        let mut keys = HashMap::new();
        for (id, b64) in std::iter::once((current.0.to_owned(), current.1.to_owned()))
            .chain(older.iter().cloned())
        {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| CryptoError::BadKey(id.clone()))?;
            if raw.len() != 32 {
                return Err(CryptoError::BadKey(id));
            }
            let cipher =
                Aes256Gcm::new_from_slice(&raw).map_err(|_| CryptoError::BadKey(id.clone()))?;
            keys.insert(id, cipher);
        }
        Ok(Self {
            current: current.0.to_owned(),
            keys,
        })
    }

    /// A new random key, base64, for first start.
    pub fn generate_key() -> String {
        let key: [u8; 32] = rand::random();
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    pub fn seal(&self, plaintext: &[u8]) -> SealedSecret {
        let cipher = &self.keys[&self.current];
        let nonce_bytes: [u8; 12] = rand::random();
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        SealedSecret {
            key_id: self.current.clone(),
            nonce: nonce_bytes.to_vec(),
            ciphertext,
        }
    }

    pub fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, CryptoError> {
        let cipher = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKeyId(sealed.key_id.clone()))?;
        if sealed.nonce.len() != 12 {
            return Err(CryptoError::Decrypt);
        }
        cipher
            .decrypt(Nonce::from_slice(&sealed.nonce), sealed.ciphertext.as_ref())
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_rotate() {
        let k1 = MasterKeys::generate_key();
        let k2 = MasterKeys::generate_key();
        let old = MasterKeys::new(("k1", &k1), &[]).unwrap();
        let sealed = old.seal(b"{\"token\":\"s3cret\"}");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"s3cret"));
        let rotated = MasterKeys::new(("k2", &k2), &[("k1".into(), k1.clone())]).unwrap();
        assert_eq!(rotated.open(&sealed).unwrap(), b"{\"token\":\"s3cret\"}");
        assert_eq!(rotated.seal(b"x").key_id, "k2");
        let only_new = MasterKeys::new(("k2", &k2), &[]).unwrap();
        assert_eq!(
            only_new.open(&sealed),
            Err(CryptoError::UnknownKeyId("k1".into()))
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(old.open(&tampered), Err(CryptoError::Decrypt));
        assert!(matches!(
            MasterKeys::new(("k", "c2hvcnQ="), &[]),
            Err(CryptoError::BadKey(_))
        ));
    }
}
