//! Search over deliveries: filters, the page cursor and the term index.
//!
//! Order is newest first: `created_at DESC, seq DESC`. Every delivery index is
//! `(app_id, <facet>, created_at, seq)`, so a filtered page is one backward index range walk
//! that stops after `limit + 1` rows; the database's planner picks the index (both have
//! statistics, unlike the embedded store's SQLite). The cursor is the last hit's
//! `(created_at, seq)`; the next page asks for rows strictly before it, so pages neither
//! repeat nor skip rows, even within one millisecond.
//!
//! - **Several states**: one `LIMIT`ed walk per state (`UNION ALL`), merged — never a sort
//!   of every row in those states.
//! - **Text** (decision 0006): the walk runs over the term index instead. A query whose
//!   walked term is exact reads `delivery_terms (app_id, term, created_at, seq)` backwards,
//!   already in page order, joins each candidate's delivery and keeps it when the other
//!   filters and the phrase check (`content_terms LIKE '% tok tok%'`) pass. A prefix term
//!   (one word being typed, one CJK character) spans several terms: its matching seqs are
//!   a semi-join filter on the ordinary delivery walk.

use super::cursor::{self, PageKey};
use super::read::{parse_channel, parse_state};
use super::text::{TermMatch, TextQuery, text_query};
use crate::db::{Param, Row, SqlDb, db_err, marks};
use herald_domain::{AccountId, AppId, DeliveryId, MessageId, TemplateId};
use herald_ports::{SearchFilter, SearchHit, SearchPage, StoreError};

/// Largest page a search returns.
const MAX_LIMIT: usize = 1000;

const COLUMNS: &str = "d.seq, d.message_id, d.id, d.template_id, d.channel, d.account_id, \
                       d.receiver, d.state, d.code, d.content, d.created_at, d.updated_at";

const ORDER: &str = "ORDER BY d.created_at DESC, d.seq DESC";

/// `AND`ed SQL conditions with their parameters, in placeholder order.
#[derive(Clone, Default)]
struct Conditions {
    sql: Vec<String>,
    params: Vec<Param>,
}

impl Conditions {
    fn push(&mut self, sql: impl Into<String>, params: impl IntoIterator<Item = Param>) {
        self.sql.push(sql.into());
        self.params.extend(params);
    }

    fn joined(&self) -> String {
        self.sql.join(" AND ")
    }
}

/// Runs one search.
pub(super) async fn search(
    db: &SqlDb,
    app: &AppId,
    filter: &SearchFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<SearchPage, StoreError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let fetch = Param::from(limit + 1);
    let after = cursor.map(cursor::decode).transpose()?;
    let mut states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    let mut shared = shared_conditions("d", app, filter, after);

    let (sql, params) = if let Some(text) = &filter.text {
        let Some(query) = text_query(text) else {
            return Ok(SearchPage::default());
        };
        if !states.is_empty() {
            shared.push(
                format!("d.state IN ({})", marks(states.len())),
                states.iter().map(|s| Param::from(*s)),
            );
        }
        text_sql(app, filter, after, &query, shared, fetch)
    } else if states.len() > 1 {
        let mut arms = Vec::new();
        let mut params = Vec::new();
        for state in &states {
            let mut arm = shared.clone();
            arm.push("d.state = ?", [Param::from(*state)]);
            arms.push(format!(
                "(SELECT {COLUMNS} FROM deliveries d WHERE {} {ORDER} LIMIT ?)",
                arm.joined()
            ));
            params.extend(arm.params);
            params.push(fetch.clone());
        }
        params.push(fetch);
        let sql = format!(
            "SELECT * FROM ({}) u ORDER BY u.created_at DESC, u.seq DESC LIMIT ?",
            arms.join(" UNION ALL ")
        );
        (sql, params)
    } else {
        if let Some(state) = states.first() {
            shared.push("d.state = ?", [Param::from(*state)]);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries d WHERE {} {ORDER} LIMIT ?",
            shared.joined()
        );
        let mut params = shared.params;
        params.push(fetch);
        (sql, params)
    };
    let rows = db
        .fetch_all(&sql, params)
        .await
        .map_err(db_err("searching"))?;
    page(&rows, limit)
}

/// The SQL of a text search (see the module doc).
fn text_sql(
    app: &AppId,
    filter: &SearchFilter,
    after: Option<PageKey>,
    query: &TextQuery,
    mut conditions: Conditions,
    fetch: Param,
) -> (String, Vec<Param>) {
    conditions.push(
        "d.content_terms LIKE ?",
        [Param::from(query.phrase.as_str())],
    );
    match &query.term {
        TermMatch::Exact(term) => {
            // The same window and cursor on the term rows, so the walk starts at the page.
            let mut walk = shared_conditions("t", app, &SearchFilter::default(), after);
            walk.push("t.term = ?", [Param::from(term.as_str())]);
            if let Some(from) = filter.from {
                walk.push("t.created_at >= ?", [Param::from(from)]);
            }
            if let Some(to) = filter.to {
                walk.push("t.created_at < ?", [Param::from(to)]);
            }
            let sql = format!(
                "SELECT {COLUMNS} FROM delivery_terms t JOIN deliveries d ON d.seq = t.seq \
                 WHERE {} AND {} ORDER BY t.created_at DESC, t.seq DESC LIMIT ?",
                walk.joined(),
                conditions.joined()
            );
            let mut params = walk.params;
            params.extend(conditions.params);
            params.push(fetch);
            (sql, params)
        }
        TermMatch::Prefix(prefix) => {
            let mut terms = Conditions::default();
            terms.push("t.app_id = ?", [Param::from(app.as_str())]);
            terms.push("t.term LIKE ?", [Param::from(format!("{prefix}%"))]);
            if let Some(from) = filter.from {
                terms.push("t.created_at >= ?", [Param::from(from)]);
            }
            if let Some(to) = filter.to {
                terms.push("t.created_at < ?", [Param::from(to)]);
            }
            let sql = format!(
                "SELECT {COLUMNS} FROM deliveries d \
                 WHERE d.seq IN (SELECT t.seq FROM delivery_terms t WHERE {}) AND {} {ORDER} LIMIT ?",
                terms.joined(),
                conditions.joined()
            );
            let mut params = terms.params;
            params.extend(conditions.params);
            params.push(fetch);
            (sql, params)
        }
    }
}

/// App, facets, time window and cursor on the table aliased `alias` (`d` for deliveries;
/// `t` for term rows, which carry only app, time and seq — pass an empty filter then).
fn shared_conditions(
    alias: &str,
    app: &AppId,
    filter: &SearchFilter,
    after: Option<PageKey>,
) -> Conditions {
    let mut c = Conditions::default();
    c.push(format!("{alias}.app_id = ?"), [Param::from(app.as_str())]);
    let facets = [
        (
            "message_id",
            filter.message_id.as_ref().map(MessageId::as_str),
        ),
        (
            "template_id",
            filter.template_id.as_ref().map(TemplateId::as_str),
        ),
        (
            "account_id",
            filter.account_id.as_ref().map(AccountId::as_str),
        ),
        ("channel", filter.channel.map(|ch| ch.as_str())),
    ];
    for (column, value) in facets {
        if let Some(value) = value {
            c.push(format!("{alias}.{column} = ?"), [Param::from(value)]);
        }
    }
    if let Some(receiver) = &filter.receiver {
        c.push(
            format!("{alias}.receiver_key = ? AND {alias}.receiver = ?"),
            [
                Param::from(super::text::receiver_key(receiver)),
                Param::from(receiver.as_str()),
            ],
        );
    }
    if let Some(from) = filter.from {
        c.push(format!("{alias}.created_at >= ?"), [Param::from(from)]);
    }
    if let Some(to) = filter.to {
        c.push(format!("{alias}.created_at < ?"), [Param::from(to)]);
    }
    if let Some(key) = after {
        // `created_at <= ?` is implied; spelled out so the index range starts there.
        c.push(
            format!("{alias}.created_at <= ? AND ({alias}.created_at < ? OR {alias}.seq < ?)"),
            [key.created_at, key.created_at, key.seq].map(Param::from),
        );
    }
    c
}

/// Decodes up to `limit` hits; a further row means there is a next page.
fn page(rows: &[Row], limit: usize) -> Result<SearchPage, StoreError> {
    let mut hits = Vec::with_capacity(limit.min(rows.len()));
    let mut last = None;
    for row in rows.iter().take(limit) {
        let created_at = row.int(10)?;
        last = Some(PageKey {
            created_at,
            seq: row.int(0)?,
        });
        hits.push(SearchHit {
            message_id: MessageId::from_trusted(row.text(1)?),
            delivery_id: DeliveryId::from_trusted(row.text(2)?),
            template_id: TemplateId::from_trusted(row.text(3)?),
            channel: parse_channel(&row.text(4)?)?,
            account_id: AccountId::from_trusted(row.text(5)?),
            receiver: row.text(6)?,
            state: parse_state(&row.text(7)?)?,
            code: row.opt_text(8)?,
            content: row.opt_text(9)?,
            created_at,
            updated_at: row.int(11)?,
        });
    }
    let next_cursor = if rows.len() > limit {
        last.map(cursor::encode)
    } else {
        None
    };
    Ok(SearchPage { hits, next_cursor })
}
