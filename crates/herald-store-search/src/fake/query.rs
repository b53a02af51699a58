//! The fake's `_search`: evaluates the query DSL subset the records backend emits — `bool`
//! (`filter`/`must`/`should`/`must_not`, `minimum_should_match`), `term`, `terms`, `range`,
//! `prefix`, `match_all`, `match_phrase` and `match_phrase_prefix` — then sorts, applies
//! `search_after` and `size`. `text` fields are analysed like ES's `whitespace` analyzer;
//! `match_phrase_prefix` expands its last token to the first `max_expansions` indexed terms
//! (default 50) in term order, as ES does. Anything else is refused with a 400
//! `parsing_exception`, so the backend cannot come to rely on something the fake ignores.

use super::{FakeIndex, Shared, es_error, parse_json_body};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::BTreeSet;

const MAX_RESULT_WINDOW: u64 = 10_000;

type Eval<T> = Result<T, String>;

pub(super) async fn handle(
    State(state): State<Shared>,
    Path(index): Path<String>,
    body: String,
) -> Response {
    let request = match parse_json_body(&body) {
        Ok(r) => r,
        Err(fault) => return fault.into_response(),
    };
    let state = state.lock();
    let Some(found) = state.indices.get(&index) else {
        return es_error(
            StatusCode::NOT_FOUND,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        );
    };
    match run(found, &index, &request) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(reason) => es_error(StatusCode::BAD_REQUEST, "parsing_exception", reason),
    }
}

fn run(index: &FakeIndex, name: &str, request: &Value) -> Eval<Value> {
    let size = request
        .get("size")
        .map_or(Some(10), Value::as_u64)
        .ok_or("[size] must be a number")?;
    if size > MAX_RESULT_WINDOW {
        return Err(format!(
            "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{size}]"
        ));
    }
    let query = request
        .get("query")
        .cloned()
        .unwrap_or(json!({"match_all": {}}));
    let sort = sort_fields(request.get("sort"))?;
    let mut hits = Vec::new();
    for (id, doc) in &index.docs {
        if matches(index, &query, &doc.source)? {
            let key: Vec<Value> = sort
                .iter()
                .map(|(field, _)| sort_value(&doc.source, field))
                .collect();
            hits.push((id, doc, key));
        }
    }
    hits.sort_by(|a, b| compare_keys(&a.2, &b.2, &sort));
    if let Some(after) = request.get("search_after") {
        let after = after
            .as_array()
            .filter(|a| a.len() == sort.len())
            .ok_or_else(|| {
                format!(
                    "search_after has {} value(s) but sort has {}",
                    after.as_array().map_or(0, Vec::len),
                    sort.len()
                )
            })?;
        hits.retain(|(_, _, key)| compare_keys(key, after, &sort) == Ordering::Greater);
    }
    let hits: Vec<Value> = hits
        .into_iter()
        .take(size as usize)
        .map(|(id, doc, key)| {
            let mut hit = json!({"_index": name, "_id": id, "_score": null, "_source": doc.source});
            if !sort.is_empty() {
                hit["sort"] = Value::Array(key);
            }
            hit
        })
        .collect();
    Ok(json!({"took": 1, "timed_out": false, "hits": {"max_score": null, "hits": hits}}))
}

fn sort_fields(sort: Option<&Value>) -> Eval<Vec<(String, bool)>> {
    let Some(sort) = sort else {
        return Ok(Vec::new());
    };
    let entries = sort.as_array().ok_or("[sort] must be an array")?;
    entries
        .iter()
        .map(|entry| match entry {
            Value::String(field) => Ok((field.clone(), false)),
            Value::Object(o) if o.len() == 1 => {
                let (field, spec) = o.iter().next().ok_or("empty sort")?;
                let order = spec.get("order").unwrap_or(spec);
                match order.as_str() {
                    Some("asc") => Ok((field.clone(), false)),
                    Some("desc") => Ok((field.clone(), true)),
                    _ => Err(format!("unknown sort order for [{field}]")),
                }
            }
            other => Err(format!("malformed sort entry {other}")),
        })
        .collect()
}

fn sort_value(source: &Value, field: &str) -> Value {
    match source.get(field) {
        Some(Value::Array(values)) => values.first().cloned().unwrap_or(Value::Null),
        Some(value) => value.clone(),
        None => Value::Null,
    }
}

/// Missing values sort last in either direction, as in ES.
fn compare_keys(a: &[Value], b: &[Value], sort: &[(String, bool)]) -> Ordering {
    for ((x, y), (_, descending)) in a.iter().zip(b).zip(sort) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => compare_values(x, y),
        };
        let ordering = if *descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn compare_values(x: &Value, y: &Value) -> Ordering {
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => x.as_str().unwrap_or("").cmp(y.as_str().unwrap_or("")),
    }
}

/// The single `{field: spec}` pair of a leaf query.
fn field_spec<'a>(kind: &str, body: &'a Value) -> Eval<(&'a String, &'a Value)> {
    body.as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("[{kind}] query malformed, expected one field"))
}

/// The values of a field: its tokens for `text` fields, its value(s) otherwise.
fn values(index: &FakeIndex, source: &Value, field: &str) -> Vec<Value> {
    let raw: Vec<Value> = match source.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(value) => vec![value.clone()],
    };
    if index.text_fields.contains(field) {
        raw.iter()
            .filter_map(Value::as_str)
            .flat_map(|s| s.split_whitespace().map(|t| Value::String(t.to_string())))
            .collect()
    } else {
        raw
    }
}

fn same(stored: &Value, wanted: &Value) -> bool {
    match (stored.as_f64(), wanted.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => stored == wanted,
    }
}

fn matches(index: &FakeIndex, query: &Value, source: &Value) -> Eval<bool> {
    let (kind, body) = query
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("query malformed: {query}"))?;
    match kind.as_str() {
        "match_all" => Ok(true),
        "bool" => bool_query(index, body, source),
        "term" => {
            let (field, spec) = field_spec(kind, body)?;
            let wanted = spec.get("value").unwrap_or(spec);
            Ok(values(index, source, field).iter().any(|v| same(v, wanted)))
        }
        "terms" => {
            let (field, spec) = field_spec(kind, body)?;
            let wanted = spec.as_array().ok_or("[terms] query requires an array")?;
            Ok(values(index, source, field)
                .iter()
                .any(|v| wanted.iter().any(|w| same(v, w))))
        }
        "range" => {
            let (field, spec) = field_spec(kind, body)?;
            range(spec, &values(index, source, field))
        }
        "prefix" => {
            let (field, spec) = field_spec(kind, body)?;
            let prefix = spec
                .get("value")
                .unwrap_or(spec)
                .as_str()
                .ok_or("[prefix] needs a string")?;
            Ok(values(index, source, field)
                .iter()
                .filter_map(Value::as_str)
                .any(|v| v.starts_with(prefix)))
        }
        "match_phrase" | "match_phrase_prefix" => {
            let (field, spec) = field_spec(kind, body)?;
            let text = spec
                .get("query")
                .unwrap_or(spec)
                .as_str()
                .ok_or("phrase query needs a string")?;
            let wanted: Vec<&str> = text.split_whitespace().collect();
            let last_is_prefix = kind == "match_phrase_prefix";
            let expansions = if last_is_prefix {
                let limit = spec
                    .get("max_expansions")
                    .and_then(Value::as_u64)
                    .unwrap_or(50) as usize;
                Some(expand(
                    index,
                    field,
                    wanted.last().copied().unwrap_or(""),
                    limit,
                ))
            } else {
                None
            };
            let tokens = values(index, source, field);
            let tokens: Vec<&str> = tokens.iter().filter_map(Value::as_str).collect();
            Ok(phrase(&tokens, &wanted, expansions.as_ref()))
        }
        other => Err(format!("unknown query [{other}]")),
    }
}

fn bool_query(index: &FakeIndex, body: &Value, source: &Value) -> Eval<bool> {
    let clauses = |name: &str| -> Eval<Vec<Value>> {
        Ok(match body.get(name) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(single @ Value::Object(_)) => vec![single.clone()],
            Some(other) => return Err(format!("[bool] [{name}] malformed: {other}")),
        })
    };
    for name in body.as_object().ok_or("[bool] malformed")?.keys() {
        if !matches!(
            name.as_str(),
            "filter" | "must" | "should" | "must_not" | "minimum_should_match"
        ) {
            return Err(format!("[bool] query does not support [{name}]"));
        }
    }
    let required = [clauses("filter")?, clauses("must")?].concat();
    for clause in &required {
        if !matches(index, clause, source)? {
            return Ok(false);
        }
    }
    for clause in clauses("must_not")? {
        if matches(index, &clause, source)? {
            return Ok(false);
        }
    }
    let should = clauses("should")?;
    let default_minimum = u64::from(required.is_empty() && !should.is_empty());
    let minimum = body
        .get("minimum_should_match")
        .and_then(Value::as_u64)
        .unwrap_or(default_minimum);
    let mut matched = 0;
    for clause in &should {
        if matches(index, clause, source)? {
            matched += 1;
        }
    }
    Ok(matched >= minimum)
}

fn range(spec: &Value, values: &[Value]) -> Eval<bool> {
    let bounds = spec.as_object().ok_or("[range] malformed")?;
    for key in bounds.keys() {
        if !matches!(key.as_str(), "gte" | "gt" | "lte" | "lt" | "format") {
            return Err(format!("[range] query does not support [{key}]"));
        }
    }
    Ok(values.iter().any(|v| {
        let ok = |bound: &str, accept: fn(Ordering) -> bool| {
            bounds
                .get(bound)
                .is_none_or(|b| accept(compare_values(v, b)))
        };
        ok("gte", Ordering::is_ge)
            && ok("gt", Ordering::is_gt)
            && ok("lte", Ordering::is_le)
            && ok("lt", Ordering::is_lt)
    }))
}

/// The first `limit` indexed terms of `field` starting with `prefix`, in term order.
fn expand(index: &FakeIndex, field: &str, prefix: &str, limit: usize) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for doc in index.docs.values() {
        for value in values(index, &doc.source, field) {
            if let Some(term) = value.as_str().filter(|t| t.starts_with(prefix)) {
                terms.insert(term.to_string());
            }
        }
    }
    terms.into_iter().take(limit).collect()
}

/// Whether `wanted` occurs as consecutive tokens; with `expansions`, the last wanted token
/// matches any of those terms instead of itself.
fn phrase(tokens: &[&str], wanted: &[&str], expansions: Option<&BTreeSet<String>>) -> bool {
    if wanted.is_empty() || tokens.len() < wanted.len() {
        return false;
    }
    tokens.windows(wanted.len()).any(|window| {
        window
            .iter()
            .zip(wanted)
            .enumerate()
            .all(|(i, (token, want))| match expansions {
                Some(terms) if i == wanted.len() - 1 => terms.contains(*token),
                _ => token == want,
            })
    })
}
