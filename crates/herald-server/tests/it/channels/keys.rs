//! Test-only key pairs made at run time, as PEM: RSA for FCM service accounts, P-256 for
//! APNs `.p8` keys. The private half goes into the Herald account's secret, the public half
//! into the simulator account that verifies the signatures.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use std::sync::OnceLock;

/// A key pair: PKCS#8 private key and SPKI public key, both PEM.
pub struct PemPair {
    pub private_pem: String,
    pub public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// One RSA-2048 pair per test run (generating it is the slow part).
pub fn rsa() -> &'static PemPair {
    static PAIR: OnceLock<PemPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("generate RSA key");
        PemPair {
            private_pem: pem("PRIVATE KEY", pair.as_der().expect("PKCS#8").as_ref()),
            public_pem: pem(
                "PUBLIC KEY",
                pair.public_key().as_der().expect("SPKI").as_ref(),
            ),
        }
    })
}

/// A fresh P-256 pair.
pub fn p256() -> PemPair {
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(alg).expect("generate P-256 key");
    PemPair {
        private_pem: pem("PRIVATE KEY", pair.to_pkcs8v1().expect("PKCS#8").as_ref()),
        public_pem: pem(
            "PUBLIC KEY",
            pair.public_key().as_der().expect("SPKI").as_ref(),
        ),
    }
}
