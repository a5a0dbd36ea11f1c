//! `[node]`: the identity of this box (NAS-Identifier, the default L2TP
//! Host Name) and where it keeps durable state.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::types;

/// `[node]`: identity and local state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Node {
    /// NAS-Identifier sent to RADIUS and the default L2TP Host Name.
    /// Default `"tunnelnas"`.
    #[serde(deserialize_with = "types::string")]
    pub nas_identifier: String,
    /// Directory for durable state (accounting spool, session-id epoch).
    /// Default `/var/lib/tunnelnas`.
    pub state_dir: PathBuf,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            nas_identifier: "tunnelnas".into(),
            state_dir: PathBuf::from("/var/lib/tunnelnas"),
        }
    }
}
