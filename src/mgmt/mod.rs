//! Management HTTP: `/metrics` for Prometheus and the `/api/v1` API.
//!
//! `/api/v1/status` reports what this process is. The roles that run
//! serve the rest through one trait, [`RoleApi`]: `/api/v1/sessions` and
//! `/api/v1/tunnels` list every role's (the arrays joined),
//! `DELETE /api/v1/sessions/{acct_session_id}` ends a session the way a
//! Disconnect-Request does, and `/api/v1/{role}/{resource}` is a role's own
//! view (the LAC's `/api/v1/lac/denylist`). This module knows no role: a
//! role's driver implements [`RoleApi`] and the node hands it in. The
//! handlers ask the role's tasks over channels; nothing is shared with the
//! forwarding path.

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
use crate::metrics::{Metrics, VERSION};

/// A future a [`RoleApi`] method returns.
pub type ApiFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What a running role offers the management API. Every method answers
/// `None` when the role's tasks no longer answer (it is stopping).
pub trait RoleApi: std::fmt::Debug + Send + Sync {
    /// The role's name in paths: `lac`, `lns`, `lts`.
    fn name(&self) -> &'static str;
    /// Its sessions, as a JSON array.
    fn sessions(&self) -> ApiFuture<'_, Option<serde_json::Value>>;
    /// Its tunnels, as a JSON array.
    fn tunnels(&self) -> ApiFuture<'_, Option<serde_json::Value>>;
    /// Ends the session with this Acct-Session-Id; whether it had it.
    fn disconnect(&self, acct_session_id: String) -> ApiFuture<'_, Option<bool>>;
    /// `GET /api/v1/{name}/{resource}`: `Some(None)` when the role has no
    /// such resource.
    fn resource(&self, resource: String) -> ApiFuture<'_, Option<Option<serde_json::Value>>>;
}

/// What the management endpoints read.
#[derive(Debug)]
pub struct MgmtState {
    metrics: Arc<Metrics>,
    role: Role,
    nas_identifier: String,
    started: Instant,
    roles: Vec<Arc<dyn RoleApi>>,
}

impl MgmtState {
    /// State for a process running `config`.
    pub fn new(metrics: Arc<Metrics>, config: &Config, role: Role) -> Self {
        Self {
            metrics,
            role,
            nas_identifier: config.node.nas_identifier.clone(),
            started: Instant::now(),
            roles: Vec::new(),
        }
    }

    /// Serves a running role's sessions, tunnels and own resources.
    #[must_use]
    pub fn with_role(mut self, api: Arc<dyn RoleApi>) -> Self {
        self.roles.push(api);
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
        .route("/api/v1/{role}/{resource}", get(role_resource))
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

/// 503 when no role runs (or one stopped answering).
fn unavailable() -> axum::response::Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "no role is running in this process\n",
    )
        .into_response()
}

/// Every role's array from `list`, joined; `None` when no role runs or
/// one does not answer.
async fn joined<'a>(
    roles: &'a [Arc<dyn RoleApi>],
    list: impl Fn(&'a dyn RoleApi) -> ApiFuture<'a, Option<serde_json::Value>>,
) -> Option<serde_json::Value> {
    if roles.is_empty() {
        return None;
    }
    let mut all = Vec::new();
    for role in roles {
        match list(role.as_ref()).await? {
            serde_json::Value::Array(items) => all.extend(items),
            other => all.push(other),
        }
    }
    Some(serde_json::Value::Array(all))
}

/// `GET /api/v1/sessions`.
async fn sessions(State(state): State<Arc<MgmtState>>) -> axum::response::Response {
    joined(&state.roles, |role| role.sessions())
        .await
        .map_or_else(unavailable, |s| Json(s).into_response())
}

/// `GET /api/v1/tunnels`.
async fn tunnels(State(state): State<Arc<MgmtState>>) -> axum::response::Response {
    joined(&state.roles, |role| role.tunnels())
        .await
        .map_or_else(unavailable, |t| Json(t).into_response())
}

/// `GET /api/v1/{role}/{resource}` (e.g. `/api/v1/lac/denylist`).
async fn role_resource(
    State(state): State<Arc<MgmtState>>,
    Path((name, resource)): Path<(String, String)>,
) -> axum::response::Response {
    let Some(role) = state.roles.iter().find(|r| r.name() == name) else {
        return (StatusCode::NOT_FOUND, format!("no {name} role runs here\n")).into_response();
    };
    match role.resource(resource).await {
        Some(Some(value)) => Json(value).into_response(),
        Some(None) => (StatusCode::NOT_FOUND, "no such resource\n").into_response(),
        None => unavailable(),
    }
}

/// `DELETE /api/v1/sessions/{acct_session_id}`: 204, or 404 when no role
/// has it.
async fn disconnect(
    State(state): State<Arc<MgmtState>>,
    Path(acct_session_id): Path<String>,
) -> axum::response::Response {
    if state.roles.is_empty() {
        return unavailable();
    }
    for role in &state.roles {
        match role.disconnect(acct_session_id.clone()).await {
            Some(true) => return StatusCode::NO_CONTENT.into_response(),
            Some(false) => {}
            None => return unavailable(),
        }
    }
    (StatusCode::NOT_FOUND, "no such session\n").into_response()
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
