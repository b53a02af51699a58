//! The documented shapes against the code: request examples must parse with the API's own
//! strict body parser into the engine's request types, and the JSON the code serializes
//! (domain types, `views`, `ApiError`) must validate against the response schemas.

use crate::fixtures::{
    T0, dead_letter, hit, id, message_view, result_task, task, template, version,
};
use crate::schema_check::{resolve, validate};
use axum::response::IntoResponse;
use herald_api::error::ApiError;
use herald_domain::{
    Account, AccountId, App, AppId, ChannelKind, DeliveryState, FieldError, MessageStatus, Outcome,
    Priority, RateLimit, RetrySchedule, TaskEnvelope,
};
use herald_engine::EngineError;
use herald_engine::accept::{BatchRequest, SendRequest};
use herald_engine::manage::{
    AccountInput, AccountPatch, AppInput, KeyInput, NewApiKey, TemplateInput, TemplatePatch,
    TemplateView,
};
use herald_ports::SearchPage;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// `(operationId, example name, value)` of every JSON request body example.
pub fn request_examples(spec: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            let media = &resolve(spec, &op["requestBody"])["content"]["application/json"];
            for (name, ex) in media["examples"].as_object().into_iter().flatten() {
                let value = resolve(spec, ex)["value"].clone();
                out.push((id.to_owned(), name.clone(), value));
            }
        }
    }
    out
}

fn strict<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    herald_api::json::parse::<T>(&bytes)
        .map(|_| ())
        .map_err(|e| format!("{} {}: {} ({:?})", e.status, e.code, e.message, e.field))
}

/// Parses a request example as the handler of `operation` would.
pub fn parse_as_request(operation: &str, value: &Value) -> Result<(), String> {
    match operation {
        "sendMessage" => strict::<SendRequest>(value),
        "sendBatch" => strict::<BatchRequest>(value),
        "createTemplate" => strict::<TemplateInput>(value),
        "updateTemplate" => strict::<TemplatePatch>(value),
        "createAccount" => strict::<AccountInput>(value),
        "updateAccount" => strict::<AccountPatch>(value),
        "createApp" => strict::<AppInput>(value),
        "createApiKey" => strict::<KeyInput>(value),
        // `ReplayRequest` is private to the route module; the schema check covers it.
        "replayDeadLetters" => Ok(()),
        other => Err(format!(
            "no request type known for {other}: add it to tests/openapi/shapes.rs"
        )),
    }
}

fn to_value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).expect("serializable")
}

/// `(schema name, value the code produces)` for every response shape built outside the
/// engine's I/O.
fn produced() -> Vec<(&'static str, Value)> {
    let account = Account {
        id: id(AccountId::parse, "acc"),
        app_id: id(AppId::parse, "app"),
        name: "sms".into(),
        channel: ChannelKind::AliyunSms,
        config: json!({"sign_name": "Herald"}),
        rate_limit: RateLimit { per_second: 100 },
        retry: RetrySchedule::default(),
        enabled: true,
        has_secret: true,
        created_at: T0,
        updated_at: T0,
    };
    let view = TemplateView {
        template: template(),
        variables: version().variables,
        content: version().content,
    };
    let new_key = NewApiKey {
        id: herald_domain::ApiKeyId::generate(),
        app_id: id(AppId::parse, "app"),
        name: "ci".into(),
        key: "hk_secret".into(),
        created_at: T0,
    };
    let app = App {
        id: id(AppId::parse, "app"),
        name: "billing".into(),
        created_at: T0,
    };
    vec![
        ("Account", to_value(&account)),
        ("AccountList", json!({"items": [to_value(&account)]})),
        ("Template", to_value(template())),
        ("TemplateList", json!({"items": [to_value(template())]})),
        ("TemplateView", to_value(view)),
        ("TemplateVersion", to_value(version())),
        ("App", to_value(&app)),
        ("NewApiKey", to_value(new_key)),
        ("Message", herald_api::views::message(&message_view(true))),
        ("Message", herald_api::views::message(&message_view(false))),
        (
            "SearchPage",
            herald_api::views::search_page(&SearchPage {
                hits: vec![hit(true), hit(false)],
                next_cursor: Some("c1ff".into()),
            }),
        ),
        (
            "SearchPage",
            herald_api::views::search_page(&SearchPage::default()),
        ),
        (
            "DeadLetter",
            herald_api::views::dead_letter(&dead_letter(TaskEnvelope::DeliveryV1(task()))),
        ),
        (
            "DeadLetter",
            herald_api::views::dead_letter(&dead_letter(result_task())),
        ),
    ]
}

/// The body and status of an `ApiError` as the API answers it.
fn error_body(err: ApiError) -> (u16, Value) {
    let resp = err.into_response();
    let status = resp.status().as_u16();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let bytes = rt
        .block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).expect("JSON error body"),
    )
}

fn errors_produced() -> Vec<(u16, Value)> {
    let field = || FieldError::new("receivers[0].to", "must be a phone number");
    let item = herald_engine::error::ItemError {
        index: 3,
        errors: vec![field()],
    };
    let invalid_json = herald_api::json::parse::<SendRequest>(b"{")
        .err()
        .expect("400");
    let unknown = herald_api::json::parse::<SendRequest>(br#"{"receiver": 1}"#)
        .err()
        .expect("422");
    [
        ApiError::from(EngineError::Invalid(vec![field(), field()])),
        ApiError::from(EngineError::InvalidItems(vec![item])),
        ApiError::from(EngineError::IdempotencyConflict),
        ApiError::from(EngineError::NotFound("message")),
        ApiError::from(EngineError::Unavailable("draining".into())),
        invalid_json,
        unknown,
    ]
    .into_iter()
    .map(error_body)
    .collect()
}

pub fn check_response_shapes(spec: &Value) -> Vec<String> {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let mut problems = Vec::new();
    for (name, value) in produced() {
        problems.extend(validate(spec, &schema(name), &value, name));
    }
    for (status, body) in errors_produced() {
        problems.extend(validate(
            spec,
            &schema("Error"),
            &body,
            &format!("Error {status}"),
        ));
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let documented =
            spec["components"]["schemas"]["ErrorBody"]["properties"]["code"]["description"]
                .as_str()
                .unwrap_or_default();
        if !documented.contains(&format!("`{code}` "))
            && !documented.contains(&format!("`{code}`,"))
        {
            problems.push(format!(
                "error code {code} ({status}) is not listed in ErrorBody.code"
            ));
        }
    }
    problems.extend(enum_problems(spec));
    problems
}

/// The documented enums list exactly the values the code serializes.
fn enum_problems(spec: &Value) -> Vec<String> {
    let names = |values: Vec<Value>| -> Vec<String> {
        let mut v: Vec<String> = values
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect();
        v.sort();
        v
    };
    let outcome = |code: &str| Outcome::Permanent {
        code: code.into(),
        message: String::new(),
    };
    let outcomes = [
        Outcome::Delivered { provider_id: None },
        Outcome::Sent { provider_id: None },
        Outcome::Retryable {
            code: "x".into(),
            message: String::new(),
            retry_after_ms: None,
        },
        Outcome::Unknown {
            code: "x".into(),
            message: String::new(),
        },
        Outcome::TokenExpired {
            code: "x".into(),
            message: String::new(),
        },
        outcome("x"),
    ];
    let statuses = [
        MessageStatus::Accepted,
        MessageStatus::Scheduled,
        MessageStatus::InProgress,
        MessageStatus::Delivered,
        MessageStatus::PartiallyDelivered,
        MessageStatus::Failed,
        MessageStatus::Canceled,
        MessageStatus::Expired,
    ];
    let schemas = &spec["components"]["schemas"];
    let checks = [
        (
            "ChannelKind",
            &schemas["ChannelKind"],
            ChannelKind::ALL
                .iter()
                .map(|c| json!(c.as_str()))
                .collect::<Vec<_>>(),
        ),
        (
            "DeliveryState",
            &schemas["DeliveryState"],
            DeliveryState::ALL
                .iter()
                .map(|s| json!(s.as_str()))
                .collect(),
        ),
        (
            "MessageStatus",
            &schemas["MessageStatus"],
            statuses.iter().map(to_value).collect(),
        ),
        (
            "Priority",
            &schemas["Priority"],
            [Priority::Low, Priority::Normal, Priority::High]
                .iter()
                .map(to_value)
                .collect(),
        ),
        (
            "Attempt.outcome",
            &schemas["Attempt"]["properties"]["outcome"],
            outcomes.iter().map(|o| json!(o.class())).collect(),
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(name, schema, code)| {
            let documented = names(schema["enum"].as_array().cloned().unwrap_or_default());
            let code = names(code);
            (documented != code)
                .then(|| format!("{name}: documented {documented:?}, code {code:?}"))
        })
        .collect()
}
