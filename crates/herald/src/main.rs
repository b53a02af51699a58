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
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
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
