//! Management HTTP: `/metrics` for Prometheus and the `/api/v1` API.
//!
//! `/api/v1/status` reports what this process is; with the LAC running,
//! `/api/v1/sessions`, `/api/v1/tunnels` and `/api/v1/lac/denylist` show its
//! state and `DELETE /api/v1/sessions/{acct_session_id}` ends a session the
//! way a Disconnect-Request does. The handlers ask the LAC task over a
//! channel; nothing is shared with the forwarding path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{delete, get};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::config::{Config, Role};
use crate::lac::driver::LacApi;
use crate::metrics::{Metrics, VERSION};

/// What the management endpoints read.
#[derive(Debug)]
pub struct MgmtState {
    metrics: Arc<Metrics>,
    role: Role,
    nas_identifier: String,
    started: Instant,
    lac: Option<LacApi>,
}

impl MgmtState {
    /// State for a process running `config`.
    pub fn new(metrics: Arc<Metrics>, config: &Config, role: Role) -> Self {
        Self {
            metrics,
            role,
            nas_identifier: config.node.nas_identifier.clone(),
            started: Instant::now(),
            lac: None,
        }
    }

    /// Serves the LAC's sessions, tunnels and denylist through `api`.
    #[must_use]
    pub fn with_lac(mut self, api: LacApi) -> Self {
        self.lac = Some(api);
        self
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
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/sessions/{acct_session_id}", delete(disconnect))
        .route("/api/v1/tunnels", get(tunnels))
        .route("/api/v1/lac/denylist", get(denylist))
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

/// 503 when no LAC runs (or it stopped answering).
fn unavailable() -> axum::response::Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "no LAC is running in this process\n",
    )
        .into_response()
}

/// `GET /api/v1/sessions`.
async fn sessions(State(state): State<Arc<MgmtState>>) -> axum::response::Response {
    match &state.lac {
        Some(lac) => lac
            .sessions()
            .await
            .map_or_else(unavailable, |s| Json(s).into_response()),
        None => unavailable(),
    }
}

/// `GET /api/v1/tunnels`.
async fn tunnels(State(state): State<Arc<MgmtState>>) -> axum::response::Response {
    match &state.lac {
        Some(lac) => lac
            .tunnels()
            .await
            .map_or_else(unavailable, |t| Json(t).into_response()),
        None => unavailable(),
    }
}

/// `GET /api/v1/lac/denylist`.
async fn denylist(State(state): State<Arc<MgmtState>>) -> axum::response::Response {
    match &state.lac {
        Some(lac) => lac
            .denylist()
            .await
            .map_or_else(unavailable, |d| Json(d).into_response()),
        None => unavailable(),
    }
}

/// `DELETE /api/v1/sessions/{acct_session_id}`: 204, or 404 when unknown.
async fn disconnect(
    State(state): State<Arc<MgmtState>>,
    Path(acct_session_id): Path<String>,
) -> axum::response::Response {
    match &state.lac {
        Some(lac) => match lac.disconnect(acct_session_id).await {
            Some(true) => StatusCode::NO_CONTENT.into_response(),
            Some(false) => (StatusCode::NOT_FOUND, "no such session\n").into_response(),
            None => unavailable(),
        },
        None => unavailable(),
    }
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
