//! The search vocabulary through the real write paths: result events applied by the records
//! store and by the settle both add their unseen words, share one cache (a word already
//! written is not written again), and a prefix search finds what they wrote.

mod common;

use herald_domain::{AppId, DeliveryState};
use herald_ports::conformance::records::fixtures::{dlv, event, message, with_content};
use herald_ports::{QueueCommit, Records, SearchFilter, Settle};

/// The rows written to the vocabulary and to its staging table (one per batch that brought
/// unseen words; moving staged rows keeps the count at most equal), and the words of both.
fn vocabulary(dir: &std::path::Path) -> (i64, Vec<String>) {
    let conn = rusqlite::Connection::open(dir.join("herald.db")).unwrap();
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let rows = count("delivery_vocab_docsize") + count("delivery_vocab_staged");
    let column = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut terms = column("SELECT term FROM delivery_vocab_terms");
    for staged in column("SELECT terms FROM delivery_vocab_staged") {
        terms.extend(staged.split(' ').map(str::to_owned));
    }
    terms.sort();
    terms.dedup();
    (rows, terms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_writers_add_unseen_words_once_and_search_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path());
    let app = AppId::generate();
    let m = message(&app, 1_000, &["r1", "r2", "r3"]);
    store
        .records
        .record_accepted(vec![m.clone()])
        .await
        .unwrap();
    let sent =
        |i: usize, text: &str| with_content(event(&m, &dlv(&m, i), 1, DeliveryState::Sent), text);

    store
        .records
        .apply(vec![sent(0, "Hello Ann, your order shipped")])
        .await
        .unwrap();
    let (rows, terms) = vocabulary(dir.path());
    assert_eq!(rows, 1);
    assert_eq!(terms, ["ann", "hello", "order", "shipped", "your"]);

    let settle = |e| store.settle.settle(vec![e], QueueCommit::default());
    settle(sent(1, "hello ANN: order shipped")).await.unwrap();
    assert_eq!(
        vocabulary(dir.path()).0,
        1,
        "the settle knows what the records store wrote: nothing new, no row"
    );
    settle(sent(2, "hello Bob")).await.unwrap();
    let (rows, terms) = vocabulary(dir.path());
    assert_eq!(rows, 2);
    assert!(terms.contains(&"bob".to_owned()));

    let found = |q: &str| {
        let filter = SearchFilter {
            text: Some(q.into()),
            ..Default::default()
        };
        let records = store.records.clone();
        let app = app.clone();
        async move {
            let page = records.search(&app, &filter, None, 10).await.unwrap();
            let mut ids: Vec<_> = page.hits.into_iter().map(|h| h.delivery_id).collect();
            ids.sort();
            ids
        }
    };
    let mut all: Vec<_> = (0..3).map(|i| dlv(&m, i)).collect();
    all.sort();
    assert_eq!(found("hel").await, all);
    assert_eq!(found("bo").await, [dlv(&m, 2)]);
    assert_eq!(found("order sh").await.len(), 2);
    assert!(found("bx").await.is_empty());

    // A quiet store: no result batch comes to move the staged words, so a search that saw
    // them asks for the move (at most once a second).
    let staged = |dir: &std::path::Path| -> i64 {
        rusqlite::Connection::open(dir.join("herald.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM delivery_vocab_staged", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    // After a quiet second, a word staged behind the store's back (so there is one whatever
    // the batches above moved) is moved by the next search that sees it, and only by it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    rusqlite::Connection::open(dir.path().join("herald.db"))
        .unwrap()
        .execute(
            "INSERT INTO delivery_vocab_staged (terms) VALUES ('zebra')",
            [],
        )
        .unwrap();
    assert!(staged(dir.path()) >= 1);
    assert!(found("ze").await.is_empty(), "no delivery holds it");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while staged(dir.path()) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the search moved nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, terms) = vocabulary(dir.path());
    assert!(terms.contains(&"zebra".to_owned()) && terms.contains(&"bob".to_owned()));
    assert_eq!(found("bo").await, [dlv(&m, 2)]);
}
