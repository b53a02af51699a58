//! [`Channels`]: the engine looks a channel up by its [`ChannelKind`] here.

use crate::webhook::WebhookChannel;
use herald_domain::ChannelKind;
use herald_ports::Channel;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Errors building the shared HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ChannelsError {
    #[error("building the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// The channel implementations available to this node, by kind.
#[derive(Clone, Default)]
pub struct Channels {
    by_kind: HashMap<ChannelKind, Arc<dyn Channel>>,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.by_kind.keys().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        f.debug_struct("Channels").field("kinds", &kinds).finish()
    }
}

impl Channels {
    /// No channels (tests register fakes).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every channel built into Herald, sharing one pooled HTTP `client`. `local_base` is this
    /// node's own base URL, for sandbox accounts that point at the built-in simulators.
    pub fn builtin(client: reqwest::Client, local_base: Option<String>) -> Self {
        let mut channels = Self::new();
        channels.register(Arc::new(WebhookChannel::new(client, local_base)));
        channels
    }

    /// Adds (or replaces, returning the old one) the channel for `channel.kind()`.
    pub fn register(&mut self, channel: Arc<dyn Channel>) -> Option<Arc<dyn Channel>> {
        self.by_kind.insert(channel.kind(), channel)
    }

    pub fn get(&self, kind: ChannelKind) -> Option<Arc<dyn Channel>> {
        self.by_kind.get(&kind).cloned()
    }

    /// The kinds this node can deliver through.
    pub fn kinds(&self) -> impl Iterator<Item = ChannelKind> + '_ {
        self.by_kind.keys().copied()
    }
}

/// A keep-alive HTTP client suited to provider calls: pooled connections kept 90 s idle, a
/// 5 s connect timeout (per-request timeouts come from each account), no redirects (a
/// provider that redirects is misconfigured, and a redirected POST may be replayed).
pub fn http_client() -> Result<reqwest::Client, ChannelsError> {
    Ok(reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_webhook_channel() {
        let channels = Channels::builtin(reqwest::Client::new(), None);
        let webhook = channels
            .get(ChannelKind::Webhook)
            .expect("webhook is built in");
        assert_eq!(webhook.kind(), ChannelKind::Webhook);
        assert_eq!(webhook.max_batch(), 1);
        assert!(channels.get(ChannelKind::AliyunSms).is_none());
        assert_eq!(channels.kinds().collect::<Vec<_>>(), [ChannelKind::Webhook]);
        assert!(http_client().is_ok());
    }
}
