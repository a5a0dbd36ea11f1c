//! The authenticator side (RFC 1334 §2, RFC 1994 §4, RFC 2759 §4–§6).

use core::fmt;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    AuthConfig, AuthDecision, AuthFailure, AuthMethod, AuthRequest, AuthServerEvent, AuthStats,
    DropReason, Outbox, Secret, clamp_255, emit_chap, emit_pap, message_bytes,
};
use crate::wire::ppp::chap::{
    ChapMessage, ChapRepr, MSCHAPV2_CHALLENGE_LEN, MsChapV2Failure, MsChapV2Response,
    MsChapV2Success,
};
use crate::wire::ppp::pap::{PapMessage, PapRepr};

/// Octets in the challenges we generate (RFC 1994 §2.3 recommends at least
/// the hash length; RFC 2759 §4 fixes 16 for MS-CHAPv2).
const CHALLENGE_LEN: usize = 16;
/// RFC 1994 §4.1: an MD5 Response value is 16 octets.
const MD5_RESPONSE_LEN: usize = 16;
/// The MS-CHAPv2 `M=` text when AAA gives none.
const DEFAULT_SUCCESS_MESSAGE: &str = "Access granted";
/// RFC 2759 §6: the password-change protocol version announced in `V=`.
const MSCHAPV2_PASSWORD_CHANGE_VERSION: u32 = 3;

/// Where the authenticator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `start` not called yet.
    Idle,
    /// PAP: waiting for an Authenticate-Request. CHAP: a Challenge is
    /// outstanding.
    Waiting,
    /// Credentials handed to AAA, waiting for `auth_complete`.
    Deciding,
    /// Authenticated (possibly re-challenging later).
    Open,
    /// Authentication failed; terminal.
    Failed,
}

/// The last Ack/Nak/Success/Failure sent, replayed when the peer
/// retransmits the packet it answered (RFC 1994 §4.2, RFC 1334 §2.2).
#[derive(Debug)]
struct Answer {
    id: u8,
    packet: Vec<u8>,
}

/// The authenticator: asks for credentials, hands them to AAA through
/// [`AuthServerEvent::Requested`] and answers the peer with AAA's decision.
///
/// - PAP (RFC 1334 §2): waits for an Authenticate-Request (bounded by
///   [`AuthConfig::timeout`]); duplicates while the decision is pending are
///   absorbed; once decided, a retransmitted request gets the same answer.
/// - CHAP-MD5 (RFC 1994 §4.1): sends a random 16-octet Challenge with a new
///   Identifier, retransmits it every [`AuthConfig::retry_interval`] up to
///   [`AuthConfig::max_retries`] times, matches the Response by Identifier,
///   and may re-challenge at [`AuthConfig::rechallenge_interval`].
/// - MS-CHAPv2 (RFC 2759): as CHAP, with the 49-octet Response, a Success
///   carrying `S=<authenticator response>` and a Failure with `R=1` and a
///   new challenge while [`AuthConfig::max_attempts`] allows a retry.
pub struct AuthServer {
    method: AuthMethod,
    config: AuthConfig,
    rng: StdRng,
    phase: Phase,
    /// Identifier of the outstanding Challenge / the request being decided.
    id: u8,
    /// The outstanding challenge value (CHAP).
    challenge: [u8; CHALLENGE_LEN],
    /// Transmissions of the outstanding Challenge.
    transmissions: u8,
    retransmit_at: Option<Instant>,
    deadline: Option<Instant>,
    rechallenge_at: Option<Instant>,
    /// MS-CHAPv2 attempts answered so far in this authentication.
    attempts: u8,
    /// MS-CHAPv2: a Failure with `R=1` went out; the retry Response comes
    /// unprompted.
    awaiting_retry: bool,
    authenticated: bool,
    answer: Option<Answer>,
    last_request: Option<AuthRequest>,
    outbox: Outbox<AuthServerEvent>,
}

/// Shows the state, never the credentials received.
impl fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthServer")
            .field("method", &self.method)
            .field("phase", &self.phase)
            .field("id", &self.id)
            .field("attempts", &self.attempts)
            .field("authenticated", &self.authenticated)
            .field("retransmit_at", &self.retransmit_at)
            .field("deadline", &self.deadline)
            .field("rechallenge_at", &self.rechallenge_at)
            .field("stats", &self.outbox.stats)
            .finish_non_exhaustive()
    }
}

impl AuthServer {
    /// An authenticator for `method`, its challenges and Identifiers drawn
    /// from an RNG seeded with `rng_seed`.
    pub fn new(method: AuthMethod, config: AuthConfig, rng_seed: [u8; 32]) -> Self {
        let mut rng = StdRng::from_seed(rng_seed);
        let mut first_id = [0u8; 1];
        rng.fill_bytes(&mut first_id);
        Self {
            method,
            config,
            rng,
            phase: Phase::Idle,
            id: first_id[0],
            challenge: [0; CHALLENGE_LEN],
            transmissions: 0,
            retransmit_at: None,
            deadline: None,
            rechallenge_at: None,
            attempts: 0,
            awaiting_retry: false,
            authenticated: false,
            answer: None,
            last_request: None,
            outbox: Outbox::new(),
        }
    }

    /// The method this authenticator runs.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// Whether the peer has been authenticated and has not failed since
    /// (stays true while a re-challenge is outstanding: the link stays up
    /// until the re-challenge fails).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated && self.phase != Phase::Failed
    }

    /// Whether authentication failed (terminal).
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// The last credentials handed to AAA (for the L2TP proxy-authen AVPs
    /// of RFC 2661 §4.4.5).
    pub fn last_request(&self) -> Option<&AuthRequest> {
        self.last_request.as_ref()
    }

    /// Counters.
    pub fn stats(&self) -> AuthStats {
        self.outbox.stats
    }

    /// Starts authentication (call when LCP reaches Opened, RFC 1661 §3.5).
    /// CHAP and MS-CHAPv2 send the first Challenge; PAP waits for the
    /// peer's Authenticate-Request. Calls after the first are ignored.
    pub fn start(&mut self, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Waiting;
        self.deadline = Some(now + self.config.timeout);
        if self.method != AuthMethod::Pap {
            self.new_challenge(now);
        }
    }

    /// A PAP or CHAP packet (the bytes after the PPP Protocol field). The
    /// authenticator's reactions to packets need no clock; `now` keeps the
    /// sans-IO shape uniform.
    pub fn handle_packet(&mut self, _now: Instant, packet: &[u8]) {
        match self.method {
            AuthMethod::Pap => self.handle_pap(packet),
            AuthMethod::ChapMd5 | AuthMethod::MsChapV2 => self.handle_chap(packet),
        }
    }

    /// AAA's decision on the last [`AuthServerEvent::Requested`]. Ignored
    /// (and counted in [`AuthStats::ignored_decisions`]) unless a decision
    /// is pending, e.g. when it comes after the timeout.
    ///
    /// RFC 1334 §2.2.2: an acceptable Peer-ID/Password pair "MUST" get an
    /// Authenticate-Ack, otherwise an Authenticate-Nak. RFC 1994 §4.2: a
    /// matching Response "MUST" get a Success, otherwise a Failure.
    pub fn auth_complete(&mut self, now: Instant, decision: AuthDecision) {
        if self.phase != Phase::Deciding {
            self.outbox.stats.ignored_decisions += 1;
            return;
        }
        match decision {
            AuthDecision::Accept {
                message,
                mschapv2_authenticator_response,
            } => match (self.method, mschapv2_authenticator_response) {
                (AuthMethod::MsChapV2, None) => {
                    let failure = self.mschapv2_failure(false, message.as_deref());
                    self.answer_and_fail(failure, AuthFailure::MissingAuthenticatorResponse);
                }
                (AuthMethod::MsChapV2, Some(authenticator_response)) => {
                    // RFC 2759 §5: "S=<auth_string> M=<message>"; M= is
                    // always sent, as some peers expect it.
                    let text = MsChapV2Success {
                        authenticator_response,
                        message: Some(
                            message
                                .unwrap_or_else(|| DEFAULT_SUCCESS_MESSAGE.to_owned())
                                .into_bytes(),
                        ),
                    }
                    .to_message();
                    let packet = ChapRepr::new(
                        self.id,
                        ChapMessage::Success {
                            message: clamp_255(&text),
                        },
                    );
                    self.answer_and_open(now, emit_chap(&packet));
                }
                (AuthMethod::ChapMd5, _) => {
                    let packet = ChapRepr::new(
                        self.id,
                        ChapMessage::Success {
                            message: message_bytes(message.as_deref()),
                        },
                    );
                    self.answer_and_open(now, emit_chap(&packet));
                }
                (AuthMethod::Pap, _) => {
                    let packet = PapRepr::new(
                        self.id,
                        PapMessage::AuthenticateAck {
                            message: message_bytes(message.as_deref()),
                        },
                    );
                    self.answer_and_open(now, emit_pap(&packet));
                }
            },
            AuthDecision::Reject { message } => self.reject(message),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Waiting | Phase::Deciding)
            && self.deadline.is_some_and(|d| now >= d)
        {
            self.fail(AuthFailure::Timeout);
            return;
        }
        if self.phase == Phase::Waiting && self.retransmit_at.is_some_and(|t| now >= t) {
            if self.transmissions >= self.config.max_retries {
                self.fail(AuthFailure::NoResponse);
                return;
            }
            // The same Challenge again (same Identifier and value), so a
            // Response to any copy matches.
            self.send_challenge(now);
            self.outbox.stats.retransmits += 1;
        }
        if self.phase == Phase::Open && self.rechallenge_at.is_some_and(|t| now >= t) {
            // RFC 1994 §4: "the authenticator MAY send a new challenge at
            // random intervals" while the link is up.
            self.rechallenge_at = None;
            self.phase = Phase::Waiting;
            self.deadline = Some(now + self.config.timeout);
            self.attempts = 0;
            self.new_challenge(now);
        }
    }

    /// The next instant `handle_timeout` must run at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timers = match self.phase {
            Phase::Waiting => [self.deadline, self.retransmit_at],
            Phase::Deciding => [self.deadline, None],
            Phase::Open => [self.rechallenge_at, None],
            Phase::Idle | Phase::Failed => [None, None],
        };
        timers.into_iter().flatten().min()
    }

    /// Writes the next packet (for [`AuthMethod::protocol`], starting at
    /// the Code octet) into `buf`; returns its length. A packet larger than
    /// `buf` is discarded and counted ([`AuthStats::transmit_lost`]); 1500
    /// octets always suffice.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.outbox.poll_transmit(buf)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<AuthServerEvent> {
        self.outbox.events.pop_front()
    }

    // --- PAP ---------------------------------------------------------

    fn handle_pap(&mut self, packet: &[u8]) {
        let repr = match PapRepr::parse_bytes(packet) {
            Ok(repr) => repr,
            Err(error) => return self.drop(DropReason::Malformed(error)),
        };
        let PapMessage::AuthenticateRequest { peer_id, password } = repr.message else {
            // Ack and Nak travel towards the peer, never to us.
            return self.drop(DropReason::UnexpectedCode(repr.message.code()));
        };
        match self.phase {
            Phase::Idle => self.drop(DropReason::UnexpectedInState(1)),
            Phase::Waiting => {
                self.id = repr.identifier;
                self.phase = Phase::Deciding;
                self.request(AuthRequest::Pap {
                    user: peer_id,
                    password: Secret::new(password),
                });
            }
            Phase::Deciding => {
                // A retransmission while AAA decides: absorbed. Peers such as
                // pppd change the Identifier on each retransmission, so the
                // answer goes to the latest one.
                self.id = repr.identifier;
                self.drop(DropReason::Duplicate);
            }
            Phase::Open | Phase::Failed => {
                // RFC 1334 §2.2.1 has the peer retransmit until it gets an
                // answer: the Ack/Nak was lost, send the same one again,
                // with the Identifier of this request.
                self.replay(Some(repr.identifier));
            }
        }
    }

    // --- CHAP and MS-CHAPv2 --------------------------------------------

    fn handle_chap(&mut self, packet: &[u8]) {
        let repr = match ChapRepr::parse_bytes(packet) {
            Ok(repr) => repr,
            Err(error) => return self.drop(DropReason::Malformed(error)),
        };
        let ChapMessage::Response { value, name } = repr.message else {
            // Challenge, Success and Failure travel towards the peer.
            return self.drop(DropReason::UnexpectedCode(repr.message.code()));
        };
        let id = repr.identifier;
        match self.phase {
            Phase::Idle => self.drop(DropReason::UnexpectedInState(2)),
            // The Response to the Failure's attempt again: it lost the Failure.
            Phase::Waiting
                if self.awaiting_retry && self.answer.as_ref().is_some_and(|a| a.id == id) =>
            {
                self.replay(None);
            }
            // RFC 2759 §6 leaves the retry's Identifier to the peer (Windows
            // and our client use the Failure's plus one): any other
            // Identifier starts the retry.
            Phase::Waiting if id == self.id || self.awaiting_retry => {
                self.id = id;
                self.chap_response(id, value, name);
            }
            Phase::Deciding if id == self.id => self.drop(DropReason::Duplicate),
            // RFC 1994 §4.2: because a Success may be lost, the
            // authenticator MUST accept a repeated Response (recognised by
            // its Identifier) after sending Success, and repeat its answer.
            _ if self.answer.as_ref().is_some_and(|a| a.id == id) => self.replay(None),
            _ => {
                let expected = match (&self.answer, self.phase) {
                    (Some(answer), Phase::Open | Phase::Failed) => answer.id,
                    _ => self.id,
                };
                self.drop(DropReason::WrongIdentifier {
                    received: id,
                    expected,
                });
            }
        }
    }

    fn chap_response(&mut self, id: u8, value: Vec<u8>, name: Vec<u8>) {
        let request = match self.method {
            AuthMethod::MsChapV2 => match MsChapV2Response::parse(&value) {
                Ok(response) => AuthRequest::MsChapV2 {
                    user: name,
                    id,
                    authenticator_challenge: self.challenge,
                    peer_challenge: response.peer_challenge,
                    nt_response: response.nt_response,
                    flags: response.flags,
                },
                Err(_) => return self.drop(DropReason::BadValueSize(value.len())),
            },
            _ => {
                if value.len() != MD5_RESPONSE_LEN {
                    return self.drop(DropReason::BadValueSize(value.len()));
                }
                AuthRequest::Chap {
                    user: name,
                    id,
                    challenge: self.challenge.to_vec(),
                    response: value,
                }
            }
        };
        self.phase = Phase::Deciding;
        self.retransmit_at = None;
        self.awaiting_retry = false;
        self.attempts = self.attempts.saturating_add(1);
        self.request(request);
    }

    /// A fresh Challenge with a new Identifier and a new random value
    /// (RFC 1994 §4.1: the Identifier "MUST be changed each time a
    /// Challenge is sent"; §2.3: each challenge value SHOULD be unique and
    /// unpredictable). A retransmission on timeout re-sends the identical
    /// packet, as pppd does, so a Response to any copy matches.
    fn new_challenge(&mut self, now: Instant) {
        self.id = self.id.wrapping_add(1);
        self.rng.fill_bytes(&mut self.challenge);
        self.transmissions = 0;
        self.send_challenge(now);
    }

    fn send_challenge(&mut self, now: Instant) {
        let packet = ChapRepr::new(
            self.id,
            ChapMessage::Challenge {
                value: self.challenge.to_vec(),
                name: clamp_255(self.config.name.as_bytes()),
            },
        );
        if let Some(bytes) = emit_chap(&packet) {
            self.outbox.send(bytes);
        }
        self.transmissions = self.transmissions.saturating_add(1);
        self.retransmit_at = Some(now + self.config.retry_interval);
    }

    /// RFC 2759 §6 Failure Message, `E=691 R=r C=<challenge> V=3 M=text`.
    fn mschapv2_failure(&self, retry: bool, message: Option<&str>) -> Option<Vec<u8>> {
        debug_assert_eq!(CHALLENGE_LEN, MSCHAPV2_CHALLENGE_LEN);
        let text = MsChapV2Failure {
            error: MsChapV2Failure::ERROR_AUTHENTICATION_FAILURE,
            retry,
            challenge: Some(self.challenge),
            version: Some(MSCHAPV2_PASSWORD_CHANGE_VERSION),
            message: Some(
                message
                    .unwrap_or("Authentication failed")
                    .as_bytes()
                    .to_vec(),
            ),
        }
        .to_message();
        emit_chap(&ChapRepr::new(
            self.id,
            ChapMessage::Failure {
                message: clamp_255(&text),
            },
        ))
    }

    fn reject(&mut self, message: Option<String>) {
        let failure = if self.authenticated {
            AuthFailure::RechallengeFailed
        } else {
            AuthFailure::Rejected {
                message: message.clone(),
            }
        };
        match self.method {
            AuthMethod::Pap => {
                let packet = PapRepr::new(
                    self.id,
                    PapMessage::AuthenticateNak {
                        message: message_bytes(message.as_deref()),
                    },
                );
                self.answer_and_fail(emit_pap(&packet), failure);
            }
            AuthMethod::ChapMd5 => {
                let packet = ChapRepr::new(
                    self.id,
                    ChapMessage::Failure {
                        message: message_bytes(message.as_deref()),
                    },
                );
                self.answer_and_fail(emit_chap(&packet), failure);
            }
            AuthMethod::MsChapV2
                if !self.authenticated && self.attempts < self.config.max_attempts =>
            {
                // RFC 2759 §6: R=1 and a new challenge in C=; the peer's
                // next Response comes unprompted, its Identifier one more
                // than the Failure's.
                let failed_id = self.id;
                self.rng.fill_bytes(&mut self.challenge);
                let packet = self.mschapv2_failure(true, message.as_deref());
                if let Some(bytes) = packet {
                    self.outbox.send(bytes.clone());
                    self.answer = Some(Answer {
                        id: failed_id,
                        packet: bytes,
                    });
                }
                self.id = failed_id.wrapping_add(1);
                self.phase = Phase::Waiting;
                self.awaiting_retry = true;
                // No Challenge is outstanding: only the overall deadline
                // runs until the retry arrives.
                self.retransmit_at = None;
            }
            AuthMethod::MsChapV2 => {
                let packet = self.mschapv2_failure(false, message.as_deref());
                self.answer_and_fail(packet, failure);
            }
        }
    }

    // --- shared --------------------------------------------------------

    fn request(&mut self, request: AuthRequest) {
        self.last_request = Some(request.clone());
        self.outbox.event(AuthServerEvent::Requested(request));
    }

    fn answer_and_open(&mut self, now: Instant, packet: Option<Vec<u8>>) {
        self.remember_and_send(packet);
        self.phase = Phase::Open;
        self.deadline = None;
        self.retransmit_at = None;
        self.rechallenge_at = match self.method {
            AuthMethod::Pap => None,
            AuthMethod::ChapMd5 | AuthMethod::MsChapV2 => {
                self.config.rechallenge_interval.map(|i| now + i)
            }
        };
        let event = if self.authenticated {
            AuthServerEvent::Reauthenticated
        } else {
            AuthServerEvent::Succeeded
        };
        self.authenticated = true;
        self.outbox.event(event);
    }

    fn answer_and_fail(&mut self, packet: Option<Vec<u8>>, failure: AuthFailure) {
        self.remember_and_send(packet);
        self.fail(failure);
    }

    fn remember_and_send(&mut self, packet: Option<Vec<u8>>) {
        if let Some(bytes) = packet {
            self.outbox.send(bytes.clone());
            self.answer = Some(Answer {
                id: self.id,
                packet: bytes,
            });
        }
    }

    fn fail(&mut self, failure: AuthFailure) {
        self.phase = Phase::Failed;
        self.deadline = None;
        self.retransmit_at = None;
        self.rechallenge_at = None;
        self.outbox.event(AuthServerEvent::Failed(failure));
    }

    /// Sends the stored answer again, with `id` as Identifier if given.
    fn replay(&mut self, id: Option<u8>) {
        let Some(answer) = &self.answer else {
            return self.drop(DropReason::UnexpectedInState(1));
        };
        let mut packet = answer.packet.clone();
        if let (Some(id), Some(slot)) = (id, packet.get_mut(1)) {
            *slot = id;
        }
        self.outbox.stats.replays += 1;
        self.outbox.send(packet);
    }

    fn drop(&mut self, reason: DropReason) {
        self.outbox.stats.dropped += 1;
        self.outbox.event(AuthServerEvent::Dropped { reason });
    }
}
