//! `chitin run`: start the service and stop it cleanly on a signal.

use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use chitin_channels::repl::{self, ReplExit};

use crate::config::Config;
use crate::service::{Service, ServiceEnv};

/// Exit code when a second signal cuts the graceful shutdown short (128 + SIGINT, by convention).
const EXIT_FORCED: u8 = 130;

pub async fn run(config: Config, env: ServiceEnv, no_repl: bool) -> ExitCode {
    let (mut interrupt, mut terminate) = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: cannot listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut service = match Service::start(&config, &env).await {
        Ok(service) => service,
        Err(error) => {
            eprintln!(
                "error: {}",
                anyhow::Error::from(error).chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
            );
            return ExitCode::FAILURE;
        }
    };
    let mut repl = if no_repl {
        tokio::spawn(std::future::pending())
    } else {
        let intake = service.intake();
        let greeting = format!("Chitin is running (gateway on {}).", service.gateway_addr());
        tokio::spawn(async move { repl::run(intake, &greeting).await })
    };

    let reason = loop {
        tokio::select! {
            _ = interrupt.recv() => break None,
            _ = terminate.recv() => break None,
            reason = service.failed() => break Some(reason),
            exit = &mut repl => match exit {
                Ok(ReplExit::Quit) => break None,
                // Input ended (e.g. started without a terminal): keep serving the other channels.
                Ok(ReplExit::InputClosed) | Err(_) => repl = tokio::spawn(std::future::pending()),
            },
        }
    };
    if let Some(reason) = reason {
        error!(%reason, "chitin cannot continue");
        eprintln!("error: {reason}");
        return ExitCode::FAILURE;
    }

    let grace = Duration::from_secs(config.shutdown.grace_secs);
    info!(grace_secs = grace.as_secs(), "shutting down; a second signal exits at once");
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        warn!("second signal: exiting without waiting");
        std::process::exit(EXIT_FORCED.into());
    });
    match service.shutdown(grace).await {
        Ok(()) => {
            info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(error) => {
            error!(%error, "shutdown was not clean");
            ExitCode::FAILURE
        }
    }
}
