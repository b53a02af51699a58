//! Full-text search in the embedded records store: the FTS5 side of the CJK analyzer.
//!
//! The analyzer itself (bigrams for CJK runs, lowercase words otherwise, a `tail` for
//! one-character queries) lives in [`herald_domain::search_text`] so the SQL and
//! Elasticsearch backends analyze text exactly the same way; it is re-exported here.
//! This module turns its output into FTS5: the indexed string goes into columns tokenized by
//! `unicode61`, which keeps a space-separated CJK bigram as one token (a test below checks
//! this against SQLite), and a query becomes one FTS5 phrase whose last token is a prefix.
//! A one-character CJK query matches any bigram that *starts* with it (prefix query) or the
//! `tail` column ("信" finds "短信").
//!
//! FTS5 answers a prefix (`"hello"*`) by merging the whole doclist of every term it matches
//! before the first row, so a prefix of a word most messages share cost ~35 ns per message
//! (358 ms at 10M, BENCHMARKS.md), while an exact term is walked lazily, newest first. So the
//! store keeps a vocabulary of the body's terms (`records::vocab`) and a [`TextQuery`] can be
//! written with its last token spelled out as the terms it stands for
//! ([`TextQuery::expression`] with `Some(terms)`): `body : ("hello" OR "hellos")` finds the
//! same rows as `body : "hello"*` and stops after one page.

pub use herald_domain::search_text::{IndexedText, analyze_document, analyze_query};
use herald_domain::search_text::{is_cjk, is_single_cjk};

/// A user's text query, analyzed: a phrase of tokens whose last one is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    tokens: Vec<String>,
}

impl TextQuery {
    /// The query for `text`, or `None` when it holds no searchable characters.
    pub fn parse(text: &str) -> Option<Self> {
        let tokens = analyze_query(text);
        (!tokens.is_empty()).then_some(Self { tokens })
    }

    fn last(&self) -> &str {
        self.tokens.last().map_or("", String::as_str)
    }

    /// The range of terms `[from, until)` that the last token is a prefix of, when that
    /// token is spelled exactly as FTS5 indexes it (ASCII letters and digits, CJK characters
    /// `unicode61` keeps as they are), so the vocabulary can be asked; `None` otherwise
    /// (other letters may be folded by `remove_diacritics`), and the prefix query is used.
    pub fn prefix_range(&self) -> Option<(String, String)> {
        let last = self.last();
        if !last.chars().all(indexed_verbatim) {
            return None;
        }
        let mut until = last.to_owned();
        let bumped = until.pop().and_then(|c| char::from_u32(c as u32 + 1))?;
        until.push(bumped);
        Some((last.to_owned(), until))
    }

    /// Most terms the last token may be spelled out as. One word becomes `("t1" OR "t2" …)`,
    /// each walked lazily: up to 64. A phrase repeats its earlier words in every alternative,
    /// and each alternative intersects their doclists on its own; with common earlier words
    /// and a rare last one, 11 alternatives took 22 ms against 2.7 ms for the prefix query
    /// (600k messages), so a phrase is spelled out only up to 4 terms.
    pub fn max_expansion(&self) -> usize {
        if self.tokens.len() > 1 { 4 } else { 64 }
    }

    /// The FTS5 match expression over the `body` and `tail` columns. With `terms` (every
    /// indexed term the last token is a prefix of, from the vocabulary) the last token is
    /// written as those exact terms; when they are empty the body matches nothing, so `None`
    /// is returned (a one-character CJK query still matches `tail`). Without `terms` the
    /// last token is an FTS5 prefix. User
    /// input is always inside double quotes (quotes doubled), so it can never change the
    /// expression's syntax.
    pub fn expression(&self, terms: Option<&[String]>) -> Option<String> {
        let head = &self.tokens[..self.tokens.len() - 1];
        let phrase = |last: &str| {
            let mut words = head.to_vec();
            words.push(last.to_owned());
            quote(&words.join(" "))
        };
        let body = match terms {
            None => Some(format!("body : {}*", phrase(self.last()))),
            Some([]) => None,
            Some(terms) => {
                let alternatives: Vec<String> = terms.iter().map(|t| phrase(t)).collect();
                Some(format!("body : ({})", alternatives.join(" OR ")))
            }
        };
        if is_single_cjk(self.last()) && head.is_empty() {
            // A one-character CJK query also finds runs that end with it (`tail`).
            let tail = format!("tail : {}", quote(self.last()));
            return Some(match body {
                Some(body) => format!("({body} OR {tail})"),
                None => tail,
            });
        }
        body
    }
}

/// Characters `unicode61 remove_diacritics 2` indexes unchanged (checked against SQLite in a
/// test): lowercase ASCII letters, digits, and the CJK characters but a few kana marks.
pub(crate) fn indexed_verbatim(c: char) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || (is_cjk(c) && !matches!(c as u32, 0x3099..=0x309C | 0x30A0 | 0x30FB))
}

/// The token identifying an app inside the FTS index: the lowercase ULID body of its id
/// (`app_01jabc…` → `01jabc…`), unique per app and rare enough to keep its doclist short.
pub fn app_token(app_id: &str) -> String {
    let body = app_id.rsplit('_').next().unwrap_or(app_id);
    body.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Quotes a string as an FTS5 string literal.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The match expression with the last token as an FTS5 prefix (no vocabulary).
    fn fts_query(text: &str) -> Option<String> {
        TextQuery::parse(text).and_then(|q| q.expression(None))
    }

    #[test]
    fn queries_are_phrases_with_a_prefix_last_token() {
        assert_eq!(fts_query("短信").as_deref(), Some("body : \"短信\"*"));
        assert_eq!(
            fts_query("中国人").as_deref(),
            Some("body : \"中国 国人\"*")
        );
        assert_eq!(
            fts_query("信").as_deref(),
            Some("(body : \"信\"* OR tail : \"信\")")
        );
        assert_eq!(fts_query("a").as_deref(), Some("body : \"a\"*"));
        assert_eq!(fts_query("  ,.!  "), None);
        assert_eq!(fts_query(""), None);
    }

    #[test]
    fn user_quotes_and_operators_cannot_break_the_expression() {
        assert_eq!(
            fts_query("\"a\" OR body:*").as_deref(),
            Some("body : \"a or body\"*")
        );
        assert_eq!(quote("x\"y"), "\"x\"\"y\"");
    }

    #[test]
    fn app_tokens_are_the_lowercase_ulid_body() {
        assert_eq!(app_token("app_01JABCDEF"), "01jabcdef");
    }

    /// The premise of [`TextQuery::prefix_range`]: every token made of characters it calls
    /// verbatim is indexed by `unicode61 remove_diacritics 2` exactly as written, so the
    /// vocabulary can be asked for it; a character that is folded is not called verbatim.
    #[test]
    fn verbatim_characters_are_indexed_as_written() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row');",
        )
        .unwrap();
        let candidates = (0..=0x323AF_u32)
            .filter_map(char::from_u32)
            .filter(|&c| indexed_verbatim(c));
        let tokens: Vec<String> = candidates
            .map(|c| format!("{}{c}", if is_cjk(c) { '一' } else { 'a' }))
            .collect();
        assert!(tokens.len() > 90_000, "{}", tokens.len());
        for chunk in tokens.chunks(5_000) {
            conn.execute("INSERT INTO t (body) VALUES (?1)", [chunk.join(" ")])
                .unwrap();
        }
        let indexed: std::collections::HashSet<String> = conn
            .prepare("SELECT term FROM v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let changed: Vec<&String> = tokens.iter().filter(|t| !indexed.contains(*t)).collect();
        assert!(changed.is_empty(), "{changed:?}");
        assert!(!indexed_verbatim('é') && !indexed_verbatim('A') && !indexed_verbatim('\u{3099}'));
    }

    /// Proves the design's premise against SQLite itself: unicode61 keeps a space-separated
    /// CJK bigram as one token, and the query forms above find what they should.
    #[test]
    fn fts5_unicode61_matches_analyzed_text() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(body, tail, tokenize='unicode61');
             CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row');",
        )
        .unwrap();
        let docs = [
            "您的短信验证码是 1234",
            "中国人民银行",
            "Your order has shipped",
            "国人",
        ];
        for (i, d) in docs.iter().enumerate() {
            let a = analyze_document(d);
            conn.execute(
                "INSERT INTO t(rowid, body, tail) VALUES (?1, ?2, ?3)",
                rusqlite::params![i as i64 + 1, a.body, a.tail],
            )
            .unwrap();
        }
        let has_token: i64 = conn
            .query_row("SELECT count(*) FROM v WHERE term = '短信'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(has_token, 1, "'短信' is one token, not two");
        let find = |q: &str| -> Vec<i64> {
            let expr = fts_query(q).unwrap();
            let mut stmt = conn
                .prepare("SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY rowid")
                .unwrap();
            stmt.query_map([expr], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(find("短信"), [1]);
        assert_eq!(find("验证码"), [1]);
        assert_eq!(find("中国人"), [2]);
        assert_eq!(find("国人"), [2, 4]);
        assert_eq!(find("码"), [1], "last character of a run, via tail");
        assert_eq!(find("银"), [2], "first character of a bigram, via prefix");
        assert_eq!(find("人民币"), Vec::<i64>::new());
        assert_eq!(find("ORDER shipped"), Vec::<i64>::new(), "not adjacent");
        assert_eq!(find("order has"), [3]);
        assert_eq!(find("SHIP"), [3], "last word is a prefix");
        assert_eq!(find("\"); DROP"), Vec::<i64>::new());
    }
}
