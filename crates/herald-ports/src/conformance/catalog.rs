//! Conformance suite for the catalog port.
//!
//! Call [`run_all`] with a fresh (or shared) catalog; each check creates its own apps with
//! new ids, so checks never see each other's rows and may run against one instance. Every
//! failed promise panics with a message naming it.

mod accounts;
mod fixtures;
mod templates;

pub use accounts::{account_name_conflicts, accounts_and_secrets};
pub use templates::{template_name_conflicts, templates_and_versions};

use crate::catalog::Catalog;
use crate::error::StoreError;
use fixtures::{account, api_key, new_app, sealed, template};
use herald_domain::{Account, Template};

/// Runs every catalog check.
pub async fn run_all(catalog: &dyn Catalog) {
    apps_and_keys(catalog).await;
    templates_and_versions(catalog).await;
    template_name_conflicts(catalog).await;
    accounts_and_secrets(catalog).await;
    account_name_conflicts(catalog).await;
    rows_are_scoped_by_app(catalog).await;
    deleting_an_app_deletes_what_it_owns(catalog).await;
}

/// Apps are created, listed, read and deleted; keys are found by hash and listed per app.
pub async fn apps_and_keys(catalog: &dyn Catalog) {
    let app = new_app(catalog, "billing").await;
    assert_eq!(catalog.get_app(&app.id).await.unwrap(), Some(app.clone()));
    assert!(
        catalog.list_apps().await.unwrap().contains(&app),
        "list_apps includes a created app"
    );
    assert!(
        matches!(catalog.create_app(&app).await, Err(StoreError::Conflict(_))),
        "creating an app twice is a conflict"
    );

    let key = api_key(&app.id, "ci");
    catalog.create_api_key(&key).await.unwrap();
    assert_eq!(
        catalog.find_api_key(&key.hash).await.unwrap(),
        Some(key.clone()),
        "a key is found by the hash of its secret"
    );
    assert_eq!(catalog.find_api_key(&"0".repeat(64)).await.unwrap(), None);
    let mut same_hash = api_key(&app.id, "copy");
    same_hash.hash = key.hash.clone();
    assert!(
        matches!(
            catalog.create_api_key(&same_hash).await,
            Err(StoreError::Conflict(_))
        ),
        "two keys cannot share a hash"
    );
    let second = api_key(&app.id, "ops");
    catalog.create_api_key(&second).await.unwrap();
    let mut listed = catalog.list_api_keys(&app.id).await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![key.clone(), second.clone()];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected, "list_api_keys returns the app's keys");

    assert!(catalog.delete_api_key(&app.id, &key.id).await.unwrap());
    assert!(
        !catalog.delete_api_key(&app.id, &key.id).await.unwrap(),
        "deleting a deleted key reports false"
    );
    assert_eq!(catalog.find_api_key(&key.hash).await.unwrap(), None);

    assert!(catalog.delete_app(&app.id).await.unwrap());
    assert_eq!(catalog.get_app(&app.id).await.unwrap(), None);
    assert!(!catalog.delete_app(&app.id).await.unwrap());
}

/// App B reads nothing of app A's, even knowing the ids, and cannot change or delete it.
pub async fn rows_are_scoped_by_app(catalog: &dyn Catalog) {
    let a = new_app(catalog, "tenant-a").await;
    let b = new_app(catalog, "tenant-b").await;
    let key = api_key(&a.id, "a-key");
    catalog.create_api_key(&key).await.unwrap();
    let (tpl, v1) = template(&a.id, "shared-name");
    catalog.create_template(&tpl, &v1).await.unwrap();
    let acc = account(&a.id, "shared-name");
    catalog
        .create_account(&acc, Some(&sealed("k1", b"a-secret")))
        .await
        .unwrap();

    assert_eq!(catalog.list_api_keys(&b.id).await.unwrap(), vec![]);
    assert!(!catalog.delete_api_key(&b.id, &key.id).await.unwrap());
    assert_eq!(catalog.get_template(&b.id, &tpl.id).await.unwrap(), None);
    assert_eq!(
        catalog
            .get_template_by_name(&b.id, "shared-name")
            .await
            .unwrap(),
        None
    );
    assert_eq!(catalog.list_templates(&b.id).await.unwrap(), vec![]);
    assert_eq!(
        catalog
            .get_template_version(&b.id, &tpl.id, 1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        catalog
            .list_template_versions(&b.id, &tpl.id)
            .await
            .unwrap(),
        vec![]
    );
    assert!(!catalog.delete_template(&b.id, &tpl.id).await.unwrap());
    assert_eq!(catalog.get_account(&b.id, &acc.id).await.unwrap(), None);
    assert_eq!(
        catalog.get_account_secret(&b.id, &acc.id).await.unwrap(),
        None
    );
    assert_eq!(catalog.list_accounts(&b.id).await.unwrap(), vec![]);
    assert!(!catalog.delete_account(&b.id, &acc.id).await.unwrap());

    let hijack = Account {
        app_id: b.id.clone(),
        ..acc.clone()
    };
    assert!(
        matches!(
            catalog.update_account(&hijack, None).await,
            Err(StoreError::NotFound(_))
        ),
        "an update naming another app does not reach the row"
    );
    let hijack_tpl = Template {
        app_id: b.id.clone(),
        ..tpl.clone()
    };
    assert!(
        matches!(
            catalog.update_template(&hijack_tpl, None).await,
            Err(StoreError::NotFound(_))
        ),
        "a template update naming another app does not reach the row"
    );
    assert_eq!(
        catalog.get_template(&a.id, &tpl.id).await.unwrap(),
        Some(tpl),
        "app A's rows are untouched"
    );
}

/// Deleting an app removes its keys, templates and accounts, and nothing of other apps.
pub async fn deleting_an_app_deletes_what_it_owns(catalog: &dyn Catalog) {
    let doomed = new_app(catalog, "doomed").await;
    let kept = new_app(catalog, "kept").await;
    for app in [&doomed, &kept] {
        catalog
            .create_api_key(&api_key(&app.id, "key"))
            .await
            .unwrap();
        let (tpl, v1) = template(&app.id, "tpl");
        catalog.create_template(&tpl, &v1).await.unwrap();
        catalog
            .create_account(&account(&app.id, "acc"), Some(&sealed("k1", b"s")))
            .await
            .unwrap();
    }
    let doomed_key = catalog.list_api_keys(&doomed.id).await.unwrap();
    assert!(catalog.delete_app(&doomed.id).await.unwrap());
    assert_eq!(catalog.list_api_keys(&doomed.id).await.unwrap(), vec![]);
    assert_eq!(
        catalog.find_api_key(&doomed_key[0].hash).await.unwrap(),
        None,
        "a deleted app's keys no longer authenticate"
    );
    assert_eq!(catalog.list_templates(&doomed.id).await.unwrap(), vec![]);
    assert_eq!(catalog.list_accounts(&doomed.id).await.unwrap(), vec![]);
    assert_eq!(catalog.list_api_keys(&kept.id).await.unwrap().len(), 1);
    assert_eq!(catalog.list_templates(&kept.id).await.unwrap().len(), 1);
    assert_eq!(catalog.list_accounts(&kept.id).await.unwrap().len(), 1);
    assert!(!catalog.list_apps().await.unwrap().contains(&doomed));
}
