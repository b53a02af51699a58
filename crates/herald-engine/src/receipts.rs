//! Provider receipts → result events.
//!
//! A receipt settles a delivery the provider accepted (`sent`, or `unknown` being
//! reconciled) into `delivered` or `failed`, at the attempt the record holds — so it cannot
//! overwrite a later attempt, and a duplicate receipt is a no-op (the first terminal of an
//! attempt wins). A receipt for a delivery whose send result is not recorded yet is left
//! unmatched; providers push receipts again (Aliyun at 1, 5 and 10 minutes) and polling
//! (QuerySendDetails) catches up.

use crate::engine::Engine;
use async_trait::async_trait;
use herald_domain::{DeliveryState, EventVersion, ResultEvent, ResultKind};
use herald_ports::{ProviderReceipt, ReceiptSink, StoreError};

#[async_trait]
impl ReceiptSink for Engine {
    async fn receipts(&self, receipts: Vec<ProviderReceipt>) -> Result<usize, StoreError> {
        let records = &self.deps.records;
        let mut events = Vec::with_capacity(receipts.len());
        for r in receipts {
            let found = match (&r.delivery_id, &r.provider_id) {
                (Some(id), _) => records.find_delivery(id).await?,
                (None, Some(pid)) => {
                    records
                        .find_by_provider_id(pid, r.receiver.as_deref())
                        .await?
                }
                (None, None) => None,
            };
            let Some(d) = found else {
                tracing::debug!(receipt = ?r, "receipt matches no delivery");
                continue;
            };
            if !matches!(d.state.state, DeliveryState::Sent | DeliveryState::Unknown) {
                continue;
            }
            let state = if r.delivered {
                DeliveryState::Delivered
            } else {
                DeliveryState::Failed
            };
            events.push(ResultEvent {
                app_id: d.app_id,
                message_id: d.message_id,
                delivery_id: d.delivery_id,
                version: EventVersion::new(d.state.version.seq, state),
                state,
                kind: ResultKind::Receipt,
                at: r.at,
                code: r.code,
                detail: r.message,
                next_at: None,
                content: None,
                attempt: None,
            });
        }
        let matched = events.len();
        if !events.is_empty() {
            records.apply(events).await?;
        }
        Ok(matched)
    }
}

#[async_trait]
impl herald_ports::AccountDirectory for Engine {
    async fn account(
        &self,
        app: &herald_domain::AppId,
        id: &herald_domain::AccountId,
    ) -> Option<std::sync::Arc<herald_ports::AccountContext>> {
        match self.account_context(app, id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(account = %id, error = %e, "account lookup for a callback failed");
                None
            }
        }
    }
}

/// Polls providers for the receipts of `sent` deliveries that got none pushed: every
/// `every`, deliveries sent more than `after` ago (and less than three days ago) are asked
/// about through their channel's [`Channel::poll_receipts`](herald_ports::Channel), and what
/// comes back is recorded like a pushed receipt. Runs until `stop` turns true (boxed: see
/// [`BoxFuture`](herald_ports::BoxFuture)).
pub fn poll_loop(
    engine: std::sync::Arc<Engine>,
    every: std::time::Duration,
    after: std::time::Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> herald_ports::BoxFuture<'static, ()> {
    Box::pin(poll_receipts(engine, every, after, stop))
}

async fn poll_receipts(
    engine: std::sync::Arc<Engine>,
    every: std::time::Duration,
    after: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    const GIVE_UP_MS: i64 = 3 * 24 * 3600 * 1000;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let now = herald_domain::time::now_ms();
        let until = now - after.as_millis() as i64;
        match engine
            .deps
            .records
            .awaiting_receipts(now - GIVE_UP_MS, until, 500)
            .await
        {
            Ok(awaiting) if !awaiting.is_empty() => poll_once(&engine, awaiting).await,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "listing deliveries awaiting receipts failed"),
        }
    }
}

async fn poll_once(engine: &Engine, awaiting: Vec<herald_ports::AwaitingReceipt>) {
    let mut by_account: std::collections::BTreeMap<
        (String, String),
        Vec<herald_ports::AwaitingReceipt>,
    > = Default::default();
    for a in awaiting {
        by_account
            .entry((a.app_id.to_string(), a.account_id.to_string()))
            .or_default()
            .push(a);
    }
    for group in by_account.into_values() {
        let first = &group[0];
        let Some(channel) = engine.deps.channels.get(&first.channel).cloned() else {
            continue;
        };
        let Ok(Some(account)) = engine
            .account_context(&first.app_id, &first.account_id)
            .await
        else {
            continue;
        };
        let receipts = channel.poll_receipts(&account, &group).await;
        if receipts.is_empty() {
            continue;
        }
        match engine.receipts(receipts).await {
            Ok(n) => {
                tracing::debug!(matched = n, account = %first.account_id, "polled receipts recorded")
            }
            Err(e) => tracing::warn!(error = %e, "recording polled receipts failed"),
        }
    }
}
