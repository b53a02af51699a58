//! The `[backend]` section: the embedded store (default) or the distributed backends
//! (PostgreSQL or MariaDB/MySQL plus a broker for the queues), and the checks on their URLs
//! and the queue prefix. Distributed mode needs the database URL and the chosen broker's
//! address; the problem names whichever is missing.

use serde::{Deserialize, Serialize};

/// Where state is kept and tasks are queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub kind: BackendKind,
    /// `postgres://…` or `mysql://…` / `mariadb://…` (distributed only).
    pub database_url: String,
    /// Database connections per node (distributed only).
    pub database_pool: u32,
    /// The broker of the queues (distributed only).
    pub queue: QueueKind,
    /// `nats://host:4222` (distributed with `queue = "nats"`).
    pub nats_url: String,
    /// `host:9092[,host:9092…]` (distributed with `queue = "kafka"`).
    pub kafka_brokers: String,
    /// One record per produced batch (needed on tansu 0.6, not on Apache Kafka).
    pub kafka_single_record_batches: bool,
    /// Seconds the consumer group waits for a silent node before rebalancing its partitions.
    pub kafka_session_timeout_secs: u64,
    /// `host:9876[;host:9876…]` (distributed with `queue = "rocketmq"`).
    pub rocketmq_name_server: String,
    /// Names this deployment's streams/topics, subjects and consumer groups.
    pub queue_prefix: String,
}

/// The broker distributed mode queues on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// NATS JetStream.
    #[default]
    Nats,
    /// Kafka (protocol); needs a binary built with the `kafka` feature.
    Kafka,
    /// RocketMQ; needs a binary built with the `rocketmq` feature.
    RocketMq,
}

impl QueueKind {
    pub(super) fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "nats" => Some(Self::Nats),
            "kafka" => Some(Self::Kafka),
            "rocketmq" => Some(Self::RocketMq),
            _ => None,
        }
    }
}

/// Required in distributed mode on `queue`: `host:port` addresses joined by `separator`.
pub(super) fn check_addresses(
    kind: BackendKind,
    needed_by: QueueKind,
    queue: QueueKind,
    separator: char,
    text: &str,
) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return if kind == BackendKind::Distributed && queue == needed_by {
            Err(format!(
                "is required when backend.queue = \"{}\" (host:port, several joined by '{separator}')",
                match needed_by {
                    QueueKind::Nats => "nats",
                    QueueKind::Kafka => "kafka",
                    QueueKind::RocketMq => "rocketmq",
                }
            ))
        } else {
            Ok(())
        };
    }
    for address in text.split(separator) {
        let valid = address.trim().rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(format!("{address:?} is not host:port"));
        }
    }
    Ok(())
}

/// The backend family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// One SQLite file in `storage.data_dir`.
    #[default]
    Embedded,
    /// SQL database + NATS, shared by several nodes.
    Distributed,
}

impl BackendKind {
    pub(super) fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "embedded" => Some(Self::Embedded),
            "distributed" => Some(Self::Distributed),
            _ => None,
        }
    }
}

/// Required in distributed mode; a `postgres(ql)://`, `mysql://` or `mariadb://` URL.
pub(super) fn check_database_url(kind: BackendKind, url: &str) -> Result<(), String> {
    check_url(
        kind,
        url,
        &["postgres", "postgresql", "mysql", "mariadb"],
        "a postgres://, mysql:// or mariadb:// URL",
    )
}

/// Required in distributed mode on NATS; a `nats://` or `tls://` URL.
pub(super) fn check_nats_url(kind: BackendKind, queue: QueueKind, url: &str) -> Result<(), String> {
    let kind = if queue == QueueKind::Nats {
        kind
    } else {
        BackendKind::Embedded
    };
    check_url(kind, url, &["nats", "tls"], "a nats:// or tls:// URL")
}

fn check_url(kind: BackendKind, url: &str, schemes: &[&str], expected: &str) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() {
        return match kind {
            BackendKind::Embedded => Ok(()),
            BackendKind::Distributed => Err(format!(
                "is required when backend.kind = \"distributed\" ({expected})"
            )),
        };
    }
    match url.split_once("://") {
        Some((scheme, rest)) if schemes.contains(&scheme) && !rest.is_empty() => Ok(()),
        _ => Err(format!("{url:?} is not {expected}")),
    }
}

/// 1-32 characters of `a-z`, `0-9`, `-` and `_` (valid in NATS stream and subject names,
/// Kafka topic and RocketMQ topic and group names alike).
pub(super) fn check_queue_prefix(prefix: &str) -> Result<(), String> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 32
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{prefix:?} must be 1-32 characters of a-z, 0-9, '-' and '_'"
        ))
    }
}
