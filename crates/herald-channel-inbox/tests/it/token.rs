//! User tokens: a published vector, round trips and every refusal.

use herald_channel_inbox::{
    MintError, StaticUserSecrets, TokenError, UserTokenVerifier, mint_user_token,
    mint_user_token_until,
};
use herald_domain::AppId;
use std::sync::Arc;
use std::time::Duration;

const VECTOR_SECRET: &[u8] = b"s3cret-for-tests";
const VECTOR_APP: &str = "app_01jd0000000000000000000000";
/// Computed independently with Python's `hmac`/`base64` (see docs/inbox.md).
const VECTOR_TOKEN: &str = "hkusr.v1.eyJhcHAiOiJhcHBfMDFqZDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAiLCJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzY3MjI1NjAwfQ.s3M0eKgxlo7g-ZXb6lY7xP9SfQEjjfl8hUJZ9fQqFIc";
const VECTOR_EXP: i64 = 1_767_225_600;

fn verifier() -> UserTokenVerifier {
    let app = AppId::parse(VECTOR_APP).unwrap();
    UserTokenVerifier::new(Arc::new(StaticUserSecrets::new().with(app, VECTOR_SECRET)))
}

#[tokio::test]
async fn the_reference_signer_matches_the_published_vector() {
    let app = AppId::parse(VECTOR_APP).unwrap();
    let token = mint_user_token_until(VECTOR_SECRET, &app, "user-42", VECTOR_EXP).unwrap();
    assert_eq!(token, VECTOR_TOKEN);
    let user = verifier()
        .verify_at(VECTOR_TOKEN, VECTOR_EXP - 1)
        .await
        .unwrap();
    assert_eq!(
        (user.app, user.user.as_str(), user.expires_at),
        (app, "user-42", VECTOR_EXP)
    );
}

#[tokio::test]
async fn expiry_is_exclusive() {
    assert_eq!(
        verifier().verify_at(VECTOR_TOKEN, VECTOR_EXP).await,
        Err(TokenError::Expired)
    );
    let app = AppId::parse(VECTOR_APP).unwrap();
    let fresh = mint_user_token(VECTOR_SECRET, &app, "u", Duration::from_secs(60)).unwrap();
    assert!(verifier().verify(&fresh).await.is_ok());
}

#[tokio::test]
async fn tampered_and_malformed_tokens_are_refused() {
    let v = verifier();
    let now = VECTOR_EXP - 10;
    let (signed, signature) = VECTOR_TOKEN.rsplit_once('.').unwrap();

    // Another user in the payload, same signature.
    let app = AppId::parse(VECTOR_APP).unwrap();
    let other = mint_user_token_until(b"other", &app, "user-43", VECTOR_EXP).unwrap();
    let (other_signed, _) = other.rsplit_once('.').unwrap();
    let swapped = format!("{other_signed}.{signature}");
    assert_eq!(
        v.verify_at(&swapped, now).await,
        Err(TokenError::BadSignature)
    );

    // A flipped signature character.
    let mut bad_sig = signature.to_owned();
    let flipped = if bad_sig.starts_with('A') { "B" } else { "A" };
    bad_sig.replace_range(0..1, flipped);
    assert_eq!(
        v.verify_at(&format!("{signed}.{bad_sig}"), now).await,
        Err(TokenError::BadSignature)
    );

    // Signed with another secret.
    let foreign = mint_user_token_until(b"not-the-secret", &app, "user-42", VECTOR_EXP).unwrap();
    assert_eq!(
        v.verify_at(&foreign, now).await,
        Err(TokenError::BadSignature)
    );

    // An app without a secret.
    let stranger =
        mint_user_token_until(VECTOR_SECRET, &AppId::generate(), "u", VECTOR_EXP).unwrap();
    assert_eq!(
        v.verify_at(&stranger, now).await,
        Err(TokenError::UnknownApp)
    );

    assert_eq!(v.verify_at("", now).await, Err(TokenError::Missing));
    for garbage in [
        "hkusr.v2.e30.AAAA",
        "hkusr.v1.nodot",
        "hkusr.v1.!!!.AAAA",
        "hkusr.v1.e30.AAAA",
        "Bearer xyz",
        &VECTOR_TOKEN.replace("hkusr.v1.", "hkusr.v1.x"),
        &"a".repeat(5000),
    ] {
        assert!(
            matches!(
                v.verify_at(garbage, now).await,
                Err(TokenError::Malformed(_))
            ),
            "{garbage:.40} is malformed"
        );
    }
}

#[test]
fn minting_refuses_empty_secrets_and_bad_user_ids() {
    let app = AppId::generate();
    let ttl = Duration::from_secs(60);
    assert_eq!(
        mint_user_token(b"", &app, "u", ttl),
        Err(MintError::EmptySecret)
    );
    assert!(matches!(
        mint_user_token(b"k", &app, "has space", ttl),
        Err(MintError::InvalidUser(_))
    ));
}
