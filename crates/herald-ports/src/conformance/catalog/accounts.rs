//! Catalog checks for channel accounts: settings, write-only secrets and name conflicts.

use super::fixtures::{account, new_app, sealed};
use crate::catalog::Catalog;
use crate::error::StoreError;
use herald_domain::{RateLimit, RetrySchedule};

/// Accounts round-trip; secrets are write-only, kept on update with `None`, replaced with
/// `Some`; `has_secret` reflects what is stored.
pub async fn accounts_and_secrets(catalog: &dyn Catalog) {
    let app = new_app(catalog, "accounts").await;
    let mut plain = account(&app.id, "no-secret");
    catalog.create_account(&plain, None).await.unwrap();
    assert_eq!(
        catalog.get_account(&app.id, &plain.id).await.unwrap(),
        Some(plain.clone())
    );
    assert_eq!(
        catalog
            .get_account_secret(&app.id, &plain.id)
            .await
            .unwrap(),
        None
    );

    let mut sms = account(&app.id, "aliyun-main");
    let first_secret = sealed("k1", b"first");
    catalog
        .create_account(&sms, Some(&first_secret))
        .await
        .unwrap();
    sms.has_secret = true;
    assert_eq!(
        catalog.get_account(&app.id, &sms.id).await.unwrap(),
        Some(sms.clone()),
        "has_secret is true once a secret is stored"
    );
    assert_eq!(
        catalog.get_account_secret(&app.id, &sms.id).await.unwrap(),
        Some(first_secret.clone())
    );

    sms.rate_limit = RateLimit { per_second: 250 };
    sms.config = serde_json::json!({"sign_name": "Herald", "endpoint": "http://127.0.0.1:1"});
    sms.retry = RetrySchedule {
        delays_ms: vec![10, 20],
        jitter_percent: 0,
    };
    sms.enabled = false;
    sms.updated_at = 9_000;
    catalog.update_account(&sms, None).await.unwrap();
    assert_eq!(
        catalog.get_account(&app.id, &sms.id).await.unwrap(),
        Some(sms.clone()),
        "update replaces config, rate limit, retry schedule and enabled"
    );
    assert_eq!(
        catalog.get_account_secret(&app.id, &sms.id).await.unwrap(),
        Some(first_secret),
        "update with secret None keeps the stored secret"
    );
    let rotated = sealed("k2", b"second");
    catalog.update_account(&sms, Some(&rotated)).await.unwrap();
    assert_eq!(
        catalog.get_account_secret(&app.id, &sms.id).await.unwrap(),
        Some(rotated),
        "update with a secret replaces it (key rotation)"
    );

    plain.name = "renamed".into();
    catalog
        .update_account(&plain, Some(&sealed("k1", b"late")))
        .await
        .unwrap();
    plain.has_secret = true;
    assert_eq!(
        catalog.get_account(&app.id, &plain.id).await.unwrap(),
        Some(plain.clone()),
        "a secret can be added by update"
    );

    let listed = catalog.list_accounts(&app.id).await.unwrap();
    assert_eq!(listed.len(), 2, "list_accounts returns the app's accounts");
    assert!(listed.contains(&plain) && listed.contains(&sms));

    let ghost = account(&app.id, "ghost");
    assert!(
        matches!(
            catalog.update_account(&ghost, None).await,
            Err(StoreError::NotFound(_))
        ),
        "updating a missing account is NotFound"
    );
    assert!(catalog.delete_account(&app.id, &sms.id).await.unwrap());
    assert!(!catalog.delete_account(&app.id, &sms.id).await.unwrap());
    assert_eq!(catalog.get_account(&app.id, &sms.id).await.unwrap(), None);
    assert_eq!(
        catalog.get_account_secret(&app.id, &sms.id).await.unwrap(),
        None
    );
}

/// Account names are unique per app, on create and on rename.
pub async fn account_name_conflicts(catalog: &dyn Catalog) {
    let app = new_app(catalog, "account-names").await;
    let first = account(&app.id, "main");
    catalog.create_account(&first, None).await.unwrap();
    assert!(
        matches!(
            catalog
                .create_account(&account(&app.id, "main"), None)
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a second account named 'main' is a conflict"
    );
    let mut second = account(&app.id, "backup");
    catalog.create_account(&second, None).await.unwrap();
    second.name = "main".into();
    assert!(
        matches!(
            catalog.update_account(&second, None).await,
            Err(StoreError::Conflict(_))
        ),
        "renaming onto a taken name is a conflict"
    );
    let other = new_app(catalog, "other").await;
    catalog
        .create_account(&account(&other.id, "main"), None)
        .await
        .unwrap();
}
