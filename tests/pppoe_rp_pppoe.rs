//! Interop: rp-pppoe's `pppoe` client (Debian `pppoe`, 3.15) against our
//! `pppoe::Discovery` core on a real Ethernet segment.
//!
//! Two network namespaces joined by a veth pair: in one, the discovery
//! core driven by a minimal AF_PACKET loop (below; the real data-plane
//! driver is issue 6); in the other, `pppoe -A` (lists access
//! concentrators), `pppoe -d` (runs discovery and prints `SESSION:MAC`)
//! and `pppoe -k` (sends a PADT). rp-pppoe exits 0 even when discovery
//! fails (and prints `0:00:00:00:00:00:00`), so its output is parsed. A
//! tshark capture of the whole exchange must have no malformed frame.

mod common;

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::netns::{Netns, VethPair};
use common::tshark::{LiveCapture, Tshark};
use common::{Context, Result, anyhow, bail, ensure, require_tool, tempdir};
use tunnelnas::pppoe::{Discovery, DiscoveryConfig, Event, MAX_FRAME_LEN, RefusalReason};
use tunnelnas::wire::ethernet::MacAddress;

const ETH_P_PPPOE_DISC: u16 = 0x8863;
const AC_MAC: MacAddress = MacAddress::new([0x02, 0xac, 0x00, 0x5e, 0x00, 0x01]);
const AC_NAME: &str = "tn-interop-ac";

/// A raw AF_PACKET socket bound to one interface, receiving only PPPoE
/// Discovery frames.
struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    fn open(ifname: &str) -> Result<Self> {
        let name = CString::new(ifname)?;
        // SAFETY: plain FFI calls with valid arguments; the fd is owned
        // by `OwnedFd` from here on.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        ensure!(ifindex != 0, "no interface {ifname}");
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_PPPOE_DISC.to_be()),
            )
        };
        ensure!(
            raw >= 0,
            "socket(AF_PACKET): {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `raw` is a fresh, valid descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_PPPOE_DISC.to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll of the given length.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        ensure!(
            rc == 0,
            "bind(AF_PACKET {ifname}): {}",
            std::io::Error::last_os_error()
        );
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 20_000,
        };
        // SAFETY: `timeout` is a valid timeval of the given length.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        ensure!(rc == 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
        Ok(Self { fd })
    }

    /// One incoming frame (not one we sent), or `None` after the receive
    /// timeout.
    fn recv(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        // SAFETY: as above.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` and `from` are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &raw mut from_len,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return match err.kind() {
                std::io::ErrorKind::WouldBlock
                | std::io::ErrorKind::TimedOut
                | std::io::ErrorKind::Interrupted => Ok(None),
                _ => Err(anyhow!("recvfrom: {err}")),
            };
        }
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            return Ok(None);
        }
        Ok(Some(n as usize))
    }

    fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: `frame` is valid for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        ensure!(
            n as usize == frame.len(),
            "send: {}",
            std::io::Error::last_os_error()
        );
        Ok(())
    }
}

/// What the test asks the access concentrator loop to do.
enum Command {
    Terminate(u16, &'static str),
}

/// The minimal driver: frames in, core, frames out, events to the test.
fn serve(
    ifname: &str,
    config: DiscoveryConfig,
    stop: &AtomicBool,
    commands: &mpsc::Receiver<Command>,
    events: &mpsc::Sender<Event>,
) -> Result<()> {
    let sock = PacketSocket::open(ifname)?;
    let mut core = Discovery::new(config, AC_MAC, [0x5a; 32], Instant::now());
    let mut rx = vec![0u8; 2048];
    let mut tx = vec![0u8; MAX_FRAME_LEN];
    while !stop.load(Ordering::Relaxed) {
        if let Some(n) = sock.recv(&mut rx)? {
            core.handle_frame(Instant::now(), &rx[..n]);
        }
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Terminate(id, reason) => {
                    core.terminate(id, Some(reason))?;
                }
            }
        }
        if core.poll_timeout().is_some_and(|at| at <= Instant::now()) {
            core.handle_timeout(Instant::now());
        }
        while let Some(t) = core.poll_transmit(&mut tx) {
            sock.send(&tx[..t.len])?;
        }
        while let Some(event) = core.poll_event() {
            let _ = events.send(event);
        }
    }
    Ok(())
}

/// Parses `pppoe -d` output: `SESSION:MAC`, session in decimal.
fn parse_session_line(stdout: &str) -> Option<(u16, MacAddress)> {
    stdout.lines().find_map(|line| {
        let (session, mac) = line.trim().split_once(':')?;
        Some((session.parse().ok()?, mac.parse().ok()?))
    })
}

fn wait_for<T>(
    events: &mpsc::Receiver<Event>,
    what: &str,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Ok(event) => {
                if let Some(found) = f(&event) {
                    return Ok(found);
                }
            }
            Err(_) => break,
        }
    }
    bail!("no {what} event from the discovery core")
}

#[test]
fn rp_pppoe_discovers_our_access_concentrator() -> Result<()> {
    require_tool("pppoe", "pppoe")?;
    let dir = tempdir("pppoe-rp")?;
    let ac = Netns::new("ppp-ac")?;
    let host = Netns::new("ppp-host")?;
    let link = VethPair::builder(&ac, &host).mtu(1500).create()?;
    let (ac_if, host_if) = (link.a().to_owned(), link.b().to_owned());
    ac.ip(["link", "set", "dev", &ac_if, "address", &AC_MAC.to_string()])?;
    let capture = LiveCapture::start(&host, &host_if, &dir.path().join("discovery.pcap"))?;

    let config = DiscoveryConfig {
        ac_name: AC_NAME.as_bytes().to_vec(),
        service_names: vec![b"tn-internet".to_vec()],
        ..DiscoveryConfig::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (command_tx, command_rx) = mpsc::channel();
    let (event_tx, event_rx) = mpsc::channel();
    let server = {
        let stop = Arc::clone(&stop);
        let ifname = ac_if;
        ac.spawn_thread("pppoe-ac", move || {
            serve(&ifname, config, &stop, &command_rx, &event_tx)
        })?
    };
    let result = (|| -> Result<()> {
        // `pppoe -A`: lists our AC-Name, our MAC and our services.
        let out =
            host.exec_unchecked(&["timeout", "30", "pppoe", "-I", &host_if, "-A", "-t", "2"])?;
        let listing = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(
            listing.contains(&format!("Access-Concentrator: {AC_NAME}")),
            "pppoe -A did not list {AC_NAME}:\n{listing}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(
            listing.contains("tn-internet"),
            "service not listed:\n{listing}"
        );
        ensure!(
            listing
                .to_lowercase()
                .contains(&AC_MAC.to_string().to_lowercase()),
            "our MAC not listed:\n{listing}"
        );

        // `pppoe -d`: PADI, PADO, PADR, PADS; prints SESSION:MAC.
        let out = host.exec_unchecked(&[
            "timeout", "30", "pppoe", "-I", &host_if, "-d", "-t", "2", "-U",
        ])?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let (session, mac) = parse_session_line(&stdout)
            .with_context(|| format!("no SESSION:MAC in pppoe -d output:\n{stdout}"))?;
        ensure!(
            session != 0,
            "pppoe -d failed (session 0):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ensure!(mac == AC_MAC, "pppoe -d chose {mac}, not us");
        let (established, host_uniq) = wait_for(&event_rx, "SessionEstablished", |e| match e {
            Event::SessionEstablished {
                session_id,
                host_uniq,
                ..
            } => Some((*session_id, host_uniq.clone())),
            _ => None,
        })?;
        ensure!(
            established == session,
            "rp-pppoe printed {session}, we assigned {established}"
        );
        ensure!(
            host_uniq.is_some(),
            "pppoe -U sends a Host-Uniq, the session should record it"
        );

        // `pppoe -k -e SESSION:MAC`: PADT from the host.
        let spec = format!("{session}:{AC_MAC}");
        host.exec_unchecked(&["timeout", "30", "pppoe", "-I", &host_if, "-k", "-e", &spec])?;
        let ended = wait_for(&event_rx, "SessionTerminated", |e| match e {
            Event::SessionTerminated {
                session_id,
                by_peer: true,
                ..
            } => Some(*session_id),
            _ => None,
        })?;
        ensure!(ended == session);

        // A service we do not offer: no PADO (RFC 2516 §5.2), so rp-pppoe
        // gives up and prints the all-zero line; the core counts the
        // refusal.
        let out = host.exec_unchecked(&[
            "timeout",
            "30",
            "pppoe",
            "-I",
            &host_if,
            "-d",
            "-t",
            "1",
            "-S",
            "no-such-service",
        ])?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(
            parse_session_line(&stdout) == Some((0, MacAddress::ZERO)),
            "pppoe -S no-such-service should fail:\n{stdout}"
        );
        wait_for(&event_rx, "Refused(ServiceUnavailable)", |e| match e {
            Event::Refused {
                reason: RefusalReason::ServiceUnavailable,
                ..
            } => Some(()),
            _ => None,
        })?;

        // A second session, ended by us: a PADT with Generic-Error.
        let out =
            host.exec_unchecked(&["timeout", "30", "pppoe", "-I", &host_if, "-d", "-t", "2"])?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let (second, _) = parse_session_line(&stdout).context("second pppoe -d")?;
        ensure!(second != 0 && second != session, "second session {second}");
        command_tx.send(Command::Terminate(second, "administrative reset"))?;
        wait_for(&event_rx, "SessionTerminated by us", |e| match e {
            Event::SessionTerminated {
                session_id,
                by_peer: false,
                ..
            } if *session_id == second => Some(()),
            _ => None,
        })?;
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let served = server.join().map_err(|_| anyhow!("AC thread panicked"))?;
    let pcap = capture.stop()?;
    result?;
    served?;

    let tshark = Tshark::new();
    tshark.assert_clean(&pcap)?;
    ensure!(tshark.malformed(&pcap)? == 0, "malformed frames");
    let count = |filter: &str| tshark.count(&pcap, Some(filter));
    ensure!(count("pppoe.code == 0x09")? >= 2, "PADIs");
    ensure!(
        count("pppoe.code == 0x07 && eth.src == 02:ac:00:5e:00:01")? >= 3,
        "our PADOs"
    );
    ensure!(count("pppoe.code == 0x19")? >= 2, "PADRs");
    ensure!(
        count("pppoe.code == 0x65 && eth.src == 02:ac:00:5e:00:01")? >= 2,
        "our PADSs"
    );
    ensure!(
        count("pppoe.code == 0xa7 && eth.src == 02:ac:00:5e:00:01")? == 1,
        "our PADT"
    );
    ensure!(
        count("pppoe.code == 0xa7 && eth.dst == 02:ac:00:5e:00:01")? == 1,
        "rp-pppoe's PADT"
    );
    ensure!(
        count("pppoe.payload_length.bad")? == 0,
        "a PPPoE LENGTH that disagrees with the frame"
    );
    ensure!(
        count("pppoed.tags.ac_name == \"tn-interop-ac\"")? >= 3,
        "AC-Name in tshark's dissection"
    );
    Ok(())
}
