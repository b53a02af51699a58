//! What every scenario needs before it measures: where Herald and the simulator are, an API key
//! and template to send with (created through the API with `--admin-key`, so a scenario is
//! reproducible from a bare server), and helpers to build load plans and read `/metrics`.

use super::super::load::{self, Observer};
use super::super::metrics::{self, Scrape};
use super::super::request::{BodyFactory, NUMBER_MARK, Target};
use super::verdict::Durability;
use crate::cli::parse_duration;
use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Base URL of the Herald API (http only).
    #[arg(long, env = "HERALD_URL", default_value = crate::cli::DEFAULT_URL)]
    pub url: String,
    /// API key to send with; with `--admin-key` a fresh app, key, account and template are
    /// created instead.
    #[arg(long, env = "HERALD_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Admin key: provision a fresh app/key/webhook account/template for this run.
    #[arg(long, env = "HERALD_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Template to send (with `--key`); its body should render `{{ name }}`.
    #[arg(long, default_value = "bench")]
    pub template: String,
    /// How long the measured load runs.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Base URL of the `herald sim` that receives the webhooks.
    #[arg(long, default_value = "http://127.0.0.1:8426")]
    pub sim_url: String,
    /// Simulator account the template's account posts to (default with `--admin-key`:
    /// `bench-<scenario>-<unix time>`; otherwise `bench-<scenario>`).
    #[arg(long)]
    pub sim_account: Option<String>,
    /// Server process whose peak RSS (VmHWM) is read from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server's data dir: where the fsync probe runs and whose size `search` reports.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Also write the result as JSON to this file (for `herald bench table`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A prepared scenario: credentials, template and the simulator account to count.
pub struct Context {
    pub common: Common,
    pub http: reqwest::Client,
    pub key: String,
    pub template: String,
    pub sim_url: String,
    pub sim_account: String,
}

impl Context {
    /// Provisions (with `--admin-key`) or checks the credentials. `rate_limit` is the account's
    /// per-second limit when provisioning (0 = none).
    pub async fn prepare(common: &Common, scenario: &str, rate_limit: u32) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let sim_url = common.sim_url.trim_end_matches('/').to_string();
        let url = common.url.trim_end_matches('/');
        let (key, template, sim_account) = match (&common.admin_key, &common.key) {
            (Some(admin), _) => {
                let name = format!("bench-{scenario}-{}", super::super::report::unix_now());
                let sim_account = common.sim_account.clone().unwrap_or_else(|| name.clone());
                let webhook = format!("{sim_url}/sim/webhook/{sim_account}");
                let key = provision(&http, url, admin, &name, &webhook, rate_limit).await?;
                (key, "bench".to_string(), sim_account)
            }
            (None, Some(key)) => (
                key.clone(),
                common.template.clone(),
                common
                    .sim_account
                    .clone()
                    .unwrap_or_else(|| format!("bench-{scenario}")),
            ),
            (None, None) => anyhow::bail!("give --admin-key (to provision) or --key"),
        };
        Ok(Self {
            common: common.clone(),
            http,
            key,
            template,
            sim_url,
            sim_account,
        })
    }

    /// A load plan against Herald with this context's key and template.
    pub fn plan(&self, shape: Shape) -> anyhow::Result<load::Plan> {
        let name = if shape.numbered_name {
            format!("user{NUMBER_MARK}")
        } else {
            "bench".into()
        };
        let vars = [("name".to_string(), Value::String(name))];
        Ok(load::Plan {
            target: Target::parse(&self.common.url)?,
            bodies: BodyFactory::new(&self.template, &vars, shape.batch_size)?,
            key: Some(self.key.clone()),
            connections: shape.connections,
            duration: shape.duration.unwrap_or(self.common.duration),
            rate: shape.rate,
            max_receivers: shape.max_receivers,
            observer: shape.observer,
        })
    }

    pub async fn scrape(&self) -> Option<Scrape> {
        metrics::fetch(&self.http, &self.common.url).await
    }

    /// Group-commit counters between `before` and now.
    pub async fn durability_since(
        &self,
        before: Option<&Scrape>,
        seconds: f64,
    ) -> Option<Durability> {
        let after = self.scrape().await;
        Durability::between(before, after.as_ref(), seconds)
    }

    /// The server's VmHWM, when `--server-pid` was given and readable.
    pub fn peak_rss(&self) -> Option<u64> {
        metrics::peak_rss_of_pid(self.common.server_pid?).ok()
    }

    /// Sets the simulator account's own per-second limit (over it answers 429, counted as
    /// throttled).
    pub async fn limit_sim_account(&self, per_sec: u32) -> anyhow::Result<()> {
        let url = format!("{}/sim/accounts/{}", self.sim_url, self.sim_account);
        self.http
            .put(&url)
            .json(&json!({ "rate_limit_per_sec": per_sec }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("configuring {url}"))?;
        Ok(())
    }
}

/// How one load runs; unset fields take the plain defaults (closed loop, single messages,
/// `--duration`).
#[derive(Default)]
pub struct Shape {
    pub connections: usize,
    pub batch_size: Option<usize>,
    pub rate: Option<u64>,
    pub duration: Option<Duration>,
    pub max_receivers: Option<u64>,
    pub observer: Option<Arc<dyn Observer>>,
    /// Send `name = user<receiver number>` instead of `bench`, so every message's text differs.
    pub numbered_name: bool,
}

async fn post(http: &reqwest::Client, url: &str, key: &str, body: Value) -> anyhow::Result<Value> {
    let answer = http
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "POST {url}: {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("POST {url} answered {text:?}"))
}

/// Creates an app, an API key, a webhook account to `webhook` and a template `bench`
/// (`Hello {{ name }}`); returns the API key.
async fn provision(
    http: &reqwest::Client,
    url: &str,
    admin_key: &str,
    name: &str,
    webhook: &str,
    rate_limit: u32,
) -> anyhow::Result<String> {
    let field = |v: &Value, f: &str| -> anyhow::Result<String> {
        v[f].as_str()
            .map(str::to_owned)
            .with_context(|| format!("no {f:?} in {v}"))
    };
    let app = post(
        http,
        &format!("{url}/v1/apps"),
        admin_key,
        json!({ "name": name }),
    )
    .await?;
    let app = field(&app, "id")?;
    let key = post(
        http,
        &format!("{url}/v1/apps/{app}/keys"),
        admin_key,
        json!({}),
    )
    .await?;
    let key = field(&key, "key")?;
    let account = json!({
        "name": name,
        "channel": "webhook",
        "config": { "url": webhook },
        "rate_limit_per_second": rate_limit,
        "retry": { "delays_ms": [1000, 5000, 10000], "jitter_percent": 20 },
    });
    let account = post(http, &format!("{url}/v1/accounts"), &key, account).await?;
    let account = field(&account, "id")?;
    let template = json!({
        "name": "bench",
        "channel": "webhook",
        "account": account,
        "variables": [{ "name": "name" }],
        "content": { "body": "Hello {{ name }}" },
    });
    post(http, &format!("{url}/v1/templates"), &key, template).await?;
    Ok(key)
}
