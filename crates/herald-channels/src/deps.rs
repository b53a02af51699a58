//! What every provider crate needs to build its channels and callback endpoints, in one
//! place so the composition root wires all providers the same way.

use herald_ports::{AccountDirectory, ReceiptSink, TokenCache};
use std::sync::Arc;

/// Shared by every channel client.
#[derive(Clone)]
pub struct ChannelDeps {
    /// Pooled keep-alive HTTP client (see [`crate::http_client`]).
    pub http: reqwest::Client,
    /// Provider access tokens, shared by all workers (and, distributed, all nodes).
    pub tokens: Arc<dyn TokenCache>,
    /// This node's base URL: account endpoints starting with `/` (e.g. `/sim/aliyun`)
    /// resolve against it, so sandbox accounts reach the built-in simulators.
    pub local_base: Option<String>,
}

impl ChannelDeps {
    /// An account's endpoint: `configured` if absolute, joined to `local_base` if it starts
    /// with `/`, else `default` (the provider's production URL). No trailing slash.
    pub fn endpoint(&self, configured: Option<&str>, default: &str) -> Result<String, String> {
        let url = match configured.map(str::trim).filter(|s| !s.is_empty()) {
            None => default.to_owned(),
            Some(path) if path.starts_with('/') => match &self.local_base {
                Some(base) => format!("{}{path}", base.trim_end_matches('/')),
                None => {
                    return Err(format!(
                        "endpoint {path:?} is relative but this node has no base URL"
                    ));
                }
            },
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.to_owned()
            }
            Some(other) => {
                return Err(format!(
                    "endpoint {other:?} must be an http(s) URL or a path starting with /"
                ));
            }
        };
        Ok(url.trim_end_matches('/').to_owned())
    }
}

/// Shared by provider callback endpoints (receipts, event pushes).
#[derive(Clone)]
pub struct CallbackDeps {
    pub receipts: Arc<dyn ReceiptSink>,
    pub accounts: Arc<dyn AccountDirectory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_relative_to_the_node() {
        let deps = ChannelDeps {
            http: reqwest::Client::new(),
            tokens: Arc::new(crate::token::MemoryTokenCache::default()),
            local_base: Some("http://127.0.0.1:8080/".into()),
        };
        assert_eq!(
            deps.endpoint(None, "https://api.example.com/").unwrap(),
            "https://api.example.com"
        );
        assert_eq!(
            deps.endpoint(Some("/sim/aliyun"), "x").unwrap(),
            "http://127.0.0.1:8080/sim/aliyun"
        );
        assert_eq!(
            deps.endpoint(Some("http://h:1/p/"), "x").unwrap(),
            "http://h:1/p"
        );
        assert!(deps.endpoint(Some("ftp://x"), "x").is_err());
    }
}
