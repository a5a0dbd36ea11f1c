//! Local-users backend: the demo's embedded default and an optional
//! fallback when every RADIUS server of a group is dead. Same [`Decision`]
//! as RADIUS.
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! password = "secret"
//! framed_ip_address = "100.64.0.10"
//! session_timeout = 3600
//! rate_limit_up_kbps = 10000
//! rate_limit_down_kbps = 50000
//! [[user.tunnel]]
//! server_endpoint = "10.1.0.2"
//! password = "tunnel-secret"
//! preference = 1
//! ```
//!
//! PAP compares the password (constant time); CHAP-MD5 checks
//! `MD5(Identifier || secret || challenge)` (RFC 1994 §4.1); MS-CHAPv2
//! checks the NT-Response and returns the authenticator response the way a
//! RADIUS server returns MS-CHAP2-Success (RFC 2759 §8, RFC 2548 §2.3.3).

use core::net::{IpAddr, Ipv4Addr};
use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::attributes::{
    AcceptAttributes, Decision, RateLimit, RejectCause, Rejection, TunnelCandidate, TunnelEndpoint,
    TunnelMediumKind,
};
use super::request::{AuthRequest, Credentials};
use crate::ppp::auth::crypto::{mschap_user_name, verify_chap_md5, verify_mschapv2};
use crate::wire::ct_eq;

/// One tunnel of a local user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalTunnel {
    /// LNS address.
    pub server_endpoint: IpAddr,
    /// Tunnel secret.
    #[serde(default)]
    pub password: Option<String>,
    /// Preference (lower first).
    #[serde(default)]
    pub preference: Option<u32>,
    /// Tunnel-Assignment-ID.
    #[serde(default)]
    pub assignment_id: Option<String>,
    /// Tunnel-Client-Auth-ID (our Host Name).
    #[serde(default)]
    pub client_auth_id: Option<String>,
}

/// One local user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalUser {
    /// User-Name.
    pub name: String,
    /// Cleartext password.
    pub password: String,
    /// Framed-IP-Address.
    #[serde(default)]
    pub framed_ip_address: Option<Ipv4Addr>,
    /// Framed-Pool.
    #[serde(default)]
    pub framed_pool: Option<String>,
    /// DNS servers.
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    /// Session-Timeout (s).
    #[serde(default)]
    pub session_timeout: Option<u32>,
    /// Idle-Timeout (s).
    #[serde(default)]
    pub idle_timeout: Option<u32>,
    /// Acct-Interim-Interval (s).
    #[serde(default)]
    pub acct_interim_interval: Option<u32>,
    /// Upstream rate limit, kbit/s.
    #[serde(default)]
    pub rate_limit_up_kbps: Option<u64>,
    /// Downstream rate limit, kbit/s.
    #[serde(default)]
    pub rate_limit_down_kbps: Option<u64>,
    /// Tunnels, in the order given (then sorted by preference).
    #[serde(default, rename = "tunnel")]
    pub tunnels: Vec<LocalTunnel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "user")]
    users: Vec<LocalUser>,
}

/// The local users, by name.
#[derive(Debug, Clone, Default)]
pub struct LocalUsers {
    users: HashMap<String, LocalUser>,
}

/// Why a users file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalUsersError {
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid TOML of the expected shape.
    #[error("parsing local users: {0}")]
    Parse(#[from] toml::de::Error),
    /// A file is not valid TOML of the expected shape.
    #[error("local users file {path}: {source}")]
    ParseFile {
        /// File.
        path: String,
        /// Cause (with line and column).
        source: toml::de::Error,
    },
}

impl LocalUsers {
    /// Parses TOML text.
    ///
    /// # Errors
    /// [`LocalUsersError::Parse`].
    pub fn from_toml(text: &str) -> Result<Self, LocalUsersError> {
        let file: File = toml::from_str(text)?;
        Ok(Self {
            users: file
                .users
                .into_iter()
                .map(|u| (u.name.clone(), u))
                .collect(),
        })
    }

    /// Loads a TOML file.
    ///
    /// # Errors
    /// [`LocalUsersError`].
    pub fn load(path: &Path) -> Result<Self, LocalUsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| LocalUsersError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|err| match err {
            LocalUsersError::Parse(source) => LocalUsersError::ParseFile {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    /// Number of users.
    #[must_use]
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks the credentials and answers like a RADIUS server would.
    #[must_use]
    pub fn authenticate(&self, request: &AuthRequest) -> Decision {
        let reject = || Decision::Reject(Rejection::new(RejectCause::LocalUsers));
        let Some(user) = self.users.get(&request.user_name) else {
            return reject();
        };
        let password = user.password.as_bytes();
        let mut ms_chap2_success = None;
        let ok = match &request.credentials {
            Credentials::Pap { password: given } => ct_eq(given, password),
            Credentials::Chap {
                id,
                challenge,
                response,
            } => verify_chap_md5(*id, password, challenge, response),
            Credentials::MsChapV2 {
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                ..
            } => {
                let name = mschap_user_name(request.user_name.as_bytes());
                match verify_mschapv2(
                    name,
                    password,
                    authenticator_challenge,
                    peer_challenge,
                    nt_response,
                ) {
                    Some(authenticator_response) => {
                        // MS-CHAP2-Success: Ident, then "S=" and 40 hex digits.
                        let mut value = vec![*id];
                        value.extend_from_slice(b"S=");
                        value.extend_from_slice(
                            hex::encode_upper(authenticator_response).as_bytes(),
                        );
                        ms_chap2_success = Some(value);
                        true
                    }
                    None => false,
                }
            }
        };
        if !ok {
            return reject();
        }
        let mut tunnels: Vec<TunnelCandidate> = user
            .tunnels
            .iter()
            .map(|t| TunnelCandidate {
                tag: 0,
                medium: match t.server_endpoint {
                    IpAddr::V4(_) => TunnelMediumKind::Ipv4,
                    IpAddr::V6(_) => TunnelMediumKind::Ipv6,
                },
                server_endpoint: TunnelEndpoint::Ip(t.server_endpoint),
                client_endpoint: None,
                password: t.password.as_ref().map(|p| p.as_bytes().to_vec()),
                preference: t.preference,
                assignment_id: t.assignment_id.as_ref().map(|s| s.as_bytes().to_vec()),
                client_auth_id: t.client_auth_id.as_ref().map(|s| s.as_bytes().to_vec()),
                server_auth_id: None,
                private_group_id: None,
            })
            .collect();
        for (i, t) in tunnels.iter_mut().enumerate() {
            t.tag = u8::try_from(i + 1).unwrap_or(u8::MAX);
        }
        tunnels.sort_by_key(|c| (c.preference.is_none(), c.preference, c.tag));
        Decision::Accept(Box::new(AcceptAttributes {
            tunnels,
            framed_ip_address: user.framed_ip_address,
            framed_pool: user.framed_pool.clone(),
            dns: user.dns.clone(),
            session_timeout: user.session_timeout,
            idle_timeout: user.idle_timeout,
            acct_interim_interval: user.acct_interim_interval,
            rate_limit: RateLimit {
                up_bps: user.rate_limit_up_kbps.and_then(|k| k.checked_mul(1000)),
                down_bps: user.rate_limit_down_kbps.and_then(|k| k.checked_mul(1000)),
                ..RateLimit::default()
            },
            ms_chap2_success,
            ..AcceptAttributes::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;
    use crate::aaa::request::SessionInfo;
    use crate::ppp::auth::crypto::{check_authenticator_response, generate_nt_response};

    const USERS: &str = r#"
[[user]]
name = "alice"
password = "pw"
framed_ip_address = "100.64.0.10"
rate_limit_down_kbps = 2000
[[user.tunnel]]
server_endpoint = "10.1.0.3"
password = "t2"
preference = 2
[[user.tunnel]]
server_endpoint = "10.1.0.2"
password = "t1"
preference = 1
"#;

    fn req(credentials: Credentials) -> AuthRequest {
        AuthRequest {
            user_name: "alice".into(),
            credentials,
            session: SessionInfo::default(),
            tunnel: None,
        }
    }

    #[test]
    fn pap_chap_and_attributes() {
        let users = LocalUsers::from_toml(USERS).unwrap();
        let Decision::Accept(a) = users.authenticate(&req(Credentials::Pap {
            password: b"pw".to_vec(),
        })) else {
            panic!()
        };
        assert_eq!(a.framed_ip_address, Some(Ipv4Addr::new(100, 64, 0, 10)));
        assert_eq!(a.rate_limit.down_bps, Some(2_000_000));
        assert_eq!(a.tunnels[0].password.as_deref(), Some(&b"t1"[..]));
        assert_eq!(a.tunnels[1].password.as_deref(), Some(&b"t2"[..]));
        assert!(matches!(
            users.authenticate(&req(Credentials::Pap {
                password: b"nope".to_vec()
            })),
            Decision::Reject(_)
        ));
        let challenge = vec![1, 2, 3, 4];
        let mut md5 = Md5::new();
        md5.update([7u8]);
        md5.update(b"pw");
        md5.update(&challenge);
        let response: [u8; 16] = md5.finalize().into();
        assert!(matches!(
            users.authenticate(&req(Credentials::Chap {
                id: 7,
                challenge: challenge.clone(),
                response
            })),
            Decision::Accept(_)
        ));
        assert!(matches!(
            users.authenticate(&req(Credentials::Chap {
                id: 8,
                challenge,
                response
            })),
            Decision::Reject(_)
        ));
        assert!(LocalUsers::from_toml("[[user]]\nname = 1").is_err());
    }

    #[test]
    fn mschapv2_is_verified_and_answered_like_radius() {
        let users = LocalUsers::from_toml(USERS).unwrap();
        let authenticator_challenge = [0x5a; 16];
        let peer_challenge = [0x21; 16];
        let nt_response =
            generate_nt_response(&authenticator_challenge, &peer_challenge, b"alice", b"pw");
        let credentials = |nt_response| Credentials::MsChapV2 {
            id: 3,
            authenticator_challenge,
            peer_challenge,
            nt_response,
            flags: 0,
        };
        let Decision::Accept(a) = users.authenticate(&req(credentials(nt_response))) else {
            panic!("the right NT-Response is accepted")
        };
        let success = a.ms_chap2_success.expect("MS-CHAP2-Success");
        assert_eq!(success[0], 3, "Ident echoes the CHAP identifier");
        let text = std::str::from_utf8(&success[1..]).unwrap();
        let hex_digits = text.strip_prefix("S=").expect("S= prefix");
        let received: [u8; 20] = hex::decode(hex_digits).unwrap().try_into().unwrap();
        assert!(check_authenticator_response(
            b"pw",
            &nt_response,
            &peer_challenge,
            &authenticator_challenge,
            b"alice",
            &received,
        ));
        let mut wrong = nt_response;
        wrong[0] ^= 1;
        assert!(matches!(
            users.authenticate(&req(credentials(wrong))),
            Decision::Reject(_)
        ));
    }
}
