//! WeChat's callback security, shared by Herald's callback endpoint (which verifies and
//! decrypts) and the simulator (which signs and encrypts), so the two cannot drift apart.
//!
//! - `signature = hex(sha1(concat(sort([token, timestamp, nonce]))))` on every callback;
//! - safe mode adds `msg_signature` = the same over `[token, timestamp, nonce, Encrypt]`;
//! - `Encrypt` = base64(AES-256-CBC(key, iv = key[..16], PKCS#7 padded to 32 bytes,
//!   16 random bytes ‖ 4-byte big-endian length ‖ xml ‖ appid)), where
//!   key = base64-decode(EncodingAESKey + "=") (43 characters → 32 bytes).
//!
//! Tested against the vector of Tencent's `WXBizMsgCrypt` sample (token `spamtest`).

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use sha1::{Digest, Sha1};

/// WeChat pads to 32-byte blocks (not AES's 16).
const PAD_BLOCK: usize = 32;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// The EncodingAESKey's last character carries two bits beyond the 32 bytes; WeChat's own
/// libraries ignore them, so decoding must too.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("EncodingAESKey must be 43 base64 characters")]
    BadKey,
    #[error("Encrypt is not base64")]
    NotBase64,
    #[error("Encrypt does not decrypt to a WeChat message (bad key or corrupted)")]
    BadCiphertext,
}

/// `hex(sha1(concat(sort(parts))))`.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Whether `presented` is the signature of `parts` (compared in constant time).
pub fn verify(presented: &str, parts: &[&str]) -> bool {
    let expected = signature(parts);
    let presented = presented.trim().to_ascii_lowercase();
    expected.len() == presented.len()
        && expected
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The 32-byte key of an EncodingAESKey.
#[derive(Clone)]
pub struct AesKey([u8; 32]);

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl AesKey {
    pub fn from_encoding_key(encoding_aes_key: &str) -> Result<Self, CryptoError> {
        let key = encoding_aes_key.trim();
        if key.len() != 43 {
            return Err(CryptoError::BadKey);
        }
        let bytes = LENIENT
            .decode(format!("{key}="))
            .map_err(|_| CryptoError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self(bytes))
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }

    /// The base64 `Encrypt` value carrying `xml` for `appid`, with the given random prefix.
    pub fn encrypt(&self, xml: &str, appid: &str, random: [u8; 16]) -> String {
        let mut plain = Vec::with_capacity(20 + xml.len() + appid.len() + PAD_BLOCK);
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&(xml.len() as u32).to_be_bytes());
        plain.extend_from_slice(xml.as_bytes());
        plain.extend_from_slice(appid.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        let cipher = Encryptor::new(&self.0.into(), &self.iv().into())
            .encrypt_padded_vec_mut::<NoPadding>(&plain);
        STANDARD.encode(cipher)
    }

    /// The xml and appid inside an `Encrypt` value.
    pub fn decrypt(&self, encrypted: &str) -> Result<(String, String), CryptoError> {
        let cipher = STANDARD
            .decode(encrypted.trim())
            .map_err(|_| CryptoError::NotBase64)?;
        if cipher.is_empty() || cipher.len() % 16 != 0 {
            return Err(CryptoError::BadCiphertext);
        }
        let plain = Decryptor::new(&self.0.into(), &self.iv().into())
            .decrypt_padded_vec_mut::<NoPadding>(&cipher)
            .map_err(|_| CryptoError::BadCiphertext)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::BadCiphertext)?);
        if !(1..=PAD_BLOCK).contains(&pad) || pad > plain.len() {
            return Err(CryptoError::BadCiphertext);
        }
        let content = &plain[..plain.len() - pad];
        if content.len() < 20 {
            return Err(CryptoError::BadCiphertext);
        }
        let mut length = [0u8; 4];
        length.copy_from_slice(&content[16..20]);
        let length = u32::from_be_bytes(length) as usize;
        let rest = &content[20..];
        if length > rest.len() {
            return Err(CryptoError::BadCiphertext);
        }
        let xml = std::str::from_utf8(&rest[..length]).map_err(|_| CryptoError::BadCiphertext)?;
        let appid = std::str::from_utf8(&rest[length..]).map_err(|_| CryptoError::BadCiphertext)?;
        Ok((xml.to_owned(), appid.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tencent's WXBizMsgCrypt sample (also wechatpy's test data).
    const TOKEN: &str = "spamtest";
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wx2c2769f8efd9abc2";
    const TIMESTAMP: &str = "1409735669";
    const NONCE: &str = "1320562132";
    const MSG_SIGNATURE: &str = "5d197aaffba7e9b25a30732f161a50dee96bd5fa";
    const ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";

    #[test]
    fn the_published_sample_verifies_and_decrypts() {
        assert_eq!(
            signature(&[TOKEN, TIMESTAMP, NONCE, ENCRYPT]),
            MSG_SIGNATURE
        );
        assert!(verify(MSG_SIGNATURE, &[NONCE, ENCRYPT, TOKEN, TIMESTAMP]));
        // Computed independently with Python's hashlib.
        assert_eq!(
            signature(&[TOKEN, TIMESTAMP, NONCE]),
            "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
        );
        let key = AesKey::from_encoding_key(KEY).unwrap();
        let (xml, appid) = key.decrypt(ENCRYPT).unwrap();
        assert_eq!(appid, APPID);
        assert!(xml.starts_with("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"));
        assert!(xml.contains("<Content><![CDATA[abcdteT]]></Content>"));
    }

    #[test]
    fn encryption_round_trips_and_tampering_is_caught() {
        let key = AesKey::from_encoding_key(KEY).unwrap();
        let xml = "<xml><MsgID>1</MsgID></xml>";
        let sealed = key.encrypt(xml, APPID, [7; 16]);
        assert_eq!(
            key.decrypt(&sealed).unwrap(),
            (xml.to_owned(), APPID.to_owned())
        );
        let other = AesKey::from_encoding_key(&"B".repeat(43)).unwrap();
        assert!(
            other
                .decrypt(&sealed)
                .is_err_and(|e| e == CryptoError::BadCiphertext)
                || other.decrypt(&sealed).is_ok_and(|(x, _)| x != xml)
        );
        assert_eq!(
            key.decrypt("not base64!").unwrap_err(),
            CryptoError::NotBase64
        );
        assert!(AesKey::from_encoding_key("short").is_err());
        assert!(!verify(
            MSG_SIGNATURE,
            &[TOKEN, TIMESTAMP, "other", ENCRYPT]
        ));
        assert!(!verify("", &[TOKEN]));
    }
}
