//! Opens the storage and queue backends `ServerOptions::backend` names: the embedded SQLite
//! store, or PostgreSQL/MariaDB (catalog, records, outbox intake) with NATS JetStream as the
//! queue. Everything above this module sees only the ports.
//!
//! In distributed mode every store is on the SQL database, the inbox's items included, so
//! any node serves any end user's inbox (live SSE updates are still per node). The accept path and settling write outbox rows; [`crate::relay`] moves them to NATS.
//! Each channel account's rate limit and the provider tokens are shared through the database
//! (decision 0009); the embedded default keeps both in process.

use crate::ServerOptions;
use crate::relay::Relay;
use crate::{Backend, Distributed, QueueEngine};
use anyhow::Context;
use herald_embedded::CommitStats;
use herald_engine::crypto::MasterKeys;
use herald_engine::rate::LocalRateLimiter;
use herald_ports::{Catalog, Inbox, Intake, Queue, RateLimiter, Records, Settle, TokenCache};
use herald_queue_nats::{NatsQueue, NatsQueueOptions};
use herald_store_sql::{
    Outbox, SqlCatalog, SqlDb, SqlInbox, SqlIntake, SqlOptions, SqlRateLimiter, SqlRecords,
    SqlSettle, SqlTokenCache, TokenSealer,
};
use std::sync::Arc;

/// The opened backends, as ports.
pub(crate) struct Backends {
    pub catalog: Arc<dyn Catalog>,
    pub records: Arc<dyn Records>,
    pub queue: Arc<dyn Queue>,
    pub intake: Arc<dyn Intake>,
    pub settle: Arc<dyn Settle>,
    pub inbox: Arc<dyn Inbox>,
    /// Per-account pacing: in process, or shared by the cluster.
    pub limiter: Arc<dyn RateLimiter>,
    /// Provider access tokens: in process, or shared by the cluster.
    pub tokens: Arc<dyn TokenCache>,
    /// Group-commit statistics of the embedded store (`None` in distributed mode).
    pub commit_stats: Option<Arc<CommitStats>>,
    /// The embedded accept journal's counters (none in distributed mode).
    pub journal_stats: Option<Arc<CommitStats>>,
    /// The outbox relay to run (distributed mode only).
    pub relay: Option<Relay>,
}

impl Backends {
    /// The outbox, when there is one (for its depth in `/metrics`).
    pub fn outbox(&self) -> Option<Outbox> {
        self.relay.as_ref().map(|r| r.outbox.clone())
    }
}

pub(crate) async fn open(options: &ServerOptions, keys: &MasterKeys) -> anyhow::Result<Backends> {
    match &options.backend {
        Backend::Embedded => open_embedded(options),
        Backend::Distributed(distributed) => open_distributed(options, keys, distributed).await,
    }
}

fn open_embedded(options: &ServerOptions) -> anyhow::Result<Backends> {
    let store = herald_embedded::Embedded::open(
        &options.data_dir,
        herald_embedded::EmbeddedOptions {
            db: herald_embedded::DbOptions {
                durable: options.durable,
                ..Default::default()
            },
            queue: herald_embedded::queue::QueueOptions {
                lease: options.lease,
                ..Default::default()
            },
            journal: herald_embedded::journal::JournalOptions {
                max_bytes: options.journal_max_bytes,
                ..Default::default()
            },
            pause_indexer: false,
        },
    )
    .context("opening the embedded store")?;
    Ok(Backends {
        catalog: store.catalog.clone(),
        records: store.records.clone(),
        queue: store.queue.clone(),
        intake: store.intake.clone(),
        settle: store.settle.clone(),
        inbox: store.inbox.clone(),
        limiter: Arc::new(LocalRateLimiter::new()),
        tokens: Arc::new(herald_channels::token::MemoryTokenCache::default()),
        commit_stats: Some(store.db.stats().clone()),
        journal_stats: Some(store.journal.stats().clone()),
        relay: None,
    })
}

async fn open_distributed(
    options: &ServerOptions,
    keys: &MasterKeys,
    distributed: &Distributed,
) -> anyhow::Result<Backends> {
    let sql_options = SqlOptions {
        max_connections: distributed.database_pool,
        ..SqlOptions::default()
    };
    let db = SqlDb::connect(&distributed.database_url, &sql_options)
        .await
        .context("connecting to the SQL database (backend.database_url)")?;
    herald_store_sql::migrate(&db)
        .await
        .map_err(|e| anyhow::anyhow!("migrating the SQL database: {e:?}"))?;
    let queue = open_queue(options, distributed).await?;
    Ok(Backends {
        catalog: Arc::new(SqlCatalog::new(db.clone())),
        records: Arc::new(SqlRecords::new(db.clone())),
        intake: Arc::new(SqlIntake::new(db.clone())),
        settle: Arc::new(SqlSettle::new(db.clone(), queue.clone())),
        inbox: Arc::new(SqlInbox::new(db.clone())),
        limiter: Arc::new(SqlRateLimiter::new(db.clone())),
        tokens: Arc::new(SqlTokenCache::new(
            db.clone(),
            Arc::new(KeySealer(keys.clone())),
        )),
        commit_stats: None,
        journal_stats: None,
        relay: Some(Relay {
            // A dead node's claim is released after one lease, like its queue leases.
            outbox: Outbox::new(db, options.lease),
            queue: queue.clone(),
        }),
        queue,
    })
}

/// Connects to the broker `distributed.queue` names.
async fn open_queue(
    options: &ServerOptions,
    distributed: &Distributed,
) -> anyhow::Result<Arc<dyn Queue>> {
    let prefix = distributed.queue_prefix.clone();
    Ok(match &distributed.queue {
        QueueEngine::Nats { url } => {
            let defaults = NatsQueueOptions::default();
            let nats_options = NatsQueueOptions {
                prefix,
                lease: options.lease,
                // The window must cover a re-publish after a crash (lease + timer hold).
                dedup_window: defaults
                    .dedup_window
                    .max(options.lease + defaults.timer_hold),
                ..defaults
            };
            Arc::new(
                NatsQueue::connect(url, nats_options)
                    .await
                    .context("opening the NATS queue (backend.nats_url)")?,
            )
        }
        #[cfg(feature = "kafka")]
        QueueEngine::Kafka {
            brokers,
            single_record_batches,
            session_timeout,
        } => {
            let kafka_options = herald_queue_kafka::KafkaQueueOptions {
                prefix,
                lease: options.lease,
                single_record_batches: *single_record_batches,
                session_timeout: *session_timeout,
                ..Default::default()
            };
            Arc::new(
                herald_queue_kafka::KafkaQueue::connect(brokers, kafka_options)
                    .await
                    .context("opening the Kafka queue (backend.kafka_brokers)")?,
            )
        }
        #[cfg(feature = "rocketmq")]
        QueueEngine::RocketMq { name_server } => {
            let rocketmq_options = herald_queue_rocketmq::RocketMqQueueOptions {
                name_server: name_server.clone(),
                prefix,
                lease: options.lease,
                ..Default::default()
            };
            Arc::new(
                herald_queue_rocketmq::RocketMqQueue::connect(rocketmq_options)
                    .await
                    .context("opening the RocketMQ queue (backend.rocketmq_name_server)")?,
            )
        }
        #[allow(unreachable_patterns)]
        other => anyhow::bail!(
            "this herald binary was built without the {} queue; rebuild with \
             `cargo build --release -p herald --features {}` (backend.queue)",
            queue_name(other),
            queue_name(other),
        ),
    })
}

/// The cargo feature (and config value) naming a broker.
fn queue_name(queue: &QueueEngine) -> &'static str {
    match queue {
        QueueEngine::Nats { .. } => "nats",
        QueueEngine::Kafka { .. } => "kafka",
        QueueEngine::RocketMq { .. } => "rocketmq",
    }
}

/// Seals shared provider tokens with the master keys (JSON of the sealed secret).
struct KeySealer(MasterKeys);

impl TokenSealer for KeySealer {
    fn seal(&self, value: &str) -> String {
        serde_json::to_string(&self.0.seal(value.as_bytes())).expect("a sealed secret serializes")
    }

    fn open(&self, sealed: &str) -> Option<String> {
        let sealed = serde_json::from_str(sealed).ok()?;
        String::from_utf8(self.0.open(&sealed).ok()?).ok()
    }
}
