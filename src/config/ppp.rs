//! `[ppp]`: PPP negotiation shared by every role — MRU, the authentication
//! protocols offered and their order, the RFC 1661 §4.6 counters and
//! timers, LCP keepalive and the authentication deadline.

use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::Duration;

/// An authentication protocol the PPP server side may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthProtocol {
    /// RFC 1334 PAP.
    Pap,
    /// RFC 1994 CHAP with MD5.
    Chap,
    /// RFC 2759 MS-CHAPv2.
    Mschapv2,
}

/// `[ppp]`: PPP negotiation (RFC 1661 §4.6 counters and timers, keepalive).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ppp {
    /// MRU we ask for. Default 1492 (PPPoE without RFC 4638).
    pub mru: u16,
    /// Authentication protocols in the order offered; the next is offered
    /// when the peer Configure-Naks one. Default `["chap", "mschapv2", "pap"]`.
    pub auth_protocols: Vec<AuthProtocol>,
    /// RFC 1661 Restart timer. Default `3s`.
    pub restart_timer: Duration,
    /// RFC 1661 Max-Configure. Default 10.
    pub max_configure: u8,
    /// RFC 1661 Max-Terminate. Default 2.
    pub max_terminate: u8,
    /// RFC 1661 Max-Failure. Default 5.
    pub max_failure: u8,
    /// Interval between LCP Echo-Requests on an idle link; `0s` disables.
    /// Default `30s`.
    pub lcp_echo_interval: Duration,
    /// Unanswered Echo-Requests before the link is declared dead. Default 3.
    pub lcp_echo_failures: u8,
    /// Time a subscriber has to authenticate after LCP opens. Default `30s`.
    pub auth_timeout: Duration,
}

impl Default for Ppp {
    fn default() -> Self {
        Self {
            mru: 1492,
            auth_protocols: vec![
                AuthProtocol::Chap,
                AuthProtocol::Mschapv2,
                AuthProtocol::Pap,
            ],
            restart_timer: Duration::from_secs(3),
            max_configure: 10,
            max_terminate: 2,
            max_failure: 5,
            lcp_echo_interval: Duration::from_secs(30),
            lcp_echo_failures: 3,
            auth_timeout: Duration::from_secs(30),
        }
    }
}

impl Config {
    pub(super) fn validate_ppp(&self) -> Result<(), Invalid> {
        let ppp = &self.ppp;
        if !(128..=9000).contains(&ppp.mru) {
            return Err(Invalid::new("ppp.mru", "an MRU between 128 and 9000"));
        }
        if ppp.auth_protocols.is_empty() {
            return Err(Invalid::new(
                "ppp.auth_protocols",
                "at least one of \"pap\", \"chap\", \"mschapv2\"",
            ));
        }
        for (i, p) in ppp.auth_protocols.iter().enumerate() {
            if ppp.auth_protocols[..i].contains(p) {
                return Err(Invalid::new(
                    "ppp.auth_protocols",
                    "each protocol at most once",
                ));
            }
        }
        for (key, value) in [
            ("ppp.max_configure", ppp.max_configure),
            ("ppp.max_terminate", ppp.max_terminate),
            ("ppp.max_failure", ppp.max_failure),
        ] {
            if value == 0 {
                return Err(Invalid::new(key, "a count of at least 1"));
            }
        }
        if ppp.restart_timer.get().is_zero() {
            return Err(Invalid::new("ppp.restart_timer", "a duration above 0s"));
        }
        Ok(())
    }
}
