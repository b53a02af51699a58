//! Running a transaction again when it lost a lock race. InnoDB picks deadlock victims even
//! under READ COMMITTED (the relay's `FOR UPDATE SKIP LOCKED` claim against concurrent
//! outbox inserts and deletes, for instance), and PostgreSQL reports serialization
//! failures; the documented remedy for both is to run the whole transaction again.

use super::is_lock_conflict;
use herald_ports::StoreError;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Attempts of one transaction before the caller sees the conflict.
pub(crate) const ATTEMPTS: u32 = 5;

/// Runs `transaction` until it commits or fails for another reason, at most [`ATTEMPTS`]
/// times, with a short growing pause between attempts. Each retry is counted in `retries`.
/// A transaction that keeps losing ends as `Unavailable` naming `what`: nothing of it was
/// committed, so the caller may run it again later.
pub(crate) async fn on_lock_conflict<T, F, Fut>(
    what: &str,
    retries: &AtomicU64,
    mut transaction: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match transaction().await {
            Err(e) if attempt < ATTEMPTS && is_lock_conflict(&e) => {
                retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, attempt, "{what} lost a lock race; running it again");
                tokio::time::sleep(Duration::from_millis(2 * u64::from(attempt))).await;
            }
            Err(e) if is_lock_conflict(&e) => {
                return Err(StoreError::Unavailable(format!(
                    "{what} lost repeated lock races: {e}"
                )));
            }
            other => return other,
        }
    }
}
