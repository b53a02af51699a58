//! Conformance suite for the records port.
//!
//! Records are created at accept time by the backend's intake (in the same unit as the queue
//! tasks), not through [`Records`] itself, so the suite needs a way to seed them: a backend's
//! test implements [`RecordsHarness`], whose `seed` writes accepted messages exactly as its
//! intake would (each delivery `accepted`, or `scheduled` when `send_at > created_at`, at
//! version `(0, rank)`). Then [`run_all`] checks every promise of the port. Each check uses
//! fresh app ids, so all of them can share one store.
//!
//! Promises checked beyond the trait's signatures:
//! - an event changes a delivery only if its version is strictly greater; a batch may hold
//!   events out of order; events naming an unknown delivery or another app are ignored;
//! - an event's attempt log is kept even when its state loses (it records a real provider
//!   call), once per `(delivery, attempt)`;
//! - content set by an earlier event stays when a later event carries none (a receipt);
//! - search is newest first (`created_at` descending), pages never repeat or skip, receiver
//!   filters are exact, `from` is inclusive and `to` exclusive, and text search is
//!   case-insensitive and finds two-character Chinese words.

pub mod fixtures;
mod search;

pub use search::{
    pagination_is_complete_and_disjoint, rerendered_content_replaces_the_text, search_filters,
    text_search,
};

use crate::error::StoreError;
use crate::records::Records;
use async_trait::async_trait;
use fixtures::{dlv, event, message, with_attempt, with_content};
use herald_domain::DeliveryState::*;
use herald_domain::{AppId, DeliveryId, EventVersion, Message, MessageStatus, ResultKind};

/// What the suite needs from a backend under test.
#[async_trait]
pub trait RecordsHarness: Send + Sync {
    /// The store under test.
    fn records(&self) -> &dyn Records;
    /// Records accepted messages as the backend's intake does at accept time.
    async fn seed(&self, messages: Vec<Message>) -> Result<(), StoreError>;
}

/// Runs every records check.
pub async fn run_all(harness: &dyn RecordsHarness) {
    accepted_records_read_back(harness).await;
    versioned_apply(harness).await;
    attempts_are_logged_once_even_when_the_state_loses(harness).await;
    message_status_is_derived(harness).await;
    delivery_states_in_bulk(harness).await;
    records_are_scoped_by_app(harness).await;
    search_filters(harness).await;
    pagination_is_complete_and_disjoint(harness).await;
    text_search(harness).await;
    rerendered_content_replaces_the_text(harness).await;
}

/// Seeds messages, panicking with a clear message if the harness fails.
pub(super) async fn seed(harness: &dyn RecordsHarness, messages: &[Message]) {
    harness
        .seed(messages.to_vec())
        .await
        .expect("the harness seeds accepted messages");
}

/// Accepted messages read back whole, `accepted` or `scheduled` at version `(0, rank)`.
pub async fn accepted_records_read_back(harness: &dyn RecordsHarness) {
    let records = harness.records();
    let app = AppId::generate();
    let mut now = message(&app, 1_000, &["u1", "u2"]);
    now.deliveries[1].variables = [("name".to_string(), serde_json::json!("Bo"))].into();
    now.deliveries[1].receiver.timezone = Some("Asia/Shanghai".into());
    now.deliveries[1].receiver.locale = Some("zh-CN".into());
    now.expire_at = Some(90_000);
    let mut later = message(&app, 1_000, &["u3"]);
    later.send_at = Some(61_000);
    seed(harness, &[now.clone(), later.clone()]).await;

    let view = records
        .get_message(&app, &now.id)
        .await
        .unwrap()
        .expect("a seeded message is readable at once");
    assert_eq!(view.message, now, "the message reads back as accepted");
    assert_eq!(view.status, MessageStatus::Accepted);
    assert_eq!(view.deliveries.len(), 2);
    for (d, accepted) in view.deliveries.iter().zip(&now.deliveries) {
        assert_eq!(d.id, accepted.id, "deliveries keep their accept order");
        assert_eq!(d.receiver, accepted.receiver);
        assert_eq!(d.state, Accepted);
        assert_eq!(d.version, EventVersion::new(0, Accepted));
        assert!(d.attempts.is_empty() && d.content.is_none() && d.code.is_none());
    }

    let view = records.get_message(&app, &later.id).await.unwrap().unwrap();
    assert_eq!(
        view.status,
        MessageStatus::Scheduled,
        "send_at ahead: scheduled"
    );
    assert_eq!(view.deliveries[0].state, Scheduled);
    assert_eq!(view.deliveries[0].version, EventVersion::new(0, Scheduled));

    let unknown = herald_domain::MessageId::generate();
    assert_eq!(records.get_message(&app, &unknown).await.unwrap(), None);
}

/// Only strictly newer versions win, whatever order events arrive in.
pub async fn versioned_apply(harness: &dyn RecordsHarness) {
    let records = harness.records();
    let app = AppId::generate();
    let m = message(&app, 1_000, &["a", "b", "c"]);
    seed(harness, std::slice::from_ref(&m)).await;
    let (a, b, c) = (dlv(&m, 0), dlv(&m, 1), dlv(&m, 2));
    let state_of = |id: DeliveryId| async move {
        let states = records.delivery_states(std::slice::from_ref(&id)).await;
        states.unwrap()[&id]
    };

    let apply = |events| records.apply(events);
    assert_eq!(apply(vec![event(&m, &a, 1, Sending)]).await.unwrap(), 1);
    assert_eq!(
        apply(vec![event(&m, &a, 1, Sending)]).await.unwrap(),
        0,
        "an equal version is ignored (redelivery)"
    );
    let mut sent = with_content(event(&m, &a, 1, Sent), "Your code is ******");
    sent.code = Some("OK".into());
    assert_eq!(apply(vec![sent]).await.unwrap(), 1);
    assert_eq!(
        apply(vec![event(&m, &a, 1, Sending)]).await.unwrap(),
        0,
        "an older version is ignored"
    );
    assert_eq!(state_of(a.clone()).await.state, Sent);
    let mut receipt = event(&m, &a, 1, Delivered);
    receipt.kind = ResultKind::Receipt;
    receipt.code = Some("DELIVERED".into());
    assert_eq!(
        apply(vec![receipt]).await.unwrap(),
        1,
        "a receipt's delivered beats sent of the same attempt"
    );
    assert_eq!(
        apply(vec![event(&m, &a, 1, Failed)]).await.unwrap(),
        0,
        "within one attempt the first terminal wins"
    );
    let view = records.get_message(&app, &m.id).await.unwrap().unwrap();
    let da = &view.deliveries[0];
    assert_eq!(
        (da.state, da.version, da.code.as_deref()),
        (
            Delivered,
            EventVersion::new(1, Delivered),
            Some("DELIVERED")
        )
    );
    assert_eq!(
        da.content.as_deref(),
        Some("Your code is ******"),
        "content stays when a later event (the receipt) carries none"
    );

    // Dead after attempt 2, replayed as attempt 3: the later attempt beats the terminal.
    let mut retrying = event(&m, &b, 1, Retrying);
    retrying.next_at = Some(55_000);
    retrying.code = Some("Throttling".into());
    retrying.detail = Some("provider busy".into());
    let changed = apply(vec![event(&m, &b, 2, Dead), retrying.clone()]).await;
    assert_eq!(
        changed.unwrap(),
        1,
        "the older event in the same batch loses"
    );
    assert_eq!(state_of(b.clone()).await.state, Dead);
    let mut replay = event(&m, &b, 3, Sending);
    replay.kind = ResultKind::Replay;
    assert_eq!(apply(vec![replay]).await.unwrap(), 1, "a replay beats dead");
    assert_eq!(apply(vec![event(&m, &b, 3, Delivered)]).await.unwrap(), 1);
    assert_eq!(
        state_of(b.clone()).await,
        crate::records::StoredState {
            state: Delivered,
            version: EventVersion::new(3, Delivered)
        }
    );

    // A retrying state carries its code, detail and next attempt time.
    assert_eq!(apply(vec![retrying]).await.unwrap(), 0);
    let mut retry_c = event(&m, &c, 1, Retrying);
    retry_c.next_at = Some(77_000);
    retry_c.code = Some("isv.BUSINESS_LIMIT_CONTROL".into());
    retry_c.detail = Some("too fast".into());
    let batch = vec![
        event(&m, &c, 1, Sending),
        retry_c,
        event(&m, &c, 1, Sending),
    ];
    assert_eq!(apply(batch).await.unwrap(), 2);
    let view = records.get_message(&app, &m.id).await.unwrap().unwrap();
    let dc = &view.deliveries[2];
    assert_eq!(dc.state, Retrying);
    assert_eq!(dc.next_at, Some(77_000));
    assert_eq!(dc.code.as_deref(), Some("isv.BUSINESS_LIMIT_CONTROL"));
    assert_eq!(dc.detail.as_deref(), Some("too fast"));
    assert!(dc.updated_at > m.created_at, "updated_at follows the event");

    let stranger = herald_domain::DeliveryId::generate();
    assert_eq!(
        apply(vec![event(&m, &stranger, 1, Sent)]).await.unwrap(),
        0,
        "events for unknown deliveries are ignored"
    );
    assert_eq!(apply(vec![]).await.unwrap(), 0);
}

/// Attempt logs are facts: kept when their event's state loses, never duplicated.
pub async fn attempts_are_logged_once_even_when_the_state_loses(harness: &dyn RecordsHarness) {
    let records = harness.records();
    let app = AppId::generate();
    let m = message(&app, 1_000, &["x"]);
    seed(harness, std::slice::from_ref(&m)).await;
    let d = dlv(&m, 0);
    let first = with_attempt(event(&m, &d, 1, Retrying), "retryable");
    let third = with_attempt(event(&m, &d, 3, Delivered), "delivered");
    let second = with_attempt(event(&m, &d, 2, Retrying), "retryable");
    assert_eq!(records.apply(vec![first.clone()]).await.unwrap(), 1);
    assert_eq!(records.apply(vec![third.clone()]).await.unwrap(), 1);
    assert_eq!(
        records.apply(vec![second.clone()]).await.unwrap(),
        0,
        "attempt 2's late result does not change the state"
    );
    assert_eq!(
        records
            .apply(vec![first.clone(), third.clone()])
            .await
            .unwrap(),
        0,
        "redelivered events change nothing"
    );
    let view = records.get_message(&app, &m.id).await.unwrap().unwrap();
    let logs: Vec<_> = [&first, &second, &third]
        .iter()
        .map(|e| e.attempt.clone().unwrap())
        .collect();
    assert_eq!(
        view.deliveries[0].attempts, logs,
        "every attempt logged once, in attempt order, the late one included"
    );
    assert_eq!(view.deliveries[0].state, Delivered);
}

/// A message's status is derived from its deliveries' states.
pub async fn message_status_is_derived(harness: &dyn RecordsHarness) {
    let records = harness.records();
    let app = AppId::generate();
    let cases = [
        (vec![Delivered, Delivered], MessageStatus::Delivered),
        (vec![Delivered, Failed], MessageStatus::PartiallyDelivered),
        (vec![Sent, Accepted], MessageStatus::InProgress),
        (vec![Dead, Failed], MessageStatus::Failed),
        (vec![Canceled, Canceled], MessageStatus::Canceled),
        (vec![Expired], MessageStatus::Expired),
    ];
    for (states, expected) in cases {
        let m = message(&app, 1_000, &vec!["r"; states.len()]);
        seed(harness, std::slice::from_ref(&m)).await;
        let events = states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != Accepted)
            .map(|(i, s)| event(&m, &dlv(&m, i), 1, *s))
            .collect();
        records.apply(events).await.unwrap();
        let view = records.get_message(&app, &m.id).await.unwrap().unwrap();
        assert_eq!(view.status, expected, "status of {states:?}");
    }
}

/// `delivery_states` answers for many ids at once (more than one backend query's worth)
/// and leaves unknown ids out.
pub async fn delivery_states_in_bulk(harness: &dyn RecordsHarness) {
    let records = harness.records();
    let app = AppId::generate();
    let receivers: Vec<String> = (0..1_100).map(|i| format!("user-{i}")).collect();
    let names: Vec<&str> = receivers.iter().map(String::as_str).collect();
    let m = message(&app, 1_000, &names);
    seed(harness, std::slice::from_ref(&m)).await;
    let events = (0..m.deliveries.len())
        .step_by(7)
        .map(|i| event(&m, &dlv(&m, i), 1, Sent))
        .collect::<Vec<_>>();
    let sent = events.len();
    assert_eq!(records.apply(events).await.unwrap(), sent);

    let mut ids: Vec<DeliveryId> = m.deliveries.iter().map(|d| d.id.clone()).collect();
    let unknown = DeliveryId::generate();
    ids.push(unknown.clone());
    let states = records.delivery_states(&ids).await.unwrap();
    assert_eq!(
        states.len(),
        m.deliveries.len(),
        "every known id, no unknown"
    );
    assert!(!states.contains_key(&unknown));
    for (i, d) in m.deliveries.iter().enumerate() {
        let expected = if i % 7 == 0 { Sent } else { Accepted };
        assert_eq!(states[&d.id].state, expected, "delivery {i}");
        assert_eq!(
            states[&d.id].version,
            EventVersion::new(u32::from(i % 7 == 0), expected)
        );
    }
    assert!(records.delivery_states(&[]).await.unwrap().is_empty());
}

/// Another app can neither read nor change an app's records.
pub async fn records_are_scoped_by_app(harness: &dyn RecordsHarness) {
    let records = harness.records();
    let owner = AppId::generate();
    let intruder = AppId::generate();
    let m = message(&owner, 1_000, &["private-receiver"]);
    seed(harness, std::slice::from_ref(&m)).await;
    let d = dlv(&m, 0);
    records
        .apply(vec![with_content(
            event(&m, &d, 1, Sent),
            "secret invoice 短信",
        )])
        .await
        .unwrap();

    assert_eq!(
        records.get_message(&intruder, &m.id).await.unwrap(),
        None,
        "get_message is scoped by app"
    );
    let mut forged = with_attempt(event(&m, &d, 9, Failed), "permanent");
    forged.app_id = intruder.clone();
    assert_eq!(
        records.apply(vec![forged]).await.unwrap(),
        0,
        "an event naming another app does not reach the delivery"
    );
    let view = records.get_message(&owner, &m.id).await.unwrap().unwrap();
    assert_eq!(view.deliveries[0].state, Sent);
    assert!(
        view.deliveries[0].attempts.is_empty(),
        "nor does its attempt log"
    );

    let filters = [
        crate::records::SearchFilter::default(),
        crate::records::SearchFilter {
            receiver: Some("private-receiver".into()),
            ..Default::default()
        },
        crate::records::SearchFilter {
            text: Some("短信".into()),
            ..Default::default()
        },
        crate::records::SearchFilter {
            message_id: Some(m.id.clone()),
            ..Default::default()
        },
    ];
    for filter in filters {
        let page = records.search(&intruder, &filter, None, 100).await.unwrap();
        assert!(page.hits.is_empty(), "search is scoped by app: {filter:?}");
        let own = records.search(&owner, &filter, None, 100).await.unwrap();
        assert_eq!(own.hits.len(), 1, "the owner finds it: {filter:?}");
    }
}
