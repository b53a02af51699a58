//! Builders for the catalog checks: fresh ids every call, fixed timestamps.

use crate::catalog::Catalog;
use herald_domain::account::SealedSecret;
use herald_domain::{
    Account, AccountId, ApiKey, ApiKeyId, App, AppId, ChannelKind, RateLimit, RetrySchedule,
    Template, TemplateContent, TemplateId, TemplateVersion, VariableSpec,
};

pub(super) async fn new_app(catalog: &dyn Catalog, name: &str) -> App {
    let app = App {
        id: AppId::generate(),
        name: name.into(),
        created_at: 1_000,
    };
    catalog.create_app(&app).await.unwrap();
    app
}

pub(super) fn api_key(app: &AppId, name: &str) -> ApiKey {
    let id = ApiKeyId::generate();
    // Any distinct lowercase hex string stands in for the SHA-256: the id, hex-encoded.
    let hash: String = id.as_str().bytes().map(|b| format!("{b:02x}")).collect();
    ApiKey {
        id,
        app_id: app.clone(),
        name: name.into(),
        hash,
        created_at: 1_000,
    }
}

pub(super) fn template(app: &AppId, name: &str) -> (Template, TemplateVersion) {
    let id = TemplateId::generate();
    let head = Template {
        id: id.clone(),
        app_id: app.clone(),
        name: name.into(),
        channel: ChannelKind::AliyunSms,
        default_account_id: Some(AccountId::generate()),
        enabled: true,
        current_version: 1,
        created_at: 1_000,
        updated_at: 1_000,
    };
    let first = TemplateVersion {
        template_id: id,
        version: 1,
        variables: vec![
            VariableSpec {
                name: "name".into(),
                sensitive: false,
            },
            VariableSpec {
                name: "code".into(),
                sensitive: true,
            },
        ],
        content: TemplateContent {
            title: Some("Welcome".into()),
            body: "您好 {{ name }}，验证码 {{ code }}".into(),
            fields: [("template_code".to_string(), "SMS_1".to_string())].into(),
        },
        created_at: 1_000,
    };
    (head, first)
}

pub(super) fn account(app: &AppId, name: &str) -> Account {
    Account {
        id: AccountId::generate(),
        app_id: app.clone(),
        name: name.into(),
        channel: ChannelKind::AliyunSms,
        config: serde_json::json!({"sign_name": "Herald"}),
        rate_limit: RateLimit { per_second: 100 },
        retry: RetrySchedule::default(),
        enabled: true,
        has_secret: false,
        created_at: 1_000,
        updated_at: 1_000,
    }
}

pub(super) fn sealed(key_id: &str, ciphertext: &[u8]) -> SealedSecret {
    SealedSecret {
        key_id: key_id.into(),
        nonce: vec![7; 12],
        ciphertext: ciphertext.to_vec(),
    }
}
