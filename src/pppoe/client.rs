//! The host's side of PPPoE discovery (RFC 2516 §5, §7; RFC 4638).
//!
//! [`Client`] broadcasts a PADI with a Host-Uniq, takes the first PADO that
//! matches its AC-Name and Service-Name wishes, sends the PADR (echoing the
//! AC-Cookie and Relay-Session-Id), and reports the session of the PADS.
//! RFC 2516 §7: "If the Host does not receive a PADO packet within a
//! specified amount of time, it SHOULD resend it's PADI packet and double
//! the waiting period. This is repeated as many times as desired. If the
//! Host is waiting to receive a PADS packet, a similar timeout mechanism
//! SHOULD be used" — both retransmit with an exponentially growing timeout
//! and give up after a configured number of tries.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Direction, Outgoing, Transmit, parse_frame, write_frame};
use crate::wire::ethernet::{MacAddress, VlanStack};
use crate::wire::pppoe::{Code, DEFAULT_MAX_PAYLOAD, DiscoveryRepr, Tag, TagType};

/// Most events kept for the driver.
const MAX_QUEUED_EVENTS: usize = 1024;

/// Configuration of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Host-Uniq to send; `None` draws 8 bytes from the client's RNG.
    pub host_uniq: Option<Vec<u8>>,
    /// Service-Name asked for (empty: any service).
    pub service_name: Vec<u8>,
    /// Only accept a PADO with this AC-Name.
    pub ac_name: Option<Vec<u8>>,
    /// PPP-Max-Payload to ask for (RFC 4638), if any.
    pub max_payload: Option<u16>,
    /// More tags for PADI and PADR (e.g. a Broadband Forum Vendor-Specific
    /// tag, as an access node would insert).
    pub extra_tags: Vec<Tag>,
    /// First wait for a PADO or PADS.
    pub initial_timeout: Duration,
    /// Upper bound of the doubled wait.
    pub max_timeout: Duration,
    /// PADIs sent before giving up.
    pub max_padi_attempts: u32,
    /// PADRs sent before giving up.
    pub max_padr_attempts: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            host_uniq: None,
            service_name: Vec::new(),
            ac_name: None,
            max_payload: None,
            extra_tags: Vec::new(),
            initial_timeout: Duration::from_secs(1),
            max_timeout: Duration::from_secs(16),
            max_padi_attempts: 5,
            max_padr_attempts: 5,
        }
    }
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientFailure {
    /// No acceptable PADO after every PADI.
    NoOffer,
    /// No PADS after every PADR.
    NoConfirmation,
    /// The PADS refused the session with an error tag (or SESSION_ID 0).
    Refused {
        /// Service-Name-Error, AC-System-Error or Generic-Error (or
        /// End-Of-List when the PADS had SESSION_ID 0 without an error).
        tag: TagType,
        /// The error text.
        text: Vec<u8>,
    },
}

/// What the client tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A PADS gave us a session.
    Established {
        /// SESSION_ID.
        session_id: u16,
        /// The access concentrator's MAC.
        ac_mac: MacAddress,
        /// Its AC-Name.
        ac_name: Vec<u8>,
        /// PPP payload granted (RFC 4638); 1492 without the tag.
        max_payload: u16,
    },
    /// Discovery gave up.
    Failed(ClientFailure),
    /// The session ended.
    Terminated {
        /// SESSION_ID.
        session_id: u16,
        /// Whether the access concentrator sent the PADT.
        by_peer: bool,
        /// Generic-Error text of the PADT.
        reason: Option<Vec<u8>>,
    },
    /// A packet that does not belong to this exchange was ignored.
    Ignored {
        /// Its CODE.
        code: Code,
    },
    /// A discovery packet was received or sent.
    PacketCounted {
        /// CODE.
        code: Code,
        /// Received or sent.
        direction: Direction,
    },
}

/// Where the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientState {
    /// Not started.
    Idle,
    /// PADI sent, waiting for a PADO.
    Discovering,
    /// PADR sent to `ac`, waiting for the PADS.
    Requesting {
        /// The chosen access concentrator.
        ac: MacAddress,
    },
    /// Session up.
    Established {
        /// SESSION_ID.
        session_id: u16,
        /// The access concentrator's MAC.
        ac: MacAddress,
    },
    /// Discovery failed.
    Failed,
    /// The session was terminated.
    Terminated,
}

/// The offer we answered with a PADR.
#[derive(Debug, Clone)]
struct Offer {
    ac: MacAddress,
    ac_name: Vec<u8>,
    cookie: Option<Vec<u8>>,
    relay: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct Retry {
    attempt: u32,
    timeout: Duration,
    deadline: Instant,
}

/// A PPPoE discovery client (RFC 2516 §5 from the host's side).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    local_mac: MacAddress,
    vlans: VlanStack,
    host_uniq: Vec<u8>,
    state: ClientState,
    offer: Option<Offer>,
    retry: Option<Retry>,
    transmit: VecDeque<Outgoing>,
    events: VecDeque<ClientEvent>,
}

impl Client {
    /// A client sending from `local_mac` with the VLAN tags `vlans`; `seed`
    /// seeds the RNG that draws the Host-Uniq when the config has none.
    pub fn new(
        config: ClientConfig,
        local_mac: MacAddress,
        vlans: VlanStack,
        seed: [u8; 32],
    ) -> Self {
        let host_uniq = config.host_uniq.clone().unwrap_or_else(|| {
            let mut rng = StdRng::from_seed(seed);
            let mut v = vec![0; 8];
            rng.fill_bytes(&mut v);
            v
        });
        Self {
            config,
            local_mac,
            vlans,
            host_uniq,
            state: ClientState::Idle,
            offer: None,
            retry: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Where the client is.
    pub const fn state(&self) -> &ClientState {
        &self.state
    }

    /// The Host-Uniq this client sends.
    pub fn host_uniq(&self) -> &[u8] {
        &self.host_uniq
    }

    /// The client's MAC.
    pub const fn local_mac(&self) -> MacAddress {
        self.local_mac
    }

    fn event(&mut self, event: ClientEvent) {
        if self.events.len() < MAX_QUEUED_EVENTS {
            self.events.push_back(event);
        }
    }

    fn common_tags(&self, repr: &mut DiscoveryRepr) {
        repr.tags
            .push(Tag::ServiceName(self.config.service_name.clone()));
        repr.tags.push(Tag::HostUniq(self.host_uniq.clone()));
        if let Some(n) = self.config.max_payload {
            repr.tags.push(Tag::PppMaxPayload(n));
        }
        repr.tags.extend(self.config.extra_tags.iter().cloned());
    }

    fn send_padi(&mut self) {
        // RFC 2516 §5.1: "The DESTINATION_ADDR is set to the broadcast
        // address … The PADI packet MUST contain exactly one TAG of
        // TAG_TYPE Service-Name".
        let mut padi = DiscoveryRepr::new(Code::Padi, 0);
        self.common_tags(&mut padi);
        self.transmit.push_back(Outgoing {
            dst: MacAddress::BROADCAST,
            vlans: self.vlans,
            repr: padi,
        });
    }

    fn send_padr(&mut self) {
        let Some(offer) = self.offer.clone() else {
            return;
        };
        // RFC 2516 §5.3: the PADR "MUST contain exactly one TAG of TAG_TYPE
        // Service-Name"; Appendix A, AC-Cookie: "the Host MUST return the
        // TAG unmodified in the following PADR"; Relay-Session-Id: "the
        // Host MUST include it unmodified" in its answer.
        let mut padr = DiscoveryRepr::new(Code::Padr, 0);
        self.common_tags(&mut padr);
        if let Some(c) = offer.cookie {
            padr.tags.push(Tag::AcCookie(c));
        }
        if let Some(r) = offer.relay {
            padr.tags.push(Tag::RelaySessionId(r));
        }
        self.transmit.push_back(Outgoing {
            dst: offer.ac,
            vlans: self.vlans,
            repr: padr,
        });
    }

    fn arm(&mut self, now: Instant) {
        let timeout = self.config.initial_timeout;
        self.retry = Some(Retry {
            attempt: 1,
            timeout,
            deadline: now + timeout,
        });
    }

    /// Starts discovery: queues the first PADI. Does nothing unless idle,
    /// failed or terminated.
    pub fn start(&mut self, now: Instant) {
        if matches!(
            self.state,
            ClientState::Idle | ClientState::Failed | ClientState::Terminated
        ) {
            self.state = ClientState::Discovering;
            self.offer = None;
            self.send_padi();
            self.arm(now);
        }
    }

    /// Ends the session: queues a PADT (with a Generic-Error carrying
    /// `reason`, if given). Returns false if no session is up.
    pub fn terminate(&mut self, reason: Option<&str>) -> bool {
        let ClientState::Established { session_id, ac } = self.state else {
            return false;
        };
        let mut padt = DiscoveryRepr::new(Code::Padt, session_id);
        padt.tags.push(Tag::HostUniq(self.host_uniq.clone()));
        if let Some(text) = reason {
            padt.tags.push(Tag::GenericError(text.as_bytes().to_vec()));
        }
        self.transmit.push_back(Outgoing {
            dst: ac,
            vlans: self.vlans,
            repr: padt,
        });
        self.state = ClientState::Terminated;
        self.retry = None;
        self.event(ClientEvent::Terminated {
            session_id,
            by_peer: false,
            reason: reason.map(|r| r.as_bytes().to_vec()),
        });
        true
    }

    /// Handles a received Ethernet frame. Frames we sent, frames for
    /// another unicast address and frames on other VLANs are ignored.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let Ok(parsed) = parse_frame(frame) else {
            self.event(ClientEvent::Ignored {
                code: Code::Unknown(0xff),
            });
            return;
        };
        if parsed.src == self.local_mac
            || parsed.vlans != self.vlans
            || (!parsed.dst.is_broadcast() && parsed.dst != self.local_mac)
        {
            return;
        }
        self.handle_repr(now, parsed.src, &parsed.repr);
    }

    fn ours(&self, repr: &DiscoveryRepr) -> bool {
        repr.host_uniq() == Some(self.host_uniq.as_slice())
    }

    fn handle_repr(&mut self, now: Instant, src: MacAddress, repr: &DiscoveryRepr) {
        self.event(ClientEvent::PacketCounted {
            code: repr.code,
            direction: Direction::Rx,
        });
        let handled = match repr.code {
            Code::Pado => self.on_pado(now, src, repr),
            Code::Pads => self.on_pads(src, repr),
            Code::Padt => self.on_padt(src, repr),
            _ => false,
        };
        if !handled {
            self.event(ClientEvent::Ignored { code: repr.code });
        }
    }

    fn on_pado(&mut self, now: Instant, src: MacAddress, pado: &DiscoveryRepr) -> bool {
        if self.state != ClientState::Discovering || !src.is_unicast() || !self.ours(pado) {
            return false;
        }
        // RFC 2516 §5.2: the PADO "MUST contain one AC-Name TAG"; an offer
        // carrying an error tag is not an offer.
        let Some(ac_name) = pado.ac_name() else {
            return false;
        };
        if pado.session_id != 0 || pado.error().is_some() {
            return false;
        }
        if self
            .config
            .ac_name
            .as_deref()
            .is_some_and(|want| want != ac_name)
        {
            return false;
        }
        let wanted = self.config.service_name.as_slice();
        if !wanted.is_empty() && !pado.service_names().any(|s| s == wanted) {
            return false;
        }
        self.offer = Some(Offer {
            ac: src,
            ac_name: ac_name.to_vec(),
            cookie: pado.ac_cookie().map(<[u8]>::to_vec),
            relay: pado.relay_session_id().map(<[u8]>::to_vec),
        });
        self.state = ClientState::Requesting { ac: src };
        self.send_padr();
        self.arm(now);
        true
    }

    fn on_pads(&mut self, src: MacAddress, pads: &DiscoveryRepr) -> bool {
        let ClientState::Requesting { ac } = self.state else {
            return false;
        };
        if src != ac || !self.ours(pads) {
            return false;
        }
        self.retry = None;
        if let Some((tag, text)) = pads.error() {
            self.state = ClientState::Failed;
            self.event(ClientEvent::Failed(ClientFailure::Refused {
                tag,
                text: text.to_vec(),
            }));
            return true;
        }
        if pads.session_id == 0 || pads.session_id == 0xffff {
            self.state = ClientState::Failed;
            self.event(ClientEvent::Failed(ClientFailure::Refused {
                tag: TagType::EndOfList,
                text: Vec::new(),
            }));
            return true;
        }
        // RFC 4638 §4: without the tag in the PADS the payload stays 1492.
        let max_payload = match (self.config.max_payload, pads.max_payload()) {
            (Some(asked), Some(granted)) => granted.min(asked).max(DEFAULT_MAX_PAYLOAD),
            _ => DEFAULT_MAX_PAYLOAD,
        };
        let ac_name = self
            .offer
            .as_ref()
            .map(|o| o.ac_name.clone())
            .unwrap_or_default();
        self.state = ClientState::Established {
            session_id: pads.session_id,
            ac,
        };
        self.event(ClientEvent::Established {
            session_id: pads.session_id,
            ac_mac: ac,
            ac_name,
            max_payload,
        });
        true
    }

    fn on_padt(&mut self, src: MacAddress, padt: &DiscoveryRepr) -> bool {
        let ClientState::Established { session_id, ac } = self.state else {
            return false;
        };
        if src != ac || padt.session_id != session_id {
            return false;
        }
        self.state = ClientState::Terminated;
        self.event(ClientEvent::Terminated {
            session_id,
            by_peer: true,
            reason: padt.error().map(|(_, text)| text.to_vec()),
        });
        true
    }

    /// When [`Self::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retry.as_ref().map(|r| r.deadline)
    }

    /// Retransmits the PADI or PADR, or gives up.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(retry) = self.retry.clone() else {
            return;
        };
        if now < retry.deadline {
            return;
        }
        let (limit, failure) = match self.state {
            ClientState::Discovering => (self.config.max_padi_attempts, ClientFailure::NoOffer),
            ClientState::Requesting { .. } => {
                (self.config.max_padr_attempts, ClientFailure::NoConfirmation)
            }
            _ => {
                self.retry = None;
                return;
            }
        };
        if retry.attempt >= limit {
            self.retry = None;
            self.state = ClientState::Failed;
            self.event(ClientEvent::Failed(failure));
            return;
        }
        let timeout = retry.timeout.saturating_mul(2).min(self.config.max_timeout);
        self.retry = Some(Retry {
            attempt: retry.attempt + 1,
            timeout,
            deadline: now + timeout,
        });
        if self.state == ClientState::Discovering {
            self.send_padi();
        } else {
            self.send_padr();
        }
    }

    /// Writes the next frame into `buf` (at least [`super::MAX_FRAME_LEN`]
    /// bytes); a frame that cannot be written is dropped.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            let out = self.transmit.pop_front()?;
            if let Ok(transmit) = write_frame(buf, self.local_mac, &out) {
                self.event(ClientEvent::PacketCounted {
                    code: transmit.code,
                    direction: Direction::Tx,
                });
                return Some(transmit);
            }
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }
}
