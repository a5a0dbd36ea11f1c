//! The L2TPv2 reliable control channel (RFC 2661 §5.8 and Appendix A), as a
//! sans-IO core.
//!
//! One [`ControlChannel`] per tunnel carries control messages in order,
//! exactly once, over an unreliable datagram path:
//!
//! * **Sequence numbers** (§5.8): every non-ZLB message takes one Ns; Nr is
//!   the next Ns expected from the peer. All comparisons are modulo 2¹⁶ with
//!   the RFC's rule that a number is "less than or equal" to the last one
//!   received when it lies in the 32768 values up to and including it.
//! * **Sending**: [`ControlChannel::send`] assigns Ns and emits the message
//!   once (hidden AVPs included, [`ControlChannel::send_with_hiding`]);
//!   every (re)transmission writes the same bytes with the current Nr and
//!   peer Tunnel ID patched in place. Never more unacknowledged messages in
//!   flight than the peer's Receive Window Size, nor than the congestion
//!   window of Appendix A (slow start from 1, congestion avoidance above
//!   SSTHRESH, SSTHRESH = CWND/2 and CWND = 1 on a retransmission timeout).
//! * **Retransmission**: the oldest unacknowledged message is retransmitted
//!   after `retransmit_initial`, then after exponentially growing intervals
//!   capped at `retransmit_max`; after `max_retransmits` retransmissions
//!   without an acknowledgement the peer is declared dead
//!   ([`ChannelEvent::PeerDead`]). After a timeout the window collapses to
//!   one message and later messages are resent as it reopens (go-back-N).
//! * **Receiving**: in-order delivery ([`ChannelEvent::Delivered`]);
//!   messages ahead of Nr but inside our receive window are queued until the
//!   gap fills; duplicates are dropped and re-acknowledged at once; messages
//!   beyond the window are dropped and counted.
//! * **Acknowledgements**: piggybacked on every outgoing message; otherwise
//!   a ZLB after `ack_delay`, or at once when half the receive window we
//!   advertised is unacknowledged. A ZLB takes no Ns and is never
//!   acknowledged. Test equipment can behave like LNSs that acknowledge
//!   only late: with `piggyback_acks` off, messages carry the Nr of our
//!   last acknowledgement (stale but cumulative, so legal) and what was
//!   received is acknowledged only once `ack_delay` has passed (by a ZLB,
//!   or by the next message sent after that); with
//!   `immediate_ack_at_half_window` off, half a window no longer hurries
//!   the acknowledgement.
//! * **HELLO** (§6.5): after `hello_interval` without control traffic in
//!   either direction, a HELLO goes through the reliable path, so a dead
//!   peer is detected by the retransmission limit.
//!
//! * **Interoperability**: a ZLB carries the oldest unacknowledged Ns (the
//!   Ns the peer last said it expects), because xl2tpd discards a ZLB, Nr
//!   included, whose Ns is not the one it expects; and xl2tpd drops
//!   out-of-order messages instead of queueing them, which go-back-N
//!   retransmission repairs. Tests replay xl2tpd ↔ BNG Blaster captures and
//!   reproduce every datagram byte for byte, and xl2tpd's SCCRQ
//!   retransmission times.
//!
//! Memory is bounded whatever the peer sends: the reorder buffer holds at
//! most our receive window, the send queue at most `max_send_queue`
//! messages, and diagnostic events are capped (the counters in
//! [`ChannelStats`] are not).
//!
//! The driver calls `handle_message` / `handle_timeout` on input, then
//! drains `poll_transmit` into a buffer it owns (at least
//! [`MAX_CONTROL_LEN`] bytes: then every message fits) and `poll_event`,
//! and sleeps until `poll_timeout`:
//!
//! ```
//! use std::time::Instant;
//! use tunnelnas::l2tp::channel::{ChannelConfig, ChannelEvent, ControlChannel, MAX_CONTROL_LEN};
//! use tunnelnas::wire::l2tp::{ControlMessage, MessageType};
//!
//! let now = Instant::now();
//! let mut lac = ControlChannel::new(ChannelConfig::default());
//! let mut lns = ControlChannel::new(ChannelConfig::default());
//! lac.send(now, ControlMessage::new(MessageType::Sccrq))?;
//! let mut buf = vec![0; MAX_CONTROL_LEN];
//! while let Some(len) = lac.poll_transmit(now, &mut buf) {
//!     lns.handle_message(now, &buf[..len], None)?;
//! }
//! assert!(matches!(
//!     lns.poll_event(),
//!     Some(ChannelEvent::Delivered(msg)) if msg.message_type == Some(MessageType::Sccrq)
//! ));
//! // Nothing to send back within ack_delay: the LNS acknowledges with a ZLB.
//! let later = lns.poll_timeout().expect("delayed ack");
//! lns.handle_timeout(later);
//! let len = lns.poll_transmit(later, &mut buf).expect("ZLB");
//! lac.handle_message(later, &buf[..len], None)?;
//! assert!(lac.is_idle() && lns.is_idle());
//! # Ok::<(), tunnelnas::l2tp::channel::ChannelError>(())
//! ```
//!
//! The channel does not look at message types beyond HELLO (which it
//! sends; received HELLOs are delivered like any message): tunnel and
//! session state machines consume [`ChannelEvent::Delivered`] and put the
//! Receive Window Size AVPs into SCCRQ/SCCRP themselves
//! ([`ControlChannel::receive_window`], [`ControlChannel::set_peer_receive_window`]).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::wire;
use crate::wire::l2tp::{ControlMessage, Hiding, MessageType, Packet};

/// A buffer this long takes any control datagram: the header's Length
/// field is 16 bits (RFC 2661 §3.1), and [`ControlChannel::send`] refuses a
/// message that would be longer. Callers of `poll_transmit` provide at
/// least this much; a shorter buffer works for the messages that fit it,
/// and one that does not fit stays queued (see
/// [`ControlChannel::poll_transmit`]).
pub const MAX_CONTROL_LEN: usize = u16::MAX as usize;

/// Largest receive window or send queue the channel uses: half the
/// sequence space, so that "ahead" and "behind" stay unambiguous (§5.8).
pub const MAX_WINDOW: u16 = 32768;

/// Longest interval any timer of the channel uses; longer configured values
/// are clamped (so that adding them to an `Instant` cannot overflow).
pub const MAX_TIMER: Duration = Duration::from_secs(24 * 3600);

/// At most this many diagnostic events ([`ChannelEvent::Duplicate`],
/// [`ChannelEvent::OutOfWindow`], [`ChannelEvent::OutOfOrder`],
/// [`ChannelEvent::InvalidAck`], [`ChannelEvent::WindowStall`]) wait in
/// the event queue; more are counted in [`ChannelStats`] but not queued, so
/// a flooding peer cannot grow the queue.
pub const MAX_DIAGNOSTIC_EVENTS: usize = 64;

/// Parameters of one control channel. `Default` gives the RFC 2661 values.
/// [`ControlChannel::new`] clamps out-of-range values (windows, queue
/// length, durations above [`MAX_TIMER`]); [`ControlChannel::config`] shows
/// what is in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Our receive window: how many messages the peer may have outstanding,
    /// advertised in SCCRQ/SCCRP (§5.8, §4.4.3). Default 4; clamped to
    /// `1..=32768`.
    pub receive_window: u16,
    /// The peer's receive window until its Receive Window Size AVP is known.
    /// §4.4.3: "If absent, the peer must assume a window size of 4".
    /// Clamped to `1..=32768` ("A value of 0 for the Receive Window Size AVP
    /// is invalid").
    pub peer_receive_window: u16,
    /// First retransmission interval. §5.8: "a recommended default is 1
    /// second".
    pub retransmit_initial: Duration,
    /// Cap of the exponential backoff. §5.8: "An implementation MAY choose
    /// to cap this exponential backoff to no less than 8 seconds". Default
    /// 8 s.
    pub retransmit_max: Duration,
    /// Retransmissions of one message before the peer is declared dead.
    /// §5.8: "a recommended default is 5, but SHOULD be configurable".
    pub max_retransmits: u8,
    /// How long an acknowledgement waits for an outgoing message to ride on
    /// before a ZLB is sent. Default 100 ms.
    pub ack_delay: Duration,
    /// Acknowledge on every outgoing message (§5.8: Nr is "the sequence
    /// number of the next expected message"). Default true. When false, the
    /// channel acknowledges the way some deployed LNSs do, only with a
    /// delayed acknowledgement: messages it sends carry the Nr of its last
    /// acknowledgement (a stale Nr is still a valid cumulative one), and
    /// what it received is acknowledged only when `ack_delay` has passed,
    /// by a ZLB or by the next message sent after that. For test equipment;
    /// the product keeps the default.
    pub piggyback_acks: bool,
    /// Acknowledge at once when half the receive window we advertised is
    /// unacknowledged, rather than waiting for `ack_delay`. Default true.
    /// False makes the channel acknowledge only after `ack_delay` (or on a
    /// piggyback), so a peer that fills our window stalls until then, as
    /// it would against an LNS with a fixed acknowledgement delay. For test
    /// equipment; the product keeps the default.
    pub immediate_ack_at_half_window: bool,
    /// HELLO after this long without control messages in either direction
    /// (§6.5); `None` disables. Default 60 s.
    pub hello_interval: Option<Duration>,
    /// Unacknowledged messages (in flight or waiting for the window) beyond
    /// which [`ControlChannel::send`] fails with
    /// [`ChannelError::SendQueueFull`]. Default 1024; clamped to
    /// `1..=32767`.
    pub max_send_queue: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            receive_window: 4,
            peer_receive_window: 4,
            retransmit_initial: Duration::from_secs(1),
            retransmit_max: Duration::from_secs(8),
            max_retransmits: 5,
            ack_delay: Duration::from_millis(100),
            piggyback_acks: true,
            immediate_ack_at_half_window: true,
            hello_interval: Some(Duration::from_secs(60)),
            max_send_queue: 1024,
        }
    }
}

impl ChannelConfig {
    /// The configuration with every value inside the range the channel
    /// relies on.
    fn normalised(mut self) -> Self {
        self.receive_window = self.receive_window.clamp(1, MAX_WINDOW);
        self.peer_receive_window = self.peer_receive_window.clamp(1, MAX_WINDOW);
        // Below half the sequence space, so that an Nr acknowledging all of
        // it is still "ahead" of the oldest unacknowledged Ns.
        self.max_send_queue = self.max_send_queue.clamp(1, usize::from(MAX_WINDOW - 1));
        // Timers are added to the caller's `Instant`s: keep them finite.
        self.retransmit_initial = self
            .retransmit_initial
            .clamp(Duration::from_millis(1), MAX_TIMER);
        self.retransmit_max = self.retransmit_max.min(MAX_TIMER);
        self.ack_delay = self.ack_delay.min(MAX_TIMER);
        self.hello_interval = self.hello_interval.map(|d| d.min(MAX_TIMER));
        if self.retransmit_max < self.retransmit_initial {
            self.retransmit_max = self.retransmit_initial;
        }
        self
    }
}

/// Why the channel gave up on the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadCause {
    /// §5.8: "If no peer response is detected after several
    /// retransmissions ... the tunnel and all sessions within MUST be
    /// cleared."
    MaxRetransmits {
        /// Ns of the message never acknowledged.
        ns: u16,
        /// Its type.
        message_type: Option<MessageType>,
        /// Retransmissions sent.
        retransmits: u8,
        /// Time since its first transmission.
        unacknowledged_for: Duration,
    },
}

impl fmt::Display for DeadCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MaxRetransmits {
                ns,
                message_type,
                retransmits,
                unacknowledged_for,
            } => write!(
                f,
                "no acknowledgement for {} (Ns {ns}) after {retransmits} retransmissions \
                 over {unacknowledged_for:?}",
                message_type.map_or_else(|| "ZLB".to_owned(), |t| format!("{t:?}")),
            ),
        }
    }
}

/// What the channel reports to the tunnel state machine and to metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// The next control message from the peer, in order, exactly once.
    Delivered(ControlMessage),
    /// The next message in order had a valid header but a body that does
    /// not parse (e.g. a hidden AVP with the wrong secret). Its Ns is
    /// consumed and acknowledged; the tunnel decides what to do.
    Undecodable {
        /// Its Ns.
        ns: u16,
        /// Why it does not parse.
        error: wire::Error,
    },
    /// The peer acknowledged one of our messages.
    Acked {
        /// Its Ns.
        ns: u16,
        /// Its type.
        message_type: Option<MessageType>,
    },
    /// A message was sent again (timeout, or resent after the window
    /// collapsed).
    Retransmitted {
        /// Its Ns.
        ns: u16,
        /// How many times it has now been sent, the first included.
        transmissions: u32,
    },
    /// A message given to [`ControlChannel::send`] waits because the
    /// window (peer RWS or congestion window) is full.
    WindowStall {
        /// Its Ns.
        ns: u16,
        /// Messages in flight.
        in_flight: u16,
        /// The window: min(CWND, peer RWS).
        window: u16,
    },
    /// A message the peer sent again (we had it already): dropped and
    /// re-acknowledged at once.
    Duplicate {
        /// Its Ns.
        ns: u16,
    },
    /// A message ahead of Nr, queued until the gap fills.
    OutOfOrder {
        /// Its Ns.
        ns: u16,
        /// Nr (the Ns we wait for).
        expected: u16,
    },
    /// A message beyond our receive window: dropped.
    OutOfWindow {
        /// Its Ns.
        ns: u16,
        /// Nr (the Ns we wait for).
        expected: u16,
    },
    /// An Nr acknowledging messages we never sent: ignored.
    InvalidAck {
        /// The Nr received.
        nr: u16,
    },
    /// A HELLO was queued after a silent `hello_interval` (§6.5).
    HelloQueued {
        /// Its Ns.
        ns: u16,
    },
    /// The peer stopped acknowledging; the channel is closed. The tunnel
    /// and its sessions must be cleared (§5.8).
    PeerDead {
        /// Why.
        cause: DeadCause,
    },
}

/// Why an input or a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The datagram or the message to send is malformed.
    #[error(transparent)]
    Wire(#[from] wire::Error),
    /// A data message was given to the control channel.
    #[error("L2TP data message given to the control channel")]
    NotControl,
    /// The send queue holds `max_send_queue` unacknowledged messages.
    #[error("control channel send queue full ({0} unacknowledged messages)")]
    SendQueueFull(usize),
    /// ZLBs are generated by the channel, never queued.
    #[error("a ZLB cannot be queued on the control channel")]
    ZlbNotQueued,
    /// The channel is closed (the peer was declared dead).
    #[error("control channel closed")]
    Closed,
}

/// Cumulative counters, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelStats {
    /// Messages queued by `send` (HELLOs included).
    pub queued: u64,
    /// First transmissions of messages.
    pub transmitted: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Messages that waited for the window.
    pub window_stalls: u64,
    /// ZLBs sent.
    pub zlbs_sent: u64,
    /// Control packets received with a valid header (ZLBs included).
    pub received: u64,
    /// ZLBs received.
    pub zlbs_received: u64,
    /// Messages delivered in order (undecodable ones included).
    pub delivered: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Messages queued out of order.
    pub out_of_order: u64,
    /// Messages beyond the receive window dropped.
    pub out_of_window: u64,
    /// Nr values acknowledging messages never sent.
    pub invalid_acks: u64,
    /// Datagrams with a malformed header, and messages whose body did not
    /// parse.
    pub malformed: u64,
    /// Diagnostic events not queued because [`MAX_DIAGNOSTIC_EVENTS`] were
    /// waiting.
    pub events_suppressed: u64,
    /// `poll_transmit` calls whose buffer was shorter than the datagram
    /// due (which stayed queued); 0 with buffers of [`MAX_CONTROL_LEN`].
    pub short_buffers: u64,
}

/// `poll_transmit` wrote nothing: the datagram due is longer than the
/// caller's buffer. It stays queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShortBuffer;

/// A message waiting for its acknowledgement.
#[derive(Debug)]
struct Outgoing {
    ns: u16,
    message_type: Option<MessageType>,
    /// The message as emitted; Nr and Tunnel ID are patched on each send.
    bytes: Vec<u8>,
    transmissions: u32,
    first_sent: Option<Instant>,
}

/// `a - b` in sequence space: how far `a` is ahead of `b`.
#[inline]
fn seq_ahead(a: u16, b: u16) -> u16 {
    a.wrapping_sub(b)
}

/// §5.8: "The sequence number in the header of a received message is
/// considered less than or equal to the last received number if its value
/// lies in the range of the last received number and the preceding 32767
/// values, inclusive." With Nr = last received + 1, `ns` is a duplicate
/// exactly when it lies in the 32768 values before `nr`.
#[inline]
fn is_duplicate(ns: u16, nr: u16) -> bool {
    let behind = nr.wrapping_sub(ns);
    (1..=MAX_WINDOW).contains(&behind)
}

/// The RFC 2661 §5.8 reliable delivery state of one tunnel.
#[derive(Debug)]
pub struct ControlChannel {
    config: ChannelConfig,
    peer_tunnel_id: u16,
    peer_receive_window: u16,

    // Sender.
    /// Unacknowledged messages; the front has Ns `snd_una`, Ns contiguous.
    send_queue: VecDeque<Outgoing>,
    /// Oldest unacknowledged Ns.
    snd_una: u16,
    /// Next Ns to transmit (after a timeout, back at `snd_una`).
    tx_next: u16,
    /// One past the highest Ns ever transmitted: Nr beyond it is invalid.
    snd_max: u16,
    /// Appendix A congestion window, in messages.
    cwnd: u16,
    /// Appendix A slow-start threshold.
    ssthresh: u16,
    /// New ACKs counted towards the next congestion-avoidance increment.
    avoidance_acks: u16,
    /// Current retransmission interval.
    rto: Duration,
    /// When the oldest unacknowledged message is retransmitted.
    rto_deadline: Option<Instant>,
    /// Retransmissions of the oldest unacknowledged message.
    head_retransmits: u8,

    // Receiver.
    /// Next Ns expected from the peer.
    nr: u16,
    /// Messages ahead of `nr`: index i holds Ns `nr + i` (index 0 is always
    /// empty between calls). At most `receive_window` long.
    reorder: VecDeque<Option<Result<ControlMessage, wire::Error>>>,
    /// When a delayed ZLB is due.
    ack_deadline: Option<Instant>,
    /// An acknowledgement must go out with the next transmission.
    ack_now: bool,
    /// In-order messages delivered since our last acknowledgement went out.
    received_unacked: u16,
    /// The Nr our last acknowledgement carried: what messages carry while
    /// `piggyback_acks` is off and no acknowledgement is due.
    acked_nr: u16,

    /// Last control traffic in either direction (for HELLO).
    last_activity: Option<Instant>,
    events: VecDeque<ChannelEvent>,
    diagnostic_events: usize,
    stats: ChannelStats,
    dead: Option<DeadCause>,
}

impl ControlChannel {
    /// A channel with nothing sent or received, Ns = Nr = 0 (§5.8: "The
    /// Sequence Number, Ns, begins at 0").
    pub fn new(config: ChannelConfig) -> Self {
        let config = config.normalised();
        Self {
            peer_tunnel_id: 0,
            peer_receive_window: config.peer_receive_window,
            send_queue: VecDeque::new(),
            snd_una: 0,
            tx_next: 0,
            snd_max: 0,
            cwnd: 1,
            // Appendix A: "SSTHRESH is initialized to the advertised window".
            ssthresh: config.peer_receive_window,
            avoidance_acks: 0,
            rto: config.retransmit_initial,
            rto_deadline: None,
            head_retransmits: 0,
            nr: 0,
            reorder: VecDeque::new(),
            ack_deadline: None,
            ack_now: false,
            received_unacked: 0,
            acked_nr: 0,
            last_activity: None,
            events: VecDeque::new(),
            diagnostic_events: 0,
            stats: ChannelStats::default(),
            dead: None,
            config,
        }
    }

    /// Starts the sequence numbers elsewhere than 0: Ns of the next message
    /// to send and Nr (next Ns expected). For tests and for taking over a
    /// tunnel; call before anything is sent or received.
    pub fn with_initial_sequence(mut self, ns: u16, nr: u16) -> Self {
        if self.send_queue.is_empty() {
            self.snd_una = ns;
            self.tx_next = ns;
            self.snd_max = ns;
        }
        if self.reorder.is_empty() {
            self.nr = nr;
            self.acked_nr = nr;
        }
        self
    }

    /// The peer's Assigned Tunnel ID: written into the Tunnel ID field of
    /// every datagram sent from now on (retransmissions included). 0 until
    /// known (the SCCRQ).
    pub fn set_peer_tunnel_id(&mut self, id: u16) {
        self.peer_tunnel_id = id;
    }

    /// The peer's Receive Window Size AVP (§4.4.3); 0 is invalid and taken
    /// as 1. Before any congestion, SSTHRESH follows it (Appendix A).
    pub fn set_peer_receive_window(&mut self, rws: u16) {
        let rws = rws.clamp(1, MAX_WINDOW);
        if self.stats.timeouts == 0 {
            self.ssthresh = rws;
        }
        self.peer_receive_window = rws;
        self.cwnd = self.cwnd.min(rws);
    }

    /// Sets or disables the HELLO interval (e.g. off once StopCCN is sent).
    pub fn set_hello_interval(&mut self, interval: Option<Duration>) {
        self.config.hello_interval = interval;
    }

    /// Our receive window, for the Receive Window Size AVP.
    pub fn receive_window(&self) -> u16 {
        self.config.receive_window
    }

    /// The configuration in use (normalised).
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// Queues `msg` (a non-ZLB message; Ns, Nr and Tunnel ID are set by the
    /// channel) and returns its Ns. It is sent by
    /// [`poll_transmit`](Self::poll_transmit) as soon as the window allows.
    pub fn send(&mut self, now: Instant, msg: ControlMessage) -> Result<u16, ChannelError> {
        self.send_with_hiding(now, msg, None)
    }

    /// As [`send`](Self::send), hiding AVPs per `hiding` (§4.3). The message
    /// is emitted once: retransmissions repeat the same bytes (same random
    /// vector) with only Nr and Tunnel ID refreshed.
    pub fn send_with_hiding(
        &mut self,
        now: Instant,
        mut msg: ControlMessage,
        hiding: Option<&Hiding<'_>>,
    ) -> Result<u16, ChannelError> {
        if self.dead.is_some() {
            return Err(ChannelError::Closed);
        }
        if msg.is_zlb() {
            return Err(ChannelError::ZlbNotQueued);
        }
        if self.send_queue.len() >= self.config.max_send_queue {
            return Err(ChannelError::SendQueueFull(self.send_queue.len()));
        }
        let ns = self.snd_una.wrapping_add(self.send_queue.len() as u16);
        msg.tunnel_id = self.peer_tunnel_id;
        msg.ns = ns;
        msg.nr = self.nr;
        let len = msg.buffer_len(hiding)?;
        let mut bytes = vec![0; len];
        msg.emit(hiding, &mut bytes)?;
        let position = self.send_queue.len() as u16;
        self.send_queue.push_back(Outgoing {
            ns,
            message_type: msg.message_type,
            bytes,
            transmissions: 0,
            first_sent: None,
        });
        self.stats.queued += 1;
        self.last_activity = Some(now);
        let window = self.window();
        if position >= window {
            self.stats.window_stalls += 1;
            self.push_diagnostic(ChannelEvent::WindowStall {
                ns,
                in_flight: self.in_flight(),
                window,
            });
        }
        Ok(ns)
    }

    /// Processes one control datagram addressed to this tunnel. `secret`
    /// unhides hidden AVPs (§4.3).
    ///
    /// Errors are for datagrams whose header is unusable; sequence
    /// anomalies (duplicates, out of window) are not errors but events.
    /// One call queues at most `receive_window` [`ChannelEvent::Delivered`]
    /// events (the reorder buffer draining), so a driver that drains
    /// [`poll_event`](Self::poll_event) after each input keeps the event
    /// queue bounded.
    pub fn handle_message(
        &mut self,
        now: Instant,
        packet: &[u8],
        secret: Option<&[u8]>,
    ) -> Result<(), ChannelError> {
        if self.dead.is_some() {
            return Err(ChannelError::Closed);
        }
        let packet = match Packet::new_checked(packet) {
            Ok(packet) => packet,
            Err(error) => {
                self.stats.malformed += 1;
                return Err(error.into());
            }
        };
        if !packet.is_control() {
            return Err(ChannelError::NotControl);
        }
        let (Some(ns), Some(nr)) = (packet.ns(), packet.nr()) else {
            // Unreachable after new_checked (control implies S), kept total.
            self.stats.malformed += 1;
            return Err(wire::Error::Malformed("L2TP control message without Ns/Nr").into());
        };
        self.stats.received += 1;
        self.last_activity = Some(now);
        // §5.8: "the Nr in a received ZLB is used to flush messages from
        // the local retransmit queue" — and so is the Nr of every message.
        self.process_ack(now, nr);

        if packet.payload().is_empty() {
            // §5.8: a ZLB takes no slot: "Nr of the next message sent is not
            // be updated by the Ns of the ZLB."
            self.stats.zlbs_received += 1;
            return Ok(());
        }

        if is_duplicate(ns, self.nr) {
            // §5.8: "receipt of duplicate messages MUST be acknowledged by
            // the reliable transport" — the peer lost our acknowledgement.
            self.stats.duplicates += 1;
            self.push_diagnostic(ChannelEvent::Duplicate { ns });
            self.ack_now = true;
            return Ok(());
        }
        let offset = seq_ahead(ns, self.nr);
        if offset >= self.config.receive_window {
            self.stats.out_of_window += 1;
            self.push_diagnostic(ChannelEvent::OutOfWindow {
                ns,
                expected: self.nr,
            });
            return Ok(());
        }
        let body = ControlMessage::parse(&packet, secret);
        let index = usize::from(offset);
        if self.reorder.len() <= index {
            self.reorder.resize_with(index + 1, || None);
        }
        let Some(slot) = self.reorder.get_mut(index) else {
            return Ok(());
        };
        if slot.is_some() {
            // A retransmission of a message already queued out of order: it
            // cannot be acknowledged before the gap fills.
            self.stats.duplicates += 1;
            self.push_diagnostic(ChannelEvent::Duplicate { ns });
            return Ok(());
        }
        *slot = Some(body);
        if offset != 0 {
            // §5.8: "Messages arriving out of order may be queued for
            // in-order delivery when the missing messages are received".
            self.stats.out_of_order += 1;
            self.push_diagnostic(ChannelEvent::OutOfOrder {
                ns,
                expected: self.nr,
            });
            return Ok(());
        }
        while let Some(Some(_)) = self.reorder.front() {
            let Some(Some(body)) = self.reorder.pop_front() else {
                break;
            };
            let delivered_ns = self.nr;
            self.nr = self.nr.wrapping_add(1);
            self.stats.delivered += 1;
            self.received_unacked = self.received_unacked.saturating_add(1);
            match body {
                Ok(msg) => self.events.push_back(ChannelEvent::Delivered(msg)),
                Err(error) => {
                    self.stats.malformed += 1;
                    self.events.push_back(ChannelEvent::Undecodable {
                        ns: delivered_ns,
                        error,
                    });
                }
            }
        }
        // Acknowledge by piggybacking, or by a ZLB after ack_delay — at once
        // when half the window we advertised is unacknowledged: the peer
        // may be stalled on it (a burst of ICCNs, say, which get no reply
        // to carry the ack), and delaying would cap its message rate at a
        // window per ack_delay. (Unless configured away, to emulate peers
        // that acknowledge only after a delay.)
        let half_window = (self.config.receive_window / 2).max(1);
        let half_window_unacked =
            self.config.immediate_ack_at_half_window && self.received_unacked >= half_window;
        if self.config.ack_delay.is_zero() || half_window_unacked {
            self.ack_now = true;
        } else if self.ack_deadline.is_none() {
            self.ack_deadline = Some(now + self.config.ack_delay);
        }
        Ok(())
    }

    /// Runs the timers due at `now`: retransmission (with backoff and the
    /// retransmission limit), delayed acknowledgement and HELLO.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead.is_some() {
            return;
        }
        if self.rto_deadline.is_some_and(|deadline| deadline <= now) {
            self.retransmission_timeout(now);
            if self.dead.is_some() {
                return;
            }
        }
        if self.ack_deadline.is_some_and(|deadline| deadline <= now) {
            self.ack_deadline = None;
            self.ack_now = true;
        }
        if let Some(deadline) = self.hello_deadline()
            && deadline <= now
        {
            // §6.5: HELLO is sent through the reliable path, so that an
            // unresponsive peer is detected by the retransmission limit.
            if let Ok(ns) = self.send(now, ControlMessage::hello()) {
                self.push_event(ChannelEvent::HelloQueued { ns });
            }
        }
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) has work
    /// to do; `None` when idle or closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead.is_some() {
            return None;
        }
        [self.rto_deadline, self.ack_deadline, self.hello_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Writes the next datagram to send at the start of `buf` and returns
    /// its length: a new or retransmitted message (with the current Nr),
    /// or a ZLB acknowledgement. Call until `None` after every input.
    ///
    /// `buf` should hold [`MAX_CONTROL_LEN`] bytes. When the datagram due
    /// is longer than `buf`, nothing is written or lost: it stays queued
    /// for a later call with a longer buffer, the refusal is counted
    /// ([`ChannelStats::short_buffers`], logged), and this returns `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.try_transmit(now, buf).ok().flatten()
    }

    /// [`poll_transmit`](Self::poll_transmit), telling "nothing to send"
    /// (`Ok(None)`) from "the datagram due does not fit `buf`".
    pub(crate) fn try_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<usize>, ShortBuffer> {
        if self.dead.is_some() {
            return Ok(None);
        }
        if self.ack_deadline.is_some_and(|deadline| deadline <= now) {
            self.ack_deadline = None;
            self.ack_now = true;
        }
        if self.can_transmit() {
            let index = usize::from(seq_ahead(self.tx_next, self.snd_una));
            // Without piggybacking, a message acknowledges only when an
            // acknowledgement is due; otherwise it repeats the last one.
            let acks = self.config.piggyback_acks || self.ack_now;
            let nr = if acks { self.nr } else { self.acked_nr };
            let tunnel_id = self.peer_tunnel_id;
            let Some(out) = self.send_queue.get_mut(index) else {
                return Ok(None);
            };
            let len = out.bytes.len();
            let Some(slot) = buf.get_mut(..len) else {
                return Err(self.short_buffer(len, buf.len()));
            };
            // §5.8: "The retransmitted message contains the same Ns value,
            // but the Nr value MUST be updated with the sequence number of
            // the next expected message."
            if let Ok(mut packet) = Packet::new_checked(&mut out.bytes[..]) {
                let _ = packet.set_nr(nr);
                packet.set_tunnel_id(tunnel_id);
            }
            slot.copy_from_slice(&out.bytes);
            out.transmissions = out.transmissions.saturating_add(1);
            let (ns, transmissions) = (out.ns, out.transmissions);
            if out.first_sent.is_none() {
                out.first_sent = Some(now);
            }
            if transmissions > 1 {
                self.stats.retransmits += 1;
                self.events
                    .push_back(ChannelEvent::Retransmitted { ns, transmissions });
            } else {
                self.stats.transmitted += 1;
            }
            self.tx_next = self.tx_next.wrapping_add(1);
            if seq_ahead(self.tx_next, self.snd_una) > seq_ahead(self.snd_max, self.snd_una) {
                self.snd_max = self.tx_next;
            }
            if self.rto_deadline.is_none() {
                self.rto_deadline = Some(now + self.rto);
            }
            if acks {
                // The message carries the current Nr: no separate ack
                // needed.
                self.ack_now = false;
                self.ack_deadline = None;
                self.received_unacked = 0;
                self.acked_nr = nr;
            }
            return Ok(Some(len));
        }
        if self.ack_now {
            // §5.8: a ZLB takes no slot, "Ns is not incremented after a ZLB
            // message is sent". Its Ns is the oldest unacknowledged Ns: the
            // Ns the peer last told us (its Nr) it expects next. Peers such
            // as xl2tpd drop a ZLB, Nr included, whose Ns is not the one
            // they expect; with nothing in flight this is also "the next
            // Ns" of RFC 2661 Appendix B.
            let zlb = ControlMessage::zlb(self.peer_tunnel_id, self.snd_una, self.nr);
            let needed = wire::l2tp::header::CONTROL_HEADER_LEN;
            let Some(slot) = buf.get_mut(..needed) else {
                return Err(self.short_buffer(needed, buf.len()));
            };
            let Ok(len) = zlb.emit(None, slot) else {
                return Ok(None);
            };
            self.ack_now = false;
            self.ack_deadline = None;
            self.received_unacked = 0;
            self.acked_nr = self.nr;
            self.stats.zlbs_sent += 1;
            return Ok(Some(len));
        }
        Ok(None)
    }

    /// Counts and logs a `poll_transmit` buffer too short for the datagram
    /// due (a caller's bug: [`MAX_CONTROL_LEN`] always fits). Logged as a
    /// warning once per channel, then at debug level.
    fn short_buffer(&mut self, needed: usize, available: usize) -> ShortBuffer {
        if self.stats.short_buffers == 0 {
            tracing::warn!(
                needed,
                available,
                "L2TP control datagram longer than the transmit buffer; it stays queued"
            );
        } else {
            tracing::debug!(
                needed,
                available,
                "L2TP control datagram longer than the transmit buffer; it stays queued"
            );
        }
        self.stats.short_buffers += 1;
        ShortBuffer
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        let event = self.events.pop_front()?;
        if is_diagnostic(&event) {
            self.diagnostic_events = self.diagnostic_events.saturating_sub(1);
        }
        Some(event)
    }

    /// Cumulative counters.
    pub fn stats(&self) -> &ChannelStats {
        &self.stats
    }

    /// Whether the peer was declared dead, and why.
    pub fn dead_cause(&self) -> Option<&DeadCause> {
        self.dead.as_ref()
    }

    /// Whether everything sent was acknowledged and no acknowledgement is
    /// owed (e.g. a StopCCN exchange is complete, §5.7).
    pub fn is_idle(&self) -> bool {
        self.send_queue.is_empty() && !self.ack_now && self.ack_deadline.is_none()
    }

    /// Messages sent and not yet acknowledged, or waiting for the window.
    pub fn unacknowledged(&self) -> usize {
        self.send_queue.len()
    }

    /// Messages transmitted and not yet acknowledged.
    pub fn in_flight(&self) -> u16 {
        seq_ahead(self.tx_next, self.snd_una)
    }

    /// The send window: min(CWND, peer RWS).
    pub fn window(&self) -> u16 {
        self.cwnd.min(self.peer_receive_window)
    }

    /// Appendix A congestion window.
    pub fn congestion_window(&self) -> u16 {
        self.cwnd
    }

    /// Appendix A slow-start threshold.
    pub fn slow_start_threshold(&self) -> u16 {
        self.ssthresh
    }

    /// Ns of the next message [`send`](Self::send) queues.
    pub fn next_ns(&self) -> u16 {
        self.snd_una.wrapping_add(self.send_queue.len() as u16)
    }

    /// Nr: the next Ns expected from the peer.
    pub fn expected_ns(&self) -> u16 {
        self.nr
    }

    /// Slots of the reorder buffer in use (at most our receive window).
    pub fn reorder_buffer_len(&self) -> usize {
        self.reorder.len()
    }

    /// Events waiting for [`poll_event`](Self::poll_event).
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// How long a peer using this channel's timers keeps retransmitting
    /// one message before giving up: the sum of every backoff interval up
    /// to the last retransmission's timeout (31 s with the RFC defaults).
    /// §5.7: "the state and reliable delivery mechanisms MUST be maintained
    /// and operated for the full retransmission interval after the final
    /// message exchange has occurred" — the tunnel's hold time after a
    /// StopCCN.
    pub fn full_retransmission_interval(&self) -> Duration {
        let mut interval = self.config.retransmit_initial;
        let mut total = Duration::ZERO;
        for _ in 0..=self.config.max_retransmits {
            total = total.saturating_add(interval);
            interval = interval.saturating_mul(2).min(self.config.retransmit_max);
        }
        total
    }

    /// The current retransmission interval.
    pub fn retransmit_interval(&self) -> Duration {
        self.rto
    }

    // ---- internals ----

    fn can_transmit(&self) -> bool {
        let in_flight = self.in_flight();
        usize::from(in_flight) < self.send_queue.len() && in_flight < self.window()
    }

    fn hello_deadline(&self) -> Option<Instant> {
        let interval = self.config.hello_interval?;
        if !self.send_queue.is_empty() {
            // Messages in flight already probe the peer.
            return None;
        }
        self.last_activity.map(|last| last + interval)
    }

    /// Handles an acknowledgement Nr from the peer.
    fn process_ack(&mut self, now: Instant, nr: u16) {
        if nr == self.snd_una || is_duplicate(nr, self.snd_una) {
            // Nothing new, or a stale Nr from a delayed or duplicated
            // datagram (behind what was already acknowledged).
            return;
        }
        let acked = seq_ahead(nr, self.snd_una);
        if acked > seq_ahead(self.snd_max, self.snd_una) {
            self.stats.invalid_acks += 1;
            self.push_diagnostic(ChannelEvent::InvalidAck { nr });
            return;
        }
        let tx_ahead = seq_ahead(self.tx_next, self.snd_una);
        for _ in 0..acked {
            if let Some(out) = self.send_queue.pop_front() {
                self.events.push_back(ChannelEvent::Acked {
                    ns: out.ns,
                    message_type: out.message_type,
                });
            }
        }
        self.snd_una = nr;
        if tx_ahead < acked {
            self.tx_next = nr;
        }
        // Appendix A: "During slow start, CWND is increased by one packet
        // each time an ACK (explicit ZLB or piggybacked) is received." In
        // congestion avoidance "CWND is increased by one packet after CWND
        // new ACKs have been received." CWND never exceeds the peer's RWS.
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(1);
        } else {
            self.avoidance_acks = self.avoidance_acks.saturating_add(1);
            if self.avoidance_acks >= self.cwnd {
                self.avoidance_acks = 0;
                self.cwnd = self.cwnd.saturating_add(1);
            }
        }
        self.cwnd = self.cwnd.min(self.peer_receive_window);
        // New progress: the next message starts with a fresh backoff.
        self.rto = self.config.retransmit_initial;
        self.head_retransmits = 0;
        self.rto_deadline = (self.in_flight() > 0).then(|| now + self.rto);
    }

    fn retransmission_timeout(&mut self, now: Instant) {
        self.stats.timeouts += 1;
        if self.head_retransmits >= self.config.max_retransmits {
            let head = self.send_queue.front();
            let cause = DeadCause::MaxRetransmits {
                ns: self.snd_una,
                message_type: head.and_then(|out| out.message_type),
                retransmits: self.head_retransmits,
                unacknowledged_for: head
                    .and_then(|out| out.first_sent)
                    .map_or(Duration::ZERO, |first| now.saturating_duration_since(first)),
            };
            tracing::warn!(
                peer_tunnel_id = self.peer_tunnel_id,
                %cause,
                "L2TP control channel: peer dead"
            );
            self.rto_deadline = None;
            self.ack_deadline = None;
            self.ack_now = false;
            self.dead = Some(cause.clone());
            self.events.push_back(ChannelEvent::PeerDead { cause });
            return;
        }
        self.head_retransmits += 1;
        tracing::debug!(
            peer_tunnel_id = self.peer_tunnel_id,
            ns = self.snd_una,
            retransmit = self.head_retransmits,
            in_flight = self.in_flight(),
            cwnd = self.cwnd,
            "L2TP control channel: retransmission timeout"
        );
        // Appendix A: "When congestion occurs (indicated by the triggering
        // of a retransmission) one half of the CWND is saved in SSTHRESH,
        // and CWND is set to one."
        self.ssthresh = (self.cwnd / 2).max(1);
        self.cwnd = 1;
        self.avoidance_acks = 0;
        self.tx_next = self.snd_una;
        // §5.8: "Each subsequent retransmission of a message MUST employ an
        // exponential backoff interval." Capped at retransmit_max.
        self.rto = self.rto.saturating_mul(2).min(self.config.retransmit_max);
        self.rto_deadline = Some(now + self.rto);
    }

    fn push_event(&mut self, event: ChannelEvent) {
        self.events.push_back(event);
    }

    fn push_diagnostic(&mut self, event: ChannelEvent) {
        if self.diagnostic_events >= MAX_DIAGNOSTIC_EVENTS {
            self.stats.events_suppressed += 1;
            return;
        }
        self.diagnostic_events += 1;
        self.events.push_back(event);
    }
}

fn is_diagnostic(event: &ChannelEvent) -> bool {
    matches!(
        event,
        ChannelEvent::WindowStall { .. }
            | ChannelEvent::Duplicate { .. }
            | ChannelEvent::OutOfOrder { .. }
            | ChannelEvent::OutOfWindow { .. }
            | ChannelEvent::InvalidAck { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_rule_follows_rfc_example() {
        // §5.8: "if the last received sequence number was 15, then messages
        // with sequence numbers 0 through 15, as well as 32784 through
        // 65535, would be considered less than or equal."
        let nr = 16;
        for ns in (0..=15).chain(32784..=65535) {
            assert!(is_duplicate(ns, nr), "{ns}");
        }
        for ns in 16..32784 {
            assert!(!is_duplicate(ns, nr), "{ns}");
        }
    }

    #[test]
    fn duplicate_rule_across_wrap() {
        assert!(is_duplicate(65535, 0));
        assert!(is_duplicate(32768, 0));
        assert!(!is_duplicate(0, 0));
        assert!(!is_duplicate(32767, 0));
        assert!(is_duplicate(65530, 2));
        assert!(!is_duplicate(2, 65530));
    }

    #[test]
    fn config_is_clamped() {
        let channel = ControlChannel::new(ChannelConfig {
            receive_window: 0,
            peer_receive_window: 60000,
            max_send_queue: 0,
            retransmit_initial: Duration::ZERO,
            retransmit_max: Duration::ZERO,
            ack_delay: Duration::MAX,
            hello_interval: Some(Duration::MAX),
            ..ChannelConfig::default()
        });
        assert_eq!(channel.config().ack_delay, MAX_TIMER);
        assert_eq!(channel.config().hello_interval, Some(MAX_TIMER));
        assert_eq!(channel.config().receive_window, 1);
        assert_eq!(channel.config().peer_receive_window, MAX_WINDOW);
        assert_eq!(channel.config().max_send_queue, 1);
        let channel = ControlChannel::new(ChannelConfig {
            max_send_queue: usize::MAX,
            ..ChannelConfig::default()
        });
        assert_eq!(channel.config().max_send_queue, 32767);
        assert!(!channel.config().retransmit_initial.is_zero());
        assert!(channel.config().retransmit_max >= channel.config().retransmit_initial);
    }

    #[test]
    fn full_retransmission_interval_matches_the_backoff() {
        let channel = ControlChannel::new(ChannelConfig::default());
        assert_eq!(
            channel.full_retransmission_interval(),
            Duration::from_secs(31)
        );
        let channel = ControlChannel::new(ChannelConfig {
            max_retransmits: 0,
            ..ChannelConfig::default()
        });
        assert_eq!(
            channel.full_retransmission_interval(),
            Duration::from_secs(1)
        );
        let channel = ControlChannel::new(ChannelConfig {
            max_retransmits: u8::MAX,
            retransmit_max: Duration::MAX,
            ..ChannelConfig::default()
        });
        assert_eq!(channel.config().retransmit_max, MAX_TIMER);
        assert!(channel.full_retransmission_interval() > MAX_TIMER);
    }

    #[test]
    fn a_message_longer_than_the_buffer_stays_queued() {
        let now = Instant::now();
        let mut channel = ControlChannel::new(ChannelConfig::default());
        channel
            .send(now, ControlMessage::new(MessageType::Sccrq))
            .unwrap();
        let mut short = [0u8; 8];
        assert_eq!(channel.poll_transmit(now, &mut short), None);
        assert_eq!(channel.poll_transmit(now, &mut short), None);
        assert_eq!(channel.stats().short_buffers, 2);
        assert_eq!(channel.stats().transmitted, 0);
        assert_eq!(channel.in_flight(), 0);
        assert_eq!(channel.unacknowledged(), 1);
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        let len = channel.poll_transmit(now, &mut buf).expect("still queued");
        let packet = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(packet.ns(), Some(0));
        assert_eq!(packet.length().map(usize::from), Some(len));
        assert_eq!(channel.stats().transmitted, 1);
        assert_eq!(channel.poll_transmit(now, &mut buf), None);
    }

    #[test]
    fn a_zlb_waits_for_a_buffer_it_fits() {
        let now = Instant::now();
        let mut lac = ControlChannel::new(ChannelConfig::default());
        let mut lns = ControlChannel::new(ChannelConfig {
            ack_delay: Duration::ZERO,
            ..ChannelConfig::default()
        });
        lac.send(now, ControlMessage::new(MessageType::Sccrq))
            .unwrap();
        let mut buf = vec![0u8; MAX_CONTROL_LEN];
        let len = lac.poll_transmit(now, &mut buf).unwrap();
        lns.handle_message(now, &buf[..len], None).unwrap();
        let header = wire::l2tp::header::CONTROL_HEADER_LEN;
        let mut short = vec![0u8; header - 1];
        assert_eq!(lns.poll_transmit(now, &mut short), None);
        assert_eq!(lns.stats().short_buffers, 1);
        assert_eq!(lns.stats().zlbs_sent, 0);
        let mut exact = vec![0u8; header];
        assert_eq!(lns.poll_transmit(now, &mut exact), Some(header));
        assert_eq!(lns.stats().zlbs_sent, 1);
        lac.handle_message(now, &exact, None).unwrap();
        assert!(lac.is_idle() && lns.is_idle());
    }
}
