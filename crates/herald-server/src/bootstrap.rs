//! First-start bootstrap and housekeeping: the master key and admin key files, the demo app
//! (API key, sandbox webhook account pointing at the built-in simulator, a template), and
//! the periodic purge of expired idempotency entries.
//!
//! Files in the data dir (mode 0600): `master.key` (base64 AES key, when none is
//! configured), `admin.key.sha256` (hash of the generated admin key), `demo.key` (the demo
//! app's API key, account and sandbox signing secret, so the quickstart `curl` can be printed
//! again on every start and the built-in simulator verifies the sandbox's signatures).

use crate::ServerOptions;
use anyhow::Context;
use herald_domain::{TemplateContent, VariableSpec};
use herald_engine::crypto::MasterKeys;
use herald_engine::engine::hash_key;
use herald_engine::manage::{AccountInput, AppInput, KeyInput, TemplateInput};
use herald_engine::{Engine, Principal};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What the quickstart needs.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub app_id: String,
    pub api_key: String,
    pub template: String,
    pub account_id: String,
    /// True when this start created it.
    pub created: bool,
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

fn read_trimmed(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The configured master keys, or the data dir's generated one.
pub(crate) fn master_keys(o: &ServerOptions) -> anyhow::Result<MasterKeys> {
    let (id, key) = match &o.master_key {
        Some((id, key)) => (id.clone(), key.clone()),
        None => {
            let path = o.data_dir.join("master.key");
            let key = match read_trimmed(&path)? {
                Some(k) => k,
                None => {
                    let k = MasterKeys::generate_key();
                    write_private(&path, &k)?;
                    tracing::warn!(path = %path.display(), "generated a master key; back it up or set security.master_key");
                    k
                }
            };
            ("local".to_owned(), key)
        }
    };
    MasterKeys::new((&id, &key), &o.old_master_keys).context("security.master_key")
}

/// The admin key's hash, and the key itself when generated now.
pub(crate) fn admin_key(o: &ServerOptions) -> anyhow::Result<(String, Option<String>)> {
    if let Some(k) = &o.admin_key {
        return Ok((hash_key(k), None));
    }
    let path = o.data_dir.join("admin.key.sha256");
    if let Some(hash) = read_trimmed(&path)? {
        return Ok((hash, None));
    }
    let key = format!("hk_admin_{}", hex_random());
    write_private(&path, &hash_key(&key))?;
    Ok((hash_key(&key), Some(key)))
}

fn hex_random() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

pub const DEMO_TEMPLATE: &str = "welcome";
pub const SANDBOX_PATH: &str = "/sim/webhook/sandbox";

/// Creates the demo on first start; afterwards just reads it back.
pub(crate) async fn demo(
    engine: &Arc<Engine>,
    o: &ServerOptions,
    sim: Option<&herald_channels::sim::SimState>,
) -> anyhow::Result<DemoInfo> {
    let key_path = o.data_dir.join("demo.key");
    if let Some(saved) = read_trimmed(&key_path)? {
        let parts: Vec<&str> = saved.split_whitespace().collect();
        if let [app, key, account, secret] = parts[..] {
            configure_sandbox(sim, secret)?;
            return Ok(DemoInfo {
                app_id: app.into(),
                api_key: key.into(),
                template: DEMO_TEMPLATE.into(),
                account_id: account.into(),
                created: false,
            });
        }
    }
    // The sandbox account signs its requests like any webhook account; the built-in
    // simulator checks the signature with the same secret.
    let signing_secret = format!("whsec_{}", hex_random());
    let admin = Principal::Admin;
    let app = engine
        .create_app(
            &admin,
            AppInput {
                name: "demo".into(),
            },
        )
        .await
        .context("creating the demo app")?;
    let key = engine
        .create_api_key(
            &admin,
            app.id.as_str(),
            KeyInput {
                name: "demo".into(),
            },
        )
        .await
        .context("creating the demo key")?;
    let account = engine
        .create_account(
            &app.id,
            AccountInput {
                name: "sandbox".into(),
                channel: "webhook".into(),
                config: serde_json::json!({ "url": SANDBOX_PATH }),
                secret: Some(serde_json::json!({ "signing_secret": signing_secret })),
                rate_limit_per_second: 0,
                retry: None,
                enabled: true,
            },
        )
        .await
        .context("creating the sandbox account")?;
    engine
        .create_template(
            &app.id,
            TemplateInput {
                name: DEMO_TEMPLATE.into(),
                channel: "webhook".into(),
                account: Some(account.id.to_string()),
                enabled: true,
                variables: vec![VariableSpec {
                    name: "name".into(),
                    sensitive: false,
                }],
                content: TemplateContent {
                    title: Some("Welcome".into()),
                    body: "Hello {{ name }}, welcome to Herald!".into(),
                    fields: Default::default(),
                },
            },
        )
        .await
        .context("creating the demo template")?;
    write_private(
        &key_path,
        &format!("{} {} {} {signing_secret}\n", app.id, key.key, account.id),
    )?;
    configure_sandbox(sim, &signing_secret)?;
    Ok(DemoInfo {
        app_id: app.id.to_string(),
        api_key: key.key,
        template: DEMO_TEMPLATE.into(),
        account_id: account.id.to_string(),
        created: true,
    })
}

fn configure_sandbox(
    sim: Option<&herald_channels::sim::SimState>,
    secret: &str,
) -> anyhow::Result<()> {
    let Some(sim) = sim else { return Ok(()) };
    let mut config = sim.account_config("sandbox");
    config.secret = Some(herald_channels::sim::SimSecret(secret.to_owned()));
    sim.configure("sandbox", config)
        .map_err(|e| anyhow::anyhow!("configuring the sandbox simulator: {e}"))
}

/// Periodic upkeep: purge idempotency entries past their TTL.
pub(crate) async fn housekeeping(engine: Arc<Engine>, ttl: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let before = herald_domain::time::now_ms() - ttl.as_millis() as i64;
        match engine.deps().intake.purge_idempotency(before).await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency entries removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
        }
    }
}
