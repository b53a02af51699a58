//! Herald's settings, loaded in layers: the defaults embedded from `config/default.toml`, then an
//! optional TOML file, then `HERALD_<SECTION>__<KEY>` environment variables. After merging, one
//! validation pass reads every setting and collects *all* problems (each naming its key and where
//! the bad value came from), so an operator fixes a broken deployment in one round trip.

mod backend;
mod checks;
mod read;
#[cfg(test)]
mod tests;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use backend::{BackendConfig, BackendKind, QueueKind};

/// The defaults file, compiled into the binary so `herald serve` runs with no configuration.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "HERALD_";

/// Every setting of a Herald process, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub backend: BackendConfig,
    pub security: SecurityConfig,
    pub dispatcher: DispatcherConfig,
    pub idempotency: IdempotencyConfig,
    pub bootstrap: BootstrapConfig,
    pub sim: SimConfig,
    pub log: LogConfig,
}

/// The HTTP API listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Socket address the API binds.
    pub listen: SocketAddr,
    /// Largest accepted request body; batch sends are the big ones.
    pub body_limit_bytes: u64,
    /// Requests running longer than this are abandoned.
    pub request_timeout_secs: u64,
    /// Base URL clients and providers use to reach this server; empty = derived from `listen`.
    pub public_url: String,
}

/// Where the embedded store keeps its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Directory of the SQLite database, the on-disk queue and the generated master key.
    pub data_dir: PathBuf,
    /// Whether a 202 waits for fsync; `false` trades power-loss safety for speed.
    pub durable: bool,
    /// MiB of accepts the accept journal may hold ahead of the indexer.
    pub journal_max_mb: u64,
}

/// Keys: the admin key for the management API and the master key sealing account secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Admin API key; empty = generated on first start, printed once, stored hashed.
    pub admin_key: String,
    /// Base64 of the 32-byte master key; empty = generated into `data_dir/master.key`.
    pub master_key: String,
    /// Id written beside every sealed secret so the master key can rotate.
    pub master_key_id: String,
    /// Previous master keys (id → base64) still able to open older secrets.
    pub old_master_keys: BTreeMap<String, String>,
}

/// The delivery pipeline of one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatcherConfig {
    /// Concurrent provider sends.
    pub workers: usize,
    /// Largest batch taken from the send queue at once.
    pub receive_batch: usize,
    /// How long a received task stays leased before another consumer may take it.
    pub lease_secs: u64,
    /// On shutdown, how long in-flight sends may run before the process exits.
    pub shutdown_grace_secs: u64,
    /// 0: delivery shares the API's threads; 1–19: it runs on its own threads that many nice
    /// levels below them (decision 0021).
    pub nice: i32,
}

/// `Idempotency-Key` bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// How long a key and its saved response are kept.
    pub ttl_hours: u64,
}

/// What a fresh installation creates on first start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConfig {
    /// Create the demo app, API key, template and sandbox account.
    pub demo: bool,
}

/// The provider simulators served by `herald serve` itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Mount the simulators under `/sim` on the API listener.
    pub builtin: bool,
}

/// Logging output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A level or `tracing` filter directives (`info,herald_engine=debug`).
    pub level: String,
    /// Human-readable lines or one JSON object per line.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One invalid setting: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key such as `server.listen`, or the file for source-level errors.
    pub key: String,
    /// What is wrong, including where the value was set when it was not a default.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in one validation pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem", self.problems.len())?;
        if self.problems.len() != 1 {
            write!(f, "s")?;
        }
        write!(f, "):")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Loads defaults, then `path` (which must exist when given), then `HERALD_*` variables,
    /// and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(path) = path
            && !path.is_file()
        {
            return Err(ConfigError {
                problems: vec![Problem {
                    key: path.display().to_string(),
                    message: "configuration file not found".into(),
                }],
            });
        }
        Self::from_figment(&Self::figment(path))
    }

    /// The merged layers, before validation: useful to add a provider in tests or tools.
    pub fn figment(path: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = path {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only `SECTION__KEY` variables are settings: `HERALD_URL`/`HERALD_KEY` belong to the
        // client commands and must not trip the unknown-key check of `herald serve`.
        figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .filter(|key| key.as_str().contains('.')),
        )
    }

    /// Reads and validates every setting from merged layers.
    pub fn from_figment(figment: &Figment) -> Result<Config, ConfigError> {
        read::read_config(figment)
    }

    /// The defaults alone (what an empty environment yields).
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::from_figment(&Figment::from(Toml::string(DEFAULT_TOML)))
    }
}

impl ServerConfig {
    /// The configured public URL without a trailing slash, or `http://<listen>` (with a
    /// loopback address when listening on all interfaces).
    pub fn public_url(&self) -> String {
        if !self.public_url.is_empty() {
            return self.public_url.trim_end_matches('/').to_string();
        }
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            match addr {
                SocketAddr::V4(_) => addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into()),
                SocketAddr::V6(_) => addr.set_ip(std::net::Ipv6Addr::LOCALHOST.into()),
            }
        }
        format!("http://{addr}")
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

impl SecurityConfig {
    /// The configured master key, if one is set (validation guarantees it decodes).
    pub fn master_key_bytes(&self) -> Option<[u8; 32]> {
        read::decode_key(&self.master_key).ok()
    }

    /// Previous master keys by id, decoded.
    pub fn old_master_key_bytes(&self) -> BTreeMap<String, [u8; 32]> {
        self.old_master_keys
            .iter()
            .filter_map(|(id, key)| Some((id.clone(), read::decode_key(key).ok()?)))
            .collect()
    }
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("SecurityConfig")
            .field("admin_key", &redact(&self.admin_key))
            .field("master_key", &redact(&self.master_key))
            .field("master_key_id", &self.master_key_id)
            .field(
                "old_master_keys",
                &self.old_master_keys.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl DispatcherConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl IdempotencyConfig {
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_hours * 3600)
    }
}
