//! Sessions that arrive on an incoming L2TP call and whose PPP ends here:
//! the LNS role (RFC 2661 §1.1 NAS-initiated calls from a LAC, and
//! client-initiated ones from a LAC client), on the node core.
//!
//! 1. ICRQ ([`L2tpEvent::SessionRequest`], §7.5): the LNS policy admits the
//!    call (per-rule session limits) or it is refused with CDN result 4.
//! 2. ICCN ([`L2tpEvent::SessionUp`] with request id 0): the session's
//!    record is created with the call as its first leg and a fast-path
//!    entry whose second leg is `Local`; a [`Link`] in the server role
//!    runs PPP over the call's data messages (§5.4, `FF 03` framing).
//!    What happens to the LAC's proxy LCP and authentication (§4.4.5)
//!    follows the rule's `proxy_lcp` / `proxy_auth`
//!    ([`crate::lns::policy`]).
//! 3. The credentials go to RADIUS with the call's identity
//!    (Calling-Station-Id from the Calling Number, NAS-Port-Type Virtual,
//!    the RFC 2867 tunnel attributes); an Access-Accept leases the IPv4
//!    address (Framed-IP-Address, Framed-Pool, the default pool) and
//!    IPCP (RFC 1332) gives it to the subscriber with DNS (RFC 1877).
//! 4. The first NCP Opened: the address (and each Framed-Route, RFC 2865
//!    §5.22) becomes a key of the session's fast-path entry, the source
//!    filter lets the subscriber's own addresses through, the session is
//!    up and Accounting-Start (RFC 2866) goes out with Framed-IP-Address.
//! 5. Forwarding: a data message's IP goes to TUN, its other PPP (LCP
//!    echoes, NCPs) to the link; IP from TUN goes out on the call
//!    ([`NodeCore::handle_ip`]).
//! 6. The end, from either side: CDN or StopCCN from the peer, LCP
//!    Terminate or echo loss, RADIUS Disconnect, timeouts, shutdown —
//!    Accounting-Stop, the address back to its pool, routes withdrawn,
//!    CDN unless the peer cleared the call.

use super::*;
use crate::dataplane::fastpath::Egress;
use crate::l2tp::{ProxyInfo, SessionDownCause as CallDownCause};
use crate::lns::policy::AddressError;
use crate::observe::lns::{LnsEvent, LnsPhase, LnsRefusal, ProxyAuthOutcome, ProxyLcpOutcome};
use crate::ppp::auth::AuthMethod as Method;

/// What a session terminated here keeps of its incoming call.
#[derive(Debug)]
pub(super) struct IncomingCall {
    /// The `[[lns.peer]]` rule that admitted the tunnel.
    pub(super) rule: Option<usize>,
    /// The peer's Host Name (Tunnel-Client-Auth-ID).
    pub(super) peer_host: Vec<u8>,
    /// Calling Number (Calling-Station-Id).
    pub(super) calling_number: Option<String>,
    /// Called Number (Called-Station-Id).
    pub(super) called_number: Option<String>,
    /// Sub-Address (NAS-Port-Id, when the LAC sends one).
    pub(super) sub_address: Option<String>,
    /// The proxy AVPs, until the link no longer needs them.
    pub(super) proxy: ProxyInfo,
    /// ICCN received.
    pub(super) iccn_at: Instant,
    /// RADIUS is verifying the proxied credentials (no PPP exchange).
    pub(super) verifying_proxy: Option<Method>,
    /// The leased IPv4 address, to give back.
    pub(super) lease: Option<std::net::Ipv4Addr>,
    /// Routes installed for the session, to withdraw.
    pub(super) routes: Vec<ipnet::IpNet>,
    /// IPv6 prefixes leased for the session, to give back.
    pub(super) ipv6_leases: Vec<ipnet::Ipv6Net>,
    /// The CDN to clear the call with when the session is forgotten.
    pub(super) cdn: Option<ResultCode>,
}

/// The proxied credentials (RFC 2661 §4.4.5 Proxy Authen Type, Name,
/// Challenge, ID, Response) as RADIUS credentials, when they are PAP or
/// CHAP and match the method the proxied LCP agreed on.
fn proxied_credentials(
    proxy: &ProxyInfo,
    lcp_method: Option<AuthMethod>,
) -> Option<(String, AuthMethod, Credentials)> {
    use crate::wire::l2tp::ProxyAuthenType;
    let name = proxy.authen_name.as_ref().filter(|n| !n.is_empty())?;
    let response = proxy.authen_response.as_ref()?;
    let user = String::from_utf8_lossy(name).into_owned();
    match (proxy.authen_type?, lcp_method?) {
        (ProxyAuthenType::Pap, AuthMethod::Pap) => Some((
            user,
            AuthMethod::Pap,
            Credentials::Pap {
                password: response.clone(),
            },
        )),
        (ProxyAuthenType::Chap, AuthMethod::ChapMd5) => Some((
            user,
            AuthMethod::ChapMd5,
            Credentials::Chap {
                id: proxy.authen_id?,
                challenge: proxy.authen_challenge.clone()?,
                response: <[u8; 16]>::try_from(response.as_slice()).ok()?,
            },
        )),
        _ => None,
    }
}

/// Text of an optional call AVP.
fn text(value: Option<&Vec<u8>>) -> Option<String> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The Access-Request's session attributes for a call terminated here:
/// NAS-Port-Type Virtual (RFC 2865 §5.41), NAS-Port our Session ID,
/// Calling-/Called-Station-Id from the call's numbers (RFC 2661 §4.4.5),
/// NAS-Port-Id from the Sub-Address when the LAC sent one, else the
/// peer's name and its ids.
pub(super) fn incoming_session_info(session: &Session, call: &L2tpLeg) -> AaaSessionInfo {
    let incoming = session.incoming.as_deref();
    let peer_host = incoming
        .map(|i| String::from_utf8_lossy(&i.peer_host).into_owned())
        .unwrap_or_default();
    AaaSessionInfo {
        acct_session_id: session.acct_session_id.clone(),
        nas_port: Some(u32::from(call.handle.session_id)),
        nas_port_type: Some(NasPortType::Virtual.into()),
        port: PortInfo {
            interface: "l2tp".into(),
            nas_port_id: incoming.and_then(|i| i.sub_address.clone()).or_else(|| {
                Some(format!(
                    "{}:{}/{}",
                    if peer_host.is_empty() {
                        call.peer.ip().to_string()
                    } else {
                        peer_host.clone()
                    },
                    call.peer_tunnel_id,
                    call.peer_session_id
                ))
            }),
            ..PortInfo::default()
        },
        calling_mac: None,
        calling_station_id: incoming.and_then(|i| i.calling_number.clone()),
        called_station_id: incoming.and_then(|i| i.called_number.clone()),
    }
}

impl NodeCore {
    /// ICRQ: admit the call or refuse it (CDN result 4, RFC 2661 §4.4.2
    /// "temporary lack of resources").
    pub(super) fn call_requested(&mut self, now: Instant, handle: SessionHandle) {
        let rule = self
            .endpoint
            .admission(handle.tunnel_id)
            .map(|(rule, _)| rule);
        let admitted = match self.lns.as_mut() {
            Some(lns) => lns.admit_call(rule),
            None => {
                self.endpoint.refuse_session(
                    now,
                    handle,
                    ResultCode::cdn(CdnResult::FacilitiesPermanentlyUnavailable),
                );
                return;
            }
        };
        match admitted {
            Ok(()) => {
                self.admitted.insert(handle, rule);
                self.endpoint.accept_session(now, handle);
            }
            Err(refusal) => {
                tracing::warn!(
                    tunnel_id = handle.tunnel_id,
                    rule = ?rule,
                    cause = %refusal,
                    "incoming call refused"
                );
                self.lns_event(LnsEvent::Refused(LnsRefusal::SessionLimit));
                self.endpoint.refuse_session(
                    now,
                    handle,
                    ResultCode::cdn(CdnResult::FacilitiesTemporarilyUnavailable).with_error(
                        crate::wire::l2tp::GeneralError::InsufficientResources,
                        refusal.to_string(),
                    ),
                );
            }
        }
    }

    pub(super) fn lns_event(&mut self, event: LnsEvent) {
        self.events.push_back(LacEvent::Lns(event));
    }

    /// ICCN: the call is up; its PPP starts here.
    pub(super) fn incoming_call_up(
        &mut self,
        now: Instant,
        call: L2tpLeg,
        info: &crate::l2tp::CallInfo,
    ) {
        let handle = call.handle;
        let rule = self.admitted.remove(&handle).flatten();
        let Some(lns) = self.lns.as_ref() else {
            self.endpoint.close_session(
                now,
                handle,
                ResultCode::cdn(CdnResult::FacilitiesPermanentlyUnavailable),
                None,
            );
            return;
        };
        let peer_rule = lns.rule(rule);
        let peer_host = self
            .endpoint
            .admission(handle.tunnel_id)
            .map(|(_, host)| host.to_vec())
            .unwrap_or_default();
        let token = self.next_token;
        self.next_token += 1;
        let slot = self.fastpath.insert(
            call.key(),
            None,
            FastPathEntry::new(
                token,
                call.egress(info.sequencing_required),
                Egress::Local,
                self.config.tcp_mss,
                now,
            ),
        );
        let mut link_config = self.config.lns_link.clone();
        if let Some(methods) = peer_rule.auth_methods.clone() {
            link_config.auth_methods = methods;
        }
        let link = Link::new(link_config, self.rng.random());
        let acct_session_id = format!("{}{:08X}", self.acct_session_prefix, self.next_acct_session);
        self.next_acct_session += 1;
        let session = Session {
            first: FirstLeg::L2tp(call),
            slot: Some(slot),
            incoming: Some(Box::new(IncomingCall {
                rule,
                peer_host,
                calling_number: text(info.calling_number.as_ref()),
                called_number: text(info.called_number.as_ref()),
                sub_address: text(info.sub_address.as_ref()),
                proxy: info.proxy.clone(),
                iccn_at: now,
                verifying_proxy: None,
                lease: None,
                routes: Vec::new(),
                ipv6_leases: Vec::new(),
                cdn: None,
            })),
            service_name: Vec::new(),
            circuit_id: None,
            remote_id: None,
            acct_session_id: acct_session_id.clone(),
            user_name: None,
            link: Some(Box::new(link)),
            ipv6: None,
            auth_method: None,
            domain_authorized: false,
            auth_frame: None,
            proxy: None,
            accept: None,
            stage: Stage::Negotiating,
            lns: None,
            lns_group: None,
            up_at: None,
            session_timeout_at: None,
            idle_timeout: None,
            interim: None,
            next_interim: None,
        };
        tracing::info!(
            acct_session_id = %acct_session_id,
            lac = %call.peer,
            tunnel_id = handle.tunnel_id,
            session_id = handle.session_id,
            "incoming call up; PPP starts"
        );
        self.sessions.insert(token, session);
        self.by_acct_id.insert(acct_session_id, token);
        self.start_incoming_link(now, token, &peer_rule);
        self.drain_link(now, token);
    }

    /// Starts PPP on an incoming call, per the rule's proxy policies
    /// (RFC 2661 §4.4.5, module docs of [`crate::lns::policy`]):
    ///
    /// - no proxy LCP (a LAC client), or `renegotiate`: LCP from scratch;
    /// - the proxy LCP unacceptable to us: renegotiate, or refuse the call
    ///   under `reject-if-unacceptable`;
    /// - acceptable, with proxied PAP or CHAP credentials that match it and
    ///   `proxy_auth = "verify"`: adopted, and the credentials go to
    ///   RADIUS without a PPP exchange;
    /// - acceptable with CHAP or MS-CHAPv2 otherwise: adopted, and we
    ///   challenge the subscriber ourselves (MS-CHAPv2 always: it has no
    ///   proxy form);
    /// - acceptable with PAP but nothing to verify: renegotiated (a
    ///   subscriber that authenticated to the LAC never sends its PAP
    ///   request again).
    fn start_incoming_link(
        &mut self,
        now: Instant,
        token: u64,
        rule: &crate::lns::policy::PeerRule,
    ) {
        use crate::lns::policy::{ProxyAuth, ProxyLcp};
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let (Some(link), Some(incoming)) = (session.link.as_mut(), session.incoming.as_mut())
        else {
            return;
        };
        let proxy = &incoming.proxy;
        let proxied_lcp = match (
            &proxy.last_sent_lcp_confreq,
            &proxy.last_received_lcp_confreq,
        ) {
            (Some(sent), Some(received)) if rule.proxy_lcp != ProxyLcp::Renegotiate => {
                Some((sent.clone(), received.clone()))
            }
            _ => None,
        };
        let Some((sent, received)) = proxied_lcp else {
            link.renegotiate(now);
            self.lns_event(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated));
            self.lns_event(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged));
            return;
        };
        let adopted = match link.proxy_lcp_acceptable(&sent, &received) {
            Ok(adopted) => adopted,
            Err(refusal) => {
                let acct_session_id = session.acct_session_id.clone();
                if rule.proxy_lcp == ProxyLcp::RejectIfUnacceptable {
                    tracing::info!(
                        acct_session_id = %acct_session_id,
                        cause = %refusal,
                        "proxy LCP unacceptable: call refused (reject-if-unacceptable)"
                    );
                    self.lns_event(LnsEvent::ProxyLcp(ProxyLcpOutcome::Refused));
                    self.lns_event(LnsEvent::Refused(LnsRefusal::ProxyLcp));
                    let message = format!("proxy LCP unacceptable: {refusal}");
                    self.refuse_incoming(now, token, SetupFailure::Ppp, &message);
                    return;
                }
                tracing::info!(
                    acct_session_id = %acct_session_id,
                    cause = %refusal,
                    "proxy LCP unacceptable: renegotiating LCP"
                );
                link.renegotiate(now);
                self.lns_event(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated));
                self.lns_event(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged));
                return;
            }
        };
        let verifiable = if rule.proxy_auth == ProxyAuth::Verify {
            proxied_credentials(proxy, adopted.auth)
        } else {
            None
        };
        let challengeable = matches!(
            adopted.auth,
            Some(AuthMethod::ChapMd5 | AuthMethod::MsChapV2)
        );
        if verifiable.is_none() && !challengeable {
            link.renegotiate(now);
            self.lns_event(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated));
            self.lns_event(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged));
            return;
        }
        if let Err(refusal) = link.adopt_proxy_lcp(now, &sent, &received) {
            // Checked just above; a refusal here is the automaton's.
            tracing::warn!(cause = %refusal, "proxy LCP not adopted: renegotiating");
            link.renegotiate(now);
            self.lns_event(LnsEvent::ProxyLcp(ProxyLcpOutcome::Renegotiated));
            return;
        }
        self.lns_event(LnsEvent::ProxyLcp(ProxyLcpOutcome::Accepted));
        match verifiable {
            Some((user, method, credentials)) => {
                if let Some(incoming) = self
                    .sessions
                    .get_mut(&token)
                    .and_then(|s| s.incoming.as_mut())
                {
                    incoming.verifying_proxy = Some(method);
                }
                self.authenticate_incoming(now, token, user, method, credentials);
            }
            None => {
                if let Some(link) = self.sessions.get_mut(&token).and_then(|s| s.link.as_mut()) {
                    link.challenge(now);
                }
                self.lns_event(LnsEvent::ProxyAuth(ProxyAuthOutcome::Rechallenged));
            }
        }
    }

    /// The Access-Request of a session terminated here.
    pub(super) fn authenticate_incoming(
        &mut self,
        now: Instant,
        token: u64,
        user_name: String,
        method: AuthMethod,
        credentials: Credentials,
    ) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let Some(call) = session.first.l2tp().copied() else {
            return;
        };
        if let Some(incoming) = &session.incoming {
            self.events.push_back(LacEvent::Lns(LnsEvent::Phase {
                phase: LnsPhase::Link,
                took: now.saturating_duration_since(incoming.iccn_at),
            }));
        }
        session.user_name = Some(user_name.clone());
        session.auth_method = Some(method);
        session.stage = Stage::Authenticating { since: now };
        let tunnel = self.incoming_leg(token).map(|leg| leg.attributes());
        let info = self.aaa_session_info(token);
        let group = self
            .lns
            .as_ref()
            .map(|l| l.config().auth_group.clone())
            .unwrap_or_default();
        let _ = call;
        self.commands.push_back(Command::Authenticate {
            token,
            group,
            request: Box::new(AuthRequest {
                user_name,
                credentials,
                session: info,
                tunnel,
            }),
        });
    }

    /// The RFC 2867 attributes of a session's incoming call.
    pub(super) fn incoming_leg(&self, token: u64) -> Option<crate::aaa::accounting::TunnelLeg> {
        let session = self.sessions.get(&token)?;
        let call = session.first.l2tp()?;
        let host = session
            .incoming
            .as_ref()
            .map(|i| i.peer_host.clone())
            .filter(|h| !h.is_empty());
        let mut leg = call.accounting(self.config.local_address, None, host);
        leg.server_auth_id = Some(self.config.endpoint.host_name.clone());
        Some(leg)
    }

    /// RADIUS's decision for a session terminated here.
    pub(super) fn incoming_auth_result(&mut self, now: Instant, token: u64, decision: Decision) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let Stage::Authenticating { since } = session.stage else {
            return;
        };
        self.events.push_back(LacEvent::Lns(LnsEvent::Phase {
            phase: LnsPhase::Radius,
            took: now.saturating_duration_since(since),
        }));
        let verifying_proxy = session.incoming.as_ref().and_then(|i| i.verifying_proxy);
        let attributes = match decision {
            Decision::Reject(rejection) => {
                tracing::info!(
                    acct_session_id = %session.acct_session_id,
                    user = session.user_name.as_deref().unwrap_or(""),
                    cause = %rejection.cause,
                    proxied = verifying_proxy.is_some(),
                    "access rejected"
                );
                if verifying_proxy.is_some() {
                    // The LAC's proxied credentials were wrong: refuse the
                    // call (CDN result 2, RFC 2661 §4.4.2) — the LAC answers
                    // its subscriber.
                    self.lns_event(LnsEvent::ProxyAuth(ProxyAuthOutcome::Failed));
                    self.lns_event(LnsEvent::Refused(LnsRefusal::ProxyAuth));
                    let message = rejection
                        .reply_message
                        .unwrap_or_else(|| "authentication failed".into());
                    self.refuse_incoming(now, token, SetupFailure::RadiusReject, &message);
                } else {
                    self.fail_setup(
                        now,
                        token,
                        SetupFailure::RadiusReject,
                        rejection.reply_message,
                    );
                }
                return;
            }
            Decision::Accept(attributes) => attributes,
        };
        let rule = session.incoming.as_ref().and_then(|i| i.rule);
        let Some(lns) = self.lns.as_mut() else {
            return;
        };
        let lease = match lns.lease_ipv4(rule, &attributes) {
            Ok(lease) => lease,
            Err(error) => {
                tracing::warn!(
                    acct_session_id = %session.acct_session_id,
                    user = session.user_name.as_deref().unwrap_or(""),
                    cause = %error,
                    "no address for the subscriber: session refused"
                );
                self.lns_event(LnsEvent::Refused(LnsRefusal::NoAddress));
                let message = match error {
                    AddressError::NoSource => "no address configured for this user".to_owned(),
                    AddressError::Pool(_) => "no address available".to_owned(),
                };
                if verifying_proxy.is_some() {
                    // No PPP authentication is running to answer: the
                    // call is refused, and the LAC tells its subscriber.
                    self.refuse_incoming(now, token, SetupFailure::NoAddress, &message);
                } else {
                    self.fail_setup(now, token, SetupFailure::NoAddress, Some(message));
                }
                return;
            }
        };
        let dns = lns.dns(&attributes);
        let (ipv6, ipv6_errors) = lns.lease_ipv6(&attributes);
        for error in ipv6_errors {
            tracing::warn!(
                acct_session_id = %session.acct_session_id,
                cause = %error,
                "no IPv6 prefix from this source: the session goes on without it"
            );
        }
        let mut routes = Vec::new();
        for route in &attributes.framed_routes {
            routes.push(route.prefix);
        }
        let local = LocalLeg {
            ipv4: Some((lease.address, lease.source.clone())),
            routes,
            ipv6_prefix: ipv6.prefix.map(ipnet::IpNet::V6),
            delegated_prefix: ipv6.delegated.map(ipnet::IpNet::V6),
        };
        if let Some(incoming) = session.incoming.as_mut() {
            incoming.lease = Some(lease.address);
            incoming
                .ipv6_leases
                .extend(ipv6.prefix.into_iter().chain(ipv6.delegated));
            if lease.needs_route {
                incoming
                    .routes
                    .push(ipnet::IpNet::V4(ipnet::Ipv4Net::from(lease.address)));
            }
        }
        let authenticator_response = attributes
            .ms_chap2_success
            .as_deref()
            .and_then(parse_ms_chap2_success);
        let message = attributes.reply_message.clone();
        session.accept = Some(attributes);
        session.stage = Stage::Addressing {
            since: now,
            local: Box::new(local),
        };
        if let Some(link) = session.link.as_mut() {
            link.assign_ipv4(now, lease.address, dns);
            match verifying_proxy {
                Some(method) => {
                    let user = session.user_name.clone().unwrap_or_default();
                    link.adopt_proxy_auth(now, method, user.as_bytes());
                }
                None => link.auth_complete(
                    now,
                    AuthDecision::Accept {
                        message,
                        mschapv2_authenticator_response: authenticator_response,
                    },
                ),
            }
        }
        if verifying_proxy.is_some() {
            self.lns_event(LnsEvent::ProxyAuth(ProxyAuthOutcome::Accepted));
        }
        self.drain_link(now, token);
    }

    /// Refuses an incoming call before its PPP is up: CDN result 2 with
    /// `message` (RFC 2661 §4.4.2), no PPP exchange.
    fn refuse_incoming(&mut self, now: Instant, token: u64, failure: SetupFailure, message: &str) {
        if let Some(incoming) = self
            .sessions
            .get_mut(&token)
            .and_then(|s| s.incoming.as_mut())
        {
            incoming.cdn = Some(
                ResultCode::cdn(CdnResult::ErrorCode)
                    .with_error(crate::wire::l2tp::GeneralError::NoError, message),
            );
        }
        self.events.push_back(LacEvent::SetupFailed(failure));
        self.forget(now, token);
        self.drain_endpoint(now);
    }

    /// An NCP changed state on a session terminated here.
    pub(super) fn network_event(&mut self, now: Instant, token: u64, event: &LinkEvent) {
        let LinkEvent::NetworkUp { ipv4, ipv6 } = event else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if session.first.l2tp().is_none() {
            return;
        }
        if let Stage::Up(SecondLeg::Local(_)) = &session.stage {
            if let (Some(ipv6), Some(slot)) = (ipv6, session.slot) {
                self.allow_ipv6(slot, ipv6.peer_interface_id);
                self.start_ipv6(now, token, ipv6);
            }
            return;
        }
        let Stage::Addressing { since, .. } = session.stage else {
            return;
        };
        if ipv4.is_none() && ipv6.is_none() {
            return;
        }
        let Stage::Addressing { local, .. } =
            std::mem::replace(&mut session.stage, Stage::Negotiating)
        else {
            return;
        };
        let local = *local;
        let Some(slot) = session.slot else {
            return;
        };
        let iccn_at = session.incoming.as_ref().map_or(now, |i| i.iccn_at);
        let mut install = session
            .incoming
            .as_ref()
            .map(|i| i.routes.clone())
            .unwrap_or_default();
        if let Some((address, _)) = &local.ipv4 {
            self.fastpath
                .add_key(slot, Side::Second, LegKey::Ip(IpAddr::V4(*address)));
        }
        let mut sources: Vec<ipnet::IpNet> = Vec::new();
        if let Some((address, _)) = &local.ipv4 {
            sources.push(ipnet::IpNet::V4(ipnet::Ipv4Net::from(*address)));
        }
        for route in local
            .routes
            .iter()
            .chain(&local.ipv6_prefix)
            .chain(&local.delegated_prefix)
        {
            self.fastpath.add_route(slot, Side::Second, *route);
            sources.push(*route);
            if !install.contains(route) {
                install.push(*route);
            }
        }
        if let Some(entry) = self.fastpath.entry_mut(slot) {
            entry.sources.extend(sources);
        }
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if let Some(incoming) = session.incoming.as_mut() {
            incoming.routes.clone_from(&install);
            incoming.proxy = ProxyInfo::default();
        }
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            address = ?local.ipv4.as_ref().map(|(a, _)| *a),
            source = local.ipv4.as_ref().map(|(_, s)| s.describe()).unwrap_or_default(),
            routes = install.len(),
            "session up (PPP terminated here)"
        );
        session.stage = Stage::Up(SecondLeg::Local(local));
        session.up_at = Some(now);
        let accept = session.accept.clone().unwrap_or_default();
        for net in install {
            self.commands.push_back(Command::AddRoute { net });
        }
        self.events.push_back(LacEvent::Lns(LnsEvent::Phase {
            phase: LnsPhase::Network,
            took: now.saturating_duration_since(since),
        }));
        self.events.push_back(LacEvent::Lns(LnsEvent::Phase {
            phase: LnsPhase::Total,
            took: now.saturating_duration_since(iccn_at),
        }));
        self.apply_authorization(now, token, &accept, false);
        if let Some(session) = self.sessions.get_mut(&token) {
            session.accept = Some(Box::new(AcceptAttributes {
                class: accept.class,
                ..AcceptAttributes::default()
            }));
        }
        if let Some(ipv6) = ipv6 {
            self.allow_ipv6(slot, ipv6.peer_interface_id);
            self.start_ipv6(now, token, ipv6);
        }
        self.account_session(now, token, AcctStatusType::Start, None);
    }

    /// IPv6CP is up on a session that is up: its IPv6 services start
    /// (RAs with the Framed-IPv6-Prefix, DHCPv6 with the delegated one).
    fn start_ipv6(
        &mut self,
        now: Instant,
        token: u64,
        negotiated: &crate::ppp::ncp::Ipv6Negotiated,
    ) {
        let config = self.config.lns_ipv6.clone();
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if session.ipv6.is_some() {
            return;
        }
        let Stage::Up(SecondLeg::Local(local)) = &session.stage else {
            return;
        };
        let mut services = crate::lns::ipv6::Ipv6Services::new(
            config,
            negotiated.local_interface_id,
            negotiated.peer_interface_id,
            now,
        );
        let v6 = |net: Option<ipnet::IpNet>| match net {
            Some(ipnet::IpNet::V6(net)) => Some(net),
            _ => None,
        };
        services.set_prefix(v6(local.ipv6_prefix));
        if let Some(prefix) = v6(local.delegated_prefix) {
            services.set_delegation(Some(crate::lns::ipv6::Delegation::new(
                prefix,
                IPV6_PREFERRED_LIFETIME,
                IPV6_VALID_LIFETIME,
            )));
        }
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            prefix = ?local.ipv6_prefix,
            delegated = ?local.delegated_prefix,
            "IPv6CP up: router advertisements and DHCPv6 start"
        );
        session.ipv6 = Some(Box::new(services));
        self.drain_ipv6(now, token);
    }

    /// Link-scoped IPv6 from the subscriber: its IPv6 services answer
    /// (Router Solicitation, DHCPv6) or drop it; nothing reaches TUN.
    pub(super) fn link_scoped_ipv6(&mut self, now: Instant, slot: Slot, packet: &[u8]) -> Forward {
        let Some(token) = self.fastpath.entry(slot).map(|e| e.session) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Some(services) = self.sessions.get_mut(&token).and_then(|s| s.ipv6.as_mut()) else {
            return self.drop_frame(FastPathDrop::NotUp);
        };
        if let Some(reply) = crate::lns::echo::echo_reply(packet, services.link_local()) {
            self.send_ipv6(slot, &reply);
            return Forward::Control;
        }
        services.handle_packet(now, packet);
        self.drain_ipv6(now, token);
        Forward::Control
    }

    /// Sends one IPv6 packet to a subscriber whose PPP ends here, on its
    /// call (entry `slot`).
    fn send_ipv6(&mut self, slot: Slot, packet: &[u8]) {
        let end = CONTROL_HEADROOM + packet.len();
        let Some(room) = self.scratch.get_mut(CONTROL_HEADROOM..end) else {
            return;
        };
        room.copy_from_slice(packet);
        let Ok(start) =
            FrameHeader::new(Protocol::Ipv6).emit_in_headroom(&mut self.scratch, CONTROL_HEADROOM)
        else {
            return;
        };
        if let Some(Delivery::Datagram { to, range }) =
            self.fastpath
                .wrap_for(slot, Side::First, &mut self.scratch, start..end)
            && let Some(bytes) = self.scratch.get(range)
        {
            self.data_out.push_back((to, bytes.to_vec()));
        }
    }

    /// Sends what the session's IPv6 services have (IPv6 in PPP, on its
    /// call), logs their events, arms their timer.
    pub(super) fn drain_ipv6(&mut self, now: Instant, token: u64) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let (Some(services), Some(slot)) = (session.ipv6.as_mut(), session.slot) else {
            return;
        };
        while let Some(len) = self
            .scratch
            .get_mut(CONTROL_HEADROOM..)
            .and_then(|room| services.poll_transmit(now, room))
        {
            let Ok(start) = FrameHeader::new(Protocol::Ipv6)
                .emit_in_headroom(&mut self.scratch, CONTROL_HEADROOM)
            else {
                continue;
            };
            if let Some(Delivery::Datagram { to, range }) = self.fastpath.wrap_for(
                slot,
                Side::First,
                &mut self.scratch,
                start..CONTROL_HEADROOM + len,
            ) && let Some(bytes) = self.scratch.get(range)
            {
                self.data_out.push_back((to, bytes.to_vec()));
            }
        }
        while let Some(event) = services.poll_event() {
            match event {
                crate::lns::ipv6::Ipv6Event::PrefixDelegated { prefix, iaid } => {
                    tracing::info!(acct_session_id = %session.acct_session_id, %prefix, iaid, "prefix delegated (DHCPv6)");
                }
                crate::lns::ipv6::Ipv6Event::PrefixReleased { prefix } => {
                    tracing::info!(acct_session_id = %session.acct_session_id, %prefix, "delegated prefix released by the subscriber");
                }
                crate::lns::ipv6::Ipv6Event::Dropped { reason } => {
                    tracing::debug!(acct_session_id = %session.acct_session_id, reason = reason.as_str(), "IPv6 control packet dropped");
                }
            }
        }
        if let Some(at) = services.poll_timeout() {
            self.timers.push(Reverse((at, token, TimerKind::Ipv6)));
        }
    }

    /// IPv6CP is up: the subscriber's link-local address
    /// (fe80::/64 + its interface identifier, RFC 5072 §5) may source
    /// packets (Router Solicitations, DHCPv6).
    fn allow_ipv6(&mut self, slot: Slot, peer_interface_id: [u8; 8]) {
        let mut octets = [0u8; 16];
        octets[0] = 0xfe;
        octets[1] = 0x80;
        octets[8..].copy_from_slice(&peer_interface_id);
        let link_local = ipnet::IpNet::V6(ipnet::Ipv6Net::from(std::net::Ipv6Addr::from(octets)));
        if let Some(entry) = self.fastpath.entry_mut(slot)
            && !entry.sources.contains(&link_local)
        {
            entry.sources.push(link_local);
        }
    }

    /// A session terminated here ends: LCP Terminate when the link is
    /// still there, CDN unless the peer cleared the call, Stop, the
    /// address back, routes withdrawn.
    pub(super) fn end_local_session(&mut self, now: Instant, token: u64, end: SessionEnd) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let [up, down] = {
            let session = &*session;
            session
                .slot
                .and_then(|slot| self.fastpath.entry(slot))
                .map_or([DirectionCounters::default(); 2], |e| {
                    [e.arrived(Side::First), e.arrived(Side::Second)]
                })
        };
        let Some(call) = session.first.l2tp().copied() else {
            return;
        };
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            lac = %call.peer,
            cause = ?end.terminate_cause(),
            up = up.packets,
            down = down.packets,
            "session down"
        );
        let call_open = !call.closed;
        // Tell the subscriber when the link and the call can still carry
        // it: an LCP Terminate-Request ahead of the CDN (RFC 1661 §5.5).
        if call_open
            && !matches!(end, SessionEnd::SubscriberRequest | SessionEnd::LinkLost)
            && let Some(mut link) = session.link.take()
        {
            let reason = match end {
                SessionEnd::SessionTimeout => DownReason::SessionTimeout,
                SessionEnd::IdleTimeout => DownReason::IdleTimeout,
                _ => DownReason::AdminClose,
            };
            link.close(now, reason);
            self.flush_link_frames(&mut link, token);
        }
        if let Some(incoming) = self
            .sessions
            .get_mut(&token)
            .and_then(|s| s.incoming.as_mut())
        {
            let result = match end {
                SessionEnd::SubscriberRequest | SessionEnd::LinkLost => {
                    ResultCode::cdn(CdnResult::LossOfCarrier)
                }
                _ => ResultCode::cdn(CdnResult::Administrative),
            };
            incoming.cdn = Some(result);
        }
        self.account_session(now, token, AcctStatusType::Stop, Some(end));
        self.events.push_back(LacEvent::SessionEnded { end });
        self.forget(now, token);
        self.drain_endpoint(now);
    }

    /// What [`Self::forget`] does for a session that arrived by L2TP: CDN
    /// unless the call is closed, the address back, routes withdrawn, the
    /// rule's count.
    pub(super) fn forget_incoming(&mut self, now: Instant, session: &Session) {
        let (Some(call), Some(incoming)) = (session.first.l2tp(), session.incoming.as_ref()) else {
            return;
        };
        if !call.closed {
            let result = incoming
                .cdn
                .clone()
                .unwrap_or_else(|| ResultCode::cdn(CdnResult::Administrative));
            self.endpoint.close_session(now, call.handle, result, None);
        }
        for net in &incoming.routes {
            self.commands.push_back(Command::RemoveRoute { net: *net });
        }
        if let Some(lns) = self.lns.as_mut() {
            if let Some(address) = incoming.lease {
                lns.release_ipv4(address);
            }
            for prefix in &incoming.ipv6_leases {
                lns.release_ipv6(*prefix);
            }
            lns.call_ended(incoming.rule);
        }
    }

    /// The peer cleared an incoming call (CDN, StopCCN, tunnel loss), or
    /// one we refused is gone.
    pub(super) fn incoming_call_down(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        cause: CallDownCause,
    ) {
        if let Some(rule) = self.admitted.remove(&handle) {
            // Admitted, never up.
            if let Some(lns) = self.lns.as_mut() {
                lns.call_ended(rule);
            }
            return;
        }
        let key = LegKey::L2tp {
            tunnel_id: handle.tunnel_id,
            session_id: handle.session_id,
        };
        let Some(token) = self
            .fastpath
            .lookup(&key)
            .and_then(|leg| self.fastpath.entry(leg.slot))
            .map(|e| e.session)
        else {
            return;
        };
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if cause == CallDownCause::LocalCdn {
            return;
        }
        if let Some(call) = session.first.l2tp_mut() {
            call.closed = true;
        }
        if let Some(link) = session.link.as_mut() {
            // Nothing can reach the subscriber any more.
            link.lower_down(now);
            while link.poll_transmit(&mut self.scratch).is_some() {}
        }
        let end = match cause {
            CallDownCause::PeerCdn => SessionEnd::LinkLost,
            _ => SessionEnd::TunnelLost,
        };
        if matches!(session.stage, Stage::Up(_)) {
            self.end_local_session(now, token, end);
        } else {
            self.abort_setup(now, token, SetupFailure::SubscriberLeft, false);
        }
    }

    /// A PPP frame of a session terminated here for its link (the fast
    /// path's [`Delivery::Link`]).
    pub(super) fn link_frame(&mut self, now: Instant, slot: Slot, frame: &[u8]) -> Forward {
        let Some(token) = self.fastpath.entry(slot).map(|e| e.session) else {
            return self.drop_frame(FastPathDrop::UnknownSession);
        };
        let Ok(ppp) = crate::wire::ppp::Frame::new_checked(frame) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let Some(link) = self.sessions.get_mut(&token).and_then(|s| s.link.as_mut()) else {
            return self.drop_frame(FastPathDrop::NotUp);
        };
        link.handle_frame(now, ppp.protocol(), ppp.payload());
        self.drain_link(now, token);
        Forward::Control
    }

    /// Handles an IP packet read from TUN at `buf[start..start + len]`,
    /// with at least [`TUN_HEADROOM`] bytes free before `start`: one lookup
    /// by destination (a subscriber's address, else the longest routed
    /// prefix), then out on that session's call, rewritten in place — the
    /// caller sends `buf[range]` ([`Forward::Datagram`]).
    pub fn handle_ip(&mut self, now: Instant, buf: &mut [u8], start: usize, len: usize) -> Forward {
        let Some(packet) = start.checked_add(len).and_then(|end| buf.get(start..end)) else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let destination = match packet.first().map(|b| b >> 4) {
            Some(4) => packet
                .get(16..20)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(IpAddr::from),
            Some(6) => packet
                .get(24..40)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(IpAddr::from),
            _ => None,
        };
        let Some(destination) = destination else {
            return self.drop_frame(FastPathDrop::Malformed);
        };
        let Some(leg) = self.fastpath.lookup_destination(destination) else {
            self.no_route += 1;
            return self.drop_frame(FastPathDrop::NoRoute);
        };
        let result = self.fastpath.forward_ip(now, leg, buf, start..start + len);
        if result.is_ok() {
            self.from_tun.packets += 1;
            self.from_tun.bytes += len as u64;
        }
        self.deliver(now, buf, result)
    }

    /// Figures of the LNS role for metrics.
    pub fn lns_snapshot(&self) -> Option<crate::observe::lns::LnsSnapshot> {
        let lns = self.lns.as_ref()?;
        Some(crate::observe::lns::LnsSnapshot {
            peer_tunnels: lns
                .sessions_per_rule()
                .into_iter()
                .enumerate()
                .map(|(index, (name, _))| {
                    let held = self.endpoint.tunnels_per_rule().get(index).copied();
                    (name, held.unwrap_or(0))
                })
                .collect(),
            peer_sessions: lns.sessions_per_rule(),
            pools: lns
                .pool_stats()
                .into_iter()
                .map(|pool| crate::observe::lns::PoolFigures {
                    name: pool.name,
                    size: pool.size,
                    used: pool.used,
                    exhausted: pool.exhausted,
                })
                .collect(),
            to_tun: self.to_tun,
            from_tun: self.from_tun,
            spoofed: self.spoofed,
            no_route: self.no_route,
        })
    }
}

/// Lifetimes of a delegated prefix (RFC 8415 §21.22): a day preferred,
/// two valid; the client renews at T1 = half the preferred lifetime, so a
/// session that ends takes its prefix away within a day at most.
const IPV6_PREFERRED_LIFETIME: u32 = 86_400;
const IPV6_VALID_LIFETIME: u32 = 172_800;

/// Room [`NodeCore::handle_ip`] needs in front of an IP packet from TUN:
/// the L2TP data header with Length and Ns/Nr (12), `FF 03` and the PPP
/// protocol field.
pub const TUN_HEADROOM: usize = 16;
