//! `herald serve` and `herald migrate`: map the configuration onto the server's options,
//! bind, print how to send the first message, and stop gracefully on SIGTERM / Ctrl-C.

use anyhow::Context;
use herald::cli::Role;
use herald::config::{BackendKind, Config, QueueKind};
use herald_server::{ServerOptions, start};
use std::time::Duration;

fn options(config: &Config, role: Role) -> ServerOptions {
    let s = &config.security;
    let mut o = ServerOptions::new(&config.storage.data_dir);
    o.durable = config.storage.durable;
    o.journal_max_bytes = config.storage.journal_max_mb << 20;
    o.body_limit_bytes = config.server.body_limit_bytes as usize;
    o.admin_key = Some(s.admin_key.clone()).filter(|k| !k.is_empty());
    o.master_key =
        Some((s.master_key_id.clone(), s.master_key.clone())).filter(|(_, k)| !k.is_empty());
    o.old_master_keys = s
        .old_master_keys
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    o.workers = config.dispatcher.workers;
    o.receive_batch = config.dispatcher.receive_batch;
    o.background_nice = config.dispatcher.nice;
    o.lease = Duration::from_secs(config.dispatcher.lease_secs);
    o.shutdown_grace = Duration::from_secs(config.dispatcher.shutdown_grace_secs);
    o.idempotency_ttl = Duration::from_secs(config.idempotency.ttl_hours * 3600);
    // The demo (app, key, sandbox account with a simulator secret held by this process) is
    // for a single embedded node: in a cluster every node with a fresh data dir would add
    // another demo app with a live key to the shared database.
    o.demo = config.bootstrap.demo && config.backend.kind == BackendKind::Embedded;
    if config.bootstrap.demo && !o.demo {
        tracing::info!("bootstrap.demo applies to the embedded backend only; no demo app created");
    }
    o.builtin_sim = config.sim.builtin;
    o.public_url =
        Some(config.server.public_url.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
    o.backend = match config.backend.kind {
        BackendKind::Embedded => herald_server::Backend::Embedded,
        BackendKind::Distributed => {
            herald_server::Backend::Distributed(herald_server::Distributed {
                database_url: config.backend.database_url.clone(),
                database_pool: config.backend.database_pool,
                queue: match config.backend.queue {
                    QueueKind::Nats => herald_server::QueueEngine::Nats {
                        url: config.backend.nats_url.clone(),
                    },
                    QueueKind::Kafka => herald_server::QueueEngine::Kafka {
                        brokers: config.backend.kafka_brokers.clone(),
                        single_record_batches: config.backend.kafka_single_record_batches,
                        session_timeout: Duration::from_secs(
                            config.backend.kafka_session_timeout_secs,
                        ),
                    },
                    QueueKind::RocketMq => herald_server::QueueEngine::RocketMq {
                        name_server: config.backend.rocketmq_name_server.clone(),
                    },
                },
                queue_prefix: config.backend.queue_prefix.clone(),
            })
        }
    };
    o.role = match role {
        Role::All => herald_server::Role::All,
        Role::Api => herald_server::Role::Api,
        Role::Worker => herald_server::Role::Worker,
    };
    o
}

/// Runs the API and/or workers (per `role`) until SIGTERM or Ctrl-C.
pub async fn run(config: Config, role: Role) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("server.listen: cannot bind {}", config.server.listen))?;
    let mut server = start(options(&config, role), listener).await?;
    let base = server.base_url();
    tracing::info!(addr = %server.addr, data_dir = %config.storage.data_dir.display(), "herald is listening");
    if let Some(key) = &server.generated_admin_key {
        println!("Admin key (shown once; only its hash is stored): {key}");
    }
    if let Some(demo) = &server.demo {
        println!(
            "\nSend your first message (demo app {app}, sandbox webhook simulator):\n\n  curl -s -X POST {base}/v1/messages \\\n    -H 'Authorization: Bearer {key}' \\\n    -H 'Content-Type: application/json' \\\n    -d '{{\"template\": \"{tpl}\", \"receivers\": [\"user-1\"], \"variables\": {{\"name\": \"Ada\"}}}}'\n\nThen: curl -s -H 'Authorization: Bearer {key}' {base}/v1/messages/<id>\n",
            app = demo.app_id,
            key = demo.api_key,
            tpl = demo.template,
        );
    }
    let stopper = server.stopper();
    tokio::select! {
        r = server.wait() => return r,
        _ = shutdown_signal() => {}
    }
    tracing::info!("shutting down: no new requests, finishing in-flight sends");
    let _ = stopper.send(true);
    server.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Creates or upgrades the storage schema, then returns: the embedded SQLite file, or the
/// SQL database of distributed mode (every version not yet applied, under a database lock so
/// nodes starting at once apply each exactly once; `serve` runs the same on start).
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    if config.backend.kind == BackendKind::Distributed {
        let db = herald_store_sql::SqlDb::connect(
            &config.backend.database_url,
            &herald_store_sql::SqlOptions::default(),
        )
        .await
        .context("connecting to the SQL database (backend.database_url)")?;
        let applied = herald_store_sql::migrate(&db)
            .await
            .map_err(|e| anyhow::anyhow!("migrating the SQL database: {e}"))?;
        let latest = herald_store_sql::MIGRATIONS.last().map_or(0, |m| m.version);
        if applied.is_empty() {
            println!("database schema is up to date (version {latest})");
        } else {
            println!("applied schema versions {applied:?}; now at version {latest}");
        }
        db.close().await;
        return Ok(());
    }
    std::fs::create_dir_all(&config.storage.data_dir)?;
    herald_embedded::Embedded::open(
        &config.storage.data_dir,
        herald_embedded::EmbeddedOptions::default(),
    )
    .context("opening the embedded store")?;
    println!(
        "schema of {} and {} is up to date",
        config.storage.data_dir.join("herald.db").display(),
        config.storage.data_dir.join("journal.db").display()
    );
    Ok(())
}
