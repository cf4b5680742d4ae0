//! `chitin run`: start the service and stop it cleanly on a signal.

use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use super::Effective;
use crate::service::Service;

/// Exit code when a second signal cuts the graceful shutdown short (128 + SIGINT, by convention).
const EXIT_FORCED: u8 = 130;

pub async fn run(config: Effective, no_repl: bool) -> ExitCode {
    let (mut interrupt, mut terminate) = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: cannot listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut service = match Service::start(&config).await {
        Ok(service) => service,
        Err(error) => {
            eprintln!(
                "error: {}",
                anyhow::Error::from(error).chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
            );
            return ExitCode::FAILURE;
        }
    };
    if !no_repl {
        info!("the interactive REPL arrives with the agent; running as a service");
    }

    let reason = tokio::select! {
        _ = interrupt.recv() => None,
        _ = terminate.recv() => None,
        reason = service.failed() => Some(reason),
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
