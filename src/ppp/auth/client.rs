//! The peer side (RFC 1334 §2, RFC 1994 §4, RFC 2759 §4–§6).

use core::fmt;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::crypto::{chap_md5_response, check_authenticator_response, generate_nt_response};
use super::{
    AuthClientEvent, AuthConfig, AuthFailure, AuthMethod, AuthStats, DropReason, Outbox, Secret,
    clamp_255, emit_chap, emit_pap, message_text,
};
use crate::wire::ppp::chap::{
    ChapMessage, ChapRepr, MSCHAPV2_CHALLENGE_LEN, MsChapV2Failure, MsChapV2Response,
    MsChapV2Success,
};
use crate::wire::ppp::pap::{PapMessage, PapRepr};

/// Where the peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `start` not called and no Challenge seen.
    Idle,
    /// Request / Response sent, waiting for the verdict.
    Authenticating,
    /// Accepted.
    Open,
    /// Rejected or timed out; terminal.
    Failed,
}

/// What an MS-CHAPv2 Response was computed from, kept to check the
/// authenticator response (RFC 2759 §8.8).
#[derive(Debug, Clone, Copy)]
struct MsChapV2Sent {
    authenticator_challenge: [u8; MSCHAPV2_CHALLENGE_LEN],
    peer_challenge: [u8; 16],
    nt_response: [u8; 24],
}

/// The peer: answers the authenticator with our credentials.
///
/// - PAP (RFC 1334 §2.1, §2.2.1): `start` sends the Authenticate-Request,
///   "repeatedly sent until a valid reply packet is received, or an
///   optional retry counter expires": every [`AuthConfig::retry_interval`],
///   at most [`AuthConfig::max_retries`] times, keeping its Identifier so
///   an Ack to any copy matches.
/// - CHAP-MD5 (RFC 1994 §4.1): each Challenge gets a Response
///   MD5(id ‖ secret ‖ challenge) with our name; a retransmitted Challenge
///   gets the same Response, and the Response is also re-sent on our own
///   timer until Success or Failure arrives (a lost Success is otherwise
///   never repeated). Re-challenges while up are answered too.
/// - MS-CHAPv2 (RFC 2759 §4, §5, §6, §8): the 49-octet Response, the
///   authenticator response in the Success checked (mutual
///   authentication; a wrong one fails with
///   [`AuthFailure::AuthenticatorMismatch`]), a Failure with `R=1` retried
///   with the new challenge while [`AuthConfig::max_attempts`] allows.
///
/// The whole exchange is bounded by [`AuthConfig::timeout`].
pub struct AuthClient {
    method: AuthMethod,
    user: Vec<u8>,
    password: Secret,
    config: AuthConfig,
    rng: StdRng,
    phase: Phase,
    /// Identifier of our outstanding Request / Response.
    id: u8,
    /// The Challenge (Identifier, value) our last Response answers.
    answered: Option<(u8, Vec<u8>)>,
    /// The last Challenge packet received (Identifier, value). Differs from
    /// `answered` after an MS-CHAPv2 retry, whose challenge came in a
    /// Failure: a late copy of the Challenge is then stale.
    last_challenge: Option<(u8, Vec<u8>)>,
    /// Our last Request / Response, for retransmission.
    last_sent: Option<Vec<u8>>,
    mschapv2: Option<MsChapV2Sent>,
    /// Transmissions of `last_sent` on our own timer.
    transmissions: u8,
    retransmit_at: Option<Instant>,
    deadline: Option<Instant>,
    attempts: u8,
    authenticated: bool,
    outbox: Outbox<AuthClientEvent>,
}

/// Shows the state, never the password nor packets that carry it.
impl fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthClient")
            .field("method", &self.method)
            .field("user", &String::from_utf8_lossy(&self.user))
            .field("password", &self.password)
            .field("phase", &self.phase)
            .field("id", &self.id)
            .field("attempts", &self.attempts)
            .field("retransmit_at", &self.retransmit_at)
            .field("deadline", &self.deadline)
            .field("stats", &self.outbox.stats)
            .finish_non_exhaustive()
    }
}

impl AuthClient {
    /// A peer authenticating as `user` with `password` (the CHAP secret),
    /// its Identifiers and MS-CHAPv2 peer challenges drawn from an RNG
    /// seeded with `rng_seed`.
    pub fn new(
        method: AuthMethod,
        user: impl Into<Vec<u8>>,
        password: impl Into<Vec<u8>>,
        config: AuthConfig,
        rng_seed: [u8; 32],
    ) -> Self {
        let mut rng = StdRng::from_seed(rng_seed);
        let mut first_id = [0u8; 1];
        rng.fill_bytes(&mut first_id);
        Self {
            method,
            user: user.into(),
            password: Secret::new(password),
            config,
            rng,
            phase: Phase::Idle,
            id: first_id[0],
            answered: None,
            last_challenge: None,
            last_sent: None,
            mschapv2: None,
            transmissions: 0,
            retransmit_at: None,
            deadline: None,
            attempts: 0,
            authenticated: false,
            outbox: Outbox::new(),
        }
    }

    /// The method this peer runs.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// Whether the authenticator accepted us and we have not failed since
    /// (stays true while we answer a re-challenge).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated && self.phase != Phase::Failed
    }

    /// Whether authentication failed (terminal).
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// Counters.
    pub fn stats(&self) -> AuthStats {
        self.outbox.stats
    }

    /// Starts authentication (call when LCP reaches Opened). PAP sends the
    /// Authenticate-Request; CHAP waits for the Challenge (one that arrives
    /// before `start` is answered too, and starts the exchange). Calls
    /// after the first are ignored.
    pub fn start(&mut self, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Authenticating;
        self.deadline = Some(now + self.config.timeout);
        if self.method == AuthMethod::Pap {
            self.id = self.id.wrapping_add(1);
            let request = PapRepr::new(
                self.id,
                PapMessage::AuthenticateRequest {
                    peer_id: clamp_255(&self.user),
                    password: clamp_255(self.password.expose()),
                },
            );
            self.last_sent = emit_pap(&request);
            self.transmissions = 0;
            self.transmit(now);
        }
    }

    /// A PAP or CHAP packet (the bytes after the PPP Protocol field).
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match self.method {
            AuthMethod::Pap => self.handle_pap(packet),
            AuthMethod::ChapMd5 | AuthMethod::MsChapV2 => self.handle_chap(now, packet),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Authenticating {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.fail(AuthFailure::Timeout);
            return;
        }
        if self.retransmit_at.is_some_and(|t| now >= t) {
            if self.transmissions >= self.config.max_retries {
                self.fail(AuthFailure::NoResponse);
                return;
            }
            self.outbox.stats.retransmits += 1;
            self.transmit(now);
        }
    }

    /// The next instant `handle_timeout` must run at.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase != Phase::Authenticating {
            return None;
        }
        [self.deadline, self.retransmit_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Writes the next packet (for [`AuthMethod::protocol`], starting at
    /// the Code octet) into `buf`; returns its length. 1500 octets always
    /// suffice.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.outbox.poll_transmit(buf)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<AuthClientEvent> {
        self.outbox.events.pop_front()
    }

    // --- PAP ---------------------------------------------------------

    fn handle_pap(&mut self, packet: &[u8]) {
        let repr = match PapRepr::parse_bytes(packet) {
            Ok(repr) => repr,
            Err(error) => return self.drop(DropReason::Malformed(error)),
        };
        let code = repr.message.code();
        let (accepted, message) = match repr.message {
            PapMessage::AuthenticateAck { message } => (true, message),
            PapMessage::AuthenticateNak { message } => (false, message),
            _ => return self.drop(DropReason::UnexpectedCode(code)),
        };
        if repr.identifier != self.id {
            return self.drop(DropReason::WrongIdentifier {
                received: repr.identifier,
                expected: self.id,
            });
        }
        match self.phase {
            Phase::Authenticating if accepted => self.succeed(message_text(&message)),
            Phase::Authenticating => self.fail(AuthFailure::Rejected {
                message: message_text(&message),
            }),
            // An Ack to a retransmitted copy of the Request, already seen.
            Phase::Open => self.drop(DropReason::Duplicate),
            Phase::Idle | Phase::Failed => self.drop(DropReason::UnexpectedInState(code)),
        }
    }

    // --- CHAP and MS-CHAPv2 --------------------------------------------

    fn handle_chap(&mut self, now: Instant, packet: &[u8]) {
        let repr = match ChapRepr::parse_bytes(packet) {
            Ok(repr) => repr,
            Err(error) => return self.drop(DropReason::Malformed(error)),
        };
        let id = repr.identifier;
        match repr.message {
            ChapMessage::Challenge { value, .. } => self.challenge(now, id, value),
            ChapMessage::Success { message } => self.success(id, &message),
            ChapMessage::Failure { message } => self.failure(now, id, &message),
            other => self.drop(DropReason::UnexpectedCode(other.code())),
        }
    }

    fn challenge(&mut self, now: Instant, id: u8, value: Vec<u8>) {
        if self.phase == Phase::Failed {
            return self.drop(DropReason::UnexpectedInState(1));
        }
        let same = |seen: &Option<(u8, Vec<u8>)>| {
            seen.as_ref().is_some_and(|(i, v)| *i == id && *v == value)
        };
        if same(&self.last_challenge) {
            // RFC 1994 §4.1: the authenticator retransmits a Challenge whose
            // Response was lost; answer it again, identically. A copy that
            // arrives once we are up, or after an MS-CHAPv2 retry moved on
            // to the challenge of a Failure, is stale.
            if self.phase == Phase::Open || !same(&self.answered) {
                return self.drop(DropReason::Duplicate);
            }
            if let Some(packet) = self.last_sent.clone() {
                self.outbox.stats.replays += 1;
                self.outbox.send(packet);
            }
            return;
        }
        let response = match self.method {
            AuthMethod::MsChapV2 => {
                let Ok(challenge) = <[u8; MSCHAPV2_CHALLENGE_LEN]>::try_from(value.as_slice())
                else {
                    return self.drop(DropReason::BadValueSize(value.len()));
                };
                self.attempts = 0;
                self.mschapv2_response(challenge)
            }
            _ => {
                // RFC 1994 §4.1: "The Value field is one or more octets".
                if value.is_empty() {
                    return self.drop(DropReason::BadValueSize(0));
                }
                chap_md5_response(id, self.password.expose(), &value).to_vec()
            }
        };
        if self.phase != Phase::Authenticating || self.deadline.is_none() {
            // First Challenge without `start`, or a re-challenge while up.
            self.deadline = Some(now + self.config.timeout);
        }
        self.phase = Phase::Authenticating;
        self.id = id;
        self.answered = Some((id, value.clone()));
        self.last_challenge = Some((id, value));
        self.send_response(response);
        // The authenticator retransmits its Challenge while no Response
        // arrives, but nothing would repeat a lost Success or Failure: our
        // own timer re-sends the Response, which the authenticator answers
        // again (RFC 1994 §4.2).
        self.transmissions = 1;
        self.retransmit_at = Some(now + self.config.retry_interval);
    }

    fn mschapv2_response(&mut self, authenticator_challenge: [u8; 16]) -> Vec<u8> {
        let mut peer_challenge = [0u8; 16];
        self.rng.fill_bytes(&mut peer_challenge);
        let nt_response = generate_nt_response(
            &authenticator_challenge,
            &peer_challenge,
            &self.user,
            self.password.expose(),
        );
        self.mschapv2 = Some(MsChapV2Sent {
            authenticator_challenge,
            peer_challenge,
            nt_response,
        });
        self.attempts = self.attempts.saturating_add(1);
        MsChapV2Response::new(peer_challenge, nt_response)
            .to_bytes()
            .to_vec()
    }

    fn send_response(&mut self, value: Vec<u8>) {
        let packet = ChapRepr::new(
            self.id,
            ChapMessage::Response {
                value,
                name: clamp_255(&self.user),
            },
        );
        self.last_sent = emit_chap(&packet);
        if let Some(bytes) = self.last_sent.clone() {
            self.outbox.send(bytes);
        }
    }

    fn success(&mut self, id: u8, message: &[u8]) {
        if id != self.id || self.answered.is_none() {
            return self.drop(DropReason::WrongIdentifier {
                received: id,
                expected: self.id,
            });
        }
        match self.phase {
            Phase::Authenticating => {}
            Phase::Open => return self.drop(DropReason::Duplicate),
            Phase::Idle | Phase::Failed => return self.drop(DropReason::UnexpectedInState(3)),
        }
        if self.method != AuthMethod::MsChapV2 {
            return self.succeed(message_text(message));
        }
        // RFC 2759 §5: "The authenticating peer MUST verify the
        // authenticator response when a Success packet is received. [...]
        // If the authenticator response is either missing or incorrect, the
        // peer MUST end the session." (§8.8 CheckAuthenticatorResponse)
        let Ok(success) = MsChapV2Success::parse(message) else {
            return self.fail(AuthFailure::AuthenticatorMismatch);
        };
        let proven = self.mschapv2.as_ref().is_some_and(|sent| {
            check_authenticator_response(
                self.password.expose(),
                &sent.nt_response,
                &sent.peer_challenge,
                &sent.authenticator_challenge,
                &self.user,
                &success.authenticator_response,
            )
        });
        if proven {
            self.succeed(success.message.as_deref().and_then(message_text));
        } else {
            self.fail(AuthFailure::AuthenticatorMismatch);
        }
    }

    fn failure(&mut self, now: Instant, id: u8, message: &[u8]) {
        if id != self.id || self.answered.is_none() {
            return self.drop(DropReason::WrongIdentifier {
                received: id,
                expected: self.id,
            });
        }
        if self.phase != Phase::Authenticating {
            return self.drop(DropReason::UnexpectedInState(4));
        }
        if self.method != AuthMethod::MsChapV2 {
            return self.fail(self.rejected(message_text(message)));
        }
        let Ok(failure) = MsChapV2Failure::parse(message) else {
            return self.fail(self.rejected(message_text(message)));
        };
        let text = failure.message.as_deref().and_then(message_text);
        match failure.challenge {
            // RFC 2759 §6: with R=1, retry with the challenge in C=; the
            // Response's Identifier is the Failure's plus one.
            Some(challenge) if failure.retry && self.attempts < self.config.max_attempts => {
                let value = self.mschapv2_response(challenge);
                self.id = id.wrapping_add(1);
                self.answered = Some((self.id, challenge.to_vec()));
                self.send_response(value);
                self.transmissions = 1;
                self.retransmit_at = Some(now + self.config.retry_interval);
            }
            _ => self.fail(self.rejected(text)),
        }
    }

    // --- shared --------------------------------------------------------

    fn rejected(&self, message: Option<String>) -> AuthFailure {
        if self.authenticated {
            AuthFailure::RechallengeFailed
        } else {
            AuthFailure::Rejected { message }
        }
    }

    fn transmit(&mut self, now: Instant) {
        if let Some(packet) = self.last_sent.clone() {
            self.outbox.send(packet);
        }
        self.transmissions = self.transmissions.saturating_add(1);
        self.retransmit_at = Some(now + self.config.retry_interval);
    }

    fn succeed(&mut self, message: Option<String>) {
        self.phase = Phase::Open;
        self.deadline = None;
        self.retransmit_at = None;
        let event = if self.authenticated {
            AuthClientEvent::Reauthenticated
        } else {
            AuthClientEvent::Succeeded { message }
        };
        self.authenticated = true;
        self.outbox.event(event);
    }

    fn fail(&mut self, failure: AuthFailure) {
        self.phase = Phase::Failed;
        self.deadline = None;
        self.retransmit_at = None;
        self.outbox.event(AuthClientEvent::Failed(failure));
    }

    fn drop(&mut self, reason: DropReason) {
        self.outbox.stats.dropped += 1;
        self.outbox.event(AuthClientEvent::Dropped { reason });
    }
}
