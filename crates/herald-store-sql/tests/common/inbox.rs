//! The inbox on the real engine: the shared conformance suite, then what only a shared
//! database must prove — two "nodes" (separate pools, separate `SqlInbox`es) serve one inbox,
//! racing stores of the same deliveries report each item new exactly once, and the listing
//! and the unread count run on the inbox's indexes.

use herald_domain::{AppId, DeliveryId};
use herald_ports::conformance::inbox::item;
use herald_ports::{Inbox, InboxFilter, InboxItem, InboxState};
use herald_store_sql::testing::{execute, fetch_texts};
use herald_store_sql::{Dialect, SqlDb, SqlInbox, SqlOptions};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Barrier;

/// Checks in `conformance::inbox::run_all`.
pub const INBOX_CHECKS: usize = 9;

async fn node(url: &str) -> SqlInbox {
    SqlInbox::new(SqlDb::connect(url, &SqlOptions::default()).await.unwrap())
}

/// Runs the conformance suite and this file's checks on one migrated database (every check
/// uses fresh app ids); returns how many checks passed.
pub async fn inbox_on_shared_sql(db: &SqlDb, url: &str) -> usize {
    herald_ports::conformance::inbox::run_all(&SqlInbox::new(db.clone())).await;
    two_nodes_share_one_inbox(url).await;
    racing_stores_report_each_item_new_once(url).await;
    queries_use_the_inbox_indexes(db).await;
    if db.dialect() == Dialect::MySql {
        stores_leave_sessions_read_committed(url).await;
        return INBOX_CHECKS + 4;
    }
    INBOX_CHECKS + 3
}

async fn ids(inbox: &SqlInbox, app: &AppId, user: &str) -> Vec<DeliveryId> {
    let page = inbox
        .list(app, user, InboxFilter::All, None, 1000)
        .await
        .unwrap();
    page.items.into_iter().map(|i| i.id).collect()
}

/// What one node stores, marks or deletes, the other sees; a redelivery of a deleted item
/// through either node stays deleted for both.
pub async fn two_nodes_share_one_inbox(url: &str) {
    let (a, b) = (node(url).await, node(url).await);
    let app = AppId::generate();
    let (older, newer) = (item(&app, "u-1", 1_000), item(&app, "u-1", 2_000));
    assert_eq!(a.store(vec![older.clone()]).await.unwrap(), [true]);
    assert_eq!(
        b.store(vec![older.clone(), newer.clone()]).await.unwrap(),
        [false, true],
        "node b knows what node a stored"
    );
    for inbox in [&a, &b] {
        assert_eq!(
            ids(inbox, &app, "u-1").await,
            [newer.id.clone(), older.id.clone()],
            "both nodes list every item, newest stored first"
        );
        assert_eq!(inbox.unread_count(&app, "u-1").await.unwrap(), 2);
    }

    let read = b
        .set_state(&app, "u-1", &older.id, InboxState::Read, 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a.get(&app, "u-1", &older.id).await.unwrap(),
        Some(read),
        "a mark on node b is what node a reads"
    );
    assert_eq!(a.unread_count(&app, "u-1").await.unwrap(), 1);

    assert!(a.delete(&app, "u-1", &newer.id).await.unwrap());
    assert!(
        !b.delete(&app, "u-1", &newer.id).await.unwrap(),
        "node b sees the item already deleted"
    );
    for (redelivering, other) in [(&a, &b), (&b, &a)] {
        assert_eq!(
            redelivering.store(vec![newer.clone()]).await.unwrap(),
            [false],
            "a redelivery after delete is not stored again"
        );
        assert_eq!(other.get(&app, "u-1", &newer.id).await.unwrap(), None);
        assert_eq!(
            ids(other, &app, "u-1").await,
            std::slice::from_ref(&older.id)
        );
        assert_eq!(other.unread_count(&app, "u-1").await.unwrap(), 0);
    }
}

/// Eight callers on two nodes store overlapping batches of the same deliveries at once (a
/// redelivered task racing its first delivery): every item is stored once, and exactly one
/// call reports it new — the one whose live-stream push the user sees.
pub async fn racing_stores_report_each_item_new_once(url: &str) {
    const ROUNDS: usize = 3;
    const ITEMS: usize = 120;
    const CALLERS_PER_NODE: usize = 4;
    let nodes = [node(url).await, node(url).await];
    for round in 0..ROUNDS {
        let app = AppId::generate();
        let items: Arc<Vec<InboxItem>> = Arc::new(
            (0..ITEMS)
                .map(|i| item(&app, &format!("u-{}", i % 4), i as i64))
                .collect(),
        );
        let start = Arc::new(Barrier::new(2 * CALLERS_PER_NODE));
        let mut callers = Vec::new();
        for (n, inbox) in nodes.iter().enumerate() {
            for c in 0..CALLERS_PER_NODE {
                let (inbox, items, start) = (inbox.clone(), items.clone(), start.clone());
                // Batch boundaries differ per caller, so batches overlap partially.
                let batch = 20 + 7 * (n * CALLERS_PER_NODE + c);
                callers.push(tokio::spawn(async move {
                    start.wait().await;
                    let mut fresh = Vec::new();
                    for chunk in items.chunks(batch) {
                        let flags = inbox.store(chunk.to_vec()).await.unwrap();
                        fresh.extend(chunk.iter().zip(flags).filter(|(_, f)| *f));
                    }
                    fresh
                        .into_iter()
                        .map(|(item, _)| item.id.clone())
                        .collect::<Vec<_>>()
                }));
            }
        }
        let mut reported_new: HashMap<DeliveryId, usize> = HashMap::new();
        for caller in callers {
            for id in caller.await.unwrap() {
                *reported_new.entry(id).or_default() += 1;
            }
        }
        let twice: Vec<_> = reported_new.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "round {round}: {} items reported new more than once, e.g. {:?}",
            twice.len(),
            twice.iter().take(3).collect::<Vec<_>>()
        );
        assert_eq!(
            reported_new.len(),
            ITEMS,
            "round {round}: every item reported new once"
        );
        let mut listed = HashSet::new();
        for user in 0..4 {
            for id in ids(&nodes[0], &app, &format!("u-{user}")).await {
                assert!(listed.insert(id), "round {round}: an item stored twice");
            }
        }
        assert_eq!(listed.len(), ITEMS, "round {round}: every item stored");
    }
}

/// With a realistic spread of users, the unread count is an index-only count on
/// `inbox_by_user_state` and a page is read through an inbox index, not a table scan.
pub async fn queries_use_the_inbox_indexes(db: &SqlDb) {
    let inbox = SqlInbox::new(db.clone());
    let app = AppId::generate();
    let items: Vec<_> = (0..2_000)
        .map(|i| item(&app, &format!("user-{}", i % 40), i))
        .collect();
    for batch in items.chunks(500) {
        inbox.store(batch.to_vec()).await.unwrap();
    }
    let (analyze, explain) = match db.dialect() {
        Dialect::Postgres => ("ANALYZE inbox_items", "EXPLAIN"),
        Dialect::MySql => ("ANALYZE TABLE inbox_items", "EXPLAIN FORMAT=JSON"),
    };
    execute(db, analyze).await;
    let plan = |sql: String| async move {
        fetch_texts(db, &format!("{explain} {sql}"))
            .await
            .join("\n")
    };
    let scope = format!("app_id = '{app}' AND user_id = 'user-7'");

    let count = plan(format!(
        "SELECT COUNT(*) FROM inbox_items WHERE {scope} AND state = 0"
    ))
    .await;
    let index_only = match db.dialect() {
        Dialect::Postgres => count.contains("Index Only Scan using inbox_by_user_state"),
        Dialect::MySql => {
            count.contains(r#""key": "inbox_by_user_state""#)
                && count.contains(r#""using_index": true"#)
        }
    };
    assert!(
        index_only,
        "the unread count reads the index alone:\n{count}"
    );

    for state_condition in ["state <= 1", "state = 0"] {
        let page = plan(format!(
            "SELECT seq, id FROM inbox_items WHERE {scope} AND {state_condition}
              AND seq < 9223372036854775807 ORDER BY seq DESC LIMIT 21"
        ))
        .await;
        let in_index_order = match db.dialect() {
            Dialect::Postgres => {
                page.contains("Index Scan")
                    && page.contains("inbox_by_user")
                    && !page.contains("Sort")
            }
            Dialect::MySql => {
                page.contains(r#""key": "inbox_by_user"#) && !page.contains("filesort")
            }
        };
        assert!(
            in_index_order,
            "a page ({state_condition}) is read in order from an inbox index:\n{page}"
        );
    }
}

/// MySQL/MariaDB: a store runs its own transaction `REPEATABLE READ`, and the session it
/// borrowed goes back to the pool `READ COMMITTED`, the level the other stores rely on.
pub async fn stores_leave_sessions_read_committed(url: &str) {
    let one_session = SqlOptions {
        max_connections: 1,
        ..SqlOptions::default()
    };
    let db = SqlDb::connect(url, &one_session).await.unwrap();
    let app = AppId::generate();
    let stored = SqlInbox::new(db.clone())
        .store(vec![item(&app, "u-1", 1_000)])
        .await
        .unwrap();
    assert_eq!(stored, [true]);
    let pool = db.mysql().expect("a MySQL pool");
    let mut tx = pool.begin().await.unwrap();
    // A first read starts the InnoDB transaction; the second finds it by session.
    let items: i64 =
        sqlx_core::query_scalar::query_scalar("SELECT COUNT(*) FROM inbox_items WHERE app_id = ?")
            .bind(app.as_str())
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(items, 1);
    let level: String = sqlx_core::query_scalar::query_scalar(
        "SELECT trx_isolation_level FROM information_schema.INNODB_TRX
          WHERE trx_mysql_thread_id = CONNECTION_ID()",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        level, "READ COMMITTED",
        "the next transaction on the session"
    );
    db.close().await;
}
