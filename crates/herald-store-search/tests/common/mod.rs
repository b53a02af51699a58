//! Shared test harness: the records conformance harness over [`SearchRecords`] and options
//! with short retry backoffs.

#![allow(dead_code)]

use async_trait::async_trait;
use herald_domain::Message;
use herald_ports::conformance::records::RecordsHarness;
use herald_ports::{Records, StoreError};
use herald_store_search::{Refresh, RetryPolicy, SearchOptions, SearchRecords};
use std::time::Duration;

pub struct Harness {
    pub records: SearchRecords,
}

#[async_trait]
impl RecordsHarness for Harness {
    fn records(&self) -> &dyn Records {
        &self.records
    }

    async fn seed(&self, messages: Vec<Message>) -> Result<(), StoreError> {
        self.records.record_accepted(&messages).await
    }
}

/// Options for tests: a fresh prefix, millisecond backoffs, visible writes.
pub fn fast_options(prefix: &str) -> SearchOptions {
    SearchOptions {
        index_prefix: prefix.to_string(),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            retries: 4,
            initial_backoff: Duration::from_millis(1),
        },
        refresh: Refresh::WaitFor,
    }
}

/// A webhook message at `created_at` with one delivery per receiver.
pub fn message(app: &herald_domain::AppId, created_at: i64, receivers: &[&str]) -> Message {
    use herald_domain::*;
    Message {
        id: MessageId::generate(),
        app_id: app.clone(),
        template_id: TemplateId::generate(),
        template_version: 1,
        channel: ChannelKind::Webhook,
        account_id: AccountId::generate(),
        priority: Priority::Normal,
        send_at: None,
        expire_at: None,
        created_at,
        variables: Default::default(),
        deliveries: receivers
            .iter()
            .map(|to| Delivery {
                id: DeliveryId::generate(),
                receiver: Receiver::to(*to),
                variables: Default::default(),
            })
            .collect(),
    }
}

/// Attempt `seq` of delivery `index` reaching `state` at `created_at + at`, optionally with
/// a provider request id in its attempt log.
pub fn event(
    m: &Message,
    index: usize,
    seq: u32,
    state: herald_domain::DeliveryState,
    at: i64,
    provider_id: Option<&str>,
) -> herald_domain::ResultEvent {
    use herald_domain::*;
    ResultEvent {
        app_id: m.app_id.clone(),
        message_id: m.id.clone(),
        delivery_id: m.deliveries[index].id.clone(),
        version: EventVersion::new(seq, state),
        state,
        kind: ResultKind::Dispatch,
        at: m.created_at + at,
        code: None,
        detail: None,
        next_at: None,
        content: None,
        attempt: provider_id.map(|id| task::AttemptLog {
            attempt: seq,
            at: m.created_at + at,
            account_id: m.account_id.clone(),
            latency_ms: 10,
            outcome: "sent".into(),
            provider_request_id: Some(id.to_string()),
            code: None,
            message: None,
        }),
    }
}
