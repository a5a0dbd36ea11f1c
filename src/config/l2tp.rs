//! `[l2tp]`: the L2TPv2 transport (UDP listen address, Host Name) and the
//! reliable control channel (RFC 2661 §5.8 window, retransmission, ZLB
//! delay, HELLO, teardown hold), AVP hiding and data sequencing.

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::Duration;

/// `[l2tp]`: L2TPv2 transport and reliable control channel (RFC 2661 §5.8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L2tp {
    /// UDP address to bind. Default `0.0.0.0:1701`.
    pub listen: SocketAddr,
    /// Host Name AVP; absent = `[node] nas_identifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// Receive Window Size we advertise. Default 16 (RFC default is 4).
    pub receive_window: u16,
    /// First retransmission timeout. Default `1s` (RFC 2661 §5.8).
    pub retransmit_initial: Duration,
    /// Cap of the exponential backoff. Default `8s`.
    pub retransmit_max: Duration,
    /// Retransmissions before the tunnel is declared down. Default 5.
    pub max_retransmits: u8,
    /// Delay before a ZLB acknowledges a message when nothing else is sent.
    /// Default `100ms`.
    pub ack_delay: Duration,
    /// HELLO after this much silence; `0s` disables. Default `60s`.
    pub hello_interval: Duration,
    /// How long a closed tunnel's state is kept to acknowledge
    /// retransmissions (RFC 2661 §5.7). Default `31s`.
    pub teardown_hold: Duration,
    /// Hide sensitive AVPs (RFC 2661 §4.3) when a tunnel secret is set.
    /// Hidden AVPs are always accepted. Default false.
    pub hide_avps: bool,
    /// Ask for sequence numbers on data messages. Default false.
    pub data_sequencing: bool,
}

impl Default for L2tp {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 1701)),
            host_name: None,
            receive_window: 16,
            retransmit_initial: Duration::from_secs(1),
            retransmit_max: Duration::from_secs(8),
            max_retransmits: 5,
            ack_delay: Duration::from_millis(100),
            hello_interval: Duration::from_secs(60),
            teardown_hold: Duration::from_secs(31),
            hide_avps: false,
            data_sequencing: false,
        }
    }
}

impl Config {
    pub(super) fn validate_l2tp(&self) -> Result<(), Invalid> {
        let l2tp = &self.l2tp;
        if l2tp.receive_window == 0 {
            return Err(Invalid::new(
                "l2tp.receive_window",
                "a window of at least 1",
            ));
        }
        if l2tp.max_retransmits == 0 {
            return Err(Invalid::new("l2tp.max_retransmits", "at least 1"));
        }
        if l2tp.retransmit_initial.get().is_zero() {
            return Err(Invalid::new(
                "l2tp.retransmit_initial",
                "a duration above 0s",
            ));
        }
        if l2tp.retransmit_max < l2tp.retransmit_initial {
            return Err(Invalid::new(
                "l2tp.retransmit_max",
                "a duration at least l2tp.retransmit_initial",
            ));
        }
        if let Some(name) = &l2tp.host_name {
            if name.is_empty() {
                return Err(Invalid::new("l2tp.host_name", "a non-empty host name"));
            }
        }
        Ok(())
    }
}
