//! Management HTTP: `/metrics` for Prometheus and the `/api/v1` API.
//!
//! The API grows with the roles (sessions, tunnels and peers arrive with
//! the drivers that own them); today it reports what this process is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::config::{Config, Role};
use crate::metrics::{Metrics, VERSION};

/// What the management endpoints read.
#[derive(Debug)]
pub struct MgmtState {
    metrics: Arc<Metrics>,
    role: Role,
    nas_identifier: String,
    started: Instant,
}

impl MgmtState {
    /// State for a process running `config`.
    pub fn new(metrics: Arc<Metrics>, config: &Config, role: Role) -> Self {
        Self {
            metrics,
            role,
            nas_identifier: config.node.nas_identifier.clone(),
            started: Instant::now(),
        }
    }
}

/// The `/metrics` routes.
pub fn metrics_router(state: Arc<MgmtState>) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

/// The `/api/v1` routes and `/healthz`.
pub fn api_router(state: Arc<MgmtState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/status", get(status))
        .with_state(state)
}

async fn render_metrics(State(state): State<Arc<MgmtState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// tunnelnas version.
    pub version: &'static str,
    /// `lac`, `lns` or `lts`.
    pub role: String,
    /// NAS-Identifier of this box.
    pub nas_identifier: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
}

async fn status(State(state): State<Arc<MgmtState>>) -> Json<Status> {
    Json(Status {
        version: VERSION,
        role: state.role.to_string(),
        nas_identifier: state.nas_identifier.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

/// Binds the metrics and API addresses (one server when they are equal and
/// not port 0)
/// and returns the bound addresses with the futures that serve them.
pub async fn bind(
    state: Arc<MgmtState>,
    metrics_addr: SocketAddr,
    api_addr: SocketAddr,
) -> std::io::Result<Vec<(SocketAddr, Serving)>> {
    let mut servers = Vec::new();
    // Port 0 asks for two distinct ephemeral ports, not a shared server.
    if metrics_addr == api_addr && metrics_addr.port() != 0 {
        let router = metrics_router(state.clone()).merge(api_router(state));
        servers.push(bind_one(metrics_addr, router).await?);
    } else {
        servers.push(bind_one(metrics_addr, metrics_router(state.clone())).await?);
        servers.push(bind_one(api_addr, api_router(state)).await?);
    }
    Ok(servers)
}

/// A server ready to run.
pub type Serving = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>;

async fn bind_one(addr: SocketAddr, router: Router) -> std::io::Result<(SocketAddr, Serving)> {
    let listener = TcpListener::bind(addr).await.map_err(|err| {
        std::io::Error::new(err.kind(), format!("cannot listen on {addr}: {err}"))
    })?;
    let local = listener.local_addr()?;
    Ok((
        local,
        Box::pin(async move { axum::serve(listener, router).await }),
    ))
}
