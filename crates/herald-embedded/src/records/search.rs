//! Search over deliveries: filters, the page cursor and the full-text join.
//!
//! Order is newest first: `created_at DESC`, then arrival within the millisecond, which is
//! exactly `seq DESC` (the rowid is `created_at << 20 | n`, see the schema) and the order
//! every `deliveries_by_*` index already holds (`(app_id, <facet>, created_at)` plus the
//! implicit rowid). The cursor is the last hit's `seq`; the next page asks for rows strictly
//! before it, so pages neither repeat nor skip rows, even within one millisecond.
//!
//! Query plans, chosen so no search scans the table (the 10M-row target). The index is
//! picked by rule with `INDEXED BY`, not left to SQLite's planner, which without statistics
//! prefers the time index whenever it avoids a sort, even for a rare template:
//! - **No text, at most one state**: one index range walk on the most selective facet index
//!   present (message > template > state > account > channel, else time);
//!   `from`/`to` and the cursor bound its `created_at` range, the other filters are checked
//!   per row, and the walk stops after `limit + 1` hits because the index is in page order.
//! - **No text, several states**: one bounded walk per state (`UNION ALL` of `LIMIT`ed
//!   arms), merged in order; never a sort of all rows in those states.
//! - **Text**: FTS5 drives (`CROSS JOIN` forces it as the outer loop) and walks its matches
//!   in rowid order, newest first, which is page order: no sort, and the walk stops after
//!   `limit + 1` hits. The match expression is `app : <app token> AND <query phrase>`, so
//!   FTS5's doclist intersection skips other apps' rows before any table row is read;
//!   `from`/`to` and the cursor become rowid bounds that FTS5 applies inside its doclists.
//!   The query's last word, a prefix, is first spelled out as the exact terms it stands for
//!   (`vocab`, decision 0020), because FTS5 merges a prefix's whole doclist before the first
//!   row; a prefix of more terms than `TextQuery::max_expansion` allows, or one FTS5 may
//!   fold differently, is left to FTS5. The terms are read in the search's own snapshot.
//!   Each candidate is one rowid lookup checked against the other filters, so a common word
//!   costs about one page of lookups, and a rare word costs its doclist, which is short.
//!   The expensive case left is a common word combined with a rare non-text filter (the
//!   walk reads many candidates to fill a page); the window bounds keep even that within
//!   the requested time range.
//! - **A receiver, no text**: the same walk over `delivery_receivers`, whose one token per
//!   delivery is the app and the receiver (see the schema): its doclist is exactly that
//!   receiver's deliveries in this app, newest first, and `d.receiver = ?` re-checks each.

use super::read::{get, parse_channel, parse_state};
use super::schema::{SEQ_SHIFT, receiver_key, seq_floor};
use super::vocab;
use super::{cursor, sql_err};
use crate::search_text::{TextQuery, app_token, quote};
use herald_domain::{AccountId, AppId, DeliveryId, MessageId, TemplateId};
use herald_ports::{SearchFilter, SearchHit, SearchPage, StoreError};
use rusqlite::Connection;
use rusqlite::types::Value;

/// Largest page a search returns.
const MAX_LIMIT: usize = 1000;

/// Page order; every `deliveries_by_*` index holds it after its equality columns.
const ORDER: &str = "ORDER BY d.created_at DESC, d.seq DESC";

const COLUMNS: &str = "d.seq, d.message_id, d.id, d.template_id, d.channel, d.account_id, \
                       d.receiver, d.state, d.code, d.content, d.created_at, d.updated_at";

/// A search translated to SQL, ready to run on a read connection.
pub(super) struct SearchQuery {
    /// `None` when the text filter holds nothing searchable: the page is empty.
    sql: Option<String>,
    params: Vec<Value>,
    limit: usize,
    /// A text query, whose match expression (`params[0]`, written with the last word as a
    /// prefix) is rewritten in [`run`](Self::run) with the terms the vocabulary holds.
    text: Option<TextMatch>,
}

/// The full-text part of a search: the app's token and the analyzed query.
struct TextMatch {
    app: String,
    query: TextQuery,
}

impl TextMatch {
    fn expression(&self, terms: Option<&[String]>) -> Option<String> {
        let phrase = self.query.expression(terms)?;
        Some(format!("app : {} AND {phrase}", self.app))
    }
}

/// `AND`ed SQL conditions with their parameters, in placeholder order.
#[derive(Clone, Default)]
struct Conditions {
    sql: Vec<String>,
    params: Vec<Value>,
}

impl Conditions {
    fn push(&mut self, sql: impl Into<String>, params: impl IntoIterator<Item = Value>) {
        self.sql.push(sql.into());
        self.params.extend(params);
    }

    fn text(value: impl ToString) -> Value {
        Value::Text(value.to_string())
    }

    fn joined(&self) -> String {
        self.sql.join(" AND ")
    }
}

impl SearchQuery {
    pub(super) fn build(
        app: &AppId,
        filter: &SearchFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Self, StoreError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let fetch = Value::Integer(limit as i64 + 1);
        let shared = shared_conditions(app, filter, cursor)?;
        let mut states = filter.states.clone();
        states.sort_by_key(|s| s.as_str());
        states.dedup();

        // Text, else a receiver: an FTS5 table drives the walk (see the module doc).
        let mut text = None;
        let driver = match (&filter.text, &filter.receiver) {
            (Some(query), _) => {
                let Some(query) = TextQuery::parse(query) else {
                    return Ok(Self {
                        sql: None,
                        params: Vec::new(),
                        limit,
                        text: None,
                    });
                };
                let text = text.insert(TextMatch {
                    app: quote(&app_token(app.as_str())),
                    query,
                });
                let prefix = text.expression(None);
                prefix.map(|expression| ("delivery_text", expression))
            }
            (None, Some(receiver)) => Some((
                "delivery_receivers",
                quote(&receiver_key(app.as_str(), receiver)),
            )),
            (None, None) => None,
        };
        if let Some((table, expression)) = driver {
            let mut conditions = Conditions::default();
            conditions.push(format!("{table} MATCH ?"), [Value::Text(expression)]);
            // The same window and cursor as rowid bounds, applied inside FTS5's doclists.
            if let Some(from) = filter.from {
                conditions.push(
                    format!("{table}.rowid >= ?"),
                    [Value::Integer(seq_floor(from))],
                );
            }
            if let Some(to) = filter.to {
                conditions.push(
                    format!("{table}.rowid < ?"),
                    [Value::Integer(seq_floor(to))],
                );
            }
            if let Some(cursor) = cursor {
                conditions.push(
                    format!("{table}.rowid < ?"),
                    [Value::Integer(cursor::decode(cursor)?)],
                );
            }
            conditions.sql.extend(shared.sql);
            conditions.params.extend(shared.params);
            if !states.is_empty() {
                let marks = vec!["?"; states.len()].join(",");
                conditions.push(
                    format!("d.state IN ({marks})"),
                    states.iter().map(|s| Conditions::text(s.as_str())),
                );
            }
            let sql = format!(
                "SELECT {COLUMNS} FROM {table} CROSS JOIN deliveries d \
                 ON d.seq = {table}.rowid WHERE {} ORDER BY {table}.rowid DESC LIMIT ?",
                conditions.joined()
            );
            let mut params = conditions.params;
            params.push(fetch);
            return Ok(Self {
                sql: Some(sql),
                params,
                limit,
                text,
            });
        }

        let index = facet_index(filter, states.len() == 1);
        let arm = |state: Option<herald_domain::DeliveryState>| {
            let mut conditions = shared.clone();
            if let Some(state) = state {
                conditions.push("d.state = ?", [Conditions::text(state.as_str())]);
            }
            let sql = format!(
                "SELECT {COLUMNS} FROM deliveries d INDEXED BY {index} WHERE {} {ORDER} LIMIT ?",
                conditions.joined()
            );
            let mut params = conditions.params;
            params.push(fetch.clone());
            (sql, params)
        };
        let (sql, params) = if states.len() > 1 {
            let mut arms = Vec::new();
            let mut params = Vec::new();
            for state in &states {
                let (sql, arm_params) = arm(Some(*state));
                arms.push(format!("SELECT * FROM ({sql})"));
                params.extend(arm_params);
            }
            params.push(fetch.clone());
            let sql = format!(
                "{} ORDER BY created_at DESC, seq DESC LIMIT ?",
                arms.join(" UNION ALL ")
            );
            (sql, params)
        } else {
            arm(states.first().copied())
        };
        Ok(Self {
            sql: Some(sql),
            params,
            limit,
            text: None,
        })
    }

    /// Runs the search; also says whether the vocabulary had staged words (see `vocab`).
    pub(super) fn run(mut self, conn: &Connection) -> Result<(SearchPage, bool), StoreError> {
        let Some(sql) = self.sql.take() else {
            return Ok((SearchPage::default(), false));
        };
        // One snapshot for the vocabulary and the search: a word committed in between
        // cannot be in one and missing from the other.
        let snapshot = conn
            .unchecked_transaction()
            .map_err(sql_err("starting a search"))?;
        let mut staged = false;
        if let Some(text) = &self.text
            && let Some((from, until)) = text.query.prefix_range()
        {
            let (terms, staged_any) =
                vocab::terms_in(conn, &from, &until, text.query.max_expansion())?;
            staged = staged_any;
            // The last word as the exact terms it stands for (see `search_text`).
            if let Some(terms) = terms {
                match text.expression(Some(&terms)) {
                    Some(expression) => self.params[0] = Value::Text(expression),
                    None => return Ok((SearchPage::default(), staged)),
                }
            }
        }
        let page = self.page(conn, &sql)?;
        snapshot.finish().map_err(sql_err("ending a search"))?;
        Ok((page, staged))
    }

    /// Runs the search's statement and reads one page.
    fn page(self, conn: &Connection, sql: &str) -> Result<SearchPage, StoreError> {
        let mut stmt = conn
            .prepare_cached(sql)
            .map_err(sql_err("preparing a search"))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(self.params))
            .map_err(sql_err("searching"))?;
        let mut hits = Vec::with_capacity(self.limit);
        let mut last_seq = None;
        let mut more = false;
        while let Some(row) = rows.next().map_err(sql_err("searching"))? {
            if hits.len() == self.limit {
                more = true;
                break;
            }
            let seq: i64 = get(row, 0)?;
            let hit = SearchHit {
                message_id: MessageId::from_trusted(get::<String>(row, 1)?),
                delivery_id: DeliveryId::from_trusted(get::<String>(row, 2)?),
                template_id: TemplateId::from_trusted(get::<String>(row, 3)?),
                channel: parse_channel(&get::<String>(row, 4)?)?,
                account_id: AccountId::from_trusted(get::<String>(row, 5)?),
                receiver: get(row, 6)?,
                state: parse_state(&get::<String>(row, 7)?)?,
                code: get(row, 8)?,
                content: get(row, 9)?,
                created_at: get(row, 10)?,
                updated_at: get(row, 11)?,
            };
            last_seq = Some(seq);
            hits.push(hit);
        }
        Ok(SearchPage {
            hits,
            next_cursor: if more {
                last_seq.map(cursor::encode)
            } else {
                None
            },
        })
    }
}

/// Every condition but the state: app, facets, time window and cursor.
fn shared_conditions(
    app: &AppId,
    filter: &SearchFilter,
    cursor: Option<&str>,
) -> Result<Conditions, StoreError> {
    let mut c = Conditions::default();
    c.push("d.app_id = ?", [Conditions::text(app)]);
    let facets = [
        (
            "message_id",
            filter.message_id.as_ref().map(Conditions::text),
        ),
        ("receiver", filter.receiver.as_ref().map(Conditions::text)),
        (
            "template_id",
            filter.template_id.as_ref().map(Conditions::text),
        ),
        (
            "account_id",
            filter.account_id.as_ref().map(Conditions::text),
        ),
        (
            "channel",
            filter.channel.map(|ch| Conditions::text(ch.as_str())),
        ),
    ];
    for (column, value) in facets {
        if let Some(value) = value {
            c.push(format!("d.{column} = ?"), [value]);
        }
    }
    if let Some(from) = filter.from {
        c.push("d.created_at >= ?", [Value::Integer(from)]);
    }
    if let Some(to) = filter.to {
        c.push("d.created_at < ?", [Value::Integer(to)]);
    }
    if let Some(cursor) = cursor {
        // `created_at <=` is implied by `seq <`; it is spelled out so index walks use it.
        let seq = cursor::decode(cursor)?;
        c.push(
            "d.created_at <= ? AND d.seq < ?",
            [seq >> SEQ_SHIFT, seq].map(Value::Integer),
        );
    }
    Ok(c)
}

/// The index to walk: the most selective facet present, by rule (see the module doc).
fn facet_index(filter: &SearchFilter, single_state: bool) -> &'static str {
    if filter.message_id.is_some() {
        "deliveries_by_app_message"
    } else if filter.template_id.is_some() {
        "deliveries_by_template"
    } else if single_state || !filter.states.is_empty() {
        "deliveries_by_state"
    } else if filter.account_id.is_some() {
        "deliveries_by_account"
    } else if filter.channel.is_some() {
        "deliveries_by_channel"
    } else {
        "deliveries_by_time"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_nothing_searchable_yields_an_empty_page_without_sql() {
        let filter = SearchFilter {
            text: Some("!!!".into()),
            ..Default::default()
        };
        let q = SearchQuery::build(&AppId::generate(), &filter, None, 10).unwrap();
        assert!(q.sql.is_none());
    }
}

#[cfg(test)]
mod plan_tests;
