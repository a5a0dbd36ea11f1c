//! LCP option negotiation (RFC 1661 §6, RFC 1570, RFC 2516 §7 for PPPoE).
//!
//! - Maximum-Receive-Unit (§6.1): we ask for our MRU (config, bounded by
//!   the lower layer, e.g. PPPoE's 1492 or the RFC 4638 PPP-Max-Payload)
//!   and Nak a peer MRU larger than the lower layer can carry.
//! - Authentication-Protocol (§6.2): the authenticator asks for the
//!   configured methods in order and, on a Configure-Nak, falls back to the
//!   peer's suggestion if it is configured, else to the next one; the peer
//!   side accepts a method it supports and Naks with its preference
//!   otherwise. An authenticator never authenticates itself to the peer:
//!   a peer's request for authentication is rejected on the server side.
//! - Magic-Number (§6.4): a random non-zero number; a peer request that
//!   carries our own number is Nak'd with a fresh random one, our number
//!   being Nak'd changes it; after `max_loopback` such coincidences the
//!   link is declared looped back ("If the two Magic-Numbers are equal ...
//!   the link might be looped-back").
//! - PFC and ACFC (§6.5, §6.6) are rejected unless the link allows them
//!   (RFC 2516 §7: "An implementation MUST NOT request any of the following
//!   options, and MUST reject a request for such an option: ... (ACFC),
//!   ... (ACCM)"); ACCM likewise; Quality-Protocol and every unknown
//!   option (Callback, MRRU, …) are rejected.
//! - Proxy LCP (RFC 2661 §4.4.5): an LNS may adopt what the LAC
//!   negotiated ([`Negotiator::adopt`]); the LAC's last sent request
//!   becomes ours, the subscriber's last request is heard as acknowledged.

use rand::Rng;
use rand::rngs::StdRng;

use super::auth::AuthMethod;
use super::fsm::{NegotiationFailure, Negotiator, Verdict};
use crate::wire::ppp::LcpOption;

/// RFC 1661 §6.1 default MRU.
pub const DEFAULT_MRU: u16 = 1500;
/// Smallest MRU we accept from a peer (pppd's MINMRU).
pub const MIN_MRU: u16 = 128;

/// Which end of the authentication this link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRole {
    /// The authenticator: asks the peer to authenticate with these
    /// methods, in order of preference. Empty: no authentication.
    Authenticator(Vec<AuthMethod>),
    /// The peer: authenticates with one of these methods, in order of
    /// preference, when the authenticator asks. Empty: refuses to.
    Peer(Vec<AuthMethod>),
}

/// LCP settings of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcpConfig {
    /// The MRU we ask for (clamped to the lower layer's payload).
    pub mru: u16,
    /// The largest PPP payload (protocol field excluded) the lower layer
    /// carries: PPPoE 1492 or PPP-Max-Payload, L2TP path MTU.
    pub lower_max_payload: u16,
    /// Authentication role and methods.
    pub auth: AuthRole,
    /// Accept PFC / ACFC / ACCM (never over PPPoE; an L2TP LNS may).
    pub accept_compression: bool,
    /// Request a Magic-Number (and so detect loopbacks).
    pub magic_number: bool,
    /// Magic-Number coincidences before the link counts as looped back.
    pub max_loopback: u8,
}

impl Default for LcpConfig {
    fn default() -> Self {
        Self {
            mru: 1492,
            lower_max_payload: 1492,
            auth: AuthRole::Authenticator(Vec::new()),
            accept_compression: false,
            magic_number: true,
            max_loopback: 5,
        }
    }
}

/// What LCP agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LcpNegotiated {
    /// The MRU the peer acknowledged for us (what it may send us).
    pub our_mru: u16,
    /// The peer's MRU (the largest packet we may send).
    pub peer_mru: u16,
    /// Our Magic-Number (0: none negotiated).
    pub our_magic: u32,
    /// The peer's Magic-Number (0: none negotiated).
    pub peer_magic: u32,
    /// The method the peer must authenticate with (authenticator side).
    pub auth_required: Option<AuthMethod>,
    /// The method we authenticate with (peer side).
    pub auth_to_peer: Option<AuthMethod>,
    /// The peer may compress the Protocol field.
    pub peer_pfc: bool,
    /// The peer may omit Address and Control.
    pub peer_acfc: bool,
}

/// The LCP [`Negotiator`].
#[derive(Debug)]
pub struct Lcp {
    config: LcpConfig,
    rng: StdRng,
    // Our request.
    request_mru: Option<u16>,
    auth_candidates: Vec<AuthMethod>,
    request_magic: Option<u32>,
    loopback_count: u8,
    looped_back: bool,
    // Peer request under judgement.
    pending_auth_to_peer: Option<AuthMethod>,
    negotiated: LcpNegotiated,
}

impl Lcp {
    /// A negotiator; `rng` draws Magic-Numbers.
    pub fn new(config: LcpConfig, rng: StdRng) -> Self {
        let mut lcp = Self {
            request_mru: None,
            auth_candidates: Vec::new(),
            request_magic: None,
            loopback_count: 0,
            looped_back: false,
            pending_auth_to_peer: None,
            negotiated: LcpNegotiated::default(),
            rng,
            config,
        };
        lcp.restart();
        lcp
    }

    fn restart(&mut self) {
        let mru = self.config.mru.min(self.config.lower_max_payload);
        self.request_mru = (mru != DEFAULT_MRU).then_some(mru);
        self.auth_candidates = match &self.config.auth {
            AuthRole::Authenticator(methods) => methods.clone(),
            AuthRole::Peer(_) => Vec::new(),
        };
        self.request_magic = self.config.magic_number.then(|| self.fresh_magic(0));
        self.negotiated = LcpNegotiated {
            our_mru: DEFAULT_MRU,
            peer_mru: DEFAULT_MRU,
            ..LcpNegotiated::default()
        };
    }

    /// A non-zero random number different from `avoid`.
    fn fresh_magic(&mut self, avoid: u32) -> u32 {
        loop {
            let magic = self.rng.next_u32();
            if magic != 0 && magic != avoid {
                return magic;
            }
        }
    }

    /// The values agreed on so far (complete once LCP is Opened).
    pub fn negotiated(&self) -> LcpNegotiated {
        self.negotiated
    }

    /// Whether the Magic-Number check concluded the link is looped back.
    pub fn looped_back(&self) -> bool {
        self.looped_back
    }

    /// The configuration.
    pub fn config(&self) -> &LcpConfig {
        &self.config
    }

    /// Changes the lower layer's payload limit (applies to the next
    /// negotiation).
    pub fn set_lower_max_payload(&mut self, max_payload: u16) {
        self.config.lower_max_payload = max_payload;
        let mru = self.config.mru.min(max_payload);
        if self.request_mru.is_some() || mru != DEFAULT_MRU {
            self.request_mru = Some(mru);
        }
    }

    fn loop_suspected(&mut self) -> Result<(), NegotiationFailure> {
        self.loopback_count = self.loopback_count.saturating_add(1);
        if self.loopback_count >= self.config.max_loopback.max(1) {
            self.looped_back = true;
            return Err(NegotiationFailure::LoopedBack);
        }
        Ok(())
    }
}

impl Negotiator for Lcp {
    type Option = LcpOption;

    fn request(&mut self) -> Vec<LcpOption> {
        let mut options = Vec::new();
        if let Some(mru) = self.request_mru {
            options.push(LcpOption::Mru(mru));
        }
        if let Some(method) = self.auth_candidates.first() {
            options.push(method.to_lcp_option());
        }
        if let Some(magic) = self.request_magic {
            options.push(LcpOption::MagicNumber(magic));
        }
        options
    }

    fn begin_peer_request(&mut self) {
        self.pending_auth_to_peer = None;
    }

    fn judge(&mut self, option: &LcpOption) -> Verdict<LcpOption> {
        match option {
            LcpOption::Mru(mru) => {
                // §6.1: the peer may ask for any MRU; we can only send what
                // the lower layer carries.
                let limit = self.config.lower_max_payload;
                if *mru > limit || *mru < MIN_MRU {
                    Verdict::Nak(LcpOption::Mru(limit))
                } else {
                    Verdict::Ack
                }
            }
            LcpOption::AuthProtocol { .. } => match &self.config.auth {
                AuthRole::Authenticator(_) => Verdict::Reject,
                AuthRole::Peer(supported) => {
                    let wanted = AuthMethod::from_lcp_option(option);
                    match (wanted, supported.first()) {
                        (Some(method), _) if supported.contains(&method) => {
                            self.pending_auth_to_peer = Some(method);
                            Verdict::Ack
                        }
                        // §6.2: "If an implementation does not support the
                        // requested protocol, it MUST Configure-Nak with
                        // one it does support" (we Nak with our preference).
                        (_, Some(preferred)) => Verdict::Nak(preferred.to_lcp_option()),
                        (_, None) => Verdict::Reject,
                    }
                }
            },
            LcpOption::MagicNumber(magic) => {
                let ours = self.request_magic.unwrap_or(0);
                if *magic == 0 || (ours != 0 && *magic == ours) {
                    // §6.4: a zero Magic-Number "MUST always be Nak'd";
                    // an equal one may mean a loop: Nak with a new one.
                    if *magic != 0 {
                        // The failure surfaces when our own number is next
                        // Nak'd; count the coincidence here too.
                        self.loopback_count = self.loopback_count.saturating_add(1);
                    }
                    Verdict::Nak(LcpOption::MagicNumber(self.fresh_magic(ours)))
                } else {
                    Verdict::Ack
                }
            }
            LcpOption::Pfc | LcpOption::Acfc | LcpOption::Accm(_) => {
                if self.config.accept_compression {
                    Verdict::Ack
                } else {
                    Verdict::Reject
                }
            }
            LcpOption::QualityProtocol { .. } | LcpOption::Unknown { .. } => Verdict::Reject,
        }
    }

    fn peer_acked(&mut self, options: &[LcpOption]) {
        let n = &mut self.negotiated;
        n.peer_mru = DEFAULT_MRU;
        n.peer_magic = 0;
        n.peer_pfc = false;
        n.peer_acfc = false;
        n.auth_to_peer = self.pending_auth_to_peer.take();
        for option in options {
            match option {
                LcpOption::Mru(mru) => n.peer_mru = *mru,
                LcpOption::MagicNumber(magic) => n.peer_magic = *magic,
                LcpOption::Pfc => n.peer_pfc = true,
                LcpOption::Acfc => n.peer_acfc = true,
                _ => {}
            }
        }
        // Without an MRU option the peer takes 1500, which may exceed the
        // lower layer; never send more than it carries.
        n.peer_mru = n.peer_mru.min(self.config.lower_max_payload);
    }

    fn our_acked(&mut self, options: &[LcpOption]) -> Result<(), NegotiationFailure> {
        let n = &mut self.negotiated;
        n.our_mru = DEFAULT_MRU;
        n.our_magic = 0;
        n.auth_required = None;
        for option in options {
            match option {
                LcpOption::Mru(mru) => n.our_mru = *mru,
                LcpOption::MagicNumber(magic) => n.our_magic = *magic,
                LcpOption::AuthProtocol { .. } => {
                    n.auth_required = AuthMethod::from_lcp_option(option);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn nak_received(&mut self, options: &[LcpOption]) -> Result<(), NegotiationFailure> {
        for option in options {
            match option {
                LcpOption::Mru(mru) if self.request_mru.is_some() => {
                    // §6.1: take the suggestion, within what we can receive
                    // (never `clamp`: a tiny lower layer must not panic).
                    let limit = self.config.mru.min(self.config.lower_max_payload);
                    self.request_mru = Some((*mru).max(MIN_MRU).min(limit));
                }
                LcpOption::AuthProtocol { .. } => {
                    if self.auth_candidates.is_empty() {
                        continue;
                    }
                    let current = self.auth_candidates.remove(0);
                    // Fall back to the peer's suggestion when we offer it,
                    // else to our next method.
                    if let Some(suggested) = AuthMethod::from_lcp_option(option)
                        && suggested != current
                        && let Some(index) =
                            self.auth_candidates.iter().position(|m| *m == suggested)
                    {
                        let method = self.auth_candidates.remove(index);
                        self.auth_candidates.insert(0, method);
                    }
                    if self.auth_candidates.is_empty() {
                        return Err(NegotiationFailure::NoCommonAuthProtocol);
                    }
                }
                LcpOption::MagicNumber(_) => {
                    if let Some(current) = self.request_magic {
                        self.loop_suspected()?;
                        self.request_magic = Some(self.fresh_magic(current));
                    }
                }
                // Suggestions for options we did not request (or cannot
                // change) are ignored; we keep asking for what we need.
                _ => {}
            }
        }
        Ok(())
    }

    fn reject_received(&mut self, options: &[LcpOption]) -> Result<(), NegotiationFailure> {
        for option in options {
            match option {
                LcpOption::Mru(_) => self.request_mru = None,
                LcpOption::MagicNumber(_) => self.request_magic = None,
                LcpOption::AuthProtocol { .. } => {
                    // The authenticator cannot go on without authentication.
                    return Err(NegotiationFailure::RequiredOptionRefused(3));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// RFC 2661 §4.4.5 proxy LCP: the adopted request becomes ours (so
    /// that a peer Magic-Number equal to the adopted one still counts as a
    /// loop, §6.4), then both lists are heard as acknowledged.
    fn adopt(&mut self, ours: &[LcpOption], peer: &[LcpOption]) -> Result<(), NegotiationFailure> {
        self.request_mru = None;
        self.request_magic = None;
        for option in ours {
            match option {
                LcpOption::Mru(mru) => self.request_mru = Some(*mru),
                LcpOption::MagicNumber(magic) => self.request_magic = Some(*magic),
                LcpOption::AuthProtocol { .. } => {
                    if let Some(method) = AuthMethod::from_lcp_option(option) {
                        self.auth_candidates.retain(|m| *m != method);
                        self.auth_candidates.insert(0, method);
                    }
                }
                _ => {}
            }
        }
        self.begin_peer_request();
        self.peer_acked(peer);
        self.our_acked(ours)
    }

    fn reset(&mut self) {
        let loops = self.loopback_count;
        let looped = self.looped_back;
        self.restart();
        self.loopback_count = loops;
        self.looped_back = looped;
    }
}
