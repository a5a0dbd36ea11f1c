//! The calls of a tunnel: the incoming-call state machines of RFC 2661
//! §7.4 (LAC: ICRQ, ICRP, ICCN) and §7.5 (LNS: ICRQ, ICRP, ICCN), CDN
//! (§6.13) both ways, and how every call ends with its tunnel (§5.7).
//!
//! A LAC call opened on a tunnel that is not up yet, or whose channel has
//! a full window, waits in the tunnel's outbox (`outbox.rs`) as
//! [`SessionState::WaitTunnel`]: the peer has not heard of it, so clearing
//! it sends no CDN.

use std::time::Duration;

use crate::wire::l2tp::{Avp, CdnResult, ControlMessage, GeneralError, MessageType, ResultCode};

use super::super::event::{Direction, Event, SessionDownCause};
use super::super::ids;
use super::super::session::{
    CallInfo, ProxyInfo, Session, SessionState, malformed_call_result, outgoing_call_refusal,
};
use super::{Ctx, Tunnel, TunnelState};

impl Tunnel {
    /// Clears the calls not established within `timeout` (CDN result 10;
    /// no CDN for a call still waiting in the outbox).
    pub(super) fn expire_calls(&mut self, ctx: &mut Ctx<'_>, timeout: Duration) {
        while let Some(&(at, session_id)) = self.setup_deadlines.first() {
            if at > ctx.now {
                break;
            }
            self.setup_deadlines.pop_first();
            let expired = self.sessions.get(&session_id).is_some_and(|session| {
                session.state != SessionState::Established
                    && session.requested_at + timeout <= ctx.now
            });
            if expired {
                let result = ResultCode::cdn(CdnResult::Timeout)
                    .with_error(GeneralError::NoError, "call setup timed out");
                self.close_session(ctx, session_id, result, None, SessionDownCause::LocalCdn);
            }
        }
    }

    /// LAC: adds an outgoing-from-us incoming call (§7.4). It waits in the
    /// outbox; its ICRQ goes out once the tunnel is established and the
    /// channel has room (module docs of the tunnel).
    pub(crate) fn add_lac_session(
        &mut self,
        ctx: &mut Ctx<'_>,
        call: CallInfo,
        request_id: u64,
    ) -> Option<u16> {
        let session_id = ids::allocate(ctx.rng, &self.sessions)?;
        self.setup_deadlines
            .insert((ctx.now + ctx.config.setup_timeout, session_id));
        self.sessions.insert(
            session_id,
            Session {
                state: SessionState::WaitTunnel,
                peer_session_id: 0,
                call: Box::new(call),
                requested_at: ctx.now,
                request_id,
            },
        );
        self.outbox.push_call(session_id);
        Some(session_id)
    }

    /// Moves waiting LAC sessions of another tunnel (tie breaker lost)
    /// here, in the order they were opened.
    pub(crate) fn adopt_waiting_sessions(&mut self, ctx: &mut Ctx<'_>, other: &mut Self) {
        let mut rest: Vec<u16> = other.sessions.keys().copied().collect();
        rest.sort_unstable();
        let ids: Vec<u16> = std::mem::take(&mut other.outbox)
            .into_calls()
            .chain(rest)
            .collect();
        for old in ids {
            let Some(session) = other.sessions.remove(&old) else {
                continue;
            };
            let new_id = if self.sessions.contains_key(&old) {
                ids::allocate(ctx.rng, &self.sessions)
            } else {
                Some(old)
            };
            if let Some(id) = new_id {
                self.setup_deadlines
                    .insert((session.requested_at + ctx.config.setup_timeout, id));
                let waits = session.state == SessionState::WaitTunnel;
                self.sessions.insert(id, session);
                if waits {
                    self.outbox.push_call(id);
                }
            }
        }
        if self.sharing.is_none() {
            self.sharing = other.sharing.take();
        }
    }

    /// Places a waiting call: its ICRQ (§6.10) goes to the channel.
    pub(super) fn send_icrq(&mut self, ctx: &mut Ctx<'_>, session_id: u16) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        if session.state == SessionState::WaitTunnel {
            self.outbox.call_left();
        }
        session.state = SessionState::WaitReply;
        let icrq = session.call.icrq(session_id);
        self.send(ctx, icrq, 0);
    }

    /// LNS: the driver accepts an ICRQ: ICRP (§6.11), wait for ICCN.
    pub(crate) fn accept_session(&mut self, ctx: &mut Ctx<'_>, session_id: u16) -> bool {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return false;
        };
        if session.state != SessionState::WaitAccept {
            return false;
        }
        session.state = SessionState::WaitConnect;
        let peer_session = session.peer_session_id;
        let icrp =
            ControlMessage::new(MessageType::Icrp).with_avp(Avp::AssignedSessionId(session_id));
        self.send(ctx, icrp, peer_session);
        true
    }

    /// Sends CDN (§6.13) for our session and forgets it.
    pub(crate) fn close_session(
        &mut self,
        ctx: &mut Ctx<'_>,
        session_id: u16,
        result: ResultCode,
        q931: Option<crate::wire::l2tp::Q931Cause>,
        cause: SessionDownCause,
    ) -> bool {
        let Some(session) = self.remove_session(session_id) else {
            return false;
        };
        // A call the peer never heard of (still waiting for the tunnel)
        // needs no CDN.
        if session.state != SessionState::WaitTunnel && self.state == TunnelState::Established {
            let mut cdn = ControlMessage::cdn(session_id, result.clone());
            if let Some(q) = q931.clone() {
                cdn = cdn.with_avp(Avp::Q931CauseCode(q));
            }
            self.send(ctx, cdn, session.peer_session_id);
            ctx.events.push_back(Event::Cdn {
                direction: Direction::Sent,
                result: result.clone(),
            });
        }
        ctx.events.push_back(Event::SessionDown {
            handle: self.handle(session_id),
            request_id: session.request_id,
            was_established: session.state == SessionState::Established,
            cause,
            result: Some(result),
            q931,
            at: ctx.now,
        });
        true
    }

    /// CDN for a call we keep no state for.
    pub(super) fn refuse_unknown_call(
        &mut self,
        ctx: &mut Ctx<'_>,
        peer_session: u16,
        result: ResultCode,
    ) {
        // Our Assigned Session ID: a fresh one, never stored (the call
        // does not exist on our side).
        let ours = ids::allocate(ctx.rng, &self.sessions).unwrap_or(0);
        self.send(ctx, ControlMessage::cdn(ours, result.clone()), peer_session);
        ctx.events.push_back(Event::Cdn {
            direction: Direction::Sent,
            result,
        });
    }

    pub(super) fn on_call_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        ty: MessageType,
        msg: &ControlMessage,
    ) {
        match ty {
            MessageType::Icrq => self.on_icrq(ctx, msg),
            MessageType::Ocrq => {
                // §6.7: we never place outgoing calls.
                let peer_session = msg.assigned_session_id().unwrap_or(0);
                self.refuse_unknown_call(ctx, peer_session, outgoing_call_refusal());
            }
            MessageType::Cdn => self.on_cdn(ctx, msg),
            _ => {
                let Some(session_id) = self.find_session(msg) else {
                    // Late message for a session already gone: the
                    // channel acknowledged it; nothing else to do.
                    return;
                };
                self.on_session_message(ctx, ty, session_id, msg);
            }
        }
    }

    fn on_icrq(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) {
        let peer_session = msg.assigned_session_id().unwrap_or(0);
        if peer_session == 0 {
            let result = malformed_call_result(super::super::session::CallError::Missing(
                "Assigned Session ID",
            ));
            self.refuse_unknown_call(ctx, 0, result);
            return;
        }
        if !ctx.config.accept_calls {
            let result = ResultCode::cdn(CdnResult::FacilitiesPermanentlyUnavailable)
                .with_error(GeneralError::NoError, "incoming calls not accepted here");
            self.refuse_unknown_call(ctx, peer_session, result);
            return;
        }
        let call = match CallInfo::from_icrq(msg) {
            Ok(call) => call,
            Err(error) => {
                self.refuse_unknown_call(ctx, peer_session, malformed_call_result(error));
                return;
            }
        };
        let Some(session_id) = ids::allocate(ctx.rng, &self.sessions) else {
            let result = ResultCode::cdn(CdnResult::FacilitiesTemporarilyUnavailable)
                .with_error(GeneralError::InsufficientResources, "no free Session ID");
            self.refuse_unknown_call(ctx, peer_session, result);
            return;
        };
        let call = Box::new(call);
        self.setup_deadlines
            .insert((ctx.now + ctx.config.setup_timeout, session_id));
        self.sessions.insert(
            session_id,
            Session {
                state: SessionState::WaitAccept,
                peer_session_id: peer_session,
                call: call.clone(),
                requested_at: ctx.now,
                request_id: 0,
            },
        );
        ctx.events.push_back(Event::SessionRequest {
            handle: self.handle(session_id),
            peer: self.peer,
            call,
            at: ctx.now,
        });
    }

    fn on_cdn(&mut self, ctx: &mut Ctx<'_>, msg: &ControlMessage) {
        let result = msg.result_code().cloned();
        if let Some(result) = &result {
            ctx.events.push_back(Event::Cdn {
                direction: Direction::Received,
                result: result.clone(),
            });
        }
        let Some(session_id) = self.find_session(msg) else {
            return;
        };
        let Some(session) = self.remove_session(session_id) else {
            return;
        };
        ctx.events.push_back(Event::SessionDown {
            handle: self.handle(session_id),
            request_id: session.request_id,
            was_established: session.state == SessionState::Established,
            cause: SessionDownCause::PeerCdn,
            result,
            q931: msg.q931_cause().cloned(),
            at: ctx.now,
        });
    }

    fn on_session_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        ty: MessageType,
        session_id: u16,
        msg: &ControlMessage,
    ) {
        let handle = self.handle(session_id);
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        match (ty, session.state) {
            (MessageType::Icrp, SessionState::WaitReply) => {
                let Some(peer_session) = msg.assigned_session_id().filter(|&id| id != 0) else {
                    let result = malformed_call_result(super::super::session::CallError::Missing(
                        "Assigned Session ID",
                    ));
                    self.close_session(ctx, session_id, result, None, SessionDownCause::LocalCdn);
                    return;
                };
                session.peer_session_id = peer_session;
                // §7.4: "wait-reply: Receive ICRP, acceptable -> Send ICCN
                // -> established".
                session.state = SessionState::Established;
                let iccn = session.call.iccn();
                let up = Event::SessionUp {
                    handle,
                    peer_tunnel_id: self.peer_id,
                    peer_session_id: peer_session,
                    peer: self.peer,
                    request_id: session.request_id,
                    call: session.call.clone(),
                    requested_at: session.requested_at,
                    at: ctx.now,
                };
                // The proxy AVPs served their purpose: keep only what the
                // established session needs.
                session.call.proxy = ProxyInfo::default();
                // The driver may forward data once the session is up; an
                // ICCN still waiting for the peer's window (or lost) would
                // let that data arrive at an LNS that does not know the
                // call yet. So the event waits for the ICCN's
                // acknowledgement (RFC 2661 §5.8: Nr acknowledges it).
                self.send_iccn(ctx, iccn, peer_session, session_id, up);
            }
            (MessageType::Iccn, SessionState::WaitConnect) => {
                if let Err(error) = session.call.apply_iccn(msg) {
                    self.close_session(
                        ctx,
                        session_id,
                        malformed_call_result(error),
                        None,
                        SessionDownCause::LocalCdn,
                    );
                    return;
                }
                session.state = SessionState::Established;
                let call = session.call.clone();
                // The driver gets the proxy AVPs in the event; the session
                // keeps only what an established call needs.
                session.call.proxy = ProxyInfo::default();
                ctx.events.push_back(Event::SessionUp {
                    handle,
                    peer_tunnel_id: self.peer_id,
                    peer_session_id: session.peer_session_id,
                    peer: self.peer,
                    request_id: session.request_id,
                    call,
                    requested_at: session.requested_at,
                    at: ctx.now,
                });
            }
            (MessageType::Sli, _) => {
                if let Some(accm) = msg.accm() {
                    ctx.events.push_back(Event::LinkInfo { handle, accm });
                }
            }
            (MessageType::Wen, _) => {
                if let Some(errors) = msg.call_errors() {
                    ctx.events.push_back(Event::WanError { handle, errors });
                }
            }
            _ => {
                let why = format!("unexpected message type {} for this session", u16::from(ty));
                let result =
                    ResultCode::cdn(CdnResult::ErrorCode).with_error(GeneralError::NoError, why);
                self.close_session(ctx, session_id, result, None, SessionDownCause::LocalCdn);
            }
        }
    }

    /// Session lookup for the data path.
    pub(crate) fn session(&self, session_id: u16) -> Option<&Session> {
        self.sessions.get(&session_id)
    }

    /// Number of sessions, for the sharing rule.
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Forgets one session, keeping the outbox's count of waiting calls
    /// and the held `SessionUp` events in step.
    fn remove_session(&mut self, session_id: u16) -> Option<Session> {
        let session = self.sessions.remove(&session_id)?;
        if session.state == SessionState::WaitTunnel {
            self.outbox.call_left();
        }
        self.drop_held_up(session_id);
        Some(session)
    }

    /// Every call ends with its tunnel (§5.7: StopCCN clears every session;
    /// §5.8: so does a dead peer), those still waiting in the outbox
    /// included: one [`Event::SessionDown`] each, no CDN. Iterative.
    pub(super) fn all_sessions_down(&mut self, ctx: &mut Ctx<'_>, result: Option<&ResultCode>) {
        let mut ids: Vec<u16> = self.sessions.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(session) = self.sessions.remove(&id) {
                ctx.events.push_back(Event::SessionDown {
                    handle: self.handle(id),
                    request_id: session.request_id,
                    was_established: session.state == SessionState::Established,
                    cause: SessionDownCause::TunnelDown,
                    result: result.cloned(),
                    q931: None,
                    at: ctx.now,
                });
            }
        }
        self.outbox.forget_calls();
        self.pending_up.clear();
        self.setup_deadlines.clear();
    }
}
