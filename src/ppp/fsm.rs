//! The RFC 1661 §4 option-negotiation automaton, shared by LCP, IPCP and
//! IPv6CP.
//!
//! The machine is declared as data: [`TRANSITIONS`] lists, for every
//! (state, event) pair RFC 1661 §4.1 defines, the actions to run and the
//! next state, exactly as the RFC's state transition table does. An absent
//! pair is the RFC's "-" ("should not happen"): the event is ignored and
//! counted. [`render_dot`] draws the table with Graphviz; the drawing is
//! kept under test (`tests/snapshots/ppp-fsm.dot`) so a change to the
//! machine is visible in review. The table, with its states, events and
//! actions, is in the `table` submodule and re-exported here.
//!
//! Implemented:
//!
//! - the ten states, sixteen events and thirteen actions of §4.1–§4.4;
//! - the Restart timer and the Max-Configure, Max-Terminate and
//!   Max-Failure counters of §4.6 (a Configure-Nak that would exceed
//!   Max-Failure is sent as a Configure-Reject);
//! - Identifier matching (§5.2–§5.4): "On reception, the Identifier field
//!   of the Configure-Ack is compared with that of the last transmitted
//!   Configure-Request. Invalid packets are silently discarded."; the
//!   Identifier changes on every Configure-Request we send (allowed by
//!   §5.1), so a late duplicate reply never matches;
//! - a received Configure-Request is judged option by option into Ack, Nak
//!   or Reject by a [`Negotiator`], Reject taking precedence over Nak
//!   (§5.4: "If some Configuration Options received in a Configure-Request
//!   are not recognizable or are not acceptable for negotiation ... then
//!   the implementation MUST transmit a Configure-Reject"); an unknown or
//!   badly sized option is rejected; an option list that does not parse
//!   (an option Length below 2 or past the packet) drops the packet;
//! - a Configure-Ack must repeat our request exactly (§5.2: "the
//!   Configuration Options in a Configure-Ack MUST exactly match those of
//!   the last transmitted Configure-Request"); a Configure-Reject must
//!   only carry options we sent (§5.4: "MUST NOT reorder or modify").
//!
//! - [`Automaton::adopt_opened`] enters Opened with an exchange done
//!   elsewhere, as the table leaves the automaton after one (RFC 2661
//!   §4.4.5 proxy LCP: an LNS adopting what the LAC negotiated), without
//!   sending anything.
//!
//! Codes 8–13 (LCP only) are left to the caller ([`super::Link`]), which
//! feeds the automaton the RXR / RXJ± events they produce.

use core::fmt;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::queue::PacketQueue;
use crate::wire::ppp::Protocol;
use crate::wire::ppp::control::{
    Code, ConfigOption, ControlPacket, HEADER_LEN, MAX_PACKET_LEN, OptionIter, emit_header,
};

mod table;

pub use table::{Action, Event, State, TRANSITIONS, Transition, render_dot, transition};

/// Packets and events kept at most before the oldest are dropped, so a
/// driver that stops polling cannot make a core grow without bound.
const MAX_QUEUED: usize = 64;
/// Capacity the reply buffer keeps between packets; a longer reply (a
/// large Echo-Reply) gives its buffer back.
const REPLY_RETAINED: usize = 1500;

// ---------------------------------------------------------------------------
// Option handling, per protocol
// ---------------------------------------------------------------------------

/// The judgement on one option of a received Configure-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<O> {
    /// Acceptable as is.
    Ack,
    /// Not acceptable; suggest this value instead (§5.3).
    Nak(O),
    /// Not negotiable at all (§5.4).
    Reject,
}

/// Why negotiation of a protocol cannot go on; the link driver closes the
/// protocol (and, for LCP, the link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationFailure {
    /// The peer rejected or refused an option we cannot do without
    /// (e.g. the Authentication-Protocol on the authenticator, the
    /// IP-Address on an IPCP client). Carries the option Type.
    RequiredOptionRefused(u8),
    /// The peer Naks every authentication protocol we offer.
    NoCommonAuthProtocol,
    /// RFC 1661 §6.4: our Magic-Number keeps coming back: the link is
    /// looped back.
    LoopedBack,
    /// The peer acknowledged an unusable value (e.g. IPCP 0.0.0.0).
    Unusable(&'static str),
}

/// Option handling of one control protocol, plugged into [`Automaton`].
pub trait Negotiator {
    /// The protocol's typed option.
    type Option: ConfigOption + Clone + PartialEq + fmt::Debug;

    /// The options of our next Configure-Request.
    fn request(&mut self) -> Vec<Self::Option>;

    /// Called once before the options of a received Configure-Request are
    /// judged (to forget what the previous request set).
    fn begin_peer_request(&mut self) {}

    /// Judges one option of a received Configure-Request.
    fn judge(&mut self, option: &Self::Option) -> Verdict<Self::Option>;

    /// Options the peer did not include but must (§5.3: "the Configure-Nak
    /// ... MAY ... include Configuration Options ... not present in the
    /// Configure-Request ... to prompt the peer to include"). Called only
    /// when no option was rejected.
    fn missing(&mut self, _received: &[Self::Option]) -> Vec<Self::Option> {
        Vec::new()
    }

    /// We acknowledged the peer's request: these are its options.
    fn peer_acked(&mut self, options: &[Self::Option]);

    /// The peer acknowledged our request.
    fn our_acked(&mut self, options: &[Self::Option]) -> Result<(), NegotiationFailure>;

    /// The peer Nak'd our request with these suggestions.
    fn nak_received(&mut self, options: &[Self::Option]) -> Result<(), NegotiationFailure>;

    /// The peer rejected these options of our request.
    fn reject_received(&mut self, options: &[Self::Option]) -> Result<(), NegotiationFailure>;

    /// The layer went down or is starting over: forget negotiated values.
    fn reset(&mut self) {}

    /// The layer is taken over already negotiated (RFC 2661 §4.4.5 proxy
    /// LCP, see [`Automaton::adopt_opened`]): `ours` is the request the
    /// peer acknowledged, `peer` the one acknowledged to it. By default the
    /// negotiator hears both as if the exchange had just completed; a
    /// negotiator that keeps request state of its own (LCP's Magic-Number)
    /// overrides this to take the adopted values as its request.
    fn adopt(
        &mut self,
        ours: &[Self::Option],
        peer: &[Self::Option],
    ) -> Result<(), NegotiationFailure> {
        self.begin_peer_request();
        self.peer_acked(peer);
        self.our_acked(ours)
    }
}

/// Why [`Automaton::adopt_opened`] left the automaton as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdoptRefused {
    /// Only a layer that is not negotiating (Initial, Starting, Closed,
    /// Stopped) can be adopted.
    State(State),
    /// An option list does not parse, or holds a badly sized option.
    MalformedOptions,
    /// The negotiator refused the adopted values.
    Failed(NegotiationFailure),
}

// ---------------------------------------------------------------------------
// Automaton
// ---------------------------------------------------------------------------

/// RFC 1661 §4.6 timers and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsmConfig {
    /// Restart timer. Default 3 s.
    pub restart_timer: Duration,
    /// Max-Configure. Default 10.
    pub max_configure: u8,
    /// Max-Terminate. Default 2.
    pub max_terminate: u8,
    /// Max-Failure. Default 5.
    pub max_failure: u8,
}

impl Default for FsmConfig {
    fn default() -> Self {
        Self {
            restart_timer: Duration::from_secs(3),
            max_configure: 10,
            max_terminate: 2,
            max_failure: 5,
        }
    }
}

/// Why a received packet was dropped without affecting the automaton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than 4 bytes, or Length out of range (§5).
    BadLength,
    /// The option list does not parse (Length below 2 or past the packet).
    MalformedOptions,
    /// A reply whose Identifier is not that of our outstanding request.
    WrongIdentifier,
    /// A Configure-Ack that does not repeat our request exactly.
    AckMismatch,
    /// A Configure-Reject naming options we did not send.
    RejectMismatch,
    /// The RFC's "-": the event should not happen in this state.
    UnexpectedInState,
}

/// What the automaton tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsmEvent {
    /// This-Layer-Up.
    Up,
    /// This-Layer-Down.
    Down,
    /// This-Layer-Started.
    Started,
    /// This-Layer-Finished.
    Finished,
    /// The Negotiator gave up; the owner should close the layer.
    Failed(NegotiationFailure),
    /// A received packet was dropped.
    Dropped(DropReason),
    /// A state change (for tracing and metrics).
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
}

/// Counters for observability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsmStats {
    /// Configure-Requests sent (retransmissions included).
    pub configure_requests_sent: u64,
    /// Terminate-Requests sent.
    pub terminate_requests_sent: u64,
    /// Restart-timer expiries.
    pub timeouts: u64,
    /// Configure-Naks turned into Configure-Rejects by Max-Failure.
    pub naks_converted: u64,
    /// Received packets dropped.
    pub dropped: u64,
    /// Packets or events discarded because the owner did not poll.
    pub queue_overflows: u64,
    /// Polls whose buffer was shorter than the next packet (which stayed
    /// queued, see [`Automaton::poll_transmit`]).
    pub transmit_deferred: u64,
}

/// The RFC 1661 automaton of one control protocol.
#[derive(Debug)]
pub struct Automaton<N: Negotiator> {
    protocol: Protocol,
    link_control: bool,
    negotiator: N,
    config: FsmConfig,
    state: State,
    restart_counter: u8,
    failure_counter: u8,
    restart_deadline: Option<Instant>,
    next_identifier: u8,
    /// Identifier of the outstanding Configure-Request (its options are
    /// `last_sent_request`).
    outstanding: Option<u8>,
    /// Reply prepared for sca / scn / sta / scj / ser, valid while
    /// `reply_ready`; the buffer is kept from packet to packet.
    reply: Vec<u8>,
    reply_ready: bool,
    /// The peer's options, recorded when `sca` runs.
    pending_peer_options: Option<Vec<N::Option>>,
    /// Identifier of the packet being handled (for sta).
    received_identifier: u8,
    last_sent_request: Option<Vec<u8>>,
    last_received_request: Option<Vec<u8>>,
    first_received_request: Option<Vec<u8>>,
    transmit: PacketQueue<()>,
    events: VecDeque<FsmEvent>,
    stats: FsmStats,
}

impl<N: Negotiator> Automaton<N> {
    /// A new automaton in the Initial state; `first_identifier` seeds the
    /// Identifier sequence (randomise it per link).
    pub fn new(negotiator: N, config: FsmConfig, first_identifier: u8) -> Self {
        Self {
            protocol: <N::Option as ConfigOption>::PROTOCOL,
            link_control: <N::Option as ConfigOption>::LINK_CONTROL,
            negotiator,
            config,
            state: State::Initial,
            restart_counter: 0,
            failure_counter: config.max_failure,
            restart_deadline: None,
            next_identifier: first_identifier,
            outstanding: None,
            reply: Vec::new(),
            reply_ready: false,
            pending_peer_options: None,
            received_identifier: 0,
            last_sent_request: None,
            last_received_request: None,
            first_received_request: None,
            transmit: PacketQueue::new(MAX_QUEUED),
            events: VecDeque::new(),
            stats: FsmStats::default(),
        }
    }

    /// The protocol this automaton negotiates.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the layer is up.
    pub fn is_opened(&self) -> bool {
        self.state == State::Opened
    }

    /// The option handler.
    pub fn negotiator(&self) -> &N {
        &self.negotiator
    }

    /// The option handler, mutably (e.g. to give IPCP the assigned address).
    pub fn negotiator_mut(&mut self) -> &mut N {
        &mut self.negotiator
    }

    /// Counters.
    pub fn stats(&self) -> FsmStats {
        self.stats
    }

    /// The option bytes of the last Configure-Request we sent.
    pub fn last_sent_request(&self) -> Option<&[u8]> {
        self.last_sent_request.as_deref()
    }

    /// The option bytes of the last Configure-Request we received.
    pub fn last_received_request(&self) -> Option<&[u8]> {
        self.last_received_request.as_deref()
    }

    /// The option bytes of the first Configure-Request we received.
    pub fn first_received_request(&self) -> Option<&[u8]> {
        self.first_received_request.as_deref()
    }

    /// Enters Opened with an exchange completed elsewhere (RFC 2661 §4.4.5
    /// proxy LCP: the LAC negotiated with the peer, the LNS takes the
    /// result over). `our_request` is the Configure-Request option bytes
    /// the peer acknowledged (they count as ours from now on), and
    /// `peer_request` those of the peer's acknowledged request.
    ///
    /// The automaton ends where RFC 1661 §4.1 leaves it after a completed
    /// exchange (Ack-Sent + RCA, or Ack-Rcvd + RCR+): Opened, no Restart
    /// timer, counters initialised, the negotiator told both option lists
    /// ([`Negotiator::adopt`]), the requests recorded as last sent and last
    /// received. Nothing is sent. Only a `StateChanged` event is queued:
    /// the owner runs This-Layer-Up itself, because it decides what
    /// follows (an LNS does not start authentication at once). Afterwards
    /// the automaton runs the table from Opened as usual (a
    /// Configure-Request renegotiates, §4; a Terminate-Request is
    /// acknowledged).
    pub fn adopt_opened(
        &mut self,
        our_request: &[u8],
        peer_request: &[u8],
    ) -> Result<(), AdoptRefused> {
        let from = self.state;
        if !matches!(
            from,
            State::Initial | State::Starting | State::Closed | State::Stopped
        ) {
            return Err(AdoptRefused::State(from));
        }
        let (Some(ours), Some(peer)) = (
            parse_all::<N::Option>(our_request),
            parse_all::<N::Option>(peer_request),
        ) else {
            return Err(AdoptRefused::MalformedOptions);
        };
        self.negotiator.reset();
        self.negotiator
            .adopt(&ours, &peer)
            .map_err(AdoptRefused::Failed)?;
        self.restart_counter = self.config.max_configure;
        self.failure_counter = self.config.max_failure;
        self.restart_deadline = None;
        self.outstanding = None;
        self.reply_ready = false;
        self.pending_peer_options = None;
        self.last_sent_request = Some(our_request.to_vec());
        self.last_received_request = Some(peer_request.to_vec());
        if self.first_received_request.is_none() {
            self.first_received_request = Some(peer_request.to_vec());
        }
        self.state = State::Opened;
        if from != State::Opened {
            self.push_event(FsmEvent::StateChanged {
                from,
                to: State::Opened,
            });
        }
        Ok(())
    }

    /// Lower layer up.
    pub fn up(&mut self, now: Instant) {
        self.failure_counter = self.config.max_failure;
        self.dispatch(now, Event::Up);
    }

    /// Lower layer down.
    pub fn down(&mut self, now: Instant) {
        self.dispatch(now, Event::Down);
    }

    /// Administrative Open.
    pub fn open(&mut self, now: Instant) {
        self.dispatch(now, Event::Open);
    }

    /// Administrative Close.
    pub fn close(&mut self, now: Instant) {
        self.dispatch(now, Event::Close);
    }

    /// A Code-Reject or Protocol-Reject the caller classified (RXJ±).
    pub fn reject_received(&mut self, now: Instant, catastrophic: bool) {
        let event = if catastrophic {
            Event::RxjBad
        } else {
            Event::RxjGood
        };
        self.dispatch(now, event);
    }

    /// An Echo-Request (RXR): queues `reply` (the Echo-Reply) if the
    /// state's action is `ser`; returns whether it was sent.
    pub fn echo_request_received(&mut self, now: Instant, reply: &[u8]) -> bool {
        self.clear_reply();
        self.reply.extend_from_slice(reply);
        self.reply_ready = true;
        self.dispatch(now, Event::Rxr);
        !core::mem::take(&mut self.reply_ready)
    }

    /// An Echo-Reply or Discard-Request (RXR, no action).
    pub fn other_rxr(&mut self, now: Instant) {
        self.dispatch(now, Event::Rxr);
    }

    /// When the Restart timer fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.restart_deadline
    }

    /// Runs the Restart timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.restart_deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        self.restart_deadline = None;
        self.stats.timeouts += 1;
        let event = if self.restart_counter > 0 {
            Event::TimeoutRetry
        } else {
            Event::TimeoutExpired
        };
        self.dispatch(now, event);
    }

    /// Writes the next packet to send (starting at the Code octet) into
    /// `buf` and returns its length; `None` when nothing is queued.
    ///
    /// A packet longer than `buf` is not lost: nothing is written, the
    /// packet stays first in the queue, `None` is returned and
    /// [`FsmStats::transmit_deferred`] counts the attempt; poll again with
    /// at least [`next_transmit_len`](Self::next_transmit_len) octets. No
    /// packet is longer than the 65,535 octets a Length field counts; our
    /// own requests are short, and a reply is about as long as the packet
    /// it answers (an Echo-Reply, a Configure-Ack or -Reject repeat it).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        let ((), packet) = self.transmit.front()?;
        let Some(out) = buf.get_mut(..packet.len()) else {
            self.stats.transmit_deferred += 1;
            return None;
        };
        out.copy_from_slice(packet);
        self.transmit.pop_front();
        Some(out.len())
    }

    /// The length of the packet [`poll_transmit`](Self::poll_transmit)
    /// would write next, if any.
    pub fn next_transmit_len(&self) -> Option<usize> {
        self.transmit.front().map(|((), packet)| packet.len())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<FsmEvent> {
        self.events.pop_front()
    }

    /// Handles a received packet of this protocol (starting at the Code
    /// octet). LCP Codes 8–13 must be handled by the caller; here they
    /// count as unknown (RUC) for an NCP, as RFC 1332 §2 requires.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(packet) = ControlPacket::new_checked(bytes) else {
            self.drop_packet(DropReason::BadLength);
            return;
        };
        let code = packet.code();
        self.received_identifier = packet.identifier();
        if !code.is_defined(self.link_control) {
            self.send_code_reject(now, packet.packet());
            return;
        }
        match code {
            Code::ConfigureRequest => {
                self.handle_configure_request(now, packet.identifier(), packet.data());
            }
            Code::ConfigureAck => {
                self.handle_configure_ack(now, packet.identifier(), packet.data());
            }
            Code::ConfigureNak | Code::ConfigureReject => self.handle_nak_or_reject(
                now,
                packet.identifier(),
                packet.data(),
                code == Code::ConfigureReject,
            ),
            Code::TerminateRequest => {
                self.prepare_reply(Code::TerminateAck, packet.identifier(), &[]);
                self.dispatch(now, Event::Rtr);
            }
            Code::TerminateAck => self.dispatch(now, Event::Rta),
            Code::CodeReject => {
                // §5.6: a rejected Code 1–7 is catastrophic (RXJ-).
                let rejected = packet.data().first().copied().unwrap_or(0);
                self.reject_received(now, (1..=7).contains(&rejected));
            }
            _ => {
                // LCP Codes 8–13 reach here only if the caller did not take
                // them; treat as unknown.
                self.send_code_reject(now, packet.packet());
            }
        }
    }

    fn send_code_reject(&mut self, now: Instant, rejected: &[u8]) {
        // §5.6: "Rejected-Packet ... MUST be truncated to comply with the
        // peer's established MRU." 1500 minus the header is safe for every
        // MRU we accept (we never accept a peer MRU below 128; keep it
        // under that too).
        let keep = rejected.len().min(128 - 4);
        let id = self.take_identifier();
        self.prepare_reply(Code::CodeReject, id, &rejected[..keep]);
        self.dispatch(now, Event::Ruc);
    }

    fn handle_configure_request(&mut self, now: Instant, identifier: u8, data: &[u8]) {
        let mut raws = Vec::new();
        for raw in OptionIter::new(data) {
            match raw {
                Ok(raw) => raws.push(raw),
                Err(_) => {
                    self.drop_packet(DropReason::MalformedOptions);
                    return;
                }
            }
        }
        if matches!(self.state, State::Initial | State::Starting) {
            self.drop_packet(DropReason::UnexpectedInState);
            return;
        }
        if self.first_received_request.is_none() {
            self.first_received_request = Some(data.to_vec());
        }
        self.last_received_request = Some(data.to_vec());

        self.negotiator.begin_peer_request();
        let mut rejected: Vec<u8> = Vec::new();
        let mut naks: Vec<N::Option> = Vec::new();
        let mut parsed: Vec<N::Option> = Vec::new();
        let converting = self.failure_counter == 0;
        for raw in &raws {
            match <N::Option as ConfigOption>::parse(*raw) {
                // A known Type with a bad length: reject it verbatim.
                Err(_) => rejected.extend_from_slice(raw.bytes),
                Ok(option) => {
                    match self.negotiator.judge(&option) {
                        Verdict::Ack => {}
                        Verdict::Reject => rejected.extend_from_slice(raw.bytes),
                        Verdict::Nak(suggestion) => {
                            if converting {
                                // §4.6 Max-Failure: "Any further Configure-Nak
                                // packets for peer requested options are
                                // converted to Configure-Reject packets".
                                self.stats.naks_converted += 1;
                                rejected.extend_from_slice(raw.bytes);
                            } else {
                                naks.push(suggestion);
                            }
                        }
                    }
                    parsed.push(option);
                }
            }
        }
        let event = if !rejected.is_empty() {
            self.prepare_reply(Code::ConfigureReject, identifier, &rejected);
            Event::RcrBad
        } else {
            if !converting {
                naks.extend(self.negotiator.missing(&parsed));
            }
            if naks.is_empty() {
                // Recorded when `sca` runs: a `tld` in the same row resets
                // the negotiator first.
                self.pending_peer_options = Some(parsed);
                self.failure_counter = self.config.max_failure;
                // §5.2: the Ack repeats the options exactly.
                self.prepare_reply(Code::ConfigureAck, identifier, data);
                Event::RcrGood
            } else {
                self.failure_counter = self.failure_counter.saturating_sub(1);
                self.prepare_reply(Code::ConfigureNak, identifier, &encode_options(&naks));
                Event::RcrBad
            }
        };
        self.dispatch(now, event);
    }

    fn matches_outstanding(&self, identifier: u8) -> Option<&[u8]> {
        match (self.outstanding, &self.last_sent_request) {
            (Some(id), Some(bytes)) if id == identifier => Some(bytes),
            _ => None,
        }
    }

    fn handle_configure_ack(&mut self, now: Instant, identifier: u8, data: &[u8]) {
        if self.state_ignores_replies() {
            self.dispatch(now, Event::Rca);
            return;
        }
        let Some(sent) = self.matches_outstanding(identifier) else {
            self.drop_packet(DropReason::WrongIdentifier);
            return;
        };
        if sent != data {
            self.drop_packet(DropReason::AckMismatch);
            return;
        }
        let options = match parse_all::<N::Option>(data) {
            Some(options) => options,
            None => {
                self.drop_packet(DropReason::MalformedOptions);
                return;
            }
        };
        self.outstanding = None;
        if let Err(failure) = self.negotiator.our_acked(&options) {
            self.push_event(FsmEvent::Failed(failure));
            return;
        }
        self.dispatch(now, Event::Rca);
    }

    /// States where a reply is answered by the table without looking at it
    /// (Closed and Stopped send Terminate-Ack, Closing and Stopping ignore).
    fn state_ignores_replies(&self) -> bool {
        matches!(
            self.state,
            State::Closed | State::Stopped | State::Closing | State::Stopping
        )
    }

    fn handle_nak_or_reject(&mut self, now: Instant, identifier: u8, data: &[u8], reject: bool) {
        if self.state_ignores_replies() {
            self.prepare_reply(Code::TerminateAck, identifier, &[]);
            self.dispatch(now, Event::Rcn);
            return;
        }
        let Some(sent) = self.matches_outstanding(identifier) else {
            self.drop_packet(DropReason::WrongIdentifier);
            return;
        };
        if reject && !is_subsequence(data, sent) {
            self.drop_packet(DropReason::RejectMismatch);
            return;
        }
        // A suggestion that does not parse is useless; a bad list drops.
        let mut options = Vec::new();
        for raw in OptionIter::new(data) {
            let Ok(raw) = raw else {
                self.drop_packet(DropReason::MalformedOptions);
                return;
            };
            match <N::Option as ConfigOption>::parse(raw) {
                Ok(option) => options.push(option),
                Err(_) if reject => {
                    self.drop_packet(DropReason::RejectMismatch);
                    return;
                }
                Err(_) => {}
            }
        }
        self.outstanding = None;
        let result = if reject {
            self.negotiator.reject_received(&options)
        } else {
            self.negotiator.nak_received(&options)
        };
        if let Err(failure) = result {
            self.push_event(FsmEvent::Failed(failure));
            return;
        }
        self.dispatch(now, Event::Rcn);
    }

    fn drop_packet(&mut self, reason: DropReason) {
        self.stats.dropped += 1;
        self.push_event(FsmEvent::Dropped(reason));
    }

    fn push_event(&mut self, event: FsmEvent) {
        if self.events.len() >= MAX_QUEUED {
            self.events.pop_front();
            self.stats.queue_overflows += 1;
        }
        self.events.push_back(event);
    }

    /// Builds a control packet in the reply buffer, for the action the
    /// row runs (a row that does not send it discards it).
    fn prepare_reply(&mut self, code: Code, identifier: u8, data: &[u8]) {
        // Our data never exceeds a control packet: cap defensively.
        let data = &data[..data.len().min(MAX_PACKET_LEN - HEADER_LEN)];
        self.clear_reply();
        self.reply.resize(HEADER_LEN, 0);
        if emit_header(&mut self.reply, u8::from(code), identifier, data.len()).is_ok() {
            self.reply.extend_from_slice(data);
        }
        self.reply_ready = true;
    }

    fn clear_reply(&mut self) {
        self.reply.clear();
        if self.reply.capacity() > REPLY_RETAINED {
            self.reply.shrink_to(REPLY_RETAINED);
        }
    }

    /// Queues the prepared reply, if there is one.
    fn send_reply(&mut self) {
        if core::mem::take(&mut self.reply_ready)
            && self.transmit.push((), &self.reply).dropped_oldest()
        {
            self.stats.queue_overflows += 1;
        }
    }

    /// Queues a control packet, written straight into the queue.
    fn send(&mut self, code: Code, identifier: u8, data: &[u8]) {
        if self
            .transmit
            .push_control((), code, identifier, &[data])
            .dropped_oldest()
        {
            self.stats.queue_overflows += 1;
        }
    }

    fn take_identifier(&mut self) -> u8 {
        let id = self.next_identifier;
        self.next_identifier = self.next_identifier.wrapping_add(1);
        id
    }

    /// Runs one event through the table.
    fn dispatch(&mut self, now: Instant, event: Event) {
        let Some(row) = transition(self.state, event) else {
            self.reply_ready = false;
            self.drop_packet(DropReason::UnexpectedInState);
            return;
        };
        let from = self.state;
        for action in row.actions {
            self.run(now, *action, row.to);
        }
        self.state = row.to;
        if !row.to.restart_timer_runs() {
            self.restart_deadline = None;
        }
        if from != row.to {
            self.push_event(FsmEvent::StateChanged { from, to: row.to });
        }
        // A reply prepared for an action the row did not run is discarded.
        self.reply_ready = false;
        self.pending_peer_options = None;
    }

    fn run(&mut self, now: Instant, action: Action, next: State) {
        match action {
            Action::Tlu => self.push_event(FsmEvent::Up),
            Action::Tld => {
                self.negotiator.reset();
                self.push_event(FsmEvent::Down);
            }
            Action::Tls => {
                self.failure_counter = self.config.max_failure;
                self.push_event(FsmEvent::Started);
            }
            Action::Tlf => {
                self.outstanding = None;
                self.negotiator.reset();
                self.push_event(FsmEvent::Finished);
            }
            Action::Irc => {
                self.restart_counter = if matches!(next, State::Closing | State::Stopping) {
                    self.config.max_terminate
                } else {
                    self.config.max_configure
                };
            }
            Action::Zrc => {
                self.restart_counter = 0;
                self.restart_deadline = Some(now + self.config.restart_timer);
            }
            Action::Scr => {
                let options = self.negotiator.request();
                let bytes = encode_options(&options);
                let id = self.take_identifier();
                self.send(Code::ConfigureRequest, id, &bytes);
                self.last_sent_request = Some(bytes);
                self.outstanding = Some(id);
                self.after_restartable_send(now);
                self.stats.configure_requests_sent += 1;
            }
            Action::Str => {
                let id = self.take_identifier();
                self.outstanding = None;
                self.send(Code::TerminateRequest, id, &[]);
                self.after_restartable_send(now);
                self.stats.terminate_requests_sent += 1;
            }
            Action::Sca => {
                if let Some(options) = self.pending_peer_options.take() {
                    self.negotiator.peer_acked(&options);
                }
                self.send_reply();
            }
            Action::Scn | Action::Scj | Action::Ser => self.send_reply(),
            Action::Sta => {
                // RTR prepared the Ack with its Identifier; RCR / RCA / RCN
                // in Closed or Stopped answer with a fresh one.
                if self.reply_ready && self.reply.first() == Some(&u8::from(Code::TerminateAck)) {
                    self.send_reply();
                } else {
                    self.reply_ready = false;
                    self.send(Code::TerminateAck, self.received_identifier, &[]);
                }
            }
        }
    }

    fn after_restartable_send(&mut self, now: Instant) {
        self.restart_counter = self.restart_counter.saturating_sub(1);
        self.restart_deadline = Some(now + self.config.restart_timer);
    }
}

fn encode_options<O: ConfigOption>(options: &[O]) -> Vec<u8> {
    let mut out = Vec::new();
    for option in options {
        let mut buf = vec![0; option.buffer_len()];
        // An option too long for one TLV is a bug in a Negotiator; skip it
        // rather than send garbage.
        if option.emit(&mut buf).is_ok() {
            out.extend_from_slice(&buf);
        }
    }
    out
}

fn parse_all<O: ConfigOption>(data: &[u8]) -> Option<Vec<O>> {
    OptionIter::new(data)
        .map(|raw| raw.ok().and_then(|raw| O::parse(raw).ok()))
        .collect()
}

/// Whether every option TLV in `rejected` appears, in order and
/// unmodified, in `sent`.
fn is_subsequence(rejected: &[u8], sent: &[u8]) -> bool {
    let mut sent_options = OptionIter::new(sent).filter_map(Result::ok);
    OptionIter::new(rejected).all(|raw| match raw {
        Ok(raw) => sent_options.any(|s| s.bytes == raw.bytes),
        Err(_) => false,
    })
}
