//! Virtual-time tests of the LAC core between our subscriber cores (PPPoE
//! client + PPP client link) and our LNS endpoint core. RADIUS decisions
//! are given directly (the FreeRADIUS path is covered by the namespace
//! suite); every byte between the three parties goes through the same
//! `handle_*` / `poll_*` calls the driver makes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::aaa::attributes::{
    RejectCause, Rejection, TunnelCandidate, TunnelEndpoint, TunnelMediumKind,
};
use crate::aaa::dynauth::ErrorCause;
use crate::aaa::request::TerminateCause;
use crate::l2tp::PeerPolicy;
use crate::lac::policy::{AuthorizeName, CallingNumber, LacPolicyConfig};
use crate::lac::select::{Authorize, SelectConfig};
use crate::ppp::link::Credentials as LinkCredentials;
use crate::pppoe::{Client, ClientConfig, ClientEvent};
use crate::wire::l2tp::HeaderRepr as L2tpHeader;

const LAC_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0xac]);
const SUB_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0x01]);
const LAC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1701);
const LNS_A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 1701);
const LNS_B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)), 1701);
const SECRET: &[u8] = b"tunnel-secret";
const STEP: Duration = Duration::from_millis(10);

fn candidate(tag: u8, lns: SocketAddr, preference: u32) -> TunnelCandidate {
    TunnelCandidate {
        tag,
        medium: TunnelMediumKind::Ipv4,
        server_endpoint: TunnelEndpoint::Ip(lns.ip()),
        client_endpoint: None,
        password: Some(SECRET.to_vec()),
        preference: Some(preference),
        assignment_id: Some(format!("group{tag}").into_bytes()),
        client_auth_id: None,
        server_auth_id: None,
        private_group_id: None,
    }
}

fn accept(tunnels: Vec<TunnelCandidate>) -> Decision {
    Decision::Accept(Box::new(AcceptAttributes {
        tunnels,
        class: vec![b"class-1".to_vec()],
        ..AcceptAttributes::default()
    }))
}

/// An Access-Accept naming LNS A, with `attributes` besides.
fn accept_to_a(attributes: AcceptAttributes) -> Decision {
    Decision::Accept(Box::new(AcceptAttributes {
        tunnels: vec![candidate(1, LNS_A, 1)],
        ..attributes
    }))
}

fn lac_config() -> NodeCoreConfig {
    // The `[ppp]` defaults, PAP only and no echoes.
    let link = LinkConfig {
        auth_methods: vec![AuthMethod::Pap],
        echo_interval: None,
        ..LinkConfig::default()
    };
    NodeCoreConfig {
        interfaces: vec![InterfaceConfig {
            name: "access0".into(),
            discovery: DiscoveryConfig::default(),
        }],
        lns_link: link.clone(),
        lns_ipv6: Arc::default(),
        lns: None,
        link,
        endpoint: EndpointConfig {
            accept_calls: false,
            setup_timeout: Duration::from_secs(8),
            ..EndpointConfig::default()
        },
        lac: LacPolicyConfig {
            select: SelectConfig {
                denylist_time: Duration::from_secs(60),
                ..SelectConfig::default()
            },
            realms: Vec::new(),
            setup_deadline: Duration::from_secs(30),
            tunnel_setup_timeout: Duration::from_secs(5),
            authorize: Authorize::User,
            authorize_name: AuthorizeName::Realm,
            authorize_password: Vec::new(),
            calling_number: CallingNumber::Mac,
            connect_speed: 1_000_000_000,
        },
        auth_group: "auth".into(),
        acct_group: "acct".into(),
        interim_interval: Duration::ZERO,
        tunnel_accounting: true,
        tcp_mss: 0,
        local_address: Some(LAC_ADDR.ip()),
        nas_port_id: NasPortIdTemplate::default(),
        workers: 1,
        shard: crate::shard::Shard::WHOLE,
    }
}

/// One subscriber: discovery client + PPP client link.
struct Subscriber {
    pppoe: Client,
    link: Option<Link>,
    session_id: Option<u16>,
    authenticated: bool,
    terminated_by_peer: bool,
    received: Vec<(Protocol, Vec<u8>)>,
    outbox: VecDeque<Vec<u8>>,
}

/// The LNS: our endpoint core in the LNS role, accepting every call.
struct Lns {
    addr: SocketAddr,
    endpoint: Endpoint,
    black_hole: bool,
    calls: Vec<(SessionHandle, CallInfo)>,
    sessions_down: Vec<(SessionHandle, SessionDownCause)>,
    data: Vec<(u16, Vec<u8>)>,
    peer_ids: HashMap<u16, (u16, u16)>,
}

struct World {
    now: Instant,
    lac: NodeCore,
    subscriber: Subscriber,
    lnss: Vec<Lns>,
    decision: Box<dyn FnMut() -> Decision>,
    accounting: Vec<AccountingRecord>,
    /// Every Access-Request the LAC asked for.
    auth_requests: Vec<AuthRequest>,
    events: Vec<LacEvent>,
}

impl World {
    fn new(lnss: &[SocketAddr], decision: impl FnMut() -> Decision + 'static) -> Self {
        let now = Instant::now();
        let lac = NodeCore::new(
            lac_config(),
            vec![LAC_MAC],
            "0000000A-".into(),
            [1; 32],
            now,
        );
        let mut pppoe = Client::new(ClientConfig::default(), SUB_MAC, VlanStack::new(), [2; 32]);
        pppoe.start(now);
        let lnss = lnss
            .iter()
            .enumerate()
            .map(|(i, addr)| Lns {
                addr: *addr,
                endpoint: Endpoint::new(
                    EndpointConfig {
                        accept_calls: true,
                        host_name: format!("lns{i}").into_bytes(),
                        peers: vec![PeerPolicy {
                            network: "192.0.2.0/24".parse().expect("network"),
                            secret: SECRET.to_vec(),
                            host_name: None,
                            max_tunnels: None,
                            hide_avps: None,
                        }],
                        ..EndpointConfig::default()
                    },
                    [10 + i as u8; 32],
                ),
                black_hole: false,
                calls: Vec::new(),
                sessions_down: Vec::new(),
                data: Vec::new(),
                peer_ids: HashMap::new(),
            })
            .collect();
        Self {
            now,
            lac,
            subscriber: Subscriber {
                pppoe,
                link: None,
                session_id: None,
                authenticated: false,
                terminated_by_peer: false,
                received: Vec::new(),
                outbox: VecDeque::new(),
            },
            lnss,
            decision: Box::new(decision),
            accounting: Vec::new(),
            auth_requests: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Moves everything that is ready, then advances the clock by `STEP`.
    fn step(&mut self) {
        let now = self.now;
        let mut buf = vec![0u8; 2048];
        // Subscriber → LAC.
        let mut frames = Vec::new();
        while let Some(tx) = self.subscriber.pppoe.poll_transmit(&mut buf) {
            frames.push(buf[..tx.len].to_vec());
        }
        if let (Some(link), Some(session_id)) =
            (self.subscriber.link.as_mut(), self.subscriber.session_id)
        {
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.handle_timeout(now);
            }
            while let Some(event) = link.poll_event() {
                if event == LinkEvent::Authenticated {
                    self.subscriber.authenticated = true;
                }
            }
            while let Some((protocol, len)) = link.poll_transmit(&mut buf[CONTROL_HEADROOM..]) {
                let frame = encapsulate_control(
                    &mut buf,
                    protocol,
                    len,
                    &EthernetRepr {
                        dst: LAC_MAC,
                        src: SUB_MAC,
                        vlans: VlanStack::new(),
                        ethertype: EtherType::PppoeSession,
                    },
                    session_id,
                );
                frames.extend(frame);
            }
        }
        frames.extend(self.subscriber.outbox.drain(..));
        for mut frame in frames {
            if let Forward::Datagram { to, range } = self.lac.handle_frame(now, 0, &mut frame, None)
            {
                self.deliver_to_lns(to, &frame[range]);
            }
        }
        // LAC → subscriber.
        while let Some((interface, len)) = self.lac.poll_frame(&mut buf) {
            assert_eq!(interface, 0);
            let frame = buf[..len].to_vec();
            self.subscriber_receives(&frame);
        }
        // LAC control → LNSs.
        let mut control = vec![0u8; crate::l2tp::MAX_CONTROL_LEN];
        while let Some((to, len)) = self.lac.poll_datagram(now, &mut control) {
            let datagram = control[..len].to_vec();
            self.deliver_to_lns(to, &datagram);
        }
        // LNSs → LAC.
        let mut replies = Vec::new();
        for lns in &mut self.lnss {
            if lns.endpoint.poll_timeout().is_some_and(|t| t <= now) {
                lns.endpoint.handle_timeout(now);
            }
            while let Some(event) = lns.endpoint.poll_event() {
                match event {
                    L2tpEvent::SessionRequest { handle, .. } => {
                        lns.endpoint.accept_session(now, handle);
                    }
                    L2tpEvent::SessionUp {
                        handle,
                        call,
                        peer_tunnel_id,
                        peer_session_id,
                        ..
                    } => {
                        lns.peer_ids
                            .insert(handle.session_id, (peer_tunnel_id, peer_session_id));
                        lns.calls.push((handle, *call));
                    }
                    L2tpEvent::SessionDown { handle, cause, .. } => {
                        lns.sessions_down.push((handle, cause));
                    }
                    _ => {}
                }
            }
            while let Some((to, len)) = lns.endpoint.poll_transmit(now, &mut control) {
                assert_eq!(to.ip(), LAC_ADDR.ip());
                replies.push((lns.addr, control[..len].to_vec()));
            }
        }
        for (from, datagram) in replies {
            self.lac_receives(from, &datagram);
        }
        // RADIUS and accounting.
        while let Some(command) = self.lac.poll_command() {
            match command {
                Command::Authenticate { token, request, .. } => {
                    self.auth_requests.push(*request);
                    let decision = (self.decision)();
                    self.lac.auth_result(now, token, decision);
                }
                Command::Account { record, .. } => self.accounting.push(*record),
                Command::AddRoute { .. } | Command::RemoveRoute { .. } => {}
            }
        }
        while let Some(event) = self.lac.poll_event() {
            self.events.push(event);
        }
        if self.lac.poll_timeout().is_some_and(|t| t <= now) {
            self.lac.handle_timeout(now);
        }
        if self
            .subscriber
            .pppoe
            .poll_timeout()
            .is_some_and(|t| t <= now)
        {
            self.subscriber.pppoe.handle_timeout(now);
        }
        self.now += STEP;
    }

    fn deliver_to_lns(&mut self, to: SocketAddr, datagram: &[u8]) {
        let now = self.now;
        let Some(lns) = self.lnss.iter_mut().find(|l| l.addr == to) else {
            return;
        };
        if lns.black_hole {
            return;
        }
        if crate::l2tp::is_control(datagram) {
            lns.endpoint.handle_datagram(now, LAC_ADDR, datagram);
        } else {
            let packet = L2tpPacket::new_checked(datagram).expect("data message");
            lns.data
                .push((packet.session_id(), packet.payload().to_vec()));
        }
    }

    fn lac_receives(&mut self, from: SocketAddr, datagram: &[u8]) {
        let mut buf = vec![0u8; DOWNSTREAM_HEADROOM + 64 + datagram.len()];
        let start = DOWNSTREAM_HEADROOM + 64;
        buf[start..].copy_from_slice(datagram);
        let now = self.now;
        if let Forward::Frame { interface, range } =
            self.lac
                .handle_datagram(now, from, &mut buf, start, datagram.len())
        {
            assert_eq!(interface, 0);
            let frame = buf[range].to_vec();
            self.subscriber_receives(&frame);
        }
    }

    fn subscriber_receives(&mut self, frame: &[u8]) {
        let now = self.now;
        let eth = EthernetFrame::new_checked(frame).expect("ethernet");
        assert_eq!(eth.dst(), SUB_MAC);
        assert_eq!(eth.src(), LAC_MAC);
        match eth.ethertype() {
            EtherType::PppoeDiscovery => {
                self.subscriber.pppoe.handle_frame(now, frame);
                while let Some(event) = self.subscriber.pppoe.poll_event() {
                    match event {
                        ClientEvent::Established {
                            session_id,
                            max_payload,
                            ..
                        } => {
                            self.subscriber.session_id = Some(session_id);
                            let mut config = LinkConfig::client(LinkCredentials {
                                user: b"alice@isp.example".to_vec(),
                                password: b"pw".to_vec(),
                            });
                            config.echo_interval = None;
                            config.lower_max_payload = max_payload;
                            let mut link = Link::new(config, [3; 32]);
                            link.open(now);
                            self.subscriber.link = Some(link);
                        }
                        ClientEvent::Terminated { by_peer, .. } => {
                            self.subscriber.terminated_by_peer |= by_peer;
                        }
                        _ => {}
                    }
                }
            }
            EtherType::PppoeSession => {
                let session = SessionPacket::new_checked(eth.payload()).expect("pppoe");
                let ppp = crate::wire::ppp::Frame::new_checked(session.payload()).expect("ppp");
                self.subscriber
                    .received
                    .push((ppp.protocol(), ppp.payload().to_vec()));
                if let Some(link) = self.subscriber.link.as_mut() {
                    if matches!(
                        ppp.protocol(),
                        Protocol::Lcp | Protocol::Pap | Protocol::Chap
                    ) {
                        link.handle_frame(now, ppp.protocol(), ppp.payload());
                    }
                }
            }
            other => panic!("unexpected EtherType {other:?}"),
        }
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            self.step();
            if done(self) {
                return true;
            }
        }
        false
    }

    fn up(&self) -> bool {
        self.lac
            .state_counts()
            .iter()
            .any(|(s, n)| *s == SessionState::Up && *n == 1)
    }

    /// A PPPoE session frame from the subscriber with `ppp` (protocol
    /// field first).
    fn subscriber_sends(&mut self, ppp: &[u8]) {
        let session_id = self.subscriber.session_id.expect("session");
        let mut buf = vec![0u8; 64 + ppp.len()];
        buf[64..].copy_from_slice(ppp);
        let start = encapsulate_session_in_place(
            &mut buf,
            64,
            ppp.len(),
            &EthernetRepr {
                dst: LAC_MAC,
                src: SUB_MAC,
                vlans: VlanStack::new(),
                ethertype: EtherType::PppoeSession,
            },
            session_id,
        )
        .expect("encapsulate");
        self.subscriber.outbox.push_back(buf[start..].to_vec());
    }

    /// A data message from LNS `index` down its first session.
    fn lns_sends(&mut self, index: usize, payload: &[u8]) {
        let lns = &self.lnss[index];
        let (handle, _) = lns.calls[0];
        let (peer_tunnel, peer_session) = lns.peer_ids[&handle.session_id];
        let mut datagram = vec![0u8; 6 + payload.len()];
        datagram[6..].copy_from_slice(payload);
        let start = L2tpHeader::data(peer_tunnel, peer_session)
            .emit_before(&mut datagram, 6, payload.len())
            .expect("header");
        assert_eq!(start, 0);
        let from = lns.addr;
        self.lac_receives(from, &datagram);
    }

    /// The session's Stop record, which must carry `cause`.
    fn stopped_with(&self, cause: TerminateCause) -> &AccountingRecord {
        let stop = self.stop_record().expect("Stop record");
        assert_eq!(stop.terminate_cause, Some(cause.into()), "{stop:?}");
        stop
    }

    fn stop_record(&self) -> Option<&AccountingRecord> {
        self.accounting
            .iter()
            .find(|r| r.status == u32::from(AcctStatusType::Stop))
    }
}

fn bring_up(world: &mut World) {
    assert!(
        world.run_until(Duration::from_secs(20), |w| w.up()
            && w.subscriber.authenticated),
        "session up: {:?}",
        world.events
    );
}

#[test]
fn session_comes_up_with_proxy_avps_and_forwards_both_ways() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);

    // ICCN carried the proxy LCP and PAP proxy authentication.
    let (_, call) = &world.lnss[0].calls[0];
    assert_eq!(
        call.calling_number.as_deref(),
        Some(&b"02:00:00:00:00:01"[..])
    );
    assert!(call.proxy.last_sent_lcp_confreq.is_some(), "{call:?}");
    assert!(call.proxy.last_received_lcp_confreq.is_some(), "{call:?}");
    assert_eq!(call.proxy.authen_type, Some(ProxyAuthenType::Pap));
    assert_eq!(
        call.proxy.authen_name.as_deref(),
        Some(&b"alice@isp.example"[..])
    );
    assert_eq!(call.proxy.authen_response.as_deref(), Some(&b"pw"[..]));

    // The LAC answered the PAP request only after the call was up, and ran
    // no NCP of its own.
    assert!(
        !world
            .subscriber
            .received
            .iter()
            .any(|(p, _)| matches!(p, Protocol::Ipcp | Protocol::Ipv6cp)),
        "the LAC must not negotiate NCPs"
    );

    // Upstream: byte-exact with FF 03 in front.
    let ip = [0x00, 0x21, 0x45, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // (The subscriber's own IPCP requests are forwarded too: the LNS
    // answers them.)
    assert!(
        world.lnss[0]
            .data
            .iter()
            .all(|(_, p)| p.starts_with(&[0xff, 0x03, 0x80])),
        "only NCP frames so far"
    );
    let before = world.lac.totals().upstream.packets;
    world.subscriber_sends(&ip);
    world.step();
    let mut with_ac = vec![0xff, 0x03];
    with_ac.extend_from_slice(&ip);
    assert!(
        world.lnss[0].data.iter().any(|(_, p)| *p == with_ac),
        "the frame arrived byte-exact with FF 03"
    );
    assert_eq!(world.lac.totals().upstream.packets, before + 1);

    // Downstream: with and without FF 03.
    let down = [0x00, 0x21, 0x45, 0, 0, 20, 9, 9, 9, 9];
    let mut with_ac = vec![0xff, 0x03];
    with_ac.extend_from_slice(&down);
    world.lns_sends(0, &with_ac);
    world.lns_sends(0, &down);
    let ipv4: Vec<_> = world
        .subscriber
        .received
        .iter()
        .filter(|(p, _)| *p == Protocol::Ipv4)
        .collect();
    assert_eq!(ipv4.len(), 2);
    assert!(ipv4.iter().all(|(_, payload)| payload[..] == down[2..]));

    assert_eq!(world.lac.totals().downstream.packets, 2);
    let start = world
        .accounting
        .iter()
        .find(|r| r.status == u32::from(AcctStatusType::Start))
        .expect("Accounting-Start");
    assert_eq!(start.user_name.as_deref(), Some("alice@isp.example"));
    assert_eq!(start.class, vec![b"class-1".to_vec()]);
    let tunnel = start.tunnel.as_ref().expect("RFC 2867 attributes");
    assert_eq!(tunnel.server_endpoint, Some(LNS_A.ip()));
    assert_eq!(tunnel.assignment_id.as_deref(), Some("group1"));
    assert!(
        world
            .accounting
            .iter()
            .any(|r| r.status == u32::from(AcctStatusType::TunnelStart))
    );
    assert!(
        world
            .events
            .contains(&LacEvent::Selection(SelectionOutcome::FirstChoice))
    );
}

#[test]
fn padt_from_subscriber_sends_cdn_and_stop_user_request() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    world.subscriber.pppoe.terminate(None);
    assert!(world.run_until(Duration::from_secs(5), |w| {
        !w.lnss[0].sessions_down.is_empty()
    }));
    assert_eq!(world.lnss[0].sessions_down[0].1, SessionDownCause::PeerCdn);
    world.stopped_with(TerminateCause::UserRequest);
    assert_eq!(world.lac.session_count(), 0);
}

#[test]
fn cdn_from_lns_sends_padt_and_stop_host_request() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let (handle, _) = world.lnss[0].calls[0];
    let now = world.now;
    world.lnss[0].endpoint.close_session(
        now,
        handle,
        ResultCode::cdn(CdnResult::Administrative),
        None,
    );
    assert!(world.run_until(Duration::from_secs(5), |w| w.subscriber.terminated_by_peer));
    world.stopped_with(TerminateCause::HostRequest);
}

#[test]
fn stopccn_from_lns_ends_sessions_with_lost_service() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let (handle, _) = world.lnss[0].calls[0];
    let now = world.now;
    world.lnss[0].endpoint.close_tunnel(
        now,
        handle.tunnel_id,
        ResultCode::stop_ccn(StopCcnResult::GeneralRequestToClear),
    );
    assert!(world.run_until(Duration::from_secs(5), |w| w.subscriber.terminated_by_peer));
    world.stopped_with(TerminateCause::LostService);
}

#[test]
fn session_timeout_sends_cdn_padt_and_stop() {
    let mut world = World::new(&[LNS_A], || {
        accept_to_a(AcceptAttributes {
            session_timeout: Some(5),
            ..AcceptAttributes::default()
        })
    });
    bring_up(&mut world);
    assert!(world.run_until(Duration::from_secs(8), |w| w.subscriber.terminated_by_peer));
    assert_eq!(world.lnss[0].sessions_down[0].1, SessionDownCause::PeerCdn);
    let stop = world.stopped_with(TerminateCause::SessionTimeout);
    assert!(stop.session_time.is_some_and(|t| (4..=6).contains(&t)));
}

#[test]
fn unreachable_preferred_lns_fails_over_and_is_denylisted() {
    let mut world = World::new(&[LNS_A, LNS_B], || {
        accept(vec![candidate(1, LNS_A, 1), candidate(2, LNS_B, 2)])
    });
    world.lnss[0].black_hole = true;
    assert!(
        world.run_until(Duration::from_secs(30), |w| w.up()
            && w.subscriber.authenticated),
        "{:?}",
        world.events
    );
    assert!(
        world.lnss[1].calls.len() == 1,
        "the second preference took the call"
    );
    let denylisted = world.lac.denylist(world.now);
    assert_eq!(denylisted.len(), 1);
    assert_eq!(denylisted[0].0, LNS_A);
    assert!(
        world
            .events
            .contains(&LacEvent::Selection(SelectionOutcome::Failover))
    );
    let view = &world.lac.sessions(world.now)[0];
    assert_eq!(view.lns.as_deref(), Some("192.0.2.11:1701"));
    assert_eq!(view.state, "up");
}

#[test]
fn reject_fails_authentication_and_sends_padt() {
    let mut world = World::new(&[LNS_A], || {
        Decision::Reject(Rejection {
            cause: RejectCause::AccessReject,
            reply_message: Some("no".into()),
            ms_chap_error: None,
        })
    });
    assert!(world.run_until(Duration::from_secs(10), |w| w.subscriber.terminated_by_peer));
    assert!(
        world
            .events
            .contains(&LacEvent::SetupFailed(SetupFailure::RadiusReject))
    );
    assert!(world.lnss[0].calls.is_empty());
    assert!(
        world
            .accounting
            .iter()
            .all(|r| r.status != u32::from(AcctStatusType::Start))
    );
    assert_eq!(world.lac.session_count(), 0);
}

#[test]
fn no_tunnel_and_no_realm_refuses_the_subscriber() {
    let mut world = World::new(&[LNS_A], || accept(Vec::new()));
    assert!(world.run_until(Duration::from_secs(10), |w| w.subscriber.terminated_by_peer));
    assert!(
        world
            .events
            .contains(&LacEvent::Selection(SelectionOutcome::NoCandidate))
    );
    assert!(!world.subscriber.authenticated);
}

#[test]
fn disconnect_request_ends_the_session_with_admin_reset() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let request = DynAuthRequest {
        kind: DynAuthKind::Disconnect,
        selector: crate::aaa::dynauth::SessionSelector {
            user_name: Some("alice@isp.example".into()),
            ..Default::default()
        },
        changes: AcceptAttributes::default(),
    };
    let now = world.now;
    assert_eq!(world.lac.dynauth(now, &request), DynAuthResult::Ack);
    assert!(
        world.run_until(Duration::from_secs(5), |w| w.subscriber.terminated_by_peer
            && !w.lnss[0].sessions_down.is_empty())
    );
    world.stopped_with(TerminateCause::AdminReset);
    assert_eq!(
        world.lac.dynauth(now, &request),
        DynAuthResult::Nak(ErrorCause::SessionContextNotFound)
    );
}

#[test]
fn malformed_frames_and_datagrams_are_counted_drops() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let now = world.now;
    for len in 0..40 {
        let mut frame = vec![0x88u8; len];
        let _ = world.lac.handle_frame(now, 0, &mut frame, None);
        let mut buf = vec![0u8; DOWNSTREAM_HEADROOM + len];
        let _ = world
            .lac
            .handle_datagram(now, LNS_A, &mut buf, DOWNSTREAM_HEADROOM, len);
    }
    // A data message for an unknown session.
    let mut buf = vec![0u8; DOWNSTREAM_HEADROOM + 10];
    let start = L2tpHeader::data(999, 999)
        .emit_before(&mut buf, DOWNSTREAM_HEADROOM + 6, 4)
        .expect("header");
    assert_eq!(
        world.lac.handle_datagram(now, LNS_A, &mut buf, start, 10),
        Forward::Dropped(FastPathDrop::UnknownSession)
    );
    assert!(world.lac.totals().dropped > 0);
    assert!(world.up(), "the session survived");
}

#[test]
fn ms_chap2_success_is_parsed() {
    let mut value = vec![7u8];
    value.extend_from_slice(b"S=");
    value.extend_from_slice(b"407A5589115FD0D6209F510FE9C04566932CDA56");
    let parsed = parse_ms_chap2_success(&value).expect("parsed");
    assert_eq!(parsed[0], 0x40);
    assert_eq!(parsed[19], 0x56);
    assert!(parse_ms_chap2_success(b"\x07S=12").is_none());
    assert!(parse_ms_chap2_success(b"").is_none());
}

#[test]
fn interim_updates_follow_acct_interim_interval() {
    let mut world = World::new(&[LNS_A], || {
        accept_to_a(AcceptAttributes {
            acct_interim_interval: Some(60),
            ..AcceptAttributes::default()
        })
    });
    bring_up(&mut world);
    let interims = |w: &World| {
        w.accounting
            .iter()
            .filter(|r| r.status == u32::from(AcctStatusType::InterimUpdate))
            .count()
    };
    assert!(world.run_until(Duration::from_secs(125), |w| interims(w) == 2));
    let interim = world
        .accounting
        .iter()
        .find(|r| r.status == u32::from(AcctStatusType::InterimUpdate))
        .expect("interim");
    assert!(interim.counters.is_some());
    assert!(interim.session_time.is_some_and(|t| (59..=61).contains(&t)));
}

#[test]
fn idle_timeout_counts_subscriber_traffic() {
    let mut world = World::new(&[LNS_A], || {
        accept_to_a(AcceptAttributes {
            idle_timeout: Some(10),
            ..AcceptAttributes::default()
        })
    });
    bring_up(&mut world);
    // Traffic every 4 s keeps it alive for 20 s.
    for _ in 0..5 {
        world.subscriber_sends(&[0x00, 0x21, 0x45, 0, 0, 20]);
        world.run_until(Duration::from_secs(4), |_| false);
        assert!(world.up(), "still up while the subscriber sends");
    }
    assert!(world.run_until(Duration::from_secs(12), |w| w.subscriber.terminated_by_peer));
    world.stopped_with(TerminateCause::IdleTimeout);
}

#[test]
fn coa_rate_limit_polices_the_session() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let request = DynAuthRequest {
        kind: DynAuthKind::Coa,
        selector: crate::aaa::dynauth::SessionSelector {
            user_name: Some("alice@isp.example".into()),
            ..Default::default()
        },
        changes: AcceptAttributes {
            rate_limit: RateLimit {
                up_bps: Some(8_000),
                down_bps: Some(8_000),
                burst_up_bytes: Some(1_000),
                burst_down_bytes: Some(1_000),
            },
            ..AcceptAttributes::default()
        },
    };
    let now = world.now;
    assert_eq!(world.lac.dynauth(now, &request), DynAuthResult::Ack);
    // 10 frames of 502 octets at once: the 1000-octet burst admits 1-2.
    let frame = vec![0u8; 502];
    let mut ppp = vec![0x00, 0x21];
    ppp.extend_from_slice(&frame[2..]);
    let before = world.lac.totals().upstream.packets;
    for _ in 0..10 {
        world.subscriber_sends(&ppp);
    }
    world.step();
    let passed = world.lac.totals().upstream.packets - before;
    assert!((1..=2).contains(&passed), "passed {passed}");
    assert!(world.lac.totals().policed >= 8);
    assert!(world.up(), "policing drops frames, not the session");
}

#[test]
fn interface_down_ends_sessions_with_lost_carrier_and_cdn() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let now = world.now;
    world.lac.interface_down(now, 0);
    assert!(world.run_until(Duration::from_secs(5), |w| {
        !w.lnss[0].sessions_down.is_empty()
    }));
    assert!(
        !world.subscriber.terminated_by_peer,
        "no PADT on a dead port"
    );
    world.stopped_with(TerminateCause::LostCarrier);
}

#[test]
fn shutdown_ends_sessions_with_nas_reboot_and_clears_tunnels() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let now = world.now;
    world.lac.shutdown(now);
    world.lac.account_nas(false);
    assert!(world.run_until(Duration::from_secs(5), |w| w.subscriber.terminated_by_peer));
    let stop = world.stop_record().expect("Stop");
    assert_eq!(stop.terminate_cause, Some(TerminateCause::NasReboot.into()));
    assert_eq!(
        world.accounting.last().map(|r| r.status),
        Some(u32::from(AcctStatusType::AccountingOff))
    );
    assert!(world.run_until(Duration::from_secs(40), |w| w.lac.is_idle()));
}

#[test]
fn frames_of_unknown_sessions_get_a_rate_limited_padt() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    let now = world.now;
    let mut sent = 0;
    for _ in 0..150 {
        let mut buf = vec![0u8; 64 + 4];
        buf[64..].copy_from_slice(&[0xc0, 0x21, 0x09, 0x01]);
        let start = encapsulate_session_in_place(
            &mut buf,
            64,
            4,
            &EthernetRepr {
                dst: LAC_MAC,
                src: SUB_MAC,
                vlans: VlanStack::new(),
                ethertype: EtherType::PppoeSession,
            },
            0x1234,
        )
        .expect("frame");
        let mut frame = buf[start..].to_vec();
        assert_eq!(
            world.lac.handle_frame(now, 0, &mut frame, None),
            Forward::Dropped(FastPathDrop::UnknownSession)
        );
        let mut out = vec![0u8; 2048];
        while let Some((_, len)) = world.lac.poll_frame(&mut out) {
            let eth = EthernetFrame::new_checked(&out[..len]).expect("ethernet");
            assert_eq!(eth.dst(), SUB_MAC);
            assert_eq!(eth.ethertype(), EtherType::PppoeDiscovery);
            let padt = crate::wire::pppoe::DiscoveryRepr::parse_bytes(eth.payload()).expect("PADT");
            assert_eq!(padt.code, crate::wire::pppoe::Code::Padt);
            assert_eq!(padt.session_id, 0x1234);
            sent += 1;
        }
    }
    assert_eq!(sent, STALE_PADT_PER_SECOND);
}

#[test]
fn the_lns_turns_data_sequencing_on_and_off() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    bring_up(&mut world);
    let ip = [0x00, 0x21, 0x45, 0, 0, 20, 1, 2];
    // Whether our next upstream data message carries Ns.
    let upstream_sequenced = |world: &mut World| {
        let session_id = world.subscriber.session_id.expect("session");
        let mut buf = vec![0u8; 64 + ip.len()];
        buf[64..].copy_from_slice(&ip);
        let start = encapsulate_session_in_place(
            &mut buf,
            64,
            ip.len(),
            &EthernetRepr {
                dst: LAC_MAC,
                src: SUB_MAC,
                vlans: VlanStack::new(),
                ethertype: EtherType::PppoeSession,
            },
            session_id,
        )
        .expect("frame");
        let mut frame = buf[start..].to_vec();
        let now = world.now;
        let Forward::Datagram { range, .. } = world.lac.handle_frame(now, 0, &mut frame, None)
        else {
            panic!("not forwarded");
        };
        L2tpPacket::new_checked(&frame[range]).expect("L2TP").ns()
    };
    assert_eq!(upstream_sequenced(&mut world), None);
    // A sequenced data message from the LNS (Ns 7) turns it on.
    let (handle, _) = world.lnss[0].calls[0];
    let (peer_tunnel, peer_session) = world.lnss[0].peer_ids[&handle.session_id];
    let payload = [0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20];
    let mut datagram = vec![0u8; 10 + payload.len()];
    datagram[10..].copy_from_slice(&payload);
    let start = L2tpHeader::data(peer_tunnel, peer_session)
        .with_ns(7)
        .emit_before(&mut datagram, 10, payload.len())
        .expect("header");
    world.lac_receives(LNS_A, &datagram[start..]);
    assert_eq!(upstream_sequenced(&mut world), Some(0));
    assert_eq!(upstream_sequenced(&mut world), Some(1));
    // An unsequenced one turns it off again.
    world.lns_sends(0, &payload);
    assert_eq!(upstream_sequenced(&mut world), None);
}

/// `[lac] authorize = "domain"`: RADIUS is asked about the realm with the
/// configured password; the subscriber's own credentials reach the LNS in
/// the proxy authentication AVPs and, right behind the ICCN, in band; the
/// LAC answers nothing, and the LNS's answer reaches the subscriber
/// unchanged.
#[test]
fn domain_authorization_lets_the_lns_authenticate_the_subscriber() {
    let mut world = World::new(&[LNS_A], || accept(vec![candidate(1, LNS_A, 1)]));
    let mut config = lac_config();
    config.lac.authorize = Authorize::Domain;
    config.lac.authorize_password = b"domain-pw".to_vec();
    world.lac = NodeCore::new(
        config,
        vec![LAC_MAC],
        "0000000A-".into(),
        [1; 32],
        world.now,
    );
    assert!(
        world.run_until(Duration::from_secs(20), |w| w.up()),
        "{:?}",
        world.events
    );
    let request = &world.auth_requests[0];
    assert_eq!(world.auth_requests.len(), 1);
    assert_eq!(request.user_name, "isp.example");
    assert!(
        matches!(&request.credentials, Credentials::Pap { password } if password == b"domain-pw")
    );
    let (_, call) = &world.lnss[0].calls[0];
    assert_eq!(
        call.proxy.authen_name.as_deref(),
        Some(&b"alice@isp.example"[..])
    );
    assert_eq!(call.proxy.authen_response.as_deref(), Some(&b"pw"[..]));
    // The subscriber's PAP Authenticate-Request went to the LNS in band;
    // the LAC sent no answer of its own.
    world.run_until(Duration::from_millis(200), |_| false);
    let replayed = world.lnss[0]
        .data
        .iter()
        .find(|(_, payload)| payload.starts_with(&[0xff, 0x03, 0xc0, 0x23, 1]))
        .map(|(_, payload)| payload.clone())
        .expect("the PAP request reached the LNS");
    assert!(!world.subscriber.authenticated);
    assert!(
        !world
            .subscriber
            .received
            .iter()
            .any(|(protocol, _)| *protocol == Protocol::Pap)
    );
    // The LNS's Authenticate-Ack, with its message, reaches the subscriber.
    let id = replayed[5];
    let message = b"welcome, from the LNS";
    let mut ack = vec![0xc0, 0x23, 2, id, 0, 0, message.len() as u8];
    ack.extend_from_slice(message);
    let len = (ack.len() - 2) as u16;
    ack[4..6].copy_from_slice(&len.to_be_bytes());
    world.lns_sends(0, &ack);
    world.run_until(Duration::from_millis(100), |_| false);
    let (_, answer) = world
        .subscriber
        .received
        .iter()
        .find(|(protocol, _)| *protocol == Protocol::Pap)
        .expect("the LNS's answer");
    assert_eq!(answer[..], ack[2..]);
    assert!(world.subscriber.authenticated);
    // Accounting names the subscriber, not the domain.
    let start = world
        .accounting
        .iter()
        .find(|r| r.status == u32::from(AcctStatusType::Start))
        .expect("Start");
    assert_eq!(start.user_name.as_deref(), Some("alice@isp.example"));
}
