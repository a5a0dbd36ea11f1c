//! The RFC 2661 §5.8 / Appendix A reliable control channel, driven in
//! virtual time: two channels over a simulated link (seeded loss,
//! duplication, reordering), and single-channel scenarios for every timer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tunnelnas::l2tp::channel::{
    ChannelConfig, ChannelError, ChannelEvent, ControlChannel, DeadCause, MAX_CONTROL_LEN,
    MAX_DIAGNOSTIC_EVENTS,
};
use tunnelnas::wire::l2tp::{Avp, ControlMessage, HiddenPadding, Hiding, MessageType, Packet};

const SECOND: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A numbered message: an ICRQ carrying `n` as its Call Serial Number.
fn numbered(n: u32) -> ControlMessage {
    ControlMessage::new(MessageType::Icrq)
        .with_ids(0, 0)
        .with_avp(Avp::CallSerialNumber(n))
}

fn number_of(msg: &ControlMessage) -> u32 {
    match msg.avp(tunnelnas::wire::l2tp::AvpType::CallSerialNumber) {
        Some(item) => match item.avp {
            Avp::CallSerialNumber(n) => n,
            ref other => panic!("unexpected AVP {other:?}"),
        },
        None => panic!("message without Call Serial Number: {msg:?}"),
    }
}

/// Ns and Nr of a datagram, and whether it is a ZLB.
fn header(datagram: &[u8]) -> (u16, u16, bool) {
    let packet = Packet::new_checked(datagram).expect("valid header");
    (
        packet.ns().expect("Ns"),
        packet.nr().expect("Nr"),
        packet.payload().is_empty(),
    )
}

fn transmit_all(channel: &mut ControlChannel, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; MAX_CONTROL_LEN];
    while let Some(len) = channel.poll_transmit(now, &mut buf) {
        // The length returned is the whole datagram (its Length field).
        let packet = Packet::new_checked(&buf[..len]).expect("a control datagram");
        assert_eq!(packet.length().map(usize::from), Some(len));
        out.push(buf[..len].to_vec());
        assert!(out.len() < 100_000, "poll_transmit does not terminate");
    }
    out
}

fn events(channel: &mut ControlChannel) -> Vec<ChannelEvent> {
    std::iter::from_fn(|| channel.poll_event()).collect()
}

fn delivered(events: &[ChannelEvent]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            ChannelEvent::Delivered(msg) => Some(number_of(msg)),
            _ => None,
        })
        .collect()
}

/// A one-way datagram path with seeded loss, duplication and reordering
/// (each copy gets its own random delay).
struct Link {
    rng: StdRng,
    loss: f64,
    duplication: f64,
    min_delay: Duration,
    jitter_ms: u64,
    in_transit: Vec<(Instant, u64, Vec<u8>)>,
    serial: u64,
    sent: u64,
    dropped: u64,
}

impl Link {
    fn new(seed: u64, loss: f64, duplication: f64, jitter_ms: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            loss,
            duplication,
            min_delay: ms(5),
            jitter_ms,
            in_transit: Vec::new(),
            serial: 0,
            sent: 0,
            dropped: 0,
        }
    }

    fn send(&mut self, now: Instant, datagram: Vec<u8>) {
        self.sent += 1;
        if self.rng.random_bool(self.loss) {
            self.dropped += 1;
            return;
        }
        let copies = if self.rng.random_bool(self.duplication) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.jitter_ms == 0 {
                0
            } else {
                self.rng.random_range(0..self.jitter_ms)
            };
            self.serial += 1;
            self.in_transit.push((
                now + self.min_delay + ms(jitter),
                self.serial,
                datagram.clone(),
            ));
        }
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_transit.iter().map(|(at, _, _)| *at).min()
    }

    fn arrivals(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut due: Vec<_> = Vec::new();
        let mut keep = Vec::new();
        for item in self.in_transit.drain(..) {
            if item.0 <= now {
                due.push(item);
            } else {
                keep.push(item);
            }
        }
        self.in_transit = keep;
        due.sort_by_key(|(at, serial, _)| (*at, *serial));
        due.into_iter().map(|(_, _, d)| d).collect()
    }
}

/// One side of the simulation: a channel, the numbers still to send and
/// the numbers received.
struct Side {
    channel: ControlChannel,
    to_send: VecDeque<u32>,
    received: Vec<u32>,
    peer_rws: u16,
    max_in_flight: u16,
    dead: bool,
}

impl Side {
    fn new(config: ChannelConfig, peer_rws: u16, count: u32, first_ns: u16, first_nr: u16) -> Self {
        let mut channel = ControlChannel::new(config).with_initial_sequence(first_ns, first_nr);
        channel.set_peer_receive_window(peer_rws);
        Self {
            channel,
            to_send: (0..count).collect(),
            received: Vec::new(),
            peer_rws,
            max_in_flight: 0,
            dead: false,
        }
    }

    /// Keeps up to `backlog` messages queued.
    fn feed(&mut self, now: Instant, backlog: usize) {
        while self.channel.unacknowledged() < backlog {
            let Some(n) = self.to_send.pop_front() else {
                break;
            };
            self.channel.send(now, numbered(n)).expect("send");
        }
    }

    /// Transmits everything the channel allows, checking the window.
    fn transmit(&mut self, now: Instant, link: &mut Link) {
        for datagram in transmit_all(&mut self.channel, now) {
            let (ns, _, zlb) = header(&datagram);
            if !zlb {
                // Never more unacknowledged messages in flight than the
                // peer's receive window (§5.8).
                let una = self
                    .channel
                    .next_ns()
                    .wrapping_sub(self.channel.unacknowledged() as u16);
                assert!(
                    ns.wrapping_sub(una) < self.peer_rws,
                    "Ns {ns} beyond window: oldest unacked {una}, RWS {}",
                    self.peer_rws
                );
            }
            assert!(self.channel.in_flight() <= self.peer_rws);
            self.max_in_flight = self.max_in_flight.max(self.channel.in_flight());
            link.send(now, datagram);
        }
    }

    fn receive(&mut self, now: Instant, link: &mut Link) {
        for datagram in link.arrivals(now) {
            // A closed channel refuses input; anything else must be accepted.
            match self.channel.handle_message(now, &datagram, None) {
                Ok(()) | Err(ChannelError::Closed) => {}
                Err(e) => panic!("valid datagram refused: {e}"),
            }
        }
        for event in events(&mut self.channel) {
            match event {
                ChannelEvent::Delivered(msg) => self.received.push(number_of(&msg)),
                ChannelEvent::PeerDead { .. } => self.dead = true,
                _ => {}
            }
        }
    }

    fn done(&self) -> bool {
        self.to_send.is_empty() && self.channel.unacknowledged() == 0
    }
}

#[test]
fn lossy_link_delivers_10000_messages_in_order_exactly_once_each_way() {
    const COUNT: u32 = 10_000;
    let config = ChannelConfig {
        receive_window: 16,
        // 20 % loss on each leg makes six losses of one message and its
        // acknowledgements in a row likely over 10,000 messages: the limit
        // is raised so this test is about delivery, not giving up.
        max_retransmits: 30,
        hello_interval: None,
        ..ChannelConfig::default()
    };
    let small_window = ChannelConfig {
        receive_window: 4,
        ..config
    };
    // A→B starts near the top of the sequence space so its Ns wraps
    // 65535→0 (10,000 messages from 60,000), and B→A's Nr with it.
    let mut a = Side::new(config, 4, COUNT, 60_000, 1_000);
    let mut b = Side::new(small_window, 16, COUNT, 1_000, 60_000);
    let mut ab = Link::new(1, 0.2, 0.1, 40);
    let mut ba = Link::new(2, 0.2, 0.1, 40);
    let elapsed = run_pair_until_delivered(
        &mut a,
        &mut b,
        &mut ab,
        &mut ba,
        COUNT,
        Duration::from_secs(1_000_000),
    );
    eprintln!(
        "virtual time {elapsed:?}; A {:?} max in flight {}; B {:?} max in flight {}; A→B dropped {}/{}",
        a.channel.stats(),
        a.max_in_flight,
        b.channel.stats(),
        b.max_in_flight,
        ab.dropped,
        ab.sent
    );
    let expected: Vec<u32> = (0..COUNT).collect();
    assert_eq!(b.received, expected, "A→B");
    assert_eq!(a.received, expected, "B→A");
    // The link really was lossy, and the channel really recovered.
    assert!(ab.dropped > u64::from(COUNT) / 10, "{}", ab.dropped);
    assert!(a.channel.stats().retransmits > 0);
    assert!(b.channel.stats().duplicates > 0);
    assert!(b.channel.stats().out_of_order > 0);
    // Stale acknowledgements (reordered, duplicated) are not "invalid".
    assert_eq!(a.channel.stats().invalid_acks, 0);
    assert_eq!(b.channel.stats().invalid_acks, 0);
    // Windows honoured (checked per datagram) and reached.
    assert_eq!(a.max_in_flight, 4);
    assert!(b.max_in_flight > 4 && b.max_in_flight <= 16);
    assert!(elapsed > Duration::ZERO);
}

#[test]
fn lossy_links_with_other_seeds_and_heavier_reordering() {
    const COUNT: u32 = 1_000;
    let config = ChannelConfig {
        receive_window: 8,
        max_retransmits: 30,
        hello_interval: None,
        ..ChannelConfig::default()
    };
    for seed in 10..20 {
        let first = (seed as u16).wrapping_mul(6_553);
        let mut a = Side::new(config.clone(), 8, COUNT, first, first.wrapping_add(1));
        let mut b = Side::new(config.clone(), 8, COUNT, first.wrapping_add(1), first);
        // Jitter of up to 1.5 s: reordering across retransmissions.
        let mut ab = Link::new(seed, 0.2, 0.2, 1_500);
        let mut ba = Link::new(seed + 100, 0.2, 0.2, 1_500);
        run_pair_until_delivered(
            &mut a,
            &mut b,
            &mut ab,
            &mut ba,
            COUNT,
            Duration::from_secs(1_000_000),
        );
        let expected: Vec<u32> = (0..COUNT).collect();
        assert_eq!(b.received, expected, "seed {seed} A→B");
        assert_eq!(a.received, expected, "seed {seed} B→A");
    }
}

/// Runs both sides until each has delivered `count` messages; returns the
/// virtual time used.
fn run_pair_until_delivered(
    a: &mut Side,
    b: &mut Side,
    ab: &mut Link,
    ba: &mut Link,
    count: u32,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    let mut now = start;
    let count = count as usize;
    loop {
        for _ in 0..3 {
            if a.channel.poll_timeout().is_some_and(|t| t <= now) {
                a.channel.handle_timeout(now);
            }
            if b.channel.poll_timeout().is_some_and(|t| t <= now) {
                b.channel.handle_timeout(now);
            }
            a.feed(now, 64);
            b.feed(now, 64);
            a.transmit(now, ab);
            b.transmit(now, ba);
            b.receive(now, ab);
            a.receive(now, ba);
        }
        assert!(
            !a.dead && !b.dead,
            "peer declared dead at {:?}",
            now - start
        );
        assert!(a.received.len() <= count && b.received.len() <= count);
        if a.done() && b.done() && a.received.len() == count && b.received.len() == count {
            return now - start;
        }
        let next = [
            a.channel.poll_timeout(),
            b.channel.poll_timeout(),
            ab.next_arrival(),
            ba.next_arrival(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("something pending while not done");
        now = next.max(now);
        assert!(now - start < limit, "not done after {limit:?}");
    }
}

/// Two channels without loss, no HELLO, immediate acks by default.
fn quiet_config() -> ChannelConfig {
    ChannelConfig {
        hello_interval: None,
        ..ChannelConfig::default()
    }
}

#[test]
fn lossless_pair_reaches_but_never_exceeds_the_peer_window() {
    let mut a = Side::new(quiet_config(), 4, 200, 0, 0);
    let mut b = Side::new(quiet_config(), 4, 0, 0, 0);
    let mut ab = Link::new(3, 0.0, 0.0, 0);
    let mut ba = Link::new(4, 0.0, 0.0, 0);
    let start = Instant::now();
    let mut now = start;
    while b.received.len() < 200 || !a.done() {
        a.feed(now, 1000);
        if a.channel.poll_timeout().is_some_and(|t| t <= now) {
            a.channel.handle_timeout(now);
        }
        if b.channel.poll_timeout().is_some_and(|t| t <= now) {
            b.channel.handle_timeout(now);
        }
        a.transmit(now, &mut ab);
        b.transmit(now, &mut ba);
        b.receive(now, &mut ab);
        a.receive(now, &mut ba);
        now = [
            a.channel.poll_timeout(),
            b.channel.poll_timeout(),
            ab.next_arrival(),
            ba.next_arrival(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now)
        .max(now);
        assert!(now - start < Duration::from_secs(600));
    }
    assert_eq!(b.received, (0..200).collect::<Vec<_>>());
    assert_eq!(a.max_in_flight, 4);
    assert_eq!(a.channel.stats().retransmits, 0);
    assert_eq!(a.channel.stats().window_stalls, 199);
    // With nothing sent back, every acknowledgement was a ZLB.
    assert!(b.channel.stats().zlbs_sent > 0);
}

#[test]
fn sequence_numbers_wrap_from_65535_to_0() {
    let now = Instant::now();
    let mut a = ControlChannel::new(quiet_config()).with_initial_sequence(65_533, 0);
    let mut b = ControlChannel::new(ChannelConfig {
        ack_delay: Duration::ZERO,
        ..quiet_config()
    })
    .with_initial_sequence(0, 65_533);
    for n in 0..6 {
        a.send(now, numbered(n)).unwrap();
    }
    let mut seen_ns = Vec::new();
    let mut got = Vec::new();
    for _ in 0..20 {
        for d in transmit_all(&mut a, now) {
            let (ns, _, zlb) = header(&d);
            assert!(!zlb);
            seen_ns.push(ns);
            b.handle_message(now, &d, None).unwrap();
        }
        got.extend(delivered(&events(&mut b)));
        for d in transmit_all(&mut b, now) {
            a.handle_message(now, &d, None).unwrap();
        }
        if a.unacknowledged() == 0 {
            break;
        }
    }
    assert_eq!(seen_ns, [65_533, 65_534, 65_535, 0, 1, 2]);
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    assert_eq!(b.expected_ns(), 3);
    assert_eq!(a.next_ns(), 3);
    // A message from before the wrap is now a duplicate (re-acked), not new.
    let old = ControlMessage {
        ns: 65_535,
        ..numbered(99)
    }
    .to_vec(None)
    .unwrap();
    b.handle_message(now, &old, None).unwrap();
    assert_eq!(events(&mut b), [ChannelEvent::Duplicate { ns: 65_535 }]);
    let ack = transmit_all(&mut b, now);
    assert_eq!(ack.len(), 1);
    assert_eq!(header(&ack[0]), (0, 3, true));
}

/// Delivers `datagrams` to `to` one by one, each answered by its own
/// immediate ZLB, and feeds those ZLBs back to `from`.
fn ack_each(
    from: &mut ControlChannel,
    to: &mut ControlChannel,
    now: Instant,
    datagrams: Vec<Vec<u8>>,
) {
    for d in datagrams {
        to.handle_message(now, &d, None).unwrap();
        for ack in transmit_all(to, now) {
            from.handle_message(now, &ack, None).unwrap();
        }
    }
    events(to);
}

#[test]
fn slow_start_doubles_then_congestion_avoidance_then_collapse_on_timeout() {
    let now = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    a.set_peer_receive_window(16);
    let mut b = ControlChannel::new(ChannelConfig {
        receive_window: 16,
        ack_delay: Duration::ZERO,
        ..quiet_config()
    });
    for n in 0..200 {
        a.send(now, numbered(n)).unwrap();
    }
    assert_eq!(a.congestion_window(), 1);
    assert_eq!(a.slow_start_threshold(), 16);
    // Slow start: one more per ACK, so the window doubles per round trip.
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let burst = transmit_all(&mut a, now);
        rounds.push(burst.len());
        ack_each(&mut a, &mut b, now, burst);
    }
    assert_eq!(rounds, [1, 2, 4, 8, 16]);
    assert_eq!(a.congestion_window(), 16, "capped by the peer's RWS");

    // A full window is lost; the retransmission timeout collapses CWND.
    let lost = transmit_all(&mut a, now);
    assert_eq!(lost.len(), 16);
    let first_lost = header(&lost[0]).0;
    let t1 = now + SECOND;
    assert_eq!(a.poll_timeout(), Some(t1));
    a.handle_timeout(t1);
    assert_eq!(a.congestion_window(), 1);
    assert_eq!(a.slow_start_threshold(), 8);
    let retransmitted = transmit_all(&mut a, t1);
    assert_eq!(
        retransmitted.len(),
        1,
        "only the oldest message after a timeout"
    );
    assert_eq!(header(&retransmitted[0]).0, first_lost);
    assert!(events(&mut a).contains(&ChannelEvent::Retransmitted {
        ns: first_lost,
        transmissions: 2
    }));

    // Slow start again up to SSTHRESH = 8, then linear growth.
    let mut rounds = Vec::new();
    let mut windows = Vec::new();
    ack_each(&mut a, &mut b, t1, retransmitted);
    windows.push(a.congestion_window());
    for _ in 0..5 {
        let burst = transmit_all(&mut a, t1);
        rounds.push(burst.len());
        ack_each(&mut a, &mut b, t1, burst);
        windows.push(a.congestion_window());
    }
    assert_eq!(windows, [2, 4, 8, 9, 10, 11]);
    assert_eq!(rounds, [2, 4, 8, 9, 10]);
    assert_eq!(a.stats().timeouts, 1);
}

#[test]
fn backoff_is_exponential_and_capped_then_peer_dead_at_the_exact_time() {
    let start = Instant::now();
    let mut a = ControlChannel::new(ChannelConfig {
        max_retransmits: 7,
        ..quiet_config()
    });
    a.send(start, ControlMessage::new(MessageType::Sccrq))
        .unwrap();
    let mut sent_at = Vec::new();
    let mut now = start;
    let mut first = None;
    let dead_at = loop {
        for d in transmit_all(&mut a, now) {
            let bytes_without_nr = d.clone();
            match &first {
                None => first = Some(bytes_without_nr),
                Some(f) => assert_eq!(f, &bytes_without_nr, "same bytes on retransmission"),
            }
            sent_at.push((now - start).as_secs());
        }
        let Some(next) = a.poll_timeout() else {
            panic!("no timer while waiting for an ack")
        };
        now = next;
        a.handle_timeout(now);
        if let Some(cause) = a.dead_cause() {
            break (now - start, cause.clone());
        }
    };
    // 1, 2, 4, 8, 8, 8, 8 s between transmissions; dead 8 s after the last.
    assert_eq!(sent_at, [0, 1, 3, 7, 15, 23, 31, 39]);
    assert_eq!(dead_at.0, Duration::from_secs(47));
    assert_eq!(
        dead_at.1,
        DeadCause::MaxRetransmits {
            ns: 0,
            message_type: Some(MessageType::Sccrq),
            retransmits: 7,
            unacknowledged_for: Duration::from_secs(47),
        }
    );
    let evs = events(&mut a);
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, ChannelEvent::Retransmitted { .. }))
            .count(),
        7
    );
    assert!(matches!(evs.last(), Some(ChannelEvent::PeerDead { .. })));
    // Closed: no timers, no output, input and commands refused.
    assert_eq!(a.poll_timeout(), None);
    assert!(transmit_all(&mut a, now).is_empty());
    assert_eq!(
        a.send(now, ControlMessage::hello()),
        Err(ChannelError::Closed)
    );
    let zlb = ControlMessage::zlb(0, 0, 1).to_vec(None).unwrap();
    assert_eq!(a.handle_message(now, &zlb, None), Err(ChannelError::Closed));
}

#[test]
fn default_retry_limit_declares_peer_dead_after_31_seconds() {
    let start = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    a.send(start, ControlMessage::new(MessageType::Sccrq))
        .unwrap();
    let mut now = start;
    let mut transmissions = 0;
    while a.dead_cause().is_none() {
        transmissions += transmit_all(&mut a, now).len();
        now = a.poll_timeout().unwrap();
        a.handle_timeout(now);
    }
    assert_eq!(transmissions, 6, "first transmission and 5 retransmissions");
    assert_eq!(now - start, Duration::from_secs(31));
}

#[test]
fn an_ack_resets_the_backoff_for_the_next_message() {
    let start = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    a.send(start, numbered(0)).unwrap();
    a.send(start, numbered(1)).unwrap();
    assert_eq!(transmit_all(&mut a, start).len(), 1);
    // Two timeouts: 1 s then 2 s.
    a.handle_timeout(start + SECOND);
    transmit_all(&mut a, start + SECOND);
    assert_eq!(a.poll_timeout(), Some(start + 3 * SECOND));
    a.handle_timeout(start + 3 * SECOND);
    transmit_all(&mut a, start + 3 * SECOND);
    assert_eq!(a.retransmit_interval(), 4 * SECOND);
    // The first message is acknowledged at 4 s: the second goes out with
    // a fresh 1 s timer.
    let t = start + 4 * SECOND;
    let ack = ControlMessage::zlb(0, 0, 1).to_vec(None).unwrap();
    a.handle_message(t, &ack, None).unwrap();
    assert_eq!(a.retransmit_interval(), SECOND);
    let out = transmit_all(&mut a, t);
    assert_eq!(out.len(), 1);
    assert_eq!(header(&out[0]).0, 1);
    assert_eq!(a.poll_timeout(), Some(t + SECOND));
    assert!(events(&mut a).contains(&ChannelEvent::Acked {
        ns: 0,
        message_type: Some(MessageType::Icrq)
    }));
}

#[test]
fn delayed_ack_is_a_zlb_after_ack_delay_unless_a_message_carries_it() {
    let t0 = Instant::now();
    let incoming = ControlMessage {
        tunnel_id: 9,
        ..numbered(7)
    }
    .to_vec(None)
    .unwrap();

    // Nothing to send: a ZLB after exactly ack_delay.
    let mut b = ControlChannel::new(quiet_config());
    b.set_peer_tunnel_id(42);
    b.handle_message(t0, &incoming, None).unwrap();
    assert_eq!(delivered(&events(&mut b)), [7]);
    assert!(transmit_all(&mut b, t0).is_empty(), "no immediate ack");
    assert!(!b.is_idle());
    assert_eq!(b.poll_timeout(), Some(t0 + ms(100)));
    assert!(transmit_all(&mut b, t0 + ms(99)).is_empty());
    b.handle_timeout(t0 + ms(100));
    let zlb = transmit_all(&mut b, t0 + ms(100));
    assert_eq!(zlb.len(), 1);
    let parsed = ControlMessage::from_bytes(&zlb[0], None).unwrap();
    assert!(parsed.is_zlb());
    assert_eq!((parsed.tunnel_id, parsed.ns, parsed.nr), (42, 0, 1));
    assert!(b.is_idle());
    assert_eq!(b.poll_timeout(), None);
    assert_eq!(b.stats().zlbs_sent, 1);
    // A ZLB takes no Ns.
    assert_eq!(b.next_ns(), 0);

    // A reply within ack_delay carries the acknowledgement: no ZLB.
    let mut b = ControlChannel::new(quiet_config());
    b.handle_message(t0, &incoming, None).unwrap();
    b.send(t0 + ms(30), ControlMessage::new(MessageType::Icrp))
        .unwrap();
    let out = transmit_all(&mut b, t0 + ms(30));
    assert_eq!(out.len(), 1);
    assert_eq!(header(&out[0]), (0, 1, false));
    assert_ne!(b.poll_timeout(), Some(t0 + ms(100)));
    b.handle_timeout(t0 + ms(100));
    assert!(transmit_all(&mut b, t0 + ms(100)).is_empty());
    assert_eq!(b.stats().zlbs_sent, 0);
}

#[test]
fn half_the_advertised_window_unacknowledged_is_acknowledged_at_once() {
    let t0 = Instant::now();
    let message = |ns: u16| {
        ControlMessage {
            tunnel_id: 9,
            ns,
            ..numbered(u32::from(ns))
        }
        .to_vec(None)
        .unwrap()
    };
    // Window 4 (the default): the first message waits for a piggyback, the
    // second (half the window) is acknowledged now, without ack_delay.
    let mut b = ControlChannel::new(quiet_config());
    b.handle_message(t0, &message(0), None).unwrap();
    assert!(transmit_all(&mut b, t0).is_empty(), "first: delayed");
    b.handle_message(t0 + ms(1), &message(1), None).unwrap();
    let out = transmit_all(&mut b, t0 + ms(1));
    assert_eq!(out.len(), 1, "second: a ZLB at once");
    let zlb = ControlMessage::from_bytes(&out[0], None).unwrap();
    assert!(zlb.is_zlb());
    assert_eq!(zlb.nr, 2);
    assert!(b.is_idle(), "nothing left to acknowledge");
    // The count starts again after that acknowledgement.
    b.handle_message(t0 + ms(2), &message(2), None).unwrap();
    assert!(transmit_all(&mut b, t0 + ms(2)).is_empty());
    assert_eq!(b.poll_timeout(), Some(t0 + ms(102)));

    // Window 1: the peer can send nothing more until acknowledged.
    let mut b = ControlChannel::new(ChannelConfig {
        receive_window: 1,
        ..quiet_config()
    });
    b.handle_message(t0, &message(0), None).unwrap();
    assert_eq!(transmit_all(&mut b, t0).len(), 1);
}

/// A channel acknowledging like many deployed LNSs: only by a ZLB (or the
/// next message) once `ack_delay` has passed, whatever it sends meanwhile
/// and however much of its window is unacknowledged.
fn delayed_acks_only(receive_window: u16, ack_delay: Duration) -> ChannelConfig {
    ChannelConfig {
        receive_window,
        ack_delay,
        piggyback_acks: false,
        immediate_ack_at_half_window: false,
        ..quiet_config()
    }
}

#[test]
fn default_config_piggybacks_and_hurries_half_a_window() {
    let config = ChannelConfig::default();
    assert!(config.piggyback_acks);
    assert!(config.immediate_ack_at_half_window);
}

#[test]
fn without_piggyback_a_reply_does_not_acknowledge_but_the_delayed_zlb_does() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    let mut b = ControlChannel::new(ChannelConfig {
        piggyback_acks: false,
        ack_delay: ms(10),
        ..quiet_config()
    });
    a.set_peer_tunnel_id(9);
    b.set_peer_tunnel_id(42);
    a.send(t0, numbered(1)).unwrap();
    let icrq = transmit_all(&mut a, t0);
    b.handle_message(t0, &icrq[0], None).unwrap();
    assert_eq!(delivered(&events(&mut b)), [1]);
    assert!(transmit_all(&mut b, t0).is_empty(), "no immediate ack");

    // B replies within ack_delay: the reply carries the Nr of B's last
    // acknowledgement (0, nothing acknowledged yet), not 1.
    b.send(t0 + ms(3), numbered(2)).unwrap();
    let reply = transmit_all(&mut b, t0 + ms(3));
    assert_eq!(reply.len(), 1, "the reply alone, no ZLB");
    assert_eq!(header(&reply[0]), (0, 0, false));
    a.handle_message(t0 + ms(3), &reply[0], None).unwrap();
    let a_events = events(&mut a);
    assert_eq!(delivered(&a_events), [2]);
    assert!(
        !a_events
            .iter()
            .any(|e| matches!(e, ChannelEvent::Acked { .. })),
        "the reply acknowledged A's message: {a_events:?}"
    );
    assert_eq!(a.unacknowledged(), 1);
    // The acknowledgement is still owed, at t0 + ack_delay.
    assert!(!b.is_idle());
    assert_eq!(b.poll_timeout(), Some(t0 + ms(10)));
    assert!(transmit_all(&mut b, t0 + ms(9)).is_empty());

    // After ack_delay: a ZLB acknowledging A's message.
    b.handle_timeout(t0 + ms(10));
    let zlb = transmit_all(&mut b, t0 + ms(10));
    assert_eq!(zlb.len(), 1);
    let parsed = ControlMessage::from_bytes(&zlb[0], None).unwrap();
    assert!(parsed.is_zlb());
    assert_eq!((parsed.tunnel_id, parsed.nr), (42, 1));
    a.handle_message(t0 + ms(10), &zlb[0], None).unwrap();
    assert!(events(&mut a).contains(&ChannelEvent::Acked {
        ns: 0,
        message_type: Some(MessageType::Icrq)
    }));
    assert_eq!(a.unacknowledged(), 0);
    assert_eq!(b.stats().zlbs_sent, 1);

    // A retransmission of B's reply (A's ZLB lost, say) now carries the
    // Nr of that acknowledgement.
    b.handle_timeout(t0 + ms(3) + SECOND);
    let again = transmit_all(&mut b, t0 + ms(3) + SECOND);
    assert_eq!(again.len(), 1);
    assert_eq!(header(&again[0]), (0, 1, false));
}

#[test]
fn without_piggyback_the_first_message_after_ack_delay_carries_the_ack() {
    let t0 = Instant::now();
    let mut b = ControlChannel::new(ChannelConfig {
        piggyback_acks: false,
        ack_delay: ms(10),
        ..quiet_config()
    });
    b.handle_message(t0, &from_peer(0, 0, 1), None).unwrap();
    b.handle_message(t0 + ms(2), &from_peer(1, 0, 2), None)
        .unwrap();
    // Half the window (2 of 4) is unacknowledged: at once, by a ZLB, since
    // immediate_ack_at_half_window is still on.
    let out = transmit_all(&mut b, t0 + ms(2));
    assert_eq!(out.len(), 1);
    assert_eq!(header(&out[0]), (0, 2, true));
    // B sends; a third message from the peer acknowledges it. When B's
    // timer fires B has a message to send: that message carries the
    // acknowledgement, no ZLB.
    b.send(t0 + ms(5), numbered(9)).unwrap();
    assert_eq!(header(&transmit_all(&mut b, t0 + ms(5))[0]), (0, 2, false));
    b.handle_message(t0 + ms(6), &from_peer(2, 1, 3), None)
        .unwrap();
    assert_eq!(b.unacknowledged(), 0);
    assert_eq!(b.poll_timeout(), Some(t0 + ms(16)));
    b.send(t0 + ms(16), numbered(10)).unwrap();
    b.handle_timeout(t0 + ms(16));
    let out = transmit_all(&mut b, t0 + ms(16));
    assert_eq!(out.len(), 1, "the message, no ZLB: {out:?}");
    assert_eq!(header(&out[0]), (1, 3, false));
    assert_eq!(b.stats().zlbs_sent, 1);
    assert!(transmit_all(&mut b, t0 + ms(30)).is_empty());
}

#[test]
fn without_the_half_window_rule_a_full_window_waits_for_ack_delay() {
    let t0 = Instant::now();
    let mut b = ControlChannel::new(delayed_acks_only(8, ms(10)));
    for ns in 0..8 {
        b.handle_message(
            t0 + ms(u64::from(ns)),
            &from_peer(ns, 0, u32::from(ns)),
            None,
        )
        .unwrap();
        assert!(
            transmit_all(&mut b, t0 + ms(u64::from(ns))).is_empty(),
            "acknowledged early after Ns {ns}"
        );
    }
    assert_eq!(delivered(&events(&mut b)), (0..8).collect::<Vec<_>>());
    // One ZLB for all eight, ack_delay after the first.
    assert_eq!(b.poll_timeout(), Some(t0 + ms(10)));
    b.handle_timeout(t0 + ms(10));
    let out = transmit_all(&mut b, t0 + ms(10));
    assert_eq!(out.len(), 1);
    assert_eq!(header(&out[0]), (0, 8, true));
    assert!(b.is_idle());
}

#[test]
fn a_default_sender_gets_everything_through_a_delayed_acks_only_peer() {
    // A LAC-side channel against an LNS-side one with window 8, 10 ms
    // delayed acknowledgements and no piggybacking, both sending: every
    // message arrives, in order, and the sender never exceeds the window.
    const COUNT: u32 = 500;
    let mut a = Side::new(quiet_config(), 8, COUNT, 0, 0);
    let mut b = Side::new(delayed_acks_only(8, ms(10)), 4, COUNT, 0, 0);
    let mut ab = Link::new(21, 0.0, 0.0, 0);
    let mut ba = Link::new(22, 0.0, 0.0, 0);
    let elapsed = run_pair_until_delivered(
        &mut a,
        &mut b,
        &mut ab,
        &mut ba,
        COUNT,
        Duration::from_secs(600),
    );
    let expected: Vec<u32> = (0..COUNT).collect();
    assert_eq!(b.received, expected);
    assert_eq!(a.received, expected);
    assert_eq!(a.max_in_flight, 8);
    assert_eq!(a.channel.stats().retransmits, 0);
    // At most a window per ack_delay (plus the link's 5 ms): 500 messages
    // need at least 62 rounds of 10 ms.
    assert!(elapsed >= ms(620), "{elapsed:?}");
    // B acknowledged only by ZLB, or by messages sent after its timer.
    assert!(b.channel.stats().zlbs_sent > 0);
}

#[test]
fn zlb_carries_the_ns_the_peer_expects_while_a_message_is_in_flight() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config()).with_initial_sequence(10, 0);
    a.send(t0, numbered(0)).unwrap();
    assert_eq!(header(&transmit_all(&mut a, t0)[0]).0, 10);
    // The peer has not received Ns 10 (its Nr says 10); its message must be
    // acknowledged by a ZLB whose Ns is the 10 it expects, not 11.
    a.handle_message(t0, &from_peer(0, 10, 1), None).unwrap();
    a.handle_timeout(t0 + ms(100));
    let zlb = transmit_all(&mut a, t0 + ms(100));
    assert_eq!(zlb.len(), 1);
    assert_eq!(header(&zlb[0]), (10, 1, true));
    assert_eq!(a.next_ns(), 11);
}

#[test]
fn a_received_zlb_is_never_acknowledged() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    let zlb = ControlMessage::zlb(0, 0, 0).to_vec(None).unwrap();
    for _ in 0..3 {
        a.handle_message(t0, &zlb, None).unwrap();
    }
    assert!(transmit_all(&mut a, t0 + SECOND).is_empty());
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(a.expected_ns(), 0);
    assert_eq!(a.stats().zlbs_received, 3);
    assert!(events(&mut a).is_empty());
}

#[test]
fn duplicate_is_suppressed_and_re_acknowledged_at_once() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    let mut b = ControlChannel::new(quiet_config());
    a.send(t0, numbered(1)).unwrap();
    let first = transmit_all(&mut a, t0);
    b.handle_message(t0, &first[0], None).unwrap();
    assert_eq!(delivered(&events(&mut b)), [1]);
    // B's delayed ZLB is lost; A retransmits after 1 s.
    b.handle_timeout(t0 + ms(100));
    assert_eq!(transmit_all(&mut b, t0 + ms(100)).len(), 1);
    a.handle_timeout(t0 + SECOND);
    let again = transmit_all(&mut a, t0 + SECOND);
    assert_eq!(again.len(), 1);
    b.handle_message(t0 + SECOND, &again[0], None).unwrap();
    // Not delivered twice; acknowledged immediately, not after ack_delay.
    assert_eq!(
        events(&mut b),
        [ChannelEvent::Duplicate { ns: 0 }],
        "duplicate reported, not delivered"
    );
    let ack = transmit_all(&mut b, t0 + SECOND);
    assert_eq!(ack.len(), 1);
    assert_eq!(header(&ack[0]), (0, 1, true));
    a.handle_message(t0 + SECOND, &ack[0], None).unwrap();
    assert_eq!(a.unacknowledged(), 0);
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(b.stats().duplicates, 1);
}

/// A datagram from a hypothetical peer with the given Ns and Nr.
fn from_peer(ns: u16, nr: u16, n: u32) -> Vec<u8> {
    ControlMessage {
        ns,
        nr,
        ..numbered(n)
    }
    .to_vec(None)
    .unwrap()
}

#[test]
fn out_of_order_messages_wait_for_the_gap() {
    let t0 = Instant::now();
    let mut b = ControlChannel::new(ChannelConfig {
        receive_window: 4,
        ..quiet_config()
    });
    b.handle_message(t0, &from_peer(2, 0, 2), None).unwrap();
    b.handle_message(t0, &from_peer(1, 0, 1), None).unwrap();
    b.handle_message(t0, &from_peer(3, 0, 3), None).unwrap();
    // The same out-of-order message again is a duplicate of the queued one.
    b.handle_message(t0, &from_peer(3, 0, 3), None).unwrap();
    assert_eq!(
        events(&mut b),
        [
            ChannelEvent::OutOfOrder { ns: 2, expected: 0 },
            ChannelEvent::OutOfOrder { ns: 1, expected: 0 },
            ChannelEvent::OutOfOrder { ns: 3, expected: 0 },
            ChannelEvent::Duplicate { ns: 3 },
        ]
    );
    assert_eq!(b.expected_ns(), 0);
    assert_eq!(b.reorder_buffer_len(), 4);
    // Ns 4 is outside the window of 4 starting at Nr 0.
    b.handle_message(t0, &from_peer(4, 0, 4), None).unwrap();
    assert_eq!(
        events(&mut b),
        [ChannelEvent::OutOfWindow { ns: 4, expected: 0 }]
    );
    // The gap fills: everything is delivered in order, one cumulative ack.
    b.handle_message(t0, &from_peer(0, 0, 0), None).unwrap();
    assert_eq!(delivered(&events(&mut b)), [0, 1, 2, 3]);
    assert_eq!(b.expected_ns(), 4);
    assert_eq!(b.reorder_buffer_len(), 0);
    b.handle_timeout(t0 + ms(100));
    let ack = transmit_all(&mut b, t0 + ms(100));
    assert_eq!(ack.len(), 1);
    assert_eq!(header(&ack[0]), (0, 4, true));
    assert_eq!(b.stats().out_of_order, 3);
    assert_eq!(b.stats().out_of_window, 1);
}

#[test]
fn a_peer_flooding_out_of_window_and_duplicates_cannot_grow_memory() {
    let t0 = Instant::now();
    let mut b = ControlChannel::new(ChannelConfig {
        receive_window: 8,
        ..quiet_config()
    });
    // Nr = 0: Ns 1..=7 are queued, 8..=32767 out of window, the rest
    // duplicates. Nobody polls events in between.
    let mut flood = 0u64;
    for ns in (1..=u16::MAX).step_by(3) {
        b.handle_message(t0, &from_peer(ns, 0, 0), None).unwrap();
        flood += 1;
    }
    assert!(b.reorder_buffer_len() <= 8);
    assert!(b.pending_events() <= MAX_DIAGNOSTIC_EVENTS);
    let stats = *b.stats();
    assert_eq!(
        stats.out_of_order + stats.out_of_window + stats.duplicates,
        flood
    );
    assert!(stats.out_of_window > 10_000);
    assert!(stats.events_suppressed > 0);
    // Duplicates were re-acked: a single ZLB, however many arrived.
    assert_eq!(transmit_all(&mut b, t0).len(), 1);
    // Still works: the gap fills and the queued messages come out in order.
    b.handle_message(t0, &from_peer(0, 0, 0), None).unwrap();
    let delivered_ns: Vec<_> = events(&mut b)
        .into_iter()
        .filter(|e| matches!(e, ChannelEvent::Delivered(_)))
        .collect();
    // Queued were Ns 1, 4 and 7 (the flood stepped by 3 from 1).
    assert_eq!(delivered_ns.len(), 2, "0 and 1 only: 2 and 3 are missing");
    assert_eq!(b.expected_ns(), 2);
}

#[test]
fn invalid_ack_is_ignored() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    a.send(t0, numbered(0)).unwrap();
    transmit_all(&mut a, t0);
    // Nr 5 acknowledges messages never sent.
    let bogus = ControlMessage::zlb(0, 0, 5).to_vec(None).unwrap();
    a.handle_message(t0, &bogus, None).unwrap();
    assert_eq!(a.unacknowledged(), 1);
    assert_eq!(events(&mut a), [ChannelEvent::InvalidAck { nr: 5 }]);
    assert_eq!(a.stats().invalid_acks, 1);
}

#[test]
fn stale_ack_is_ignored_quietly() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config()).with_initial_sequence(2, 0);
    a.send(t0, numbered(0)).unwrap();
    transmit_all(&mut a, t0);
    // Nr 1 and 65535 are behind the oldest unacknowledged Ns (2): an old
    // datagram overtaken by a newer one.
    for nr in [1, 65_535, 32_770] {
        let old = ControlMessage::zlb(0, 0, nr).to_vec(None).unwrap();
        a.handle_message(t0, &old, None).unwrap();
    }
    assert_eq!(a.unacknowledged(), 1);
    assert!(events(&mut a).is_empty());
    assert_eq!(a.stats().invalid_acks, 0);
    let ack = ControlMessage::zlb(0, 0, 3).to_vec(None).unwrap();
    a.handle_message(t0, &ack, None).unwrap();
    assert_eq!(a.unacknowledged(), 0);
}

#[test]
fn send_queue_is_bounded() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(ChannelConfig {
        max_send_queue: 3,
        ..quiet_config()
    });
    for n in 0..3 {
        assert_eq!(a.send(t0, numbered(n)), Ok(n as u16));
    }
    assert_eq!(a.send(t0, numbered(3)), Err(ChannelError::SendQueueFull(3)));
    assert_eq!(
        a.send(t0, ControlMessage::zlb(0, 0, 0)),
        Err(ChannelError::ZlbNotQueued)
    );
    // Two of three wait for the window (CWND 1).
    assert_eq!(a.stats().window_stalls, 2);
    assert_eq!(
        events(&mut a),
        [
            ChannelEvent::WindowStall {
                ns: 1,
                in_flight: 0,
                window: 1
            },
            ChannelEvent::WindowStall {
                ns: 2,
                in_flight: 0,
                window: 1
            },
        ]
    );
}

#[test]
fn retransmission_repeats_the_hidden_bytes_with_fresh_nr_and_tunnel_id() {
    let t0 = Instant::now();
    let secret = b"tunnel secret";
    let mut a = ControlChannel::new(quiet_config());
    let hiding = Hiding {
        secret,
        random_vector: &[7; 16],
        hide: &[],
        padding: HiddenPadding::None,
    };
    let msg = ControlMessage::new(MessageType::Icrq).with_hidden_avp(Avp::CallSerialNumber(77));
    a.send_with_hiding(t0, msg, Some(&hiding)).unwrap();
    let first = transmit_all(&mut a, t0).remove(0);
    assert_eq!(Packet::new_checked(&first[..]).unwrap().tunnel_id(), 0);
    // Meanwhile: the peer's tunnel id is learnt and a message arrives.
    a.set_peer_tunnel_id(4242);
    let mut sccrp = ControlMessage::new(MessageType::Sccrp);
    sccrp.ns = 0;
    sccrp.nr = 0;
    a.handle_message(t0 + ms(10), &sccrp.to_vec(None).unwrap(), None)
        .unwrap();
    a.handle_timeout(t0 + SECOND);
    let again = transmit_all(&mut a, t0 + SECOND);
    assert_eq!(again.len(), 1);
    let again = &again[0];
    let packet = Packet::new_checked(&again[..]).unwrap();
    assert_eq!(packet.tunnel_id(), 4242);
    assert_eq!(packet.ns(), Some(0));
    assert_eq!(packet.nr(), Some(1), "Nr updated on retransmission");
    // Everything else byte for byte the same (hidden AVP, random vector).
    assert_eq!(first.len(), again.len());
    assert_eq!(first[12..], again[12..]);
    assert_eq!(first[..4], again[..4]);
    assert_eq!(first[6..10], again[6..10]);
    let parsed = ControlMessage::from_bytes(again, Some(secret)).unwrap();
    assert_eq!(parsed.call_serial_number(), Some(77));
}

#[test]
fn undecodable_body_is_delivered_as_an_error_in_order_and_acknowledged() {
    let t0 = Instant::now();
    let mut b = ControlChannel::new(quiet_config());
    // A valid header whose only AVP claims a length of 5 (< 6).
    let mut bad = from_peer(0, 0, 0);
    bad[12] = 0x80;
    bad[13] = 5;
    b.handle_message(t0, &bad, None).unwrap();
    b.handle_message(t0, &from_peer(1, 0, 1), None).unwrap();
    let evs = events(&mut b);
    assert!(matches!(evs[0], ChannelEvent::Undecodable { ns: 0, .. }));
    assert_eq!(delivered(&evs), [1]);
    assert_eq!(b.expected_ns(), 2);
}

#[test]
fn malformed_datagrams_are_errors_and_change_nothing() {
    let t0 = Instant::now();
    let mut b = ControlChannel::new(quiet_config());
    let good = from_peer(0, 0, 0);
    for cut in 0..good.len() {
        assert!(b.handle_message(t0, &good[..cut], None).is_err(), "{cut}");
    }
    // A data message.
    assert_eq!(
        b.handle_message(t0, &[0x00, 0x02, 0, 1, 0, 1], None),
        Err(ChannelError::NotControl)
    );
    assert_eq!(b.expected_ns(), 0);
    assert!(events(&mut b).is_empty());
    assert!(transmit_all(&mut b, t0).is_empty());
    assert_eq!(b.stats().malformed, good.len() as u64);
}

#[test]
fn hello_after_silence_in_either_direction() {
    let t0 = Instant::now();
    let interval = Duration::from_secs(60);
    let mut a = ControlChannel::new(ChannelConfig {
        hello_interval: Some(interval),
        ..ChannelConfig::default()
    });
    // No traffic yet: no HELLO timer.
    assert_eq!(a.poll_timeout(), None);
    // A message received at t0 + 5 s starts the silence clock.
    let t1 = t0 + 5 * SECOND;
    a.handle_message(t1, &from_peer(0, 0, 0), None).unwrap();
    events(&mut a);
    a.handle_timeout(t1 + ms(100));
    assert_eq!(transmit_all(&mut a, t1 + ms(100)).len(), 1, "ZLB");
    assert_eq!(a.poll_timeout(), Some(t1 + interval));
    // Sending a message restarts it too; while it is unacknowledged the
    // retransmission timer watches the peer.
    let t2 = t1 + 30 * SECOND;
    a.send(t2, numbered(1)).unwrap();
    transmit_all(&mut a, t2);
    assert_eq!(a.poll_timeout(), Some(t2 + SECOND));
    let t3 = t2 + ms(50);
    a.handle_message(
        t3,
        &ControlMessage::zlb(0, 1, 1).to_vec(None).unwrap(),
        None,
    )
    .unwrap();
    events(&mut a);
    assert_eq!(a.poll_timeout(), Some(t3 + interval));
    // Silence: the HELLO goes out exactly one interval after the last ZLB.
    assert!(transmit_all(&mut a, t3 + interval - ms(1)).is_empty());
    a.handle_timeout(t3 + interval);
    assert_eq!(events(&mut a), [ChannelEvent::HelloQueued { ns: 1 }]);
    let hello = transmit_all(&mut a, t3 + interval);
    assert_eq!(hello.len(), 1);
    let parsed = ControlMessage::from_bytes(&hello[0], None).unwrap();
    assert_eq!(parsed.message_type, Some(MessageType::Hello));
    assert_eq!((parsed.ns, parsed.nr), (1, 1));
    // Disabled: no timer at all.
    a.set_hello_interval(None);
    a.handle_message(
        t3 + interval + ms(5),
        &ControlMessage::zlb(0, 1, 2).to_vec(None).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn lost_hellos_declare_the_peer_dead() {
    let t0 = Instant::now();
    let interval = Duration::from_secs(60);
    let mut a = ControlChannel::new(ChannelConfig {
        hello_interval: Some(interval),
        ..ChannelConfig::default()
    });
    a.handle_message(
        t0,
        &ControlMessage::zlb(0, 0, 0).to_vec(None).unwrap(),
        None,
    )
    .unwrap();
    // The peer is gone: nothing comes back.
    let mut now = t0;
    let mut sent = Vec::new();
    while a.dead_cause().is_none() {
        for d in transmit_all(&mut a, now) {
            let msg = ControlMessage::from_bytes(&d, None).unwrap();
            assert_eq!(msg.message_type, Some(MessageType::Hello));
            sent.push((now - t0).as_secs());
        }
        now = a.poll_timeout().expect("timer");
        a.handle_timeout(now);
    }
    assert_eq!(sent, [60, 61, 63, 67, 75, 83]);
    assert_eq!(now - t0, Duration::from_secs(91));
    let evs = events(&mut a);
    assert!(matches!(
        evs.last(),
        Some(ChannelEvent::PeerDead {
            cause: DeadCause::MaxRetransmits {
                message_type: Some(MessageType::Hello),
                retransmits: 5,
                ..
            }
        })
    ));
}

#[test]
fn peer_receive_window_learnt_later_limits_the_window() {
    let t0 = Instant::now();
    let mut a = ControlChannel::new(quiet_config());
    let mut b = ControlChannel::new(ChannelConfig {
        receive_window: 16,
        ack_delay: Duration::ZERO,
        ..quiet_config()
    });
    a.set_peer_receive_window(0); // invalid: treated as 1
    assert_eq!(a.window(), 1);
    a.set_peer_receive_window(2);
    for n in 0..20 {
        a.send(t0, numbered(n)).unwrap();
    }
    for _ in 0..10 {
        let burst = transmit_all(&mut a, t0);
        assert!(burst.len() <= 2);
        ack_each(&mut a, &mut b, t0, burst);
    }
    assert_eq!(a.congestion_window(), 2);
    assert_eq!(a.unacknowledged(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever arrives, the channel never panics and stays bounded.
    #[test]
    fn arbitrary_datagrams_never_panic(datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..64)) {
        let t0 = Instant::now();
        let mut b = ControlChannel::new(ChannelConfig { receive_window: 4, ..ChannelConfig::default() });
        b.send(t0, numbered(0)).unwrap();
        for (i, d) in datagrams.iter().enumerate() {
            let now = t0 + ms(i as u64 * 10);
            let _ = b.handle_message(now, d, Some(b"secret"));
            b.handle_timeout(now);
            transmit_all(&mut b, now);
        }
        prop_assert!(b.reorder_buffer_len() <= 4);
        prop_assert!(b.unacknowledged() <= 2);
    }

    /// Control headers with arbitrary Ns/Nr (valid framing, random numbers).
    #[test]
    fn arbitrary_sequence_numbers_never_panic(seq in prop::collection::vec((any::<u16>(), any::<u16>(), any::<bool>()), 0..128)) {
        let t0 = Instant::now();
        let mut b = ControlChannel::new(ChannelConfig { receive_window: 8, ..ChannelConfig::default() });
        for n in 0..4 { b.send(t0, numbered(n)).unwrap(); }
        for (i, (ns, nr, zlb)) in seq.into_iter().enumerate() {
            let now = t0 + ms(i as u64 * 300);
            let d = if zlb { ControlMessage::zlb(0, ns, nr).to_vec(None).unwrap() } else { from_peer(ns, nr, 0) };
            let result = b.handle_message(now, &d, None);
            // Valid framing is always accepted, until the unanswered
            // messages make the channel give up.
            prop_assert!(result.is_ok() || result == Err(ChannelError::Closed), "{result:?}");
            b.handle_timeout(now);
            for out in transmit_all(&mut b, now) {
                prop_assert!(Packet::new_checked(&out[..]).is_ok());
            }
            prop_assert!(b.in_flight() <= 4);
            prop_assert!(b.reorder_buffer_len() <= 8);
        }
    }
}

/// One L2TP datagram of a capture: time since the first frame, whether
/// the LAC (xl2tpd) sent it, and the UDP payload.
struct Captured {
    at: Duration,
    from_lac: bool,
    payload: Vec<u8>,
}

/// The L2TP datagrams of `captures/l2tp-tunnel-call-cdn.pcap` (Ethernet,
/// pcapng; see the README beside it): xl2tpd 1.3.18 at 10.99.0.2 as LAC,
/// BNG Blaster 0.9.38 at 10.99.0.11 as LNS.
fn xl2tpd_bng_blaster_capture() -> Vec<Captured> {
    read_capture("l2tp-tunnel-call-cdn.pcap", [10, 99, 0, 2])
}

/// The L2TP (UDP port 1701) datagrams of an Ethernet pcapng file in
/// `tests/fixtures/captures`; `from_lac` marks those from `lac_address`.
fn read_capture(name: &str, lac_address: [u8; 4]) -> Vec<Captured> {
    use pcap_file::DataLink;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    // pcapng despite the name.
    let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
    let mut link_types = Vec::new();
    let mut out = Vec::new();
    let mut first = None;
    while let Some(block) = reader.next_block() {
        let packet = match block.unwrap() {
            Block::InterfaceDescription(idb) => {
                link_types.push(idb.linktype);
                continue;
            }
            Block::EnhancedPacket(epb) => epb,
            _ => continue,
        };
        assert_eq!(
            link_types.get(packet.interface_id as usize),
            Some(&DataLink::ETHERNET)
        );
        let first = *first.get_or_insert(packet.timestamp);
        let eth = &packet.data[..];
        if eth.len() < 14 + 20 + 8 || eth[12..14] != [0x08, 0x00] || eth[14 + 9] != 17 {
            continue;
        }
        let ip = &eth[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let udp = &ip[ihl..total];
        let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        let (src_port, dst_port) = (
            u16::from_be_bytes([udp[0], udp[1]]),
            u16::from_be_bytes([udp[2], udp[3]]),
        );
        if src_port != 1701 && dst_port != 1701 {
            continue;
        }
        out.push(Captured {
            at: packet.timestamp - first,
            from_lac: ip[12..16] == lac_address,
            payload: udp[8..udp_len].to_vec(),
        });
    }
    out
}

/// Replays the capture with our channel in both roles, sending the same
/// messages at the same times: every datagram our channels produce —
/// messages with their Ns/Nr and the LNS's ZLB acknowledgements — is
/// byte-identical to what xl2tpd and BNG Blaster sent each other, and
/// nothing else is sent.
#[test]
fn replaying_xl2tpd_and_bng_blaster_gives_the_same_datagrams() {
    let secret: &[u8] = b"secret";
    let capture = xl2tpd_bng_blaster_capture();
    assert_eq!(capture.len(), 9);
    let base = Instant::now();
    let mut lac = ControlChannel::new(quiet_config());
    let mut lns = ControlChannel::new(ChannelConfig {
        ack_delay: ms(20),
        ..quiet_config()
    });
    let mut lac_delivered = Vec::new();
    let mut lns_delivered = Vec::new();
    let mut lns_now = base;
    for (i, frame) in capture.iter().enumerate() {
        let at = base + frame.at;
        let message = ControlMessage::from_bytes(&frame.payload, Some(secret)).unwrap();
        let (sender, receiver, sender_now) = if frame.from_lac {
            (&mut lac, &mut lns, at)
        } else {
            lns_now = lns_now.max(at);
            (&mut lns, &mut lac, lns_now)
        };
        let sent = if message.is_zlb() {
            // The sender's delayed-ack timer produces it (ours may fire a
            // little later than BNG Blaster's 10 ms: time is per side).
            let due = sender.poll_timeout().expect("an acknowledgement is owed");
            let now = due.max(sender_now);
            sender.handle_timeout(now);
            transmit_all(sender, now)
        } else {
            // Nothing spontaneous before it: no ZLB where the capture has
            // none (the acknowledgement rides on this message).
            if let Some(due) = sender.poll_timeout().filter(|&due| due <= sender_now) {
                sender.handle_timeout(due);
                assert!(
                    transmit_all(sender, due).is_empty(),
                    "frame {i}: extra datagram"
                );
            }
            sender.send(sender_now, message.clone()).unwrap();
            transmit_all(sender, sender_now)
        };
        assert_eq!(
            sent,
            std::slice::from_ref(&frame.payload),
            "frame {i}: {message:?}"
        );
        let receiver_now = if frame.from_lac {
            lns_now = lns_now.max(at);
            lns_now
        } else {
            at
        };
        receiver
            .handle_message(receiver_now, &frame.payload, Some(secret))
            .unwrap();
        for event in events(receiver) {
            if let ChannelEvent::Delivered(msg) = event {
                let tunnel = msg.assigned_tunnel_id();
                if frame.from_lac {
                    if let Some(id) = tunnel {
                        lns.set_peer_tunnel_id(id);
                    }
                    lns_delivered.push(msg.message_type);
                } else {
                    if let Some(id) = tunnel {
                        lac.set_peer_tunnel_id(id);
                    }
                    lac_delivered.push(msg.message_type);
                }
            }
        }
    }
    use MessageType::*;
    assert_eq!(
        lns_delivered,
        [Some(Sccrq), Some(Scccn), Some(Icrq), Some(Iccn), Some(Cdn)]
    );
    assert_eq!(lac_delivered, [Some(Sccrp), Some(Icrp)]);
    assert_eq!(lac.unacknowledged(), 0);
    assert_eq!(lns.unacknowledged(), 0);
    assert!(lac.is_idle() && lns.is_idle());
    assert_eq!(lns.stats().zlbs_sent, 2);
}

/// xl2tpd's unanswered SCCRQ (`captures/l2tp-sccrq-retransmit.pcap`) went
/// out at 0, 1, 3, 7 and 15 s; ours, carrying the same message, goes out
/// at the same times with the same bytes.
#[test]
fn unanswered_sccrq_is_retransmitted_like_xl2tpd() {
    let capture = read_capture("l2tp-sccrq-retransmit.pcap", [127, 0, 0, 1]);
    assert_eq!(capture.len(), 5);
    let start = Instant::now();
    let mut lac = ControlChannel::new(quiet_config());
    let sccrq = ControlMessage::from_bytes(&capture[0].payload, None).unwrap();
    lac.send(start, sccrq).unwrap();
    let mut now = start;
    for (i, frame) in capture.iter().enumerate() {
        if i > 0 {
            now = lac.poll_timeout().unwrap();
            lac.handle_timeout(now);
        }
        let sent = transmit_all(&mut lac, now);
        assert_eq!(
            sent,
            std::slice::from_ref(&frame.payload),
            "transmission {i}"
        );
        let ours = now - start;
        let theirs = frame.at - capture[0].at;
        let skew = ours.abs_diff(theirs);
        assert!(
            skew < ms(20),
            "transmission {i}: {ours:?} vs xl2tpd {theirs:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any seed, loss up to 30 %, duplication, reordering, window sizes and
    /// starting sequence numbers: everything arrives in order exactly once.
    #[test]
    fn any_lossy_link_delivers_in_order_exactly_once(
        seed in any::<u64>(),
        loss in 0.0f64..0.3,
        duplication in 0.0f64..0.3,
        jitter_ms in 0u64..2_000,
        rws_a in 1u16..20,
        rws_b in 1u16..20,
        first_a in any::<u16>(),
        first_b in any::<u16>(),
        ack_delay_ms in 0u64..300,
    ) {
        const COUNT: u32 = 300;
        let config = |rws| ChannelConfig {
            receive_window: rws,
            ack_delay: ms(ack_delay_ms),
            max_retransmits: 40,
            hello_interval: None,
            ..ChannelConfig::default()
        };
        let mut a = Side::new(config(rws_a), rws_b, COUNT, first_a, first_b);
        let mut b = Side::new(config(rws_b), rws_a, COUNT, first_b, first_a);
        let mut ab = Link::new(seed, loss, duplication, jitter_ms);
        let mut ba = Link::new(seed ^ 0x5555, loss, duplication, jitter_ms);
        run_pair_until_delivered(&mut a, &mut b, &mut ab, &mut ba, COUNT, Duration::from_secs(10_000_000));
        let expected: Vec<u32> = (0..COUNT).collect();
        prop_assert_eq!(&b.received, &expected);
        prop_assert_eq!(&a.received, &expected);
        prop_assert!(a.max_in_flight <= rws_b && b.max_in_flight <= rws_a);
    }
}
