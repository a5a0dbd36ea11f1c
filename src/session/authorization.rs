//! The LAC core's RADIUS half: the Access-Request for a subscriber's
//! credentials (RFC 2865 §5.1–§5.3, RFC 2759 via RFC 2548 for MS-CHAPv2,
//! RFC 4679 for the DSL Forum attributes), the decision and its RFC 2868
//! tunnel attributes (or a `[[lac.realm]]` rule), and the authorization a
//! session lives by (Session-Timeout, Idle-Timeout, Acct-Interim-Interval,
//! rate limits; changed later by RFC 5176 CoA).

use super::incoming::incoming_session_info;
use super::*;

impl NodeCore {
    /// The RADIUS decision for session `token`.
    pub fn auth_result(&mut self, now: Instant, token: u64, decision: Decision) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let Stage::Authenticating { since } = session.stage else {
            return;
        };
        if session.first.l2tp().is_some() {
            return self.incoming_auth_result(now, token, decision);
        }
        self.events.push_back(LacEvent::Phase {
            phase: LacPhase::Radius,
            took: now.saturating_duration_since(since),
        });
        match decision {
            Decision::Reject(rejection) => {
                tracing::info!(
                    acct_session_id = %session.acct_session_id,
                    user = session.user_name.as_deref().unwrap_or(""),
                    cause = %rejection.cause,
                    "access rejected"
                );
                let message = rejection.reply_message;
                self.fail_setup(now, token, SetupFailure::RadiusReject, message);
            }
            Decision::Accept(attributes) => {
                let user = session.user_name.clone().unwrap_or_default();
                let second_leg = self.lac.second_leg(now, &user, &attributes);
                self.drain_policy();
                let Some(session) = self.sessions.get_mut(&token) else {
                    return;
                };
                session.accept = Some(attributes);
                match second_leg {
                    LacChoice::L2tpOut(plan) => {
                        let deadline = now + plan.deadline;
                        session.lns_group = Some(plan.group);
                        session.stage = Stage::Tunnelling(Box::new(Tunnelling {
                            plan: plan.attempts,
                            next: 0,
                            current: None,
                            deadline,
                            failed: 0,
                            attempt_timeout: plan.attempt_timeout,
                            busy: 0,
                        }));
                        self.arm(deadline, token, TimerKind::Deadline);
                        self.try_next_endpoint(now, token);
                    }
                    LacChoice::NoCandidate => {
                        session.lns_group = Some(Arc::from("none"));
                        tracing::warn!(
                            acct_session_id = %session.acct_session_id,
                            user = %user,
                            "no LNS for this user: RADIUS returned no usable tunnel and no realm rule matches"
                        );
                        self.events
                            .push_back(LacEvent::Selection(SelectionOutcome::NoCandidate));
                        self.fail_setup(
                            now,
                            token,
                            SetupFailure::NoCandidate,
                            Some("no tunnel for this user".into()),
                        );
                    }
                }
            }
        }
    }

    pub(super) fn authenticate(&mut self, now: Instant, token: u64, request: &PppAuthRequest) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if !matches!(session.stage, Stage::Negotiating) {
            // A retransmitted request while RADIUS or the LNS is busy.
            return;
        }
        let (user, method, credentials) = match request {
            PppAuthRequest::Pap { user, password } => (
                user,
                AuthMethod::Pap,
                Credentials::Pap {
                    password: password.expose().to_vec(),
                },
            ),
            PppAuthRequest::Chap {
                user,
                id,
                challenge,
                response,
            } => {
                let Ok(response) = <[u8; 16]>::try_from(response.as_slice()) else {
                    self.fail_setup(now, token, SetupFailure::Ppp, None);
                    return;
                };
                (
                    user,
                    AuthMethod::ChapMd5,
                    Credentials::Chap {
                        id: *id,
                        challenge: challenge.clone(),
                        response,
                    },
                )
            }
            PppAuthRequest::MsChapV2 {
                user,
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                flags,
            } => (
                user,
                AuthMethod::MsChapV2,
                Credentials::MsChapV2 {
                    id: *id,
                    authenticator_challenge: *authenticator_challenge,
                    peer_challenge: *peer_challenge,
                    nt_response: *nt_response,
                    flags: *flags,
                },
            ),
        };
        let user_name = String::from_utf8_lossy(user).into_owned();
        if session.first.l2tp().is_some() {
            // PPP terminated here: the identity as the subscriber gave it.
            return self.authenticate_incoming(now, token, user_name, method, credentials);
        }
        let identity = self.lac.radius_identity(&user_name, credentials);
        session.domain_authorized = identity.domain;
        session.user_name = Some(user_name);
        session.auth_method = Some(method);
        // The proxy AVPs as they stand now: LCP is Opened and the
        // credentials are recorded. A peer that renegotiates LCP while
        // RADIUS or the LNS is busy must not empty them.
        session.proxy = session
            .link
            .as_ref()
            .and_then(|l| l.pending_negotiation_record())
            .map(proxy_info);
        session.stage = Stage::Authenticating { since: now };
        let info = self.aaa_session_info(token);
        self.commands.push_back(Command::Authenticate {
            token,
            group: self.config.auth_group.clone(),
            request: Box::new(AuthRequest {
                user_name: identity.user_name,
                credentials: identity.credentials,
                session: info,
                tunnel: None,
            }),
        });
    }

    pub(super) fn aaa_session_info(&self, token: u64) -> AaaSessionInfo {
        let Some(session) = self.sessions.get(&token) else {
            return AaaSessionInfo::default();
        };
        let first = match &session.first {
            FirstLeg::Pppoe(first) => first,
            FirstLeg::L2tp(call) => return incoming_session_info(session, call),
        };
        let (svlan, cvlan) = match first.vlans.as_slice() {
            [outer, inner] => (Some(outer.vid), Some(inner.vid)),
            [only] => (None, Some(only.vid)),
            _ => (None, None),
        };
        let port_type = match first.vlans.len() {
            0 => NasPortType::PppoEoE,
            1 => NasPortType::PppoEoVlan,
            _ => NasPortType::PppoEoQinQ,
        };
        AaaSessionInfo {
            acct_session_id: session.acct_session_id.clone(),
            nas_port: Some(u32::from(first.session_id)),
            nas_port_type: Some(port_type.into()),
            port: PortInfo {
                interface: self
                    .config
                    .interfaces
                    .get(first.interface)
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
                svlan,
                cvlan,
                agent_circuit_id: session.circuit_id.clone(),
                agent_remote_id: session.remote_id.clone(),
                nas_port_id: self
                    .discovery
                    .get(first.interface)
                    .and_then(|d| d.vlan_rule(&first.vlans))
                    .and_then(|rule| rule.nas_port_id.clone()),
            },
            calling_mac: Some(first.mac.octets()),
            calling_station_id: None,
            called_station_id: (!session.service_name.is_empty())
                .then(|| String::from_utf8_lossy(&session.service_name).into_owned()),
        }
    }

    /// Session-Timeout, Idle-Timeout, interim interval and rate limits from
    /// an Access-Accept or a CoA-Request.
    pub(super) fn apply_authorization(
        &mut self,
        now: Instant,
        token: u64,
        attributes: &AcceptAttributes,
        is_coa: bool,
    ) {
        let default_interim = self.config.interim_interval;
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        let mut timers = Vec::new();
        if let Some(seconds) = attributes.session_timeout.filter(|s| *s > 0) {
            // RFC 2865 §5.27: the maximum number of seconds of service; a
            // CoA restarts the count from now.
            let base = if is_coa {
                now
            } else {
                session.up_at.unwrap_or(now)
            };
            let at = base + Duration::from_secs(u64::from(seconds));
            session.session_timeout_at = Some(at);
            timers.push((at, TimerKind::SessionTimeout));
        }
        if let Some(seconds) = attributes.idle_timeout.filter(|s| *s > 0) {
            let idle = Duration::from_secs(u64::from(seconds));
            session.idle_timeout = Some(idle);
            timers.push((now + idle, TimerKind::IdleCheck));
        }
        let interim = attributes
            .acct_interim_interval
            .map(|s| Duration::from_secs(u64::from(s.max(60))))
            .or_else(|| (!is_coa && !default_interim.is_zero()).then_some(default_interim));
        if let Some(interval) = interim {
            session.interim = Some(interval);
            let at = now + interval;
            session.next_interim = Some(at);
            timers.push((at, TimerKind::Interim));
        }
        // Policers live with the forwarding state: a session that is not
        // up yet gets its Access-Accept's when it comes up.
        if let Some(entry) = session
            .slot()
            .and_then(|slot| self.fastpath.entry_mut(slot))
        {
            apply_rate_limit(entry, now, &attributes.rate_limit);
        }
        for (at, kind) in timers {
            self.arm(at, token, kind);
        }
    }
}
