//! Ctrl-C and SIGTERM as one future, for graceful shutdown paths.

use std::future::Future;

/// Registers for SIGINT and SIGTERM now (so a signal that arrives before the future is first polled is
/// not lost to the default action, which would kill the process) and completes on the first of them.
/// Must be called inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut i), Ok(mut t)) => {
                    tokio::select! {
                        _ = i.recv() => {}
                        _ = t.recv() => {}
                    }
                }
                (Ok(mut i), Err(_)) => {
                    i.recv().await;
                }
                (Err(_), Ok(mut t)) => {
                    t.recv().await;
                }
                (Err(_), Err(_)) => {
                    tracing::warn!("cannot listen for Ctrl-C or SIGTERM; stop with --duration");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
