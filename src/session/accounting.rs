//! The node core's side of accounting: a session's usage and its L2TP leg
//! as [`crate::aaa::accounting`] builds records from them (RFC 2866
//! Start / Interim / Stop with the RFC 2867 tunnel attributes, RFC 2867
//! §4.1 tunnel and link records), queued for the driver's durable spool.

use super::*;
use crate::aaa::accounting::{self, CallDirection, FramedAddresses, SessionUsage, TunnelLeg};

/// An IPv6 prefix as accounting carries it.
fn v6_pair(net: ipnet::IpNet) -> Option<(std::net::Ipv6Addr, u8)> {
    match net {
        ipnet::IpNet::V6(net) => Some((net.network(), net.prefix_len())),
        ipnet::IpNet::V4(_) => None,
    }
}

impl NodeCore {
    pub(super) fn account(&mut self, record: AccountingRecord) {
        self.commands.push_back(Command::Account {
            group: self.config.acct_group.clone(),
            record: Box::new(record),
        });
    }

    /// Accounts session `token` at `status`: its session record, and with
    /// tunnel accounting its RFC 2867 link record (Start with
    /// Tunnel-Link-Start, Stop with Tunnel-Link-Stop).
    pub(super) fn account_session(
        &mut self,
        now: Instant,
        token: u64,
        status: AcctStatusType,
        end: Option<SessionEnd>,
    ) {
        let Some(usage) = self.usage(token) else {
            return;
        };
        let link = match status {
            AcctStatusType::Start => Some(AcctStatusType::TunnelLinkStart),
            AcctStatusType::Stop => Some(AcctStatusType::TunnelLinkStop),
            _ => None,
        }
        .filter(|_| self.config.tunnel_accounting && usage.tunnel.is_some());
        let link = link.map(|status| accounting::link_record(status, usage.clone()));
        let cause = end.map(|end| end.terminate_cause().into());
        self.account(accounting::session_record(now, status, usage, cause));
        if let Some(link) = link {
            self.account(link);
        }
    }

    /// What accounting needs of session `token`.
    fn usage(&self, token: u64) -> Option<SessionUsage> {
        let session = self.sessions.get(&token)?;
        Some(SessionUsage {
            user_name: session.user_name.clone(),
            info: self.aaa_session_info(token),
            class: session
                .accept
                .as_ref()
                .map(|a| a.class.clone())
                .unwrap_or_default(),
            counters: self.counters(session),
            up_at: session.up_at,
            tunnel: self.call_leg(token, session),
            framed: match &session.stage {
                Stage::Up(SecondLeg::Local(local)) => FramedAddresses {
                    ipv4: local.ipv4.as_ref().map(|(address, _)| *address),
                    ipv6_prefix: local.ipv6_prefix.and_then(v6_pair),
                    delegated_prefix: local.delegated_prefix.and_then(v6_pair),
                },
                _ => FramedAddresses::default(),
            },
        })
    }

    /// The session's L2TP leg for RFC 2867: the outgoing call once up
    /// (LAC), the incoming one (LNS).
    fn call_leg(&self, token: u64, session: &Session) -> Option<TunnelLeg> {
        if session.first.l2tp().is_some() {
            return self.incoming_leg(token);
        }
        let attempt = session.lns.as_ref();
        Some(session.call()?.accounting(
            self.config.local_address,
            attempt.and_then(|a| a.assignment_id.clone()),
            attempt.and_then(|a| a.client_auth_id.clone()),
        ))
    }

    /// An RFC 2867 §4.1 tunnel record (Tunnel-Start, -Stop, -Reject) for
    /// our tunnel `tunnel_id`.
    pub(super) fn account_tunnel(&mut self, tunnel_id: u16, status: AcctStatusType) {
        if !self.config.tunnel_accounting {
            return;
        }
        let tunnel = self.tunnels.get(&tunnel_id);
        let direction = tunnel.map_or(CallDirection::Outgoing, |t| t.direction);
        // RFC 2868 §3.9, §3.10: the initiator's and the responder's names.
        let peer_name = tunnel
            .map(|t| t.peer_host_name.clone())
            .filter(|name| !name.is_empty());
        let ours = Some(self.config.endpoint.host_name.clone());
        let (client_auth_id, server_auth_id) = match direction {
            CallDirection::Outgoing => (None, None),
            CallDirection::Incoming => (peer_name, ours),
        };
        let leg = TunnelLeg {
            direction,
            local: self.config.local_address,
            peer: tunnel.map(|t| t.peer.ip()),
            connection_id: tunnel
                .map_or_else(|| tunnel_id.to_string(), |t| t.connection_id.clone()),
            assignment_id: tunnel.and_then(|t| t.assignment_id.clone()),
            client_auth_id,
            server_auth_id,
        };
        let acct_session_id = format!("{}T{tunnel_id:04X}", self.acct_session_prefix);
        self.account(accounting::tunnel_record(status, acct_session_id, &leg));
    }
}
