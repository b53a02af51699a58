//! Accepts the indexer cannot index: a journal row whose entry no longer decodes (its JSON
//! damaged, or a format this version does not read) or a pending accept whose row is gone.
//! A read that SQLite itself fails (a damaged page) is not this: it is retried, as any
//! failed read. Nor is a whole backlog that does not decode: that is a downgrade, and the
//! open fails (`recover`) rather than set every accept aside.
//!
//! Before this, such a row stopped indexing for good: the indexer read the same range
//! again and again (or, for a missing row, spun without a pause), every accept behind it
//! stayed unindexed until the journal's room ran out and accepts answered 503, and at open
//! one undecodable row failed the whole store. Now the row is moved, as it was, into
//! `journal.db`'s `journal_unreadable` table with the decoding error, the accept leaves the
//! backlog (its room is given back), an error is logged and
//! `herald_journal_set_aside_total` counts it, so an operator can alert on it and recover
//! the row by hand (a row is JSON, or LZ4-compressed JSON behind a 5-byte header: see
//! `row`); everything behind it is indexed as usual. A set-aside row's `seq` is
//! not reused after a restart (a missing row's may be: nothing of it is kept).

use super::Journal;
use super::pending::PendingSet;
use herald_ports::StoreError;
use std::sync::atomic::Ordering;

impl Journal {
    /// Takes the accept `seq` out of the backlog unindexed: its row is `unreadable` (the
    /// decoding error; the row is kept in `journal_unreadable`) or, with `None`, missing.
    pub(super) async fn set_aside(
        &self,
        seq: i64,
        unreadable: Option<String>,
    ) -> Result<(), StoreError> {
        match unreadable {
            Some(error) => {
                let at = herald_domain::time::now_ms();
                tracing::error!(
                    seq,
                    error,
                    "a journaled accept cannot be read back; its row is kept in journal.db's \
                     journal_unreadable table and the accepts behind it are indexed"
                );
                self.db
                    .write(0, move |conn| {
                        conn.prepare_cached(
                            "INSERT OR REPLACE INTO journal_unreadable \
                             (seq, entry, error, set_aside_ms) \
                             SELECT seq, entry, ?2, ?3 FROM journal WHERE seq = ?1",
                        )
                        .and_then(|mut keep| keep.execute(rusqlite::params![seq, error, at]))
                        .and_then(|_| {
                            conn.prepare_cached("DELETE FROM journal WHERE seq = ?1")?
                                .execute([seq])
                        })
                        .map_err(|e| StoreError::backend("setting a journal row aside", e))
                    })
                    .await?;
            }
            None => tracing::error!(
                seq,
                "a journaled accept's row is missing from journal.db; it cannot be indexed"
            ),
        }
        self.db.stats().set_aside.fetch_add(1, Ordering::Relaxed);
        let freed = {
            let mut set = self.pending.lock();
            let freed = set.remove(seq);
            self.settled(&set, 0);
            freed
        };
        if let Some(room) = freed {
            self.free(room);
        }
        Ok(())
    }

    /// Tells waiters (cancel, search: [`Journal::caught_up`]) how far accepts are settled:
    /// indexed up to `indexed`, and nothing pending before the first accept still waiting
    /// (the ones set aside are not waited for). Also updates the unindexed gauge.
    pub(super) fn settled(&self, set: &PendingSet, indexed: i64) {
        self.db
            .stats()
            .unindexed
            .store(set.deliveries, Ordering::Relaxed);
        let through = set.settled_through().max(indexed);
        self.indexed.send_if_modified(|seq| {
            let later = through > *seq;
            *seq = (*seq).max(through);
            later
        });
    }
}
