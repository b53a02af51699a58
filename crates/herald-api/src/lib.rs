//! Herald's HTTP API (JSON over HTTP, axum): one module per resource under [`routes`],
//! bearer-key authentication in [`auth`], strict JSON bodies in [`json`] and the single
//! error shape `{"error": {"code", "message", "field"?}}` in [`error`].
//!
//! [`router`] builds the app; [`serve`] runs it on a listener the caller bound (port 0 in
//! tests) until the shutdown future resolves, then drains open requests.

pub mod auth;
pub mod error;
pub mod json;
pub mod routes;
pub mod views;

use axum::Router;
use herald_engine::Engine;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Extra Prometheus text appended to `/metrics` by the process that owns the backends
/// (commit statistics, queue depths, RSS).
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// Shared state of every handler.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Arc<Engine>,
    pub extra_metrics: MetricsSource,
    /// False while starting or draining: `/readyz` answers 503.
    pub ready: Arc<AtomicBool>,
}

impl ApiState {
    pub fn new(engine: Arc<Engine>, extra_metrics: MetricsSource) -> Self {
        Self {
            engine,
            extra_metrics,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

/// The full API router with its middleware; `body_limit` bounds request bodies (a 10,000
/// item batch needs a few MiB).
pub fn router(state: ApiState, body_limit: usize) -> Router {
    routes::router(state).layer(axum::extract::DefaultBodyLimit::max(body_limit))
}

/// Serves `app` until `shutdown` resolves, then stops accepting and finishes open requests.
///
/// Every connection gets `TCP_NODELAY`: a response must leave when it is written, not wait
/// (Nagle) for the ACK of the previous segment, which a client delaying its ACKs holds for up
/// to 40 ms.
pub fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: herald_ports::BoxFuture<'static, ()>,
) -> herald_ports::BoxFuture<'static, std::io::Result<()>> {
    // Boxed, with a boxed `shutdown`: the HTTP server's code is compiled once, here, not in
    // every crate that serves (see `herald_ports::BoxFuture`).
    Box::pin(async move {
        use axum::serve::ListenerExt as _;
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY refused on an accepted connection");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    })
}
