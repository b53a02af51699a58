//! Which characters the full-text tokenizer turns into a letter no verbatim prefix can match.
//!
//! A staged word (see `vocab`) is a raw analyzer token that `unicode61 remove_diacritics 2`
//! has not folded yet. Most characters other than ASCII letters, digits and CJK (Cyrillic,
//! Greek, Arabic, most accented capitals already lowercased) stay one letter that is itself
//! not verbatim, so such a character can never be where a verbatim prefix continues or
//! starts; only a few fold to ASCII (`é` → `e`), vanish (combining marks) or separate terms.
//! Rather than keep a table of those, SQLite is asked once per character (an in-memory FTS5
//! table with the same tokenizer, per process) and the answer remembered.

use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::search_text::indexed_verbatim;

struct Probe {
    conn: Option<Connection>,
    known: HashMap<char, bool>,
}

/// Whether `c` is tokenized as exactly one character that is not verbatim (so it never
/// matches a verbatim prefix and never starts a term). `false` when unsure.
pub(crate) fn stays_other_letter(c: char) -> bool {
    if indexed_verbatim(c) {
        return false;
    }
    static PROBE: OnceLock<Mutex<Probe>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        Mutex::new(Probe {
            conn: open().ok(),
            known: HashMap::new(),
        })
    });
    let mut probe = probe.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = probe.known.get(&c) {
        return known;
    }
    let Some(Ok(terms)) = probe.conn.as_ref().map(|conn| tokenized(conn, c)) else {
        return false; // unsure, and not remembered: the next search asks again
    };
    let answer = match terms.as_slice() {
        [term] => {
            let chars: Vec<char> = term.chars().collect();
            matches!(chars.as_slice(), ['a', d, 'a'] if !indexed_verbatim(*d))
        }
        _ => false,
    };
    probe.known.insert(c, answer);
    answer
}

fn open() -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE VIRTUAL TABLE probe USING fts5 (
             x, content = '', tokenize = 'unicode61 remove_diacritics 2'
         );
         CREATE VIRTUAL TABLE probe_terms USING fts5vocab (probe, 'row');",
    )?;
    Ok(conn)
}

/// The terms FTS5 makes of `a<c>a`.
fn tokenized(conn: &Connection, c: char) -> rusqlite::Result<Vec<String>> {
    conn.execute("INSERT INTO probe (probe) VALUES ('delete-all')", [])?;
    conn.execute("INSERT INTO probe (x) VALUES (?1)", [format!("a{c}a")])?;
    let mut terms = conn.prepare_cached("SELECT term FROM probe_terms")?;
    terms.query_map([], |row| row.get(0))?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_of_other_scripts_stay_and_foldable_ones_do_not() {
        for c in ['п', 'ж', 'λ', 'ب', 'ß', 'ø'] {
            assert!(stays_other_letter(c), "{c}");
        }
        for c in ['é', 'ö', '\u{301}', '・', 'a', '1', '中', ' '] {
            assert!(!stays_other_letter(c), "{c:?}");
        }
    }
}
