//! Test equipment: the subscriber farm and the test LNS that the
//! built-in demo (`tunnelnas demo`) and the performance benchmark put on
//! either side of a LAC.
//!
//! * [`subscribers::SubscriberFarm`] — many PPPoE subscribers on one
//!   Ethernet segment, each dialling like a CPE does: discovery (RFC 2516
//!   §5), LCP (RFC 1661), PAP / CHAP / MS-CHAPv2 (RFC 1334, RFC 1994,
//!   RFC 2759), IPCP (RFC 1332), then ICMP Echo (RFC 792) to the address
//!   the far end gave itself in IPCP. It starts subscribers at a set rate
//!   and records how long each set-up phase took, so the benchmark can
//!   report setup rate and p50 / p99 latency per phase.
//! * [`lns::LnsHarness`] — the test LNS: the product's LNS, the node core
//!   ([`crate::session::NodeCore`]) in the LNS role (RFC 2661 tunnels and
//!   calls, PPP terminated, addresses from a pool over IPCP), with a
//!   RADIUS stand-in of local users and an in-memory kernel for TUN that
//!   answers pings to the LNS's own address (RFC 792). By default it
//!   renegotiates LCP and authentication the way xl2tpd's pppd does.
//!
//! * [`flood`] — traffic for the forwarding benchmark: prebuilt IPv4/UDP
//!   packets on the sessions the farm brought up, sent in `sendmmsg(2)`
//!   batches, and batched UDP reception for the LNS side.
//!
//! Both are sans-IO (see `DESIGN.md`): time is passed in, frames and
//! datagrams go in through `handle_*` and come out of `poll_transmit`, and
//! each has a small blocking driver ([`subscribers::run_farm`],
//! [`lns::run_lns`]) for a thread that owns the socket.
//!
//! This module holds what both share: [`LatencyHistogram`], a fixed-precision
//! histogram of set-up latencies (bounded memory however many sessions are
//! measured, p50 / p99 within 1.6 %), and the ICMP Echo helpers.

pub mod flood;
pub mod lns;
pub mod subscribers;

use std::time::Duration;

/// Sub-buckets per power of two: the histogram's relative precision is
/// `1 / SUB_BUCKETS` (1.6 %).
const SUB_BUCKET_BITS: u32 = 6;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Values are recorded in microseconds and clamped to 2^36 µs (about 19
/// hours), which bounds the bucket array at 2048 entries.
const MAX_VALUE_BITS: u32 = 36;
const MAX_MICROS: u64 = (1 << MAX_VALUE_BITS) - 1;

/// A histogram of durations with logarithmic buckets of fixed relative
/// width (the HdrHistogram idea): every power of two of microseconds is
/// split into 64 equal buckets, so a quantile read back is within 1.6 % of
/// the true sample, and memory stays bounded (at most 16 KiB) however many
/// samples are recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Sample counts per bucket; grown to the highest bucket used.
    buckets: Vec<u64>,
    count: u64,
    sum_micros: u128,
    min_micros: u64,
    max_micros: u64,
}

/// The bucket a value (µs) falls in.
fn bucket_of(micros: u64) -> usize {
    let value = micros.min(MAX_MICROS);
    if value < 2 * SUB_BUCKETS {
        return value as usize;
    }
    // value ≥ 128: its top bit k ≥ 7; keep its 7 leading bits.
    let k = 63 - value.leading_zeros();
    let shift = k - SUB_BUCKET_BITS;
    ((u64::from(shift) * SUB_BUCKETS) + (value >> shift)) as usize
}

/// The smallest value (µs) in a bucket, and the bucket's width.
fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < 2 * SUB_BUCKETS {
        return (index, 1);
    }
    let shift = index / SUB_BUCKETS - 1;
    let mantissa = index - shift * SUB_BUCKETS;
    (mantissa << shift, 1 << shift)
}

impl LatencyHistogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        Self {
            buckets: Vec::new(),
            count: 0,
            sum_micros: 0,
            min_micros: 0,
            max_micros: 0,
        }
    }

    /// Records one sample.
    pub fn record(&mut self, value: Duration) {
        let micros = u64::try_from(value.as_micros())
            .unwrap_or(u64::MAX)
            .min(MAX_MICROS);
        let index = bucket_of(micros);
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, 0);
        }
        if let Some(slot) = self.buckets.get_mut(index) {
            *slot = slot.saturating_add(1);
        }
        if self.count == 0 || micros < self.min_micros {
            self.min_micros = micros;
        }
        self.max_micros = self.max_micros.max(micros);
        self.count = self.count.saturating_add(1);
        self.sum_micros = self.sum_micros.saturating_add(u128::from(micros));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.saturating_add(*theirs);
        }
        if self.count == 0 || other.min_micros < self.min_micros {
            self.min_micros = other.min_micros;
        }
        self.max_micros = self.max_micros.max(other.max_micros);
        self.count = self.count.saturating_add(other.count);
        self.sum_micros = self.sum_micros.saturating_add(other.sum_micros);
    }

    /// Number of samples.
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// Whether nothing was recorded.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The smallest sample (exact, to the microsecond).
    pub fn min(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.min_micros))
    }

    /// The largest sample (exact, to the microsecond).
    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.max_micros))
    }

    /// The mean of the samples.
    pub fn mean(&self) -> Option<Duration> {
        let mean = self.sum_micros.checked_div(u128::from(self.count))?;
        Some(Duration::from_micros(
            u64::try_from(mean).unwrap_or(u64::MAX),
        ))
    }

    /// The `q`-quantile (`q` in 0..=1; 0.5 is the median), within the
    /// bucket precision and never outside the exact min and max.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
        // The rank of the sample wanted, 1-based (nearest-rank method).
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(n);
            if seen >= rank {
                let (low, width) = bucket_range(index);
                let middle = low.saturating_add(width / 2);
                let value = middle.clamp(self.min_micros, self.max_micros);
                return Some(Duration::from_micros(value));
            }
        }
        self.max()
    }

    /// The median.
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.50)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }
}

/// ICMP Echo (RFC 792) inside IPv4 (RFC 791), enough for pinging through
/// PPP: build a request, recognise and answer one in place, recognise a
/// reply. Checksums are the RFC 1071 Internet checksum.
pub(crate) mod icmp {
    use std::net::Ipv4Addr;

    /// IPv4 header without options.
    pub(crate) const IPV4_HEADER_LEN: usize = 20;
    /// ICMP Echo header: type, code, checksum, identifier, sequence.
    pub(crate) const ECHO_HEADER_LEN: usize = 8;
    const PROTOCOL_ICMP: u8 = 1;
    const TYPE_ECHO_REPLY: u8 = 0;
    const TYPE_ECHO_REQUEST: u8 = 8;
    const TTL: u8 = 64;

    /// RFC 1071 Internet checksum of `data` (the one's complement of the
    /// one's complement sum of its 16-bit words, an odd last octet padded
    /// with zero).
    pub(crate) fn checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut words = data.chunks_exact(2);
        for word in &mut words {
            sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
        }
        if let [last] = words.remainder() {
            sum += u32::from(u16::from_be_bytes([*last, 0]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// An Echo Request or Reply, as read from a datagram.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Echo {
        /// Reply (type 0) rather than Request (type 8).
        pub(crate) is_reply: bool,
        /// IPv4 source.
        pub(crate) src: Ipv4Addr,
        /// IPv4 destination.
        pub(crate) dst: Ipv4Addr,
        /// ICMP Identifier.
        pub(crate) ident: u16,
        /// ICMP Sequence Number.
        pub(crate) seq: u16,
    }

    /// Writes an Echo Request from `src` to `dst` with `payload_len`
    /// octets of data into the start of `buf`; returns the datagram's
    /// length, or `None` when `buf` is too small or the datagram would
    /// exceed 65535 octets.
    pub(crate) fn write_echo_request(
        buf: &mut [u8],
        (src, dst): (Ipv4Addr, Ipv4Addr),
        ident: u16,
        seq: u16,
        payload_len: usize,
    ) -> Option<usize> {
        let total = IPV4_HEADER_LEN
            .checked_add(ECHO_HEADER_LEN)?
            .checked_add(payload_len)?;
        let total_u16 = u16::try_from(total).ok()?;
        let packet = buf.get_mut(..total)?;
        let (ip, icmp) = packet.split_at_mut(IPV4_HEADER_LEN);
        // RFC 791 §3.1: version 4, IHL 5, no options, DF clear.
        ip.copy_from_slice(&[
            0x45,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            TTL,
            PROTOCOL_ICMP,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        ip[2..4].copy_from_slice(&total_u16.to_be_bytes());
        ip[4..6].copy_from_slice(&seq.to_be_bytes());
        ip[12..16].copy_from_slice(&src.octets());
        ip[16..20].copy_from_slice(&dst.octets());
        let sum = checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        icmp[..ECHO_HEADER_LEN].copy_from_slice(&[TYPE_ECHO_REQUEST, 0, 0, 0, 0, 0, 0, 0]);
        icmp[4..6].copy_from_slice(&ident.to_be_bytes());
        icmp[6..8].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in icmp[ECHO_HEADER_LEN..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let sum = checksum(icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        Some(total)
    }

    /// Reads an ICMP Echo Request or Reply out of an IPv4 datagram (extra
    /// octets after its Total Length are ignored); `None` for anything
    /// else, including a fragment or a bad IP or ICMP checksum.
    pub(crate) fn parse_echo(packet: &[u8]) -> Option<Echo> {
        let (ihl, total) = ipv4_lengths(packet)?;
        let ip = packet.get(..ihl)?;
        let icmp = packet.get(ihl..total)?;
        // Not a fragment: MF clear and offset zero.
        let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
        if ip[9] != PROTOCOL_ICMP || fragment != 0 || checksum(ip) != 0 {
            return None;
        }
        if icmp.len() < ECHO_HEADER_LEN || icmp[1] != 0 || checksum(icmp) != 0 {
            return None;
        }
        let is_reply = match icmp[0] {
            TYPE_ECHO_REPLY => true,
            TYPE_ECHO_REQUEST => false,
            _ => return None,
        };
        Some(Echo {
            is_reply,
            src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
            ident: u16::from_be_bytes([icmp[4], icmp[5]]),
            seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        })
    }

    /// Turns a valid Echo Request to `ours` into its Echo Reply in place
    /// (addresses swapped, TTL reset, both checksums recomputed) and
    /// returns the reply's length (the request's Total Length); `None`,
    /// with `packet` untouched, for anything else. RFC 792: "The data
    /// received in the echo message must be returned in the echo reply
    /// message."
    pub(crate) fn answer_echo(packet: &mut [u8], ours: Ipv4Addr) -> Option<usize> {
        let echo = parse_echo(packet)?;
        if echo.is_reply || echo.dst != ours {
            return None;
        }
        let (ihl, total) = ipv4_lengths(packet)?;
        let packet = packet.get_mut(..total)?;
        let (ip, icmp) = packet.split_at_mut(ihl);
        ip[12..16].copy_from_slice(&echo.dst.octets());
        ip[16..20].copy_from_slice(&echo.src.octets());
        ip[8] = TTL;
        ip[10..12].fill(0);
        let sum = checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        icmp[0] = TYPE_ECHO_REPLY;
        icmp[2..4].fill(0);
        let sum = checksum(icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        Some(total)
    }

    /// Header length and Total Length of an IPv4 datagram, both checked
    /// against each other and against the buffer.
    fn ipv4_lengths(packet: &[u8]) -> Option<(usize, usize)> {
        let first = *packet.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
        (ihl >= IPV4_HEADER_LEN && total >= ihl && total <= packet.len()).then_some((ihl, total))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::icmp::{self, Echo};
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_their_values() {
        let mut previous = 0;
        let last = bucket_of(MAX_MICROS);
        for index in 0..=last {
            let (low, width) = bucket_range(index);
            assert_eq!(
                low,
                previous,
                "bucket {index} starts where {} ends",
                index - 1
            );
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(low + width - 1), index);
            previous = low + width;
        }
        assert_eq!(bucket_of(u64::MAX), last);
        assert!(last < 2048, "at most 16 KiB of buckets");
    }

    #[test]
    fn quantiles_of_a_uniform_spread_are_within_the_precision() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.min(), Some(Duration::from_millis(1)));
        assert_eq!(h.max(), Some(Duration::from_millis(1000)));
        assert_eq!(h.mean(), Some(Duration::from_micros(500_500)));
        for (q, want_ms) in [(0.5, 500.0), (0.99, 990.0), (0.0, 1.0), (1.0, 1000.0)] {
            let got = h.quantile(q).unwrap().as_secs_f64() * 1000.0;
            assert!(
                (got - want_ms).abs() <= want_ms / 64.0,
                "q{q}: {got} ms, want {want_ms} ms"
            );
        }
        assert!(LatencyHistogram::new().p50().is_none());
        assert!(LatencyHistogram::new().mean().is_none());
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (
            LatencyHistogram::new(),
            LatencyHistogram::new(),
            LatencyHistogram::new(),
        );
        for us in [3u64, 70, 900, 12_000, 5_000_000] {
            a.record(Duration::from_micros(us));
            all.record(Duration::from_micros(us));
        }
        for us in [1u64, 250_000] {
            b.record(Duration::from_micros(us));
            all.record(Duration::from_micros(us));
        }
        a.merge(&b);
        assert_eq!(a, all);
        a.merge(&LatencyHistogram::new());
        assert_eq!(a, all);
    }

    #[test]
    fn huge_samples_are_clamped_not_lost() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::MAX);
        assert_eq!(h.count(), 1);
        assert_eq!(h.max(), Some(Duration::from_micros(MAX_MICROS)));
        assert!(h.p99().is_some());
    }

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(icmp::checksum(&data), !0xddf2);
        // Odd length: the last octet is padded with zero.
        assert_eq!(icmp::checksum(&[0xff]), !0xff00);
    }

    const A: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 10);
    const B: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);

    #[test]
    fn echo_request_round_trips_and_is_answered_in_place() {
        let mut buf = [0u8; 128];
        let len = icmp::write_echo_request(&mut buf, (A, B), 0x1234, 7, 56).unwrap();
        assert_eq!(len, 84);
        let request = &mut buf[..len];
        assert_eq!(
            icmp::parse_echo(request),
            Some(Echo {
                is_reply: false,
                src: A,
                dst: B,
                ident: 0x1234,
                seq: 7
            })
        );
        // Not ours: untouched.
        let before = request.to_vec();
        assert_eq!(icmp::answer_echo(request, A), None);
        assert_eq!(request, &before[..]);
        assert_eq!(icmp::answer_echo(request, B), Some(84));
        assert_eq!(
            icmp::parse_echo(request),
            Some(Echo {
                is_reply: true,
                src: B,
                dst: A,
                ident: 0x1234,
                seq: 7
            })
        );
        // The data comes back unchanged.
        assert_eq!(request[28..], before[28..]);
        // A reply is not answered again.
        assert_eq!(icmp::answer_echo(request, A), None);
    }

    #[test]
    fn corrupt_or_truncated_echoes_are_refused() {
        let mut buf = [0u8; 64];
        let len = icmp::write_echo_request(&mut buf, (A, B), 1, 1, 8).unwrap();
        let good = buf[..len].to_vec();
        for cut in 0..len {
            assert_eq!(icmp::parse_echo(&good[..cut]), None, "cut at {cut}");
        }
        for at in 0..len {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            assert_eq!(icmp::parse_echo(&bad), None, "bit flipped at {at}");
        }
        // Too small a buffer to build into.
        assert_eq!(
            icmp::write_echo_request(&mut buf[..20], (A, B), 1, 1, 0),
            None
        );
        assert_eq!(
            icmp::write_echo_request(&mut [0u8; 70_000], (A, B), 1, 1, 65_510),
            None
        );
    }

    /// End to end in virtual time: the farm's subscribers dial through our
    /// LAC core (RADIUS answered in place with a tunnel to the test LNS),
    /// the test LNS (the node core in the LNS role) renegotiates LCP and
    /// authentication, assigns addresses, and answers the pings the LAC
    /// forwards both ways.
    mod end_to_end {
        use std::net::{IpAddr, SocketAddr};
        use std::time::Instant;

        use super::super::lns::{LnsConfig, LnsHarness, LnsStats};
        use super::super::subscribers::{FarmConfig, FarmStats, MAX_FRAME_LEN, SubscriberFarm};
        use super::*;
        use crate::aaa::attributes::{
            AcceptAttributes, Decision, TunnelCandidate, TunnelEndpoint, TunnelMediumKind,
        };
        use crate::config;
        use crate::ppp::auth::AuthMethod;
        use crate::ppp::link::Credentials;
        use crate::session::{
            Command, DOWNSTREAM_HEADROOM, Forward, NodeCore, NodeCoreConfig, SessionState,
        };
        use crate::wire::ethernet::MacAddress;

        const LAC_MAC: MacAddress = MacAddress::new([0x02, 0, 0, 0, 0, 0xac]);
        const LAC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 1701);
        const LNS_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 1701);
        const LNS_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
        const SECRET: &[u8] = b"demo-secret";
        const STEP: Duration = Duration::from_millis(5);
        const SUBSCRIBERS: u32 = 20;

        fn users() -> Vec<Credentials> {
            (0..4)
                .map(|i| Credentials {
                    user: format!("user{i}@demo.example").into_bytes(),
                    password: format!("password-{i}").into_bytes(),
                })
                .collect()
        }

        fn lac_config() -> NodeCoreConfig {
            // From the configuration file's shape, so the test follows
            // whatever the LAC's configuration grows.
            let file: config::Config =
                toml::from_str("[pppoe]\n[[pppoe.interface]]\nname = \"demo0\"\n[lac]\n")
                    .expect("config");
            let mut lac = crate::node::convert::node_config(&file).expect("[lac] present");
            // MS-CHAPv2 at the LAC needs RADIUS's MS-CHAP2-Success; the
            // test LNS checks MS-CHAPv2 itself.
            lac.link.auth_methods = vec![AuthMethod::ChapMd5, AuthMethod::Pap];
            lac.link.echo_interval = None;
            lac.endpoint.accept_calls = false;
            lac.tunnel_accounting = false;
            lac.local_address = Some(LAC_ADDR.ip());
            lac
        }

        fn accept() -> Decision {
            Decision::Accept(Box::new(AcceptAttributes {
                tunnels: vec![TunnelCandidate {
                    tag: 1,
                    medium: TunnelMediumKind::Ipv4,
                    server_endpoint: TunnelEndpoint::Ip(LNS_ADDR.ip()),
                    client_endpoint: None,
                    password: Some(SECRET.to_vec()),
                    preference: Some(1),
                    assignment_id: None,
                    client_auth_id: None,
                    server_auth_id: None,
                    private_group_id: None,
                }],
                ..AcceptAttributes::default()
            }))
        }

        struct World {
            now: Instant,
            farm: SubscriberFarm,
            lac: NodeCore,
            lns: LnsHarness,
            authentications: usize,
        }

        impl World {
            fn new() -> Self {
                let now = Instant::now();
                let farm = SubscriberFarm::new(
                    FarmConfig {
                        subscribers: SUBSCRIBERS,
                        credentials: users(),
                        start_rate: 50,
                        ping_interval: Some(Duration::from_millis(500)),
                        redial: Some(Duration::from_secs(2)),
                        ..FarmConfig::default()
                    },
                    [1; 32],
                    now,
                );
                let lac = NodeCore::new(
                    lac_config(),
                    vec![LAC_MAC],
                    "0000000A-".into(),
                    [2; 32],
                    now,
                );
                let lns = LnsHarness::new(
                    LnsConfig::new(
                        "127.0.0.0/8".parse().expect("network"),
                        SECRET,
                        users(),
                        LNS_IP,
                        "100.64.0.0/16".parse().expect("pool"),
                    ),
                    [3; 32],
                );
                Self {
                    now,
                    farm,
                    lac,
                    lns,
                    authentications: 0,
                }
            }

            fn step(&mut self) {
                let now = self.now;
                if self.farm.poll_timeout().is_some_and(|t| t <= now) {
                    self.farm.handle_timeout(now);
                }
                if self.lac.poll_timeout().is_some_and(|t| t <= now) {
                    self.lac.handle_timeout(now);
                }
                if self.lns.poll_timeout().is_some_and(|t| t <= now) {
                    self.lns.handle_timeout(now);
                }
                // Subscribers → LAC (→ LNS for forwarded data).
                let mut buf = vec![0u8; MAX_FRAME_LEN];
                while let Some(len) = self.farm.poll_transmit(&mut buf) {
                    let mut frame = buf[..len].to_vec();
                    if let Forward::Datagram { to, range } =
                        self.lac.handle_frame(now, 0, &mut frame, None)
                    {
                        assert_eq!(to, LNS_ADDR);
                        self.lns.handle_datagram(now, LAC_ADDR, &frame[range]);
                    }
                }
                // RADIUS, answered at once.
                while let Some(command) = self.lac.poll_command() {
                    if let Command::Authenticate { token, .. } = command {
                        self.authentications += 1;
                        self.lac.auth_result(now, token, accept());
                    }
                }
                while self.lac.poll_event().is_some() {}
                // LAC control → subscribers and LNS.
                while let Some((interface, len)) = self.lac.poll_frame(&mut buf) {
                    assert_eq!(interface, 0);
                    let frame = buf[..len].to_vec();
                    self.farm.handle_frame(now, &frame);
                }
                let mut control = vec![0u8; crate::l2tp::MAX_CONTROL_LEN];
                while let Some((to, len)) = self.lac.poll_datagram(now, &mut control) {
                    assert_eq!(to, LNS_ADDR);
                    let datagram = control[..len].to_vec();
                    self.lns.handle_datagram(now, LAC_ADDR, &datagram);
                }
                // LNS → LAC (→ subscribers for forwarded data).
                let mut out = vec![0u8; crate::l2tp::MAX_CONTROL_LEN];
                while let Some((to, len)) = self.lns.poll_transmit(now, &mut out) {
                    assert_eq!(to, LAC_ADDR);
                    let start = DOWNSTREAM_HEADROOM + 64;
                    let mut datagram = vec![0u8; start + len];
                    datagram[start..].copy_from_slice(&out[..len]);
                    if let Forward::Frame { interface, range } =
                        self.lac
                            .handle_datagram(now, LNS_ADDR, &mut datagram, start, len)
                    {
                        assert_eq!(interface, 0);
                        self.farm.handle_frame(now, &datagram[range]);
                    }
                }
                self.now += STEP;
            }

            fn run_until(
                &mut self,
                limit: Duration,
                mut done: impl FnMut(&FarmStats, &LnsStats) -> bool,
            ) -> bool {
                let end = self.now + limit;
                while self.now < end {
                    self.step();
                    if done(&self.farm.stats(), &self.lns.stats()) {
                        return true;
                    }
                }
                false
            }
        }

        #[test]
        fn twenty_subscribers_come_up_through_the_lac_and_ping_the_lns() {
            let mut world = World::new();
            let start = world.now;
            assert!(
                world.run_until(Duration::from_secs(30), |farm, _| farm.up == SUBSCRIBERS),
                "farm {:?}\nlns {:?}\nlac {:?}",
                world.farm.stats(),
                world.lns.stats(),
                world.lac.state_counts()
            );
            let up_at = world.now;
            world.run_until(Duration::from_secs(5), |_, _| false);
            let farm = world.farm.stats();
            let lns = world.lns.stats();
            // Every subscriber up once, through one tunnel, at the LAC and
            // at the LNS.
            assert_eq!(farm.dials, u64::from(SUBSCRIBERS), "{farm:?}");
            assert_eq!(farm.sessions_up, u64::from(SUBSCRIBERS));
            assert_eq!(farm.setup_failures, Default::default());
            assert_eq!(world.authentications, SUBSCRIBERS as usize);
            let counts = world.lac.state_counts();
            assert!(
                counts.contains(&(SessionState::Up, SUBSCRIBERS as usize)),
                "{counts:?}"
            );
            assert_eq!(lns.tunnels, 1);
            assert_eq!(lns.sessions, SUBSCRIBERS);
            assert_eq!(lns.sessions_network_up, SUBSCRIBERS);
            assert_eq!(
                lns.auth_accepted,
                u64::from(SUBSCRIBERS),
                "the LNS re-authenticated each"
            );
            assert_eq!(lns.addresses_in_use, SUBSCRIBERS);
            // Set-up phases timed for every subscriber.
            for h in [
                &farm.setup.discovery,
                &farm.setup.lcp,
                &farm.setup.auth,
                &farm.setup.ipcp,
                &farm.setup.total,
            ] {
                assert_eq!(h.count(), u64::from(SUBSCRIBERS));
                assert!(h.p50() <= h.p99());
            }
            assert!(farm.setup.total.max() <= Some(up_at.saturating_duration_since(start)));
            // Subscribers started at 50/s from the farm's creation.
            assert_eq!(farm.first_dial_at, Some(Duration::ZERO));
            assert!(farm.last_up_at >= Some(Duration::from_millis(380)));
            assert!(farm.last_up_at <= Some(up_at.saturating_duration_since(start)));
            // Pings through the LAC both ways: about ten per subscriber in
            // five seconds, every one answered but those in flight.
            assert!(farm.pings_sent >= u64::from(SUBSCRIBERS) * 9, "{farm:?}");
            assert_eq!(
                lns.pings_answered,
                farm.pings_answered + farm.pings_unmatched
            );
            assert!(farm.pings_answered + u64::from(SUBSCRIBERS) >= farm.pings_sent);
            assert_eq!(farm.pings_unmatched, 0);
            // Both ways through the LAC's fast path: every ping and every
            // reply (plus the LNS's PPP renegotiation).
            let totals = world.lac.totals();
            assert!(totals.upstream.packets >= farm.pings_sent, "{totals:?}");
            assert!(
                totals.downstream.packets >= lns.pings_answered,
                "{totals:?}"
            );
            // At most the LNS's first LCP Configure-Request per call, which
            // can arrive before the LAC forwards (PPP retransmits it).
            assert!(totals.dropped <= u64::from(SUBSCRIBERS), "{totals:?}");
            // Distinct addresses from the LNS pool, the LNS as ping target.
            let mut addresses: Vec<Ipv4Addr> = (0..SUBSCRIBERS)
                .map(|i| {
                    let view = world.farm.subscriber(i).expect("subscriber");
                    assert_eq!(view.peer_address, Some(LNS_IP));
                    view.address.expect("address")
                })
                .collect();
            addresses.sort_unstable();
            addresses.dedup();
            assert_eq!(addresses.len(), SUBSCRIBERS as usize);
            assert!(addresses.iter().all(|a| a.octets()[..2] == [100, 64]));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut copy = bytes.clone();
            let parsed = icmp::parse_echo(&bytes);
            let answered = icmp::answer_echo(&mut copy, B);
            if answered.is_none() {
                prop_assert_eq!(copy, bytes);
            } else {
                prop_assert!(parsed.is_some_and(|e| !e.is_reply && e.dst == B));
            }
        }

        #[test]
        fn histogram_quantiles_stay_within_precision(samples in proptest::collection::vec(1u64..10_000_000, 1..200), q in 0.0f64..=1.0) {
            let mut h = LatencyHistogram::new();
            for &s in &samples {
                h.record(Duration::from_micros(s));
            }
            let mut sorted = samples;
            sorted.sort_unstable();
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            let want = sorted[rank - 1] as f64;
            let got = h.quantile(q).unwrap().as_micros() as f64;
            prop_assert!((got - want).abs() <= want / 64.0 + 1.0, "got {got} want {want}");
        }
    }
}
