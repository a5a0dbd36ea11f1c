//! The LAC core's fast path: a PPPoE session frame (RFC 2516 §4) becomes an
//! L2TP data message (RFC 2661 §5.4, with the RFC 1662 §3.1 Address and
//! Control octets) in place, and back, with one hash lookup per frame;
//! discovery and control frames go to their cores.

use super::*;

impl NodeCore {
    /// Handles a frame received on access interface `interface` (VLAN tags
    /// in the frame; a tag the kernel stripped already put back by the
    /// caller or given in `stripped`). Session data of a forwarding session
    /// is rewritten in place into an L2TP data message: the caller sends
    /// `frame[range]` to `to` ([`Forward::Datagram`]).
    pub fn handle_frame(
        &mut self,
        now: Instant,
        interface: usize,
        frame: &mut [u8],
        stripped: Option<crate::wire::ethernet::VlanTag>,
    ) -> Forward {
        let (ethertype, header_len) = match EthernetFrame::new_checked(&*frame) {
            Ok(eth) => (eth.ethertype(), frame.len() - eth.payload().len()),
            Err(_) => return self.drop_frame(FastPathDrop::Malformed),
        };
        match ethertype {
            EtherType::PppoeDiscovery => {
                if let Some(discovery) = self.discovery.get_mut(interface) {
                    match stripped {
                        None => discovery.handle_frame(now, frame),
                        Some(tag) => {
                            if let Ok(eth) = EthernetFrame::new_checked(&*frame) {
                                let vlans = eth
                                    .vlans_with_stripped(Some(tag))
                                    .unwrap_or_else(|_| eth.vlans());
                                let src = eth.src();
                                let payload = eth.payload();
                                let dst = eth.dst();
                                if dst.is_broadcast() || dst == discovery.local_mac() {
                                    discovery.handle_packet(now, vlans, src, payload);
                                }
                            }
                        }
                    }
                }
                self.drain_discovery(now, interface);
                Forward::Control
            }
            EtherType::PppoeSession => {
                self.handle_session_frame(now, interface, frame, header_len, stripped)
            }
            _ => self.drop_frame(FastPathDrop::Malformed),
        }
    }

    /// A session frame addressed to us for a session we do not know (the
    /// LAC restarted, or the PADT was lost): answer with a PADT so the host
    /// redials at once instead of waiting for its LCP echoes to fail
    /// (RFC 2516 §5.5: "a PADT MAY be sent anytime after a session is
    /// established"). At most [`STALE_PADT_PER_SECOND`] per second.
    pub(super) fn padt_for_stale_session(
        &mut self,
        now: Instant,
        interface: usize,
        frame: &[u8],
        stripped: Option<crate::wire::ethernet::VlanTag>,
        session_id: u16,
    ) {
        let Some(&local) = self.interface_macs.get(interface) else {
            return;
        };
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return;
        };
        if eth.dst() != local || !eth.src().is_unicast() {
            return;
        }
        let (window, sent) = &mut self.stale_padts;
        if now.saturating_duration_since(*window) >= Duration::from_secs(1) {
            *window = now;
            *sent = 0;
        }
        if *sent >= STALE_PADT_PER_SECOND {
            return;
        }
        *sent += 1;
        let vlans = eth
            .vlans_with_stripped(stripped)
            .unwrap_or_else(|_| eth.vlans());
        let mut padt =
            crate::wire::pppoe::DiscoveryRepr::new(crate::wire::pppoe::Code::Padt, session_id);
        padt.tags.push(crate::wire::pppoe::Tag::GenericError(
            b"session unknown".to_vec(),
        ));
        let mut header = EthernetRepr::new(eth.src(), local, EtherType::PppoeDiscovery);
        header.vlans = vlans;
        let mut bytes = vec![0u8; header.buffer_len() + padt.buffer_len()];
        let Ok(len) = header.emit(&mut bytes) else {
            return;
        };
        let Some(body) = bytes.get_mut(len..) else {
            return;
        };
        if padt.emit(body).is_ok() {
            self.frames.push_back(OutFrame { interface, bytes });
        }
    }

    pub(super) fn drop_frame(&mut self, reason: FastPathDrop) -> Forward {
        if reason == FastPathDrop::Policed {
            self.totals.policed += 1;
        } else {
            self.totals.dropped += 1;
        }
        Forward::Dropped(reason)
    }

    /// Upstream: PPPoE session frame → L2TP data message, in place.
    pub(super) fn handle_session_frame(
        &mut self,
        now: Instant,
        interface: usize,
        frame: &mut [u8],
        header_len: usize,
        stripped: Option<crate::wire::ethernet::VlanTag>,
    ) -> Forward {
        let Some(pppoe) = frame.get(header_len..) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let Ok(packet) = SessionPacket::new_checked(pppoe) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let session_id = packet.session_id();
        let ppp_len = packet.payload().len();
        let src = frame
            .get(6..12)
            .and_then(|b| MacAddress::from_bytes(b).ok())
            .unwrap_or(MacAddress::ZERO);
        let Some(&token) = self.by_pppoe.get(&pppoe_key(interface, session_id)) else {
            self.padt_for_stale_session(now, interface, frame, stripped, session_id);
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        if session.mac != src {
            return self.drop_frame(FastPathDrop::UnknownSession);
        }
        let ppp_start = header_len + crate::wire::pppoe::HEADER_LEN;
        let ppp_end = ppp_start + ppp_len;
        let Stage::Up(forwarding) = &mut session.stage else {
            // Control path: the PPP link of a session being set up.
            let Some(ppp) = frame.get(ppp_start..ppp_end) else {
                return self.drop_frame(FastPathDrop::Malformed);
            };
            let Ok(ppp) = crate::wire::ppp::Frame::new_checked(ppp) else {
                return self.drop_frame(FastPathDrop::Malformed);
            };
            // The subscriber's authentication request, kept for a domain
            // authorization's replay to the LNS (PAP code 1, CHAP code 2).
            let auth_request = match ppp.protocol() {
                Protocol::Pap => ppp.payload().first() == Some(&1),
                Protocol::Chap => ppp.payload().first() == Some(&2),
                _ => false,
            };
            if auth_request && session.link.is_some() {
                session.auth_frame = frame.get(ppp_start..ppp_end).map(<[u8]>::to_vec);
            }
            if let Some(link) = session.link.as_mut() {
                link.handle_frame(now, ppp.protocol(), ppp.payload());
            }
            self.drain_link(now, token);
            return Forward::Control;
        };
        if let Some(policer) = session.police_up.as_mut() {
            if !policer.admit(now, ppp_len) {
                return self.drop_frame(FastPathDrop::Policed);
            }
        }
        if self.config.tcp_mss != 0 {
            clamp_in_ppp(frame.get_mut(ppp_start..ppp_end), self.config.tcp_mss);
        }
        // FF 03 in front of the PPP protocol field, then the L2TP header.
        let Some(ac_start) = ppp_start.checked_sub(ADDRESS_CONTROL.len()) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        if let Some(ac) = frame.get_mut(ac_start..ppp_start) {
            ac.copy_from_slice(&ADDRESS_CONTROL);
        }
        let mut header = HeaderRepr::data(forwarding.peer_tunnel_id, forwarding.peer_session_id);
        if let Some(ns) = forwarding.next_ns.as_mut() {
            header.sequence = Some(Sequence { ns: *ns, nr: 0 });
            *ns = ns.wrapping_add(1);
        }
        let Ok(start) = header.emit_before(frame, ac_start, ppp_end - ac_start) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        session.up.packets += 1;
        session.up.bytes += ppp_len as u64;
        // Idle-Timeout (RFC 2865 §5.28) counts the subscriber's data, not
        // LCP echoes or NCP retransmissions: network-layer protocols are
        // 0x0001-0x3fff (RFC 1661 §2), so the first octet is below 0x40.
        if frame.get(ppp_start).is_some_and(|first| *first < 0x40) {
            session.last_activity = now;
        }
        self.totals.upstream.packets += 1;
        self.totals.upstream.bytes += ppp_len as u64;
        Forward::Datagram {
            to: forwarding.peer,
            range: start..ppp_end,
        }
    }

    /// Handles a UDP datagram from an LNS that sits at
    /// `buf[start..start + len]`, with at least [`DOWNSTREAM_HEADROOM`]
    /// bytes free before `start`. Control messages go to the L2TP endpoint
    /// ([`Forward::Control`]); data of a forwarding session is rewritten in
    /// place into an Ethernet + PPPoE frame: the caller sends `buf[range]`
    /// on the interface ([`Forward::Frame`]).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        start: usize,
        len: usize,
    ) -> Forward {
        let Some(datagram) = start.checked_add(len).and_then(|end| buf.get(start..end)) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        if crate::l2tp::is_control(datagram) {
            self.endpoint.handle_datagram(now, from, datagram);
            self.drain_endpoint(now);
            return Forward::Control;
        }
        let Ok(packet) = L2tpPacket::new_checked(datagram) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let key = (packet.tunnel_id(), packet.session_id());
        let peer_sequences = packet.has_sequence();
        let payload_offset = start + packet.header_len();
        let mut ppp_len = packet.payload().len();
        let mut ppp_start = payload_offset;
        if packet.payload().starts_with(&ADDRESS_CONTROL) {
            ppp_start += ADDRESS_CONTROL.len();
            ppp_len -= ADDRESS_CONTROL.len();
        }
        let Some(&token) = self.by_l2tp.get(&key) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let mut behind_answer = false;
        if let Stage::Tunnelling(tunnelling) = &session.stage {
            // The LNS sends on a call only once it has our ICCN: data ahead
            // of the ICCN's acknowledgement confirms the call. The session
            // comes up (the subscriber's authentication answer is queued)
            // and this frame is queued behind that answer, in order.
            let Some((attempt, handle, _)) = &tunnelling.current else {
                return self.drop_frame(FastPathDrop::NotUp);
            };
            if *handle
                != (SessionHandle {
                    tunnel_id: key.0,
                    session_id: key.1,
                })
                || attempt.endpoint.ip() != from.ip()
            {
                return self.drop_frame(FastPathDrop::NotUp);
            }
            let handle = *handle;
            self.endpoint.confirm_session(now, handle);
            self.drain_endpoint(now);
            let up = self
                .sessions
                .get(&token)
                .is_some_and(|s| matches!(s.stage, Stage::Up(_)));
            if !up {
                return self.drop_frame(FastPathDrop::NotUp);
            }
            behind_answer = true;
        }
        let Some(session) = self.sessions.get_mut(&token) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Stage::Up(forwarding) = &mut session.stage else {
            return self.drop_frame(FastPathDrop::NotUp);
        };
        if forwarding.peer.ip() != from.ip() {
            return self.drop_frame(FastPathDrop::UnknownSession);
        }
        // RFC 2661 §5.4: "The LNS controls enabling and disabling of
        // sequence numbers by sending a data message with or without
        // sequence numbers present at any time during the life of a
        // session." Our data messages follow its lead.
        match (peer_sequences, forwarding.next_ns) {
            (true, None) => forwarding.next_ns = Some(0),
            (false, Some(_)) => forwarding.next_ns = None,
            _ => {}
        }
        if ppp_len == 0 {
            return self.drop_frame(FastPathDrop::Malformed);
        }
        if let Some(policer) = session.police_down.as_mut() {
            if !policer.admit(now, ppp_len) {
                return self.drop_frame(FastPathDrop::Policed);
            }
        }
        if self.config.tcp_mss != 0 {
            clamp_in_ppp(
                buf.get_mut(ppp_start..ppp_start + ppp_len),
                self.config.tcp_mss,
            );
        }
        let Some(&local_mac) = self.interface_macs.get(session.interface) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let ethernet = EthernetRepr {
            dst: session.mac,
            src: local_mac,
            vlans: session.vlans,
            ethertype: EtherType::PppoeSession,
        };
        let Ok(frame_start) = encapsulate_session_in_place(
            buf,
            ppp_start,
            ppp_len,
            &ethernet,
            session.pppoe_session_id,
        ) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        session.down.packets += 1;
        session.down.bytes += ppp_len as u64;
        self.totals.downstream.packets += 1;
        self.totals.downstream.bytes += ppp_len as u64;
        let (interface, range) = (session.interface, frame_start..ppp_start + ppp_len);
        if behind_answer {
            // In order behind the authentication answer session_up queued.
            if let Some(bytes) = buf.get(range) {
                self.frames.push_back(OutFrame {
                    interface,
                    bytes: bytes.to_vec(),
                });
            }
            return Forward::Control;
        }
        Forward::Frame { interface, range }
    }
}
