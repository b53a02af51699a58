//! Index names and the index templates that fix their mappings before the first write.
//!
//! Three indices per deployment prefix:
//! - `<prefix>-deliveries`: one whole document per delivery, `_version` = the delivery's
//!   [`EventVersion::as_u64`](herald_domain::EventVersion::as_u64) (external versioning), with
//!   the message facts search filters on copied in (ES has no joins);
//! - `<prefix>-attempts`: one document per `(delivery, attempt)`, created once;
//! - `<prefix>-messages`: the message as accepted (variables redacted) and its delivery order.
//!
//! Ids, states, channels and receivers are `keyword`s (exact match). Rendered content is kept
//! unindexed in `content`; its analysis by Herald's CJK analyzer (decision 0004) is indexed in
//! `content_terms` with the `whitespace` analyzer, so ES sees exactly the tokens SQLite and
//! SQL see, and `content_tail` holds the last character of each CJK run for one-character
//! queries. Mappings are `dynamic: strict`: a field this crate does not know is a bug.

use serde_json::{Value, json};

/// The names of the three indices under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexNames {
    pub prefix: String,
    pub deliveries: String,
    pub attempts: String,
    pub messages: String,
}

impl IndexNames {
    /// Names under `prefix` (lowercase, as ES requires of index names).
    pub fn new(prefix: &str) -> Self {
        let prefix = prefix.to_lowercase();
        Self {
            deliveries: format!("{prefix}-deliveries"),
            attempts: format!("{prefix}-attempts"),
            messages: format!("{prefix}-messages"),
            prefix,
        }
    }

    /// `(template name, template body)` for each index.
    pub fn templates(&self) -> Vec<(String, Value)> {
        vec![
            template(&self.deliveries, deliveries_mapping()),
            template(&self.attempts, attempts_mapping()),
            template(&self.messages, messages_mapping()),
        ]
    }

    pub fn all(&self) -> [&str; 3] {
        [&self.deliveries, &self.attempts, &self.messages]
    }
}

fn template(index: &str, mappings: Value) -> (String, Value) {
    let body = json!({
        "index_patterns": [index],
        "priority": 200,
        "template": {
            "settings": {"index": {"refresh_interval": "1s"}},
            "mappings": mappings,
        },
    });
    (index.to_string(), body)
}

const KEYWORD: &str = "keyword";

fn keyword() -> Value {
    json!({"type": KEYWORD})
}

fn millis() -> Value {
    json!({"type": "date", "format": "epoch_millis"})
}

/// Kept in `_source`, neither indexed nor mapped (free-form objects such as variables).
fn opaque() -> Value {
    json!({"type": "object", "enabled": false})
}

fn deliveries_mapping() -> Value {
    json!({
        "dynamic": "strict",
        "properties": {
            "app_id": keyword(),
            "message_id": keyword(),
            "delivery_id": keyword(),
            "position": {"type": "integer"},
            "template_id": keyword(),
            "channel": keyword(),
            "account_id": keyword(),
            "receiver": keyword(),
            "receiver_detail": opaque(),
            "variables": opaque(),
            "state": keyword(),
            "version": {"type": "long"},
            "code": keyword(),
            "detail": {"type": "text", "index": false},
            "next_at": millis(),
            "content": {"type": "text", "index": false},
            "content_terms": {"type": "text", "analyzer": "whitespace"},
            "content_tail": keyword(),
            "created_at": millis(),
            "updated_at": millis(),
        }
    })
}

fn attempts_mapping() -> Value {
    json!({
        "dynamic": "strict",
        "properties": {
            "app_id": keyword(),
            "message_id": keyword(),
            "delivery_id": keyword(),
            "receiver": keyword(),
            "attempt": {"type": "integer"},
            "provider_request_id": keyword(),
            "log": opaque(),
        }
    })
}

fn messages_mapping() -> Value {
    json!({
        "dynamic": "strict",
        "properties": {
            "app_id": keyword(),
            "message_id": keyword(),
            "created_at": millis(),
            "delivery_ids": {"type": KEYWORD, "index": false},
            "message": opaque(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_terms_use_the_whitespace_analyzer_and_ids_are_keywords() {
        let names = IndexNames::new("Herald");
        assert_eq!(names.deliveries, "herald-deliveries");
        let templates = names.templates();
        let (name, body) = &templates[0];
        assert_eq!(name, "herald-deliveries");
        let props = &body["template"]["mappings"]["properties"];
        assert_eq!(props["content_terms"]["analyzer"], "whitespace");
        for field in ["app_id", "delivery_id", "state", "channel", "receiver"] {
            assert_eq!(props[field]["type"], "keyword", "{field}");
        }
    }
}
