//! `herald sim`: the provider simulators as a standalone server, configured from an optional
//! TOML file (`[accounts.<name>]` tables, see `herald_channels::sim::SimConfig`).

use anyhow::Context;
use herald_channels::sim::{SimConfig, SimState};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Serves the simulators on `listen` until Ctrl-C / SIGTERM.
pub async fn run(listen: SocketAddr, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let config: SimConfig = match &config_path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml_from_str(&text).with_context(|| format!("parsing {}", p.display()))?
        }
        None => SimConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot bind {listen}"))?;
    println!(
        "herald sim listening on http://{} (stats: /sim/stats)",
        listener.local_addr()?
    );
    let app = herald_server::sim_router(SimState::new(config));
    // The API's serve: TCP_NODELAY on every connection, like a provider's front end.
    herald_api::serve(
        listener,
        app,
        Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }),
    )
    .await
    .context("simulator server failed")
}

fn toml_from_str(text: &str) -> anyhow::Result<SimConfig> {
    use figment::providers::{Format, Toml};
    Ok(figment::Figment::from(Toml::string(text)).extract()?)
}
