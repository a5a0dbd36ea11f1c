//! Dynamic authorization listener (RFC 5176): Disconnect-Request and
//! CoA-Request from configured clients become [`DynAuthCommand`]s for the
//! role drivers, and their answers become Disconnect/CoA-ACK or -NAK with an
//! Error-Cause (RFC 5176 §3.5).
//!
//! The packet logic ([`classify`], [`encode_reply`]) is sans-IO; the tokio
//! listener ([`DynAuthListener`]) adds the socket, the clock and a short
//! moka reply cache for duplicates.
//!
//! Checks, in order (each failing request is dropped or NAKed, and
//! reported as a [`DynAuthEvent`]):
//!
//! 1. the source address is a configured client — RFC 5176 §5.3 (the NAS
//!    "MUST silently discard" requests from unknown clients);
//! 2. the Request Authenticator (RFC 5176 §2.3) and, when present, the
//!    Message-Authenticator (§3.5) verify; a request without
//!    Message-Authenticator is dropped when the listener requires one (the
//!    default, BlastRADIUS hardening);
//! 3. Event-Timestamp, when present, lies within the replay window
//!    (RFC 5176 §3.5: "it MUST silently discard" a request whose
//!    Event-Timestamp is not current within an acceptable window);
//! 4. NAS-Identifier / NAS-IP-Address, when present, name this NAS, else NAK
//!    403 "NAS Identification Mismatch" (§3.5);
//! 5. at least one session identification attribute (Acct-Session-Id,
//!    User-Name, Framed-IP-Address, NAS-Port-Id), else NAK 402 "Missing
//!    Attribute"; Service-Type Authorize-Only is NAKed with 405 "Unsupported
//!    Service" (no re-authorization support).
//!
//! A duplicate (same client address, Identifier and Request Authenticator)
//! is answered from the reply cache without reaching the session again
//! (RFC 5176 §2.3 and RFC 5080 §2.2.2 on duplicate detection).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::attributes::{AcceptAttributes, accept_attributes, ty};
use super::request::NasIdentity;
use crate::wire::radius::{Authenticator, Code, Packet, PacketBuilder, attr};

crate::open_enum! {
    /// Error-Cause values (RFC 5176 §3.5).
    pub enum ErrorCause(u32) {
        /// Residual Session Context Removed.
        ResidualSessionContextRemoved = 201,
        /// Invalid EAP Packet (Ignored).
        InvalidEapPacket = 202,
        /// Unsupported Attribute.
        UnsupportedAttribute = 401,
        /// Missing Attribute.
        MissingAttribute = 402,
        /// NAS Identification Mismatch.
        NasIdentificationMismatch = 403,
        /// Invalid Request.
        InvalidRequest = 404,
        /// Unsupported Service.
        UnsupportedService = 405,
        /// Unsupported Extension.
        UnsupportedExtension = 406,
        /// Invalid Attribute Value.
        InvalidAttributeValue = 407,
        /// Administratively Prohibited.
        AdministrativelyProhibited = 501,
        /// Request Not Routable (Proxy).
        RequestNotRoutable = 502,
        /// Session Context Not Found.
        SessionContextNotFound = 503,
        /// Session Context Not Removable.
        SessionContextNotRemovable = 504,
        /// Other Proxy Processing Error.
        OtherProxyProcessingError = 505,
        /// Resources Unavailable.
        ResourcesUnavailable = 506,
        /// Request Initiated.
        RequestInitiated = 507,
        /// Multiple Session Selection Unsupported.
        MultipleSessionSelectionUnsupported = 508,
    }
}

/// Disconnect or CoA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynAuthKind {
    /// Disconnect-Request (RFC 5176 §2.1).
    Disconnect,
    /// CoA-Request (RFC 5176 §2.2).
    Coa,
}

/// Which session(s) a request names (RFC 5176 §3: session identification
/// attributes). All given fields must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSelector {
    /// Acct-Session-Id.
    pub acct_session_id: Option<String>,
    /// User-Name.
    pub user_name: Option<String>,
    /// Framed-IP-Address.
    pub framed_ip_address: Option<Ipv4Addr>,
    /// NAS-Port-Id.
    pub nas_port_id: Option<String>,
}

impl SessionSelector {
    /// Whether no identification attribute was given.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.acct_session_id.is_none()
            && self.user_name.is_none()
            && self.framed_ip_address.is_none()
            && self.nas_port_id.is_none()
    }
}

/// A parsed, authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynAuthRequest {
    /// Disconnect or CoA.
    pub kind: DynAuthKind,
    /// Which session.
    pub selector: SessionSelector,
    /// For CoA: the new authorization (Session-Timeout, Idle-Timeout, rate
    /// limits, …) in the same shape as an Access-Accept.
    pub changes: AcceptAttributes,
}

/// What the session owner answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynAuthResult {
    /// Done: ACK.
    Ack,
    /// Refused: NAK with this cause.
    Nak(ErrorCause),
}

/// A request handed to the role drivers; answer through `reply`.
#[derive(Debug)]
pub struct DynAuthCommand {
    /// The request.
    pub request: DynAuthRequest,
    /// Where to answer (dropping it answers NAK 506).
    pub reply: oneshot::Sender<DynAuthResult>,
}

/// Why a request was dropped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DynAuthDrop {
    /// Not a valid RADIUS packet.
    Malformed,
    /// From an address that is not a configured client.
    UnknownClient,
    /// Not a Disconnect-Request or CoA-Request.
    UnexpectedCode,
    /// Request Authenticator or Message-Authenticator wrong.
    BadAuthenticator,
    /// No Message-Authenticator while one is required.
    MissingMessageAuthenticator,
    /// Event-Timestamp outside the replay window.
    ReplayWindow,
}

impl DynAuthDrop {
    /// Label for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownClient => "unknown_client",
            Self::UnexpectedCode => "unexpected_code",
            Self::BadAuthenticator => "bad_authenticator",
            Self::MissingMessageAuthenticator => "missing_message_authenticator",
            Self::ReplayWindow => "replay_window",
        }
    }
}

/// Outcome of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// Drop silently.
    Drop(DynAuthDrop),
    /// Answer NAK at once.
    Nak(DynAuthKind, ErrorCause),
    /// Hand to the session owner.
    Request(Box<DynAuthRequest>),
}

/// Listener policy (from `[radius.dynauth]`).
#[derive(Clone)]
pub struct DynAuthPolicy {
    /// Clients and their secrets.
    pub clients: Vec<(IpAddr, Vec<u8>)>,
    /// Drop requests without Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Accepted Event-Timestamp skew.
    pub replay_window: Duration,
    /// Our identity (NAS-Identifier / NAS-IP-Address check).
    pub nas: NasIdentity,
}

impl core::fmt::Debug for DynAuthPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DynAuthPolicy")
            .field(
                "clients",
                &self.clients.iter().map(|c| c.0).collect::<Vec<_>>(),
            )
            .field(
                "require_message_authenticator",
                &self.require_message_authenticator,
            )
            .field("replay_window", &self.replay_window)
            .finish_non_exhaustive()
    }
}

impl DynAuthPolicy {
    /// From `[radius.dynauth]` and the NAS identity.
    #[must_use]
    pub fn from_config(config: &crate::config::DynAuth, nas: NasIdentity) -> Self {
        Self {
            clients: config
                .clients
                .iter()
                .map(|c| (c.address, c.secret.expose().to_vec()))
                .collect(),
            require_message_authenticator: config.require_message_authenticator,
            replay_window: config.replay_window.get(),
            nas,
        }
    }

    fn secret_for(&self, ip: IpAddr) -> Option<&[u8]> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.clients
            .iter()
            .find(|(addr, _)| *addr == ip)
            .map(|(_, s)| s.as_slice())
    }
}

/// Service-Type Authorize-Only (RFC 5176 §3.2).
const AUTHORIZE_ONLY: u32 = 17;

/// Checks and parses one request from `from` (see module docs);
/// `now_unix` is the current Unix time in seconds.
#[must_use]
pub fn classify(
    policy: &DynAuthPolicy,
    from: SocketAddr,
    bytes: &[u8],
    now_unix: u64,
) -> Classified {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return Classified::Drop(DynAuthDrop::Malformed);
    };
    let Some(secret) = policy.secret_for(from.ip()) else {
        return Classified::Drop(DynAuthDrop::UnknownClient);
    };
    let kind = match packet.code() {
        Code::DisconnectRequest => DynAuthKind::Disconnect,
        Code::CoaRequest => DynAuthKind::Coa,
        _ => return Classified::Drop(DynAuthDrop::UnexpectedCode),
    };
    match packet.verify_request(secret) {
        Ok(v) if !v.message_authenticator && policy.require_message_authenticator => {
            return Classified::Drop(DynAuthDrop::MissingMessageAuthenticator);
        }
        Ok(_) => {}
        Err(_) => return Classified::Drop(DynAuthDrop::BadAuthenticator),
    }
    let attrs: Vec<_> = packet
        .attributes()
        .filter_map(core::result::Result::ok)
        .collect();
    let text =
        |a: &crate::wire::radius::Attribute<'_>| String::from_utf8_lossy(a.value()).into_owned();
    if let Some(ts) = attrs.iter().find(|a| a.ty() == ty::EVENT_TIMESTAMP) {
        let Ok(ts) = ts.as_u32() else {
            return Classified::Nak(kind, ErrorCause::InvalidAttributeValue);
        };
        if now_unix.abs_diff(u64::from(ts)) > policy.replay_window.as_secs() {
            return Classified::Drop(DynAuthDrop::ReplayWindow);
        }
    }
    let mut selector = SessionSelector::default();
    for a in &attrs {
        match a.ty() {
            attr::NAS_IDENTIFIER if a.value() != policy.nas.nas_identifier.as_bytes() => {
                return Classified::Nak(kind, ErrorCause::NasIdentificationMismatch);
            }
            attr::NAS_IP_ADDRESS
                if policy
                    .nas
                    .nas_ip_address
                    .is_some_and(|ip| a.as_ipv4().ok() != Some(ip)) =>
            {
                return Classified::Nak(kind, ErrorCause::NasIdentificationMismatch);
            }
            attr::ACCT_SESSION_ID => selector.acct_session_id = Some(text(a)),
            attr::USER_NAME => selector.user_name = Some(text(a)),
            attr::FRAMED_IP_ADDRESS => match a.as_ipv4() {
                Ok(ip) => selector.framed_ip_address = Some(ip),
                Err(_) => return Classified::Nak(kind, ErrorCause::InvalidAttributeValue),
            },
            attr::NAS_PORT_ID => selector.nas_port_id = Some(text(a)),
            attr::SERVICE_TYPE if a.as_u32().ok() == Some(AUTHORIZE_ONLY) => {
                return Classified::Nak(kind, ErrorCause::UnsupportedService);
            }
            _ => {}
        }
    }
    if selector.is_empty() {
        return Classified::Nak(kind, ErrorCause::MissingAttribute);
    }
    let changes = match kind {
        DynAuthKind::Coa => accept_attributes(&packet, &packet.authenticator(), secret),
        DynAuthKind::Disconnect => AcceptAttributes::default(),
    };
    Classified::Request(Box::new(DynAuthRequest {
        kind,
        selector,
        changes,
    }))
}

/// Encodes the ACK / NAK to `request` (its Identifier and Request
/// Authenticator), with Error-Cause for a NAK and a Message-Authenticator
/// (RFC 5176 §3.5), signed with `secret`.
///
/// # Errors
/// Only when `buf` is too small.
pub fn encode_reply(
    buf: &mut [u8],
    kind: DynAuthKind,
    result: DynAuthResult,
    identifier: u8,
    request_authenticator: &Authenticator,
    secret: &[u8],
) -> Result<usize, crate::wire::radius::AuthError> {
    let code = match (kind, result) {
        (DynAuthKind::Disconnect, DynAuthResult::Ack) => Code::DisconnectAck,
        (DynAuthKind::Disconnect, DynAuthResult::Nak(_)) => Code::DisconnectNak,
        (DynAuthKind::Coa, DynAuthResult::Ack) => Code::CoaAck,
        (DynAuthKind::Coa, DynAuthResult::Nak(_)) => Code::CoaNak,
    };
    let mut b = PacketBuilder::new(buf, code, identifier, &[0; 16])?;
    b.push_message_authenticator()?;
    if let DynAuthResult::Nak(cause) = result {
        b.push_u32(attr::ERROR_CAUSE, cause.into())?;
    }
    b.finish_signed(secret, Some(request_authenticator))
}

/// Events of the listener, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DynAuthEvent {
    /// A request was dropped.
    Dropped {
        /// Why.
        reason: DynAuthDrop,
    },
    /// A reply was sent.
    Answered {
        /// Disconnect or CoA.
        kind: DynAuthKind,
        /// ACK or NAK.
        result: DynAuthResult,
    },
    /// A duplicate was answered from the cache.
    Duplicate,
}

/// The RFC 5176 listener task.
#[derive(Debug)]
pub struct DynAuthListener {
    local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    events: broadcast::Sender<DynAuthEvent>,
}

type CacheKey = (SocketAddr, u8, Authenticator);

impl DynAuthListener {
    /// Binds `listen` and starts serving; commands go to `commands`. The
    /// session owner has `answer_timeout` to answer before a NAK 506.
    ///
    /// # Errors
    /// Bind errors.
    pub async fn start(
        listen: SocketAddr,
        policy: DynAuthPolicy,
        commands: mpsc::Sender<DynAuthCommand>,
        answer_timeout: Duration,
    ) -> std::io::Result<Self> {
        let socket = Arc::new(UdpSocket::bind(listen).await?);
        let local_addr = socket.local_addr()?;
        let (events, _) = broadcast::channel(1024);
        let cache: moka::future::Cache<CacheKey, Option<Vec<u8>>> = moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(30))
            .build();
        let policy = Arc::new(policy);
        let task_events = events.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let data = buf.get(..len).unwrap_or_default().to_vec();
                let ctx = Ctx {
                    socket: Arc::clone(&socket),
                    policy: Arc::clone(&policy),
                    commands: commands.clone(),
                    cache: cache.clone(),
                    events: task_events.clone(),
                    answer_timeout,
                };
                tokio::spawn(ctx.handle(from, data));
            }
        });
        Ok(Self {
            local_addr,
            task,
            events,
        })
    }

    /// The bound address.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Subscribes to [`DynAuthEvent`]s.
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<DynAuthEvent> {
        self.events.subscribe()
    }
}

impl Drop for DynAuthListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Ctx {
    socket: Arc<UdpSocket>,
    policy: Arc<DynAuthPolicy>,
    commands: mpsc::Sender<DynAuthCommand>,
    cache: moka::future::Cache<CacheKey, Option<Vec<u8>>>,
    events: broadcast::Sender<DynAuthEvent>,
    answer_timeout: Duration,
}

impl Ctx {
    async fn handle(self, from: SocketAddr, data: Vec<u8>) {
        let Ok(packet) = Packet::new_checked(&data[..]) else {
            self.dropped(from, DynAuthDrop::Malformed);
            return;
        };
        let key = (from, packet.identifier(), packet.authenticator());
        // A duplicate: answer from the cache (None = still in progress).
        let mut first = false;
        let entry = self
            .cache
            .get_with(key, async {
                first = true;
                None
            })
            .await;
        if !first {
            if let Some(reply) = entry {
                let _ = self.events.send(DynAuthEvent::Duplicate);
                let _ = self.socket.send_to(&reply, from).await;
            }
            return;
        }
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (kind, result) = match classify(&self.policy, from, &data, now_unix) {
            Classified::Drop(reason) => {
                self.cache.invalidate(&key).await;
                self.dropped(from, reason);
                return;
            }
            Classified::Nak(kind, cause) => (kind, DynAuthResult::Nak(cause)),
            Classified::Request(request) => {
                let kind = request.kind;
                let (reply, rx) = oneshot::channel();
                let sent = self
                    .commands
                    .send(DynAuthCommand {
                        request: *request,
                        reply,
                    })
                    .await;
                let result = if sent.is_ok() {
                    tokio::time::timeout(self.answer_timeout, rx)
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or(DynAuthResult::Nak(ErrorCause::ResourcesUnavailable))
                } else {
                    DynAuthResult::Nak(ErrorCause::ResourcesUnavailable)
                };
                (kind, result)
            }
        };
        let Some(secret) = self.policy.secret_for(from.ip()) else {
            return;
        };
        let mut out = [0u8; 64];
        let Ok(len) = encode_reply(
            &mut out,
            kind,
            result,
            packet.identifier(),
            &packet.authenticator(),
            secret,
        ) else {
            return;
        };
        let reply = out.get(..len).unwrap_or_default().to_vec();
        self.cache.insert(key, Some(reply.clone())).await;
        if let Err(error) = self.socket.send_to(&reply, from).await {
            tracing::warn!(%error, %from, "could not send a dynamic authorization reply");
        }
        let _ = self.events.send(DynAuthEvent::Answered { kind, result });
    }

    fn dropped(&self, from: SocketAddr, reason: DynAuthDrop) {
        tracing::warn!(%from, reason = reason.as_str(), "dropped a dynamic authorization request");
        let _ = self.events.send(DynAuthEvent::Dropped { reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"coa-secret";

    fn policy() -> DynAuthPolicy {
        DynAuthPolicy {
            clients: vec![("127.0.0.1".parse().unwrap(), SECRET.to_vec())],
            require_message_authenticator: true,
            replay_window: Duration::from_secs(300),
            nas: NasIdentity {
                nas_identifier: "nas1".into(),
                ..NasIdentity::default()
            },
        }
    }

    fn request(code: Code, ma: bool, build: impl FnOnce(&mut PacketBuilder<'_>)) -> Vec<u8> {
        let mut buf = vec![0u8; 4096];
        let mut b = PacketBuilder::new(&mut buf, code, 7, &[0; 16]).unwrap();
        if ma {
            b.push_message_authenticator().unwrap();
        }
        build(&mut b);
        let len = b.finish_signed(SECRET, None).unwrap();
        buf.truncate(len);
        buf
    }

    const FROM: &str = "127.0.0.1:5000";

    fn classify_now(bytes: &[u8]) -> Classified {
        classify(&policy(), FROM.parse().unwrap(), bytes, 1_000_000)
    }

    #[test]
    fn checks_in_order() {
        let ok = request(Code::DisconnectRequest, true, |b| {
            b.push(attr::ACCT_SESSION_ID, b"S1").unwrap();
            b.push_u32(ty::EVENT_TIMESTAMP, 1_000_100).unwrap();
        });
        let Classified::Request(r) = classify_now(&ok) else {
            panic!()
        };
        assert_eq!(r.selector.acct_session_id.as_deref(), Some("S1"));
        assert_eq!(
            classify(&policy(), "10.0.0.1:1".parse().unwrap(), &ok, 1_000_000),
            Classified::Drop(DynAuthDrop::UnknownClient)
        );
        let unsigned = request(Code::DisconnectRequest, false, |b| {
            b.push(attr::ACCT_SESSION_ID, b"S1").unwrap();
        });
        assert_eq!(
            classify_now(&unsigned),
            Classified::Drop(DynAuthDrop::MissingMessageAuthenticator)
        );
        let mut tampered = ok;
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            classify_now(&tampered),
            Classified::Drop(DynAuthDrop::BadAuthenticator)
        );
        let stale = request(Code::CoaRequest, true, |b| {
            b.push(attr::USER_NAME, b"u").unwrap();
            b.push_u32(ty::EVENT_TIMESTAMP, 1).unwrap();
        });
        assert_eq!(
            classify_now(&stale),
            Classified::Drop(DynAuthDrop::ReplayWindow)
        );
        let other_nas = request(Code::CoaRequest, true, |b| {
            b.push(attr::NAS_IDENTIFIER, b"other").unwrap();
            b.push(attr::USER_NAME, b"u").unwrap();
        });
        assert_eq!(
            classify_now(&other_nas),
            Classified::Nak(DynAuthKind::Coa, ErrorCause::NasIdentificationMismatch)
        );
        let none = request(Code::CoaRequest, true, |_| {});
        assert_eq!(
            classify_now(&none),
            Classified::Nak(DynAuthKind::Coa, ErrorCause::MissingAttribute)
        );
        let coa = request(Code::CoaRequest, true, |b| {
            b.push_ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(100, 64, 0, 1))
                .unwrap();
            b.push_u32(attr::SESSION_TIMEOUT, 600).unwrap();
        });
        let Classified::Request(r) = classify_now(&coa) else {
            panic!()
        };
        assert_eq!(r.kind, DynAuthKind::Coa);
        assert_eq!(r.changes.session_timeout, Some(600));
        let accept = request(Code::AccessRequest, true, |_| {});
        assert_eq!(
            classify_now(&accept),
            Classified::Drop(DynAuthDrop::UnexpectedCode)
        );
    }

    #[test]
    fn reply_is_signed_and_carries_error_cause() {
        let req = request(Code::CoaRequest, true, |b| {
            b.push(attr::USER_NAME, b"u").unwrap();
        });
        let p = Packet::new_checked(&req[..]).unwrap();
        let mut buf = [0u8; 64];
        let len = encode_reply(
            &mut buf,
            DynAuthKind::Coa,
            DynAuthResult::Nak(ErrorCause::SessionContextNotFound),
            p.identifier(),
            &p.authenticator(),
            SECRET,
        )
        .unwrap();
        let r = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(r.code(), Code::CoaNak);
        assert!(
            r.verify_response(&p.authenticator(), SECRET)
                .unwrap()
                .message_authenticator
        );
        assert_eq!(
            r.attribute(attr::ERROR_CAUSE).unwrap().as_u32().unwrap(),
            503
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = classify_now(&data);
        }
    }
}
