//! `journal.db` as a file: created with incremental auto-vacuum (an earlier version's file
//! converted at open while it holds little), and shrunk after a burst.
//!
//! A drained backlog leaves its pages free; without giving them back the file would stay at
//! the burst's high-water mark (up to `storage.journal_max_mb`). Shrinking runs in small
//! steps, each its own job of the journal's writer, and only once the backlog is small
//! (decision 0018, addendum).

use super::{Journal, SCHEMA};
use herald_ports::StoreError;
use std::sync::atomic::Ordering;

/// Unindexed rows (KiB) below which a trim may shrink the file: shrinking moves the live
/// rows from the file's end into the freed pages, which is cheap only once few are left.
const SHRINK_BELOW_UNINDEXED_KIB: u64 = 16 * 1024;

/// Pages one shrink job gives back (8 MiB): each is a separate job of the journal's writer,
/// so accepts committing meanwhile never wait for more than one step.
const SHRINK_STEP_PAGES: u64 = 2048;

/// Live pages (4 KiB) up to which a file created by an earlier version, without
/// auto-vacuum, is converted at open: the `VACUUM` that converts it copies the live pages,
/// so it is quick while they are few (it skips free ones, however many).
const CONVERT_BELOW_LIVE_PAGES: u64 = 4096;

/// Sets up a new (empty) `journal.db` with incremental auto-vacuum, which must be set before
/// its first table and before WAL mode. A file created by an earlier version, without it,
/// is converted when it holds little (after a clean stop it holds nothing); otherwise it
/// keeps its mode until a later start.
pub(crate) fn create_file(path: &std::path::Path) -> Result<(), StoreError> {
    rusqlite::Connection::open(path)
        .and_then(|conn| {
            let pages: u64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
            if pages == 0 {
                conn.execute_batch(
                    "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;",
                )?;
                return conn.execute_batch(SCHEMA);
            }
            let mode: u64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
            let free: u64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
            let live = pages.saturating_sub(free);
            if mode == 0 && live <= CONVERT_BELOW_LIVE_PAGES {
                conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
                tracing::info!(
                    freed_pages = free,
                    "journal.db converted to incremental auto-vacuum (created by an earlier version)"
                );
            }
            Ok(())
        })
        .map_err(|e| StoreError::backend(format!("creating {}", path.display()), e))
}

/// One step of giving free pages back once at least `at_free_pages` are free; `true` when
/// it freed some and as many are still free, so another step is due. In a file without
/// auto-vacuum (created by an earlier version) the pragma frees nothing, and this says so.
fn shrink_step(conn: &rusqlite::Connection, at_free_pages: u64) -> rusqlite::Result<bool> {
    let free = |conn: &rusqlite::Connection| -> rusqlite::Result<u64> {
        conn.prepare_cached("PRAGMA freelist_count")?
            .query_row([], |row| row.get(0))
    };
    let at_free_pages = at_free_pages.max(1);
    let before = free(conn)?;
    if before < at_free_pages {
        return Ok(false);
    }
    // Each row the pragma returns is one page freed; it must be stepped to completion.
    // (A pragma's argument cannot be a bound parameter.)
    let mut vacuum =
        conn.prepare_cached(&format!("PRAGMA incremental_vacuum({SHRINK_STEP_PAGES})"))?;
    let mut rows = vacuum.query([])?;
    while rows.next()?.is_some() {}
    let after = free(conn)?;
    Ok(after < before && after >= at_free_pages)
}

impl Journal {
    /// The free pages at which the file is shrunk now: never while a large backlog would
    /// have to be moved to do it.
    fn shrink_at(&self) -> Option<u64> {
        let free = self.room_kib.available_permits() as u64;
        let unindexed = (self.options.max_bytes / 1024).saturating_sub(free);
        (unindexed < SHRINK_BELOW_UNINDEXED_KIB).then_some(self.options.shrink_free_pages)
    }

    /// After a trim: gives free pages back in steps of [`SHRINK_STEP_PAGES`], each its own
    /// job, until fewer than the threshold are free or a backlog builds up again. One
    /// shrink runs at a time; later trims leave it to the running one.
    pub(crate) async fn shrink(&self) {
        if self.shrinking.swap(true, Ordering::AcqRel) {
            return;
        }
        while let Some(at_free_pages) = self.shrink_at() {
            let step = self
                .db
                .write(0, move |conn| {
                    shrink_step(conn, at_free_pages)
                        .map_err(|e| StoreError::backend("shrinking the journal", e))
                })
                .await;
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %herald_ports::error::error_chain(&e), "shrinking the journal");
                    break;
                }
            }
        }
        self.shrinking.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with `rows` rows of 4 KiB, then all deleted: their pages are free.
    fn file_with_free_pages(
        dir: &std::path::Path,
        auto_vacuum: bool,
        rows: i64,
    ) -> rusqlite::Connection {
        let path = dir.join(if auto_vacuum { "new.db" } else { "old.db" });
        if auto_vacuum {
            create_file(&path).unwrap();
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        insert_rows(&conn, rows);
        conn.execute("DELETE FROM journal", []).unwrap();
        conn
    }

    /// Creates the journal's table and inserts `rows` rows of 4 KiB, in one transaction.
    fn insert_rows(conn: &rusqlite::Connection, rows: i64) {
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for seq in 0..rows {
            conn.execute(
                "INSERT INTO journal (seq, entry) VALUES (?1, zeroblob(4096))",
                [seq],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }

    /// A numeric pragma's value.
    fn pragma(conn: &rusqlite::Connection, name: &str) -> u64 {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
            .unwrap()
    }

    fn free_pages(conn: &rusqlite::Connection) -> u64 {
        pragma(conn, "freelist_count")
    }

    #[test]
    fn shrinking_goes_in_steps_and_stops_where_nothing_can_be_freed() {
        let dir = tempfile::tempdir().unwrap();
        let conn = file_with_free_pages(dir.path(), true, 3_000);
        let free = free_pages(&conn);
        assert!(free > SHRINK_STEP_PAGES, "{free} free pages");
        assert!(
            shrink_step(&conn, 100).unwrap(),
            "more than one step's pages were free"
        );
        assert_eq!(free_pages(&conn), free - SHRINK_STEP_PAGES);
        assert!(
            !shrink_step(&conn, 100).unwrap(),
            "the second step freed the rest"
        );
        assert_eq!(free_pages(&conn), 0);

        // An earlier version's file: the pragma frees nothing, and no step is due again.
        let old = file_with_free_pages(dir.path(), false, 300);
        let free = free_pages(&old);
        assert!(free >= 100);
        assert!(!shrink_step(&old, 100).unwrap());
        assert_eq!(free_pages(&old), free);
    }

    #[test]
    fn an_earlier_versions_file_is_converted_when_it_holds_little() {
        let dir = tempfile::tempdir().unwrap();
        let old = file_with_free_pages(dir.path(), false, 300);
        old.execute("INSERT INTO journal (seq, entry) VALUES (7, x'7b7d')", [])
            .unwrap();
        old.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        drop(old);
        let path = dir.path().join("old.db");
        create_file(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(pragma(&conn, "auto_vacuum"), 2, "INCREMENTAL");
        assert_eq!(free_pages(&conn), 0, "the VACUUM gave the free pages back");
        let row: Vec<u8> = conn
            .query_row("SELECT entry FROM journal WHERE seq = 7", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(row, b"{}", "rows survive the conversion");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");

        // One with more live rows than a quick VACUUM copies keeps its mode.
        let big = dir.path().join("big.db");
        let conn = rusqlite::Connection::open(&big).unwrap();
        insert_rows(&conn, CONVERT_BELOW_LIVE_PAGES as i64 + 100);
        drop(conn);
        create_file(&big).unwrap();
        let conn = rusqlite::Connection::open(&big).unwrap();
        assert_eq!(pragma(&conn, "auto_vacuum"), 0, "left as it was");
    }
}
