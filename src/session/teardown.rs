//! The LAC core's teardown paths, each with its Accounting-Stop and
//! Acct-Terminate-Cause (RFC 2866 §5.10): PADT (RFC 2516 §5.5), CDN and
//! StopCCN (RFC 2661 §5.7, §6.13), RFC 5176 Disconnect, timeouts
//! (RFC 2865 §5.27, §5.28), carrier loss and shutdown; and the refusal of a
//! subscriber whose set-up failed (authentication failure, then LCP
//! Terminate and PADT).

use super::*;

impl NodeCore {
    /// The subscriber sent PADT.
    pub(super) fn subscriber_left(&mut self, now: Instant, token: u64) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        if matches!(session.stage, Stage::Up(_)) {
            self.end_session(now, token, SessionEnd::SubscriberRequest);
        } else {
            self.abort_setup(now, token, SetupFailure::SubscriberLeft, false);
        }
    }

    /// The PPP link went down: before hand-over (LAC), or at any time for
    /// PPP terminated here.
    pub(super) fn link_down(&mut self, now: Instant, token: u64, reason: DownReason) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if matches!(session.stage, Stage::Up(SecondLeg::Local(_))) {
            // The link is gone: nothing more to send on it.
            session.link = None;
            let end = match reason {
                DownReason::PeerTerminated => SessionEnd::SubscriberRequest,
                DownReason::EchoTimeout | DownReason::LowerDown => SessionEnd::LinkLost,
                DownReason::SessionTimeout => SessionEnd::SessionTimeout,
                DownReason::IdleTimeout => SessionEnd::IdleTimeout,
                DownReason::AdminClose => SessionEnd::AdminDisconnect,
                _ => SessionEnd::UserError,
            };
            return self.end_local_session(now, token, end);
        }
        if let Some(incoming) = session.incoming.as_mut()
            && incoming.cdn.is_none()
        {
            // RFC 2661 §4.4.2: CDN result 2 with the reason, for the LAC.
            let message = match reason {
                DownReason::AuthFailed => "PPP authentication failed",
                DownReason::PeerTerminated => "the subscriber terminated PPP",
                _ => "PPP negotiation failed",
            };
            incoming.cdn = Some(
                ResultCode::cdn(CdnResult::ErrorCode)
                    .with_error(crate::wire::l2tp::GeneralError::NoError, message),
            );
        }
        let session = &*session;
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            ?reason,
            "PPP link down before hand-over"
        );
        let failure = if reason == DownReason::AuthFailed {
            SetupFailure::RadiusReject
        } else {
            SetupFailure::Ppp
        };
        // fail_setup already counted auth rejections it caused.
        let counted = matches!(session.stage, Stage::Authenticating { .. })
            && failure == SetupFailure::RadiusReject;
        self.abort_setup_inner(now, token, failure, true, !counted);
    }

    /// Refuses the subscriber: authentication failure to the peer, then
    /// LCP Terminate and PADT follow from the link going down.
    pub(super) fn fail_setup(
        &mut self,
        now: Instant,
        token: u64,
        failure: SetupFailure,
        message: Option<String>,
    ) {
        if !self.sessions.contains_key(&token) {
            return;
        }
        self.clear_current_call(now, token, CdnResult::Administrative);
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        // Back to Authenticating so the link's Down is not counted twice.
        session.stage = Stage::Authenticating { since: now };
        if let Some(link) = session.link.as_mut() {
            link.auth_complete(now, AuthDecision::Reject { message });
            if link.phase() == crate::ppp::link::Phase::Authenticate {
                // MS-CHAPv2 (RFC 2759 §6): the Failure offered a retry
                // (R=1, a new challenge). The retry goes to RADIUS like the
                // first attempt; the failure counts once the link gives up.
                session.stage = Stage::Negotiating;
                self.drain_link(now, token);
                return;
            }
        }
        self.events.push_back(LacEvent::SetupFailed(failure));
        self.drain_link(now, token);
        self.drain_endpoint(now);
    }

    pub(super) fn abort_setup(
        &mut self,
        now: Instant,
        token: u64,
        failure: SetupFailure,
        send_padt: bool,
    ) {
        self.abort_setup_inner(now, token, failure, send_padt, true);
    }

    pub(super) fn abort_setup_inner(
        &mut self,
        now: Instant,
        token: u64,
        failure: SetupFailure,
        send_padt: bool,
        count: bool,
    ) {
        if !self.sessions.contains_key(&token) {
            return;
        }
        if count {
            self.events.push_back(LacEvent::SetupFailed(failure));
        }
        self.clear_current_call(now, token, CdnResult::LossOfCarrier);
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        if let Some(link) = session.link.as_mut() {
            // Let an LCP Terminate-Request out when the link still can.
            if link.phase() != crate::ppp::link::Phase::Dead && send_padt {
                link.close(now, DownReason::AdminClose);
                if let Some(link) = session.link.take() {
                    let mut link = link;
                    self.flush_link_frames(&mut link, token);
                }
            }
        }
        if send_padt {
            self.send_padt(token, None);
        }
        self.forget(now, token);
        self.drain_endpoint(now);
    }

    /// Clears the call a session being set up has placed, if any (CDN
    /// with `result`, RFC 2661 §6.12).
    fn clear_current_call(&mut self, now: Instant, token: u64, result: CdnResult) {
        let Some(Stage::Tunnelling(t)) = self.sessions.get_mut(&token).map(|s| &mut s.stage) else {
            return;
        };
        if let Some((_, handle, _)) = t.current.take() {
            self.calls.remove(&(handle.tunnel_id, handle.session_id));
            self.endpoint
                .close_session(now, handle, ResultCode::cdn(result), None);
        }
    }

    pub(super) fn flush_link_frames(&mut self, link: &mut Link, token: u64) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        match SubscriberAddress::of(&session.first, &self.interface_macs) {
            Some(to) => queue_link_frames(&mut self.frames, &mut self.scratch, link, &to, |_| true),
            None => queue_link_datagrams(
                &mut self.data_out,
                &mut self.fastpath,
                &mut self.scratch,
                link,
                session.slot,
            ),
        }
    }

    pub(super) fn send_padt(&mut self, token: u64, reason: Option<&str>) {
        let Some(first) = self.sessions.get(&token).and_then(Session::pppoe) else {
            return;
        };
        let interface = first.interface;
        let pppoe_session_id = first.session_id;
        if let Some(discovery) = self.discovery.get_mut(interface) {
            let _ = discovery.terminate(pppoe_session_id, reason);
            while let Some(tx) = discovery.poll_transmit(&mut self.scratch) {
                if let Some(bytes) = self.scratch.get(..tx.len) {
                    self.frames.push_back(OutFrame {
                        interface,
                        bytes: bytes.to_vec(),
                    });
                }
            }
            while let Some(event) = discovery.poll_event() {
                self.events.push_back(LacEvent::Pppoe(event));
            }
        }
    }

    /// Ends a session in any state, with everything its end requires.
    pub(super) fn end_session(&mut self, now: Instant, token: u64, end: SessionEnd) {
        let Some(session) = self.sessions.get(&token) else {
            return;
        };
        let call = match &session.stage {
            Stage::Up(SecondLeg::L2tp(call)) => *call,
            Stage::Up(SecondLeg::Local(_)) => return self.end_local_session(now, token, end),
            _ => {
                let failure = match end {
                    SessionEnd::SubscriberRequest => SetupFailure::SubscriberLeft,
                    _ => SetupFailure::Administrative,
                };
                let padt = !matches!(end, SessionEnd::LinkLost | SessionEnd::SubscriberRequest);
                self.abort_setup(now, token, failure, padt);
                return;
            }
        };
        let handle = call.handle;
        let peer = call.peer;
        let l2tp_open = !call.closed;
        let [up, down] = self.direction_counters(session);
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            lns = %peer,
            cause = ?end.terminate_cause(),
            up = up.packets,
            down = down.packets,
            "session down"
        );
        // CDN towards the LNS unless the L2TP side ended it.
        if l2tp_open {
            let result = match end {
                SessionEnd::SubscriberRequest | SessionEnd::LinkLost => {
                    ResultCode::cdn(CdnResult::LossOfCarrier)
                }
                _ => ResultCode::cdn(CdnResult::Administrative),
            };
            self.endpoint.close_session(now, handle, result, None);
        }
        // PADT towards the subscriber unless it sent one or the port is gone.
        if !matches!(end, SessionEnd::SubscriberRequest | SessionEnd::LinkLost) {
            let reason = match end {
                SessionEnd::AdminDisconnect => "disconnected by the operator",
                SessionEnd::SessionTimeout => "session timeout",
                SessionEnd::IdleTimeout => "idle timeout",
                SessionEnd::NasShutdown => "access server shutting down",
                SessionEnd::HostRequest => "the LNS ended the session",
                SessionEnd::TunnelLost => "tunnel to the LNS lost",
                _ => "session ended",
            };
            self.send_padt(token, Some(reason));
        } else if let Some(first) = session.pppoe()
            && let Some(discovery) = self.discovery.get_mut(first.interface)
        {
            // Forget the id without a PADT (the peer's PADT was consumed).
            let _ = discovery.terminate(first.session_id, None);
            while discovery.poll_transmit(&mut self.scratch).is_some() {}
            while let Some(event) = discovery.poll_event() {
                self.events.push_back(LacEvent::Pppoe(event));
            }
        }
        self.account_session(now, token, AcctStatusType::Stop, Some(end));
        self.lac.session_ended(peer);
        self.drain_policy();
        self.events.push_back(LacEvent::SessionEnded { end });
        self.forget(now, token);
        self.drain_endpoint(now);
    }

    /// Removes a session from every table (an incoming call is cleared,
    /// its address and routes given back).
    pub(super) fn forget(&mut self, now: Instant, token: u64) {
        if let Some(session) = self.sessions.remove(&token) {
            if let Some(first) = session.pppoe() {
                let key = pppoe_key(first.interface, first.session_id);
                if self.by_pppoe.get(&key) == Some(&token) {
                    self.by_pppoe.remove(&key);
                }
            }
            self.by_acct_id.remove(&session.acct_session_id);
            if let Some(slot) = session.slot {
                self.fastpath.remove(slot);
            }
            self.forget_incoming(now, &session);
            if let Stage::Tunnelling(t) = &session.stage
                && let Some((_, h, _)) = &t.current
                && self.calls.get(&(h.tunnel_id, h.session_id)) == Some(&token)
            {
                self.calls.remove(&(h.tunnel_id, h.session_id));
            }
        }
    }
}
