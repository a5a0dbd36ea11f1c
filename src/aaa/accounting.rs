//! Accounting records built from a session, whatever its legs: Start,
//! Interim-Update and Stop (RFC 2866 §5.1, §5.3–§5.8, §5.10), with the
//! RFC 2867 §3 tunnel attributes of the session's L2TP leg, and the
//! RFC 2867 §4.1 tunnel records (Tunnel-Start, -Stop, -Reject,
//! -Link-Start, -Link-Stop), and Accounting-On / -Off for the whole NAS.
//!
//! The node core describes a session as a [`SessionUsage`] and an L2TP
//! leg as a [`TunnelLeg`]; which end of the tunnel we are follows from the
//! leg (RFC 2867 §3: the Tunnel-Client-Endpoint is the initiator, the LAC;
//! the Tunnel-Server-Endpoint the LNS), so a LAC's outgoing call, an LNS's
//! incoming call and both halves of a switched session are accounted by
//! the same code.

use std::net::IpAddr;
use std::time::Instant;

use super::request::{AccountingRecord, AcctStatusType, Counters, SessionInfo, TunnelAccounting};

/// Who placed the call of an L2TP leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// We did: we are the tunnel's client (the LAC side).
    Outgoing,
    /// The peer did: we are the tunnel's server (the LNS side).
    Incoming,
}

/// What RFC 2867 records of an L2TP leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelLeg {
    /// Who placed the call (or opened the tunnel).
    pub direction: CallDirection,
    /// Our L2TP address, when it is a specific one.
    pub local: Option<IpAddr>,
    /// The peer's address.
    pub peer: Option<IpAddr>,
    /// Acct-Tunnel-Connection (RFC 2867 §4.1): the tunnel and, for a
    /// session, the call ("tunnel-id/session-id").
    pub connection_id: String,
    /// Tunnel-Assignment-ID (RFC 2868 §3.7).
    pub assignment_id: Option<Vec<u8>>,
    /// The initiator's name (Tunnel-Client-Auth-ID, RFC 2868 §3.9).
    pub client_auth_id: Option<Vec<u8>>,
    /// The responder's name (Tunnel-Server-Auth-ID, RFC 2868 §3.10).
    pub server_auth_id: Option<Vec<u8>>,
}

impl TunnelLeg {
    /// The RFC 2867 attributes of this leg.
    #[must_use]
    pub fn attributes(&self) -> TunnelAccounting {
        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let (client_endpoint, server_endpoint) = match self.direction {
            CallDirection::Outgoing => (self.local, self.peer),
            CallDirection::Incoming => (self.peer, self.local),
        };
        TunnelAccounting {
            client_endpoint,
            server_endpoint,
            assignment_id: text(&self.assignment_id),
            connection_id: Some(self.connection_id.clone()),
            client_auth_id: text(&self.client_auth_id),
            server_auth_id: text(&self.server_auth_id),
            packets_lost: None,
        }
    }
}

/// What accounting needs of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUsage {
    /// User-Name, once known.
    pub user_name: Option<String>,
    /// Acct-Session-Id, NAS-Port and the rest of the port.
    pub info: SessionInfo,
    /// Class attributes of the Access-Accept (RFC 2865 §5.25), echoed.
    pub class: Vec<Vec<u8>>,
    /// Octets and packets in and out.
    pub counters: Counters,
    /// When the session came up (Acct-Session-Time counts from here).
    pub up_at: Option<Instant>,
    /// The session's L2TP leg, if it has one.
    pub tunnel: Option<TunnelLeg>,
    /// The addresses the NAS gave the subscriber (PPP terminated here):
    /// Framed-IP-Address, Framed-IPv6-Prefix, Delegated-IPv6-Prefix
    /// (RFC 2865 §5.8, RFC 3162 §2.3, RFC 4818).
    pub framed: FramedAddresses,
}

/// The addresses of a subscriber whose PPP ends here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FramedAddresses {
    /// IPv4 (IPCP).
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// The prefix advertised for SLAAC.
    pub ipv6_prefix: Option<(std::net::Ipv6Addr, u8)>,
    /// The delegated prefix.
    pub delegated_prefix: Option<(std::net::Ipv6Addr, u8)>,
}

/// The session record of `status` at `now` (RFC 2866): Start carries no
/// counters; Interim-Update and Stop carry the counters and
/// Acct-Session-Time; Stop carries `terminate_cause` (RFC 2866 §5.10).
#[must_use]
pub fn session_record(
    now: Instant,
    status: AcctStatusType,
    usage: SessionUsage,
    terminate_cause: Option<u32>,
) -> AccountingRecord {
    let mut record = AccountingRecord::new(status, usage.user_name, usage.info);
    record.class = usage.class;
    if status != AcctStatusType::Start {
        record.counters = Some(usage.counters);
        record.session_time = usage
            .up_at
            .map(|t| u32::try_from(now.saturating_duration_since(t).as_secs()).unwrap_or(u32::MAX));
    }
    if status == AcctStatusType::Stop {
        record.terminate_cause = terminate_cause;
    }
    record.tunnel = usage.tunnel.as_ref().map(TunnelLeg::attributes);
    record.framed_ip_address = usage.framed.ipv4;
    record.framed_ipv6_prefix = usage.framed.ipv6_prefix;
    record.delegated_ipv6_prefix = usage.framed.delegated_prefix;
    record
}

/// The RFC 2867 §4.1 record of a tunnel (Tunnel-Start, -Stop, -Reject),
/// under the Acct-Session-Id `acct_session_id` the NAS gives the tunnel.
#[must_use]
pub fn tunnel_record(
    status: AcctStatusType,
    acct_session_id: String,
    tunnel: &TunnelLeg,
) -> AccountingRecord {
    let mut record = AccountingRecord::new(
        status,
        None,
        SessionInfo {
            acct_session_id,
            ..SessionInfo::default()
        },
    );
    record.tunnel = Some(tunnel.attributes());
    record
}

/// The RFC 2867 §4.1 link record (Tunnel-Link-Start, -Link-Stop) of a
/// session's call: the session's identity with its leg's attributes.
#[must_use]
pub fn link_record(status: AcctStatusType, usage: SessionUsage) -> AccountingRecord {
    let mut record = AccountingRecord::new(status, usage.user_name, usage.info);
    record.tunnel = usage.tunnel.as_ref().map(TunnelLeg::attributes);
    record
}

/// Accounting-On (`on`, at start) or Accounting-Off (RFC 2866 §5.1) for a
/// NAS whose Acct-Session-Ids start with `acct_session_prefix`: they tell
/// the accounting server that every session the NAS had open has ended,
/// the Stop records a crash could not send.
#[must_use]
pub fn nas_record(acct_session_prefix: &str, on: bool) -> AccountingRecord {
    let status = if on {
        AcctStatusType::AccountingOn
    } else {
        AcctStatusType::AccountingOff
    };
    AccountingRecord::new(
        status,
        None,
        SessionInfo {
            acct_session_id: format!("{acct_session_prefix}00000000"),
            ..SessionInfo::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn leg(direction: CallDirection) -> TunnelLeg {
        TunnelLeg {
            direction,
            local: Some("192.0.2.1".parse().unwrap()),
            peer: Some("192.0.2.2".parse().unwrap()),
            connection_id: "7/9".into(),
            assignment_id: Some(b"corp".to_vec()),
            client_auth_id: Some(b"lac-1".to_vec()),
            server_auth_id: None,
        }
    }

    fn usage(start: Instant, tunnel: Option<TunnelLeg>) -> SessionUsage {
        SessionUsage {
            user_name: Some("alice@corp.example".into()),
            info: SessionInfo {
                acct_session_id: "A1".into(),
                ..SessionInfo::default()
            },
            class: vec![b"class-1".to_vec()],
            counters: Counters {
                input_octets: 100,
                output_octets: 200,
                input_packets: 1,
                output_packets: 2,
            },
            up_at: Some(start),
            tunnel,
            framed: FramedAddresses::default(),
        }
    }

    #[test]
    fn start_has_no_counters_and_stop_has_counters_time_and_cause() {
        let start = Instant::now();
        let now = start + Duration::from_secs(61);
        let begin = session_record(now, AcctStatusType::Start, usage(start, None), Some(1));
        assert_eq!(begin.counters, None);
        assert_eq!(begin.session_time, None);
        assert_eq!(begin.terminate_cause, None);
        assert_eq!(begin.class, [b"class-1".to_vec()]);
        let interim = session_record(now, AcctStatusType::InterimUpdate, usage(start, None), None);
        assert_eq!(interim.session_time, Some(61));
        assert_eq!(interim.counters.map(|c| c.output_octets), Some(200));
        let stop = session_record(now, AcctStatusType::Stop, usage(start, None), Some(1));
        assert_eq!(stop.terminate_cause, Some(1));
        assert_eq!(stop.session_time, Some(61));
    }

    #[test]
    fn the_client_endpoint_is_whoever_placed_the_call() {
        let lac = leg(CallDirection::Outgoing).attributes();
        assert_eq!(lac.client_endpoint, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(lac.server_endpoint, Some("192.0.2.2".parse().unwrap()));
        assert_eq!(lac.assignment_id.as_deref(), Some("corp"));
        assert_eq!(lac.client_auth_id.as_deref(), Some("lac-1"));
        assert_eq!(lac.connection_id.as_deref(), Some("7/9"));
        let lns = leg(CallDirection::Incoming).attributes();
        assert_eq!(lns.client_endpoint, Some("192.0.2.2".parse().unwrap()));
        assert_eq!(lns.server_endpoint, Some("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn tunnel_link_and_nas_records() {
        let start = Instant::now();
        let tunnel = tunnel_record(
            AcctStatusType::TunnelStart,
            "PT0007".into(),
            &leg(CallDirection::Outgoing),
        );
        assert_eq!(tunnel.user_name, None);
        assert_eq!(tunnel.session.acct_session_id, "PT0007");
        assert!(tunnel.tunnel.is_some());
        let link = link_record(
            AcctStatusType::TunnelLinkStart,
            usage(start, Some(leg(CallDirection::Outgoing))),
        );
        assert_eq!(link.user_name.as_deref(), Some("alice@corp.example"));
        assert_eq!(link.counters, None);
        assert!(link.tunnel.is_some());
        let on = nas_record("ABCD", true);
        assert_eq!(on.status, u32::from(AcctStatusType::AccountingOn));
        assert_eq!(on.session.acct_session_id, "ABCD00000000");
    }
}
