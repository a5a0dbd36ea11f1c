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
        Forward::Dropped(self.fastpath.drop_frame(reason))
    }

    /// The fast path's answer as the driver's instruction: PPP terminated
    /// here hands its non-IP frames to the session's link (the frame is
    /// in `buf`) and its IP to TUN.
    pub(super) fn deliver(
        &mut self,
        now: Instant,
        buf: &[u8],
        result: Result<Delivery, FastPathDrop>,
    ) -> Forward {
        match result {
            Ok(Delivery::Datagram { to, range }) => Forward::Datagram { to, range },
            Ok(Delivery::Frame { interface, range }) => Forward::Frame { interface, range },
            Ok(Delivery::Ip { slot, range }) => {
                if let Some(packet) = buf.get(range.clone())
                    && is_link_scoped_ipv6(packet)
                {
                    let packet = packet.to_vec();
                    return self.link_scoped_ipv6(now, slot, &packet);
                }
                self.to_tun.packets += 1;
                self.to_tun.bytes += range.len() as u64;
                Forward::Tun { range }
            }
            Ok(Delivery::Link { slot, range }) => match buf.get(range) {
                Some(frame) => {
                    let frame = frame.to_vec();
                    self.link_frame(now, slot, &frame)
                }
                None => self.drop_frame(FastPathDrop::Malformed),
            },
            Err(FastPathDrop::Spoofed) => {
                self.spoofed += 1;
                Forward::Dropped(FastPathDrop::Spoofed)
            }
            Err(reason) => Forward::Dropped(reason),
        }
    }

    /// Upstream: a PPPoE session frame. A forwarding session's frame goes
    /// through the fast path (one lookup, rewritten in place for its other
    /// leg); a session being set up hands it to its PPP link.
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
        let ppp_start = header_len + crate::wire::pppoe::HEADER_LEN;
        let ppp_end = ppp_start + ppp_len;
        if let Some(leg) = self.fastpath.lookup(&pppoe_leg_key(interface, session_id)) {
            if !self.fastpath.source_matches(leg, Source::Mac(src)) {
                return self.drop_frame(FastPathDrop::UnknownSession);
            }
            let result = self.fastpath.forward(now, leg, frame, ppp_start..ppp_end);
            return self.deliver(now, frame, result);
        }
        let Some(&token) = self.by_pppoe.get(&pppoe_key(interface, session_id)) else {
            self.padt_for_stale_session(now, interface, frame, stripped, session_id);
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        if session.pppoe().is_none_or(|p| p.mac != src) {
            return self.drop_frame(FastPathDrop::UnknownSession);
        }
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
        Forward::Control
    }

    /// Handles a UDP datagram from an LNS that sits at
    /// `buf[start..start + len]`, with at least [`DOWNSTREAM_HEADROOM`]
    /// bytes free before `start`. Control messages go to the L2TP endpoint
    /// ([`Forward::Control`]); data of a forwarding session goes through
    /// the fast path, rewritten in place for its other leg: the caller
    /// sends `buf[range]` ([`Forward::Frame`] on an interface,
    /// [`Forward::Datagram`] to a peer).
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
        let mut ppp_start = start + packet.header_len();
        if packet.payload().starts_with(&ADDRESS_CONTROL) {
            ppp_start += ADDRESS_CONTROL.len();
        }
        let ppp = ppp_start..start + packet.header_len() + packet.payload().len();
        let leg_key = LegKey::L2tp {
            tunnel_id: key.0,
            session_id: key.1,
        };
        if let Some(leg) = self.fastpath.lookup(&leg_key) {
            return self.forward_l2tp(now, from, leg, peer_sequences, buf, ppp);
        }
        // Not forwarding yet: a call being placed.
        let Some(&token) = self.calls.get(&key) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(Stage::Tunnelling(tunnelling)) = self.sessions.get(&token).map(|s| &s.stage)
        else {
            return self.drop_frame(FastPathDrop::NotUp);
        };
        // The LNS sends on a call only once it has our ICCN: data ahead of
        // the ICCN's acknowledgement confirms the call. The session comes
        // up (the subscriber's authentication answer is queued) and this
        // frame is queued behind that answer, in order.
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
        let Some(leg) = self.fastpath.lookup(&leg_key) else {
            return self.drop_frame(FastPathDrop::NotUp);
        };
        match self.forward_l2tp(now, from, leg, peer_sequences, buf, ppp) {
            Forward::Frame { interface, range } => {
                // In order behind the authentication answer session_up
                // queued.
                if let Some(bytes) = buf.get(range) {
                    self.frames.push_back(OutFrame {
                        interface,
                        bytes: bytes.to_vec(),
                    });
                }
                Forward::Control
            }
            other => other,
        }
    }

    /// An L2TP data message of a forwarding session's leg `leg`, its PPP
    /// frame at `buf[ppp]`.
    fn forward_l2tp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        leg: LegRef,
        peer_sequences: bool,
        buf: &mut [u8],
        ppp: std::ops::Range<usize>,
    ) -> Forward {
        if !self.fastpath.source_matches(leg, Source::Udp(from)) {
            return self.drop_frame(FastPathDrop::UnknownSession);
        }
        // RFC 2661 §5.4: "The LNS controls enabling and disabling of
        // sequence numbers by sending a data message with or without
        // sequence numbers present at any time during the life of a
        // session." Our data messages follow its lead.
        self.fastpath.follow_sequencing(leg, peer_sequences);
        let result = self.fastpath.forward(now, leg, buf, ppp);
        self.deliver(now, buf, result)
    }
}

/// Whether `packet` is IPv6 to a link-local or link-scoped multicast
/// destination (RFC 4291 §2.5.6, §2.7): Router Solicitations, DHCPv6,
/// Neighbor Discovery — for the session's own IPv6 services, never TUN.
fn is_link_scoped_ipv6(packet: &[u8]) -> bool {
    match packet {
        [
            first,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            d0,
            d1,
            ..,
        ] if first >> 4 == 6 => {
            (*d0 == 0xfe && d1 & 0xc0 == 0x80) || (*d0 == 0xff && d1 & 0x0f <= 2)
        }
        _ => false,
    }
}
