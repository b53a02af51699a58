//! The server on the distributed backends: PostgreSQL or MariaDB for state and the outbox,
//! NATS JetStream as the queue. Each run gets a fresh database and its own NATS prefix, and
//! removes both afterwards. The engines come from `HERALD_TEST_POSTGRES_URL` /
//! `HERALD_TEST_MYSQL_URL` and `HERALD_TEST_NATS_URL`; without them the tests skip (and fail
//! under `CI=true`).

use crate::harness::{TestApp, options};
use herald_server::{Backend, Distributed, QueueEngine, start};
use herald_store_sql::testing::{MYSQL_URL_VAR, POSTGRES_URL_VAR, TempDatabase, engine_url};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

const NATS_URL_VAR: &str = "HERALD_TEST_NATS_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_nats_deliver_retry_and_replay() {
    deliver_retry_and_replay(POSTGRES_URL_VAR).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_and_nats_deliver_retry_and_replay() {
    deliver_retry_and_replay(MYSQL_URL_VAR).await;
}

async fn deliver_retry_and_replay(database_var: &str) {
    let Some(nats_url) = engine_url(NATS_URL_VAR) else {
        return;
    };
    let Some(database) = TempDatabase::create(database_var).await else {
        return;
    };
    let prefix = format!("test-{:016x}", rand::random::<u64>());
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut server_options = options(dir.path());
    server_options.backend = Backend::Distributed(Distributed {
        database_url: database.url.clone(),
        database_pool: 16,
        queue: QueueEngine::Nats {
            url: nats_url.clone(),
        },
        queue_prefix: prefix.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = start(server_options, listener)
        .await
        .expect("server starts on SQL + NATS");
    let key = server.demo.as_ref().expect("demo").api_key.clone();
    let app = TestApp {
        base: server.base_url(),
        server,
        http: reqwest::Client::new(),
        key,
        dir,
    };

    let account = app.account("dist", &[100], 100).await;
    app.template("dist-hello", "Hi {{ n }}", &[("n", false)], &account)
        .await;
    // The first attempt fails: the retry travels settle → outbox → relay → NATS timer lane.
    app.sim_configure("dist", json!({"fail_first": 1}));
    let body = json!({"template": "dist-hello", "receivers": ["u1", "u2"], "variables": {"n": 1}});
    let idempotency = [("idempotency-key", "dist-1")];
    let (status, accepted) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(body.clone()),
            &idempotency,
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().expect("message id").to_owned();
    let message = app.wait_all(&id, "delivered").await;
    assert_eq!(message["deliveries"].as_array().map(Vec::len), Some(2));

    let (status, replay) = app
        .request(
            Method::POST,
            "/v1/messages",
            Some(&app.key),
            Some(body),
            &idempotency,
        )
        .await;
    assert_eq!(
        (status, &replay),
        (202, &accepted),
        "a replay answers the stored response"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (received, unique) = app.sim_counts("dist");
    assert_eq!(
        unique, 2,
        "one delivery per receiver, the replay queued nothing"
    );
    assert_eq!(received, 3, "one failed attempt, then two deliveries");

    // /metrics: the outbox depth (relayed, so 0 once sampled) and no embedded commit stats.
    let metrics = app.metrics().await;
    assert!(metrics.contains("herald_outbox_depth "), "{metrics}");
    assert!(
        metrics.contains("herald_queue_depth{topic=\"send\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains("herald_fsync_total"), "{metrics}");

    app.server.shutdown().await.expect("clean shutdown");
    let client = async_nats::connect(&nats_url).await.expect("NATS client");
    herald_queue_nats::delete_streams(&client, &prefix)
        .await
        .expect("test streams deleted");
    database.drop().await;
}
