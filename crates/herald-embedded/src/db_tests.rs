//! Tests of the group-committing writer: grouping, isolation of savepoint jobs, and
//! whole-group rollback of unisolated ones.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_failures_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        &dir.path().join("t.db"),
        &["CREATE TABLE IF NOT EXISTS t (v INTEGER UNIQUE)"],
        DbOptions::default(),
    )
    .unwrap();
    let mut handles = Vec::new();
    for i in 0..500i64 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.write(1, move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [i % 400])
                    .map_err(|e| StoreError::Conflict(e.to_string()))?;
                Ok(())
            })
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        if h.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 400, "duplicates fail alone, the rest commit");
    let n: i64 = db
        .read(|c| {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .map_err(|e| StoreError::backend("count", e))
        })
        .await
        .unwrap();
    assert_eq!(n, 400);
    let stats = db.stats();
    assert!(
        stats.commits() < 500,
        "writes were grouped: {} commits",
        stats.commits()
    );
    assert_eq!(stats.items(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_unisolated_write_fails_its_whole_group_and_nothing_of_it_lands() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        &dir.path().join("t.db"),
        &["CREATE TABLE IF NOT EXISTS t (v INTEGER UNIQUE)"],
        DbOptions::default(),
    )
    .unwrap();
    let insert = |v: i64| {
        move |c: &Connection| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            Ok(())
        }
    };
    db.write_unisolated(1, insert(1)).await.unwrap();
    // Many writes in flight so some share a group with the failing one.
    let mut handles = Vec::new();
    for v in 2..200i64 {
        let db = db.clone();
        let v = if v == 100 { 1 } else { v };
        handles.push(tokio::spawn(async move {
            (v, db.write_unisolated(1, insert(v)).await)
        }));
    }
    let mut succeeded = Vec::new();
    let mut failed = 0;
    for h in handles {
        match h.await.unwrap() {
            (v, Ok(())) => succeeded.push(v),
            (_, Err(_)) => failed += 1,
        }
    }
    assert!(failed >= 1, "the duplicate fails");
    let stored: i64 = db
        .read(|c| {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .map_err(|e| StoreError::backend("count", e))
        })
        .await
        .unwrap();
    assert_eq!(
        stored as usize,
        succeeded.len() + 1,
        "exactly the writes reported durable are stored"
    );
}

/// Sustained writes with reads alongside: the checkpoint thread alone never catches up with
/// the end of the WAL, so without the writer's restart the WAL grows by everything written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_sustained_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let limit = 1 << 20;
    let db = Db::open(
        &path,
        &["CREATE TABLE IF NOT EXISTS t (v BLOB)"],
        DbOptions {
            wal_restart_bytes: limit,
            ..Default::default()
        },
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                db.read(|c| {
                    c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                        .map_err(|e| StoreError::backend("count", e))
                })
                .await
                .unwrap();
            }
        })
    };
    // 32 MiB in 2,048 commits of 16 KiB, each waiting for the previous one.
    let mut largest = 0;
    for _ in 0..2048 {
        db.write(1, |c| {
            c.execute("INSERT INTO t (v) VALUES (zeroblob(16384))", [])
                .map_err(|e| StoreError::backend("insert", e))?;
            Ok(())
        })
        .await
        .unwrap();
        largest = largest.max(std::fs::metadata(wal_path(&path)).unwrap().len());
    }
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(
        largest < 8 * limit,
        "the WAL grew to {largest} bytes with a restart limit of {limit}"
    );
}

/// Jobs that queue up while the writer is busy: the small ones run first, and the bulk ones
/// are split into groups of about `max_group_items` (see `backlog`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_jobs_overtake_queued_bulk_jobs() {
    use std::future::Future;
    use std::task::{Context, Waker};

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        &dir.path().join("t.db"),
        &["CREATE TABLE IF NOT EXISTS t (v TEXT)"],
        DbOptions {
            max_group_items: 1_000,
            ..Default::default()
        },
    )
    .unwrap();
    let order = Arc::new(Mutex::new(Vec::<&str>::new()));
    // A first job holds the writer until the others are queued.
    let (started, running) = std::sync::mpsc::channel::<()>();
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let db = db.clone();
        tokio::spawn(async move {
            db.write(1, move |_| {
                started.send(()).unwrap();
                hold.recv().unwrap();
                Ok(())
            })
            .await
        })
    };
    running.recv().unwrap();
    // One poll sends a write's job to the writer, so they queue in exactly this order.
    let mut writes = Vec::new();
    for (name, items) in [
        ("bulk 1", 800),
        ("bulk 2", 800),
        ("small", 1),
        ("bulk 3", 800),
    ] {
        let order = order.clone();
        let mut write = Box::pin(db.write(items, move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [name]).unwrap();
            order.lock().push(name);
            Ok(())
        }));
        let pending = write
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending();
        assert!(pending, "{name} cannot be done while the writer is held");
        writes.push(write);
    }
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for write in writes {
        write.await.unwrap();
    }
    assert_eq!(*order.lock(), ["small", "bulk 1", "bulk 2", "bulk 3"]);
    assert_eq!(
        db.stats().commits(),
        2,
        "the blocker's group took the small job and bulk 1 + 2 (1,602 items); bulk 3 waited"
    );
}

/// When no transaction can begin, the waiting jobs are answered with an error without
/// running — a job run outside a transaction would commit on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_do_not_run_when_no_transaction_can_begin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let db = Db::open(
        &path,
        &["CREATE TABLE IF NOT EXISTS t (v INTEGER)"],
        DbOptions::default(),
    )
    .unwrap();
    // Another connection holds the write lock past the writer's busy timeout (5 s).
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let outcome = db
        .write(1, move |c| {
            flag.store(true, Ordering::Relaxed);
            c.execute("INSERT INTO t (v) VALUES (1)", [])
                .map(drop)
                .map_err(|e| StoreError::backend("insert", e))
        })
        .await;
    other.execute_batch("ROLLBACK").unwrap();
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(!ran.load(Ordering::Relaxed), "the job did not run");
}
