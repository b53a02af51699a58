//! What the SQL records store derives from text: the term rows and phrase string of a
//! delivery's content, the query plan inputs for a full-text search, and the receiver key.
//!
//! Content is analyzed with Herald's shared analyzer (`herald_domain::search_text`, decision
//! 0004) and stored twice (decision 0006):
//! - as **terms** in `delivery_terms (app_id, term, created_at, seq)`: every distinct token
//!   (words, CJK bigrams, lone CJK characters) plus the last character of every CJK run, so
//!   a B-tree finds any token, however short, on both databases;
//! - as **content_terms**, the token string `" tok tok … "`, against which a candidate is
//!   checked with `LIKE` for the exact phrase (tokens adjacent, in order, the last one a
//!   prefix) — the term index alone cannot tell "中国 国人" from "国人 … 中国".

use herald_domain::search_text::{analyze_document, analyze_query, is_single_cjk};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Longest term stored (in characters): longer words are indexed by their first
/// `TERM_CHARS` characters, and the phrase check on `content_terms` tells them apart.
pub(super) const TERM_CHARS: usize = 32;

/// Longest receiver kept as its own index key (in characters); longer ones are hashed.
const RECEIVER_KEY_CHARS: usize = 128;

/// A delivery's content as the store indexes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndexedContent {
    /// Distinct terms (truncated to [`TERM_CHARS`]).
    pub terms: BTreeSet<String>,
    /// `" tok tok … "`: the analyzed body between spaces, for phrase checks.
    pub content_terms: String,
}

pub(super) fn index_content(content: &str) -> IndexedContent {
    let analyzed = analyze_document(content);
    let terms = analyzed
        .body
        .split(' ')
        .chain(analyzed.tail.split(' '))
        .filter(|t| !t.is_empty())
        .map(truncate_term)
        .collect();
    IndexedContent {
        terms,
        content_terms: format!(" {} ", analyzed.body),
    }
}

/// How a text query is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TextQuery {
    /// The term the search walks in the term index.
    pub term: TermMatch,
    /// `LIKE` pattern every hit's `content_terms` must match (the phrase).
    pub phrase: String,
}

/// A lookup in the term index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TermMatch {
    /// `term = ?`: one index range, already in page order.
    Exact(String),
    /// `term LIKE 'prefix%'`: several terms (a word being typed, one CJK character).
    Prefix(String),
}

/// The plan for a user's text query, or `None` when it holds nothing searchable.
///
/// Semantics match the embedded store: the tokens form a phrase whose last token is a
/// prefix; a lone CJK character matches any token containing it. The walked term is the
/// longest token before the last (exact), or the only token (prefix; exact when it is a
/// CJK bigram, since no longer CJK token exists).
pub(super) fn text_query(text: &str) -> Option<TextQuery> {
    let tokens = analyze_query(text);
    let (last, before) = tokens.split_last()?;
    if tokens.len() == 1 && is_single_cjk(last) {
        return Some(TextQuery {
            term: TermMatch::Prefix(last.clone()),
            phrase: format!("%{last}%"),
        });
    }
    let phrase = format!("% {}%", tokens.join(" "));
    // The first of the longest: `max_by_key` keeps the last maximum, so walk backwards.
    let term = match before.iter().rev().max_by_key(|t| t.chars().count()) {
        Some(longest) => TermMatch::Exact(truncate_term(longest)),
        None if is_cjk_bigram(last) => TermMatch::Exact(last.clone()),
        None => TermMatch::Prefix(truncate_term(last)),
    };
    Some(TextQuery { term, phrase })
}

fn is_cjk_bigram(token: &str) -> bool {
    let mut chars = token.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(a), Some(b), None) => is_single_cjk(&a.to_string()) && is_single_cjk(&b.to_string()),
        _ => false,
    }
}

fn truncate_term(token: &str) -> String {
    token.chars().take(TERM_CHARS).collect()
}

/// The indexed form of a receiver: itself when short, else `#` and its SHA-256 (hex), so
/// 4 KiB device tokens still fit an index key. Searches compare the receiver too.
pub(super) fn receiver_key(receiver: &str) -> String {
    if receiver.chars().count() <= RECEIVER_KEY_CHARS && !receiver.starts_with('#') {
        receiver.to_owned()
    } else {
        format!("#{}", hex::encode(Sha256::digest(receiver.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_becomes_distinct_terms_and_a_spaced_token_string() {
        let indexed = index_content("您的短信验证码 code CODE");
        let terms: Vec<&str> = indexed.terms.iter().map(String::as_str).collect();
        assert_eq!(
            terms,
            ["code", "信验", "您的", "的短", "短信", "码", "证码", "验证"]
        );
        assert_eq!(
            indexed.content_terms,
            " 您的 的短 短信 信验 验证 证码 code code "
        );
    }

    #[test]
    fn long_words_are_indexed_by_their_first_characters() {
        let long = "a".repeat(40);
        let indexed = index_content(&long);
        assert_eq!(indexed.terms.iter().next().unwrap().len(), TERM_CHARS);
        assert_eq!(
            text_query(&long).unwrap().term,
            TermMatch::Prefix("a".repeat(TERM_CHARS))
        );
    }

    #[test]
    fn queries_walk_one_term_and_check_the_phrase() {
        assert_eq!(
            text_query("短信"),
            Some(TextQuery {
                term: TermMatch::Exact("短信".into()),
                phrase: "% 短信%".into()
            }),
            "a CJK bigram is a whole token: exact"
        );
        assert_eq!(
            text_query("中国人民银行").unwrap(),
            TextQuery {
                term: TermMatch::Exact("中国".into()),
                phrase: "% 中国 国人 人民 民银 银行%".into()
            }
        );
        assert_eq!(
            text_query("INV-42").unwrap(),
            TextQuery {
                term: TermMatch::Exact("inv".into()),
                phrase: "% inv 42%".into()
            }
        );
        assert_eq!(
            text_query("ship").unwrap().term,
            TermMatch::Prefix("ship".into()),
            "a single word is a prefix (search as you type)"
        );
        assert_eq!(
            text_query("信").unwrap(),
            TextQuery {
                term: TermMatch::Prefix("信".into()),
                phrase: "%信%".into()
            }
        );
        assert_eq!(text_query(" !? "), None);
    }

    #[test]
    fn long_receivers_are_hashed_into_their_key() {
        assert_eq!(receiver_key("+8613800000000"), "+8613800000000");
        let token = "x".repeat(4096);
        let key = receiver_key(&token);
        assert!(key.starts_with('#') && key.len() == 65);
        assert_ne!(
            receiver_key("#abc"),
            "#abc",
            "a literal '#…' cannot pose as a hash"
        );
    }
}
