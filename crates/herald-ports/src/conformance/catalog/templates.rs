//! Catalog checks for templates: heads, versions, renames and name conflicts.

use super::fixtures::{new_app, template};
use crate::catalog::Catalog;
use crate::error::StoreError;
use herald_domain::{TemplateContent, TemplateVersion};

/// Templates keep their head and versions; updates append versions; deletion keeps versions.
pub async fn templates_and_versions(catalog: &dyn Catalog) {
    let app = new_app(catalog, "templates").await;
    let (mut tpl, v1) = template(&app.id, "welcome");
    catalog.create_template(&tpl, &v1).await.unwrap();
    assert_eq!(
        catalog.get_template(&app.id, &tpl.id).await.unwrap(),
        Some(tpl.clone())
    );
    assert_eq!(
        catalog
            .get_template_by_name(&app.id, "welcome")
            .await
            .unwrap(),
        Some(tpl.clone())
    );
    assert_eq!(
        catalog
            .get_template_version(&app.id, &tpl.id, 1)
            .await
            .unwrap(),
        Some(v1.clone()),
        "the first version is stored with the template, variables and content intact"
    );

    // An edit of content appends version 2 and moves the head.
    let v2 = TemplateVersion {
        version: 2,
        content: TemplateContent {
            title: None,
            body: "Hi {{ name }}, code {{ code }}".into(),
            fields: Default::default(),
        },
        created_at: 2_000,
        ..v1.clone()
    };
    tpl.current_version = 2;
    tpl.updated_at = 2_000;
    tpl.enabled = false;
    catalog.update_template(&tpl, Some(&v2)).await.unwrap();
    let head = catalog.get_template(&app.id, &tpl.id).await.unwrap();
    assert_eq!(head, Some(tpl.clone()), "update replaces the head");
    assert_eq!(
        catalog
            .list_template_versions(&app.id, &tpl.id)
            .await
            .unwrap(),
        vec![v1.clone(), v2.clone()],
        "versions are listed oldest first"
    );
    assert!(
        catalog.update_template(&tpl, Some(&v2)).await.is_err(),
        "a version number cannot be written twice"
    );
    assert_eq!(
        catalog.get_template(&app.id, &tpl.id).await.unwrap(),
        Some(tpl.clone()),
        "a failed update leaves the head as it was"
    );

    // A head-only update (rename) keeps the versions.
    tpl.name = "welcome-v2".into();
    catalog.update_template(&tpl, None).await.unwrap();
    assert_eq!(
        catalog
            .get_template_by_name(&app.id, "welcome-v2")
            .await
            .unwrap()
            .map(|t| t.id),
        Some(tpl.id.clone())
    );
    assert_eq!(
        catalog
            .get_template_by_name(&app.id, "welcome")
            .await
            .unwrap(),
        None,
        "the old name is free after a rename"
    );

    let (missing, _) = template(&app.id, "ghost");
    assert!(
        matches!(
            catalog.update_template(&missing, None).await,
            Err(StoreError::NotFound(_))
        ),
        "updating a missing template is NotFound"
    );

    let (other, other_v1) = template(&app.id, "other");
    catalog.create_template(&other, &other_v1).await.unwrap();
    let names: Vec<String> = catalog
        .list_templates(&app.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 2, "list_templates returns both: {names:?}");
    assert!(names.contains(&"welcome-v2".to_string()) && names.contains(&"other".to_string()));

    assert!(catalog.delete_template(&app.id, &tpl.id).await.unwrap());
    assert!(!catalog.delete_template(&app.id, &tpl.id).await.unwrap());
    assert_eq!(catalog.get_template(&app.id, &tpl.id).await.unwrap(), None);
    assert_eq!(
        catalog
            .get_template_version(&app.id, &tpl.id, 2)
            .await
            .unwrap(),
        Some(v2),
        "versions outlive the head so queued messages still render"
    );
}

/// Template names are unique per app, on create and on rename; other apps may reuse them.
pub async fn template_name_conflicts(catalog: &dyn Catalog) {
    let app = new_app(catalog, "names").await;
    let (first, v1) = template(&app.id, "otp");
    catalog.create_template(&first, &v1).await.unwrap();
    let (clash, clash_v1) = template(&app.id, "otp");
    assert!(
        matches!(
            catalog.create_template(&clash, &clash_v1).await,
            Err(StoreError::Conflict(_))
        ),
        "a second template named 'otp' in the same app is a conflict"
    );
    assert_eq!(
        catalog.get_template(&app.id, &clash.id).await.unwrap(),
        None,
        "nothing of the conflicting template was stored"
    );
    assert_eq!(
        catalog
            .list_template_versions(&app.id, &clash.id)
            .await
            .unwrap(),
        vec![],
        "nor its first version"
    );

    let (mut second, second_v1) = template(&app.id, "notice");
    catalog.create_template(&second, &second_v1).await.unwrap();
    second.name = "otp".into();
    assert!(
        matches!(
            catalog.update_template(&second, None).await,
            Err(StoreError::Conflict(_))
        ),
        "renaming onto a taken name is a conflict"
    );

    let elsewhere = new_app(catalog, "elsewhere").await;
    let (reuse, reuse_v1) = template(&elsewhere.id, "otp");
    catalog.create_template(&reuse, &reuse_v1).await.unwrap();
}
