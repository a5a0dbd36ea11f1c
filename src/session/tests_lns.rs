//! Virtual-time tests of the LNS role on the node core (issue 13): a LAC
//! node core and an LNS node core, with subscribers in front of the LAC.
//!
//! Every byte between the parties goes through the calls the drivers
//! make: subscriber frames into the LAC's `handle_frame`, the LAC's
//! `poll_datagram` and fast-path output into the LNS's `handle_datagram`
//! and back, the LNS's `Forward::Tun` is "the kernel" (recorded), and IP
//! from the kernel enters with `handle_ip`. RADIUS is a closure per core
//! that checks the credentials against a password (PAP, CHAP-MD5 and
//! MS-CHAPv2 verified for real) and answers with given attributes.
//! Time is virtual (steps of [`STEP`]), every seed fixed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::aaa::attributes::{
    RejectCause, Rejection, TunnelCandidate, TunnelEndpoint, TunnelMediumKind,
};
use crate::aaa::request::TerminateCause;
use crate::l2tp::PeerPolicy;
use crate::lac::policy::{AuthorizeName, CallingNumber};
use crate::lac::select::{Authorize, SelectConfig};
use crate::lns::policy::{LnsPolicyConfig, PeerRule, ProxyAuth, ProxyLcp};
use crate::lns::pool::PoolConfig;
use crate::observe::lns::{LnsEvent, LnsRefusal, ProxyAuthOutcome, ProxyLcpOutcome};
use crate::ppp::auth::crypto::{verify_chap_md5, verify_mschapv2};
use crate::ppp::link::Credentials as LinkCredentials;
use crate::ppp::ncp::IpcpConfig;
use crate::pppoe::{Client, ClientConfig, ClientEvent};

mod limits;
mod proxy;
mod services;
mod teardown;
mod traffic;

const LAC_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0xac]);
const LAC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1701);
const LNS_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 1701);
const SECRET: &[u8] = b"tunnel-secret";
const STEP: Duration = Duration::from_millis(10);
/// The LNS's own address on every PPP link.
const LNS_LOCAL: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 1);
const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 53);
/// A host on the far side of the LNS ("the Internet").
const REMOTE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);
const PASSWORD: &[u8] = b"pw";

/// A route command of the LNS core.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RouteChange {
    Add(ipnet::IpNet),
    Remove(ipnet::IpNet),
}

/// How the two cores are configured.
struct Setup {
    /// Methods the LAC offers its subscribers.
    lac_methods: Vec<AuthMethod>,
    /// The LNS's one `[[lns.peer]]` rule (covering the LAC).
    rule: PeerRule,
    /// `[[lns.pool]]`; `residential` is the default pool.
    pools: Vec<PoolConfig>,
    /// The LNS's server link.
    lns_link: LinkConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            lac_methods: vec![AuthMethod::Pap],
            rule: PeerRule {
                name: "lacs".into(),
                ..PeerRule::default()
            },
            pools: vec![pool("10.64.0.0/24")],
            lns_link: lns_link(),
        }
    }
}

/// The `residential` pool with one network.
fn pool(network: &str) -> PoolConfig {
    PoolConfig {
        name: "residential".into(),
        networks: vec![network.parse().expect("network")],
    }
}

/// The LNS's server link as `node::convert::lns_link_config` builds it:
/// compression accepted, our IPCP address and DNS; no echoes (quiet).
fn lns_link() -> LinkConfig {
    LinkConfig {
        accept_compression: true,
        auth_methods: vec![AuthMethod::Pap, AuthMethod::ChapMd5, AuthMethod::MsChapV2],
        echo_interval: None,
        ipcp: IpcpConfig {
            local: Some(LNS_LOCAL),
            primary_dns: Some(DNS),
            ..IpcpConfig::default()
        },
        ..LinkConfig::default()
    }
}

fn lac_policy() -> LacPolicyConfig {
    LacPolicyConfig {
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
    }
}

/// The LAC as `session::tests` configures it, offering `methods`.
fn lac_config(methods: &[AuthMethod]) -> NodeCoreConfig {
    let link = LinkConfig {
        auth_methods: methods.to_vec(),
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
        lac: lac_policy(),
        auth_group: "lac-auth".into(),
        acct_group: "lac-acct".into(),
        interim_interval: Duration::ZERO,
        tunnel_accounting: true,
        tcp_mss: 0,
        local_address: Some(LAC_ADDR.ip()),
        nas_port_id: NasPortIdTemplate::default(),
        workers: 1,
        shard: Shard::WHOLE,
    }
}

/// The LNS: no access interface, calls accepted from the LAC's network.
fn lns_config(setup: &Setup) -> NodeCoreConfig {
    NodeCoreConfig {
        interfaces: Vec::new(),
        link: LinkConfig {
            echo_interval: None,
            ..LinkConfig::default()
        },
        endpoint: EndpointConfig {
            accept_calls: true,
            host_name: b"lns".to_vec(),
            peers: vec![PeerPolicy {
                network: "192.0.2.0/24".parse().expect("network"),
                secret: SECRET.to_vec(),
                host_name: None,
                max_tunnels: None,
                hide_avps: None,
            }],
            ..EndpointConfig::default()
        },
        lac: lac_policy(),
        lns: Some(LnsPolicyConfig {
            rules: vec![setup.rule.clone()],
            default_pool: Some("residential".into()),
            local_address: LNS_LOCAL,
            dns: vec![DNS],
            pools: setup.pools.clone(),
            ipv6_pools: Vec::new(),
            auth_group: "lns-auth".into(),
            acct_group: "lns-acct".into(),
        }),
        lns_link: setup.lns_link.clone(),
        lns_ipv6: Arc::default(),
        auth_group: "lns-auth".into(),
        acct_group: "lns-acct".into(),
        interim_interval: Duration::ZERO,
        tunnel_accounting: true,
        tcp_mss: 0,
        local_address: Some(LNS_ADDR.ip()),
        nas_port_id: NasPortIdTemplate::default(),
        workers: 1,
        shard: Shard::WHOLE,
    }
}

/// The RFC 2868 tunnel group naming the LNS.
fn candidate() -> TunnelCandidate {
    TunnelCandidate {
        tag: 1,
        medium: TunnelMediumKind::Ipv4,
        server_endpoint: TunnelEndpoint::Ip(LNS_ADDR.ip()),
        client_endpoint: None,
        password: Some(SECRET.to_vec()),
        preference: Some(1),
        assignment_id: Some(b"lns-group".to_vec()),
        client_auth_id: None,
        server_auth_id: None,
        private_group_id: None,
    }
}

/// The LAC's Access-Accept: the tunnel to the LNS.
fn to_the_lns() -> AcceptAttributes {
    AcceptAttributes {
        tunnels: vec![candidate()],
        ..AcceptAttributes::default()
    }
}

type Radius = Box<dyn FnMut(&AuthRequest) -> Decision>;

/// A RADIUS server that knows one password: PAP, CHAP-MD5 and MS-CHAPv2
/// credentials are verified (MS-CHAP2-Success computed, RFC 2759 §8.7);
/// valid ones get `attributes`, others an Access-Reject.
fn radius(password: &'static [u8], attributes: AcceptAttributes) -> Radius {
    Box::new(move |request: &AuthRequest| {
        let user = request.user_name.as_bytes();
        let verdict = match &request.credentials {
            Credentials::Pap { password: given } => (given == password).then_some(None),
            Credentials::Chap {
                id,
                challenge,
                response,
            } => verify_chap_md5(*id, password, challenge, response).then_some(None),
            Credentials::MsChapV2 {
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                ..
            } => verify_mschapv2(
                user,
                password,
                authenticator_challenge,
                peer_challenge,
                nt_response,
            )
            .map(|response| {
                let mut value = vec![*id];
                value.extend_from_slice(format!("S={}", hex::encode_upper(response)).as_bytes());
                Some(value)
            }),
        };
        match verdict {
            Some(ms_chap2_success) => Decision::Accept(Box::new(AcceptAttributes {
                ms_chap2_success,
                ..attributes.clone()
            })),
            None => Decision::Reject(Rejection {
                cause: RejectCause::AccessReject,
                reply_message: Some("wrong password".into()),
                ms_chap_error: None,
            }),
        }
    })
}

/// An IPv4 packet (UDP protocol number, header checksum set).
fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let len = 20 + payload.len();
    let mut packet = vec![0u8; len];
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&u16::try_from(len).expect("short").to_be_bytes());
    packet[8] = 64;
    packet[9] = 17;
    packet[12..16].copy_from_slice(&src.octets());
    packet[16..20].copy_from_slice(&dst.octets());
    let sum = packet[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    let checksum = !u16::try_from(folded).expect("folded");
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    packet[20..].copy_from_slice(payload);
    packet
}

/// One subscriber: PPPoE discovery client + PPP client link.
struct Sub {
    mac: MacAddress,
    user: Vec<u8>,
    password: Vec<u8>,
    /// Methods the client accepts.
    methods: Vec<AuthMethod>,
    /// The MRU it asks for.
    mru: u16,
    seed: u8,
    pppoe: Client,
    link: Option<Link>,
    session_id: Option<u16>,
    /// `LinkEvent::Authenticated` seen (a renegotiated LCP counts again).
    authenticated: u32,
    /// The address IPCP gave it.
    address: Option<Ipv4Addr>,
    terminated_by_peer: bool,
    link_events: Vec<LinkEvent>,
    /// Every PPP frame it received (protocol, information field).
    received: Vec<(Protocol, Vec<u8>)>,
    outbox: VecDeque<Vec<u8>>,
}

impl Sub {
    fn ethernet(&self) -> EthernetRepr {
        EthernetRepr {
            dst: LAC_MAC,
            src: self.mac,
            vlans: VlanStack::new(),
            ethertype: EtherType::PppoeSession,
        }
    }

    /// What the subscriber sends now, as Ethernet frames.
    fn pump(&mut self, now: Instant, buf: &mut [u8], out: &mut Vec<Vec<u8>>) {
        if self.pppoe.poll_timeout().is_some_and(|t| t <= now) {
            self.pppoe.handle_timeout(now);
        }
        self.pppoe_events(now);
        while let Some(tx) = self.pppoe.poll_transmit(buf) {
            out.push(buf[..tx.len].to_vec());
        }
        let ethernet = self.ethernet();
        if let (Some(link), Some(session_id)) = (self.link.as_mut(), self.session_id) {
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.handle_timeout(now);
            }
            while let Some(event) = link.poll_event() {
                match &event {
                    LinkEvent::Authenticated => self.authenticated += 1,
                    LinkEvent::NetworkUp {
                        ipv4: Some(ipv4), ..
                    } => self.address = Some(ipv4.local),
                    _ => {}
                }
                self.link_events.push(event);
            }
            while let Some((protocol, len)) = link.poll_transmit(&mut buf[CONTROL_HEADROOM..]) {
                out.extend(encapsulate_control(
                    buf, protocol, len, &ethernet, session_id,
                ));
            }
        }
        out.extend(self.outbox.drain(..));
    }

    fn pppoe_events(&mut self, now: Instant) {
        while let Some(event) = self.pppoe.poll_event() {
            match event {
                ClientEvent::Established {
                    session_id,
                    max_payload,
                    ..
                } => {
                    self.session_id = Some(session_id);
                    let mut config = LinkConfig::client(LinkCredentials {
                        user: self.user.clone(),
                        password: self.password.clone(),
                    });
                    config.auth_methods = self.methods.clone();
                    config.echo_interval = None;
                    config.mru = self.mru;
                    config.lower_max_payload = max_payload;
                    let mut link = Link::new(config, [self.seed; 32]);
                    link.open(now);
                    self.link = Some(link);
                }
                ClientEvent::Terminated { by_peer, .. } => {
                    self.terminated_by_peer |= by_peer;
                    self.link = None;
                }
                _ => {}
            }
        }
    }

    /// Whether it received a frame of `protocol` whose information field
    /// starts with `prefix`.
    fn got(&self, protocol: Protocol, prefix: &[u8]) -> bool {
        self.received
            .iter()
            .any(|(p, payload)| *p == protocol && payload.starts_with(prefix))
    }
}

struct World {
    now: Instant,
    lac: NodeCore,
    lns: NodeCore,
    subs: Vec<Sub>,
    lac_radius: Radius,
    lns_radius: Radius,
    lac_auth: Vec<AuthRequest>,
    /// Every Access-Request of the LNS, with its RADIUS group.
    lns_auth: Vec<(String, AuthRequest)>,
    lac_acct: Vec<AccountingRecord>,
    lns_acct: Vec<AccountingRecord>,
    lac_events: Vec<LacEvent>,
    lns_events: Vec<LacEvent>,
    routes: Vec<RouteChange>,
    /// IP packets the LNS wrote to TUN.
    tun: Vec<Vec<u8>>,
    /// What the LNS's fast path dropped (datagrams from the LAC).
    lns_drops: Vec<FastPathDrop>,
    lac_drops: Vec<FastPathDrop>,
}

impl World {
    fn new(setup: &Setup, lac_radius: Radius, lns_radius: Radius) -> Self {
        let now = Instant::now();
        let lac = NodeCore::new(
            lac_config(&setup.lac_methods),
            vec![LAC_MAC],
            "0000000A-".into(),
            [1; 32],
            now,
        );
        let lns = NodeCore::new(
            lns_config(setup),
            Vec::new(),
            "0000000B-".into(),
            [7; 32],
            now,
        );
        Self {
            now,
            lac,
            lns,
            subs: Vec::new(),
            lac_radius,
            lns_radius,
            lac_auth: Vec::new(),
            lns_auth: Vec::new(),
            lac_acct: Vec::new(),
            lns_acct: Vec::new(),
            lac_events: Vec::new(),
            lns_events: Vec::new(),
            routes: Vec::new(),
            tun: Vec::new(),
            lns_drops: Vec::new(),
            lac_drops: Vec::new(),
        }
    }

    /// A world whose LAC accepts every subscriber with `password` into the
    /// tunnel and whose LNS accepts `password` with `attributes`.
    fn simple(setup: &Setup, attributes: AcceptAttributes) -> Self {
        Self::new(
            setup,
            radius(PASSWORD, to_the_lns()),
            radius(PASSWORD, attributes),
        )
    }

    /// A subscriber (number `index` from 0) that starts discovery now.
    fn add_subscriber(&mut self, user: &str, password: &[u8], methods: &[AuthMethod]) -> usize {
        let index = self.subs.len();
        let n = u8::try_from(index + 1).expect("few subscribers");
        let mac = MacAddress::new([0x02, 0, 0, 0, 1, n]);
        let mut pppoe = Client::new(ClientConfig::default(), mac, VlanStack::new(), [20 + n; 32]);
        pppoe.start(self.now);
        self.subs.push(Sub {
            mac,
            user: user.as_bytes().to_vec(),
            password: password.to_vec(),
            methods: methods.to_vec(),
            mru: 1492,
            seed: 40 + n,
            pppoe,
            link: None,
            session_id: None,
            authenticated: 0,
            address: None,
            terminated_by_peer: false,
            link_events: Vec::new(),
            received: Vec::new(),
            outbox: VecDeque::new(),
        });
        index
    }

    /// Moves everything that is ready, then advances the clock by `STEP`.
    fn step(&mut self) {
        let now = self.now;
        let mut buf = vec![0u8; 2048];
        // Subscribers → LAC.
        let mut frames = Vec::new();
        for sub in &mut self.subs {
            sub.pump(now, &mut buf, &mut frames);
        }
        for mut frame in frames {
            match self.lac.handle_frame(now, 0, &mut frame, None) {
                Forward::Datagram { to, range } => {
                    assert_eq!(to, LNS_ADDR, "the LAC forwards to the LNS");
                    let datagram = frame[range].to_vec();
                    self.lns_receives(&datagram);
                }
                Forward::Dropped(reason) => self.lac_drops.push(reason),
                _ => {}
            }
        }
        // LAC control frames → subscribers.
        while let Some((interface, len)) = self.lac.poll_frame(&mut buf) {
            assert_eq!(interface, 0);
            let frame = buf[..len].to_vec();
            self.subscriber_receives(&frame);
        }
        // LAC → LNS, LNS → LAC (control messages and the cores' own data).
        let mut datagram = vec![0u8; 4096];
        while let Some((to, len)) = self.lac.poll_datagram(now, &mut datagram) {
            assert_eq!(to, LNS_ADDR, "the LAC talks to the LNS only");
            let bytes = datagram[..len].to_vec();
            self.lns_receives(&bytes);
        }
        while let Some((to, len)) = self.lns.poll_datagram(now, &mut datagram) {
            assert_eq!(to, LAC_ADDR, "the LNS talks to the LAC only");
            let bytes = datagram[..len].to_vec();
            self.lac_receives(&bytes);
        }
        self.settle();
        if self.lac.poll_timeout().is_some_and(|t| t <= now) {
            self.lac.handle_timeout(now);
        }
        if self.lns.poll_timeout().is_some_and(|t| t <= now) {
            self.lns.handle_timeout(now);
        }
        // What the timers did is seen before the step ends.
        self.settle();
        self.now += STEP;
    }

    /// Serves both cores' commands and collects their events.
    fn settle(&mut self) {
        self.serve_commands();
        while let Some(event) = self.lac.poll_event() {
            self.lac_events.push(event);
        }
        while let Some(event) = self.lns.poll_event() {
            self.lns_events.push(event);
        }
    }

    /// RADIUS (the closures), accounting and routes of both cores.
    fn serve_commands(&mut self) {
        let now = self.now;
        while let Some(command) = self.lac.poll_command() {
            match command {
                Command::Authenticate { token, request, .. } => {
                    let decision = (self.lac_radius)(&request);
                    self.lac_auth.push(*request);
                    self.lac.auth_result(now, token, decision);
                }
                Command::Account { record, .. } => self.lac_acct.push(*record),
                other => panic!("the LAC routes nothing: {other:?}"),
            }
        }
        while let Some(command) = self.lns.poll_command() {
            match command {
                Command::Authenticate {
                    token,
                    group,
                    request,
                } => {
                    let decision = (self.lns_radius)(&request);
                    self.lns_auth.push((group, *request));
                    self.lns.auth_result(now, token, decision);
                }
                Command::Account { group, record } => {
                    assert_eq!(group, "lns-acct", "the LNS's accounting group");
                    self.lns_acct.push(*record);
                }
                Command::AddRoute { net } => self.routes.push(RouteChange::Add(net)),
                Command::RemoveRoute { net } => self.routes.push(RouteChange::Remove(net)),
            }
        }
    }

    /// A UDP datagram from the LAC at the LNS.
    fn lns_receives(&mut self, datagram: &[u8]) -> Forward {
        let start = DOWNSTREAM_HEADROOM + 64;
        let mut buf = vec![0u8; start + datagram.len()];
        buf[start..].copy_from_slice(datagram);
        let now = self.now;
        let result = self
            .lns
            .handle_datagram(now, LAC_ADDR, &mut buf, start, datagram.len());
        match &result {
            Forward::Tun { range } => self.tun.push(buf[range.clone()].to_vec()),
            Forward::Datagram { to, range } => {
                assert_eq!(*to, LAC_ADDR);
                let bytes = buf[range.clone()].to_vec();
                self.lac_receives(&bytes);
            }
            Forward::Dropped(reason) => self.lns_drops.push(*reason),
            Forward::Frame { .. } => panic!("the LNS has no access interface"),
            Forward::Control => {}
        }
        result
    }

    /// A UDP datagram from the LNS at the LAC.
    fn lac_receives(&mut self, datagram: &[u8]) {
        let start = DOWNSTREAM_HEADROOM + 64;
        let mut buf = vec![0u8; start + datagram.len()];
        buf[start..].copy_from_slice(datagram);
        let now = self.now;
        match self
            .lac
            .handle_datagram(now, LNS_ADDR, &mut buf, start, datagram.len())
        {
            Forward::Frame { interface, range } => {
                assert_eq!(interface, 0);
                let frame = buf[range].to_vec();
                self.subscriber_receives(&frame);
            }
            Forward::Datagram { to, range } => {
                assert_eq!(to, LNS_ADDR);
                let bytes = buf[range].to_vec();
                self.lns_receives(&bytes);
            }
            Forward::Dropped(reason) => self.lac_drops.push(reason),
            Forward::Tun { .. } => panic!("the LAC terminates no PPP"),
            Forward::Control => {}
        }
    }

    /// "The kernel" writes `packet` into TUN: the LNS's answer, and its
    /// datagram delivered to the LAC.
    fn kernel_sends(&mut self, packet: &[u8]) -> Forward {
        let mut buf = vec![0u8; TUN_HEADROOM + packet.len()];
        buf[TUN_HEADROOM..].copy_from_slice(packet);
        let now = self.now;
        let result = self
            .lns
            .handle_ip(now, &mut buf, TUN_HEADROOM, packet.len());
        if let Forward::Datagram { to, range } = &result {
            assert_eq!(*to, LAC_ADDR, "out on the call to the LAC");
            let bytes = buf[range.clone()].to_vec();
            self.lac_receives(&bytes);
        }
        result
    }

    fn subscriber_receives(&mut self, frame: &[u8]) {
        let now = self.now;
        let eth = EthernetFrame::new_checked(frame).expect("ethernet");
        assert_eq!(eth.src(), LAC_MAC);
        let Some(sub) = self.subs.iter_mut().find(|s| s.mac == eth.dst()) else {
            panic!("a frame for nobody: {}", eth.dst());
        };
        match eth.ethertype() {
            EtherType::PppoeDiscovery => {
                sub.pppoe.handle_frame(now, frame);
                sub.pppoe_events(now);
            }
            EtherType::PppoeSession => {
                let session = SessionPacket::new_checked(eth.payload()).expect("pppoe");
                let ppp = crate::wire::ppp::Frame::new_checked(session.payload()).expect("ppp");
                sub.received.push((ppp.protocol(), ppp.payload().to_vec()));
                if let Some(link) = sub.link.as_mut()
                    && !matches!(ppp.protocol(), Protocol::Ipv4 | Protocol::Ipv6)
                {
                    link.handle_frame(now, ppp.protocol(), ppp.payload());
                }
            }
            other => panic!("unexpected EtherType {other:?}"),
        }
    }

    /// Subscriber `index` sends a PPP frame (protocol field first).
    fn subscriber_sends(&mut self, index: usize, ppp: &[u8]) {
        let sub = &mut self.subs[index];
        let session_id = sub.session_id.expect("a PPPoE session");
        let mut buf = vec![0u8; 64 + ppp.len()];
        buf[64..].copy_from_slice(ppp);
        let start =
            encapsulate_session_in_place(&mut buf, 64, ppp.len(), &sub.ethernet(), session_id)
                .expect("encapsulate");
        sub.outbox.push_back(buf[start..].to_vec());
    }

    /// Subscriber `index` sends one IPv4 packet.
    fn subscriber_sends_ip(&mut self, index: usize, packet: &[u8]) {
        let mut ppp = vec![0x00, 0x21];
        ppp.extend_from_slice(packet);
        self.subscriber_sends(index, &ppp);
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

    /// Sessions up at the LNS.
    fn lns_up(&self) -> usize {
        count(&self.lns, SessionState::Up)
    }

    fn lns_has(&self, event: LnsEvent) -> bool {
        self.lns_events.contains(&LacEvent::Lns(event))
    }

    /// The LNS events of the LNS role, for failure messages.
    fn lns_role_events(&self) -> Vec<&LnsEvent> {
        self.lns_events
            .iter()
            .filter_map(|e| match e {
                LacEvent::Lns(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    /// Brings subscriber `index` up: an address by IPCP, the session up
    /// at the LNS.
    fn bring_up(&mut self, index: usize) -> Ipv4Addr {
        let up_before = self.lns_up();
        assert!(
            self.run_until(Duration::from_secs(30), |w| w.subs[index].address.is_some()
                && w.lns_up() > up_before),
            "subscriber {index} up: address {:?}, LNS up {}, LNS events {:?}, LAC events {:?}",
            self.subs[index].address,
            self.lns_up(),
            self.lns_role_events(),
            self.lac_events
        );
        self.subs[index].address.expect("address")
    }

    /// The LNS's records of `status` for `user`.
    fn lns_records(&self, status: AcctStatusType, user: &str) -> Vec<&AccountingRecord> {
        self.lns_acct
            .iter()
            .filter(|r| r.status == u32::from(status) && r.user_name.as_deref() == Some(user))
            .collect()
    }

    /// The LNS's session records (Start, Interim, Stop and the RFC 2867
    /// link records), not its tunnel records.
    fn lns_session_records(&self) -> Vec<&AccountingRecord> {
        let session = [
            AcctStatusType::Start,
            AcctStatusType::InterimUpdate,
            AcctStatusType::Stop,
            AcctStatusType::TunnelLinkStart,
            AcctStatusType::TunnelLinkStop,
        ]
        .map(u32::from);
        self.lns_acct
            .iter()
            .filter(|r| session.contains(&r.status))
            .collect()
    }

    /// The CDNs the LAC received from the LNS (their Result Codes).
    fn cdns_at_lac(&self) -> Vec<Option<ResultCode>> {
        self.lac_events
            .iter()
            .filter_map(|e| match e {
                LacEvent::L2tp(L2tpEvent::SessionDown {
                    cause: SessionDownCause::PeerCdn,
                    result,
                    ..
                }) => Some(result.clone()),
                _ => None,
            })
            .collect()
    }

    /// Addresses of the default pool in use.
    fn pool_used(&self) -> u32 {
        let snapshot = self.lns.lns_snapshot().expect("the LNS role is on");
        snapshot
            .pools
            .iter()
            .find(|p| p.name == "residential")
            .expect("the residential pool")
            .used
    }
}

/// Sessions of `core` in `state`.
fn count(core: &NodeCore, state: SessionState) -> usize {
    core.state_counts()
        .iter()
        .find(|(s, _)| *s == state)
        .map_or(0, |(_, n)| *n)
}
