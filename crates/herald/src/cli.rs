//! The command line: one `herald` binary whose subcommands run the server, the simulators, the
//! load generator, maintenance tasks and small API client commands. Only argument shapes and
//! their parsers live here; `main.rs` dispatches to the modules that do the work.

use crate::bench::BenchArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Herald: a message delivery platform.
#[derive(Debug, Parser)]
#[command(
    name = "herald",
    version,
    about = "Herald: accepts messages over HTTP and delivers them through SMS, WeChat, push, \
             webhooks and more, within each provider's limits",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and/or the delivery workers.
    Serve {
        /// TOML file layered over the built-in defaults (then HERALD_* variables).
        #[arg(long, env = "HERALD_CONFIG")]
        config: Option<PathBuf>,
        /// Which parts of Herald this process runs.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Run the provider simulators alone.
    Sim {
        /// Address the simulators listen on.
        #[arg(long, default_value = "127.0.0.1:8426")]
        listen: SocketAddr,
        /// Simulator settings (accounts, rate limits, faults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Generate load against a running Herald and report throughput and latency.
    Bench(BenchArgs),
    /// Create or upgrade the storage schema, then exit.
    Migrate {
        /// TOML file layered over the built-in defaults (then HERALD_* variables).
        #[arg(long, env = "HERALD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Probe GET /healthz; exit 0 when healthy, 1 otherwise (for container probes).
    Healthcheck {
        /// Base URL of the Herald API.
        #[arg(long, env = "HERALD_URL", default_value = DEFAULT_URL)]
        url: String,
        /// Give up after this long (`5s`, `500ms`).
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Send a message through the API.
    Send(SendArgs),
    /// Inspect or cancel messages.
    Message {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// Manage templates.
    Template {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: ResourceCommand,
    },
    /// Manage provider accounts.
    Account {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        command: ResourceCommand,
    },
}

/// The API base URL used when neither `--url` nor `HERALD_URL` is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Which parts of Herald a `serve` process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// API, dispatcher and result consumers in one process.
    All,
    /// Only the HTTP API (accepts and queries).
    Api,
    /// Only the dispatcher and result consumers.
    Worker,
}

/// Where the API is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the Herald API.
    #[arg(long, env = "HERALD_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// API key (sent as `Authorization: Bearer <key>`).
    #[arg(long, env = "HERALD_KEY", hide_env_values = true, global = true)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Template id or name.
    #[arg(long)]
    pub template: String,
    /// Receiver (phone, openid, token, email…); repeat for several.
    #[arg(long = "to", required = true)]
    pub to: Vec<String>,
    /// Template variable: `name=text`, or `name:=json` for numbers, lists and objects.
    #[arg(long = "var", value_parser = parse_var)]
    pub vars: Vec<(String, serde_json::Value)>,
    /// Deliver later: RFC 3339 time with offset (`2026-01-01T08:00:00+08:00`).
    #[arg(long)]
    pub send_at: Option<String>,
    /// Send the same key again to get the same answer instead of a second message.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum MessageCommand {
    /// Show one message with its deliveries.
    Get { id: String },
    /// List or search messages, newest first.
    List {
        /// Only messages in this status.
        #[arg(long)]
        status: Option<String>,
        /// Full-text query over receivers and content.
        #[arg(long)]
        q: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Cancel the deliveries of a message that have not been sent yet.
    Cancel { id: String },
}

/// The same verbs for templates and accounts.
#[derive(Debug, Clone, Subcommand)]
pub enum ResourceCommand {
    /// List all.
    List,
    /// Show one by id or name.
    Get { id: String },
    /// Create from a JSON file (`-` reads standard input).
    Create {
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete by id.
    Delete { id: String },
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// Parses `name=text` (a JSON string) or `name:=json` (any JSON value).
pub fn parse_var(text: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not name=value"))?;
    let (name, value) = match name.strip_suffix(':') {
        Some(name) => (
            name,
            serde_json::from_str(value).map_err(|e| format!("{name}: invalid JSON: {e}"))?,
        ),
        None => (name, serde_json::Value::String(value.to_string())),
    };
    if name.is_empty() {
        return Err(format!("{text:?} has an empty variable name"));
    }
    Ok((name.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_accept_common_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn vars_are_text_unless_marked_json() {
        assert_eq!(parse_var("name=Ann"), Ok(("name".into(), json!("Ann"))));
        assert_eq!(parse_var("code=1234"), Ok(("code".into(), json!("1234"))));
        assert_eq!(parse_var("n:=5"), Ok(("n".into(), json!(5))));
        assert_eq!(parse_var("eq=a=b"), Ok(("eq".into(), json!("a=b"))));
        assert!(parse_var("novalue").is_err());
        assert!(parse_var("=x").is_err());
        assert!(parse_var("bad:={").is_err());
    }

    #[test]
    fn send_collects_receivers_and_variables() {
        let cli = Cli::try_parse_from([
            "herald",
            "send",
            "--url",
            "http://h:1",
            "--key",
            "k",
            "--template",
            "otp",
            "--to",
            "+8613800000000",
            "--to",
            "+8613900000000",
            "--var",
            "code=42",
            "--idempotency-key",
            "abc",
        ])
        .expect("parses");
        let Command::Send(send) = cli.command else {
            panic!("not send: {cli:?}")
        };
        assert_eq!(send.api.url, "http://h:1");
        assert_eq!(send.api.key.as_deref(), Some("k"));
        assert_eq!(send.to, ["+8613800000000", "+8613900000000"]);
        assert_eq!(send.vars, [("code".to_string(), json!("42"))]);
        assert_eq!(send.idempotency_key.as_deref(), Some("abc"));
    }

    #[test]
    fn serve_role_and_nested_resource_commands_parse() {
        let cli = Cli::try_parse_from(["herald", "serve", "--role", "worker"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Serve {
                role: Role::Worker,
                config: None
            }
        ));

        let cli = Cli::try_parse_from(["herald", "template", "create", "--file", "t.json"])
            .expect("parses");
        let Command::Template { command, .. } = cli.command else {
            panic!("not template")
        };
        assert!(matches!(command, ResourceCommand::Create { file } if file == Path::new("t.json")));

        let cli = Cli::try_parse_from([
            "herald", "message", "list", "--status", "failed", "--limit", "5",
        ])
        .expect("parses");
        let Command::Message { command, .. } = cli.command else {
            panic!("not message")
        };
        assert!(matches!(
            command,
            MessageCommand::List { status: Some(s), q: None, limit: Some(5) } if s == "failed"
        ));
        assert!(
            Cli::try_parse_from(["herald", "send", "--template", "t"]).is_err(),
            "--to required"
        );
    }
}
