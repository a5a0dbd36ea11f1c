//! The LNS's TUN data plane on a real multi-queue TUN device, inside a
//! fresh network namespace: routes installed through our netlink code send
//! the namespace's packets into a queue, packets written into a queue are
//! delivered to the namespace's sockets, and a removed route sends nothing
//! there any more. Netlink errors name the prefix and the errno.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::netns::Netns;
use common::{Context, Result, ensure};
use tunnelnas::dataplane::tun::{AsyncTunQueue, TunConfig, TunDevice, TunQueue};

const DEVICE: &str = "tnlns0";
const POOL: &str = "10.77.0.0/24";
const SUBSCRIBER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 5);
const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);

/// RFC 1071 checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4/UDP packet (header checksum set, UDP checksum 0).
fn ipv4_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let (SocketAddr::V4(src), SocketAddr::V4(dst)) = (src, dst) else {
        panic!("IPv4 only");
    };
    let total = 20 + 8 + payload.len();
    let mut packet = vec![
        0x45, 0, // version 4, IHL 5, DSCP 0
    ];
    packet.extend_from_slice(&(total as u16).to_be_bytes());
    packet.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0]); // id, DF, TTL, UDP
    packet.extend_from_slice(&src.ip().octets());
    packet.extend_from_slice(&dst.ip().octets());
    let sum = checksum(&packet);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
    packet.extend_from_slice(&src.port().to_be_bytes());
    packet.extend_from_slice(&dst.port().to_be_bytes());
    packet.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    packet
}

/// The first IPv4 packet read from any of `queues` within `timeout` (other
/// packets, e.g. IPv6 the kernel sends by itself, are skipped), with the
/// queue it came from.
fn read_ipv4(queues: &[TunQueue], timeout: Duration) -> Option<(usize, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        let mut idle = true;
        for queue in queues {
            match queue.recv(&mut buf) {
                Ok(n) => {
                    idle = false;
                    if n >= 20 && buf[0] >> 4 == 4 {
                        return Some((queue.index(), buf[..n].to_vec()));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("reading TUN queue {}: {e}", queue.index()),
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    None
}

/// Checks that `packet` is IPv4/UDP to `SUBSCRIBER:9` carrying `payload`.
fn check_udp_to_subscriber(packet: &[u8], payload: &[u8]) -> Result<()> {
    ensure!(packet[0] >> 4 == 4, "not IPv4: {packet:02x?}");
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    ensure!(packet[9] == 17, "protocol {} is not UDP", packet[9]);
    let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
    ensure!(dst == SUBSCRIBER, "destination {dst}");
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    ensure!(src == LOCAL, "source {src} (the only address is {LOCAL})");
    let udp = &packet[ihl..];
    ensure!(u16::from_be_bytes([udp[2], udp[3]]) == 9, "UDP port");
    ensure!(&udp[8..] == payload, "payload {:02x?}", &udp[8..]);
    Ok(())
}

#[test]
fn tun_queues_routes_and_mtu_in_a_namespace() -> Result<()> {
    common::require_root()?;
    let ns = Netns::new("tun")?;
    // The namespace's own address, which packets from the TUN are sent to
    // (the harness may use `ip`; the library does not).
    ns.add_addr("lo", &format!("{LOCAL}/32"))?;

    ns.run(|| -> Result<()> {
        let mut device = TunDevice::create(&TunConfig {
            name: DEVICE.into(),
            mtu: 1400,
            queues: 2,
        })
        .context("creating the TUN device")?;
        ensure!(device.queues().len() == 2, "two queues");
        ensure!(device.ifindex() > 0, "ifindex");
        let link =
            String::from_utf8_lossy(&ns.ip(["-d", "link", "show", DEVICE])?.stdout).into_owned();
        ensure!(link.contains("mtu 1400"), "MTU not set: {link}");
        ensure!(link.contains(",UP"), "device not up: {link}");
        eprintln!("{link}");
        if link.contains("numqueues") {
            ensure!(link.contains("numqueues 2"), "queues: {link}");
            ensure!(link.contains("pi off"), "packet info: {link}");
        }
        device.set_mtu(1380)?;
        let link = String::from_utf8_lossy(&ns.ip(["link", "show", DEVICE])?.stdout).into_owned();
        ensure!(link.contains("mtu 1380"), "MTU not changed: {link}");

        let pool = POOL.parse()?;
        device.add_route(pool)?;
        let routes = String::from_utf8_lossy(&ns.ip(["route", "show"])?.stdout).into_owned();
        ensure!(
            routes.contains(&format!("{POOL} dev {DEVICE}")),
            "route missing: {routes}"
        );
        // A second add is refused, naming the prefix and the errno.
        let again = device.add_route(pool).unwrap_err();
        let text = again.to_string();
        ensure!(
            again.kind() == std::io::ErrorKind::AlreadyExists
                && text.contains(POOL)
                && text.contains(DEVICE)
                && text.contains(&format!("os error {}", libc::EEXIST)),
            "second add: {text}"
        );
        // IPv6 (a delegated prefix) goes the same way.
        let delegated = "2001:db8:77::/48".parse()?;
        device.add_route(delegated)?;
        let routes6 = String::from_utf8_lossy(&ns.ip(["-6", "route", "show"])?.stdout).into_owned();
        ensure!(
            routes6.contains(&format!("2001:db8:77::/48 dev {DEVICE}")),
            "IPv6 route missing: {routes6}"
        );
        device.remove_route(delegated)?;

        // (a) A datagram sent to the pool leaves through one of the queues,
        // read through tokio (AsyncFd) as a worker would.
        let sender = UdpSocket::bind("0.0.0.0:0")?;
        sender.send_to(b"to-the-subscriber", (SUBSCRIBER, 9))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let queues = device.take_queues();
        let packet = runtime.block_on(async {
            let queues: Vec<AsyncTunQueue> = queues
                .into_iter()
                .map(AsyncTunQueue::new)
                .collect::<std::io::Result<_>>()?;
            let read = async {
                loop {
                    let mut one = [0u8; 2048];
                    let mut two = [0u8; 2048];
                    let (n, buf) = tokio::select! {
                        n = queues[0].recv(&mut one) => (n?, one),
                        n = queues[1].recv(&mut two) => (n?, two),
                    };
                    if n >= 20 && buf[0] >> 4 == 4 {
                        return Ok::<_, std::io::Error>(buf[..n].to_vec());
                    }
                }
            };
            let packet = tokio::time::timeout(Duration::from_secs(3), read)
                .await
                .context("no IPv4 packet on either TUN queue")??;
            // Back to plain queues for the synchronous steps below.
            Ok::<_, anyhow::Error>((packet, queues))
        })?;
        let (packet, queues) = packet;
        check_udp_to_subscriber(&packet, b"to-the-subscriber")?;
        eprintln!("(a) read {} octets: {packet:02x?}", packet.len());
        let queues: Vec<TunQueue> = queues.into_iter().map(AsyncTunQueue::into_inner).collect();

        // (b) A packet written into a queue reaches a socket of the namespace.
        let receiver = UdpSocket::bind((LOCAL, 0))?;
        receiver.set_read_timeout(Some(Duration::from_secs(3)))?;
        let from: SocketAddr = (SUBSCRIBER, 4000).into();
        let packet = ipv4_udp(from, receiver.local_addr()?, b"from-the-subscriber");
        let written = queues[1].send(&packet)?;
        ensure!(written == packet.len(), "short write {written}");
        let mut buf = [0u8; 256];
        let (n, source) = receiver
            .recv_from(&mut buf)
            .context("the packet written into the TUN never arrived")?;
        ensure!(
            &buf[..n] == b"from-the-subscriber",
            "payload {:?}",
            &buf[..n]
        );
        ensure!(source == from, "source {source}");

        // (c) Without the route, the pool is unreachable and nothing reaches
        // the queues.
        device.remove_route(pool)?;
        let routes = String::from_utf8_lossy(&ns.ip(["route", "show"])?.stdout).into_owned();
        ensure!(!routes.contains(POOL), "route still there: {routes}");
        let unrouted = sender.send_to(b"no-route", (SUBSCRIBER, 9));
        eprintln!("(c) send without the route: {unrouted:?}");
        match unrouted {
            Err(e) => ensure!(
                e.raw_os_error() == Some(libc::ENETUNREACH),
                "send without a route: {e}"
            ),
            Ok(_) => {
                if let Some((queue, packet)) = read_ipv4(&queues, Duration::from_millis(300)) {
                    anyhow::bail!("queue {queue} still got {packet:02x?}");
                }
            }
        }
        let gone = device.remove_route(pool).unwrap_err().to_string();
        ensure!(
            gone.contains(POOL) && gone.contains(&format!("os error {}", libc::ESRCH)),
            "second removal: {gone}"
        );
        Ok(())
    })?
}

#[test]
fn bad_configurations_are_refused_with_the_device_name() -> Result<()> {
    common::require_root()?;
    let ns = Netns::new("tunbad")?;
    ns.run(|| {
        let long = TunDevice::create(&TunConfig {
            name: "a-name-far-too-long".into(),
            mtu: 1400,
            queues: 1,
        })
        .unwrap_err();
        assert!(long.to_string().contains("a-name-far-too-long"), "{long}");
        let none = TunDevice::create(&TunConfig {
            name: DEVICE.into(),
            mtu: 1400,
            queues: 0,
        })
        .unwrap_err();
        assert!(none.to_string().contains(DEVICE), "{none}");
        // An MTU below IPv4's minimum (68) is refused by the kernel.
        let tiny = TunDevice::create(&TunConfig {
            name: DEVICE.into(),
            mtu: 20,
            queues: 1,
        })
        .unwrap_err();
        let text = tiny.to_string();
        assert!(text.contains(DEVICE) && text.contains("MTU 20"), "{text}");
    })
}
