//! Herald's composition root. [`start`] opens the backends ([`Backend`]: the embedded store,
//! or SQL + NATS with an outbox relay), builds the engine, channels and
//! built-in simulators, bootstraps keys and the demo on first start, serves the API on the
//! listener the caller bound and runs the dispatcher and result consumer. The binary maps
//! its configuration onto [`ServerOptions`]; tests start servers on port 0 the same way.

mod backend;
mod background;
mod bootstrap;
mod channels;
mod metrics;
mod relay;

pub use channels::sim_router;

pub use bootstrap::DemoInfo;

use anyhow::Context;
use herald_api::ApiState;
use herald_engine::dispatch::PolicyChain;
use herald_engine::{Engine, EngineDeps, EngineSettings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which parts of Herald this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// API, dispatcher and result consumer.
    #[default]
    All,
    /// HTTP API only.
    Api,
    /// Dispatcher and result consumer (plus health and metrics endpoints).
    Worker,
}

/// Where Herald keeps its state and queues its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// SQLite in `data_dir` holds everything (a single node): `herald.db`, and `journal.db`
    /// for accepts not yet indexed.
    #[default]
    Embedded,
    /// Catalog, records, inbox and the outbox on PostgreSQL or MariaDB/MySQL, the queue on a
    /// broker: several stateless nodes share them.
    Distributed(Distributed),
}

/// The engines of distributed mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distributed {
    /// `postgres://…` or `mysql://…` / `mariadb://…`.
    pub database_url: String,
    /// Connections each node may open to the database.
    pub database_pool: u32,
    /// The broker the queues live on.
    pub queue: QueueEngine,
    /// Names this deployment's streams/topics and consumer groups (`herald`).
    pub queue_prefix: String,
}

/// The broker of distributed mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEngine {
    /// NATS JetStream, `nats://host:4222`.
    Nats { url: String },
    /// Kafka (protocol), bootstrap servers `host:9092[,host:9092]` (feature `kafka`).
    Kafka {
        brokers: String,
        /// Produce one record per batch: tansu 0.6's in-memory storage cannot resume in
        /// the middle of a batch (decision 0010); Apache Kafka does not need it.
        single_record_batches: bool,
        /// How long the group waits for a silent node before giving its partitions (and its
        /// unacknowledged tasks) to the others.
        session_timeout: Duration,
    },
    /// RocketMQ, name servers `host:9876[;host:9876]` (feature `rocketmq`).
    RocketMq { name_server: String },
}

/// Everything `start` needs, already validated by the caller's configuration layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub data_dir: PathBuf,
    /// fsync every commit (the 202 promise). Only throwaway test servers turn it off.
    pub durable: bool,
    /// Embedded only: bytes of accepts the journal may hold ahead of the indexer.
    pub journal_max_bytes: u64,
    pub body_limit_bytes: usize,
    /// Admin key in clear; `None` = generate one on first start and keep its hash.
    pub admin_key: Option<String>,
    /// `(id, base64 key)`; `None` = generate `data_dir/master.key` on first start.
    pub master_key: Option<(String, String)>,
    pub old_master_keys: Vec<(String, String)>,
    pub workers: usize,
    /// 0: delivery, results and housekeeping share the API's runtime; 1–19: they run on
    /// their own runtime that many nice levels below it (`background.rs`, decision 0021).
    pub background_nice: i32,
    pub receive_batch: usize,
    pub lease: Duration,
    pub idempotency_ttl: Duration,
    pub shutdown_grace: Duration,
    /// How often `sent` deliveries without a pushed receipt are polled (QuerySendDetails).
    pub receipt_poll_every: Duration,
    /// How long after sending a receipt may be pushed before Herald asks for it.
    pub receipt_poll_after: Duration,
    /// Create the demo app, key, template and sandbox account on first start.
    pub demo: bool,
    /// Mount the provider simulators under `/sim` on the API listener.
    pub builtin_sim: bool,
    /// Base URL for account URLs that start with `/` (empty: `http://<bound address>`).
    pub public_url: Option<String>,
    pub role: Role,
    pub backend: Backend,
}

impl ServerOptions {
    /// Defaults for a server in `data_dir` (the shipped configuration's values).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            durable: true,
            journal_max_bytes: herald_embedded::journal::JournalOptions::default().max_bytes,
            body_limit_bytes: 32 * 1024 * 1024,
            admin_key: None,
            master_key: None,
            old_master_keys: Vec::new(),
            workers: 64,
            background_nice: 0,
            receive_batch: 256,
            lease: Duration::from_secs(60),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            shutdown_grace: Duration::from_secs(20),
            receipt_poll_every: Duration::from_secs(60),
            receipt_poll_after: Duration::from_secs(120),
            demo: true,
            builtin_sim: true,
            public_url: None,
            role: Role::All,
            backend: Backend::Embedded,
        }
    }
}

/// A started server.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub sim: Option<herald_channels::sim::SimState>,
    /// Set when this start created the demo (first start) or found it.
    pub demo: Option<DemoInfo>,
    /// The admin key, when this start generated it (shown once).
    pub generated_admin_key: Option<String>,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop: no new requests, in-flight sends finish, results flushed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("server task panicked")?
    }

    /// Resolves when the server stopped by itself (error) — for `serve` to await alongside
    /// signals.
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("server task panicked")?
    }

    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Opens everything and starts serving on `listener` (boxed: see
/// [`BoxFuture`](herald_ports::BoxFuture); this is the whole server's state machine).
pub fn start(
    options: ServerOptions,
    listener: tokio::net::TcpListener,
) -> herald_ports::BoxFuture<'static, anyhow::Result<RunningServer>> {
    Box::pin(open_and_serve(options, listener))
}

async fn open_and_serve(
    options: ServerOptions,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<RunningServer> {
    let addr = listener.local_addr().context("reading the bound address")?;
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let keys = bootstrap::master_keys(&options)?;
    let (admin_key_hash, generated_admin_key) = bootstrap::admin_key(&options)?;
    let backends = backend::open(&options, &keys).await?;

    let local_base = options.public_url.clone().unwrap_or_else(|| {
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            addr.ip().to_string()
        };
        format!("http://{host}:{}", addr.port())
    });
    let http = herald_channels::http_client().context("building the provider HTTP client")?;
    let channel_deps = herald_channels::ChannelDeps {
        http,
        tokens: backends.tokens.clone(),
        local_base: Some(local_base),
    };
    let inbox = backends.inbox.clone();
    let inbox_hub = herald_channel_inbox::InboxHub::new();
    let channels = channels::registry(&channel_deps, inbox.clone(), inbox_hub.clone());
    let deps = EngineDeps {
        catalog: backends.catalog.clone(),
        records: backends.records.clone(),
        queue: backends.queue.clone(),
        intake: backends.intake.clone(),
        channels,
        limiter: backends.limiter.clone(),
        keys: keys.clone(),
        settle: Some(backends.settle.clone()),
    };
    let settings = EngineSettings {
        admin_key_hash: Some(admin_key_hash),
        idempotency_ttl: options.idempotency_ttl,
        workers: options.workers,
        receive_batch: options.receive_batch,
        max_rate_wait: options.lease / 2,
        ..Default::default()
    };
    let engine = Engine::new(deps, settings);
    let sim = options
        .builtin_sim
        .then(herald_channels::sim::SimState::default);
    let demo = if options.demo {
        Some(bootstrap::demo(&engine, &options, sim.as_ref()).await?)
    } else {
        None
    };

    let extra = metrics::source(
        backends.commit_stats.clone(),
        backends.journal_stats.clone(),
        backends.queue.clone(),
        backends.outbox(),
    );
    let state = ApiState::new(engine.clone(), extra);
    let mut app = match options.role {
        Role::Worker => herald_api::routes::ops_router(state.clone()),
        _ => herald_api::router(state.clone(), options.body_limit_bytes)
            .merge(channels::callback_router(engine.clone()))
            .merge(channels::inbox_router(engine.clone(), inbox, inbox_hub)),
    };
    if let Some(sim) = &sim {
        app = app.merge(channels::sim_router(sim.clone()));
    }

    // Work no caller waits on; on its own lower-priority threads if configured (decision
    // 0021). An API-only node runs nothing there but housekeeping: no runtime for that.
    let nice = if options.role == Role::Api {
        0
    } else {
        options.background_nice
    };
    let background =
        background::Background::start(nice).context("starting the background runtime")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(
        engine.clone(),
        options.clone(),
        Http {
            listener,
            app,
            state,
        },
        backends.relay,
        background,
        stop_rx,
    ));
    Ok(RunningServer {
        addr,
        engine,
        sim,
        demo,
        generated_admin_key,
        stop: stop_tx,
        task,
    })
}

/// What `run` serves the API with.
struct Http {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    state: ApiState,
}

async fn run(
    engine: Arc<Engine>,
    options: ServerOptions,
    http: Http,
    relay: Option<relay::Relay>,
    background: background::Background,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let Http {
        listener,
        app,
        state,
    } = http;
    // Every role relays: the API's accepted messages and the workers' follow-ups both wait
    // in the outbox. It stops after the workers drained, taking their last rows along.
    let (relay_stop_tx, relay_stop) = watch::channel(false);
    let relay = relay.map(|r| tokio::spawn(r.run(relay_stop)));
    let workers = options.role != Role::Api;
    let (work_stop_tx, work_stop) = watch::channel(false);
    let dispatcher = workers.then(|| {
        background.spawn(herald_engine::dispatch::run(
            engine.clone(),
            PolicyChain::default(),
            work_stop.clone(),
        ))
    });
    let results = workers.then(|| {
        background.spawn(herald_engine::results::run(
            engine.clone(),
            work_stop.clone(),
        ))
    });
    let poller = workers.then(|| {
        background.spawn(herald_engine::receipts::poll_loop(
            engine.clone(),
            options.receipt_poll_every,
            options.receipt_poll_after,
            work_stop.clone(),
        ))
    });
    let housekeeping = background.spawn(bootstrap::housekeeping(
        engine.clone(),
        options.idempotency_ttl,
    ));

    let mut api_stop = stop.clone();
    let served = herald_api::serve(
        listener,
        app,
        Box::pin(async move {
            let _ = api_stop.wait_for(|s| *s).await;
        }),
    )
    .await;
    state.set_ready(false);
    tracing::info!("HTTP server stopped; draining workers");
    let _ = work_stop_tx.send(true);
    let drain = async {
        if let Some(d) = dispatcher {
            let _ = d.await;
        }
        if let Some(r) = results {
            let _ = r.await;
        }
        if let Some(p) = poller {
            let _ = p.await;
        }
    };
    if tokio::time::timeout(options.shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(grace = ?options.shutdown_grace, "workers did not drain in time; unfinished tasks will be redelivered");
    }
    let _ = relay_stop_tx.send(true);
    if let Some(relay) = relay
        && tokio::time::timeout(options.shutdown_grace, relay)
            .await
            .is_err()
    {
        tracing::warn!("the outbox relay did not finish in time; the next start relays the rest");
    }
    housekeeping.abort();
    served.context("HTTP server failed")
}
