//! The `herald` binary: parses the command line and hands each subcommand to its module.
//! Errors are printed once, in full, and turn into exit status 1.

mod serve;
mod sim;

use clap::Parser as _;
use herald::cli::{Cli, Command};
use herald::config::Config;
use herald::{bench, client, healthcheck, logging};
use std::process::ExitCode;

/// mimalloc: the hot path allocates many small, short-lived buffers across threads, where
/// glibc malloc showed up as ~20 % of server CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    disable_transparent_huge_pages();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process (decision 0017). mimalloc asks for
/// huge pages on its arenas (`madvise(MADV_HUGEPAGE)`), so one touched byte made 2 MiB
/// resident: at 10,000 accepts/s, 47–113 MB of the server's 160–213 MB peak RSS were
/// `AnonHugePages`, and faulting in (zeroing) whole huge pages showed up as accept latency.
/// Without them the same run peaked at 131–136 MB with accept p99 36 ms instead of
/// 100–218 ms. The flag belongs to the process, so it holds for SQLite's allocations too.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("warning: could not turn transparent huge pages off: {e}");
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config, role } => {
            let config = Config::load(config.as_deref())?;
            logging::init(&config.log);
            serve::run(config, role).await?;
        }
        Command::Migrate { config } => {
            let config = Config::load(config.as_deref())?;
            logging::init(&config.log);
            serve::migrate(config).await?;
        }
        Command::Sim { listen, config } => {
            logging::init(&Config::defaults()?.log);
            sim::run(listen, config).await?;
        }
        Command::Healthcheck { url, timeout } => {
            return Ok(match healthcheck::check(&url, timeout).await {
                Ok(()) => {
                    println!("ok");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    eprintln!("unhealthy: {reason}");
                    ExitCode::FAILURE
                }
            });
        }
        Command::Bench(args) => {
            logging::init_for_tool();
            bench::run(args).await?;
        }
        Command::Send(args) => client::print_answer(client::send(args).await?)?,
        Command::Message { api, command } => {
            client::print_answer(client::message(api, command).await?)?
        }
        Command::Template { api, command } => {
            client::print_answer(client::resource(api, "templates", command).await?)?
        }
        Command::Account { api, command } => {
            client::print_answer(client::resource(api, "accounts", command).await?)?
        }
    }
    Ok(ExitCode::SUCCESS)
}
