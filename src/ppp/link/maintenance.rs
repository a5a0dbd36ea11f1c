//! The LCP packets a [`Link`] handles around its automaton (RFC 1661 §5).
//! Codes 1–7 (configuration, termination, Code-Reject) go to the
//! automaton; for the others the link feeds it the RXJ and RXR events they
//! produce and does the rest itself:
//!
//! - Terminate-Request (§5.5) goes to the automaton too; from the peer on
//!   an Opened link it is the reason the link goes down;
//! - Protocol-Reject (§5.7), both ways: sent only in the Opened state and
//!   truncated to the peer's MRU; received, it stops the rejected NCP;
//! - Echo-Request and Echo-Reply (§5.8): answered in Opened, sent as the
//!   keepalive (`echo_interval`, `echo_failures`), dropped when they carry
//!   our own Magic-Number (a loop, §6.4);
//! - Discard-Request (§5.9), Identification and Time-Remaining (RFC 1570
//!   §2.1, §2.2): accepted silently.

use std::time::Instant;

use super::{DownReason, Link, LinkDropReason, LinkEvent};
use crate::ppp::fsm;
use crate::wire::ppp::Protocol;
use crate::wire::ppp::control::{Code, ControlPacket};

impl Link {
    pub(super) fn handle_lcp(&mut self, now: Instant, payload: &[u8]) {
        let Ok(packet) = ControlPacket::new_checked(payload) else {
            self.dropped(
                Protocol::Lcp,
                LinkDropReason::Fsm(fsm::DropReason::BadLength),
            );
            return;
        };
        let data = packet.data();
        let magic = data
            .get(..4)
            .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
        let our_magic = self.lcp.negotiator().negotiated().our_magic;
        let opened = self.lcp.is_opened();
        match packet.code() {
            Code::TerminateRequest => {
                if opened {
                    self.down_reason.get_or_insert(DownReason::PeerTerminated);
                }
                self.lcp.handle_packet(now, packet.packet());
            }
            Code::ProtocolReject => {
                let Some(rejected) = data
                    .get(..2)
                    .map(|p| Protocol::from(u16::from_be_bytes([p[0], p[1]])))
                else {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                };
                if !opened {
                    // §5.7: only meaningful in Opened.
                    self.dropped(Protocol::Lcp, LinkDropReason::WrongPhase);
                    return;
                }
                self.push_event(LinkEvent::ProtocolRejectReceived { protocol: rejected });
                match rejected {
                    Protocol::Lcp => self.lcp.reject_received(now, true),
                    Protocol::Ipcp => {
                        self.ipcp.reject_received(now, true);
                        self.lcp.reject_received(now, false);
                    }
                    Protocol::Ipv6cp => {
                        self.ipv6cp.reject_received(now, true);
                        self.lcp.reject_received(now, false);
                    }
                    Protocol::Pap | Protocol::Chap if self.auth_method.is_some() => {
                        self.down_reason.get_or_insert(DownReason::AuthFailed);
                        self.lcp.close(now);
                    }
                    _ => self.lcp.reject_received(now, false),
                }
            }
            Code::EchoRequest => {
                let Some(magic) = magic else {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                };
                if our_magic != 0 && magic == our_magic {
                    self.dropped(Protocol::Lcp, LinkDropReason::OwnMagic);
                    return;
                }
                let mut reply = packet.packet().to_vec();
                let Ok(mut reply_packet) = ControlPacket::new_checked(&mut reply[..]) else {
                    return;
                };
                if reply_packet.echo_request_into_reply(our_magic).is_err() {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                }
                // §5.8: only in Opened (the table's `ser`).
                if !self.lcp.echo_request_received(now, &reply) {
                    self.dropped(Protocol::Lcp, LinkDropReason::WrongPhase);
                }
            }
            Code::EchoReply => {
                let Some(magic) = magic else {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                };
                if !opened {
                    self.dropped(Protocol::Lcp, LinkDropReason::WrongPhase);
                    return;
                }
                if our_magic != 0 && magic == our_magic {
                    self.dropped(Protocol::Lcp, LinkDropReason::OwnMagic);
                    return;
                }
                self.stats.echo_replies_received += 1;
                self.echo_outstanding = 0;
                self.lcp.other_rxr(now);
            }
            Code::DiscardRequest => {
                if magic.is_none() {
                    self.dropped(Protocol::Lcp, LinkDropReason::Malformed);
                    return;
                }
                self.lcp.other_rxr(now);
            }
            // RFC 1570 §2.1, §2.2: informational; accepted silently.
            Code::Identification | Code::TimeRemaining => {}
            _ => self.lcp.handle_packet(now, packet.packet()),
        }
    }

    pub(super) fn protocol_reject(&mut self, protocol: Protocol, payload: &[u8]) {
        if !self.lcp.is_opened() {
            self.dropped(protocol, LinkDropReason::UnknownProtocol);
            return;
        }
        // §5.7: "the Rejected-Information MUST be truncated to comply with
        // the peer's established MRU."
        let peer_mru = usize::from(self.lcp.negotiator().negotiated().peer_mru);
        let room = peer_mru.saturating_sub(4 + 2);
        let keep = payload.len().min(room);
        let rejected = u16::from(protocol).to_be_bytes();
        let id = self.next_lcp_identifier();
        self.send_lcp(Code::ProtocolReject, id, &[&rejected, &payload[..keep]]);
        self.stats.protocol_rejects_sent += 1;
        self.push_event(LinkEvent::ProtocolRejectSent { protocol });
    }

    pub(super) fn echo_tick(&mut self, now: Instant) {
        let Some(interval) = self.config.echo_interval else {
            self.echo_next = None;
            return;
        };
        if !self.lcp.is_opened() {
            self.echo_next = None;
            return;
        }
        if self.echo_outstanding >= self.config.echo_failures {
            self.echo_next = None;
            self.down_reason.get_or_insert(DownReason::EchoTimeout);
            self.lcp.close(now);
            return;
        }
        let magic = self.lcp.negotiator().negotiated().our_magic;
        let id = self.next_lcp_identifier();
        self.send_lcp(Code::EchoRequest, id, &[&magic.to_be_bytes()]);
        self.stats.echo_requests_sent += 1;
        self.echo_outstanding = self.echo_outstanding.saturating_add(1);
        self.echo_next = Some(now + interval);
    }

    fn next_lcp_identifier(&mut self) -> u8 {
        let id = self.lcp_identifier;
        self.lcp_identifier = self.lcp_identifier.wrapping_add(1);
        id
    }

    /// Queues an LCP packet of the link's own (Protocol-Reject,
    /// Echo-Request), written straight into the queue.
    fn send_lcp(&mut self, code: Code, identifier: u8, data: &[&[u8]]) {
        if self
            .transmit
            .push_control(Protocol::Lcp, code, identifier, data)
            .dropped_oldest()
        {
            self.stats.queue_overflows += 1;
        }
    }
}
