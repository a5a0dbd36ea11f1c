//! The LAC core's L2TP half: placing a subscriber's call with the LNSs of
//! its plan in turn (RFC 2661 §7.4.1 ICRQ / ICRP / ICCN with the §4.4.5
//! proxy AVPs), failover on a failed attempt, the hand-over when the call
//! is up, and the endpoint's events (RFC 2661 §6).
//!
//! Events are taken from the endpoint's queue by one loop
//! ([`NodeCore::drain_endpoint`]); an event's handler that gives the
//! endpoint more input only queues more events for that same loop, so a
//! tunnel that takes 10,000 calls down with it is 10,000 turns of a loop,
//! not 10,000 nested calls.

use super::*;

impl NodeCore {
    /// Places the call on the next endpoint of the plan.
    pub(super) fn try_next_endpoint(&mut self, now: Instant, token: u64) {
        loop {
            let Some(session) = self.sessions.get_mut(&token) else {
                return;
            };
            let Stage::Tunnelling(tunnelling) = &mut session.stage else {
                return;
            };
            if tunnelling.deadline <= now {
                self.setup_deadline_passed(now, token);
                return;
            }
            let Some(attempt) = tunnelling.plan.get(tunnelling.next).cloned() else {
                let busy = tunnelling.busy > 0 && tunnelling.failed == 0;
                self.events
                    .push_back(LacEvent::Selection(SelectionOutcome::Exhausted));
                let (failure, message) = if busy {
                    (SetupFailure::LnsBusy, "every LNS is busy")
                } else {
                    (SetupFailure::TunnelFailed, "no LNS available")
                };
                self.fail_setup(now, token, failure, Some(message.into()));
                return;
            };
            tunnelling.next += 1;
            let call = self.call_info(token);
            let Some(session) = self.sessions.get_mut(&token) else {
                return;
            };
            tracing::info!(
                acct_session_id = %session.acct_session_id,
                user = session.user_name.as_deref().unwrap_or(""),
                lns = %attempt.endpoint,
                preference = ?attempt.preference,
                denylisted = attempt.denylisted,
                "placing the call with the LNS"
            );
            let opened = self.endpoint.open_session(
                now,
                OpenSession {
                    peer: attempt.endpoint,
                    secret: attempt.secret.clone(),
                    assignment_id: attempt.assignment_id.clone(),
                    client_auth_id: attempt.client_auth_id.clone(),
                    call,
                    request_id: token,
                },
            );
            match opened {
                Ok(handle) => {
                    if let Some(session) = self.sessions.get_mut(&token) {
                        if let Stage::Tunnelling(t) = &mut session.stage {
                            t.current = Some((attempt.clone(), handle, now));
                        }
                        session.lns = Some(attempt.clone());
                    }
                    // Data of this call may come before the ICCN's
                    // acknowledgement (see handle_datagram).
                    self.calls
                        .insert((handle.tunnel_id, handle.session_id), token);
                    let record =
                        self.tunnels
                            .entry(handle.tunnel_id)
                            .or_insert_with(|| TunnelRecord {
                                peer: attempt.endpoint,
                                connection_id: String::new(),
                                assignment_id: attempt.assignment_id.clone(),
                                opened_at: None,
                                direction: CallDirection::Outgoing,
                                peer_host_name: Vec::new(),
                            });
                    record.peer = attempt.endpoint;
                    let timeout = match self.sessions.get(&token).map(|s| &s.stage) {
                        Some(Stage::Tunnelling(t)) => t.attempt_timeout,
                        _ => Duration::ZERO,
                    };
                    self.arm(now + timeout, token, TimerKind::Attempt);
                    self.drain_endpoint(now);
                    return;
                }
                Err(error) => {
                    // A full call queue says the LNS is busy, not dead: the
                    // next candidate is tried and nobody is denylisted.
                    let busy = error == OpenError::Busy;
                    tracing::warn!(lns = %attempt.endpoint, %error, "cannot place the call");
                    if let Some(Stage::Tunnelling(t)) =
                        self.sessions.get_mut(&token).map(|s| &mut s.stage)
                    {
                        if busy {
                            t.busy += 1;
                        } else {
                            t.failed += 1;
                        }
                    }
                }
            }
        }
    }

    /// No LNS took the call of session `token` within its plan's deadline:
    /// the subscriber is refused.
    pub(super) fn setup_deadline_passed(&mut self, now: Instant, token: u64) {
        if let Some(session) = self.sessions.get(&token) {
            tracing::warn!(
                acct_session_id = %session.acct_session_id,
                "no LNS session within the set-up deadline"
            );
        }
        self.events
            .push_back(LacEvent::Selection(SelectionOutcome::Exhausted));
        self.fail_setup(
            now,
            token,
            SetupFailure::Deadline,
            Some("tunnel set-up timed out".into()),
        );
    }

    /// The current attempt of session `token` has waited
    /// its plan's `attempt_timeout`. If its tunnel is still not up,
    /// the LNS is denylisted and the tunnel closed: every call waiting on
    /// it (this one included) gets its `SessionDown` and moves to its next
    /// candidate, seconds after the SCCRQ instead of after the control
    /// channel's whole retransmission schedule (31 s with the RFC 2661
    /// §5.8 defaults), which no subscriber waits for. A call on a tunnel
    /// that is up waits its turn behind the LNS's window instead: the
    /// set-up deadline bounds that wait.
    pub(super) fn attempt_timed_out(&mut self, now: Instant, token: u64) {
        let Some(Stage::Tunnelling(tunnelling)) = self.sessions.get(&token).map(|s| &s.stage)
        else {
            return;
        };
        let Some((attempt, handle, started)) = &tunnelling.current else {
            return;
        };
        let timeout = tunnelling.attempt_timeout;
        if *started + timeout > now {
            // The timer of an earlier attempt.
            return;
        }
        let state = self.endpoint.tunnel_state(handle.tunnel_id);
        if matches!(state, Some(TunnelState::Established)) {
            return;
        }
        let (endpoint, tunnel_id) = (attempt.endpoint, handle.tunnel_id);
        tracing::warn!(
            lns = %endpoint,
            tunnel_id,
            ?timeout,
            "the LNS did not bring the tunnel up in time; its calls move to their next LNS"
        );
        self.lac.attempt_failed(now, endpoint);
        self.drain_policy();
        let result = ResultCode::stop_ccn(StopCcnResult::GeneralError).with_error(
            crate::wire::l2tp::GeneralError::NoError,
            "control connection setup timed out",
        );
        self.endpoint.close_tunnel(now, tunnel_id, result);
        self.drain_endpoint(now);
    }

    pub(super) fn call_info(&mut self, token: u64) -> CallInfo {
        let serial = self.next_call_serial;
        self.next_call_serial = self.next_call_serial.wrapping_add(1).max(1);
        let Some(session) = self.sessions.get(&token) else {
            return CallInfo::default();
        };
        let rate = session
            .accept
            .as_ref()
            .map(|a| a.rate_limit)
            .unwrap_or_default();
        self.lac.call_info(
            serial,
            Subscriber {
                mac: session.pppoe().map_or(MacAddress::ZERO, |p| p.mac),
                circuit_id: session.circuit_id.as_deref(),
                service_name: &session.service_name,
            },
            (rate.down_bps, rate.up_bps),
            session.proxy.clone().unwrap_or_default(),
        )
    }

    /// Handles the endpoint's events in order, in one loop. Called after
    /// every input to the endpoint; when the loop is already running
    /// further up the stack (an event's handler placed or cleared a call),
    /// it returns at once and the running loop takes the new events.
    pub(super) fn drain_endpoint(&mut self, now: Instant) {
        if self.draining_endpoint {
            return;
        }
        self.draining_endpoint = true;
        self.drain_endpoint_events(now);
        self.draining_endpoint = false;
    }

    fn drain_endpoint_events(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            match &event {
                L2tpEvent::TunnelUp {
                    tunnel_id,
                    peer_tunnel_id,
                    peer,
                    requested_at,
                    at,
                    initiated_locally,
                    peer_host_name,
                } => {
                    self.events.push_back(LacEvent::Phase {
                        phase: LacPhase::Tunnel,
                        took: at.saturating_duration_since(*requested_at),
                    });
                    let record = self.tunnels.entry(*tunnel_id).or_insert(TunnelRecord {
                        peer: *peer,
                        connection_id: String::new(),
                        assignment_id: None,
                        opened_at: None,
                        direction: CallDirection::Outgoing,
                        peer_host_name: Vec::new(),
                    });
                    record.direction = if *initiated_locally {
                        CallDirection::Outgoing
                    } else {
                        CallDirection::Incoming
                    };
                    record.peer_host_name.clone_from(peer_host_name);
                    record.connection_id = format!("{tunnel_id}/{peer_tunnel_id}");
                    record.opened_at = Some(*at);
                    tracing::info!(tunnel_id, peer_tunnel_id, lns = %peer, "tunnel up");
                    self.account_tunnel(*tunnel_id, AcctStatusType::TunnelStart);
                }
                L2tpEvent::TunnelDown {
                    tunnel_id,
                    was_established,
                    peer,
                    cause,
                    result,
                    ..
                } => {
                    tracing::info!(tunnel_id, lns = %peer, ?cause, ?result, "tunnel down");
                    let status = if *was_established {
                        AcctStatusType::TunnelStop
                    } else {
                        AcctStatusType::TunnelReject
                    };
                    self.account_tunnel(*tunnel_id, status);
                    self.tunnels.remove(tunnel_id);
                }
                L2tpEvent::SessionUp {
                    handle,
                    peer_tunnel_id,
                    peer_session_id,
                    peer,
                    request_id,
                    call,
                    requested_at,
                    at,
                } => {
                    let leg = L2tpLeg {
                        direction: if *request_id == 0 {
                            CallDirection::Incoming
                        } else {
                            CallDirection::Outgoing
                        },
                        peer: *peer,
                        handle: *handle,
                        peer_tunnel_id: *peer_tunnel_id,
                        peer_session_id: *peer_session_id,
                        closed: false,
                    };
                    if *request_id == 0 {
                        // An incoming call (the LNS role): tokens start at 1.
                        self.incoming_call_up(now, leg, call);
                        self.events.push_back(LacEvent::L2tp(event));
                        continue;
                    }
                    self.events.push_back(LacEvent::Phase {
                        phase: LacPhase::Session,
                        took: at.saturating_duration_since(*requested_at),
                    });
                    self.session_up(now, *request_id, leg, call.sequencing_required);
                }
                L2tpEvent::SessionDown {
                    handle,
                    request_id,
                    cause,
                    result,
                    ..
                } => {
                    if *request_id == 0 {
                        self.incoming_call_down(now, *handle, *cause);
                    } else {
                        self.l2tp_session_down(now, *request_id, *handle, *cause, result.clone());
                    }
                }
                L2tpEvent::SessionRequest { handle, .. } => self.call_requested(now, *handle),
                _ => {}
            }
            self.events.push_back(LacEvent::L2tp(event));
        }
    }

    /// ICCN sent: the call is the session's second leg (towards the LNS;
    /// `sequencing` when it asked for sequence numbers). Installs both
    /// legs in the fast path, answers the subscriber and drops its link.
    pub(super) fn session_up(&mut self, now: Instant, token: u64, call: L2tpLeg, sequencing: bool) {
        let (peer, handle) = (call.peer, call.handle);
        let Some(session) = self.sessions.get_mut(&token) else {
            // The subscriber left meanwhile: clear the call.
            self.endpoint.close_session(
                now,
                handle,
                ResultCode::cdn(CdnResult::LossOfCarrier),
                None,
            );
            return;
        };
        let Stage::Tunnelling(tunnelling) = &session.stage else {
            return;
        };
        let Some(first) = session.pppoe().copied() else {
            return;
        };
        let local_mac = self
            .interface_macs
            .get(first.interface)
            .copied()
            .unwrap_or(MacAddress::ZERO);
        let second = call.egress(sequencing);
        let room = crate::dataplane::fastpath::headroom(&second);
        let slot = self.fastpath.insert(
            session.first.key(),
            Some(call.key()),
            FastPathEntry::new(
                token,
                first.egress(local_mac),
                second,
                self.config.tcp_mss,
                now,
            ),
        );
        self.by_pppoe
            .remove(&pppoe_key(first.interface, first.session_id));
        self.calls.remove(&(handle.tunnel_id, handle.session_id));
        session.slot = Some(slot);
        let outcome = if tunnelling.failed == 0 && tunnelling.next <= 1 {
            SelectionOutcome::FirstChoice
        } else {
            SelectionOutcome::Failover
        };
        let accept = session.accept.clone().unwrap_or_default();
        let authenticator_response = accept
            .ms_chap2_success
            .as_deref()
            .and_then(parse_ms_chap2_success);
        if session.domain_authorized {
            // The LNS authenticates: it has the proxy authentication AVPs,
            // and gets the subscriber's request itself, in band, right
            // behind the ICCN. Its answer (PAP Ack/Nak, CHAP
            // Success/Failure, Reply-Message and all) reaches the
            // subscriber unchanged through the fast path.
            session.link = None;
            // The request is the subscriber's frame, forwarded late:
            // the fast path wraps it (with the call's Ns when it is
            // sequenced) and counts it.
            if let Some(ppp) = session.auth_frame.take() {
                let mut buf = vec![0u8; room + ppp.len()];
                buf[room..].copy_from_slice(&ppp);
                let first = LegRef {
                    slot,
                    side: Side::First,
                };
                if let Ok(Delivery::Datagram { to, range }) =
                    self.fastpath
                        .forward(now, first, &mut buf, room..room + ppp.len())
                {
                    if let Some(bytes) = buf.get(range) {
                        self.data_out.push_back((to, bytes.to_vec()));
                    }
                }
            }
        }
        session.auth_frame = None;
        if let Some(link) = session.link.as_mut() {
            link.auth_complete(
                now,
                AuthDecision::Accept {
                    message: accept.reply_message.clone(),
                    mschapv2_authenticator_response: authenticator_response,
                },
            );
        }
        // Send only the authentication answer; the NCPs are the LNS's.
        if let Some(mut link) = session.link.take() {
            if let Some(to) = SubscriberAddress::of(&session.first, &self.interface_macs) {
                queue_link_frames(&mut self.frames, &mut self.scratch, &mut link, &to, |p| {
                    matches!(p, Protocol::Pap | Protocol::Chap)
                });
            }
            while let Some(event) = link.poll_event() {
                if let LinkEvent::StepCompleted { .. } = event {
                    self.events.push_back(LacEvent::Ppp(event));
                }
            }
        }
        session.stage = Stage::Up(SecondLeg::L2tp(call));
        session.up_at = Some(now);
        tracing::info!(
            acct_session_id = %session.acct_session_id,
            user = session.user_name.as_deref().unwrap_or(""),
            lns = %peer,
            tunnel_id = handle.tunnel_id,
            session_id = handle.session_id,
            "session up"
        );
        self.lac.session_started(peer);
        self.drain_policy();
        self.events.push_back(LacEvent::Selection(outcome));
        self.apply_authorization(now, token, &accept, false);
        // From here on a session needs only what forwarding, accounting
        // and teardown read (DESIGN.md, memory budget): the proxy AVPs and
        // the rest of the Access-Accept served the set-up; Class is echoed
        // in every accounting record (RFC 2865 §5.25).
        if let Some(session) = self.sessions.get_mut(&token) {
            session.proxy = None;
            session.accept = Some(Box::new(AcceptAttributes {
                class: accept.class,
                ..AcceptAttributes::default()
            }));
        }
        self.account_session(now, token, AcctStatusType::Start, None);
    }

    pub(super) fn l2tp_session_down(
        &mut self,
        now: Instant,
        token: u64,
        handle: SessionHandle,
        cause: SessionDownCause,
        result: Option<ResultCode>,
    ) {
        let Some(session) = self.sessions.get_mut(&token) else {
            return;
        };
        match &mut session.stage {
            Stage::Tunnelling(tunnelling) => {
                let Some((attempt, current, _)) = tunnelling.current.take() else {
                    return;
                };
                if current != handle {
                    tunnelling.current = Some((attempt, current, now));
                    return;
                }
                tunnelling.failed += 1;
                self.calls.remove(&(current.tunnel_id, current.session_id));
                tracing::warn!(
                    acct_session_id = %session.acct_session_id,
                    lns = %attempt.endpoint,
                    ?cause,
                    ?result,
                    "LNS attempt failed; trying the next candidate"
                );
                session.lns = None;
                // One denylisting per failure of the LNS, not one per call
                // it took down with it.
                self.lac.attempt_failed(now, attempt.endpoint);
                self.drain_policy();
                self.try_next_endpoint(now, token);
            }
            Stage::Up(SecondLeg::L2tp(call)) if call.handle == handle => {
                let end = match cause {
                    SessionDownCause::PeerCdn => SessionEnd::HostRequest,
                    SessionDownCause::LocalCdn => return,
                    _ => SessionEnd::TunnelLost,
                };
                // The L2TP side is gone already: no CDN, only the PADT.
                if let Stage::Up(SecondLeg::L2tp(call)) = &mut session.stage {
                    call.closed = true;
                }
                self.end_session(now, token, end);
            }
            _ => {}
        }
    }
}
