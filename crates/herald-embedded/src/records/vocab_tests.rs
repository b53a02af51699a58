//! The vocabulary against FTS5 itself: the exact terms it yields find the same rows as the
//! prefix they stand for, a database without it gets it at open, and the cache forgets
//! nothing it was not told was committed.

use super::*;
use crate::search_text::{TextQuery, analyze_document, quote};

/// A records schema holding `docs` (rowid = position + 1) in `delivery_text` and, like the
/// settle does, their body words in the vocabulary (moved there from staging).
fn store(docs: &[&str]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(super::super::SCHEMA).unwrap();
    add(&conn, docs, 0, true);
    conn
}

/// Indexes `docs` from rowid `first + 1` on and stages their new words, moving the staged
/// words into the vocabulary when `flush`.
fn add(conn: &Connection, docs: &[&str], first: i64, flush: bool) {
    let cache = VocabCache::new(Default::default());
    let mut bodies = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let text = analyze_document(doc);
        conn.execute(
            "INSERT INTO delivery_text (rowid, app, body, tail) VALUES (?1, 'a1', ?2, ?3)",
            rusqlite::params![first + i as i64 + 1, text.body, text.tail],
        )
        .unwrap();
        bodies.push(text.body);
    }
    let terms = cache.unknown(bodies.iter().map(String::as_str));
    write_terms(conn, &terms, flush.then_some(&cache)).unwrap();
}

fn staged_rows(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM delivery_vocab_staged", [], |r| {
        r.get(0)
    })
    .unwrap()
}

fn rows(conn: &Connection, expression: Option<String>) -> Vec<i64> {
    let Some(expression) = expression else {
        return Vec::new();
    };
    let mut stmt = conn
        .prepare("SELECT rowid FROM delivery_text WHERE delivery_text MATCH ?1 ORDER BY rowid")
        .unwrap();
    stmt.query_map([format!("app : \"a1\" AND {expression}")], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The rows a query finds through the vocabulary (when it applies) and through FTS5's prefix.
fn both_ways(conn: &Connection, q: &str) -> (Vec<i64>, Vec<i64>, bool) {
    let query = TextQuery::parse(q).unwrap();
    let prefix = rows(conn, query.expression(None));
    let expanded = match query.prefix_range() {
        Some((from, until)) => {
            terms_in(conn, &from, &until, query.max_expansion())
                .unwrap()
                .0
        }
        None => None,
    };
    let used = expanded.is_some();
    let exact = rows(conn, query.expression(expanded.as_deref()));
    (exact, prefix, used)
}

#[test]
fn exact_terms_find_what_the_prefix_finds() {
    let mut docs = vec![
        "Hello Ann, your order 1234 has shipped",
        "hello again: order 12345 is late",
        "Helloworld newsletter",
        "help is on the way",
        "您的短信验证码是 5678",
        "短信通知：信息已更新",
        "Straße gesperrt, café geschlossen",
        "中国人民银行",
    ];
    let many: Vec<String> = (0..100).map(|i| format!("code c{i:03}")).collect();
    docs.extend(many.iter().map(String::as_str));
    let conn = store(&docs);
    let cases = [
        ("hello", true),
        ("HELLO ann", true),
        ("order 1234", true),
        ("order 12", true),
        ("help", true),
        ("短信", true),
        ("信", true),
        ("码", true),
        ("中国人", true),
        ("nothing", true),
        ("c05", true),
        ("code c", false),
        ("code c05", false),
        ("code c050", true),
        ("stra", true),
        ("straß", false),
        ("café", false),
    ];
    for (q, expands) in cases {
        let (exact, prefix, used) = both_ways(&conn, q);
        assert_eq!(exact, prefix, "{q:?}");
        assert_eq!(used, expands, "{q:?}: expanded through the vocabulary");
    }
    assert_eq!(both_ways(&conn, "hello").0, [1, 2, 3]);
    assert_eq!(
        both_ways(&conn, "stra").0,
        [7],
        "a non-ASCII continuation is a term too"
    );
    assert!(both_ways(&conn, "nothing").0.is_empty());
    let (hits, _, _) = both_ways(&conn, "信");
    assert_eq!(
        hits,
        [5, 6],
        "bigrams starting with it, and runs ending with it"
    );
}

#[test]
fn a_prefix_of_more_terms_than_the_cap_is_left_to_fts5() {
    let words: Vec<String> = (0..=64).map(|i| format!("w{i:03}")).collect();
    let docs: Vec<&str> = words.iter().map(String::as_str).collect();
    let conn = store(&docs);
    assert_eq!(terms_in(&conn, "w", "x", 64).unwrap().0, None);
    let capped = terms_in(&conn, "w00", "w01", 64).unwrap().0.unwrap();
    assert_eq!(capped.len(), 10);
}

#[test]
fn an_expression_with_terms_names_each_as_a_phrase() {
    let query = TextQuery::parse("order sh").unwrap();
    let terms = ["shipped".to_owned(), "shop".to_owned()];
    assert_eq!(
        query.expression(Some(&terms)).unwrap(),
        format!(
            "body : ({} OR {})",
            quote("order shipped"),
            quote("order shop")
        )
    );
    assert_eq!(
        query.expression(Some(&[])),
        None,
        "no term: nothing matches"
    );
    let single = TextQuery::parse("信").unwrap();
    assert_eq!(
        single.expression(Some(&[])).unwrap(),
        "tail : \"信\"",
        "a one-character CJK query still finds runs ending with it"
    );
}

/// A database from before the vocabulary: the upgrade at open fills it with the body's terms
/// (not the app tokens or tails), and a second open adds nothing.
#[test]
fn an_old_database_gets_its_vocabulary_at_open() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(super::super::SCHEMA).unwrap();
    conn.execute_batch("DROP TABLE delivery_vocab_terms; DROP TABLE delivery_vocab;")
        .unwrap();
    for (i, doc) in ["Hello Ann", "您的短信", "hello Bob"].iter().enumerate() {
        let text = analyze_document(doc);
        conn.execute(
            "INSERT INTO delivery_text (rowid, app, body, tail) VALUES (?1, 'appx', ?2, ?3)",
            rusqlite::params![i as i64 + 1, text.body, text.tail],
        )
        .unwrap();
    }
    let vocabulary = |conn: &Connection| -> Vec<(String, i64)> {
        let mut stmt = conn
            .prepare("SELECT term, doc FROM delivery_vocab_terms ORDER BY term")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    conn.execute_batch(super::super::SCHEMA).unwrap();
    let expected: Vec<(String, i64)> = ["ann", "bob", "hello", "您的", "的短", "短信"]
        .map(|t| (t.to_owned(), 1))
        .into();
    assert_eq!(vocabulary(&conn), expected);
    conn.execute_batch(super::super::SCHEMA).unwrap();
    assert_eq!(vocabulary(&conn), expected, "a second open adds nothing");
}

#[test]
fn the_cache_knows_only_what_it_learned_and_starts_over_when_full() {
    let cache = VocabCache::new(Default::default());
    let mut fresh = cache.unknown(["a b", "b c"]);
    fresh.sort();
    assert_eq!(fresh, ["a", "b", "c"].map(Box::from), "each new word once");
    assert_eq!(cache.unknown(["a"]).len(), 1, "not learned until committed");
    cache.learn(&fresh);
    assert!(cache.unknown(["a b c"]).is_empty());
    let many: Vec<Box<str>> = (0..CACHE_TERMS).map(|i| format!("t{i}").into()).collect();
    cache.learn(&many);
    assert_eq!(
        cache.unknown(["a"]),
        [Box::from("a")],
        "full: started over, so a word is written again rather than missed"
    );
}

/// Words still staged (not moved into the vocabulary yet) are found as well; a staged word
/// the tokenizer might fold into the prefix sends that search to the FTS5 prefix query; the
/// move, and an open, empty the staging table.
#[test]
fn staged_words_count_until_they_are_moved() {
    let conn = store(&["hello world"]);
    add(&conn, &["hello worldwide", "Zählen bitte"], 1, false);
    assert_eq!(staged_rows(&conn), 1);
    assert_eq!(
        both_ways(&conn, "worldw"),
        (vec![2], vec![2], true),
        "a staged word is found before the move"
    );
    assert_eq!(both_ways(&conn, "wor"), (vec![1, 2], vec![1, 2], true));
    let (exact, _, used) = both_ways(&conn, "za");
    assert!(!used, "'zählen' is staged raw and might fold to 'zahlen'");
    assert_eq!(exact, [3], "it does: the prefix query finds it");
    assert!(
        both_ways(&conn, "hel").2,
        "no staged word can fold into 'hel'"
    );

    add(&conn, &[], 3, true);
    assert_eq!(staged_rows(&conn), 0);
    assert_eq!(
        both_ways(&conn, "zah"),
        (vec![3], vec![3], true),
        "moved: folded by the tokenizer now"
    );

    add(&conn, &["hello again"], 3, false);
    assert_eq!(staged_rows(&conn), 1);
    conn.execute_batch(super::super::SCHEMA).unwrap();
    assert_eq!(
        staged_rows(&conn),
        0,
        "an open moves what a stop left staged"
    );
    assert_eq!(
        terms_in(&conn, "again", "agaio", 64).unwrap().0.unwrap(),
        ["again"]
    );
}

/// A move that fails keeps the words staged (its savepoint is rolled back, the rest of the
/// commit stands), is counted for `/metrics`, and the next move takes the words.
#[test]
fn a_failed_move_is_counted_and_the_next_one_takes_the_words() {
    let conn = store(&["hello world"]);
    let stats = std::sync::Arc::new(crate::db::CommitStats::default());
    let cache = VocabCache::new(stats.clone());
    let failures = || {
        stats
            .vocab_move_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    write_terms(&conn, &["stuck".into()], None).unwrap();
    conn.execute_batch(
        "CREATE TEMP TRIGGER refuse_move BEFORE DELETE ON delivery_vocab_staged
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    let vocab_rows = || -> i64 {
        conn.query_row("SELECT count(*) FROM delivery_vocab_docsize", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let rows_before = vocab_rows();
    // Inside the batch's transaction, as on the writer: the failed move must not take the
    // batch's own staging with it.
    conn.execute_batch("BEGIN").unwrap();
    write_terms(&conn, &["later".into()], Some(&cache)).expect("the batch itself stands");
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(failures(), 1);
    assert_eq!(staged_rows(&conn), 2, "both rows still staged");
    assert_eq!(
        vocab_rows(),
        rows_before,
        "the failed move's insert was rolled back"
    );
    assert_eq!(
        terms_in(&conn, "stuck", "stucl", 64).unwrap().0.unwrap(),
        ["stuck"]
    );

    conn.execute_batch("DROP TRIGGER refuse_move").unwrap();
    write_terms(&conn, &[], Some(&cache)).unwrap();
    assert_eq!(failures(), 1, "a move that works is not counted");
    assert_eq!(staged_rows(&conn), 0);
    let vocabulary: i64 = conn
        .query_row(
            "SELECT count(*) FROM delivery_vocab_terms WHERE term IN ('stuck', 'later')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(vocabulary, 2, "moved into the vocabulary by the next move");
}

#[test]
fn a_word_might_fold_into_a_prefix_only_where_a_term_can_start() {
    for (word, prefix, maybe) in [
        ("wörter", "wo", true),
        ("wörter", "wa", true),
        ("wörter", "x", false),
        ("wörter", "w", true),
        ("éclair", "ec", true),
        ("éclair", "x", true),
        ("zählen", "y", false),
        ("ab・cd", "cd", true),
        ("ab・cd", "ce", false),
        ("ab・cd", "ab", true),
        ("ab・cd", "abc", true),
        ("abcé", "abd", false),
        ("café", "caf", true),
        ("café", "cab", false),
        ("привет", "hello", false),
        ("straße", "strasse", false),
        ("straße", "stra", true),
        ("über", "u", true),
    ] {
        assert_eq!(could_fold_into(word, prefix), maybe, "{word} {prefix}");
    }
}

#[test]
fn a_move_is_due_at_most_once_a_second() {
    let cache = VocabCache::new(Default::default());
    assert!(
        cache.flush_due(),
        "the first batch moves what an earlier run staged"
    );
    assert!(!cache.flush_due());
}
