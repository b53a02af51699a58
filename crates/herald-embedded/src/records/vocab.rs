//! The vocabulary of the full-text body: every term `delivery_text.body` holds, so a search's
//! last word can be written as the exact terms it is a prefix of (see `search_text`).
//!
//! `delivery_vocab` is a second FTS5 table with the *same tokenizer* as `delivery_text`, fed
//! the same analyzed words, so its terms are exactly the indexed ones, folding included; the
//! terms are read back through `delivery_vocab_terms` (`fts5vocab`), sorted, and a prefix is
//! one range of it. Each of its terms has a doclist of a few entries, so the range read is
//! ~0.2 ms where asking `delivery_text`'s own vocabulary walks every matching term's
//! doclist (as slow as the prefix merge it is meant to avoid).
//!
//! New words are *staged* first: one append to `delivery_vocab_staged` (a plain table) in the
//! result batch's transaction, and about once a second a batch moves everything staged into
//! `delivery_vocab` in one FTS5 statement. Writing FTS5 in every batch cost ~90 µs per
//! commit, nearly doubling the full-text cost of a small settle; staging costs ~25 µs.
//! A search reads both in one snapshot. Staged words are raw analyzer tokens, not yet folded
//! by the tokenizer, so one that the tokenizer might fold or split into a term with the
//! prefix makes that search use the FTS5 prefix query, until the next move (see
//! [`could_fold_into`] and `fold`).
//!
//! A term only has to be written once: [`VocabCache`] remembers the terms written (bounded;
//! when full it starts over, and a term seen again is written again, one more doclist entry).
//! It learns a term only after the commit that wrote it, so a rolled-back group can never
//! leave a term remembered but missing. The vocabulary may hold terms no message has any
//! more (a retry's replaced content): expanding to them finds nothing extra.
//!
//! A database from before the vocabulary gets it at open, from `delivery_text`'s own
//! vocabulary (see `schema`), in the same transaction that creates the table.

use super::fold::stays_other_letter;
use super::schema::FLUSH_STAGED_TERMS;
use super::sql_err;
use crate::db::CommitStats;
use crate::search_text::indexed_verbatim;
use herald_ports::StoreError;
use rusqlite::Connection;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often staged words are moved into `delivery_vocab` (also at open).
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Terms remembered before the cache starts over (~6 MB at this size; it may pass this by
/// one batch's new terms).
const CACHE_TERMS: usize = 100_000;

/// The terms already written to `delivery_vocab`, as far as this process knows.
pub(crate) struct VocabCache {
    known: Mutex<HashSet<Box<str>>>,
    /// When a batch last took the job of moving the staged words (`None`: not yet).
    last_flush: Mutex<Option<Instant>>,
    /// The database's counters, where a failed move is counted.
    stats: Arc<CommitStats>,
}

impl VocabCache {
    /// An empty cache that counts failed moves in `stats` (the records database's).
    pub(crate) fn new(stats: Arc<CommitStats>) -> Self {
        Self {
            known: Mutex::default(),
            last_flush: Mutex::default(),
            stats,
        }
    }

    /// Counts a move of staged words that failed (exported as a metric).
    pub(crate) fn move_failed(&self) {
        self.stats
            .vocab_move_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The words of `bodies` (analyzed text: words separated by single spaces) that are not
    /// known to be in the vocabulary yet, each once.
    pub(crate) fn unknown<'a>(&self, bodies: impl IntoIterator<Item = &'a str>) -> Vec<Box<str>> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut fresh: HashSet<&str> = HashSet::new();
        for body in bodies {
            for word in body.split(' ').filter(|w| !w.is_empty()) {
                if !known.contains(word) {
                    fresh.insert(word);
                }
            }
        }
        fresh.into_iter().map(Box::from).collect()
    }

    /// Whether the batch being prepared should move the staged words into the vocabulary:
    /// true at most once per [`FLUSH_EVERY`]. (If that batch fails, the words stay staged
    /// and the next one moves them.)
    pub(crate) fn flush_due(&self) -> bool {
        let mut last = self.last_flush.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < FLUSH_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Remembers terms a committed transaction wrote.
    pub(crate) fn learn(&self, terms: &[Box<str>]) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() + terms.len() > CACHE_TERMS {
            known.clear();
        }
        known.extend(terms.iter().cloned());
    }
}

/// Moves the staged words into the vocabulary now: a search that found some staged asks for
/// it, so a quiet store does not keep words staged until the next result batch.
pub(crate) fn flush_staged(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(FLUSH_STAGED_TERMS)
        .map_err(sql_err("moving staged search terms"))
}

/// Stages `terms` (one row) and, when `flush` names the cache, moves everything staged
/// into the vocabulary (a failed move is counted there).
pub(crate) fn write_terms(
    conn: &Connection,
    terms: &[Box<str>],
    flush: Option<&VocabCache>,
) -> Result<(), StoreError> {
    if !terms.is_empty() {
        conn.prepare_cached("INSERT INTO delivery_vocab_staged (terms) VALUES (?1)")
            .and_then(|mut insert| insert.execute([terms.join(" ")]))
            .map_err(sql_err("staging search terms"))?;
    }
    if let Some(vocab) = flush {
        // In its own savepoint: a move that fails leaves the words staged for the next
        // one instead of failing the whole group commit. Every failure of the move itself
        // is counted once (a failed savepoint statement fails the batch too).
        conn.execute_batch("SAVEPOINT vocab_move")
            .inspect_err(|_| vocab.move_failed())
            .map_err(sql_err("moving staged search terms"))?;
        match flush_staged(conn) {
            Ok(()) => conn.execute_batch("RELEASE vocab_move"),
            Err(e) => {
                vocab.move_failed();
                tracing::warn!(error = %e, "moving staged search terms failed; kept staged");
                conn.execute_batch("ROLLBACK TO vocab_move; RELEASE vocab_move")
            }
        }
        .map_err(sql_err("moving staged search terms"))?;
    }
    Ok(())
}

/// The indexed terms in `[from, until)` (`from` is the prefix, `until` the first string
/// after all its continuations), or `None` when there are more than `max` or a staged word
/// might be folded into one the range cannot name; and whether any words are staged. Call
/// within the search's snapshot.
pub(crate) fn terms_in(
    conn: &Connection,
    from: &str,
    until: &str,
    max: usize,
) -> Result<(Option<Vec<String>>, bool), StoreError> {
    let Some(mut terms) = vocabulary_terms(conn, from, until, max)? else {
        let staged = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM delivery_vocab_staged)")
            .and_then(|mut s| s.query_row([], |row| row.get(0)))
            .map_err(sql_err("reading staged search terms"))?;
        return Ok((None, staged));
    };
    let mut staged = conn
        .prepare_cached("SELECT terms FROM delivery_vocab_staged")
        .map_err(sql_err("reading staged search terms"))?;
    let mut rows = staged
        .query([])
        .map_err(sql_err("reading staged search terms"))?;
    let mut found: BTreeSet<String> = terms.drain(..).collect();
    let mut staged_any = false;
    while let Some(row) = rows
        .next()
        .map_err(sql_err("reading staged search terms"))?
    {
        staged_any = true;
        let words: String = row.get(0).map_err(sql_err("reading staged search terms"))?;
        for word in words.split(' ') {
            if word.chars().all(indexed_verbatim) {
                if word >= from && word < until {
                    found.insert(word.to_owned());
                }
            } else if could_fold_into(word, from) {
                return Ok((None, true));
            }
        }
        if found.len() > max {
            return Ok((None, true));
        }
    }
    Ok((Some(found.into_iter().collect()), staged_any))
}

/// Whether the tokenizer might make a term starting with `prefix` (verbatim characters) out
/// of `word`, which holds other characters. A term starts at the word's start or after a
/// character the tokenizer may treat as a separator; from there, verbatim characters are
/// indexed as written, and so is a letter that stays another letter ([`stays_other_letter`]),
/// so one that differs from the prefix rules that start out; any other character might fold
/// to anything or vanish, so reaching one (or the prefix's end) first means "maybe".
/// Conservative: "maybe" only costs the fast path.
pub(crate) fn could_fold_into(word: &str, prefix: &str) -> bool {
    // Per character: (the character, whether the tokenizer might fold, drop or split it).
    let chars: Vec<(char, bool)> = word
        .chars()
        .map(|c| (c, !indexed_verbatim(c) && !stays_other_letter(c)))
        .collect();
    let starts = std::iter::once(0).chain(
        chars
            .iter()
            .enumerate()
            .filter(|(_, (_, unsure))| *unsure)
            .map(|(i, _)| i + 1),
    );
    starts.into_iter().any(|start: usize| {
        let mut rest = chars[start.min(chars.len())..].iter();
        for wanted in prefix.chars() {
            match rest.next() {
                None => return false,
                Some(&(_, true)) => return true,
                Some(&(c, false)) if c != wanted => return false,
                Some(_) => {}
            }
        }
        true
    })
}

/// The terms of `delivery_vocab` in `[from, until)`, or `None` when more than `max`.
fn vocabulary_terms(
    conn: &Connection,
    from: &str,
    until: &str,
    max: usize,
) -> Result<Option<Vec<String>>, StoreError> {
    let terms: Vec<String> = conn
        .prepare_cached(
            "SELECT term FROM delivery_vocab_terms WHERE term >= ?1 AND term < ?2 LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(rusqlite::params![from, until, max as i64 + 1], |r| r.get(0))?
                .collect()
        })
        .map_err(sql_err("reading search terms"))?;
    Ok((terms.len() <= max).then_some(terms))
}

#[cfg(test)]
#[path = "vocab_tests.rs"]
mod tests;
