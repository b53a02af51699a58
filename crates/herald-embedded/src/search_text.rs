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

use herald_domain::search_text::is_single_cjk;
pub use herald_domain::search_text::{IndexedText, analyze_document, analyze_query};

/// The FTS5 match expression for a user's query over the `body` and `tail` columns, or
/// `None` when the query holds no searchable characters. User input is always inside
/// double quotes (with quotes doubled), so it can never change the expression's syntax.
pub fn fts_query(text: &str) -> Option<String> {
    let tokens = analyze_query(text);
    match tokens.as_slice() {
        [] => None,
        [single] if is_single_cjk(single) => {
            let quoted = quote(single);
            Some(format!("(body : {quoted}* OR tail : {quoted})"))
        }
        _ => Some(format!("body : {}*", quote(&tokens.join(" ")))),
    }
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
