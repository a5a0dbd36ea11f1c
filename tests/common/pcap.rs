//! Writing and reading pcap files (the `pcap-file` crate), and wrapping UDP
//! payloads in Ethernet / IP / UDP so tshark can dissect what our code
//! emits.
//!
//! ```ignore
//! let mut dump = PcapDump::create(&dir.join("sccrq.pcap"))?;
//! dump.write_udp("10.1.0.1:1701".parse()?, "10.1.0.2:1701".parse()?, &sccrq_bytes)?;
//! let path = dump.finish()?;
//! assert_eq!(Tshark::new().malformed(&path)?, 0);
//! ```
//!
//! Headers follow RFC 791 (IPv4 header checksum), RFC 768 (UDP checksum
//! over the pseudo-header), RFC 8200 §8.1 (UDP over IPv6: the checksum is
//! mandatory) and RFC 1071 (the Internet checksum).

use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};

use super::{Context, Result, bail, ensure};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IP protocol number of UDP.
const IPPROTO_UDP: u8 = 17;
/// Largest UDP payload that fits an IPv4 datagram (65535 - 20 - 8).
pub const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// Largest UDP payload without an IPv6 jumbogram (65535 - 8).
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// A pcap file being written, link type Ethernet, microsecond timestamps.
#[derive(Debug)]
pub struct PcapDump {
    writer: PcapWriter<BufWriter<File>>,
    path: PathBuf,
    next_timestamp: Duration,
}

impl PcapDump {
    /// Creates (truncates) `path`. Frames are stamped with the current time
    /// at creation plus 1 ms per frame, so the order is always clear.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let writer = PcapWriter::with_header(BufWriter::new(file), header)
            .with_context(|| format!("writing the pcap header of {}", path.display()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Self {
            writer,
            path: path.to_owned(),
            next_timestamp: Duration::from_micros(now.as_micros() as u64),
        })
    }

    /// Appends one Ethernet frame.
    pub fn write_frame(&mut self, frame: &[u8]) -> Result<()> {
        let len = u32::try_from(frame.len()).context("frame longer than 4 GiB")?;
        self.writer
            .write_packet(&PcapPacket::new(self.next_timestamp, len, frame))
            .with_context(|| format!("writing to {}", self.path.display()))?;
        self.next_timestamp += Duration::from_millis(1);
        Ok(())
    }

    /// Appends `payload` as a UDP datagram from `src` to `dst` in an
    /// Ethernet frame (see [`udp_frame`]).
    pub fn write_udp(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<()> {
        let frame = udp_frame(src, dst, payload)?;
        self.write_frame(&frame)
    }

    /// Flushes and closes the file; returns its path.
    pub fn finish(self) -> Result<PathBuf> {
        use std::io::Write;
        let path = self.path;
        self.writer
            .into_writer()
            .flush()
            .with_context(|| format!("flushing {}", path.display()))?;
        Ok(path)
    }
}

/// One packet read from a capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Link type of the interface it was captured on (check it: most
    /// fixtures are Ethernet, but not necessarily all).
    pub datalink: DataLink,
    /// Capture time since the Unix epoch (microsecond resolution for
    /// pcapng files from dumpcap).
    pub timestamp: Duration,
    /// Length on the wire (may exceed `data.len()` if truncated by snaplen).
    pub orig_len: u32,
    /// The captured bytes, starting with the link-layer header.
    pub data: Vec<u8>,
}

/// Magic number that opens a pcapng file (its first block type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Reads every packet of a capture file, pcap or pcapng (dumpcap writes
/// pcapng even when the name ends in `.pcap`).
pub fn read_capture(path: &Path) -> Result<Vec<CapturedPacket>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(&PCAPNG_MAGIC) {
        read_pcapng(&bytes).with_context(|| format!("parsing pcapng {}", path.display()))
    } else {
        read_pcap(&bytes).with_context(|| format!("parsing pcap {}", path.display()))
    }
}

fn read_pcap(bytes: &[u8]) -> Result<Vec<CapturedPacket>> {
    let mut reader = PcapReader::new(bytes)?;
    let datalink = reader.header().datalink;
    let mut packets = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet?;
        packets.push(CapturedPacket {
            datalink,
            timestamp: packet.timestamp,
            orig_len: packet.orig_len,
            data: packet.data.into_owned(),
        });
    }
    Ok(packets)
}

fn read_pcapng(bytes: &[u8]) -> Result<Vec<CapturedPacket>> {
    let mut reader = PcapNgReader::new(bytes)?;
    // Link types of the current section's interfaces, by interface id.
    let mut interfaces: Vec<DataLink> = Vec::new();
    let mut packets = Vec::new();
    while let Some(block) = reader.next_block() {
        let (interface_id, timestamp, orig_len, data) = match block? {
            Block::SectionHeader(_) => {
                interfaces.clear();
                continue;
            }
            Block::InterfaceDescription(interface) => {
                interfaces.push(interface.linktype);
                continue;
            }
            Block::EnhancedPacket(packet) => (
                packet.interface_id,
                packet.timestamp,
                packet.original_len,
                packet.data.into_owned(),
            ),
            Block::SimplePacket(packet) => (
                0,
                Duration::ZERO,
                packet.original_len,
                packet.data.into_owned(),
            ),
            _ => continue,
        };
        let Some(datalink) = usize::try_from(interface_id)
            .ok()
            .and_then(|id| interfaces.get(id))
        else {
            bail!("packet on undeclared interface {interface_id}");
        };
        packets.push(CapturedPacket {
            datalink: *datalink,
            timestamp,
            orig_len,
            data,
        });
    }
    Ok(packets)
}

/// A UDP datagram found in an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpInFrame<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload (as long as the UDP length says, if the frame holds it).
    pub payload: &'a [u8],
}

/// Finds the UDP datagram in an Ethernet II frame (with up to two 802.1Q /
/// 802.1ad tags) over IPv4 or IPv6 (no extension headers); `None` for
/// anything else or a truncated frame. For reading fixtures.
pub fn udp_in_ethernet(frame: &[u8]) -> Option<UdpInFrame<'_>> {
    let mut offset = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(offset)?, *frame.get(offset + 1)?]);
    offset += 2;
    for _ in 0..2 {
        if ethertype == 0x8100 || ethertype == 0x88a8 {
            ethertype = u16::from_be_bytes([*frame.get(offset + 2)?, *frame.get(offset + 3)?]);
            offset += 4;
        }
    }
    let ip = frame.get(offset..)?;
    let (src_ip, dst_ip, udp): (IpAddr, IpAddr, &[u8]) = match ethertype {
        ETHERTYPE_IPV4 => {
            let header_len = usize::from(*ip.first()? & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            if *ip.get(9)? != IPPROTO_UDP || header_len < 20 || total_len < header_len {
                return None;
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                src.into(),
                dst.into(),
                ip.get(header_len..total_len.min(ip.len()))?,
            )
        }
        ETHERTYPE_IPV6 => {
            if *ip.get(6)? != IPPROTO_UDP {
                return None;
            }
            let payload_len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let end = 40usize.saturating_add(payload_len).min(ip.len());
            (src.into(), dst.into(), ip.get(40..end)?)
        }
        _ => return None,
    };
    let src_port = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dst_port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let udp_len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    if udp_len < 8 {
        return None;
    }
    Some(UdpInFrame {
        src: SocketAddr::new(src_ip, src_port),
        dst: SocketAddr::new(dst_ip, dst_port),
        payload: udp.get(8..udp_len.min(udp.len()))?,
    })
}

/// A locally administered unicast MAC derived from an address, so frames
/// of one host always carry the same MAC: `02:00:` + the last 4 bytes.
pub fn mac_for(addr: IpAddr) -> [u8; 6] {
    let tail = match addr {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, tail[0], tail[1], tail[2], tail[3]]
}

/// An Ethernet II header: destination, source, EtherType.
pub fn ethernet_header(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> [u8; 14] {
    let mut header = [0u8; 14];
    header[..6].copy_from_slice(&dst);
    header[6..12].copy_from_slice(&src);
    header[12..].copy_from_slice(&ethertype.to_be_bytes());
    header
}

/// `payload` as UDP from `src` to `dst` inside IPv4 or IPv6 inside
/// Ethernet (MACs from [`mac_for`]), with correct lengths and checksums.
/// Fails if the families differ or the payload does not fit.
pub fn udp_frame(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<Vec<u8>> {
    let (ethertype, ip_packet) = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ensure!(
                payload.len() <= MAX_UDP_PAYLOAD_V4,
                "UDP payload of {} bytes does not fit IPv4",
                payload.len()
            );
            let udp = udp_datagram(src, dst, payload);
            let total = (20 + udp.len()) as u16;
            let mut ip = Vec::with_capacity(total as usize);
            ip.extend_from_slice(&[0x45, 0x00]); // version 4, IHL 5; DSCP 0
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0x00, 0x00, 0x40, 0x00]); // id 0, DF
            ip.extend_from_slice(&[64, IPPROTO_UDP, 0, 0]); // TTL, protocol, checksum
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let checksum = internet_checksum(&[&ip]);
            ip[10..12].copy_from_slice(&checksum.to_be_bytes());
            ip.extend_from_slice(&udp);
            (ETHERTYPE_IPV4, ip)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ensure!(
                payload.len() <= MAX_UDP_PAYLOAD_V6,
                "UDP payload of {} bytes does not fit IPv6",
                payload.len()
            );
            let udp = udp_datagram(src, dst, payload);
            let mut ip = Vec::with_capacity(40 + udp.len());
            ip.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, class 0, flow 0
            ip.extend_from_slice(&(udp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[IPPROTO_UDP, 64]); // next header, hop limit
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            ip.extend_from_slice(&udp);
            (ETHERTYPE_IPV6, ip)
        }
        _ => bail!("UDP from {src} to {dst}: address families differ"),
    };
    let mut frame = Vec::with_capacity(14 + ip_packet.len());
    frame.extend_from_slice(&ethernet_header(
        mac_for(dst.ip()),
        mac_for(src.ip()),
        ethertype,
    ));
    frame.extend_from_slice(&ip_packet);
    Ok(frame)
}

/// A UDP header + payload with the checksum over the pseudo-header
/// (RFC 768; RFC 8200 §8.1). The caller checked that the length fits.
fn udp_datagram(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let length = (8 + payload.len()) as u16;
    let mut udp = Vec::with_capacity(usize::from(length));
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&length.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let pseudo: Vec<u8> = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => [
            &s.octets()[..],
            &d.octets(),
            &[0, IPPROTO_UDP],
            &length.to_be_bytes(),
        ]
        .concat(),
        _ => {
            let s = match src.ip() {
                IpAddr::V6(v6) => v6.octets(),
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            };
            let d = match dst.ip() {
                IpAddr::V6(v6) => v6.octets(),
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            };
            [
                &s[..],
                &d,
                &u32::from(length).to_be_bytes(),
                &[0, 0, 0, IPPROTO_UDP],
            ]
            .concat()
        }
    };
    let checksum = match internet_checksum(&[&pseudo, &udp]) {
        0 => 0xffff, // RFC 768: a computed zero is sent as all ones
        sum => sum,
    };
    udp[6..8].copy_from_slice(&checksum.to_be_bytes());
    udp
}

/// The Internet checksum (RFC 1071) of the concatenation of `parts`
/// (each part but the last must have even length).
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for pair in &mut chunks {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    !(sum as u16)
}
