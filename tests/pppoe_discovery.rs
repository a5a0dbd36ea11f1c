//! Deterministic tests of the PPPoE discovery cores (RFC 2516 §5, RFC 4638,
//! RFC 4679): a `pppoe::Discovery` server against `pppoe::Client`s over a
//! simulated Ethernet segment with seeded loss, duplication and
//! reordering, in virtual time (a base `Instant` plus offsets).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tunnelnas::pppoe::server::VlanRule;
use tunnelnas::pppoe::{
    Client, ClientConfig, ClientEvent, ClientFailure, ClientState, Direction, Discovery,
    DiscoveryConfig, Event, MAX_FRAME_LEN, RefusalReason, TerminateError,
};
use tunnelnas::wire::ethernet::{EtherType, EthernetRepr, Frame, MacAddress, VlanStack, VlanTag};
use tunnelnas::wire::pppoe::{BbfSubOption, Code, DiscoveryRepr, Tag, TagType, VendorSpecific};

const AC_MAC: MacAddress = MacAddress::new([0x02, 0xac, 0, 0, 0, 1]);

fn host(n: u32) -> MacAddress {
    let b = n.to_be_bytes();
    MacAddress::new([0x02, 0x11, b[0], b[1], b[2], b[3]])
}

fn config() -> DiscoveryConfig {
    DiscoveryConfig {
        ac_name: b"tn-test-ac".to_vec(),
        service_names: Vec::new(),
        max_sessions: 1000,
        max_sessions_per_mac: 2,
        padi_rate: 0,
        padi_burst: 0,
        padi_rate_per_mac: 0,
        padi_burst_per_mac: 0,
        pado_delay: Duration::ZERO,
        pado_delay_max: Duration::ZERO,
        cookie_lifetime: Duration::from_secs(30),
        max_payload: 1492,
        max_pending_pados: 4096,
        max_tracked_macs: 65_536,
        vlan_rules: Vec::new(),
        session_ids: tunnelnas::shard::Shard::WHOLE,
    }
}

fn server(config: DiscoveryConfig, t0: Instant) -> Discovery {
    Discovery::new(config, AC_MAC, [42; 32], t0)
}

fn client(n: u32, config: ClientConfig) -> Client {
    let mut seed = [0; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    Client::new(config, host(n), VlanStack::new(), seed)
}

/// Every frame the core has queued, as bytes.
fn drain_server(s: &mut Discovery) -> Vec<Vec<u8>> {
    let mut buf = vec![0; MAX_FRAME_LEN];
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit(&mut buf) {
        assert!(t.len >= 60 && t.len <= MAX_FRAME_LEN);
        out.push(buf[..t.len].to_vec());
    }
    out
}

fn drain_client(c: &mut Client) -> Vec<Vec<u8>> {
    let mut buf = vec![0; MAX_FRAME_LEN];
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit(&mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    out
}

fn events(s: &mut Discovery) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn client_events(c: &mut Client) -> Vec<ClientEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn refusals(events: &[Event]) -> Vec<RefusalReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Refused { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// Ethernet header and PPPoE packet of a frame.
fn dissect(frame: &[u8]) -> (EthernetRepr, DiscoveryRepr) {
    let f = Frame::new_checked(frame).expect("ethernet");
    let eth = EthernetRepr::parse(&f).expect("ethernet repr");
    assert_eq!(eth.ethertype, EtherType::PppoeDiscovery);
    (eth, DiscoveryRepr::parse_bytes(f.payload()).expect("pppoe"))
}

fn build(dst: MacAddress, src: MacAddress, vlans: VlanStack, repr: &DiscoveryRepr) -> Vec<u8> {
    let mut eth = EthernetRepr::new(dst, src, EtherType::PppoeDiscovery);
    eth.vlans = vlans;
    let mut buf = vec![0; eth.buffer_len() + repr.buffer_len()];
    let n = eth.emit(&mut buf).unwrap();
    repr.emit(&mut buf[n..]).unwrap();
    buf
}

fn padi(src: MacAddress, service: &[u8], extra: Vec<Tag>) -> Vec<u8> {
    let mut repr = DiscoveryRepr::new(Code::Padi, 0);
    repr.tags.push(Tag::ServiceName(service.to_vec()));
    repr.tags.extend(extra);
    build(MacAddress::BROADCAST, src, VlanStack::new(), &repr)
}

/// The PADO the server sends for a PADI from `src` (with `extra` tags).
fn get_pado(s: &mut Discovery, now: Instant, src: MacAddress, extra: Vec<Tag>) -> DiscoveryRepr {
    s.handle_frame(now, &padi(src, b"", extra));
    let frames = drain_server(s);
    assert_eq!(frames.len(), 1, "one PADO");
    let (eth, pado) = dissect(&frames[0]);
    assert_eq!(eth.dst, src);
    assert_eq!(eth.src, AC_MAC);
    assert_eq!(pado.code, Code::Pado);
    pado
}

fn padr_for(src: MacAddress, pado: &DiscoveryRepr, service: &[u8], extra: Vec<Tag>) -> Vec<u8> {
    let mut repr = DiscoveryRepr::new(Code::Padr, 0);
    repr.tags.push(Tag::ServiceName(service.to_vec()));
    if let Some(c) = pado.ac_cookie() {
        repr.tags.push(Tag::AcCookie(c.to_vec()));
    }
    repr.tags.extend(extra);
    build(AC_MAC, src, VlanStack::new(), &repr)
}

// ---------------------------------------------------------------------------
// A simulated Ethernet segment
// ---------------------------------------------------------------------------

/// Loss, duplication and extra delay (which reorders) on every frame, from
/// a seeded RNG.
#[derive(Clone, Copy)]
struct LinkModel {
    loss_percent: u32,
    duplicate_percent: u32,
    max_jitter_ms: u64,
}

const PERFECT: LinkModel = LinkModel {
    loss_percent: 0,
    duplicate_percent: 0,
    max_jitter_ms: 0,
};

struct Sim {
    now: Instant,
    rng: StdRng,
    link: LinkModel,
    server: Discovery,
    clients: Vec<Client>,
    /// (deliver at, to the server?, frame)
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    server_events: Vec<Event>,
    client_events: Vec<Vec<ClientEvent>>,
    /// Drops every frame of these codes (both directions).
    blackhole: Vec<Code>,
}

impl Sim {
    fn new(
        server: Discovery,
        clients: Vec<Client>,
        link: LinkModel,
        seed: u64,
        t0: Instant,
    ) -> Self {
        let n = clients.len();
        Self {
            now: t0,
            rng: StdRng::seed_from_u64(seed),
            link,
            server,
            clients,
            in_flight: Vec::new(),
            server_events: Vec::new(),
            client_events: vec![Vec::new(); n],
            blackhole: Vec::new(),
        }
    }

    fn send(&mut self, to_server: bool, frame: Vec<u8>) {
        let (_, repr) = dissect(&frame);
        if self.blackhole.contains(&repr.code) {
            return;
        }
        if self.rng.random_range(0..100) < self.link.loss_percent {
            return;
        }
        let copies = if self.rng.random_range(0..100) < self.link.duplicate_percent {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.link.max_jitter_ms == 0 {
                0
            } else {
                self.rng.random_range(0..=self.link.max_jitter_ms)
            };
            let at = self.now + Duration::from_micros(100) + Duration::from_millis(jitter);
            self.in_flight.push((at, to_server, frame.clone()));
        }
    }

    fn collect(&mut self) {
        for frame in drain_server(&mut self.server) {
            self.send(false, frame);
        }
        for i in 0..self.clients.len() {
            for frame in drain_client(&mut self.clients[i]) {
                self.send(true, frame);
            }
        }
        self.server_events
            .extend(std::iter::from_fn(|| self.server.poll_event()));
        for (i, c) in self.clients.iter_mut().enumerate() {
            self.client_events[i].extend(std::iter::from_fn(|| c.poll_event()));
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let frames = self.in_flight.iter().map(|(at, _, _)| *at);
        let timers = self
            .clients
            .iter()
            .filter_map(Client::poll_timeout)
            .chain(self.server.poll_timeout());
        frames.chain(timers).min()
    }

    /// Runs until nothing is left to do or `limit` has passed.
    fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        self.collect();
        while let Some(at) = self.next_wakeup() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            let now = self.now;
            let mut due = Vec::new();
            self.in_flight.retain(|(t, to_server, f)| {
                if *t <= now {
                    due.push((*to_server, f.clone()));
                    false
                } else {
                    true
                }
            });
            for (to_server, frame) in due {
                if to_server {
                    self.server.handle_frame(now, &frame);
                } else {
                    for c in &mut self.clients {
                        c.handle_frame(now, &frame);
                    }
                }
            }
            self.server.handle_timeout(now);
            for c in &mut self.clients {
                c.handle_timeout(now);
            }
            self.collect();
        }
        self.now = self.now.max(end.min(self.now + limit));
    }

    fn start_all(&mut self) {
        let now = self.now;
        for c in &mut self.clients {
            c.start(now);
        }
    }

    fn established(&self) -> Vec<(u16, MacAddress)> {
        self.client_events
            .iter()
            .flat_map(|evs| {
                evs.iter().filter_map(|e| match e {
                    ClientEvent::Established {
                        session_id, ac_mac, ..
                    } => Some((*session_id, *ac_mac)),
                    _ => None,
                })
            })
            .collect()
    }

    fn server_established(&self) -> Vec<u16> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                Event::SessionEstablished { session_id, .. } => Some(*session_id),
                _ => None,
            })
            .collect()
    }

    fn counted(&self, code: Code, direction: Direction) -> usize {
        self.server_events
            .iter()
            .filter(|e| matches!(e, Event::PacketCounted { code: c, direction: d } if *c == code && *d == direction))
            .count()
    }
}

// ---------------------------------------------------------------------------
// Establishment
// ---------------------------------------------------------------------------

#[test]
fn establishment_over_a_perfect_link() {
    let t0 = Instant::now();
    let mut sim = Sim::new(
        server(config(), t0),
        vec![client(1, ClientConfig::default())],
        PERFECT,
        1,
        t0,
    );
    sim.start_all();
    sim.run_for(Duration::from_secs(5));
    let est = sim.established();
    assert_eq!(est.len(), 1);
    let (session_id, ac_mac) = est[0];
    assert_eq!(ac_mac, AC_MAC);
    assert!(session_id != 0 && session_id != 0xffff);
    assert_eq!(sim.server_established(), vec![session_id]);
    assert_eq!(
        sim.clients[0].state(),
        &ClientState::Established {
            session_id,
            ac: AC_MAC
        }
    );
    let info = sim.server.session(session_id).expect("session stored");
    assert_eq!(info.mac, host(1));
    assert_eq!(info.host_uniq.as_deref(), Some(sim.clients[0].host_uniq()));
    assert_eq!(info.max_payload, 1492);
    for (code, dir) in [
        (Code::Padi, Direction::Rx),
        (Code::Pado, Direction::Tx),
        (Code::Padr, Direction::Rx),
        (Code::Pads, Direction::Tx),
    ] {
        assert_eq!(sim.counted(code, dir), 1, "{code:?} {dir:?}");
    }
    // The client saw our AC-Name.
    assert!(sim.client_events[0].iter().any(|e| matches!(
        e,
        ClientEvent::Established { ac_name, max_payload: 1492, .. } if ac_name == b"tn-test-ac"
    )));
}

#[test]
fn many_clients_over_a_lossy_duplicating_reordering_link() {
    for seed in 0..6 {
        let t0 = Instant::now();
        let n = 40;
        let clients = (0..n)
            .map(|i| {
                client(
                    i,
                    ClientConfig {
                        max_padi_attempts: 16,
                        max_padr_attempts: 16,
                        max_timeout: Duration::from_secs(4),
                        ..ClientConfig::default()
                    },
                )
            })
            .collect();
        let link = LinkModel {
            loss_percent: 20,
            duplicate_percent: 20,
            max_jitter_ms: 30,
        };
        let mut sim = Sim::new(server(config(), t0), clients, link, seed, t0);
        sim.start_all();
        sim.run_for(Duration::from_secs(120));
        let est = sim.established();
        assert_eq!(est.len(), n as usize, "seed {seed}: every client is up");
        let ids: BTreeSet<u16> = est.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids.len(), n as usize, "session ids are unique");
        // Duplicated and retransmitted PADRs never made a second session.
        assert_eq!(sim.server.session_count(), n as usize, "seed {seed}");
        let server_ids: BTreeSet<u16> = sim.server.sessions().map(|s| s.session_id).collect();
        assert_eq!(server_ids, ids);
        assert_eq!(sim.server_established().len(), n as usize);
        assert!(
            refusals(&sim.server_events).is_empty(),
            "{:?}",
            refusals(&sim.server_events)
        );
    }
}

#[test]
fn retransmitted_padr_gets_the_same_pads() {
    let t0 = Instant::now();
    let mut s = server(config(), t0);
    let mac = host(7);
    let pado = get_pado(&mut s, t0, mac, vec![Tag::HostUniq(b"hu7".to_vec())]);
    assert_eq!(pado.host_uniq(), Some(&b"hu7"[..]));
    let padr = padr_for(mac, &pado, b"", vec![Tag::HostUniq(b"hu7".to_vec())]);
    s.handle_frame(t0, &padr);
    let first = drain_server(&mut s);
    s.handle_frame(t0 + Duration::from_secs(1), &padr);
    let second = drain_server(&mut s);
    assert_eq!(first.len(), 1);
    assert_eq!(first, second, "byte-identical PADS");
    let (_, pads) = dissect(&first[0]);
    assert_eq!(pads.code, Code::Pads);
    assert_ne!(pads.session_id, 0);
    assert_eq!(pads.host_uniq(), Some(&b"hu7"[..]));
    assert_eq!(pads.service_name(), Some(&b""[..]));
    assert_eq!(pads.ac_name(), Some(&b"tn-test-ac"[..]));
    assert_eq!(s.session_count(), 1);
    let evs = events(&mut s);
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, Event::SessionEstablished { .. }))
            .count(),
        1
    );
    // Same Host-Uniq with a retransmitted PADR whose cookie expired
    // meanwhile: still the same session.
    s.handle_frame(t0 + Duration::from_secs(200), &padr);
    let third = drain_server(&mut s);
    assert_eq!(first, third);
    // A PADR from the same MAC with another Host-Uniq is a new session.
    let pado = get_pado(&mut s, t0 + Duration::from_secs(200), mac, vec![]);
    s.handle_frame(
        t0 + Duration::from_secs(200),
        &padr_for(mac, &pado, b"", vec![Tag::HostUniq(b"other".to_vec())]),
    );
    let (_, pads2) = dissect(&drain_server(&mut s)[0]);
    assert_ne!(pads2.session_id, pads.session_id);
    assert_eq!(s.session_count(), 2);
}

// ---------------------------------------------------------------------------
// Cookies
// ---------------------------------------------------------------------------

#[test]
fn nothing_is_stored_before_a_valid_padr() {
    let t0 = Instant::now();
    let mut s = server(config(), t0);
    for i in 0..500 {
        get_pado(&mut s, t0, host(i), vec![]);
    }
    assert_eq!(s.session_count(), 0);
    assert_eq!(s.pending_pado_count(), 0);
}

#[test]
fn bad_missing_and_foreign_cookies_are_refused_silently() {
    let t0 = Instant::now();
    let mut s = server(config(), t0);
    let mac = host(1);
    let pado = get_pado(&mut s, t0, mac, vec![]);
    let cookie = pado.ac_cookie().unwrap().to_vec();
    events(&mut s);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped bit", {
            let mut c = cookie.clone();
            c[12] ^= 0x40;
            let mut p = DiscoveryRepr::new(Code::Padr, 0);
            p.tags = vec![Tag::ServiceName(vec![]), Tag::AcCookie(c)];
            build(AC_MAC, mac, VlanStack::new(), &p)
        }),
        ("missing", {
            let mut p = DiscoveryRepr::new(Code::Padr, 0);
            p.tags = vec![Tag::ServiceName(vec![])];
            build(AC_MAC, mac, VlanStack::new(), &p)
        }),
        ("short", {
            let mut p = DiscoveryRepr::new(Code::Padr, 0);
            p.tags = vec![
                Tag::ServiceName(vec![]),
                Tag::AcCookie(cookie[..10].to_vec()),
            ];
            build(AC_MAC, mac, VlanStack::new(), &p)
        }),
        ("another MAC", padr_for(host(2), &pado, b"", vec![])),
        ("another VLAN", {
            let mut p = DiscoveryRepr::new(Code::Padr, 0);
            p.tags = vec![Tag::ServiceName(vec![]), Tag::AcCookie(cookie)];
            build(
                AC_MAC,
                mac,
                VlanStack::single(VlanTag::customer(7).unwrap()),
                &p,
            )
        }),
    ];
    for (what, frame) in cases {
        s.handle_frame(t0, &frame);
        assert!(drain_server(&mut s).is_empty(), "{what}: no answer");
        assert_eq!(
            refusals(&events(&mut s)),
            vec![RefusalReason::BadCookie],
            "{what}"
        );
    }
    assert_eq!(s.session_count(), 0);
}

#[test]
fn cookie_from_the_previous_slot_is_accepted_and_older_is_expired() {
    let t0 = Instant::now();
    let lifetime = Duration::from_secs(30);
    // Previous slot: issued at 29 s (slot 0), used at 31 s (slot 1).
    let mut s = server(config(), t0);
    let pado = get_pado(&mut s, t0 + Duration::from_secs(29), host(1), vec![]);
    s.handle_frame(
        t0 + Duration::from_secs(31),
        &padr_for(host(1), &pado, b"", vec![]),
    );
    let (_, pads) = dissect(&drain_server(&mut s)[0]);
    assert_ne!(pads.session_id, 0);
    // Two slots later: expired.
    let pado = get_pado(&mut s, t0 + Duration::from_secs(31), host(2), vec![]);
    events(&mut s);
    s.handle_frame(
        t0 + 3 * lifetime + Duration::from_secs(1),
        &padr_for(host(2), &pado, b"", vec![]),
    );
    assert!(drain_server(&mut s).is_empty());
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::ExpiredCookie]
    );
    // Within the same slot after the timer rotated nothing: accepted.
    let later = t0 + 3 * lifetime + Duration::from_secs(2);
    s.handle_timeout(later);
    let pado = get_pado(&mut s, later, host(3), vec![]);
    s.handle_frame(
        later + Duration::from_secs(5),
        &padr_for(host(3), &pado, b"", vec![]),
    );
    assert_eq!(drain_server(&mut s).len(), 1);
    assert_eq!(s.session_count(), 2);
}

// ---------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------

#[test]
fn services_offered_matched_and_refused() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.service_names = vec![b"internet".to_vec(), b"voip".to_vec()];
    let mut s = server(cfg, t0);
    // Any service: PADO echoes the empty name first and lists the others.
    let pado = get_pado(&mut s, t0, host(1), vec![]);
    let names: Vec<&[u8]> = pado.service_names().collect();
    assert_eq!(names, vec![&b""[..], b"internet", b"voip"]);
    // A named service: echoed first.
    s.handle_frame(t0, &padi(host(1), b"voip", vec![]));
    let (_, pado2) = dissect(&drain_server(&mut s)[0]);
    assert_eq!(
        pado2.service_names().collect::<Vec<_>>(),
        vec![&b"voip"[..], b"internet"]
    );
    events(&mut s);
    // RFC 2516 §5.2: an unknown service gets no PADO at all.
    s.handle_frame(t0, &padi(host(1), b"iptv", vec![]));
    assert!(drain_server(&mut s).is_empty());
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::ServiceUnavailable]
    );
    // RFC 2516 §5.4: a PADR for an unknown service gets a PADS with
    // Service-Name-Error and SESSION_ID 0.
    s.handle_frame(
        t0,
        &padr_for(host(1), &pado, b"iptv", vec![Tag::HostUniq(b"h".to_vec())]),
    );
    let (_, pads) = dissect(&drain_server(&mut s)[0]);
    assert_eq!(pads.code, Code::Pads);
    assert_eq!(pads.session_id, 0);
    assert_eq!(
        pads.error().map(|(t, _)| t),
        Some(TagType::ServiceNameError)
    );
    assert_eq!(pads.host_uniq(), Some(&b"h"[..]));
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::ServiceUnavailable]
    );
    assert_eq!(s.session_count(), 0);
}

#[test]
fn client_asking_for_an_unknown_service_fails_after_its_padis() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.service_names = vec![b"internet".to_vec()];
    let c = client(
        1,
        ClientConfig {
            service_name: b"iptv".to_vec(),
            max_padi_attempts: 3,
            ..ClientConfig::default()
        },
    );
    let mut sim = Sim::new(server(cfg, t0), vec![c], PERFECT, 1, t0);
    sim.start_all();
    sim.run_for(Duration::from_secs(60));
    assert_eq!(sim.clients[0].state(), &ClientState::Failed);
    assert!(sim.client_events[0].contains(&ClientEvent::Failed(ClientFailure::NoOffer)));
    assert_eq!(sim.counted(Code::Padi, Direction::Rx), 3);
    assert_eq!(
        refusals(&sim.server_events),
        vec![RefusalReason::ServiceUnavailable; 3]
    );
}

#[test]
fn client_gets_service_name_error_from_pads() {
    // The client asks for "any" in its PADI, then the server's list changes
    // under it: emulated by a client asking for a service in the PADR only.
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.service_names = vec![b"internet".to_vec()];
    let mut s = server(cfg, t0);
    let mut c = client(1, ClientConfig::default());
    c.start(t0);
    let padi_frame = drain_client(&mut c).remove(0);
    s.handle_frame(t0, &padi_frame);
    let pado_frame = drain_server(&mut s).remove(0);
    c.handle_frame(t0, &pado_frame);
    let padr_frame = drain_client(&mut c).remove(0);
    // Rewrite the PADR's Service-Name.
    let (eth, mut padr) = dissect(&padr_frame);
    padr.tags[0] = Tag::ServiceName(b"iptv".to_vec());
    s.handle_frame(t0, &build(eth.dst, eth.src, eth.vlans, &padr));
    let pads = drain_server(&mut s).remove(0);
    c.handle_frame(t0, &pads);
    assert_eq!(c.state(), &ClientState::Failed);
    assert!(client_events(&mut c).iter().any(|e| matches!(
        e,
        ClientEvent::Failed(ClientFailure::Refused {
            tag: TagType::ServiceNameError,
            ..
        })
    )));
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[test]
fn per_mac_limit_refuses_padi_and_padr() {
    let t0 = Instant::now();
    let mut s = server(config(), t0); // 2 per MAC
    let mac = host(1);
    // Three PADOs before any session exists.
    let pados: Vec<_> = (0..3).map(|_| get_pado(&mut s, t0, mac, vec![])).collect();
    for (i, pado) in pados.iter().enumerate() {
        s.handle_frame(
            t0,
            &padr_for(mac, pado, b"", vec![Tag::HostUniq(vec![i as u8])]),
        );
    }
    let answers: Vec<_> = drain_server(&mut s).iter().map(|f| dissect(f).1).collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert!(
        answers[0].session_id != 0 && answers[1].session_id != 0,
        "{answers:?}"
    );
    assert_eq!(answers[2].session_id, 0, "{answers:?} {:?}", events(&mut s));
    assert_eq!(
        answers[2].error().map(|(t, _)| t),
        Some(TagType::AcSystemError)
    );
    assert_eq!(refusals(&events(&mut s)), vec![RefusalReason::MacLimit]);
    // Now the PADI itself is refused.
    s.handle_frame(t0, &padi(mac, b"", vec![]));
    assert!(drain_server(&mut s).is_empty());
    assert_eq!(refusals(&events(&mut s)), vec![RefusalReason::MacLimit]);
    // The same MAC on another VLAN is another subscriber.
    let vlan = VlanStack::single(VlanTag::customer(100).unwrap());
    let mut p = DiscoveryRepr::new(Code::Padi, 0);
    p.tags.push(Tag::ServiceName(vec![]));
    s.handle_frame(t0, &build(MacAddress::BROADCAST, mac, vlan, &p));
    let out = drain_server(&mut s);
    assert_eq!(out.len(), 1);
    assert_eq!(
        dissect(&out[0]).0.vlans,
        vlan,
        "PADO carries the subscriber's VLAN tag"
    );
    // A session ending frees the slot.
    s.terminate(answers[0].session_id, None).unwrap();
    drain_server(&mut s);
    get_pado(&mut s, t0, mac, vec![]);
}

#[test]
fn interface_limit_refuses_padi_and_padr() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_sessions = 3;
    let mut s = server(cfg, t0);
    let pados: Vec<_> = (0..4)
        .map(|i| get_pado(&mut s, t0, host(i), vec![]))
        .collect();
    for (i, pado) in pados.iter().enumerate() {
        s.handle_frame(t0, &padr_for(host(i as u32), pado, b"", vec![]));
    }
    let answers: Vec<_> = drain_server(&mut s).iter().map(|f| dissect(f).1).collect();
    assert_eq!(answers.iter().filter(|p| p.session_id != 0).count(), 3);
    assert_eq!(
        answers[3].error().map(|(t, _)| t),
        Some(TagType::AcSystemError)
    );
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::InterfaceFull]
    );
    s.handle_frame(t0, &padi(host(9), b"", vec![]));
    assert!(drain_server(&mut s).is_empty());
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::InterfaceFull]
    );
}

#[test]
fn session_ids_are_unique_non_zero_and_never_ffff() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_sessions = 3000;
    let mut s = server(cfg, t0);
    let mut ids = BTreeSet::new();
    for i in 0..3000 {
        let pado = get_pado(&mut s, t0, host(i), vec![]);
        s.handle_frame(t0, &padr_for(host(i), &pado, b"", vec![]));
        let (_, pads) = dissect(&drain_server(&mut s)[0]);
        assert!(pads.session_id != 0 && pads.session_id != 0xffff);
        assert!(ids.insert(pads.session_id), "duplicate id");
    }
    assert_eq!(s.session_count(), 3000);
}

#[test]
fn padi_rate_limit_for_the_interface() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.padi_rate = 5;
    cfg.padi_burst = 5;
    let mut s = server(cfg, t0);
    for i in 0..10 {
        s.handle_frame(t0, &padi(host(i), b"", vec![]));
    }
    assert_eq!(drain_server(&mut s).len(), 5);
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::RateLimited; 5]
    );
    // 200 ms later one more token.
    for i in 10..12 {
        s.handle_frame(t0 + Duration::from_millis(200), &padi(host(i), b"", vec![]));
    }
    assert_eq!(drain_server(&mut s).len(), 1);
    // One second refills the burst.
    for i in 20..30 {
        s.handle_frame(
            t0 + Duration::from_millis(1300),
            &padi(host(i), b"", vec![]),
        );
    }
    assert_eq!(drain_server(&mut s).len(), 5);
}

#[test]
fn padi_rate_limit_per_mac() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.padi_rate_per_mac = 2;
    cfg.padi_burst_per_mac = 2;
    cfg.max_tracked_macs = 4;
    let mut s = server(cfg, t0);
    for _ in 0..5 {
        s.handle_frame(t0, &padi(host(1), b"", vec![]));
    }
    assert_eq!(drain_server(&mut s).len(), 2);
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::RateLimited; 3]
    );
    // Another MAC is not affected by the first one's flood.
    s.handle_frame(t0, &padi(host(2), b"", vec![]));
    s.handle_frame(t0, &padi(host(2), b"", vec![]));
    assert_eq!(drain_server(&mut s).len(), 2);
    // Half a second: one more for host 1.
    s.handle_frame(t0 + Duration::from_millis(500), &padi(host(1), b"", vec![]));
    s.handle_frame(t0 + Duration::from_millis(500), &padi(host(1), b"", vec![]));
    assert_eq!(drain_server(&mut s).len(), 1);
    // The bucket table is bounded: with 4 busy MACs a fifth is refused,
    // once they are idle (refilled) it is forgotten and the fifth served.
    for i in 3..5 {
        s.handle_frame(t0 + Duration::from_millis(500), &padi(host(i), b"", vec![]));
    }
    events(&mut s);
    drain_server(&mut s);
    s.handle_frame(t0 + Duration::from_millis(500), &padi(host(5), b"", vec![]));
    assert!(drain_server(&mut s).is_empty());
    assert_eq!(refusals(&events(&mut s)), vec![RefusalReason::RateLimited]);
    s.handle_frame(t0 + Duration::from_secs(5), &padi(host(5), b"", vec![]));
    assert_eq!(drain_server(&mut s).len(), 1);
}

#[test]
fn pado_delay_grows_with_load_and_is_released_by_the_timer() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_sessions = 10;
    cfg.max_sessions_per_mac = 10;
    cfg.pado_delay = Duration::from_millis(100);
    cfg.pado_delay_max = Duration::from_millis(1100);
    let mut s = server(cfg, t0);
    let delay_now = |s: &mut Discovery, now: Instant, mac: MacAddress| -> Duration {
        s.handle_frame(now, &padi(mac, b"", vec![]));
        assert!(drain_server(s).is_empty(), "PADO held back");
        let at = s.poll_timeout().expect("timer armed");
        s.handle_timeout(at - Duration::from_millis(1));
        assert!(drain_server(s).is_empty(), "not before its time");
        s.handle_timeout(at);
        let out = drain_server(s);
        assert_eq!(out.len(), 1);
        assert_eq!(dissect(&out[0]).1.code, Code::Pado);
        assert_eq!(s.poll_timeout(), None);
        at - now
    };
    assert_eq!(delay_now(&mut s, t0, host(1)), Duration::from_millis(100));
    // Five sessions in use of ten: 100 + 1000 * 5/10 ms.
    let mut now = t0 + Duration::from_secs(1);
    for i in 0..5 {
        s.handle_frame(now, &padi(host(100 + i), b"", vec![]));
        now = s.poll_timeout().unwrap();
        s.handle_timeout(now);
        let (_, pado) = dissect(&drain_server(&mut s)[0]);
        s.handle_frame(now, &padr_for(host(100 + i), &pado, b"", vec![]));
        drain_server(&mut s);
    }
    assert_eq!(s.session_count(), 5);
    assert_eq!(delay_now(&mut s, now, host(2)), Duration::from_millis(600));
    // Several delayed PADOs at once all come out, in order of their time.
    for i in 0..3 {
        s.handle_frame(
            now + Duration::from_millis(i * 10),
            &padi(host(200 + i as u32), b"", vec![]),
        );
    }
    assert_eq!(s.pending_pado_count(), 3);
    s.handle_timeout(now + Duration::from_secs(2));
    let out = drain_server(&mut s);
    let dsts: Vec<_> = out.iter().map(|f| dissect(f).0.dst).collect();
    assert_eq!(dsts, vec![host(200), host(201), host(202)]);
}

#[test]
fn pado_queue_is_bounded() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.pado_delay = Duration::from_secs(1);
    cfg.max_pending_pados = 3;
    let mut s = server(cfg, t0);
    for i in 0..5 {
        s.handle_frame(t0, &padi(host(i), b"", vec![]));
    }
    assert_eq!(s.pending_pado_count(), 3);
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::Overloaded; 2]
    );
}

// ---------------------------------------------------------------------------
// RFC 4638, RFC 4679, Relay-Session-Id
// ---------------------------------------------------------------------------

fn negotiate(server_max: u16, asked: Option<u16>) -> (Option<u16>, Option<u16>, u16, u16) {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_payload = server_max;
    let mut s = server(cfg, t0);
    let mut c = client(
        1,
        ClientConfig {
            max_payload: asked,
            ..ClientConfig::default()
        },
    );
    c.start(t0);
    s.handle_frame(t0, &drain_client(&mut c).remove(0));
    let pado = drain_server(&mut s).remove(0);
    let pado_tag = dissect(&pado).1.max_payload();
    c.handle_frame(t0, &pado);
    s.handle_frame(t0, &drain_client(&mut c).remove(0));
    let pads = drain_server(&mut s).remove(0);
    let pads_tag = dissect(&pads).1.max_payload();
    c.handle_frame(t0, &pads);
    let server_grant = events(&mut s)
        .into_iter()
        .find_map(|e| match e {
            Event::SessionEstablished { max_payload, .. } => Some(max_payload),
            _ => None,
        })
        .unwrap();
    let client_grant = client_events(&mut c)
        .into_iter()
        .find_map(|e| match e {
            ClientEvent::Established { max_payload, .. } => Some(max_payload),
            _ => None,
        })
        .unwrap();
    (pado_tag, pads_tag, server_grant, client_grant)
}

#[test]
fn rfc4638_ppp_max_payload() {
    assert_eq!(
        negotiate(1500, Some(1500)),
        (Some(1500), Some(1500), 1500, 1500)
    );
    assert_eq!(
        negotiate(1500, Some(9000)),
        (Some(1500), Some(1500), 1500, 1500)
    );
    assert_eq!(
        negotiate(9000, Some(1496)),
        (Some(1496), Some(1496), 1496, 1496)
    );
    // Not asked for: no tag, 1492.
    assert_eq!(negotiate(1500, None), (None, None, 1492, 1492));
    // Asked for 1492 or less: nothing to grant.
    assert_eq!(negotiate(1500, Some(1400)), (None, None, 1492, 1492));
    // Server without RFC 4638 (1492): ignores the tag.
    assert_eq!(negotiate(1492, Some(1500)), (None, None, 1492, 1492));
}

fn line_id_tag() -> Tag {
    Tag::VendorSpecific(VendorSpecific::BroadbandForum(vec![
        BbfSubOption::AgentCircuitId(b"dslam7 eth 1/1/3:100.33".to_vec()),
        BbfSubOption::AgentRemoteId(b"customer-0042".to_vec()),
        BbfSubOption::Other {
            sub_type: 0x81,
            value: 20_000u32.to_be_bytes().to_vec(),
        },
    ]))
}

#[test]
fn agent_circuit_id_and_remote_id_are_captured() {
    let t0 = Instant::now();
    let c = client(
        1,
        ClientConfig {
            extra_tags: vec![line_id_tag()],
            ..ClientConfig::default()
        },
    );
    let mut sim = Sim::new(server(config(), t0), vec![c], PERFECT, 3, t0);
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    let (circuit, remote, sid) = sim
        .server_events
        .iter()
        .find_map(|e| match e {
            Event::SessionEstablished {
                circuit_id,
                remote_id,
                session_id,
                ..
            } => Some((circuit_id.clone(), remote_id.clone(), *session_id)),
            _ => None,
        })
        .expect("session");
    assert_eq!(circuit.as_deref(), Some(&b"dslam7 eth 1/1/3:100.33"[..]));
    assert_eq!(remote.as_deref(), Some(&b"customer-0042"[..]));
    let info = sim.server.session(sid).unwrap();
    assert_eq!(info.circuit_id, circuit);
    assert_eq!(info.remote_id, remote);
}

#[test]
fn relay_session_id_is_echoed_by_server_and_client() {
    let t0 = Instant::now();
    let mut s = server(config(), t0);
    let relay = Tag::RelaySessionId(b"relay-xyz".to_vec());
    let pado = get_pado(
        &mut s,
        t0,
        host(1),
        vec![relay, Tag::HostUniq(b"u".to_vec())],
    );
    assert_eq!(pado.relay_session_id(), Some(&b"relay-xyz"[..]));
    assert_eq!(pado.host_uniq(), Some(&b"u"[..]));
    // The client echoes the relay's tag (inserted by a relay into the PADO).
    let mut c = client(2, ClientConfig::default());
    c.start(t0);
    drain_client(&mut c);
    let mut offer = pado.clone();
    offer.tags.retain(|t| t.tag_type() != TagType::HostUniq);
    offer.tags.push(Tag::HostUniq(c.host_uniq().to_vec()));
    c.handle_frame(t0, &build(host(2), AC_MAC, VlanStack::new(), &offer));
    let (_, padr) = dissect(&drain_client(&mut c).remove(0));
    assert_eq!(padr.code, Code::Padr);
    assert_eq!(padr.relay_session_id(), Some(&b"relay-xyz"[..]));
    assert_eq!(padr.ac_cookie(), pado.ac_cookie());
    // And the server echoes it in the PADS and the PADT.
    let padr_frame = build(AC_MAC, host(2), VlanStack::new(), &padr);
    let pado2 = get_pado(&mut s, t0, host(2), vec![]);
    let mut padr2 = padr;
    for t in &mut padr2.tags {
        if let Tag::AcCookie(c) = t {
            *c = pado2.ac_cookie().unwrap().to_vec();
        }
    }
    let _ = padr_frame;
    s.handle_frame(t0, &build(AC_MAC, host(2), VlanStack::new(), &padr2));
    let (_, pads) = dissect(&drain_server(&mut s).remove(0));
    assert_eq!(pads.relay_session_id(), Some(&b"relay-xyz"[..]));
    s.terminate(pads.session_id, None).unwrap();
    let (_, padt) = dissect(&drain_server(&mut s).remove(0));
    assert_eq!(padt.relay_session_id(), Some(&b"relay-xyz"[..]));
}

// ---------------------------------------------------------------------------
// PADT
// ---------------------------------------------------------------------------

fn up(t0: Instant, n: u32) -> Sim {
    let clients = (0..n).map(|i| client(i, ClientConfig::default())).collect();
    let mut sim = Sim::new(server(config(), t0), clients, PERFECT, 5, t0);
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.established().len(), n as usize);
    sim
}

#[test]
fn padt_from_the_client() {
    let t0 = Instant::now();
    let mut sim = up(t0, 2);
    let (sid, _) = sim.established()[0];
    assert!(sim.clients[0].terminate(Some("user logout")));
    assert!(!sim.clients[0].terminate(None), "only once");
    sim.run_for(Duration::from_secs(1));
    assert!(sim.server_events.contains(&Event::SessionTerminated {
        session_id: sid,
        by_peer: true,
        reason: Some(b"user logout".to_vec()),
    }));
    assert_eq!(sim.server.session_count(), 1);
    assert_eq!(sim.counted(Code::Padt, Direction::Rx), 1);
    assert_eq!(sim.clients[0].state(), &ClientState::Terminated);
    // The other client is untouched.
    assert!(matches!(
        sim.clients[1].state(),
        ClientState::Established { .. }
    ));
}

#[test]
fn padt_from_the_server() {
    let t0 = Instant::now();
    let mut sim = up(t0, 1);
    let (sid, _) = sim.established()[0];
    let info = sim
        .server
        .terminate(sid, Some("administrative reset"))
        .unwrap();
    assert_eq!(info.mac, host(0));
    assert_eq!(
        sim.server.terminate(sid, None),
        Err(TerminateError::UnknownSession(sid))
    );
    sim.run_for(Duration::from_secs(1));
    assert!(sim.client_events[0].contains(&ClientEvent::Terminated {
        session_id: sid,
        by_peer: true,
        reason: Some(b"administrative reset".to_vec()),
    }));
    assert!(sim.server_events.contains(&Event::SessionTerminated {
        session_id: sid,
        by_peer: false,
        reason: Some(b"administrative reset".to_vec()),
    }));
    assert_eq!(sim.counted(Code::Padt, Direction::Tx), 1);
    assert_eq!(sim.server.session_count(), 0);
}

#[test]
fn padt_from_a_stranger_is_refused() {
    let t0 = Instant::now();
    let mut sim = up(t0, 1);
    let (sid, _) = sim.established()[0];
    let padt = DiscoveryRepr::new(Code::Padt, sid);
    // Another MAC, the right MAC on another VLAN, and an unknown session.
    sim.server
        .handle_frame(t0, &build(AC_MAC, host(99), VlanStack::new(), &padt));
    sim.server.handle_frame(
        t0,
        &build(
            AC_MAC,
            host(0),
            VlanStack::single(VlanTag::customer(5).unwrap()),
            &padt,
        ),
    );
    let other = DiscoveryRepr::new(Code::Padt, sid.wrapping_add(1).max(1));
    sim.server
        .handle_frame(t0, &build(AC_MAC, host(0), VlanStack::new(), &other));
    assert_eq!(
        refusals(&events(&mut sim.server)),
        vec![RefusalReason::UnknownSession; 3]
    );
    assert_eq!(sim.server.session_count(), 1);
}

// ---------------------------------------------------------------------------
// Client timers
// ---------------------------------------------------------------------------

#[test]
fn client_padi_backoff_then_failure() {
    let t0 = Instant::now();
    let mut c = client(
        1,
        ClientConfig {
            initial_timeout: Duration::from_secs(1),
            max_timeout: Duration::from_secs(4),
            max_padi_attempts: 5,
            ..ClientConfig::default()
        },
    );
    c.start(t0);
    let mut sent_at = Vec::new();
    let mut now = t0;
    loop {
        for f in drain_client(&mut c) {
            assert_eq!(dissect(&f).1.code, Code::Padi);
            assert_eq!(dissect(&f).0.dst, MacAddress::BROADCAST);
            sent_at.push(now - t0);
        }
        let Some(at) = c.poll_timeout() else { break };
        // Early wake-ups do nothing.
        c.handle_timeout(at - Duration::from_millis(1));
        assert!(drain_client(&mut c).is_empty());
        now = at;
        c.handle_timeout(now);
    }
    let secs: Vec<u64> = sent_at.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, vec![0, 1, 3, 7, 11], "1, 2, 4, 4 (capped) s apart");
    assert_eq!(now - t0, Duration::from_secs(15));
    assert_eq!(c.state(), &ClientState::Failed);
    assert!(client_events(&mut c).contains(&ClientEvent::Failed(ClientFailure::NoOffer)));
    // A failed client can start over.
    c.start(now);
    assert_eq!(c.state(), &ClientState::Discovering);
}

#[test]
fn client_padr_retransmits_then_fails_when_pads_never_arrive() {
    let t0 = Instant::now();
    let c = client(
        1,
        ClientConfig {
            max_padr_attempts: 3,
            ..ClientConfig::default()
        },
    );
    let mut sim = Sim::new(server(config(), t0), vec![c], PERFECT, 9, t0);
    sim.blackhole = vec![Code::Pads];
    sim.start_all();
    sim.run_for(Duration::from_secs(60));
    assert!(sim.client_events[0].contains(&ClientEvent::Failed(ClientFailure::NoConfirmation)));
    assert_eq!(sim.counted(Code::Padr, Direction::Rx), 3);
    // Every retransmitted PADR got the same session back.
    assert_eq!(sim.counted(Code::Pads, Direction::Tx), 3);
    assert_eq!(sim.server.session_count(), 1);
}

#[test]
fn client_chooses_by_ac_name_and_ignores_strangers() {
    let t0 = Instant::now();
    let mut c = client(
        1,
        ClientConfig {
            ac_name: Some(b"wanted".to_vec()),
            ..ClientConfig::default()
        },
    );
    c.start(t0);
    drain_client(&mut c);
    let offer = |name: &[u8], hu: &[u8], ac: MacAddress| {
        let mut p = DiscoveryRepr::new(Code::Pado, 0);
        p.tags = vec![
            Tag::AcName(name.to_vec()),
            Tag::ServiceName(vec![]),
            Tag::HostUniq(hu.to_vec()),
        ];
        build(host(1), ac, VlanStack::new(), &p)
    };
    let hu = c.host_uniq().to_vec();
    let other_ac = MacAddress::new([2, 0xac, 0, 0, 0, 2]);
    c.handle_frame(t0, &offer(b"other", &hu, other_ac));
    c.handle_frame(t0, &offer(b"wanted", b"not-ours", AC_MAC));
    assert_eq!(c.state(), &ClientState::Discovering);
    c.handle_frame(t0, &offer(b"wanted", &hu, AC_MAC));
    assert_eq!(c.state(), &ClientState::Requesting { ac: AC_MAC });
    // First offer wins: later offers are ignored.
    c.handle_frame(t0, &offer(b"wanted", &hu, other_ac));
    assert_eq!(c.state(), &ClientState::Requesting { ac: AC_MAC });
    let out = drain_client(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(dissect(&out[0]).0.dst, AC_MAC);
    let ignored = client_events(&mut c)
        .iter()
        .filter(|e| matches!(e, ClientEvent::Ignored { code: Code::Pado }))
        .count();
    assert_eq!(ignored, 3);
    // A PADS from another AC does not count.
    let mut pads = DiscoveryRepr::new(Code::Pads, 0x1234);
    pads.tags = vec![Tag::ServiceName(vec![]), Tag::HostUniq(hu)];
    c.handle_frame(t0, &build(host(1), other_ac, VlanStack::new(), &pads));
    assert_eq!(c.state(), &ClientState::Requesting { ac: AC_MAC });
    c.handle_frame(t0, &build(host(1), AC_MAC, VlanStack::new(), &pads));
    assert_eq!(
        c.state(),
        &ClientState::Established {
            session_id: 0x1234,
            ac: AC_MAC
        }
    );
}

// ---------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------

#[test]
fn malformed_frames_are_dropped_with_an_event() {
    let t0 = Instant::now();
    let mut s = server(config(), t0);
    let good = padi(host(1), b"", vec![]);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("ethernet header only", good[..14].to_vec()),
        ("truncated PPPoE header", good[..17].to_vec()),
        ("LENGTH beyond the frame", good[..good.len() - 2].to_vec()),
    ];
    let mut bad_version = good.clone();
    bad_version[14] = 0x21;
    cases.push(("VER 2", bad_version));
    let mut bad_tag = good.clone();
    bad_tag[20 + 2] = 0xff; // Service-Name TAG_LENGTH overruns.
    cases.push(("tag overrun", bad_tag));
    let mut nonzero_sid = DiscoveryRepr::new(Code::Padi, 7);
    nonzero_sid.tags.push(Tag::ServiceName(vec![]));
    cases.push((
        "PADI with SESSION_ID",
        build(
            MacAddress::BROADCAST,
            host(1),
            VlanStack::new(),
            &nonzero_sid,
        ),
    ));
    let no_service = DiscoveryRepr::new(Code::Padi, 0);
    cases.push((
        "PADI without Service-Name",
        build(
            MacAddress::BROADCAST,
            host(1),
            VlanStack::new(),
            &no_service,
        ),
    ));
    cases.push((
        "PADR without Service-Name",
        build(
            AC_MAC,
            host(1),
            VlanStack::new(),
            &DiscoveryRepr::new(Code::Padr, 0),
        ),
    ));
    let mcast = MacAddress::new([0x01, 0, 0x5e, 0, 0, 1]);
    cases.push(("multicast source", padi(mcast, b"", vec![])));
    let mut mpl = DiscoveryRepr::new(Code::Padi, 0);
    mpl.tags = vec![Tag::ServiceName(vec![])];
    let mut bytes = build(MacAddress::BROADCAST, host(1), VlanStack::new(), &mpl);
    bytes.extend_from_slice(&[0x01, 0x20, 0x00, 0x01, 0x05]); // PPP-Max-Payload of 1 byte
    let len = u16::from_be_bytes([bytes[18], bytes[19]]) + 5;
    bytes[18..20].copy_from_slice(&len.to_be_bytes());
    cases.push(("1-byte PPP-Max-Payload", bytes));
    for (what, frame) in cases {
        s.handle_frame(t0, &frame);
        assert!(drain_server(&mut s).is_empty(), "{what}");
        assert_eq!(
            refusals(&events(&mut s)),
            vec![RefusalReason::Malformed],
            "{what}"
        );
    }
    // Codes the server never accepts.
    for code in [Code::Pado, Code::Pads, Code::Session, Code::Unknown(0x42)] {
        let mut p = DiscoveryRepr::new(code, 0);
        p.tags.push(Tag::ServiceName(vec![]));
        s.handle_frame(t0, &build(AC_MAC, host(1), VlanStack::new(), &p));
        assert_eq!(
            refusals(&events(&mut s)),
            vec![RefusalReason::UnexpectedCode],
            "{code:?}"
        );
    }
    // Frames that are not for us: no event, no answer.
    s.handle_frame(t0, &build(host(3), host(1), VlanStack::new(), &mpl));
    let mut own = mpl;
    own.code = Code::Pado;
    s.handle_frame(t0, &build(host(1), AC_MAC, VlanStack::new(), &own));
    assert!(events(&mut s).is_empty());
    assert!(drain_server(&mut s).is_empty());
    // A Host-Uniq so large the PADO would not fit is refused.
    let huge = padi(host(1), b"", vec![Tag::HostUniq(vec![0xab; 1470])]);
    s.handle_frame(t0, &huge);
    assert!(drain_server(&mut s).is_empty());
    assert_eq!(
        refusals(&events(&mut s)),
        vec![RefusalReason::ResponseTooLarge]
    );
    // Packets arriving without an Ethernet header take the same path.
    s.handle_packet(t0, VlanStack::new(), host(1), &[0x11, 0x09, 0, 0, 0, 9]);
    assert_eq!(refusals(&events(&mut s)), vec![RefusalReason::Malformed]);
    s.handle_packet(t0, VlanStack::new(), host(1), &good[14..]);
    assert_eq!(drain_server(&mut s).len(), 1);
}

#[test]
fn ten_thousand_random_frames_never_panic() {
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut cfg = config();
    cfg.max_sessions_per_mac = 100;
    cfg.pado_delay = Duration::from_millis(5);
    cfg.pado_delay_max = Duration::from_millis(50);
    cfg.padi_rate = 1000;
    cfg.padi_burst = 100;
    cfg.padi_rate_per_mac = 50;
    cfg.padi_burst_per_mac = 10;
    let mut s = server(cfg, t0);
    let mut c = client(1, ClientConfig::default());
    c.start(t0);
    // Seeds: valid frames of every kind, mutated at random.
    let pado = get_pado(&mut server(config(), t0), t0, host(1), vec![line_id_tag()]);
    let mut seeds = vec![
        padi(host(1), b"", vec![line_id_tag(), Tag::PppMaxPayload(1500)]),
        padr_for(host(1), &pado, b"", vec![Tag::HostUniq(b"x".to_vec())]),
        build(
            AC_MAC,
            host(1),
            VlanStack::single(VlanTag::customer(3).unwrap()),
            &DiscoveryRepr::new(Code::Padt, 1),
        ),
        drain_client(&mut c).remove(0),
    ];
    let mut pado_frame = build(host(1), AC_MAC, VlanStack::new(), &pado);
    seeds.push(pado_frame.clone());
    pado_frame.truncate(30);
    seeds.push(pado_frame);
    let mut now = t0;
    let mut buf = vec![0; MAX_FRAME_LEN];
    let mut answered: HashMap<Code, usize> = HashMap::new();
    for i in 0..10_000u32 {
        let mut frame = if rng.random_range(0..10) == 0 {
            let len = rng.random_range(0..200);
            let mut f = vec![0; len];
            rng.fill_bytes(&mut f);
            f
        } else {
            seeds[rng.random_range(0..seeds.len())].clone()
        };
        for _ in 0..rng.random_range(0..6) {
            if frame.is_empty() {
                break;
            }
            let at = rng.random_range(0..frame.len());
            match rng.random_range(0..4) {
                0 => frame[at] = rng.random(),
                1 => frame.truncate(at),
                2 => frame.insert(at, rng.random()),
                _ => frame[at] ^= 1 << rng.random_range(0..8),
            }
        }
        now += Duration::from_millis(rng.random_range(0..20));
        s.handle_frame(now, &frame);
        c.handle_frame(now, &frame);
        if i % 7 == 0 {
            s.handle_packet(
                now,
                VlanStack::new(),
                host(i),
                frame.get(14..).unwrap_or(&[]),
            );
        }
        s.handle_timeout(now);
        c.handle_timeout(now);
        while let Some(t) = s.poll_transmit(&mut buf) {
            let (_, repr) = dissect(&buf[..t.len]);
            *answered.entry(repr.code).or_default() += 1;
        }
        while let Some(t) = c.poll_transmit(&mut buf) {
            dissect(&buf[..t.len]);
        }
        while s.poll_event().is_some() {}
        while c.poll_event().is_some() {}
        if i % 1000 == 0 {
            let first = s.sessions().next().map(|x| x.session_id);
            if let Some(id) = first {
                s.terminate(id, Some("churn")).unwrap();
            }
        }
    }
    assert!(
        answered.get(&Code::Pado).copied().unwrap_or(0) > 0,
        "{answered:?}"
    );
    // A too-small buffer drops the frame instead of panicking.
    s.handle_frame(now, &padi(host(77), b"", vec![]));
    s.handle_timeout(now + Duration::from_secs(1));
    let mut small = [0u8; 20];
    assert!(s.poll_transmit(&mut small).is_none());
}

#[test]
fn config_from_the_pppoe_section() {
    use tunnelnas::config::{Pppoe, PppoeInterface};
    let section = Pppoe {
        ac_name: "bras-1".into(),
        service_names: vec!["internet".into()],
        max_sessions_per_interface: 100,
        max_payload: 1500,
        ..Pppoe::default()
    };
    let iface = PppoeInterface {
        name: "eth1".into(),
        service_names: Some(vec!["wholesale".into(), "iptv".into()]),
        max_sessions: Some(7),
        vlans: Vec::new(),
    };
    let c = tunnelnas::node::convert::discovery_config(&section, Some(&iface));
    assert_eq!(c.ac_name, b"bras-1");
    assert_eq!(
        c.service_names,
        vec![b"wholesale".to_vec(), b"iptv".to_vec()]
    );
    assert_eq!(c.max_sessions, 7);
    assert_eq!(c.max_payload, 1500);
    let d = tunnelnas::node::convert::discovery_config(&section, None);
    assert_eq!(d.service_names, vec![b"internet".to_vec()]);
    assert_eq!(d.max_sessions, 100);
    let def = DiscoveryConfig::default();
    assert_eq!(def.ac_name, b"tunnelnas");
    assert_eq!(def.max_sessions_per_mac, 2);
    assert_eq!(def.cookie_lifetime, Duration::from_secs(30));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Whatever the link does, the two sides agree: every client that is up
    /// has its session (same id, same MAC) on the server; every server
    /// session belongs to a client that is up or that gave up waiting for
    /// the PADS (the server cannot know); ids are unique.
    #[test]
    fn both_sides_agree_on_sessions_whatever_the_link_does(
        seed in 0u64..1_000_000,
        clients in 1u32..12,
        loss in 0u32..60,
        dup in 0u32..50,
        jitter in 0u64..200,
    ) {
        let t0 = Instant::now();
        let cs = (0..clients)
            .map(|i| client(i, ClientConfig { max_padi_attempts: 4, max_padr_attempts: 3, ..ClientConfig::default() }))
            .collect();
        let link = LinkModel { loss_percent: loss, duplicate_percent: dup, max_jitter_ms: jitter };
        let mut sim = Sim::new(server(config(), t0), cs, link, seed, t0);
        sim.start_all();
        sim.run_for(Duration::from_secs(120));
        let mut ids = BTreeSet::new();
        for (i, c) in sim.clients.iter().enumerate() {
            match c.state() {
                ClientState::Established { session_id, ac } => {
                    proptest::prop_assert_eq!(*ac, AC_MAC);
                    let info = sim.server.session(*session_id);
                    proptest::prop_assert!(info.is_some_and(|s| s.mac == host(i as u32)));
                    proptest::prop_assert!(ids.insert(*session_id));
                }
                ClientState::Failed => {}
                other => proptest::prop_assert!(false, "client {} still {:?}", i, other),
            }
        }
        for session in sim.server.sessions() {
            let owner = sim.clients.iter().find(|c| c.local_mac() == session.mac);
            let ok = owner.is_some_and(|c| match c.state() {
                ClientState::Established { session_id, .. } => *session_id == session.session_id,
                ClientState::Failed => true,
                _ => false,
            });
            proptest::prop_assert!(ok, "orphan session {:?}", session);
        }
    }
}

// ---------------------------------------------------------------------------
// Per-VLAN rules ([[pppoe.interface.vlan]])
// ---------------------------------------------------------------------------

fn c_tag(vid: u16) -> VlanStack {
    VlanStack::single(VlanTag::customer(vid).unwrap())
}

fn qinq(svid: u16, cvid: u16) -> VlanStack {
    VlanStack::double(
        VlanTag::service(svid).unwrap(),
        VlanTag::customer(cvid).unwrap(),
    )
}

fn rule(svlan: Option<(u16, u16)>, cvlan: Option<(u16, u16)>) -> VlanRule {
    VlanRule {
        svlan: svlan.map(|(l, h)| l..=h),
        cvlan: cvlan.map(|(l, h)| l..=h),
        ..VlanRule::default()
    }
}

fn names(names: &[&str]) -> Option<Vec<Vec<u8>>> {
    Some(names.iter().map(|n| n.as_bytes().to_vec()).collect())
}

fn padi_on(vlans: VlanStack, src: MacAddress, service: &[u8]) -> Vec<u8> {
    let mut repr = DiscoveryRepr::new(Code::Padi, 0);
    repr.tags.push(Tag::ServiceName(service.to_vec()));
    build(MacAddress::BROADCAST, src, vlans, &repr)
}

/// The server's answer to a PADI on `vlans`, if any; checks it goes back
/// on the same tags.
fn pado_on(
    s: &mut Discovery,
    now: Instant,
    vlans: VlanStack,
    src: MacAddress,
    service: &[u8],
) -> Option<DiscoveryRepr> {
    s.handle_frame(now, &padi_on(vlans, src, service));
    let frames = drain_server(s);
    assert!(frames.len() <= 1, "{} answers to one PADI", frames.len());
    frames.first().map(|f| {
        let (eth, pado) = dissect(f);
        assert_eq!(eth.vlans, vlans, "PADO on the PADI's tags");
        assert_eq!(eth.dst, src);
        assert_eq!(pado.code, Code::Pado);
        pado
    })
}

/// The server's answer to a PADR on `vlans` answering `pado`, if any.
fn pads_on(
    s: &mut Discovery,
    now: Instant,
    vlans: VlanStack,
    src: MacAddress,
    pado: &DiscoveryRepr,
    service: &[u8],
) -> Option<DiscoveryRepr> {
    let mut repr = DiscoveryRepr::new(Code::Padr, 0);
    repr.tags.push(Tag::ServiceName(service.to_vec()));
    if let Some(c) = pado.ac_cookie() {
        repr.tags.push(Tag::AcCookie(c.to_vec()));
    }
    s.handle_frame(now, &build(AC_MAC, src, vlans, &repr));
    let frames = drain_server(s);
    assert!(frames.len() <= 1, "{} answers to one PADR", frames.len());
    frames.first().map(|f| {
        let (eth, pads) = dissect(f);
        assert_eq!(eth.vlans, vlans, "PADS on the PADR's tags");
        assert_eq!(pads.code, Code::Pads);
        pads
    })
}

/// A session for `src` on `vlans` (any service), or the refusals.
fn session_on(
    s: &mut Discovery,
    now: Instant,
    vlans: VlanStack,
    src: MacAddress,
) -> Result<u16, Vec<RefusalReason>> {
    let Some(pado) = pado_on(s, now, vlans, src, b"") else {
        return Err(refusals(&events(s)));
    };
    match pads_on(s, now, vlans, src, &pado, b"") {
        Some(pads) if pads.session_id != 0 => {
            events(s);
            Ok(pads.session_id)
        }
        _ => Err(refusals(&events(s))),
    }
}

fn offered(pado: &DiscoveryRepr) -> Vec<String> {
    pado.service_names()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

#[test]
fn without_vlan_rules_every_vlan_gets_the_interface_settings() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.service_names = vec![b"internet".to_vec()];
    let mut s = server(cfg, t0);
    for (i, vlans) in [VlanStack::new(), c_tag(100), qinq(10, 100)]
        .into_iter()
        .enumerate()
    {
        assert!(s.vlan_rule(&vlans).is_none());
        let pado = pado_on(&mut s, t0, vlans, host(i as u32), b"internet").unwrap();
        assert_eq!(offered(&pado), ["internet"]);
        assert!(session_on(&mut s, t0, vlans, host(i as u32)).is_ok());
    }
    assert_eq!(s.session_count(), 3);
}

#[test]
fn vlan_rules_give_each_vlan_its_service_names() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.service_names = vec![b"internet".to_vec()];
    cfg.vlan_rules = vec![
        VlanRule {
            service_names: names(&["business", "voip"]),
            ..rule(None, Some((100, 199)))
        },
        // An empty list accepts any Service-Name.
        VlanRule {
            service_names: names(&[]),
            ..rule(None, Some((300, 300)))
        },
    ];
    let mut s = server(cfg, t0);
    let biz = c_tag(150);
    // RFC 2516 §5.2: the PADO echoes the PADI's Service-Name and lists the
    // other services offered — the rule's, not the interface's.
    let pado = pado_on(&mut s, t0, biz, host(1), b"business").unwrap();
    assert_eq!(offered(&pado), ["business", "voip"]);
    let pado_any = pado_on(&mut s, t0, biz, host(1), b"").unwrap();
    assert_eq!(offered(&pado_any), ["", "business", "voip"]);
    events(&mut s);
    // The interface's service is not offered on the rule's VLANs …
    assert!(pado_on(&mut s, t0, biz, host(1), b"internet").is_none());
    assert_eq!(
        refusals(&events(&mut s)),
        [RefusalReason::ServiceUnavailable]
    );
    // … and a PADR for it gets Service-Name-Error (RFC 2516 §5.4).
    let pads = pads_on(&mut s, t0, biz, host(1), &pado_any, b"internet").unwrap();
    assert_eq!(pads.session_id, 0);
    assert_eq!(
        pads.error().map(|(t, _)| t),
        Some(TagType::ServiceNameError)
    );
    assert_eq!(
        refusals(&events(&mut s)),
        [RefusalReason::ServiceUnavailable]
    );
    // A PADR for the rule's service gets a session.
    let pads = pads_on(&mut s, t0, biz, host(1), &pado_any, b"voip").unwrap();
    assert_ne!(pads.session_id, 0);
    assert_eq!(pads.service_names().collect::<Vec<_>>(), [&b"voip"[..]]);
    events(&mut s);
    // VLANs outside the rule keep the interface's list.
    let other = c_tag(200);
    assert_eq!(
        offered(&pado_on(&mut s, t0, other, host(2), b"internet").unwrap()),
        ["internet"]
    );
    assert!(pado_on(&mut s, t0, other, host(2), b"business").is_none());
    // The rule with an empty list accepts anything.
    assert_eq!(
        offered(&pado_on(&mut s, t0, c_tag(300), host(3), b"whatever").unwrap()),
        ["whatever"]
    );
}

#[test]
fn vlan_rule_session_limit_refuses_padi_and_padr_and_frees_on_padt() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.vlan_rules = vec![VlanRule {
        max_sessions: Some(2),
        ..rule(None, Some((100, 101)))
    }];
    let mut s = server(cfg, t0);
    // A PADO handed out before the rule is full.
    let late_pado = pado_on(&mut s, t0, c_tag(100), host(3), b"").unwrap();
    // The rule counts its VLANs together.
    let first = session_on(&mut s, t0, c_tag(100), host(1)).unwrap();
    session_on(&mut s, t0, c_tag(101), host(2)).unwrap();
    assert_eq!(s.vlan_rule_sessions(0), 2);
    // Full: a PADI gets no PADO (RFC 2516 §5.2) …
    assert_eq!(
        session_on(&mut s, t0, c_tag(100), host(3)),
        Err(vec![RefusalReason::VlanLimit])
    );
    // … and a PADR answering an earlier PADO gets a PADS with SESSION_ID 0
    // and AC-System-Error (RFC 2516 §5.4).
    let pads = pads_on(&mut s, t0, c_tag(100), host(3), &late_pado, b"").unwrap();
    assert_eq!(pads.session_id, 0);
    assert_eq!(
        pads.error(),
        Some((
            TagType::AcSystemError,
            &b"session limit reached on this VLAN"[..]
        ))
    );
    assert_eq!(refusals(&events(&mut s)), [RefusalReason::VlanLimit]);
    // Other VLANs of the interface are not affected.
    session_on(&mut s, t0, c_tag(102), host(4)).unwrap();
    session_on(&mut s, t0, VlanStack::new(), host(5)).unwrap();
    assert_eq!(s.vlan_rule_sessions(0), 2);
    // A PADT from the subscriber frees a slot of the rule.
    let mut padt = DiscoveryRepr::new(Code::Padt, first);
    padt.tags.clear();
    s.handle_frame(t0, &build(AC_MAC, host(1), c_tag(100), &padt));
    assert_eq!(s.vlan_rule_sessions(0), 1);
    events(&mut s);
    let third = session_on(&mut s, t0, c_tag(100), host(3)).unwrap();
    assert_eq!(s.vlan_rule_sessions(0), 2);
    // So does ending a session from our side.
    s.terminate(third, Some("admin")).unwrap();
    drain_server(&mut s);
    assert_eq!(s.vlan_rule_sessions(0), 1);
    // Host 2 on VLAN 101 and hosts 4 and 5 outside the rule.
    assert_eq!(s.session_count(), 3);
}

#[test]
fn interface_and_mac_limits_still_apply_under_a_vlan_rule() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_sessions = 2;
    cfg.max_sessions_per_mac = 1;
    cfg.vlan_rules = vec![VlanRule {
        max_sessions: Some(100),
        ..rule(None, Some((100, 100)))
    }];
    let mut s = server(cfg, t0);
    session_on(&mut s, t0, c_tag(100), host(1)).unwrap();
    assert_eq!(
        session_on(&mut s, t0, c_tag(100), host(1)),
        Err(vec![RefusalReason::MacLimit])
    );
    session_on(&mut s, t0, c_tag(100), host(2)).unwrap();
    assert_eq!(
        session_on(&mut s, t0, c_tag(100), host(3)),
        Err(vec![RefusalReason::InterfaceFull])
    );
}

#[test]
fn refused_vlan_gets_no_pado_no_pads_and_takes_no_padi_token() {
    let t0 = Instant::now();
    let mut cfg = config();
    // One PADI per second on the whole interface.
    cfg.padi_rate = 1;
    cfg.padi_burst = 1;
    cfg.vlan_rules = vec![VlanRule {
        refuse: true,
        ..rule(Some((666, 666)), None)
    }];
    let mut s = server(cfg, t0);
    let refused = qinq(666, 5);
    // RFC 2516 §5.2: "If the Access Concentrator can not serve the PADI it
    // MUST NOT respond with a PADO." Only an event tells.
    for i in 0..20 {
        assert!(pado_on(&mut s, t0, refused, host(i), b"").is_none());
    }
    let evs = events(&mut s);
    assert_eq!(refusals(&evs), vec![RefusalReason::VlanRefused; 20]);
    assert!(evs.iter().all(|e| match e {
        Event::Refused { code, .. } => *code == Code::Padi,
        Event::PacketCounted { direction, .. } => *direction == Direction::Rx,
        _ => false,
    }));
    // The storm took no token: the interface's one PADI is still there.
    let pado = pado_on(&mut s, t0, qinq(667, 5), host(100), b"").unwrap();
    assert!(pado_on(&mut s, t0, qinq(667, 5), host(101), b"").is_none());
    assert_eq!(refusals(&events(&mut s)), [RefusalReason::RateLimited]);
    // A PADR on the refused VLAN (with a cookie issued elsewhere) gets no
    // answer either, not even a PADS with an error.
    assert!(pads_on(&mut s, t0, refused, host(100), &pado, b"").is_none());
    assert_eq!(refusals(&events(&mut s)), [RefusalReason::VlanRefused]);
    assert_eq!(s.session_count(), 0);
    assert!(s.vlan_rule(&refused).is_some_and(|r| r.refuse));
}

#[test]
fn vlan_rules_match_qinq_single_tagged_and_untagged_frames_first_match_wins() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.service_names = vec![b"interface".to_vec()];
    cfg.vlan_rules = vec![
        // 0: S-VLAN 10 and C-VLAN 100 (QinQ only).
        VlanRule {
            service_names: names(&["s10-c100"]),
            ..rule(Some((10, 10)), Some((100, 100)))
        },
        // 1: C-VLAN 100 under any S-VLAN, or the single tag 100.
        VlanRule {
            service_names: names(&["c100"]),
            ..rule(None, Some((100, 100)))
        },
        // 2: every C-VLAN under S-VLAN 20, refused.
        VlanRule {
            refuse: true,
            ..rule(Some((20, 20)), None)
        },
        // 3: the rest of S-VLANs 1-30.
        VlanRule {
            service_names: names(&["s1-30"]),
            ..rule(Some((1, 30)), None)
        },
        // 4: everything else, untagged frames included.
        VlanRule {
            service_names: names(&["rest"]),
            ..VlanRule::default()
        },
    ];
    let mut s = server(cfg.clone(), t0);
    // (tags, rule index that applies, the service it offers or None when
    // refused)
    let table = [
        (qinq(10, 100), 0, Some("s10-c100")),
        (qinq(11, 100), 1, Some("c100")),
        (qinq(20, 100), 1, Some("c100")), // first match wins over rule 2
        (c_tag(100), 1, Some("c100")),
        (qinq(20, 5), 2, None),
        (c_tag(20), 4, Some("rest")), // a single tag is a C-tag
        (qinq(10, 5), 3, Some("s1-30")),
        (qinq(31, 5), 4, Some("rest")),
        (c_tag(7), 4, Some("rest")),
        (c_tag(0), 4, Some("rest")), // priority-tagged
        (VlanStack::new(), 4, Some("rest")),
    ];
    for (i, (vlans, index, service)) in table.iter().enumerate() {
        assert_eq!(
            s.vlan_rule(vlans),
            cfg.vlan_rules.get(*index),
            "row {i}: {vlans:?}"
        );
        let mac = host(i as u32);
        match service {
            Some(name) => {
                let pado = pado_on(&mut s, t0, *vlans, mac, name.as_bytes())
                    .unwrap_or_else(|| panic!("row {i}: {:?}", events(&mut s)));
                assert_eq!(offered(&pado), [*name], "row {i}");
                // The interface's own list does not apply where a rule has one.
                assert!(pado_on(&mut s, t0, *vlans, mac, b"interface").is_none());
                assert_eq!(
                    refusals(&events(&mut s)),
                    [RefusalReason::ServiceUnavailable],
                    "row {i}"
                );
                let id = session_on(&mut s, t0, *vlans, mac).unwrap();
                assert_eq!(s.session(id).unwrap().vlans, *vlans);
            }
            None => {
                assert!(pado_on(&mut s, t0, *vlans, mac, b"").is_none());
                assert_eq!(
                    refusals(&events(&mut s)),
                    [RefusalReason::VlanRefused],
                    "row {i}"
                );
            }
        }
    }
    // Sessions were counted against the rule that applied.
    let counts: Vec<usize> = (0..5).map(|i| s.vlan_rule_sessions(i)).collect();
    assert_eq!(counts, [1, 3, 0, 1, 5]);
}

#[test]
fn clients_on_a_limited_vlan_over_a_lossy_link() {
    // Six hosts on C-VLAN 100 (limit 4) and two on C-VLAN 200 (no rule),
    // through loss, duplication and reordering: the limit holds, the
    // other VLAN is served, and the server's count matches its sessions.
    for seed in 0..8 {
        let t0 = Instant::now();
        let mut cfg = config();
        cfg.vlan_rules = vec![VlanRule {
            max_sessions: Some(4),
            ..rule(None, Some((100, 100)))
        }];
        let clients = (0..8)
            .map(|n: u32| {
                let vlans = if n < 6 { c_tag(100) } else { c_tag(200) };
                let mut s = [0; 32];
                s[..4].copy_from_slice(&n.to_be_bytes());
                Client::new(
                    ClientConfig {
                        max_padi_attempts: 6,
                        max_padr_attempts: 6,
                        ..ClientConfig::default()
                    },
                    host(n),
                    vlans,
                    s,
                )
            })
            .collect();
        let link = LinkModel {
            loss_percent: 15,
            duplicate_percent: 15,
            max_jitter_ms: 50,
        };
        let mut sim = Sim::new(server(cfg, t0), clients, link, seed, t0);
        sim.start_all();
        sim.run_for(Duration::from_secs(300));
        let on_100 = sim
            .server
            .sessions()
            .filter(|s| s.vlans == c_tag(100))
            .count();
        assert!(on_100 <= 4, "seed {seed}: {on_100} sessions on VLAN 100");
        assert_eq!(sim.server.vlan_rule_sessions(0), on_100, "seed {seed}");
        let up_100 = (0..6)
            .filter(|&i| matches!(sim.clients[i].state(), ClientState::Established { .. }))
            .count();
        assert!(up_100 <= 4, "seed {seed}: {up_100} clients up on VLAN 100");
        let refused_limit = refusals(&sim.server_events)
            .into_iter()
            .filter(|r| *r == RefusalReason::VlanLimit)
            .count();
        assert!(refused_limit > 0, "seed {seed}: the limit was never hit");
        for session in sim.server.sessions() {
            assert!(
                session.vlans == c_tag(100) || session.vlans == c_tag(200),
                "{session:?}"
            );
        }
    }
    // Over a perfect link exactly four get up on VLAN 100 and both on 200.
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.vlan_rules = vec![VlanRule {
        max_sessions: Some(4),
        ..rule(None, Some((100, 100)))
    }];
    let clients = (0..8)
        .map(|n: u32| {
            let vlans = if n < 6 { c_tag(100) } else { c_tag(200) };
            let mut s = [0; 32];
            s[..4].copy_from_slice(&n.to_be_bytes());
            Client::new(ClientConfig::default(), host(n), vlans, s)
        })
        .collect();
    let mut sim = Sim::new(server(cfg, t0), clients, PERFECT, 1, t0);
    sim.start_all();
    sim.run_for(Duration::from_secs(120));
    let up: Vec<bool> = sim
        .clients
        .iter()
        .map(|c| matches!(c.state(), ClientState::Established { .. }))
        .collect();
    assert_eq!(up.iter().take(6).filter(|u| **u).count(), 4, "{up:?}");
    assert!(up[6] && up[7], "{up:?}");
    assert_eq!(sim.server.vlan_rule_sessions(0), 4);
}

#[test]
fn vlan_rules_from_a_config_file_drive_the_server() {
    use std::io::Write;
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(
        br#"
[lac]
[pppoe]
service_names = ["internet"]
[[pppoe.interface]]
name = "eth1"
[[pppoe.interface.vlan]]
svlan = 10
cvlan = "100-199"
service_names = ["business"]
max_sessions = 1
nas_port_id = "{interface}:{svlan}:{cvlan}"
[[pppoe.interface.vlan]]
svlan = "20-29"
refuse = true
[radius.group.default]
[[radius.group.default.server]]
address = "127.0.0.1"
secret = "s"
"#,
    )
    .unwrap();
    let config = tunnelnas::config::Config::load_with_env(file.path(), Vec::new()).unwrap();
    let pppoe = config.pppoe.as_ref().unwrap();
    let cfg = tunnelnas::node::convert::discovery_config(pppoe, Some(&pppoe.interfaces[0]));
    let t0 = Instant::now();
    let mut s = server(cfg, t0);
    let biz = qinq(10, 150);
    assert_eq!(
        s.vlan_rule(&biz).and_then(|r| r.nas_port_id.as_deref()),
        Some("{interface}:{svlan}:{cvlan}")
    );
    assert_eq!(
        offered(&pado_on(&mut s, t0, biz, host(1), b"business").unwrap()),
        ["business"]
    );
    session_on(&mut s, t0, biz, host(1)).unwrap();
    assert_eq!(
        session_on(&mut s, t0, qinq(10, 199), host(2)),
        Err(vec![RefusalReason::VlanLimit])
    );
    assert_eq!(
        session_on(&mut s, t0, qinq(25, 150), host(3)),
        Err(vec![RefusalReason::VlanRefused])
    );
    // Outside the rules: the section's Service-Names, no template.
    assert!(s.vlan_rule(&c_tag(150)).is_none());
    assert_eq!(
        offered(&pado_on(&mut s, t0, c_tag(150), host(4), b"").unwrap()),
        ["", "internet"]
    );
}

#[test]
fn random_discovery_on_random_vlans_keeps_the_vlan_rules() {
    // Twenty thousand PADIs, PADRs (most answering a PADO, some moved to
    // another VLAN), PADTs and terminations on random tags: after every
    // step each rule's count is the number of sessions it applies to and
    // within its limit, and nothing is ever sent on a refused VLAN.
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(0x71a);
    let mut cfg = config();
    cfg.max_sessions_per_mac = 3;
    cfg.max_sessions = 40;
    cfg.vlan_rules = vec![
        VlanRule {
            service_names: names(&["a"]),
            max_sessions: Some(3),
            ..rule(Some((2, 2)), Some((1, 3)))
        },
        VlanRule {
            refuse: true,
            ..rule(None, Some((4, 4)))
        },
        VlanRule {
            refuse: true,
            ..rule(Some((3, 3)), None)
        },
        VlanRule {
            max_sessions: Some(5),
            ..rule(None, Some((1, 5)))
        },
        VlanRule {
            service_names: names(&["b", "c"]),
            max_sessions: Some(4),
            ..VlanRule::default()
        },
    ];
    let rules = cfg.vlan_rules.clone();
    let mut s = server(cfg, t0);
    let stacks: Vec<VlanStack> = [VlanStack::new(), c_tag(0)]
        .into_iter()
        .chain((1..=7).map(c_tag))
        .chain((1..=4).flat_map(|sv| (1..=5).map(move |cv| qinq(sv, cv))))
        .collect();
    let first_rule = |v: &VlanStack| rules.iter().position(|r| r.matches(v));
    let mut pados: Vec<(MacAddress, VlanStack, DiscoveryRepr)> = Vec::new();
    let mut now = t0;
    let mut buf = vec![0; MAX_FRAME_LEN];
    let mut established = 0;
    let mut peak = vec![0; rules.len()];
    for step in 0..20_000u32 {
        now += Duration::from_millis(rng.random_range(0..5));
        let mac = host(rng.random_range(0..20));
        let vlans = stacks[rng.random_range(0..stacks.len())];
        match rng.random_range(0..10) {
            0..=3 => {
                let service = [&b""[..], b"a", b"b", b"c", b"x"][rng.random_range(0..5)];
                s.handle_frame(now, &padi_on(vlans, mac, service));
            }
            4..=7 if !pados.is_empty() => {
                let (mac, mut vlans, pado) = pados.swap_remove(rng.random_range(0..pados.len()));
                if rng.random_range(0..10) == 0 {
                    vlans = stacks[rng.random_range(0..stacks.len())];
                }
                let mut padr = DiscoveryRepr::new(Code::Padr, 0);
                let service = pado.service_name().unwrap_or_default().to_vec();
                padr.tags.push(Tag::ServiceName(service));
                if let Some(c) = pado.ac_cookie() {
                    padr.tags.push(Tag::AcCookie(c.to_vec()));
                }
                padr.tags.push(Tag::HostUniq(step.to_be_bytes().to_vec()));
                s.handle_frame(now, &build(AC_MAC, mac, vlans, &padr));
            }
            8 => {
                let owned = s
                    .sessions()
                    .map(|x| (x.session_id, x.mac, x.vlans))
                    .nth(rng.random_range(0..4));
                if let Some((id, mac, vlans)) = owned {
                    let padt = DiscoveryRepr::new(Code::Padt, id);
                    s.handle_frame(now, &build(AC_MAC, mac, vlans, &padt));
                }
            }
            _ => {
                let id = s.sessions().map(|x| x.session_id).next();
                if let Some(id) = id {
                    s.terminate(id, None).unwrap();
                }
            }
        }
        s.handle_timeout(now);
        while let Some(t) = s.poll_transmit(&mut buf) {
            let (eth, repr) = dissect(&buf[..t.len]);
            assert!(
                !first_rule(&eth.vlans).is_some_and(|i| rules[i].refuse),
                "step {step}: {:?} sent on refused {:?}",
                repr.code,
                eth.vlans
            );
            if repr.code == Code::Pado && pados.len() < 64 {
                pados.push((eth.dst, eth.vlans, repr));
            }
        }
        while let Some(e) = s.poll_event() {
            if let Event::SessionEstablished { vlans, .. } = e {
                established += 1;
                assert!(!first_rule(&vlans).is_some_and(|i| rules[i].refuse));
            }
        }
        for (i, r) in rules.iter().enumerate() {
            let under = s
                .sessions()
                .filter(|x| first_rule(&x.vlans) == Some(i))
                .count();
            assert_eq!(s.vlan_rule_sessions(i), under, "step {step} rule {i}");
            let max = r.max_sessions.map_or(usize::MAX, |m| m as usize);
            assert!(under <= max, "step {step} rule {i}: {under} > {max}");
            peak[i] = peak[i].max(under);
        }
    }
    assert!(established > 100, "only {established} sessions");
    // Every limit was reached at some point; refused VLANs never had one.
    assert_eq!(peak, [3, 0, 0, 5, 4]);
}
