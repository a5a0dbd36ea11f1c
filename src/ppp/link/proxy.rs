//! Proxy LCP and proxy authentication on the LNS side of a [`Link`] (RFC
//! 2661 §4.4.5, §18).
//!
//! A LAC that negotiated LCP and authenticated the subscriber itself hands
//! the LNS, in the ICCN, the options of the Configure-Requests it sent and
//! received ("Last Sent LCP CONFREQ", "Last Received LCP CONFREQ", option
//! bytes only, no LCP header, [`crate::l2tp::ProxyInfo`]) and the
//! authentication exchange (Proxy Authen Type, Name, Challenge, ID,
//! Response). RFC 2661 §4.4.5: the LNS "may use this information to ...
//! [avoid] the need to renegotiate LCP", or renegotiate. The subscriber's
//! LCP is Opened (with the LAC); it does not know that another box now
//! terminates its PPP.
//!
//! The steps, each a method here, the caller (the LNS core) choosing:
//!
//! 1. [`Link::proxy_lcp_acceptable`] (pure) judges the two option lists as
//!    our LCP (RFC 1661 §6, [`crate::ppp::lcp`]) would have: the
//!    subscriber's request must be one we would have acknowledged as it is
//!    (RFC 1661 §5.2: no Configure-Nak, no Configure-Reject), and the
//!    LAC's one we could have sent (an MRU we can receive, one of our
//!    authentication methods). A refusal ([`ProxyLcpRefusal`]) names the
//!    option and the reason, for logs and a metric label.
//! 2. [`Link::adopt_proxy_lcp`] on a Dead link puts LCP straight into
//!    Opened with those options as the negotiated result (RFC 1661 §4.1 as
//!    after a completed exchange, [`crate::ppp::fsm::Automaton::adopt_opened`])
//!    without sending any LCP packet, starts the keepalive (§5.8) and
//!    enters the Authentication phase (§3.5), where it waits for the caller.
//!    From then on LCP runs as on any Opened link: an Echo-Request is
//!    answered with the adopted Magic-Number, a Configure-Request
//!    renegotiates (§4: Opened + RCR → tld, scr, sca/scn; authentication and
//!    the NCPs start over as after any renegotiation, §3.5), a
//!    Terminate-Request is acknowledged and the link goes down (§5.5).
//!    Without an authentication method in the adopted LCP the link goes
//!    straight to the Network phase, as after a normal negotiation without
//!    one.
//! 3. Then either
//!    - [`Link::adopt_proxy_auth`]: the caller checked the proxied
//!      credentials with RADIUS; the link counts as authenticated, enters
//!      the Network phase and starts the NCPs, with the same events as a
//!      successful authentication; or
//!    - [`Link::challenge`]: the caller authenticates again itself (local
//!      CHAP, and always for MS-CHAPv2, whose Success carries the
//!      authenticator response the LAC could not compute for us): a new
//!      CHAP or MS-CHAPv2 Challenge goes out (RFC 1994 §4.1, RFC 2759 §4).
//!      For PAP the link can only wait for an Authenticate-Request (RFC 1334
//!      §2.2); a subscriber that already authenticated through the LAC may
//!      never send one again (pppd does not), so a caller that challenges a
//!      PAP subscriber must expect the authentication timeout, or prefer
//!      [`Link::renegotiate`].
//!
//! [`Link::renegotiate`] ignores the proxy: it is [`Link::open`] for a Dead
//! link, LCP from scratch. The subscriber's LCP, Opened with the LAC,
//! receives our Configure-Request in Opened and starts over (RFC 1661
//! §4.1: Opened + RCR → tld, scr, sca), authentication included.

use core::fmt;
use std::time::Instant;

use rand::Rng;
use thiserror::Error;

use super::{AuthCore, AuthRecord, Link, LinkEvent, Phase, Role};
use crate::ppp::auth::{AuthMethod, AuthServer};
use crate::ppp::fsm::AdoptRefused;
use crate::ppp::lcp::{DEFAULT_MRU, LcpNegotiated, MIN_MRU};
use crate::wire::ppp::LcpOption;
use crate::wire::ppp::control::{ConfigOption, OptionIter};

/// Which proxied Configure-Request an option came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxySide {
    /// Last Sent LCP CONFREQ: the LAC's own options towards the
    /// subscriber (they become ours).
    Lac,
    /// Last Received LCP CONFREQ: the subscriber's options.
    Subscriber,
}

impl ProxySide {
    /// `"LAC"` or `"subscriber"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lac => "LAC",
            Self::Subscriber => "subscriber",
        }
    }
}

impl fmt::Display for ProxySide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the proxied LCP cannot be adopted: the LNS renegotiates instead
/// ([`Link::renegotiate`]). `Display` is for logs; [`as_str`](Self::as_str)
/// is a short label for metrics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProxyLcpRefusal {
    /// Proxy LCP is for the server (LNS) side.
    #[error("proxy LCP is adopted by the server (LNS) side only")]
    NotServer,
    /// The link was opened already (or went down).
    #[error("the link is not Dead ({phase:?}): proxy LCP is adopted before open")]
    NotDead {
        /// The link's phase.
        phase: Phase,
    },
    /// An option list does not parse: truncated, an option Length below 2
    /// or past the end, or a known option with a bad length.
    #[error("the {side}'s LCP options are malformed (truncated or a bad option Length)")]
    Malformed {
        /// Whose list.
        side: ProxySide,
    },
    /// The subscriber's MRU is more than the lower layer carries (we would
    /// have Nak'd it, RFC 1661 §6.1).
    #[error("the subscriber's MRU {mru} exceeds the L2TP path's {limit}")]
    SubscriberMruTooLarge {
        /// The subscriber's MRU.
        mru: u16,
        /// Our lower layer's payload.
        limit: u16,
    },
    /// The MRU the LAC asked for (1500 when it asked for none, RFC 1661
    /// §6.1) is more than we receive.
    #[error("the LAC's MRU {mru} exceeds the {limit} we receive (our MRU and the L2TP path)")]
    LacMruTooLarge {
        /// The LAC's MRU (1500 when absent).
        mru: u16,
        /// Our MRU bounded by the lower layer.
        limit: u16,
    },
    /// An MRU below the 128 we accept.
    #[error("the {side}'s MRU {mru} is below the minimum {MIN_MRU}")]
    MruTooSmall {
        /// Whose MRU.
        side: ProxySide,
        /// The MRU.
        mru: u16,
    },
    /// The LAC asked for an authentication protocol we do not offer.
    #[error(
        "the LAC's Authentication-Protocol {} is not one we offer",
        auth_protocol_name(*.protocol, *.algorithm)
    )]
    AuthNotConfigured {
        /// The protocol (PAP 0xc023, CHAP 0xc223, EAP 0xc227 …).
        protocol: u16,
        /// The CHAP algorithm octet, if any.
        algorithm: Option<u8>,
    },
    /// We require authentication, the LAC negotiated none.
    #[error("we require authentication but the LAC's LCP negotiated none")]
    AuthMissing,
    /// The subscriber asked us to authenticate ourselves (our LCP rejects
    /// that on the authenticator side).
    #[error("the subscriber's LCP asks us to authenticate (Authentication-Protocol)")]
    SubscriberRequestsAuth,
    /// A Magic-Number of zero (RFC 1661 §6.4: "MUST always be Nak'd").
    #[error("the {side}'s Magic-Number is 0")]
    ZeroMagic {
        /// Whose Magic-Number.
        side: ProxySide,
    },
    /// Both ends have the same Magic-Number (RFC 1661 §6.4: the link may
    /// be looped back).
    #[error("the LAC and the subscriber have the same Magic-Number {magic:#010x} (looped back?)")]
    MagicLoop {
        /// The Magic-Number.
        magic: u32,
    },
    /// PFC, ACFC or ACCM while `accept_compression` is off (RFC 2516 §7).
    #[error("the {side}'s {option} is not accepted (accept_compression is off)")]
    Compression {
        /// Whose option.
        side: ProxySide,
        /// `"PFC"`, `"ACFC"` or `"ACCM"`.
        option: &'static str,
    },
    /// An option we would have rejected (Quality-Protocol, Callback, MRRU,
    /// any unknown Type).
    #[error("the {side}'s LCP option type {option_type} is not one we negotiate")]
    UnknownOption {
        /// Whose option.
        side: ProxySide,
        /// Its Type.
        option_type: u8,
    },
    /// The LCP automaton refused the adoption (cannot happen after the
    /// checks; reported rather than hidden).
    #[error("LCP could not adopt the options: {0:?}")]
    Automaton(AdoptRefused),
}

impl ProxyLcpRefusal {
    /// A short snake_case label (for a metric).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::NotServer => "not_server",
            Self::NotDead { .. } => "link_not_dead",
            Self::Malformed { .. } => "malformed",
            Self::SubscriberMruTooLarge { .. } => "subscriber_mru_too_large",
            Self::LacMruTooLarge { .. } => "lac_mru_too_large",
            Self::MruTooSmall { .. } => "mru_too_small",
            Self::AuthNotConfigured { .. } => "auth_not_configured",
            Self::AuthMissing => "auth_missing",
            Self::SubscriberRequestsAuth => "subscriber_requests_auth",
            Self::ZeroMagic { .. } => "magic_zero",
            Self::MagicLoop { .. } => "magic_loop",
            Self::Compression { .. } => "compression",
            Self::UnknownOption { .. } => "unknown_option",
            Self::Automaton(_) => "automaton",
        }
    }
}

/// A readable name for an Authentication-Protocol option.
fn auth_protocol_name(protocol: u16, algorithm: Option<u8>) -> String {
    match (protocol, algorithm) {
        (0xc023, None) => "PAP".to_owned(),
        (0xc223, Some(0x05)) => "CHAP-MD5".to_owned(),
        (0xc223, Some(0x80)) => "MS-CHAP (v1)".to_owned(),
        (0xc223, Some(0x81)) => "MS-CHAPv2".to_owned(),
        (0xc227, None) => "EAP".to_owned(),
        (protocol, Some(algorithm)) => format!("{protocol:#06x} (algorithm {algorithm:#04x})"),
        (protocol, None) => format!("{protocol:#06x}"),
    }
}

/// What the proxied LCP agreed on, as it is (or would be) adopted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyLcpAdopted {
    /// The method the subscriber must authenticate with (the LAC's
    /// Authentication-Protocol: PAP, CHAP algorithm 5 → CHAP-MD5, 0x81 →
    /// MS-CHAPv2); `None`: no authentication negotiated.
    pub auth: Option<AuthMethod>,
    /// The LCP result as [`Link::lcp_negotiated`] reports it once adopted.
    pub negotiated: LcpNegotiated,
}

impl ProxyLcpAdopted {
    /// Our MRU, as the LAC asked for it (what the subscriber may send us).
    pub const fn our_mru(&self) -> u16 {
        self.negotiated.our_mru
    }

    /// The subscriber's MRU, bounded by the lower layer (the largest
    /// packet we send).
    pub const fn peer_mru(&self) -> u16 {
        self.negotiated.peer_mru
    }
}

/// Parses a proxied option list; malformed is a refusal.
fn parse_options(bytes: &[u8], side: ProxySide) -> Result<Vec<LcpOption>, ProxyLcpRefusal> {
    let mut options = Vec::new();
    for raw in OptionIter::new(bytes) {
        let option = raw
            .ok()
            .and_then(|raw| LcpOption::parse(raw).ok())
            .ok_or(ProxyLcpRefusal::Malformed { side })?;
        options.push(option);
    }
    Ok(options)
}

/// The options our LCP rejects unless compression is accepted.
const fn compression_name(option: &LcpOption) -> Option<&'static str> {
    match option {
        LcpOption::Pfc => Some("PFC"),
        LcpOption::Acfc => Some("ACFC"),
        LcpOption::Accm(_) => Some("ACCM"),
        _ => None,
    }
}

impl Link {
    /// Whether the proxied LCP (RFC 2661 §4.4.5: `last_sent` = Last Sent
    /// LCP CONFREQ, the LAC's options; `last_received` = Last Received LCP
    /// CONFREQ, the subscriber's; option bytes without the LCP header) can
    /// be adopted by this server link: the subscriber's options are ones
    /// our LCP would acknowledge as they are, the LAC's ones we could have
    /// requested. Pure; see the module documentation.
    pub fn proxy_lcp_acceptable(
        &self,
        last_sent: &[u8],
        last_received: &[u8],
    ) -> Result<ProxyLcpAdopted, ProxyLcpRefusal> {
        if self.config.role != Role::Server {
            return Err(ProxyLcpRefusal::NotServer);
        }
        let ours = parse_options(last_sent, ProxySide::Lac)?;
        let peer = parse_options(last_received, ProxySide::Subscriber)?;
        let lower = self.config.lower_max_payload;
        let mut negotiated = LcpNegotiated {
            our_mru: DEFAULT_MRU,
            peer_mru: DEFAULT_MRU,
            ..LcpNegotiated::default()
        };

        // The subscriber's request, judged as `Lcp::judge` would (RFC 1661
        // §6; RFC 2516 §7 for compression).
        for option in &peer {
            let side = ProxySide::Subscriber;
            match option {
                LcpOption::Mru(mru) if *mru > lower => {
                    return Err(ProxyLcpRefusal::SubscriberMruTooLarge {
                        mru: *mru,
                        limit: lower,
                    });
                }
                LcpOption::Mru(mru) if *mru < MIN_MRU => {
                    return Err(ProxyLcpRefusal::MruTooSmall { side, mru: *mru });
                }
                LcpOption::Mru(mru) => negotiated.peer_mru = *mru,
                LcpOption::AuthProtocol { .. } => {
                    return Err(ProxyLcpRefusal::SubscriberRequestsAuth);
                }
                LcpOption::MagicNumber(0) => return Err(ProxyLcpRefusal::ZeroMagic { side }),
                LcpOption::MagicNumber(magic) => negotiated.peer_magic = *magic,
                LcpOption::Pfc | LcpOption::Acfc | LcpOption::Accm(_) => {
                    if !self.config.accept_compression {
                        return Err(ProxyLcpRefusal::Compression {
                            side,
                            option: compression_name(option).unwrap_or("compression"),
                        });
                    }
                    negotiated.peer_pfc |= *option == LcpOption::Pfc;
                    negotiated.peer_acfc |= *option == LcpOption::Acfc;
                }
                LcpOption::QualityProtocol { .. } | LcpOption::Unknown { .. } => {
                    return Err(ProxyLcpRefusal::UnknownOption {
                        side,
                        option_type: option.option_type(),
                    });
                }
            }
        }
        // As `Lcp::peer_acked`: never send more than the lower layer carries.
        negotiated.peer_mru = negotiated.peer_mru.min(lower);

        // The LAC's request, as one our LCP could have sent and had
        // acknowledged.
        for option in &ours {
            let side = ProxySide::Lac;
            match option {
                LcpOption::Mru(mru) if *mru < MIN_MRU => {
                    return Err(ProxyLcpRefusal::MruTooSmall { side, mru: *mru });
                }
                LcpOption::Mru(mru) => negotiated.our_mru = *mru,
                LcpOption::AuthProtocol { protocol, data } => {
                    match AuthMethod::from_lcp_option(option) {
                        Some(method) if self.config.auth_methods.contains(&method) => {
                            negotiated.auth_required = Some(method);
                        }
                        _ => {
                            return Err(ProxyLcpRefusal::AuthNotConfigured {
                                protocol: u16::from(*protocol),
                                algorithm: data.first().copied(),
                            });
                        }
                    }
                }
                LcpOption::MagicNumber(0) => return Err(ProxyLcpRefusal::ZeroMagic { side }),
                LcpOption::MagicNumber(magic) => negotiated.our_magic = *magic,
                LcpOption::Pfc | LcpOption::Acfc | LcpOption::Accm(_) => {
                    if !self.config.accept_compression {
                        return Err(ProxyLcpRefusal::Compression {
                            side,
                            option: compression_name(option).unwrap_or("compression"),
                        });
                    }
                }
                LcpOption::QualityProtocol { .. } | LcpOption::Unknown { .. } => {
                    return Err(ProxyLcpRefusal::UnknownOption {
                        side,
                        option_type: option.option_type(),
                    });
                }
            }
        }
        let limit = self.config.mru.min(lower);
        if negotiated.our_mru > limit {
            return Err(ProxyLcpRefusal::LacMruTooLarge {
                mru: negotiated.our_mru,
                limit,
            });
        }
        if negotiated.auth_required.is_none() && !self.config.auth_methods.is_empty() {
            return Err(ProxyLcpRefusal::AuthMissing);
        }
        if negotiated.our_magic != 0 && negotiated.our_magic == negotiated.peer_magic {
            return Err(ProxyLcpRefusal::MagicLoop {
                magic: negotiated.our_magic,
            });
        }
        Ok(ProxyLcpAdopted {
            auth: negotiated.auth_required,
            negotiated,
        })
    }

    /// Adopts the proxied LCP on a Dead server link (before [`open`]):
    /// checks it ([`proxy_lcp_acceptable`]); if acceptable, LCP is Opened
    /// with those options as the negotiated result ([`lcp_negotiated`],
    /// the negotiation record) without any LCP packet sent, the keepalive
    /// runs, and the link waits in the Authentication phase for
    /// [`adopt_proxy_auth`] or [`challenge`] (the Network phase at once
    /// when no authentication was negotiated). Events: LCP's
    /// `StateChanged` to Opened, `LcpUp`, the phase change (no
    /// `StepCompleted { Lcp }`: we negotiated nothing). The negotiation
    /// record holds `last_sent` and `last_received` as our last sent and
    /// last received requests, and `last_received` as the initial one too
    /// (the Initial Received LCP CONFREQ AVP is not needed to adopt). On a
    /// refusal the link is untouched: [`renegotiate`] or close it.
    ///
    /// [`open`]: Link::open
    /// [`proxy_lcp_acceptable`]: Link::proxy_lcp_acceptable
    /// [`lcp_negotiated`]: Link::lcp_negotiated
    /// [`adopt_proxy_auth`]: Link::adopt_proxy_auth
    /// [`challenge`]: Link::challenge
    /// [`renegotiate`]: Link::renegotiate
    pub fn adopt_proxy_lcp(
        &mut self,
        now: Instant,
        last_sent: &[u8],
        last_received: &[u8],
    ) -> Result<ProxyLcpAdopted, ProxyLcpRefusal> {
        if self.phase != Phase::Dead || self.down_reported {
            return Err(ProxyLcpRefusal::NotDead { phase: self.phase });
        }
        self.proxy_lcp_acceptable(last_sent, last_received)?;
        self.lcp
            .adopt_opened(last_sent, last_received)
            .map_err(ProxyLcpRefusal::Automaton)?;
        // LCP's StateChanged first (the phase is still Dead: nothing timed).
        self.pump(now);
        // This-Layer-Up, as `lcp_up` without starting authentication.
        let negotiated = self.lcp.negotiator().negotiated();
        self.record_lcp_requests();
        self.push_event(LinkEvent::LcpUp(negotiated));
        self.echo_outstanding = 0;
        self.echo_next = self.config.echo_interval.map(|i| now + i);
        self.auth = AuthCore::None;
        self.authenticated = false;
        self.auth_method = negotiated.auth_required;
        if self.auth_method.is_some() {
            self.set_phase(Phase::Authenticate);
        } else {
            self.enter_network(now);
        }
        self.pump(now);
        Ok(ProxyLcpAdopted {
            auth: negotiated.auth_required,
            negotiated,
        })
    }

    /// Starts our own authentication on a link waiting in the
    /// Authentication phase after [`adopt_proxy_lcp`], with the method the
    /// adopted LCP agreed on: CHAP-MD5 and MS-CHAPv2 send a new Challenge;
    /// PAP waits for an Authenticate-Request, which a subscriber that
    /// already authenticated through the LAC may never send again (pppd
    /// does not): the authentication timeout then closes the link, so a
    /// caller should rather [`adopt_proxy_auth`] or renegotiate for PAP.
    /// What follows is the normal path: [`LinkEvent::AuthRequested`], then
    /// [`auth_complete`]. Does nothing on any other link (a client, another
    /// phase, an authentication already running or done).
    ///
    /// [`adopt_proxy_lcp`]: Link::adopt_proxy_lcp
    /// [`adopt_proxy_auth`]: Link::adopt_proxy_auth
    /// [`auth_complete`]: Link::auth_complete
    pub fn challenge(&mut self, now: Instant) {
        if self.config.role != Role::Server
            || self.phase != Phase::Authenticate
            || self.authenticated
            || !self.lcp.is_opened()
            || !matches!(self.auth, AuthCore::None)
        {
            return;
        }
        let Some(method) = self.auth_method else {
            return;
        };
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let mut server = Box::new(AuthServer::new(method, self.config.auth.clone(), seed));
        server.start(now);
        self.auth = AuthCore::Server(server);
        self.pump(now);
    }

    /// The caller verified the proxied credentials (RFC 2661 §4.4.5 Proxy
    /// Authen AVPs, with RADIUS): the link counts as authenticated by
    /// `method` without any packet to the peer, enters the Network phase
    /// and starts the NCPs exactly as after a successful authentication
    /// (IPCP waits for [`assign_ipv4`]), with the same events
    /// (`Authenticated`, the phase change, `StepCompleted { Auth }`). A
    /// challenge started by [`challenge`] is abandoned. The negotiation
    /// record's `auth` gets `method` and `user` (no challenge or response).
    /// Does nothing unless this server link is in the Authentication phase
    /// with LCP Opened and not yet authenticated.
    ///
    /// [`assign_ipv4`]: Link::assign_ipv4
    /// [`challenge`]: Link::challenge
    pub fn adopt_proxy_auth(&mut self, now: Instant, method: AuthMethod, user: &[u8]) {
        if self.config.role != Role::Server
            || self.phase != Phase::Authenticate
            || self.authenticated
            || !self.lcp.is_opened()
        {
            return;
        }
        self.auth = AuthCore::None;
        self.auth_method = Some(method);
        self.record.auth = Some(AuthRecord {
            method,
            name: user.to_vec(),
            challenge: Vec::new(),
            id: 0,
            response: Vec::new(),
        });
        self.authenticated = true;
        self.push_event(LinkEvent::Authenticated);
        self.enter_network(now);
        self.pump(now);
    }

    /// Ignores the proxy and runs LCP from scratch: [`open`](Link::open)
    /// for a Dead link (nothing otherwise). The subscriber's LCP, Opened
    /// with the LAC, takes our Configure-Request as a renegotiation (RFC
    /// 1661 §4.1, Opened + RCR) and authenticates again.
    pub fn renegotiate(&mut self, now: Instant) {
        self.open(now);
    }
}
