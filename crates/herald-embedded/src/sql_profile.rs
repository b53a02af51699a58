//! Where the single writer's time goes, statement by statement (cargo feature `sql-profile`,
//! off by default).
//!
//! `perf` shows the writer thread inside `sqlite3_step` but cannot say which statement,
//! because the callers are inlined. With the feature on, the writer connection registers
//! SQLite's profile hook (`SQLITE_TRACE_PROFILE`: wall time of each statement run) and
//! every [`REPORT_EVERY`] prints to stderr the statements that took the most time, with
//! their calls and mean time per call. Nested statements (FTS5's shadow-table writes) are
//! reported on their own lines too, so their time is also inside their parent's.
//!
//! `cargo build --release -p herald --features sql-profile`, then run a benchmark; the
//! figures in BENCHMARKS.md's statement table come from this.

use parking_lot::Mutex;
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the table is printed (and the counters start over).
pub const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Statements printed per report.
const TOP: usize = 15;

/// Characters of the normalised SQL text that name a statement.
const NAME_CHARS: usize = 80;

struct Window {
    started: Instant,
    /// Statement name → (runs, nanoseconds, longest run in nanoseconds).
    totals: HashMap<String, (u64, u64, u64)>,
}

static WINDOW: Mutex<Option<Window>> = Mutex::new(None);

/// Writer cycles longer than this are printed one by one.
const SLOW_CYCLE: Duration = Duration::from_millis(5);

/// Called by the writer after each group: prints the group when it held the writer longer
/// than [`SLOW_CYCLE`] (jobs, items, whole cycle, of which flush + COMMIT).
pub fn cycle(jobs: usize, items: u64, took: Duration, commit: Duration) {
    if took >= SLOW_CYCLE {
        eprintln!(
            "sql-profile: slow cycle {:.1} ms (commit {:.1} ms): {jobs} jobs, {items} items",
            took.as_secs_f64() * 1e3,
            commit.as_secs_f64() * 1e3
        );
    }
}

/// Profiles every statement `conn` runs from now on.
pub fn attach(conn: &Connection) {
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(on_event));
}

fn on_event(event: TraceEvent<'_>) {
    if let TraceEvent::Profile(statement, took) = event {
        record(&statement.sql(), took);
    }
}

fn record(sql: &str, took: Duration) {
    let mut guard = WINDOW.lock();
    let window = guard.get_or_insert_with(|| Window {
        started: Instant::now(),
        totals: HashMap::new(),
    });
    let total = window.totals.entry(name_of(sql)).or_default();
    let nanos = took.as_nanos() as u64;
    total.0 += 1;
    total.1 += nanos;
    total.2 = total.2.max(nanos);
    if window.started.elapsed() >= REPORT_EVERY {
        eprint!("{}", report(window));
        window.totals.clear();
        window.started = Instant::now();
    }
}

/// The statement's text with whitespace runs collapsed, cut to [`NAME_CHARS`].
fn name_of(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(NAME_CHARS)
        .collect()
}

fn report(window: &Window) -> String {
    let mut rows: Vec<_> = window.totals.iter().collect();
    rows.sort_by_key(|(_, (_, nanos, _))| std::cmp::Reverse(*nanos));
    let all: u64 = rows.iter().map(|(_, (_, nanos, _))| nanos).sum();
    let seconds = window.started.elapsed().as_secs_f64();
    let mut out = format!(
        "sql-profile: {:.2} s in statements over {seconds:.1} s\n",
        all as f64 / 1e9
    );
    for (name, (runs, nanos, longest)) in rows.into_iter().take(TOP) {
        out.push_str(&format!(
            "sql-profile: {:5.1} % {runs:>9} runs {:>9.1} µs/run {:>8.1} ms max  {name}\n",
            *nanos as f64 * 100.0 / all.max(1) as f64,
            *nanos as f64 / 1e3 / (*runs).max(1) as f64,
            *longest as f64 / 1e6,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_named_by_their_normalised_text_and_ranked_by_time() {
        assert_eq!(
            name_of("INSERT INTO t\n   (a, b)\n VALUES (?1, ?2)"),
            "INSERT INTO t (a, b) VALUES (?1, ?2)"
        );
        let window = Window {
            started: Instant::now(),
            totals: HashMap::from([
                ("SELECT 1".to_owned(), (10, 1_000_000, 400_000)),
                ("COMMIT".to_owned(), (1, 3_000_000, 3_000_000)),
            ]),
        };
        let text = report(&window);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("0.00 s in statements"), "{text}");
        assert!(
            lines[1].contains("75.0 %") && lines[1].ends_with("COMMIT"),
            "{text}"
        );
        assert!(
            lines[2].contains("25.0 %")
                && lines[2].contains("100.0 µs/run")
                && lines[2].contains("0.4 ms max"),
            "{text}"
        );
    }

    #[test]
    fn an_attached_connection_records_its_statements() {
        let conn = Connection::open_in_memory().unwrap();
        attach(&conn);
        // A fresh window, so no report clears the counters under the check below.
        *WINDOW.lock() = None;
        conn.execute_batch("CREATE TABLE profiled_t (v); INSERT INTO profiled_t VALUES (1);")
            .unwrap();
        let guard = WINDOW.lock();
        let totals = &guard.as_ref().expect("a window").totals;
        assert!(
            totals
                .keys()
                .any(|k| k.starts_with("INSERT INTO profiled_t")),
            "{:?}",
            totals.keys()
        );
    }
}
