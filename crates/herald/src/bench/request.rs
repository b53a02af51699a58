//! What the load generator sends: the parsed target (host, port, path prefix) and request bodies
//! rendered from a pre-serialized prefix and suffix around a unique receiver number, so the hot
//! loop formats one integer instead of serializing JSON per request.

use anyhow::Context as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// The Herald API being measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` to connect to.
    pub address: String,
    /// `Host` header value.
    pub authority: String,
    /// Path prefix of the API (empty, or e.g. `/herald`), without trailing slash.
    pub base_path: String,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = url
            .parse()
            .with_context(|| format!("{url:?} is not a URL"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "{url:?}: the benchmark speaks plain http:// only"
        );
        let authority = uri
            .authority()
            .with_context(|| format!("{url:?} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Self {
            address: format!("{}:{port}", authority.host()),
            authority: authority.as_str().to_string(),
            base_path: uri.path().trim_end_matches('/').to_string(),
        })
    }
}

/// Renders request bodies with unique receivers `bench-<n>`: `head`, then per receiver the
/// item's parts joined by `<n>` (the receiver, and any variable holding [`NUMBER_MARK`]),
/// items joined by commas, then `tail`.
#[derive(Debug, Clone)]
pub struct BodyFactory {
    /// Request path below the target's base path.
    pub path: &'static str,
    /// Receivers per request (1 for single sends).
    pub receivers_per_request: usize,
    head: String,
    /// The item's text split at each receiver-number placeholder.
    item_parts: Vec<String>,
    tail: String,
}

/// Placeholder for the receiver number; serializes as the escape `\u0000`. A variable value
/// may hold it too (`user\u{0}` renders as `user<n>`), to make each message's text unique.
pub const NUMBER_MARK: &str = "\u{0}";
/// Placeholder for the list of batch items; serializes as `"\u0001"`.
const ITEMS_MARK: &str = "\u{1}";

impl BodyFactory {
    pub fn new(
        template: &str,
        vars: &[(String, Value)],
        batch_size: Option<usize>,
    ) -> anyhow::Result<Self> {
        let variables: Map<String, Value> = vars.iter().cloned().collect();
        let to = format!("bench-{NUMBER_MARK}");
        let (path, receivers_per_request, item, envelope) = match batch_size {
            None => {
                let body = json!({"template": template, "receivers": [{"to": to}], "variables": variables});
                ("/v1/messages", 1, body, None)
            }
            Some(size) => {
                let item = json!({"receiver": {"to": to}, "variables": variables});
                let envelope = json!({"template": template, "items": [ITEMS_MARK]});
                ("/v1/messages/batch", size, item, Some(envelope))
            }
        };
        let item = serde_json::to_string(&item)?;
        let item_parts: Vec<String> = item.split("\\u0000").map(str::to_owned).collect();
        anyhow::ensure!(item_parts.len() > 1, "receiver placeholder missing");
        let (head, tail) = match envelope {
            None => (String::new(), String::new()),
            Some(envelope) => {
                let text = serde_json::to_string(&envelope)?;
                let (head, tail) = text
                    .split_once("\"\\u0001\"")
                    .context("items placeholder missing")?;
                (head.to_string(), tail.to_string())
            }
        };
        Ok(Self {
            path,
            receivers_per_request,
            head,
            item_parts,
            tail,
        })
    }

    /// The body whose receivers are `bench-<first>` … `bench-<first + receivers_per_request - 1>`.
    pub fn body(&self, first: u64) -> Bytes {
        let item_len = self.item_parts.iter().map(String::len).sum::<usize>()
            + 21 * (self.item_parts.len() - 1);
        let mut out = String::with_capacity(
            self.head.len() + self.tail.len() + item_len * self.receivers_per_request,
        );
        out.push_str(&self.head);
        for n in first..first + self.receivers_per_request as u64 {
            if n != first {
                out.push(',');
            }
            let number = n.to_string();
            for (i, part) in self.item_parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(&number);
                }
                out.push_str(part);
            }
        }
        out.push_str(&self.tail);
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_keeps_host_port_and_base_path() {
        let target = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(target.address, "127.0.0.1:8080");
        assert_eq!(target.authority, "127.0.0.1:8080");
        assert_eq!(target.base_path, "");
        let target = Target::parse("http://herald.local/api/").unwrap();
        assert_eq!(target.address, "herald.local:80");
        assert_eq!(target.base_path, "/api");
        assert!(Target::parse("https://x").is_err());
        assert!(Target::parse("not a url").is_err());
    }

    #[test]
    fn single_body_has_one_unique_receiver_and_the_variables() {
        let vars = [
            ("name".to_string(), json!("bench")),
            ("n".to_string(), json!(3)),
        ];
        let factory = BodyFactory::new("demo", &vars, None).unwrap();
        assert_eq!(factory.path, "/v1/messages");
        let body: Value = serde_json::from_slice(&factory.body(42)).unwrap();
        assert_eq!(
            body,
            json!({"template": "demo", "receivers": [{"to": "bench-42"}], "variables": {"name": "bench", "n": 3}})
        );
    }

    #[test]
    fn batch_body_has_consecutive_receivers_each_with_variables() {
        let vars = [("name".to_string(), json!("bench"))];
        let factory = BodyFactory::new("tpl]1", &vars, Some(3)).unwrap();
        assert_eq!(factory.path, "/v1/messages/batch");
        assert_eq!(factory.receivers_per_request, 3);
        let body: Value = serde_json::from_slice(&factory.body(7)).unwrap();
        let item = |n: u32| json!({"receiver": {"to": format!("bench-{n}")}, "variables": {"name": "bench"}});
        assert_eq!(
            body,
            json!({"template": "tpl]1", "items": [item(7), item(8), item(9)]})
        );

        let numbered = [("name".to_string(), json!(format!("user{NUMBER_MARK}")))];
        let factory = BodyFactory::new("t", &numbered, Some(2)).unwrap();
        let body: Value = serde_json::from_slice(&factory.body(5)).unwrap();
        assert_eq!(
            body["items"],
            json!([
                {"receiver": {"to": "bench-5"}, "variables": {"name": "user5"}},
                {"receiver": {"to": "bench-6"}, "variables": {"name": "user6"}}
            ]),
            "a variable can carry the receiver number too"
        );

        let one = BodyFactory::new("t", &vars, Some(1)).unwrap();
        let body: Value = serde_json::from_slice(&one.body(0)).unwrap();
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    }
}
