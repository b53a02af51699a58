//! The dispatcher groups tasks of one account into provider calls of up to the channel's
//! `max_batch`, and maps each result back to its own delivery; it stops leasing while its
//! results cannot be recorded.

use async_trait::async_trait;
use herald_domain::ResultEvent;
use herald_domain::{ChannelKind, Outcome, TemplateContent, VariableSpec};
use herald_embedded::{Embedded, EmbeddedOptions};
use herald_engine::accept::{ReceiverInput, SendRequest};
use herald_engine::crypto::MasterKeys;
use herald_engine::dispatch::PolicyChain;
use herald_engine::manage::{AccountInput, AppInput, TemplateInput};
use herald_engine::rate::LocalRateLimiter;
use herald_engine::{Engine, EngineDeps, EngineSettings, Principal};
use herald_ports::{
    AccountContext, Channel, OutboundMessage, QueueCommit, SendResult, Settle, StoreError,
};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// Accepts batches of three; refuses receivers named `bad-*`.
#[derive(Default)]
struct BatchingChannel {
    calls: Mutex<Vec<usize>>,
}

#[async_trait]
impl Channel for BatchingChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WecomApp
    }
    fn max_batch(&self) -> usize {
        3
    }
    async fn send(&self, _account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        self.calls.lock().push(batch.len());
        batch
            .iter()
            .map(|m| SendResult {
                outcome: if m.receiver.to.starts_with("bad-") {
                    Outcome::Permanent {
                        code: "81013".into(),
                        message: "invalid user".into(),
                    }
                } else {
                    Outcome::Delivered { provider_id: None }
                },
                provider_request_id: Some(format!("call-{}", m.delivery_id)),
                latency: Duration::ZERO,
            })
            .collect()
    }
}

/// A store whose first `failures` settles fail; records how many sends the channel had
/// made at each failure.
struct FailingSettle {
    inner: Arc<dyn Settle>,
    failures: Mutex<usize>,
    channel: Arc<BatchingChannel>,
    sent_at_failure: Mutex<Vec<usize>>,
}

#[async_trait]
impl Settle for FailingSettle {
    async fn settle(
        &self,
        events: Vec<ResultEvent>,
        commit: QueueCommit,
    ) -> Result<usize, StoreError> {
        {
            let mut failures = self.failures.lock();
            if *failures > 0 {
                *failures -= 1;
                let sent = self.channel.calls.lock().iter().sum();
                self.sent_at_failure.lock().push(sent);
                return Err(StoreError::Unavailable("disk full (test)".into()));
            }
        }
        self.inner.settle(events, commit).await
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    engine: Arc<Engine>,
    channel: Arc<BatchingChannel>,
    app: herald_domain::AppId,
    failing: Arc<FailingSettle>,
}

async fn setup(rate: u32, settings: EngineSettings) -> Setup {
    setup_failing(rate, settings, 0).await
}

async fn setup_failing(rate: u32, settings: EngineSettings, failures: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EmbeddedOptions::default();
    opts.db.durable = false;
    let store = Embedded::open(dir.path(), opts).unwrap();
    let channel = Arc::new(BatchingChannel::default());
    let failing = Arc::new(FailingSettle {
        inner: store.settle.clone(),
        failures: Mutex::new(failures),
        channel: channel.clone(),
        sent_at_failure: Mutex::new(Vec::new()),
    });
    let deps = EngineDeps {
        catalog: store.catalog.clone(),
        records: store.records.clone(),
        queue: store.queue.clone(),
        intake: store.intake.clone(),
        channels: [(ChannelKind::WecomApp, channel.clone() as Arc<dyn Channel>)]
            .into_iter()
            .collect(),
        limiter: Arc::new(LocalRateLimiter::new()),
        keys: MasterKeys::new(("k", &MasterKeys::generate_key()), &[]).unwrap(),
        settle: Some(failing.clone()),
    };
    let engine = Engine::new(deps, settings);
    let app = engine
        .create_app(&Principal::Admin, AppInput { name: "a".into() })
        .await
        .unwrap();
    let account = engine
        .create_account(
            &app.id,
            AccountInput {
                name: "corp".into(),
                channel: "wecom_app".into(),
                config: serde_json::json!({}),
                secret: None,
                rate_limit_per_second: rate,
                retry: None,
                enabled: true,
            },
        )
        .await
        .unwrap();
    engine
        .create_template(
            &app.id,
            TemplateInput {
                name: "t".into(),
                channel: "wecom_app".into(),
                account: Some(account.id.to_string()),
                enabled: true,
                variables: vec![VariableSpec {
                    name: "x".into(),
                    sensitive: false,
                }],
                content: TemplateContent {
                    title: None,
                    body: "hello {{ x }}".into(),
                    fields: Default::default(),
                },
            },
        )
        .await
        .unwrap();
    Setup {
        _dir: dir,
        engine,
        channel,
        app: app.id,
        failing,
    }
}

/// Sends one message to `receivers` and runs the dispatcher until every delivery is final.
async fn send_and_drain(s: &Setup, receivers: &[&str]) -> herald_ports::MessageView {
    let (engine, app) = (&s.engine, &s.app);
    let accepted = engine
        .send(
            app,
            SendRequest {
                template: "t".into(),
                receivers: receivers
                    .iter()
                    .map(|r| ReceiverInput::Id((*r).into()))
                    .collect(),
                variables: [("x".to_string(), serde_json::json!(1))]
                    .into_iter()
                    .collect(),
                send_at: None,
                expire_at: None,
                priority: None,
                account: None,
            },
            None,
        )
        .await
        .unwrap();
    let id = accepted.json()["id"].as_str().unwrap().to_owned();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let dispatcher = tokio::spawn(herald_engine::dispatch::run(
        engine.clone(),
        PolicyChain::default(),
        stop.clone(),
    ));
    let results = tokio::spawn(herald_engine::results::run(engine.clone(), stop));
    let view = loop {
        let v = engine.get_message(app, &id).await.unwrap();
        if v.deliveries.iter().all(|d| d.state.is_terminal()) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop_tx.send(true).unwrap();
    dispatcher.await.unwrap();
    results.await.unwrap();
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_per_batch_and_one_outcome_per_delivery() {
    let s = setup(0, EngineSettings::default()).await;
    let view = send_and_drain(&s, &["u1", "u2", "bad-3", "u4", "u5", "u6", "u7"]).await;
    let calls = s.channel.calls.lock().clone();
    assert_eq!(calls.iter().sum::<usize>(), 7, "{calls:?}");
    assert!(
        calls.iter().all(|n| *n <= 3),
        "no call above max_batch: {calls:?}"
    );
    assert!(calls.len() <= 4, "tasks were grouped: {calls:?}");
    for d in &view.deliveries {
        let expected = if d.receiver.to.starts_with("bad-") {
            "failed"
        } else {
            "delivered"
        };
        assert_eq!(d.state.as_str(), expected, "{}", d.receiver.to);
        assert_eq!(
            d.attempts[0].provider_request_id.as_deref(),
            Some(format!("call-{}", d.id).as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_account_s_backlog_is_requeued_not_slept_past_its_lease() {
    // 5 sends a second, but a task may wait at most 300 ms for its permit.
    let settings = EngineSettings {
        max_rate_wait: Duration::from_millis(300),
        ..EngineSettings::default()
    };
    let s = setup(5, settings).await;
    let receivers: Vec<String> = (0..8).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = receivers.iter().map(String::as_str).collect();
    let view = send_and_drain(&s, &refs).await;
    assert!(
        view.deliveries
            .iter()
            .all(|d| d.state.as_str() == "delivered"),
        "{view:?}"
    );
    let calls = s.channel.calls.lock().clone();
    assert_eq!(
        calls.iter().sum::<usize>(),
        8,
        "each delivery sent exactly once: {calls:?}"
    );
    let deferred = s
        .engine
        .metrics()
        .rate_deferred
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        deferred > 0,
        "the backlog beyond 300 ms of permits went back to the queue"
    );
}

/// While settles fail (a full disk, say), the dispatcher leases nothing more: what it sent
/// then could not be recorded and would be sent again once its lease ran out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_pauses_while_results_cannot_be_recorded() {
    let settings = EngineSettings {
        workers: 1,
        receive_batch: 3,
        ..EngineSettings::default()
    };
    // Three failed attempts: 50 + 100 + 200 ms of retrying.
    let s = setup_failing(0, settings, 3).await;
    let receivers: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = receivers.iter().map(String::as_str).collect();
    let view = send_and_drain(&s, &refs).await;
    assert!(
        view.deliveries
            .iter()
            .all(|d| d.state.as_str() == "delivered")
    );
    let calls = s.channel.calls.lock().clone();
    assert_eq!(calls.iter().sum::<usize>(), 12, "each sent once: {calls:?}");
    let sent = s.failing.sent_at_failure.lock().clone();
    assert_eq!(sent.len(), 3, "{sent:?}");
    // At most the batch already leased when the first settle failed went out meanwhile.
    assert!(
        sent[2] <= sent[0] + 3,
        "kept sending while settles failed: {sent:?}"
    );
}
