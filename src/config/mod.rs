//! Configuration: one TOML file, overridable by `TUNNELNAS_` environment
//! variables, loaded with figment into typed sections.
//!
//! * The file must exist (figment's `Toml::file` silently ignores a missing
//!   one and searches parent directories; we use `Toml::file_exact` and check
//!   first).
//! * `TUNNELNAS_SECTION__KEY=value` overrides `[section] key`; `__` nests
//!   further (`TUNNELNAS_RADIUS__GROUPS__DEFAULT__TIMEOUT=5s`). A value that
//!   looks like a number still works for a string field (see
//!   [`types::Secret`] and [`types::string`]), and a number whose text would
//!   not survive the round trip (`0123`) stays a string.
//! * Every struct denies unknown fields and documents its defaults.
//! * Every error names where the value came from (file or variable), the key
//!   path and what was expected ([`ConfigError`]).
//!
//! Roles follow from the sections present: `[lac]` makes a LAC, `[lns]` an
//! LNS, both make an L2TP tunnel switch (LTS).
//!
//! One file per section, with its structs, their defaults and the checks
//! types alone cannot make: `node`, `pppoe`, `ppp`, `l2tp`, `lac`, `lns`,
//! `radius`, and `http` (`[metrics]`, `[api]`); every type is re-exported
//! here. This file holds [`Config`], loading and the validation entry
//! point; `env` is the environment provider, `error` maps figment's errors
//! to [`ConfigError`]. `config` is a leaf: it imports no other tunnelnas
//! module (others, such as `aaa::request::MacFormat`, re-export from it).

mod env;
mod error;
mod http;
mod l2tp;
mod lac;
mod lns;
mod node;
mod ppp;
mod pppoe;
mod radius;
pub mod types;

use std::fmt;
use std::path::Path;

use figment::providers::{Format, Toml};
use figment::{Figment, Profile, Provider};
use serde::{Deserialize, Serialize};

use env::EnvOverrides;
pub use error::ConfigError;
use error::{Invalid, describe_source, find_metadata};
pub use http::{Api, Metrics};
pub use l2tp::L2tp;
pub use lac::{
    Authorize, AuthorizeName, CallingNumber, Endpoint, Lac, LnsBalancing, LnsEndpoint, Realm,
};
pub use lns::{Lns, LnsPeer, ProxyAuthPolicy, ProxyLcpPolicy};
pub use node::Node;
pub use ppp::{AuthProtocol, Ppp};
pub use pppoe::{Pppoe, PppoeInterface, PppoeVlan, VlanRange};
pub use radius::{
    Accounting, DynAuth, DynAuthClient, MacFormat, Radius, RadiusGroup, RadiusServer,
    ServerStrategy,
};
pub use types::{Duration, Secret};

/// Prefix of environment variables that override the file.
pub const ENV_PREFIX: &str = "TUNNELNAS_";

/// The whole configuration of one tunnelnas process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Identity and local state of this box.
    pub node: Node,
    /// PPPoE access side (needed by the LAC role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pppoe: Option<Pppoe>,
    /// PPP negotiation parameters shared by every role.
    pub ppp: Ppp,
    /// L2TPv2 transport and control-channel parameters.
    pub l2tp: L2tp,
    /// LAC role: present = this box hands PPPoE sessions to LNSs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lac: Option<Lac>,
    /// LNS role: present = this box terminates L2TP sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lns: Option<Lns>,
    /// RADIUS servers, accounting and dynamic authorization.
    pub radius: Radius,
    /// Prometheus endpoint.
    pub metrics: Metrics,
    /// Management HTTP API.
    pub api: Api,
}

/// The roles a configuration enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `[lac]` only.
    Lac,
    /// `[lns]` only.
    Lns,
    /// Both: an L2TP tunnel switch.
    Lts,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lac => "lac",
            Self::Lns => "lns",
            Self::Lts => "lts",
        })
    }
}

impl Config {
    /// The role this configuration enables (validation guarantees one).
    pub fn role(&self) -> Option<Role> {
        match (self.lac.is_some(), self.lns.is_some()) {
            (true, false) => Some(Role::Lac),
            (false, true) => Some(Role::Lns),
            (true, true) => Some(Role::Lts),
            (false, false) => None,
        }
    }

    /// L2TP Host Name: `[l2tp] host_name` or `[node] nas_identifier`.
    pub fn l2tp_host_name(&self) -> &str {
        self.l2tp
            .host_name
            .as_deref()
            .unwrap_or(&self.node.nas_identifier)
    }

    /// Loads `path`, applies `TUNNELNAS_*` variables from the process
    /// environment, and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    problem: "is not a regular file".into(),
                });
            }
            Err(err) => {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    problem: err.to_string(),
                });
            }
        }
        let file = Toml::file_exact(path);
        let base = file
            .data()
            .map_err(|err| ConfigError::from_figment(path, err))?
            .remove(&Profile::Default)
            .unwrap_or_default();
        let overrides = EnvOverrides::collect(env, base);
        let env_names: Vec<String> = overrides.vars.iter().map(|(n, _)| n.clone()).collect();
        let figment = Figment::new().merge(file).merge(overrides);
        let config: Self = figment
            .extract()
            .map_err(|err| ConfigError::from_figment_with(path, err, &env_names))?;
        config.validate().map_err(|invalid| {
            let source = describe_source(
                path,
                find_metadata(&figment, &invalid.key),
                &invalid.key,
                &env_names,
            );
            ConfigError::Invalid {
                origin: source,
                key: invalid.key,
                expected: invalid.expected,
            }
        })?;
        Ok(config)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|err| format!("# cannot render: {err}\n"))
    }

    /// Checks what types alone cannot: cross-references, ranges, roles.
    fn validate(&self) -> Result<(), Invalid> {
        if self.role().is_none() {
            return Err(Invalid::new(
                "lac",
                "a [lac] or [lns] section (or both, for a tunnel switch)",
            ));
        }
        self.validate_ppp()?;
        self.validate_l2tp()?;
        self.validate_radius()?;
        if let Some(lac) = &self.lac {
            self.validate_lac(lac)?;
        }
        if let Some(lns) = &self.lns {
            self.validate_lns(lns)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
