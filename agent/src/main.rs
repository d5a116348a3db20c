//! `virtbus`: parses the command line and hands over to the library.

use clap::Parser;
use std::process::ExitCode;
use virtbus::cli::{Cli, Command};
use virtbus::config::Settings;
use virtbus::ctl::client::{self, Outcome};
use virtbus::{logging, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let settings = match Settings::resolve(&args) {
                Ok(s) => s,
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(2);
                }
            };
            logging::init(settings.log_format);
            // The adapters' runtime gets the cores the actor threads leave.
            let workers = settings.workers.unwrap_or_else(virtbus_actors::default_workers);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(virtbus_actors::adapter_threads(workers))
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    eprintln!("error: cannot start the async runtime: {err}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve::run(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!("{err}");
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Console(args) => {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(err) => {
                    eprintln!("error: cannot start the async runtime: {err}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(virtbus::console::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Ctl(args) => {
            let socket = match (&args.socket, &args.state_dir) {
                (Some(socket), _) => socket.clone(),
                (None, Some(dir)) => serve::socket_path(dir),
                (None, None) => match virtbus::config::default_state_dir() {
                    Ok(dir) => serve::socket_path(&dir),
                    Err(err) => {
                        eprintln!("error: {err}");
                        return ExitCode::from(2);
                    }
                },
            };
            match client::run(&socket, args.command, args.quiet) {
                Ok(Outcome::Success) => ExitCode::SUCCESS,
                Ok(Outcome::Failure) => ExitCode::FAILURE,
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
