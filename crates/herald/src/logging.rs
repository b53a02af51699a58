//! Installs the global `tracing` subscriber: from `[log]` for long-running processes, or a quiet
//! default (`warn`, overridable with `RUST_LOG`) for one-shot tools such as `bench` and `send`,
//! whose useful output is on stdout.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Logs per the `[log]` settings (already validated, so the filter parses).
pub fn init(log: &LogConfig) {
    install(EnvFilter::new(&log.level), log.format);
}

/// Logs warnings and errors to stderr unless `RUST_LOG` says otherwise.
pub fn init_for_tool() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    install(filter, LogFormat::Text);
}

fn install(filter: EnvFilter, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init` fails only when a subscriber is already installed (tests): keep that one.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
