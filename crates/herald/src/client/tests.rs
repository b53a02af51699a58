//! Client commands against an echo server that reflects what it received.

use super::*;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method as AxumMethod, StatusCode, Uri};
use axum::response::IntoResponse;
use std::path::PathBuf;

async fn echo(method: AxumMethod, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    if uri.path() == "/v1/templates/missing" {
        let error = json!({"error": {"code": "not_found", "message": "no template named missing"}});
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    }
    if uri.path() == "/v1/messages/bad" {
        return (StatusCode::BAD_GATEWAY, "upstream broke").into_response();
    }
    if method == AxumMethod::DELETE && uri.path().starts_with("/v1/accounts") {
        return StatusCode::NO_CONTENT.into_response();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let echoed = json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "authorization": header("authorization"),
        "idempotency_key": header("idempotency-key"),
        "body": body,
    });
    (StatusCode::ACCEPTED, axum::Json(echoed)).into_response()
}

async fn api() -> ApiArgs {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(echo)).await });
    ApiArgs {
        url: format!("http://{addr}/"),
        key: Some("hk_test".into()),
    }
}

#[tokio::test]
async fn send_posts_receivers_variables_and_idempotency_key() {
    let args = SendArgs {
        api: api().await,
        template: "otp".into(),
        to: vec!["+8613800000000".into(), "+8613900000000".into()],
        vars: vec![("code".into(), json!("4321")), ("ttl".into(), json!(5))],
        send_at: Some("2026-01-01T08:00:00+08:00".into()),
        idempotency_key: Some("order-7".into()),
    };
    let echoed = send(args).await.unwrap().unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/v1/messages");
    assert_eq!(echoed["authorization"], "Bearer hk_test");
    assert_eq!(echoed["idempotency_key"], "order-7");
    assert_eq!(
        echoed["body"],
        json!({
            "template": "otp",
            "receivers": [{"to": "+8613800000000"}, {"to": "+8613900000000"}],
            "variables": {"code": "4321", "ttl": 5},
            "send_at": "2026-01-01T08:00:00+08:00",
        })
    );
}

#[tokio::test]
async fn message_commands_use_their_paths_and_query() {
    let api = api().await;
    let listed = message(
        api.clone(),
        MessageCommand::List {
            status: Some("failed".into()),
            q: Some("张三".into()),
            limit: Some(5),
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(listed["method"], "GET");
    assert_eq!(listed["path"], "/v1/messages");
    assert_eq!(
        listed["query"],
        "status=failed&q=%E5%BC%A0%E4%B8%89&limit=5"
    );

    let canceled = message(
        api.clone(),
        MessageCommand::Cancel {
            id: "msg_01H".into(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(canceled["method"], "DELETE");
    assert_eq!(canceled["path"], "/v1/messages/msg_01H");

    let err = message(api, MessageCommand::Get { id: "bad".into() })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "HTTP 502: upstream broke");
}

#[tokio::test]
async fn resources_create_from_file_delete_and_report_api_errors() {
    let api = api().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    std::fs::write(&file, r#"{"name": "welcome", "channel": "webhook"}"#).unwrap();
    let created = resource(api.clone(), "templates", ResourceCommand::Create { file })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created["path"], "/v1/templates");
    assert_eq!(created["body"]["name"], "welcome");

    let deleted = resource(
        api.clone(),
        "accounts",
        ResourceCommand::Delete { id: "a b/c".into() },
    )
    .await
    .unwrap();
    assert_eq!(deleted, None, "204 has no body to print");

    let got = resource(
        api.clone(),
        "accounts",
        ResourceCommand::Get { id: "a b/c".into() },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got["path"], "/v1/accounts/a%20b%2Fc");

    let err = resource(
        api.clone(),
        "templates",
        ResourceCommand::Get {
            id: "missing".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "HTTP 404 not_found: no template named missing"
    );

    let err = resource(
        api,
        "templates",
        ResourceCommand::Create {
            file: PathBuf::from("/nonexistent.json"),
        },
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent.json"));
}

#[test]
fn api_error_includes_field_when_present() {
    let body = json!({"error": {"code": "invalid", "message": "missing variable", "field": "variables.code"}});
    let err = api_error(422, Some(&body), "");
    assert_eq!(
        err.to_string(),
        "HTTP 422 invalid: missing variable (field: variables.code)"
    );
}
