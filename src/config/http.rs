//! `[metrics]` and `[api]`: the HTTP listeners for the Prometheus
//! endpoint and the management API (one server answers both when the
//! addresses are equal).

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Address serving `/metrics`. Default `127.0.0.1:9180`.
    pub listen: SocketAddr,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9180)),
        }
    }
}

/// `[api]`: the management HTTP API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// Address serving `/api/v1/…`; may equal `[metrics] listen`, then one
    /// server answers both. Default `127.0.0.1:9180`.
    pub listen: SocketAddr,
}

impl Default for Api {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9180)),
        }
    }
}
