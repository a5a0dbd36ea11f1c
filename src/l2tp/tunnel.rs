//! One L2TP control connection (tunnel) and its sessions: the control
//! connection state machine of RFC 2661 §7.2 for both the initiator and the
//! responder, tunnel authentication (§4.2, §5.1.1), teardown (§5.7) and the
//! dispatch of call messages to sessions (§7.4, §7.5).
//!
//! ```text
//! initiator (§7.2)                         responder (§7.2)
//! idle --open--> SCCRQ, wait-ctl-reply      idle --SCCRQ ok--> SCCRP, wait-ctl-conn
//! wait-ctl-reply --SCCRP ok--> SCCCN,       idle --SCCRQ bad--> StopCCN, closing
//!                 established               wait-ctl-conn --SCCCN ok--> established
//! wait-ctl-reply --SCCRP bad--> StopCCN     wait-ctl-conn --SCCCN bad--> StopCCN
//! any --StopCCN rcvd / close--> closing (hold, §5.7) --hold over--> gone
//! any --channel gives up--> gone
//! ```
//!
//! Reliable delivery (Ns/Nr, retransmission, acknowledgement) is the
//! control channel's ([`super::channel`]); this module sees messages in
//! order, once.
//!
//! # Back-pressure: the outbox
//!
//! The channel never has more messages in flight than the peer's Receive
//! Window Size (§5.8), and its own send queue is bounded
//! (`max_send_queue`). A LAC placing calls faster than a slow LNS
//! acknowledges them must wait, never fail: a busy tunnel is not a broken
//! one, and tearing it down would take the established sessions with it.
//! So every tunnel has an ordered outbox in front of its channel
//! (`outbox.rs`):
//!
//! * **Messages of calls in progress and of the tunnel** (ICRP, ICCN, CDN,
//!   StopCCN, …) go to the channel at once while it has room, else wait in
//!   the outbox, in order, and are handed over as acknowledgements
//!   ([`ChannelEvent::Acked`]) open room. Nothing is ever refused.
//! * **New calls** (LAC, §7.4 / §7.2: an ICRQ needs an established control
//!   connection) wait in the outbox as *not yet placed* calls, in the order
//!   they were opened. Their ICRQ is handed to the channel only while the
//!   channel's backlog (messages queued beyond what the window lets fly)
//!   is below one window, and only after every waiting message of a call
//!   in progress: the channel always has enough to fill its window, the
//!   ICCN of a call already answered never queues behind thousands of new
//!   ICRQs, and the channel's own queue stays around two windows long.
//! * The held `SessionUp` of a LAC call (released when the peer
//!   acknowledges the ICCN) follows its ICCN: it is attached to the ICCN's
//!   Ns when the ICCN reaches the channel.
//! * StopCCN (sent or received) and a dead peer end every call, those
//!   still waiting in the outbox included: each gets its
//!   [`Event::SessionDown`] ([`SessionDownCause::TunnelDown`]); the
//!   outbox is emptied, and a StopCCN we send goes out first.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::RngExt;
use rand::rngs::StdRng;

use crate::wire::l2tp::{
    Avp, Bearer, CdnResult, ControlMessage, Framing, GeneralError, MessageType, ProtocolVersion,
    ResultCode, StopCcnResult, challenge_response, verify_challenge_response,
};

use super::channel::{ChannelEvent, ControlChannel, ShortBuffer};
use super::endpoint::{EndpointConfig, SharingKey};
use super::event::{
    ChannelActivity, Direction, DropReason, Event, SessionDownCause, SessionHandle, TunnelDownCause,
};
use super::session::Session;

mod calls;
mod outbox;

use outbox::Outbox;

/// Length of the Challenge we send (§4.4.3: "one or more octets of random
/// data"; 16 like CHAP-MD5).
const CHALLENGE_LEN: usize = 16;

/// The highest protocol version we support, as the Error Code of a StopCCN
/// with result 5 (§4.4.2: "the Error Code indicates the highest version
/// supported", Ver in the high octet, Rev in the low one).
const HIGHEST_VERSION: u16 = 0x0100;

/// Where a control connection is in its state machine (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TunnelState {
    /// Responder: the SCCRQ is being processed.
    Idle,
    /// Initiator: SCCRQ sent, waiting for SCCRP.
    WaitCtlReply,
    /// Responder: SCCRP sent, waiting for SCCCN.
    WaitCtlConn,
    /// Up: calls may be placed.
    Established,
    /// StopCCN sent or received: state is held to acknowledge
    /// retransmissions (§5.7) until `until`.
    Closing {
        /// End of the hold.
        until: Instant,
    },
    /// The channel gave up, or the tunnel was discarded: remove it.
    Gone,
}

/// Everything a tunnel needs from its endpoint while it runs.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) rng: &'a mut StdRng,
    pub(crate) events: &'a mut std::collections::VecDeque<Event>,
    pub(crate) config: &'a EndpointConfig,
}

/// One tunnel.
pub(crate) struct Tunnel {
    pub(crate) local_id: u16,
    pub(crate) peer_id: u16,
    pub(crate) peer: SocketAddr,
    pub(crate) initiated_locally: bool,
    pub(crate) state: TunnelState,
    channel: ControlChannel,
    secret: Option<Vec<u8>>,
    /// Hide the subscriber AVPs on this tunnel (RFC 2661 §4.3): the
    /// admitting `[[lns.peer]]` rule's choice, else the endpoint's.
    pub(crate) hide_avps: Option<bool>,
    host_name: Vec<u8>,
    our_challenge: Option<Vec<u8>>,
    pub(crate) tie_breaker: Option<[u8; 8]>,
    pub(crate) sharing: Option<SharingKey>,
    pub(crate) sessions: HashMap<u16, Session>,
    requested_at: Instant,
    /// Calls not yet established, by setup deadline (lazily pruned: an
    /// entry whose session is gone, established or younger is skipped).
    setup_deadlines: BTreeSet<(Instant, u16)>,
    pub(crate) peer_host_name: Vec<u8>,
    /// Whether the peer may answer from another UDP port (until SCCRP).
    pub(crate) port_may_change: bool,
    /// Messages and new calls waiting for room in the channel (module
    /// docs).
    outbox: Outbox,
    /// LAC: `SessionUp` events held until the peer acknowledges the ICCN
    /// with this Ns, so no data message of the call can overtake it.
    pending_up: HashMap<u16, (u16, Event)>,
    /// Responder: refuse the SCCRQ with this StopCCN result (tie breaker
    /// won by us).
    pub(crate) refuse_with: Option<ResultCode>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("local_id", &self.local_id)
            .field("peer_id", &self.peer_id)
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Tunnel {
    fn new(
        ctx: &mut Ctx<'_>,
        local_id: u16,
        peer: SocketAddr,
        secret: Option<Vec<u8>>,
        host_name: Vec<u8>,
        initiated_locally: bool,
    ) -> Self {
        Self {
            local_id,
            peer_id: 0,
            peer,
            initiated_locally,
            state: if initiated_locally {
                TunnelState::WaitCtlReply
            } else {
                TunnelState::Idle
            },
            channel: ControlChannel::new(ctx.config.channel.clone()),
            secret: secret.filter(|s| !s.is_empty()),
            hide_avps: None,
            host_name,
            our_challenge: None,
            tie_breaker: None,
            sharing: None,
            sessions: HashMap::new(),
            requested_at: ctx.now,
            setup_deadlines: BTreeSet::new(),
            peer_host_name: Vec::new(),
            port_may_change: initiated_locally,
            outbox: Outbox::default(),
            pending_up: HashMap::new(),
            refuse_with: None,
        }
    }

    /// Opens a tunnel to `peer`: sends SCCRQ (§6.1) and waits for SCCRP.
    pub(crate) fn open(
        ctx: &mut Ctx<'_>,
        local_id: u16,
        peer: SocketAddr,
        secret: Option<Vec<u8>>,
        host_name: Vec<u8>,
        sharing: Option<SharingKey>,
    ) -> Self {
        let mut tunnel = Self::new(ctx, local_id, peer, secret, host_name, true);
        tunnel.sharing = sharing;
        let mut sccrq = tunnel.start_control_message(ctx, MessageType::Sccrq);
        if ctx.config.send_tie_breaker {
            let value: [u8; 8] = ctx.rng.random();
            tunnel.tie_breaker = Some(value);
            sccrq = sccrq.with_avp(Avp::TieBreaker(value));
        }
        tunnel.send(ctx, sccrq, 0);
        tunnel
    }

    /// A tunnel for a received SCCRQ (tunnel id 0); feed it the datagram
    /// with [`Self::handle_datagram`].
    pub(crate) fn accept(
        ctx: &mut Ctx<'_>,
        local_id: u16,
        peer: SocketAddr,
        secret: Option<Vec<u8>>,
        host_name: Vec<u8>,
    ) -> Self {
        Self::new(ctx, local_id, peer, secret, host_name, false)
    }

    /// SCCRQ or SCCRP with the AVPs both carry (§6.1, §6.2), and a fresh
    /// random Challenge when a secret is configured: tunnel authentication
    /// (§5.1.1) is asked for by including a Challenge AVP (§4.4.3), which
    /// the peer must answer with a Challenge Response.
    fn start_control_message(&mut self, ctx: &mut Ctx<'_>, ty: MessageType) -> ControlMessage {
        let mut msg = ControlMessage::new(ty)
            .with_avp(Avp::ProtocolVersion(ProtocolVersion::RFC2661))
            .with_avp(Avp::HostName(self.host_name.clone()))
            .with_avp(Avp::FramingCapabilities(Framing::SYNC | Framing::ASYNC))
            .with_avp(Avp::BearerCapabilities(Bearer::DIGITAL | Bearer::ANALOG))
            .with_avp(Avp::FirmwareRevision(ctx.config.firmware_revision))
            .with_avp(Avp::VendorName(ctx.config.vendor_name.clone()))
            .with_avp(Avp::AssignedTunnelId(self.local_id))
            .with_avp(Avp::ReceiveWindowSize(self.channel.receive_window()));
        if self.secret.is_some() {
            let challenge: [u8; CHALLENGE_LEN] = ctx.rng.random();
            self.our_challenge = Some(challenge.to_vec());
            msg = msg.with_avp(Avp::Challenge(challenge.to_vec()));
        }
        msg
    }

    /// Whether the tunnel still accepts new sessions.
    pub(crate) fn is_usable(&self) -> bool {
        matches!(
            self.state,
            TunnelState::WaitCtlReply | TunnelState::Established
        )
    }

    /// Whether the tunnel can be removed.
    pub(crate) fn is_gone(&self, now: Instant) -> bool {
        match self.state {
            TunnelState::Gone => true,
            TunnelState::Closing { until } => now >= until,
            _ => false,
        }
    }

    /// The next instant [`Self::handle_timeout`] wants to run.
    pub(crate) fn poll_timeout(&self, setup_timeout: Duration) -> Option<Instant> {
        let own = match self.state {
            TunnelState::Closing { until } => Some(until),
            TunnelState::Gone => None,
            TunnelState::Established => self.setup_deadlines.first().map(|(at, _)| *at),
            _ => Some(self.requested_at + setup_timeout),
        };
        match (self.channel.poll_timeout(), own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the channel's timers and the setup deadlines.
    ///
    /// RFC 2661 leaves setup timers to the implementation; without them a
    /// peer that acknowledges but never answers (no SCCCN, no ICCN, a
    /// driver that never decides) would pin state forever. A control
    /// connection not established within `setup_timeout` is cleared with
    /// StopCCN (result 2, general error); a call not established within it
    /// with CDN result 10, "Call was not established within time allotted"
    /// (§4.4.2).
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.channel.handle_timeout(ctx.now);
        self.drain(ctx);
        let timeout = ctx.config.setup_timeout;
        match self.state {
            TunnelState::Idle | TunnelState::WaitCtlReply | TunnelState::WaitCtlConn
                if ctx.now >= self.requested_at + timeout =>
            {
                self.stop_general(
                    ctx,
                    GeneralError::NoError,
                    "control connection setup timed out",
                );
            }
            TunnelState::Established => self.expire_calls(ctx, timeout),
            _ => {}
        }
    }

    /// Next datagram for the peer, written at the start of `buf`: its
    /// length, `Ok(None)` when nothing is due, or [`ShortBuffer`] when the
    /// datagram due does not fit `buf` (it stays queued).
    pub(crate) fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<usize>, ShortBuffer> {
        self.channel.try_transmit(now, buf)
    }

    /// A control datagram addressed to this tunnel.
    pub(crate) fn handle_datagram(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr, bytes: &[u8]) {
        if self.port_may_change && from != self.peer {
            // §8.1: the recipient of the SCCRQ "picks a free port on its
            // own system (which may or may not be 1701)" and answers from
            // it; the SCCRP's source port is used from then on.
            self.peer = from;
        }
        let secret = self.secret.clone();
        if self
            .channel
            .handle_message(ctx.now, bytes, secret.as_deref())
            .is_err()
        {
            ctx.events.push_back(Event::Dropped {
                peer: from,
                reason: DropReason::Channel,
            });
        }
        self.drain(ctx);
    }

    fn drain(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(event) = self.channel.poll_event() {
            match event {
                ChannelEvent::Delivered(msg) => self.on_message(ctx, msg),
                ChannelEvent::PeerDead { .. } => self.lost(ctx, TunnelDownCause::PeerUnreachable),
                ChannelEvent::Undecodable { error, .. } => self.undecodable(ctx, &error),
                ChannelEvent::Retransmitted { .. } => {
                    ctx.events
                        .push_back(Event::ControlChannel(ChannelActivity::Retransmit));
                }
                ChannelEvent::WindowStall { .. } => {
                    ctx.events
                        .push_back(Event::ControlChannel(ChannelActivity::WindowStall));
                }
                ChannelEvent::Duplicate { .. } => {
                    ctx.events
                        .push_back(Event::ControlChannel(ChannelActivity::Duplicate));
                }
                ChannelEvent::OutOfOrder { .. } => {
                    ctx.events
                        .push_back(Event::ControlChannel(ChannelActivity::OutOfOrder));
                }
                ChannelEvent::OutOfWindow { .. } => {
                    ctx.events
                        .push_back(Event::ControlChannel(ChannelActivity::OutOfWindow));
                }
                ChannelEvent::InvalidAck { .. } => {
                    ctx.events
                        .push_back(Event::ControlChannel(ChannelActivity::InvalidAck));
                }
                ChannelEvent::Acked { ns, .. } => {
                    if let Some((session_id, mut up)) = self.pending_up.remove(&ns) {
                        if self.sessions.contains_key(&session_id) {
                            if let Event::SessionUp { at, .. } = &mut up {
                                *at = ctx.now;
                            }
                            ctx.events.push_back(up);
                        }
                    }
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
    }

    /// A message in sequence whose body does not parse (an AVP too short
    /// or too long for its type, a hidden AVP that does not unhide with
    /// our secret, …). We cannot tell which session it was meant for, nor
    /// act on it: the control connection is in an unknown state, so it is
    /// cleared (§4.4.2 StopCCN result 2 with error 2 "Length is wrong" or
    /// 3 "A field value was out of range").
    fn undecodable(&mut self, ctx: &mut Ctx<'_>, error: &crate::wire::Error) {
        let code = match error {
            crate::wire::Error::Truncated { .. } => GeneralError::WrongLength,
            _ => GeneralError::OutOfRange,
        };
        self.stop_general(ctx, code, &error.to_string());
    }

    /// The tunnel is gone without a StopCCN (peer unreachable, tie breaker
    /// lost).
    pub(crate) fn lost(&mut self, ctx: &mut Ctx<'_>, cause: TunnelDownCause) {
        if matches!(self.state, TunnelState::Gone | TunnelState::Closing { .. }) {
            self.state = TunnelState::Gone;
            return;
        }
        self.all_sessions_down(ctx, None);
        self.outbox.clear();
        ctx.events.push_back(Event::TunnelDown {
            tunnel_id: self.local_id,
            was_established: self.state == TunnelState::Established,
            initiated_locally: self.initiated_locally,
            peer: self.peer,
            cause,
            result: None,
            at: ctx.now,
        });
        self.state = TunnelState::Gone;
    }

    /// Sends StopCCN (§6.4) and holds state (§5.7). Every session of the
    /// tunnel is cleared with it: §5.7, "it is not necessary to clear each
    /// session individually when tearing down the whole tunnel".
    pub(crate) fn stop(&mut self, ctx: &mut Ctx<'_>, result: ResultCode) {
        if matches!(self.state, TunnelState::Gone | TunnelState::Closing { .. }) {
            return;
        }
        // What still waits for the window is moot: StopCCN clears every
        // call (§5.7), and it goes before anything else not yet sent.
        self.outbox.clear();
        // A peer that never told us its Tunnel ID (SCCRQ without Assigned
        // Tunnel ID) cannot be addressed: the tunnel is discarded without
        // a StopCCN.
        let addressable = self.peer_id != 0;
        if addressable {
            self.send(
                ctx,
                ControlMessage::stop_ccn(self.local_id, result.clone()),
                0,
            );
            ctx.events.push_back(Event::StopCcn {
                direction: Direction::Sent,
                result: result.clone(),
            });
        }
        self.all_sessions_down(ctx, Some(&result));
        ctx.events.push_back(Event::TunnelDown {
            tunnel_id: self.local_id,
            was_established: self.state == TunnelState::Established,
            initiated_locally: self.initiated_locally,
            peer: self.peer,
            cause: TunnelDownCause::LocalStopCcn,
            result: Some(result),
            at: ctx.now,
        });
        self.state = if addressable {
            TunnelState::Closing {
                until: ctx.now + ctx.config.teardown_hold,
            }
        } else {
            TunnelState::Gone
        };
    }

    fn handle(&self, session_id: u16) -> SessionHandle {
        SessionHandle {
            tunnel_id: self.local_id,
            session_id,
        }
    }

    fn stop_general(&mut self, ctx: &mut Ctx<'_>, code: GeneralError, why: &str) {
        let result = ResultCode::stop_ccn(StopCcnResult::GeneralError).with_error(code, why);
        self.stop(ctx, result);
    }

    fn stop_unauthorized(&mut self, ctx: &mut Ctx<'_>, why: &str) {
        let result = ResultCode::stop_ccn(StopCcnResult::NotAuthorized)
            .with_error(GeneralError::NoError, why);
        self.stop(ctx, result);
    }

    fn stop_fsm(&mut self, ctx: &mut Ctx<'_>, ty: MessageType) {
        let why = format!(
            "unexpected message type {} in state {:?}",
            u16::from(ty),
            self.state
        );
        let result =
            ResultCode::stop_ccn(StopCcnResult::FsmError).with_error(GeneralError::NoError, why);
        self.stop(ctx, result);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: ControlMessage) {
        let Some(ty) = msg.message_type else {
            return;
        };
        if matches!(self.state, TunnelState::Closing { .. } | TunnelState::Gone) {
            // §5.7: only acknowledgements during the hold; the channel
            // sends them.
            return;
        }
        // §4.1: "If the M bit is set on an unrecognized AVP within a
        // message associated with a particular session, the session
        // associated with this message MUST be terminated. If the M bit is
        // set on an unrecognized AVP within a message associated with the
        // overall tunnel, the entire tunnel (and all sessions within)
        // MUST be terminated."
        if msg.unrecognized_mandatory().next().is_some() {
            self.unknown_mandatory_avp(ctx, ty, &msg);
            return;
        }
        match ty {
            MessageType::Sccrq if self.state == TunnelState::Idle => self.on_sccrq(ctx, &msg),
            MessageType::Sccrp if self.state == TunnelState::WaitCtlReply => {
                self.port_may_change = false;
                self.on_sccrp(ctx, &msg);
            }
            MessageType::Scccn if self.state == TunnelState::WaitCtlConn => {
                self.on_scccn(ctx, &msg);
            }
            MessageType::StopCcn => self.on_stop_ccn(ctx, &msg),
            MessageType::Hello => {}
            MessageType::Sccrq | MessageType::Sccrp | MessageType::Scccn => {
                self.stop_fsm(ctx, ty);
            }
            MessageType::Unknown(_) => {
                // §4.4.1: "if the message type is unknown to the
                // implementation, and the M-bit is set, the tunnel MUST be
                // cleared"; without M it is ignored.
                if msg.message_type_mandatory {
                    self.stop_general(
                        ctx,
                        GeneralError::UnknownMandatoryAvp,
                        "unknown mandatory message type",
                    );
                }
            }
            _ if self.state != TunnelState::Established => self.stop_fsm(ctx, ty),
            _ => self.on_call_message(ctx, ty, &msg),
        }
    }

    fn unknown_mandatory_avp(&mut self, ctx: &mut Ctx<'_>, ty: MessageType, msg: &ControlMessage) {
        let why = msg
            .unrecognized_mandatory()
            .next()
            .map(|item| {
                format!(
                    "unknown mandatory AVP vendor {} type {}",
                    item.avp.vendor_id(),
                    item.avp.attr_type()
                )
            })
            .unwrap_or_default();
        if ty.is_tunnel_message() || self.state != TunnelState::Established {
            if self.peer_id == 0
                && let Some(id) = msg.assigned_tunnel_id().filter(|&id| id != 0)
            {
                // So that the StopCCN reaches the peer's tunnel.
                self.peer_id = id;
                self.channel.set_peer_tunnel_id(id);
            }
            self.stop_general(ctx, GeneralError::UnknownMandatoryAvp, &why);
            return;
        }
        let result = ResultCode::cdn(CdnResult::ErrorCode)
            .with_error(GeneralError::UnknownMandatoryAvp, why);
        if let Some(session_id) = self.find_session(msg) {
            self.close_session(ctx, session_id, result, None, SessionDownCause::LocalCdn);
        } else if let Some(peer_session) = msg.assigned_session_id() {
            // A new call (ICRQ, OCRQ) we never created: refuse it.
            self.refuse_unknown_call(ctx, peer_session, result);
        }
    }

    /// Our session a call message is about: the header's Session ID, or
    /// for a CDN that arrives before the peer learnt our id, its Assigned
    /// Session ID.
    fn find_session(&self, msg: &ControlMessage) -> Option<u16> {
        if msg.session_id != 0 {
            return self
                .sessions
                .contains_key(&msg.session_id)
                .then_some(msg.session_id);
        }
        let peer_session = msg.assigned_session_id()?;
        if msg.message_type == Some(MessageType::Icrq) {
            return None;
        }
        self.sessions
            .iter()
            .find(|(_, s)| s.peer_session_id == peer_session)
            .map(|(id, _)| *id)
    }

    fn check_version(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) -> bool {
        match msg.protocol_version() {
            Some(ProtocolVersion::RFC2661) => true,
            other => {
                let why = match other {
                    Some(v) => format!("protocol version {}.{}", v.version, v.revision),
                    None => "missing Protocol Version AVP".to_owned(),
                };
                let result = ResultCode::stop_ccn(StopCcnResult::UnsupportedProtocolVersion)
                    .with_error(GeneralError::from(HIGHEST_VERSION), why);
                self.stop(ctx, result);
                false
            }
        }
    }

    /// Reads the peer's Assigned Tunnel ID and window; false (after
    /// StopCCN) if absent.
    fn learn_peer(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) -> bool {
        match msg.assigned_tunnel_id() {
            Some(id) if id != 0 => {
                self.peer_id = id;
                self.channel.set_peer_tunnel_id(id);
                // §4.4.3: "If absent, the peer must assume a window size
                // of 4".
                self.channel
                    .set_peer_receive_window(msg.receive_window_size().unwrap_or(4).max(1));
                self.peer_host_name = msg.host_name().map(<[u8]>::to_vec).unwrap_or_default();
                true
            }
            _ => {
                self.stop_general(
                    ctx,
                    GeneralError::OutOfRange,
                    "missing Assigned Tunnel ID AVP",
                );
                false
            }
        }
    }

    /// The Challenge Response to the peer's Challenge, carried in a message
    /// of type `carrier` (§4.2); `Err` (after StopCCN) when the peer
    /// challenges us and we have no secret.
    fn answer_challenge(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &ControlMessage,
        carrier: MessageType,
    ) -> Result<Option<Avp>, ()> {
        match (msg.challenge(), &self.secret) {
            (None, _) => Ok(None),
            (Some(challenge), Some(secret)) => Ok(Some(Avp::ChallengeResponse(
                challenge_response(u16::from(carrier) as u8, secret, challenge),
            ))),
            (Some(_), None) => {
                self.stop_unauthorized(ctx, "challenged, but no tunnel secret is configured");
                Err(())
            }
        }
    }

    /// Checks the peer's response to our Challenge, carried in `carrier`.
    fn response_ok(&self, msg: &ControlMessage, carrier: MessageType) -> bool {
        let (Some(secret), Some(challenge)) = (&self.secret, &self.our_challenge) else {
            return true;
        };
        msg.challenge_response().is_some_and(|response| {
            verify_challenge_response(u16::from(carrier) as u8, secret, challenge, &response)
        })
    }

    /// §6.1 SCCRQ received (responder).
    fn on_sccrq(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) {
        if !self.learn_peer(ctx, msg) {
            return;
        }
        if let Some(result) = self.refuse_with.take() {
            self.stop(ctx, result);
            return;
        }
        if !self.check_version(ctx, msg) {
            return;
        }
        if msg.host_name().is_none() || msg.framing_capabilities().is_none() {
            self.stop_general(
                ctx,
                GeneralError::OutOfRange,
                "missing Host Name or Framing Capabilities AVP",
            );
            return;
        }
        // §5.1.1: with a shared secret, the SCCRQ must challenge us —
        // a LAC that cannot prove it knows the secret is not authorized.
        if self.secret.is_some() && msg.challenge().is_none() {
            self.stop_unauthorized(ctx, "tunnel authentication required: no Challenge");
            return;
        }
        let Ok(response) = self.answer_challenge(ctx, msg, MessageType::Sccrp) else {
            return;
        };
        let mut sccrp = self.start_control_message(ctx, MessageType::Sccrp);
        if let Some(avp) = response {
            sccrp = sccrp.with_avp(avp);
        }
        self.send(ctx, sccrp, 0);
        self.state = TunnelState::WaitCtlConn;
    }

    /// §6.2 SCCRP received (initiator).
    fn on_sccrp(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) {
        if !self.learn_peer(ctx, msg) || !self.check_version(ctx, msg) {
            return;
        }
        // §4.4.3 Challenge Response: "This AVP MUST be present in an SCCRP
        // or SCCCN if a challenge was received in the preceding SCCRQ or
        // SCCRP."
        if !self.response_ok(msg, MessageType::Sccrp) {
            self.stop_unauthorized(ctx, "wrong or missing Challenge Response in SCCRP");
            return;
        }
        let Ok(response) = self.answer_challenge(ctx, msg, MessageType::Scccn) else {
            return;
        };
        let mut scccn = ControlMessage::new(MessageType::Scccn);
        if let Some(avp) = response {
            scccn = scccn.with_avp(avp);
        }
        self.send(ctx, scccn, 0);
        self.established(ctx);
    }

    /// §6.3 SCCCN received (responder).
    fn on_scccn(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) {
        if !self.response_ok(msg, MessageType::Scccn) {
            self.stop_unauthorized(ctx, "wrong or missing Challenge Response in SCCCN");
            return;
        }
        self.established(ctx);
    }

    fn established(&mut self, ctx: &mut Ctx<'_>) {
        self.state = TunnelState::Established;
        ctx.events.push_back(Event::TunnelUp {
            tunnel_id: self.local_id,
            peer_tunnel_id: self.peer_id,
            peer: self.peer,
            initiated_locally: self.initiated_locally,
            peer_host_name: self.peer_host_name.clone(),
            requested_at: self.requested_at,
            at: ctx.now,
        });
        // Waiting calls are placed by the next flush (`settle`).
    }

    /// §6.4 StopCCN received.
    fn on_stop_ccn(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) {
        let result = msg.result_code().cloned();
        if let Some(result) = &result {
            ctx.events.push_back(Event::StopCcn {
                direction: Direction::Received,
                result: result.clone(),
            });
        }
        self.all_sessions_down(ctx, result.as_ref());
        // Nothing more to say to a peer that stopped: what waited for
        // the window is dropped (the channel still acknowledges, §5.7).
        self.outbox.clear();
        ctx.events.push_back(Event::TunnelDown {
            tunnel_id: self.local_id,
            was_established: self.state == TunnelState::Established,
            initiated_locally: self.initiated_locally,
            peer: self.peer,
            cause: TunnelDownCause::PeerStopCcn,
            result,
            at: ctx.now,
        });
        // §5.7: the recipient keeps the tunnel long enough to acknowledge
        // a retransmitted StopCCN.
        self.state = TunnelState::Closing {
            until: ctx.now + ctx.config.teardown_hold,
        };
    }
}
