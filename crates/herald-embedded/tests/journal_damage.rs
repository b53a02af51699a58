//! A damaged journal: a row that no longer decodes, or an accept whose row is gone, is set
//! aside and every accept behind it is indexed. Before, one such row stopped indexing for
//! good (and an undecodable one failed the open), so accepts ran out of room and got 503s.

mod common;

use common::{accept_batch, indexed, open, open_journal};
use herald_domain::AppId;
use herald_embedded::Embedded;
use herald_embedded::journal::JournalOptions;
use herald_ports::{Intake, Queue, Records, SearchFilter};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Accepts `accepts` messages of `receivers` each with the indexer paused and closes the
/// backend: the next open finds them as a backlog. Returns their journal `seq`s in order.
async fn leave_unindexed(dir: &std::path::Path, app: &AppId, accepts: usize) -> Vec<i64> {
    {
        let herald = common::open_with(dir, true);
        for _ in 0..accepts {
            herald
                .intake
                .accept(accept_batch(app, 5, None))
                .await
                .unwrap();
        }
    }
    let conn = journal(dir);
    let mut select = conn
        .prepare("SELECT seq FROM journal ORDER BY seq")
        .unwrap();
    let seqs: Vec<i64> = select
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seqs.len(), accepts);
    seqs
}

fn journal(dir: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join(Embedded::JOURNAL_FILE_NAME)).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_row_is_set_aside_and_the_accepts_behind_it_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let seqs = leave_unindexed(dir.path(), &app, 4).await;
    // Two rows a later version could have written, one of them the last (so no indexing
    // commit after it would move the indexed mark past it).
    for seq in [seqs[1], seqs[3]] {
        corrupt(dir.path(), seq);
    }

    let herald = open(dir.path());
    indexed(&herald).await;
    herald.queue.loaded().await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 10);
    assert_eq!(herald.journal.stats().set_aside.load(Ordering::Relaxed), 2);
    // Kept, as written, with the reason, for an operator.
    let kept: Vec<(i64, Vec<u8>, String)> = {
        let conn = journal(dir.path());
        let mut select = conn
            .prepare("SELECT seq, entry, error FROM journal_unreadable ORDER BY seq")
            .unwrap();
        select
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(kept.len(), 2);
    assert_eq!((kept[0].0, kept[1].0), (seqs[1], seqs[3]));
    assert_eq!(kept[1].1, br#"{"messages": 7}"#.to_vec());
    assert!(kept[0].2.contains("does not decode"), "{}", kept[0].2);
    drop(herald);

    // Now the last accept alone is unreadable, with nothing indexed after it: what waits
    // for the indexer (cancel, search) is released by the set-aside itself. Its `seq` is
    // new, not one of the rows set aside before (their copies would be overwritten).
    let last = leave_unindexed(dir.path(), &app, 1).await[0];
    assert!(last > seqs[3], "seq {last} was reused");
    corrupt(dir.path(), last);
    let herald = open(dir.path());
    for _ in 0..500 {
        if herald.journal.stats().set_aside.load(Ordering::Relaxed) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(herald.journal.stats().set_aside.load(Ordering::Relaxed), 1);
    let filter = SearchFilter::default();
    let search = herald.records.search(&app, &filter, None, 20);
    let page = tokio::time::timeout(Duration::from_secs(2), search)
        .await
        .expect("a search waited for an accept that was set aside")
        .unwrap();
    assert_eq!(page.hits.len(), 10, "the readable accepts' deliveries");
    // Accepts go on as usual, and nothing is indexed twice.
    herald
        .intake
        .accept(accept_batch(&app, 5, None))
        .await
        .unwrap();
    indexed(&herald).await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 15);
    let unreadable: i64 = journal(dir.path())
        .query_row("SELECT count(*) FROM journal_unreadable", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(unreadable, 3);
}

/// Replaces a journal row with one this version cannot decode.
fn corrupt(dir: &std::path::Path, seq: i64) {
    journal(dir)
        .execute(
            "UPDATE journal SET entry = ?1 WHERE seq = ?2",
            rusqlite::params![br#"{"messages": 7}"#.to_vec(), seq],
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_whose_row_is_gone_does_not_stop_the_indexer() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let seqs = leave_unindexed(dir.path(), &app, 4).await;
    // One accept fits in memory; the other three are read back from the file.
    let limits = JournalOptions {
        memory_deliveries: 5,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), true, limits.clone());
    assert_eq!(herald.journal.spilled_accepts(), 3);
    journal(dir.path())
        .execute("DELETE FROM journal WHERE seq = ?1", [seqs[2]])
        .unwrap();
    herald.start_indexer();
    indexed(&herald).await;
    herald.queue.loaded().await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 15);
    assert_eq!(herald.journal.stats().set_aside.load(Ordering::Relaxed), 1);
    // Its room is given back with the others', and nothing is left counted as spilled.
    assert_eq!(herald.journal.spilled_accepts(), 0);
    let free = herald.journal.free_room();
    assert_eq!(
        (free.kib, free.messages),
        (limits.max_bytes / 1024, limits.max_messages)
    );
}

/// A backlog that mostly does not decode is what an older version sees of a newer one's:
/// the open fails and says why, rather than setting every accept aside. The documented way
/// to give them up (decision 0018) then lets it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_that_mostly_does_not_decode_fails_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let seqs = leave_unindexed(dir.path(), &app, 3).await;
    for &seq in &seqs[1..] {
        corrupt(dir.path(), seq);
    }
    let opened = Embedded::open(dir.path(), common::options(true));
    let Err(error) = opened else {
        panic!("the open set a whole backlog aside")
    };
    let message = error.to_string();
    assert!(
        message.contains("2 of the 3 unindexed accepts"),
        "{message}"
    );
    assert!(message.contains("newer version"), "{message}");

    journal(dir.path())
        .execute_batch(
            "INSERT INTO journal_unreadable \
             SELECT seq, entry, 'set aside by hand', 0 FROM journal; DELETE FROM journal;",
        )
        .unwrap();
    let herald = open(dir.path());
    herald.queue.loaded().await;
    assert_eq!(herald.journal.pending_deliveries(), 0);
    assert_eq!(herald.queue.stats().await.unwrap().send, 0);
}

/// A row that stops decoding while the backend runs (not found at open): an accept spilled
/// past the memory budget is read back by the indexer, which sets it aside the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_spilled_at_runtime_that_does_not_decode_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let limits = JournalOptions {
        memory_deliveries: 5,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), true, limits);
    for _ in 0..3 {
        herald
            .intake
            .accept(accept_batch(&app, 5, None))
            .await
            .unwrap();
    }
    assert_eq!(
        herald.journal.spilled_accepts(),
        2,
        "one accept fits in memory"
    );
    let conn = journal(dir.path());
    let last: i64 = conn
        .query_row("SELECT max(seq) FROM journal", [], |row| row.get(0))
        .unwrap();
    drop(conn);
    corrupt(dir.path(), last);
    herald.start_indexer();
    indexed(&herald).await;
    for _ in 0..500 {
        if herald.journal.stats().set_aside.load(Ordering::Relaxed) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(herald.journal.stats().set_aside.load(Ordering::Relaxed), 1);
    herald.queue.loaded().await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 10);
    assert_eq!(herald.journal.spilled_accepts(), 0);
}
