//! The CJK-aware text analyzer behind full-text search, shared by every records backend.
//!
//! Full-text engines either find nothing for queries shorter than three characters (SQLite
//! FTS5 `trigram`, MariaDB's FULLTEXT with `innodb_ft_min_token_size = 3`) or depend on the
//! locale (PostgreSQL `pg_trgm`), yet "短信" (two characters) is a typical Chinese search.
//! So Herald analyzes text itself, the same way at index time and at query time, on every
//! backend (decisions 0004 and 0006):
//!
//! - a run of CJK characters (Han, kana, Hangul) becomes its overlapping character bigrams
//!   ("中国人" → "中国 国人"); a lone CJK character stays a unigram;
//! - any other text becomes lowercase words split on non-alphanumerics.
//!
//! A query is analyzed the same way and matched as a phrase of consecutive tokens whose last
//! token is a prefix (search-as-you-type). A one-character CJK query cannot be a bigram: it
//! matches any token containing that character, which is why [`IndexedText::tail`] keeps the
//! last character of every run ("信" finds "短信"). The backends translate these rules into
//! their own index: FTS5 columns (embedded), a term table (SQL), a whitespace-analyzed field
//! (Elasticsearch). Tokens hold only alphanumeric or CJK characters, never quotes, `%`, `_`
//! or backslashes.

/// The analyzed form of one document, one string per FTS5 column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexedText {
    /// Words and CJK bigrams in document order (phrase queries run here).
    pub body: String,
    /// The last character of every CJK run of two or more characters (one-character queries).
    pub tail: String,
}

/// Analyzes a document for indexing.
pub fn analyze_document(text: &str) -> IndexedText {
    let mut body = Vec::new();
    let mut tail = Vec::new();
    for segment in segments(text) {
        match segment {
            Segment::Word(word) => body.push(word),
            Segment::Cjk(chars) => {
                push_cjk_tokens(&chars, &mut body);
                if chars.len() >= 2 {
                    tail.extend(chars.last().map(char::to_string));
                }
            }
        }
    }
    IndexedText {
        body: body.join(" "),
        tail: tail.join(" "),
    }
}

/// The tokens of a query, in order (what [`fts_query`] searches as a phrase).
pub fn analyze_query(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for segment in segments(text) {
        match segment {
            Segment::Word(word) => tokens.push(word),
            Segment::Cjk(chars) => push_cjk_tokens(&chars, &mut tokens),
        }
    }
    tokens
}

enum Segment {
    Word(String),
    Cjk(Vec<char>),
}

/// Splits text into lowercase words and CJK runs, dropping everything else.
fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Segment::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else {
            if !cjk.is_empty() {
                out.push(Segment::Cjk(std::mem::take(&mut cjk)));
            }
            if c.is_alphanumeric() {
                word.extend(c.to_lowercase());
            } else if !word.is_empty() {
                out.push(Segment::Word(std::mem::take(&mut word)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Segment::Word(word));
    }
    if !cjk.is_empty() {
        out.push(Segment::Cjk(cjk));
    }
    out
}

fn push_cjk_tokens(chars: &[char], tokens: &mut Vec<String>) {
    if chars.len() == 1 {
        tokens.push(chars[0].to_string());
    } else {
        tokens.extend(chars.windows(2).map(|pair| pair.iter().collect::<String>()));
    }
}

/// Whether a token is exactly one CJK character: such a query matches any token containing it.
pub fn is_single_cjk(token: &str) -> bool {
    let mut chars = token.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if is_cjk(c))
}

/// Han ideographs (with extensions and compatibility forms), kana and Hangul: scripts written
/// without spaces between words, where bigrams stand in for a word segmenter.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x1100..=0x11FF    // Hangul Jamo
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x20000..=0x323AF  // CJK extensions B–H
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_runs_become_overlapping_bigrams_with_their_tail() {
        let doc = analyze_document("您的短信验证码");
        assert_eq!(doc.body, "您的 的短 短信 信验 验证 证码");
        assert_eq!(doc.tail, "码");
        assert_eq!(analyze_query("中国人"), ["中国", "国人"]);
        assert_eq!(analyze_query("短信"), ["短信"]);
    }

    #[test]
    fn a_lone_cjk_character_stays_a_unigram() {
        let doc = analyze_document("a 好 b");
        assert_eq!(doc.body, "a 好 b");
        assert_eq!(doc.tail, "", "single characters need no tail entry");
        assert_eq!(analyze_query("好"), ["好"]);
        assert!(is_single_cjk("好") && !is_single_cjk("好的") && !is_single_cjk("a"));
    }

    #[test]
    fn english_is_lowercased_and_split_on_non_alphanumerics() {
        assert_eq!(
            analyze_query("Your ORDER #A-1024 shipped!"),
            ["your", "order", "a", "1024", "shipped"]
        );
        assert_eq!(analyze_document("Hello,World").body, "hello world");
    }

    #[test]
    fn mixed_text_and_punctuation_split_between_scripts() {
        let doc = analyze_document("验证码：123456，5分钟内有效。Code ok");
        assert_eq!(
            doc.body, "验证 证码 123456 5 分钟 钟内 内有 有效 code ok",
            "full-width punctuation separates; digits end a CJK run"
        );
        assert_eq!(doc.tail, "码 效");
        assert_eq!(analyze_query("iPhone手机"), ["iphone", "手机"]);
    }

    #[test]
    fn tokens_never_carry_quotes_or_wildcards() {
        let tokens = analyze_query("\"a\" 100% my_name \\x ％");
        assert_eq!(tokens, ["a", "100", "my", "name", "x"]);
    }
}
