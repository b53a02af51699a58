//! The validation pass: reads each setting from the merged figment by key, converting and
//! checking it, and keeps going after a problem so that every bad setting is reported at once
//! (serde extraction would stop at the first). Messages name the key and, when the value did not
//! come from the built-in defaults, the file or environment variable that set it.

use super::backend::{self, BackendConfig, BackendKind, QueueKind};
use super::checks::{
    check_admin_key, check_key_id, check_log_filter, check_not_empty, check_optional_key,
    check_public_url,
};
use super::{
    BootstrapConfig, Config, ConfigError, DispatcherConfig, ENV_PREFIX, IdempotencyConfig,
    LogConfig, LogFormat, Problem, SecurityConfig, ServerConfig, SimConfig, StorageConfig,
};
use base64::Engine as _;
use figment::providers::{Format as _, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Source};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// Builds a [`Config`] from merged layers or lists every problem found.
pub(super) fn read_config(figment: &Figment) -> Result<Config, ConfigError> {
    let merged: Dict = figment.extract().map_err(|err| ConfigError {
        problems: err
            .into_iter()
            .map(|e| Problem {
                key: e.metadata.as_ref().map_or("configuration".into(), |m| {
                    m.source
                        .as_ref()
                        .map_or(m.name.to_string(), |s| s.to_string())
                }),
                message: e.kind.to_string(),
            })
            .collect(),
    })?;
    let mut r = Reader {
        figment,
        problems: Vec::new(),
    };
    r.reject_unknown_keys(&merged);

    let config = Config {
        server: ServerConfig {
            listen: r
                .parsed::<SocketAddr>("server.listen", "a socket address (ip:port)")
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            body_limit_bytes: r.integer("server.body_limit_bytes", 1024..=1 << 32),
            request_timeout_secs: r.integer("server.request_timeout_secs", 1..=3600),
            public_url: r.checked_string("server.public_url", check_public_url),
        },
        backend: r.backend(),
        storage: StorageConfig {
            data_dir: PathBuf::from(r.checked_string("storage.data_dir", check_not_empty)),
            durable: r.boolean("storage.durable"),
            journal_max_mb: r.integer("storage.journal_max_mb", 1..=1 << 24),
        },
        security: SecurityConfig {
            admin_key: r.checked_string("security.admin_key", check_admin_key),
            master_key: r.checked_string("security.master_key", check_optional_key),
            master_key_id: r.checked_string("security.master_key_id", check_key_id),
            old_master_keys: r.old_master_keys(),
        },
        dispatcher: DispatcherConfig {
            workers: r.integer("dispatcher.workers", 1..=100_000) as usize,
            receive_batch: r.integer("dispatcher.receive_batch", 1..=100_000) as usize,
            lease_secs: r.integer("dispatcher.lease_secs", 1..=86_400),
            shutdown_grace_secs: r.integer("dispatcher.shutdown_grace_secs", 0..=3600),
            nice: r.integer("dispatcher.nice", 0..=19) as i32,
        },
        idempotency: IdempotencyConfig {
            ttl_hours: r.integer("idempotency.ttl_hours", 1..=24 * 366),
        },
        bootstrap: BootstrapConfig {
            demo: r.boolean("bootstrap.demo"),
        },
        sim: SimConfig {
            builtin: r.boolean("sim.builtin"),
        },
        log: LogConfig {
            level: r.checked_string("log.level", check_log_filter),
            format: r
                .parsed_with("log.format", "`text` or `json`", |s| match s {
                    "text" => Some(LogFormat::Text),
                    "json" => Some(LogFormat::Json),
                    _ => None,
                })
                .unwrap_or_default(),
        },
    };
    let current_id = &config.security.master_key_id;
    if config.security.old_master_keys.contains_key(current_id) {
        r.problem(
            &format!("security.old_master_keys.{current_id}"),
            "must not reuse the id of the current key (security.master_key_id)".into(),
        );
    }
    if config.backend.kind == BackendKind::Distributed {
        // Nodes generating their own keys would each seal secrets the others cannot open,
        // and each accept only its own admin key.
        for (key, value) in [
            ("security.master_key", &config.security.master_key),
            ("security.admin_key", &config.security.admin_key),
        ] {
            if value.is_empty() {
                r.problem(
                    key,
                    "is required when backend.kind = \"distributed\": every node must use the same one".into(),
                );
            }
        }
    }
    if r.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            problems: r.problems,
        })
    }
}

/// Decodes a base64 master key of exactly 32 bytes.
pub(super) fn decode_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| "is not valid base64".to_string())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("must decode to 32 bytes, got {}", bytes.len()))
}

/// Reads settings and accumulates problems.
struct Reader<'a> {
    figment: &'a Figment,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, key: &str, message: String) {
        self.problems.push(Problem {
            key: key.to_string(),
            message,
        });
    }

    /// Records a problem about the value at `key`, saying where that value was set.
    fn bad_value(&mut self, key: &str, value: &Value, message: String) {
        let origin = self.origin(key, value);
        self.problem(key, format!("{message}{origin}"));
    }

    /// ` (in FILE)` or ` (from VAR)`; empty for the built-in defaults.
    fn origin(&self, key: &str, value: &Value) -> String {
        let Some(metadata) = self.figment.get_metadata(value.tag()) else {
            return String::new();
        };
        match &metadata.source {
            Some(Source::File(path)) => format!(" (in {})", path.display()),
            _ if metadata.name.contains("environment") => {
                format!(
                    " (from {ENV_PREFIX}{})",
                    key.to_ascii_uppercase().replace('.', "__")
                )
            }
            _ => String::new(),
        }
    }

    fn value(&mut self, key: &str) -> Option<Value> {
        match self.figment.find_value(key) {
            Ok(value) => Some(value),
            Err(_) => {
                self.problem(key, "is missing".into());
                None
            }
        }
    }

    /// A scalar as text; numbers and booleans are accepted because environment variables
    /// such as `HERALD_SECURITY__ADMIN_KEY=123456…` arrive parsed as numbers.
    fn text(&mut self, key: &str) -> Option<(String, Value)> {
        let value = self.value(key)?;
        let text = match &value {
            Value::String(_, s) => s.clone(),
            Value::Char(_, c) => c.to_string(),
            Value::Bool(_, b) => b.to_string(),
            Value::Num(..) => match (value.to_u128(), value.to_i128(), value.to_f64()) {
                (Some(u), _, _) => u.to_string(),
                (_, Some(i), _) => i.to_string(),
                (_, _, Some(f)) => f.to_string(),
                _ => String::new(),
            },
            other => {
                let found = other.to_actual();
                self.bad_value(key, &value, format!("expected text, found {found}"));
                return None;
            }
        };
        Some((text, value))
    }

    fn checked_string(
        &mut self,
        key: &str,
        check: impl FnOnce(&str) -> Result<(), String>,
    ) -> String {
        let Some((text, value)) = self.text(key) else {
            return String::new();
        };
        if let Err(message) = check(&text) {
            self.bad_value(key, &value, message);
        }
        text
    }

    fn parsed<T: std::str::FromStr>(&mut self, key: &str, expected: &str) -> Option<T> {
        self.parsed_with(key, expected, |s| s.trim().parse().ok())
    }

    fn parsed_with<T>(
        &mut self,
        key: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let (text, value) = self.text(key)?;
        let parsed = parse(&text);
        if parsed.is_none() {
            self.bad_value(key, &value, format!("{text:?} is not {expected}"));
        }
        parsed
    }

    fn integer(&mut self, key: &str, range: RangeInclusive<u64>) -> u64 {
        let Some(value) = self.value(key) else {
            return *range.start();
        };
        let number = match &value {
            Value::Num(..) => value
                .to_u128()
                .or_else(|| value.to_i128().and_then(|i| u128::try_from(i).ok())),
            Value::String(_, s) => s.trim().parse::<u128>().ok(),
            _ => None,
        };
        let Some(number) = number else {
            let shown = match &value {
                Value::String(_, s) => format!("{s:?}"),
                other => other.to_actual().to_string(),
            };
            self.bad_value(key, &value, format!("{shown} is not a whole number"));
            return *range.start();
        };
        match u64::try_from(number) {
            Ok(n) if range.contains(&n) => n,
            _ => {
                let (low, high) = (range.start(), range.end());
                self.bad_value(
                    key,
                    &value,
                    format!("{number} is out of range (allowed {low}..={high})"),
                );
                *range.start()
            }
        }
    }

    fn boolean(&mut self, key: &str) -> bool {
        self.parsed_with(key, "a boolean (`true` or `false`)", |s| {
            match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        })
        .unwrap_or(false)
    }

    /// `[backend]`: the URLs are checked against the kind (distributed needs both).
    fn backend(&mut self) -> BackendConfig {
        let kind = self
            .parsed_with(
                "backend.kind",
                "`embedded` or `distributed`",
                BackendKind::parse,
            )
            .unwrap_or_default();
        let queue = self
            .parsed_with(
                "backend.queue",
                "`nats`, `kafka` or `rocketmq`",
                QueueKind::parse,
            )
            .unwrap_or_default();
        BackendConfig {
            kind,
            database_url: self.checked_string("backend.database_url", |url| {
                backend::check_database_url(kind, url)
            }),
            database_pool: self.integer("backend.database_pool", 1..=10_000) as u32,
            queue,
            nats_url: self.checked_string("backend.nats_url", |url| {
                backend::check_nats_url(kind, queue, url)
            }),
            kafka_brokers: self.checked_string("backend.kafka_brokers", |text| {
                backend::check_addresses(kind, QueueKind::Kafka, queue, ',', text)
            }),
            kafka_single_record_batches: self.boolean("backend.kafka_single_record_batches"),
            kafka_session_timeout_secs: self
                .integer("backend.kafka_session_timeout_secs", 1..=1800),
            rocketmq_name_server: self.checked_string("backend.rocketmq_name_server", |text| {
                backend::check_addresses(kind, QueueKind::RocketMq, queue, ';', text)
            }),
            queue_prefix: self.checked_string("backend.queue_prefix", backend::check_queue_prefix),
        }
    }

    fn old_master_keys(&mut self) -> BTreeMap<String, String> {
        const KEY: &str = "security.old_master_keys";
        let Some(value) = self.value(KEY) else {
            return BTreeMap::new();
        };
        let Value::Dict(_, dict) = &value else {
            let found = value.to_actual();
            self.bad_value(
                KEY,
                &value,
                format!("expected a table of id = key, found {found}"),
            );
            return BTreeMap::new();
        };
        let mut keys = BTreeMap::new();
        for (id, key_value) in dict {
            let item_key = format!("{KEY}.{id}");
            if let Err(message) = check_key_id(id) {
                self.bad_value(&item_key, key_value, message);
            }
            match key_value {
                Value::String(_, text) => match decode_key(text) {
                    Ok(_) => {
                        keys.insert(id.clone(), text.clone());
                    }
                    Err(message) => self.bad_value(&item_key, key_value, message),
                },
                other => {
                    let found = other.to_actual();
                    self.bad_value(
                        &item_key,
                        key_value,
                        format!("expected text, found {found}"),
                    );
                }
            }
        }
        keys
    }

    /// Every key present in the merged layers must exist in the defaults; an empty table in the
    /// defaults (such as `old_master_keys`) is open and takes any key.
    fn reject_unknown_keys(&mut self, merged: &Dict) {
        let defaults: Dict = match Figment::from(Toml::string(super::DEFAULT_TOML)).extract() {
            Ok(defaults) => defaults,
            Err(err) => {
                self.problem("defaults", err.to_string());
                return;
            }
        };
        let mut unknown = Vec::new();
        collect_unknown("", merged, &defaults, &mut unknown);
        for (key, value) in unknown {
            self.bad_value(&key, &value, "is not a known setting".into());
        }
    }
}

fn collect_unknown(prefix: &str, merged: &Dict, known: &Dict, out: &mut Vec<(String, Value)>) {
    for (name, value) in merged {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match (known.get(name), value) {
            (None, _) => out.push((key, value.clone())),
            (Some(Value::Dict(_, known_inner)), Value::Dict(_, inner))
                if !known_inner.is_empty() =>
            {
                collect_unknown(&key, inner, known_inner, out)
            }
            _ => {}
        }
    }
}
