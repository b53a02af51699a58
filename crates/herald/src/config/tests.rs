//! Layering and validation of the configuration. Tests that touch environment variables run in
//! `figment::Jail`, which serializes them and restores the environment afterwards.

// `figment::Jail` closures return `figment::Error` by value: its size is not ours to change.
#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;

fn keys(err: &ConfigError) -> Vec<&str> {
    err.problems.iter().map(|p| p.key.as_str()).collect()
}

fn message_for<'a>(err: &'a ConfigError, key: &str) -> &'a str {
    err.problems
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.message.as_str())
        .unwrap_or_else(|| panic!("no problem for {key} in {err}"))
}

#[test]
fn embedded_defaults_load_and_match_the_documented_values() {
    let config = Config::defaults().expect("defaults are valid");
    assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.server.body_limit_bytes, 33_554_432);
    assert_eq!(config.server.request_timeout_secs, 30);
    assert_eq!(config.server.public_url(), "http://127.0.0.1:8080");
    assert_eq!(config.storage.data_dir, PathBuf::from("./herald-data"));
    assert!(config.storage.durable);
    assert_eq!(config.security.admin_key, "");
    assert_eq!(config.security.master_key_bytes(), None);
    assert_eq!(config.security.master_key_id, "k1");
    assert!(config.security.old_master_keys.is_empty());
    assert_eq!(config.dispatcher.workers, 64);
    assert_eq!(config.dispatcher.receive_batch, 256);
    assert_eq!(config.dispatcher.lease(), Duration::from_secs(60));
    assert_eq!(config.dispatcher.shutdown_grace(), Duration::from_secs(20));
    assert_eq!(config.dispatcher.nice, 0);
    assert_eq!(config.idempotency.ttl(), Duration::from_secs(24 * 3600));
    assert!(config.bootstrap.demo);
    assert!(config.sim.builtin);
    assert_eq!(config.log.level, "info");
    assert_eq!(config.log.format, LogFormat::Text);
}

#[test]
fn load_without_file_or_env_equals_defaults() {
    Jail::expect_with(|_jail| {
        assert_eq!(Config::load(None), Config::defaults());
        Ok(())
    });
}

#[test]
fn file_overrides_defaults_and_keeps_the_rest() {
    Jail::expect_with(|jail| {
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
        let old = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
        jail.create_file(
            "herald.toml",
            &format!(
                r#"
                [server]
                listen = "0.0.0.0:9090"
                [dispatcher]
                workers = 8
                [security]
                master_key = "{key}"
                master_key_id = "k2"
                old_master_keys = {{ k1 = "{old}" }}
                [log]
                format = "json"
                level = "warn,herald_engine=debug"
                "#
            ),
        )?;
        let config = Config::load(Some(Path::new("herald.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(config.server.listen, "0.0.0.0:9090".parse().unwrap());
        assert_eq!(config.server.public_url(), "http://127.0.0.1:9090");
        assert_eq!(config.dispatcher.workers, 8);
        assert_eq!(config.dispatcher.receive_batch, 256, "untouched default");
        assert_eq!(config.security.master_key_bytes(), Some([7u8; 32]));
        assert_eq!(
            config.security.old_master_key_bytes(),
            BTreeMap::from([("k1".to_string(), [9u8; 32])])
        );
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(
            !format!("{:?}", config.security).contains(&key),
            "Debug hides keys"
        );
        Ok(())
    });
}

#[test]
fn env_overrides_file_and_ignores_client_variables() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "herald.toml",
            "[server]\nlisten = \"0.0.0.0:9090\"\n[storage]\ndata_dir = \"/var/lib/herald\"\n",
        )?;
        jail.set_env("HERALD_SERVER__LISTEN", "127.0.0.1:7000");
        jail.set_env("HERALD_STORAGE__DURABLE", "false");
        jail.set_env("HERALD_SECURITY__ADMIN_KEY", "1234567890123456789");
        jail.set_env("HERALD_URL", "http://elsewhere:8080");
        jail.set_env("HERALD_KEY", "client-key");
        let config = Config::load(Some(Path::new("herald.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(config.server.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(config.storage.data_dir, PathBuf::from("/var/lib/herald"));
        assert!(!config.storage.durable);
        assert_eq!(
            config.security.admin_key, "1234567890123456789",
            "a numeric-looking env value is still read as text"
        );
        Ok(())
    });
}

#[test]
fn every_bad_value_is_reported_at_once_naming_key_and_origin() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bad.toml",
            r#"
            [server]
            listen = "abc"
            body_limit_bytes = "lots"
            public_url = "ftp://x"
            [dispatcher]
            workers = 0
            nice = 25
            [security]
            master_key = "c2hvcnQ="
            old_master_keys = { k1 = "c2hvcnQ=" }
            [log]
            level = "verbose"
            format = "xml"
            [storage]
            durable = "maybe"
            colour = "blue"
            "#,
        )?;
        jail.set_env("HERALD_IDEMPOTENCY__TTL_HOURS", "-5");
        let err = Config::load(Some(Path::new("bad.toml"))).expect_err("invalid");
        let mut found = keys(&err);
        found.sort_unstable();
        assert_eq!(
            found,
            [
                "dispatcher.nice",
                "dispatcher.workers",
                "idempotency.ttl_hours",
                "log.format",
                "log.level",
                "security.master_key",
                "security.old_master_keys.k1",
                "server.body_limit_bytes",
                "server.listen",
                "server.public_url",
                "storage.colour",
                "storage.durable",
            ]
        );
        assert!(
            message_for(&err, "server.listen")
                .starts_with("\"abc\" is not a socket address (ip:port) (in "),
            "{err}"
        );
        assert!(message_for(&err, "server.listen").contains("bad.toml"));
        assert!(
            message_for(&err, "server.body_limit_bytes").contains("\"lots\" is not a whole number")
        );
        assert!(message_for(&err, "dispatcher.workers").contains("0 is out of range"));
        assert!(message_for(&err, "dispatcher.nice").contains("25 is out of range"));
        assert!(
            message_for(&err, "security.master_key").contains("must decode to 32 bytes, got 5")
        );
        assert!(message_for(&err, "storage.colour").contains("is not a known setting"));
        assert!(
            message_for(&err, "idempotency.ttl_hours")
                .ends_with("(from HERALD_IDEMPOTENCY__TTL_HOURS)"),
            "{err}"
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("invalid configuration (12 problems):"),
            "{shown}"
        );
        assert!(shown.contains("\n  - server.listen: \"abc\" is not a socket address"));
        Ok(())
    });
}

#[test]
fn missing_file_and_broken_toml_are_reported() {
    Jail::expect_with(|jail| {
        let err = Config::load(Some(Path::new("nope.toml"))).expect_err("missing");
        assert_eq!(err.problems.len(), 1);
        assert!(err.problems[0].key.ends_with("nope.toml"));
        assert_eq!(err.problems[0].message, "configuration file not found");

        jail.create_file("broken.toml", "[server\nlisten = 1")?;
        let err = Config::load(Some(Path::new("broken.toml"))).expect_err("broken");
        assert!(err.problems[0].key.contains("broken.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn old_key_may_not_reuse_the_current_key_id() {
    Jail::expect_with(|jail| {
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32]);
        jail.set_env(
            "HERALD_SECURITY__OLD_MASTER_KEYS",
            format!("{{k1=\"{key}\"}}"),
        );
        let err = Config::load(None).expect_err("reused id");
        assert_eq!(keys(&err), ["security.old_master_keys.k1"]);
        assert!(message_for(&err, "security.old_master_keys.k1").contains("current key"));
        Ok(())
    });
}

#[test]
fn distributed_backend_needs_both_urls_and_names_the_missing_key() {
    Jail::expect_with(|jail| {
        let defaults = Config::defaults().expect("defaults are valid");
        assert_eq!(defaults.backend.kind, BackendKind::Embedded);
        assert_eq!(defaults.backend.queue_prefix, "herald");
        assert_eq!(defaults.backend.database_pool, 32);

        jail.set_env("HERALD_BACKEND__KIND", "distributed");
        let err = Config::load(None).expect_err("no URLs");
        assert_eq!(
            keys(&err),
            [
                "backend.database_url",
                "backend.nats_url",
                "security.master_key",
                "security.admin_key"
            ]
        );
        assert!(message_for(&err, "security.master_key").contains("every node"));
        jail.set_env("HERALD_SECURITY__ADMIN_KEY", "admin-key-of-the-cluster");
        jail.set_env(
            "HERALD_SECURITY__MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let err = Config::load(None).expect_err("no URLs");
        assert_eq!(keys(&err), ["backend.database_url", "backend.nats_url"]);
        assert!(message_for(&err, "backend.nats_url").contains("required"));

        jail.set_env("HERALD_BACKEND__DATABASE_URL", "redis://127.0.0.1");
        jail.set_env("HERALD_BACKEND__NATS_URL", "nats://127.0.0.1:4222");
        jail.set_env("HERALD_BACKEND__QUEUE_PREFIX", "Bad.Prefix");
        let err = Config::load(None).expect_err("bad scheme and prefix");
        assert_eq!(keys(&err), ["backend.database_url", "backend.queue_prefix"]);
        assert!(
            message_for(&err, "backend.database_url").contains("HERALD_BACKEND__DATABASE_URL"),
            "{err}"
        );

        jail.set_env("HERALD_BACKEND__DATABASE_URL", "postgres://h/herald");
        jail.set_env("HERALD_BACKEND__QUEUE_PREFIX", "herald-eu");
        let config = Config::load(None).expect("valid distributed configuration");
        assert_eq!(config.backend.kind, BackendKind::Distributed);
        assert_eq!(config.backend.database_url, "postgres://h/herald");

        jail.set_env("HERALD_BACKEND__QUEUE", "kafka");
        let err = Config::load(None).expect_err("no brokers");
        assert_eq!(keys(&err), ["backend.kafka_brokers"]);
        jail.set_env("HERALD_BACKEND__KAFKA_BROKERS", "k1:9092,k2");
        let err = Config::load(None).expect_err("a broker without port");
        assert!(
            message_for(&err, "backend.kafka_brokers").contains("\"k2\""),
            "{err}"
        );
        jail.set_env("HERALD_BACKEND__KAFKA_BROKERS", "k1:9092,k2:9092");
        let config = Config::load(None).expect("valid Kafka configuration");
        assert_eq!(config.backend.queue, QueueKind::Kafka);
        jail.set_env("HERALD_BACKEND__QUEUE", "rocketmq");
        let err = Config::load(None).expect_err("no name server");
        assert_eq!(keys(&err), ["backend.rocketmq_name_server"]);
        jail.set_env("HERALD_BACKEND__QUEUE", "nats");

        jail.set_env("HERALD_BACKEND__KIND", "cluster");
        let err = Config::load(None).expect_err("unknown kind");
        assert_eq!(keys(&err), ["backend.kind"]);
        Ok(())
    });
}
