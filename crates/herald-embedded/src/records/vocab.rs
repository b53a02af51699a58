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
//! A term only has to be written once: [`VocabCache`] remembers the terms written (bounded;
//! when full it starts over, and a term seen again is written again, one more doclist entry).
//! It learns a term only after the commit that wrote it, so a rolled-back group can never
//! leave a term remembered but missing. The vocabulary may hold terms no message has any
//! more (a retry's replaced content): expanding to them finds nothing extra.
//!
//! A database from before the vocabulary gets it at open, from `delivery_text`'s own
//! vocabulary (see `schema`), in the same transaction that creates the table.

use super::sql_err;
use herald_ports::StoreError;
use rusqlite::Connection;
use std::collections::HashSet;
use std::sync::Mutex;

/// Terms remembered before the cache starts over (~6 MB at this size; it may pass this by
/// one batch's new terms).
const CACHE_TERMS: usize = 100_000;

/// The terms already written to `delivery_vocab`, as far as this process knows.
#[derive(Default)]
pub(crate) struct VocabCache {
    known: Mutex<HashSet<Box<str>>>,
}

impl VocabCache {
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

    /// Remembers terms a committed transaction wrote.
    pub(crate) fn learn(&self, terms: &[Box<str>]) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() + terms.len() > CACHE_TERMS {
            known.clear();
        }
        known.extend(terms.iter().cloned());
    }
}

/// Writes `terms` to the vocabulary as one FTS5 row (one statement, one segment).
pub(crate) fn write_terms(conn: &Connection, terms: &[Box<str>]) -> Result<(), StoreError> {
    if terms.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO delivery_vocab (rowid, term)
         VALUES ((SELECT coalesce(max(id), 0) + 1 FROM delivery_vocab_docsize), ?1)",
    )
    .and_then(|mut insert| insert.execute([terms.join(" ")]))
    .map_err(sql_err("recording search terms"))?;
    Ok(())
}

/// The indexed terms in `[from, until)`, or `None` when there are more than `max`.
pub(crate) fn terms_in(
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
