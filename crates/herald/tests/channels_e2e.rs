//! One message per channel through the real binaries: `herald sim` runs as its own process,
//! `herald serve` runs without the built-in simulator (`HERALD_SIM__BUILTIN=false`), and every
//! account points at the external simulator by absolute URL — as an integrator's staging
//! setup would. Credentials are configured on the simulator's accounts first, receipts
//! (Aliyun SMS, WeChat template messages) are pushed by the simulator back to the server's
//! `/callbacks/...`, and the inbox message is read back through `/v1/inbox` with a user
//! token. Email is left to the in-process tests: it needs a Python SMTP server.

#[allow(dead_code)] // the crash tests use the rest of the support module
mod support;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::ADMIN_KEY;

/// How long the whole set gets to reach its final states.
const SETTLE: Duration = Duration::from_secs(15);

/// A running server and simulator, and an app's key on the server.
struct Stack {
    http: reqwest::Client,
    base: String,
    sim: String,
    app_id: String,
    key: String,
}

/// One channel's case: the Herald account, the template and the one message.
struct Case {
    channel: &'static str,
    config: Value,
    secret: Value,
    content: Value,
    to: String,
    variables: Value,
    /// `sent` for channels with receipts (then `delivered` once the receipt arrived).
    first_state: &'static str,
}

impl Stack {
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `POST` to the server with `key`, expecting `expected`.
    async fn post(&self, path: &str, key: &str, body: Value, expected: u16) -> Value {
        let url = format!("{}{path}", self.base);
        let (status, answer) = self
            .call(reqwest::Method::POST, &url, Some(key), Some(body.clone()))
            .await;
        assert_eq!(status, expected, "POST {path} {body}: {answer}");
        answer
    }

    /// `PUT` to the simulator, expecting 200.
    async fn sim_put(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.sim);
        let (status, answer) = self
            .call(reqwest::Method::PUT, &url, None, Some(body.clone()))
            .await;
        assert_eq!(status, 200, "PUT {path} {body}: {answer}");
        answer
    }

    /// Creates the case's account and template; returns the account id and template name.
    async fn create(&self, case: &Case) -> (String, String) {
        let account = self
            .post(
                "/v1/accounts",
                &self.key,
                json!({"name": format!("e2e-{}", case.channel), "channel": case.channel, "config": case.config, "secret": case.secret, "retry": {"delays_ms": [200, 500], "jitter_percent": 0}}),
                201,
            )
            .await;
        let account = account["id"].as_str().expect("account id").to_owned();
        let variables: Vec<Value> = case
            .variables
            .as_object()
            .map(|o| o.keys().map(|k| json!({"name": k})).collect())
            .unwrap_or_default();
        let template = format!("tpl-{}", case.channel);
        self.post(
            "/v1/templates",
            &self.key,
            json!({"name": template, "channel": case.channel, "account": account, "variables": variables, "content": case.content}),
            201,
        )
        .await;
        (account, template)
    }

    /// The message's deliveries once `done` holds for all of them, or a panic at `deadline`.
    async fn wait(&self, id: &str, state: &str, deadline: Instant) -> Value {
        let url = format!("{}/v1/messages/{id}", self.base);
        loop {
            let (status, message) = self
                .call(reqwest::Method::GET, &url, Some(&self.key), None)
                .await;
            assert_eq!(status, 200, "{message}");
            let deliveries = message["deliveries"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !deliveries.is_empty() && deliveries.iter().all(|d| d["state"] == state) {
                return deliveries[0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{id} never reached {state}: {message:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// (private PKCS#8 PEM, public SPKI PEM) of a fresh RSA-2048 key (FCM service account).
fn rsa_pair() -> (String, String) {
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
    (
        pem("PRIVATE KEY", pair.as_der().expect("PKCS#8").as_ref()),
        pem(
            "PUBLIC KEY",
            pair.public_key().as_der().expect("SPKI").as_ref(),
        ),
    )
}

/// (private PKCS#8 PEM, public SPKI PEM) of a fresh P-256 key (APNs `.p8`).
fn p256_pair() -> (String, String) {
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(alg).expect("P-256 key");
    (
        pem("PRIVATE KEY", pair.to_pkcs8v1().expect("PKCS#8").as_ref()),
        pem(
            "PUBLIC KEY",
            pair.public_key().as_der().expect("SPKI").as_ref(),
        ),
    )
}

/// The simulator accounts (provider identity → what verifies) and one case per channel.
fn cases(sim: &str) -> (Vec<(&'static str, Value)>, Vec<Case>) {
    let (rsa_private, rsa_public) = rsa_pair();
    let (ec_private, ec_public) = p256_pair();
    let sim_accounts = vec![
        ("e2e-hook", json!({"secret": "whsec-e2e"})),
        ("LTAIe2eAccessKey", json!({"secret": "aliyun-secret"})),
        ("dt-e2e-token", json!({"secret": "SECdingtalk-e2e"})),
        ("fs-e2e-hook", json!({"secret": "feishu-e2e"})),
        ("herald-e2e", json!({"secret": rsa_public})),
        ("TEAME2E001", json!({"secret": ec_public})),
        ("e2ejpushappkey000000001", json!({"secret": "jpush-master"})),
        ("gtE2eApp", json!({"secret": "gtE2eKey:gt-master"})),
        (
            "wx0000000000e2e0001",
            json!({"secret": "wechat-app-secret"}),
        ),
        (
            "ww0000000000e2e0001",
            json!({"secret": "wecom-corp-secret"}),
        ),
        ("wecom-e2e-robot-key", json!({})),
    ];
    let text = |body: &str| json!({"title": "Hi {{ name }}", "body": body});
    let case = |channel, config: Value, secret: Value, content: Value, to: &str| Case {
        channel,
        config,
        secret,
        content,
        to: to.to_owned(),
        variables: json!({"name": "Ada"}),
        first_state: "delivered",
    };
    let mut list = vec![
        case(
            "webhook",
            json!({"url": format!("{sim}/sim/webhook/e2e-hook")}),
            json!({"signing_secret": "whsec-e2e"}),
            text("Hello {{ name }}"),
            "user-1",
        ),
        case(
            "aliyun_sms",
            json!({"endpoint": format!("{sim}/sim/aliyun"), "sign_name": "Herald"}),
            json!({"access_key_id": "LTAIe2eAccessKey", "access_key_secret": "aliyun-secret"}),
            json!({"body": "code", "fields": {"template_code": "SMS_154950909", "param.name": "{{ name }}"}}),
            "13800138000",
        ),
        case(
            "dingtalk",
            json!({"endpoint": format!("{sim}/sim/dingtalk")}),
            json!({"access_token": "dt-e2e-token", "secret": "SECdingtalk-e2e"}),
            text("Deploy by {{ name }}"),
            "ops",
        ),
        case(
            "feishu",
            json!({"endpoint": format!("{sim}/sim/feishu")}),
            json!({"hook_id": "fs-e2e-hook", "secret": "feishu-e2e"}),
            text("Alert for {{ name }}"),
            "sre",
        ),
        case(
            "fcm",
            json!({"endpoint": format!("{sim}/sim/fcm"), "token_uri": format!("{sim}/sim/fcm/token")}),
            json!({"type": "service_account", "project_id": "herald-e2e", "private_key": rsa_private, "client_email": "herald@herald-e2e.iam.gserviceaccount.com"}),
            text("Order for {{ name }}"),
            "fcm-e2e-device:APA91bHun4MxP5eg",
        ),
        case(
            "apns",
            json!({"endpoint": format!("{sim}/sim/apns"), "topic": "com.example.herald"}),
            json!({"team_id": "TEAME2E001", "key_id": "KEYE2E0001", "private_key": ec_private}),
            text("Order for {{ name }}"),
            &"ab".repeat(32),
        ),
        case(
            "jpush",
            json!({"endpoint": format!("{sim}/sim/jpush"), "app_key": "e2ejpushappkey000000001"}),
            json!({"master_secret": "jpush-master"}),
            text("Order for {{ name }}"),
            "1a0018970af2e0a5c2b",
        ),
        case(
            "getui",
            json!({"endpoint": format!("{sim}/sim/getui"), "app_id": "gtE2eApp", "app_key": "gtE2eKey"}),
            json!({"master_secret": "gt-master"}),
            text("Order for {{ name }}"),
            "c0ffee34994cbafa4f12d24e461e9c46",
        ),
        case(
            "inbox",
            json!({}),
            json!({"user_token_secret": "inbox-e2e-secret"}),
            text("Welcome {{ name }}"),
            "user-42",
        ),
        case(
            "wechat_oa",
            json!({"appid": "wx0000000000e2e0001", "endpoint": format!("{sim}/sim/wechat"), "callback_token": "wechat-e2e-token"}),
            json!({"app_secret": "wechat-app-secret"}),
            json!({"body": "order", "fields": {"template_id": "order_tpl", "data.name": "{{ name }}"}}),
            "oE2eUser0001",
        ),
        case(
            "wecom_app",
            json!({"corpid": "ww0000000000e2e0001", "agentid": 1_000_002, "endpoint": format!("{sim}/sim/wecom")}),
            json!({"corpsecret": "wecom-corp-secret"}),
            text("Build by {{ name }}"),
            "zhangsan",
        ),
        case(
            "wecom_robot",
            json!({"endpoint": format!("{sim}/sim/wecom")}),
            json!({"key": "wecom-e2e-robot-key"}),
            text("Deploy by {{ name }}"),
            "ops",
        ),
    ];
    for c in &mut list {
        if matches!(c.channel, "aliyun_sms" | "wechat_oa") {
            c.first_state = "sent";
        }
    }
    (sim_accounts, list)
}

/// Creates an app and an API key with the admin key.
async fn app_and_key(http: &reqwest::Client, base: &str, sim: &str) -> Stack {
    let mut stack = Stack {
        http: http.clone(),
        base: base.to_owned(),
        sim: sim.to_owned(),
        app_id: String::new(),
        key: String::new(),
    };
    let app = stack
        .post("/v1/apps", ADMIN_KEY, json!({"name": "channels-e2e"}), 201)
        .await;
    stack.app_id = app["id"].as_str().expect("app id").to_owned();
    let key = stack
        .post(
            &format!("/v1/apps/{}/keys", stack.app_id),
            ADMIN_KEY,
            json!({}),
            201,
        )
        .await;
    stack.key = key["key"].as_str().expect("api key").to_owned();
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_per_channel_through_serve_and_an_external_sim() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let (_sim_process, sim) = support::start_sim(dir.path());
    let (_server_process, base) = support::start_server(&dir.path().join("data"), 1, 5).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let stack = app_and_key(&http, &base, &sim).await;

    let (sim_accounts, cases) = cases(&sim);
    for (name, config) in &sim_accounts {
        stack
            .sim_put(&format!("/sim/accounts/{name}"), config.clone())
            .await;
    }
    // Aliyun receipts: pushed once, shortly after the send, to this server.
    stack
        .sim_put(
            "/sim/aliyun/settings",
            json!({"receipt_delay_ms": 300, "duplicate_receipt_rate": 0.0}),
        )
        .await;
    let report_url = format!("{base}/callbacks/aliyun/sms/report");
    let target = stack
        .sim_put("/sim/aliyun/receipts-target", json!({"url": report_url}))
        .await;
    assert_eq!(target["url"], report_url.as_str());

    let mut sent = Vec::new();
    for case in &cases {
        let (account, template) = stack.create(case).await;
        if case.channel == "wechat_oa" {
            let appid = case.config["appid"].as_str().expect("appid");
            let url = format!("{base}/callbacks/wechat/{}/{account}", stack.app_id);
            stack
                .sim_put(
                    &format!("/sim/wechat/apps/{appid}"),
                    json!({"callback": {"url": url, "token": "wechat-e2e-token"}, "receipt_delay_ms": 300}),
                )
                .await;
        }
        let accepted = stack
            .post(
                "/v1/messages",
                &stack.key,
                json!({"template": template, "receivers": [case.to], "variables": case.variables}),
                202,
            )
            .await;
        sent.push((
            case,
            accepted["id"].as_str().expect("message id").to_owned(),
        ));
    }

    let deadline = Instant::now() + SETTLE;
    for (case, id) in &sent {
        let delivery = stack.wait(id, "delivered", deadline).await;
        let first = &delivery["attempts"][0];
        assert_eq!(
            first["outcome"], case.first_state,
            "{}: the provider's answer to the call: {delivery:#}",
            case.channel
        );
    }

    // Every simulated provider saw exactly one accepted send.
    let (status, stats) = stack
        .call(
            reqwest::Method::GET,
            &format!("{sim}/sim/stats"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    for (name, _) in &sim_accounts {
        assert_eq!(
            stats["accounts"][name]["unique"], 1,
            "{name}: {:#}",
            stats["accounts"][name]
        );
    }

    // The inbox message is there for its user, read with a token the backend signs.
    let app_id = herald_domain::AppId::parse(&stack.app_id).expect("app id");
    let token = herald_channel_inbox::mint_user_token(
        b"inbox-e2e-secret",
        &app_id,
        "user-42",
        Duration::from_secs(60),
    )
    .expect("user token");
    let inbox = http
        .get(format!("{base}/v1/inbox/messages"))
        .bearer_auth(token)
        .send()
        .await
        .expect("inbox listing");
    assert_eq!(inbox.status(), 200);
    let page: Value = inbox.json().await.expect("inbox JSON");
    assert_eq!(page["messages"][0]["body"], "Welcome Ada", "{page}");

    println!(
        "{} channels delivered end to end in {:?}",
        cases.len(),
        started.elapsed()
    );
}
