//! [`SearchFilter`] translated into the query DSL, and the `search_after` page cursor.
//!
//! Every criterion is a `bool` filter clause (no scoring: hits are ordered by time). Text is
//! analysed by Herald's analyzer (decision 0004) and matched with `match_phrase_prefix` on
//! the whitespace-analysed `content_terms`: consecutive tokens, the last one a prefix — the
//! same rule as the SQLite and SQL backends. A lone CJK character matches any token that
//! contains it: a token it starts (`prefix`) or a run it ends (`content_tail`).
//! Sort is `created_at` desc then `delivery_id` desc (unique), so `search_after` pages never
//! repeat or skip hits that share a millisecond.

use crate::SearchRecords;
use crate::docs::DeliveryDoc;
use herald_domain::search_text::{analyze_query, is_single_cjk};
use herald_domain::{AppId, Millis};
use herald_ports::{SearchFilter, SearchPage, StoreError};
use serde_json::{Value, json};

/// Largest page a search returns.
const MAX_LIMIT: usize = 1000;
/// Prefix expansions of the last query token (ES's default of 50 would miss hits of short
/// prefixes in a large index).
const MAX_EXPANSIONS: usize = 1024;

/// Where a page ended: the last hit's sort values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageKey {
    pub created_at: Millis,
    pub delivery_id: String,
}

/// `e1<created_at hex>.<delivery id>` (`e1` marks this backend's format).
pub(crate) fn encode_cursor(key: &PageKey) -> String {
    format!("e1{:x}.{}", key.created_at as u64, key.delivery_id)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<PageKey, StoreError> {
    let invalid = || StoreError::InvalidInput(format!("invalid search cursor {cursor:?}"));
    let body = cursor.strip_prefix("e1").ok_or_else(invalid)?;
    let (created_at, delivery_id) = body.split_once('.').ok_or_else(invalid)?;
    let created_at = u64::from_str_radix(created_at, 16)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(invalid)?;
    if delivery_id.is_empty() {
        return Err(invalid());
    }
    Ok(PageKey {
        created_at,
        delivery_id: delivery_id.to_string(),
    })
}

/// The text clause, `None` when the query holds no searchable token.
fn text_clause(text: &str) -> Option<Value> {
    let tokens = analyze_query(text);
    let last = tokens.last()?;
    if tokens.len() == 1 && is_single_cjk(last) {
        return Some(json!({"bool": {
            "should": [
                {"prefix": {"content_terms": last}},
                {"term": {"content_tail": last}},
            ],
            "minimum_should_match": 1,
        }}));
    }
    Some(json!({"match_phrase_prefix": {"content_terms": {
        "query": tokens.join(" "),
        "max_expansions": MAX_EXPANSIONS,
    }}}))
}

/// The `_search` body for one page (`size` is one more than the page, to know whether
/// another page follows), or `None` when nothing can match.
pub(crate) fn search_body(
    app: &AppId,
    filter: &SearchFilter,
    after: Option<&PageKey>,
    size: usize,
) -> Option<Value> {
    let mut clauses = vec![json!({"term": {"app_id": app}})];
    if !filter.states.is_empty() {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        clauses.push(json!({"terms": {"state": states}}));
    }
    let exact = [
        (
            "template_id",
            filter.template_id.as_ref().map(|v| v.to_string()),
        ),
        ("channel", filter.channel.map(|c| c.as_str().to_string())),
        (
            "account_id",
            filter.account_id.as_ref().map(|v| v.to_string()),
        ),
        (
            "message_id",
            filter.message_id.as_ref().map(|v| v.to_string()),
        ),
        ("receiver", filter.receiver.clone()),
    ];
    for (field, value) in exact {
        if let Some(value) = value {
            clauses.push(json!({"term": {field: value}}));
        }
    }
    if filter.from.is_some() || filter.to.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(from) = filter.from {
            range.insert("gte".into(), from.into());
        }
        if let Some(to) = filter.to {
            range.insert("lt".into(), to.into());
        }
        clauses.push(json!({"range": {"created_at": range}}));
    }
    if let Some(text) = &filter.text {
        clauses.push(text_clause(text)?);
    }
    let mut body = json!({
        "size": size,
        "track_total_hits": false,
        "query": {"bool": {"filter": clauses}},
        "sort": [{"created_at": {"order": "desc"}}, {"delivery_id": {"order": "desc"}}],
    });
    if let Some(key) = after {
        body["search_after"] = json!([key.created_at, key.delivery_id]);
    }
    Some(body)
}

pub(crate) async fn search(
    store: &SearchRecords,
    app: &AppId,
    filter: &SearchFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<SearchPage, StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let after = cursor.map(decode_cursor).transpose()?;
    let Some(body) = search_body(app, filter, after.as_ref(), limit + 1) else {
        return Ok(SearchPage::default());
    };
    let mut found: Vec<(DeliveryDoc, _)> =
        crate::read::search_docs(store, &store.names.deliveries, &body).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = more.then(|| found.last()).flatten().map(|(doc, _)| {
        encode_cursor(&PageKey {
            created_at: doc.created_at,
            delivery_id: doc.delivery_id.to_string(),
        })
    });
    Ok(SearchPage {
        hits: found.iter().map(|(doc, _)| doc.hit()).collect(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::DeliveryState;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let key = PageKey {
            created_at: 1_767_225_600_000,
            delivery_id: "dlv_01jabc".into(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&key)).unwrap(), key);
        for bad in [
            "",
            "e1",
            "e1zz.dlv",
            "e1ff.",
            "s1ff.1",
            "e1ffffffffffffffff.x",
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filters_become_bool_filter_clauses_and_text_a_phrase_prefix() {
        let app = AppId::from_trusted("app_1");
        let filter = SearchFilter {
            states: vec![DeliveryState::Sent, DeliveryState::Failed],
            receiver: Some("r1".into()),
            from: Some(10),
            to: Some(20),
            text: Some("中国人".into()),
            ..Default::default()
        };
        let body = search_body(&app, &filter, None, 11).unwrap();
        let clauses = body["query"]["bool"]["filter"].as_array().unwrap();
        assert_eq!(clauses[0], json!({"term": {"app_id": "app_1"}}));
        assert_eq!(clauses[1], json!({"terms": {"state": ["sent", "failed"]}}));
        assert_eq!(clauses[2], json!({"term": {"receiver": "r1"}}));
        assert_eq!(
            clauses[3],
            json!({"range": {"created_at": {"gte": 10, "lt": 20}}})
        );
        assert_eq!(
            clauses[4]["match_phrase_prefix"]["content_terms"]["query"],
            "中国 国人"
        );
        assert_eq!(body["size"], 11);

        let lone = SearchFilter {
            text: Some("信".into()),
            ..Default::default()
        };
        let body = search_body(&app, &lone, None, 2).unwrap();
        let should = &body["query"]["bool"]["filter"][1]["bool"]["should"];
        assert_eq!(should[1], json!({"term": {"content_tail": "信"}}));

        let nothing = SearchFilter {
            text: Some(" !? ".into()),
            ..Default::default()
        };
        assert_eq!(search_body(&app, &nothing, None, 2), None);
    }
}
