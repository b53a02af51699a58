//! The scheduler: a background task that moves rows from the due-time table into memory as
//! they come within the horizon.
//!
//! Tasks due far ahead (a `send_at` days away) stay on disk only; every `refill_every` the
//! scheduler reads the rows that fell within `horizon` since its last pass, in
//! `(not_before, id)` order and in pages, so a million sends scheduled for 9:00 do not stall
//! the writer. The first pass loads everything already due and counts the depths. Receivers
//! wake it early when memory has room again after a backlog overflowed it.

use super::Shared;
use herald_domain::time::now_ms;
use herald_ports::StoreError;
use std::sync::{Arc, Weak};

/// Starts the scheduler. It holds the queue weakly and stops once the queue is dropped.
pub(super) fn spawn(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let wake = shared.loader_wake.clone();
    let every = shared.options.refill_every;
    tokio::spawn(async move {
        loop {
            match load_once(&weak).await {
                None => return,
                Some(Ok(true)) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Some(Ok(false)) => {}
                Some(Err(e)) => tracing::warn!(error = %e, "queue scheduler pass failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = wake.notified() => {}
            }
        }
    });
}

/// One pass; `None` once the queue is gone, else whether a full page was read.
async fn load_once(weak: &Weak<Shared>) -> Option<Result<bool, StoreError>> {
    let shared = weak.upgrade()?;
    let horizon_ms = i64::try_from(shared.options.horizon.as_millis()).unwrap_or(i64::MAX);
    let page = shared.options.load_page.max(1);
    let outcome = Shared::write(shared, 0, true, move |conn, tx| {
        tx.load(conn, now_ms().saturating_add(horizon_ms), page)
    })
    .await;
    Some(outcome)
}
