//! The accept journal: an accept without an idempotency key is durable once journaled, is
//! readable at once, and reaches the records and the queue through the indexer — also
//! after a restart that left it unindexed, and exactly once.

mod common;

use common::{accept_batch, indexed, open, open_journal, open_with, receive_sends};
use herald_domain::{AppId, DeliveryState, MessageStatus, TaskEnvelope};
use herald_embedded::Embedded;
use herald_embedded::journal::JournalOptions;
use herald_ports::{Intake, Queue, Records, SearchFilter, Topic};
use std::time::Duration;

fn sent_tasks(received: &[herald_ports::Leased]) -> Vec<TaskEnvelope> {
    received.iter().map(|l| l.task.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journaled_accept_reads_the_same_before_and_after_indexing() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let batch = accept_batch(&app, 3, None);
    let id = batch.messages[0].id.clone();
    // A second message scheduled for later, with variables, read back the same way.
    let mut scheduled = accept_batch(&app, 2, None);
    let later = scheduled.messages[0].created_at + 3_600_000;
    scheduled.messages[0].send_at = Some(later);
    scheduled.messages[0]
        .variables
        .insert("name".into(), serde_json::json!("Ada"));
    scheduled.messages[0].deliveries[1]
        .variables
        .insert("code".into(), serde_json::json!("4711"));
    let scheduled_id = scheduled.messages[0].id.clone();
    let batch_deliveries: Vec<_> = batch.messages[0]
        .deliveries
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let before = {
        let herald = open_with(dir.path(), true);
        herald.intake.accept(batch).await.unwrap();
        assert_eq!(herald.journal.pending_deliveries(), 3);
        // Not in herald.db yet, so its tasks are not receivable...
        let none = herald
            .queue
            .receive(Topic::Send, 10, Duration::from_millis(200))
            .await
            .unwrap();
        assert!(none.is_empty(), "a task was receivable before its records");
        // ...but the message reads as accepted.
        herald.intake.accept(scheduled).await.unwrap();
        let view = herald.records.get_message(&app, &id).await.unwrap();
        let scheduled_view = herald
            .records
            .get_message(&app, &scheduled_id)
            .await
            .unwrap();
        // A cancel waits for the indexer (it would find no task to remove yet), so with the
        // indexer paused it does not return.
        let ids: Vec<_> = batch_deliveries.clone();
        let cancel = herald.queue.cancel(&app, &ids);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), cancel)
                .await
                .is_err(),
            "a cancel returned before the accept it cancels was indexed"
        );
        (
            view.expect("a journaled message is readable at once"),
            scheduled_view.expect("a journaled scheduled message is readable at once"),
        )
    };
    let (before, scheduled_before) = before;
    assert!(
        scheduled_before
            .deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Scheduled)
    );
    assert_eq!(before.status, MessageStatus::Accepted);
    assert!(
        before
            .deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Accepted)
    );

    let herald = open(dir.path());
    indexed(&herald).await;
    let after = herald.records.get_message(&app, &id).await.unwrap();
    assert_eq!(
        after,
        Some(before),
        "the memory view differs from the stored one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_left_unindexed_are_indexed_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let (first, second) = (accept_batch(&app, 2, None), accept_batch(&app, 3, None));
    let mut expected = first.send_tasks();
    expected.extend(second.send_tasks());
    {
        let herald = open_with(dir.path(), true);
        herald.intake.accept(first).await.unwrap();
        herald.intake.accept(second).await.unwrap();
    }
    {
        let herald = open(dir.path());
        indexed(&herald).await;
        herald.queue.loaded().await;
        assert_eq!(herald.queue.stats().await.unwrap().send, 5);
    }
    // A third open finds nothing left to index: no task or record twice.
    let herald = open(dir.path());
    herald.queue.loaded().await;
    assert_eq!(herald.journal.pending_deliveries(), 0);
    assert_eq!(herald.queue.stats().await.unwrap().send, 5);
    let received = herald
        .queue
        .receive(Topic::Send, 10, Duration::from_secs(2))
        .await
        .unwrap();
    let mut got = sent_tasks(&received);
    got.sort_by_key(|t| t.delivery_id().clone());
    expected.sort_by_key(|t| t.delivery_id().clone());
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_cancel_right_after_an_accept_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let herald = open(dir.path());
    let app = AppId::generate();
    let batch = accept_batch(&app, 2, None);
    let message = batch.messages[0].id.clone();
    let deliveries: Vec<_> = batch.messages[0]
        .deliveries
        .iter()
        .map(|d| d.id.clone())
        .collect();
    herald.intake.accept(batch).await.unwrap();
    let page = herald
        .records
        .search(&app, &SearchFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.hits.len(), 2, "search missed a fresh accept");
    assert!(page.hits.iter().all(|hit| hit.message_id == message));

    // Large enough that its indexing is still running when the cancel comes.
    let other = accept_batch(&app, 1_000, None);
    let other_deliveries: Vec<_> = other.messages[0]
        .deliveries
        .iter()
        .map(|d| d.id.clone())
        .collect();
    herald.intake.accept(other).await.unwrap();
    let canceled = herald.queue.cancel(&app, &other_deliveries).await.unwrap();
    assert_eq!(
        canceled, 1_000,
        "a cancel right after the accept missed its tasks"
    );
    let received = herald
        .queue
        .receive(Topic::Send, 10, Duration::from_millis(500))
        .await
        .unwrap();
    let mut got: Vec<_> = received
        .iter()
        .map(|l| l.task.delivery_id().clone())
        .collect();
    got.sort();
    let mut want = deliveries;
    want.sort();
    assert_eq!(got, want, "only the first message's tasks remain");
}

/// Accepts `batch()` until one is still waiting after 300 ms; returns how many got in.
async fn accept_until_full(
    herald: &Embedded,
    batch: impl Fn() -> herald_ports::AcceptBatch,
) -> usize {
    for accepted in 0..1_000 {
        let accept = herald.intake.accept(batch());
        match tokio::time::timeout(Duration::from_millis(300), accept).await {
            Ok(done) => {
                done.unwrap();
            }
            Err(_) => return accepted,
        }
    }
    panic!("no limit was reached after 1,000 accepts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_wait_for_room_once_the_journal_bytes_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let limits = JournalOptions {
        max_bytes: 1 << 20,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), true, limits);
    let app = AppId::generate();
    // A row of 1,000 receivers here is ~100 KiB of JSON, stored LZ4-compressed in ~26 KiB:
    // about forty fit in 1 MiB.
    let accepted = accept_until_full(&herald, || accept_batch(&app, 1_000, None)).await;
    assert!(
        (20..=80).contains(&accepted),
        "{accepted} rows fit in 1 MiB"
    );
    assert_eq!(herald.journal.pending_deliveries(), 1_000 * accepted as u64);
    // Smaller accepts may still fit the rest (1 KiB at least each), then wait too.
    let small = accept_until_full(&herald, || accept_batch(&app, 1, None)).await;
    assert!(
        small < 100,
        "{small} one-receiver rows fit after the large ones"
    );
    let pending = herald.journal.pending_deliveries();
    // Concurrent accepts cannot slip past the limit together.
    let waiting: Vec<_> = (0..4)
        .map(|_| {
            let intake = herald.intake.clone();
            let batch = accept_batch(&app, 1, None);
            tokio::spawn(async move { intake.accept(batch).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        waiting.iter().all(|task| !task.is_finished()),
        "an accept passed the limit"
    );
    assert_eq!(herald.journal.pending_deliveries(), pending);
    for task in waiting {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_wait_for_room_once_the_unindexed_messages_are_counted_full() {
    let dir = tempfile::tempdir().unwrap();
    let limits = JournalOptions {
        max_messages: 5,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), true, limits);
    let app = AppId::generate();
    let accepted = accept_until_full(&herald, || accept_batch(&app, 1, None)).await;
    assert_eq!(accepted, 5);
}

/// Past the memory budget accepts are spilled: still readable at once (from their journal
/// rows), indexed in order with every task exactly once, also across a restart, and a
/// search does not wait on the catch-up meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_past_the_memory_budget_are_spilled_and_indexed_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let limits = JournalOptions {
        max_bytes: 1 << 30,
        memory_deliveries: 250,
        ..JournalOptions::default()
    };
    let app = AppId::generate();
    let mut batches: Vec<_> = (0..12).map(|_| accept_batch(&app, 100, None)).collect();
    // One accept whose task holds a value its record redacts: its row keeps the tasks (the
    // others are rebuilt from their messages), and the clear value must survive.
    batches[3].messages[0].deliveries[0].variables.insert(
        "code".into(),
        serde_json::json!(herald_domain::message::REDACTED),
    );
    let TaskEnvelope::DeliveryV1(task) = &mut batches[3].tasks.as_mut().unwrap()[0] else {
        panic!("a delivery task")
    };
    task.variables
        .insert("code".into(), serde_json::json!("4711"));
    let mut expected: Vec<_> = batches.iter().flat_map(|b| b.send_tasks()).collect();
    // Half of them leave their tasks to be derived (what accept does when nothing is
    // redacted): spilled, those are built only when read back.
    for batch in batches.iter_mut().step_by(2).filter(|b| b.tasks.is_some()) {
        if batch.messages[0].deliveries[0].variables.is_empty() {
            batch.tasks = None;
        }
    }
    let ids: Vec<_> = batches.iter().map(|b| b.messages[0].id.clone()).collect();
    {
        let herald = open_journal(dir.path(), true, limits.clone());
        for batch in batches {
            herald.intake.accept(batch).await.unwrap();
        }
        assert_eq!(herald.journal.pending_deliveries(), 1_200);
        assert_eq!(
            herald.journal.spilled_accepts(),
            10,
            "two accepts fit the budget"
        );
        for id in [&ids[0], &ids[5], &ids[11]] {
            let view = herald.records.get_message(&app, id).await.unwrap();
            let view = view.expect("a spilled accept is readable at once");
            assert_eq!(&view.message.id, id);
            assert_eq!(view.deliveries.len(), 100);
            assert_eq!(view.status, MessageStatus::Accepted);
        }
        let filter = SearchFilter::default();
        let search = herald.records.search(&app, &filter, None, 10);
        let page = tokio::time::timeout(Duration::from_secs(2), search)
            .await
            .expect("a search waited on a spilled backlog")
            .unwrap();
        assert!(page.hits.is_empty(), "nothing is indexed yet");
    }
    // Reopened with the indexer running: the backlog is read back and indexed, once.
    let herald = open_journal(dir.path(), false, limits);
    indexed(&herald).await;
    herald.queue.loaded().await;
    assert_eq!(herald.journal.spilled_accepts(), 0);
    assert_eq!(herald.queue.stats().await.unwrap().send, 1_200);
    let got = receive_sends(&herald, 1_200).await;
    expected.sort_by_key(|t| t.delivery_id().clone());
    assert_eq!(got, expected);
    for id in &ids {
        let view = herald.records.get_message(&app, id).await.unwrap();
        assert_eq!(view.map(|v| v.deliveries.len()), Some(100));
    }
}

/// With the indexer running, a burst larger than the memory budget is accepted without
/// waiting for it and drains to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_memory_budget_drains() {
    let dir = tempfile::tempdir().unwrap();
    let limits = JournalOptions {
        max_bytes: 1 << 30,
        memory_deliveries: 300,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), false, limits);
    let app = AppId::generate();
    let accepts: Vec<_> = (0..40)
        .map(|_| {
            let intake = herald.intake.clone();
            let batch = accept_batch(&app, 250, None);
            tokio::spawn(async move { intake.accept(batch).await })
        })
        .collect();
    for accept in accepts {
        accept.await.unwrap().unwrap();
    }
    indexed(&herald).await;
    assert_eq!(herald.journal.spilled_accepts(), 0);
    assert_eq!(herald.queue.stats().await.unwrap().send, 10_000);
}

/// Accepts `batches` of 250 receivers with the indexer paused and closes the backend: the
/// next open recovers them as a backlog.
async fn leave_unindexed(dir: &std::path::Path, batches: usize) {
    let app = AppId::generate();
    let herald = open_with(dir, true);
    for _ in 0..batches {
        herald
            .intake
            .accept(accept_batch(&app, 250, None))
            .await
            .unwrap();
    }
}

/// `journal.db`'s size in pages, as a reader sees it (committed rows in the WAL included).
fn journal_pages(dir: &std::path::Path) -> u64 {
    let path = dir.join(Embedded::JOURNAL_FILE_NAME);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA page_count", [], |row| row.get(0))
        .unwrap()
}

/// Once a backlog is indexed, the journal gives its pages back: the file does not stay at
/// a burst's high-water mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_file_shrinks_once_a_backlog_is_indexed() {
    let dir = tempfile::tempdir().unwrap();
    leave_unindexed(dir.path(), 100).await;
    let backlog = journal_pages(dir.path());
    assert!(backlog > 200, "the backlog took only {backlog} pages");
    let limits = JournalOptions {
        shrink_free_pages: 64,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), false, limits);
    indexed(&herald).await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 25_000);
    // The trim (and the shrink after it) follows the indexed mark.
    let mut pages = journal_pages(dir.path());
    for _ in 0..500 {
        if pages < 100 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        pages = journal_pages(dir.path());
    }
    panic!("journal.db kept {pages} of the backlog's {backlog} pages");
}

/// A cancel of deliveries already indexed does not wait for a backlog still being indexed
/// behind them (it used to wait for all of it, and answer 503 after 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_of_indexed_deliveries_does_not_wait_for_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppId::generate();
    let indexed_batch = accept_batch(&app, 3, None);
    let ids: Vec<_> = indexed_batch.messages[0]
        .deliveries
        .iter()
        .map(|d| d.id.clone())
        .collect();
    {
        let herald = open(dir.path());
        herald.intake.accept(indexed_batch).await.unwrap();
        indexed(&herald).await;
    }
    // The indexer paused: this backlog stays unindexed.
    let herald = open_with(dir.path(), true);
    let backlog = accept_batch(&app, 2, None);
    let unindexed: Vec<_> = backlog.messages[0]
        .deliveries
        .iter()
        .map(|d| d.id.clone())
        .collect();
    herald.intake.accept(backlog).await.unwrap();
    assert_eq!(herald.journal.pending_deliveries(), 2);

    let canceled = tokio::time::timeout(Duration::from_secs(2), herald.queue.cancel(&app, &ids))
        .await
        .expect("the cancel waited for the backlog")
        .unwrap();
    assert_eq!(canceled, 3);
    // Deliveries still in the journal do wait (and, with the indexer paused, give up).
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        herald.queue.cancel(&app, &unindexed),
    )
    .await;
    assert!(
        waiting.is_err(),
        "an unindexed delivery's cancel did not wait"
    );
}

/// A backlog recovered under larger limits than the node now has does not raise them: once
/// it is indexed, the free room is the new limit, not what the backlog held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_recovered_under_larger_limits_leaves_the_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    leave_unindexed(dir.path(), 20).await;
    let limits = JournalOptions {
        max_bytes: 64 * 1024,
        max_messages: 5,
        ..JournalOptions::default()
    };
    let herald = open_journal(dir.path(), false, limits);
    indexed(&herald).await;
    assert_eq!(herald.queue.stats().await.unwrap().send, 5_000);
    let free = herald.journal.free_room();
    assert_eq!((free.kib, free.messages), (64, 5));
}
