//! ICMP echo over raw IPv4 datagrams, for tests that carry IP inside PPP
//! themselves (our cores have no IP stack): build an Echo Request, answer
//! one in place, recognise a reply.

use std::net::Ipv4Addr;

use super::pcap::internet_checksum;

/// An ICMP Echo Request (RFC 792) from `src` to `dst` with sequence `seq`
/// and a 16-byte payload, checksums filled in.
pub fn echo_request(src: Ipv4Addr, dst: Ipv4Addr, seq: u16) -> Vec<u8> {
    let mut packet = vec![0u8; 20 + 8 + 16];
    let total = packet.len() as u16;
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    packet[8] = 64;
    packet[9] = 1;
    packet[12..16].copy_from_slice(&src.octets());
    packet[16..20].copy_from_slice(&dst.octets());
    let sum = internet_checksum(&[&packet[..20]]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
    packet[20] = 8;
    packet[24..26].copy_from_slice(&0x7e57_u16.to_be_bytes());
    packet[26..28].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in packet[28..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let sum = internet_checksum(&[&packet[20..]]);
    packet[22..24].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// Turns an Echo Request to `ours` into its Echo Reply in place; false
/// (and `packet` untouched) for anything else.
pub fn answer_echo(packet: &mut [u8], ours: Ipv4Addr) -> bool {
    if packet.len() < 28 || packet[0] >> 4 != 4 || packet[9] != 1 {
        return false;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if ihl < 20 || total > packet.len() || total < ihl + 8 || packet[16..20] != ours.octets() {
        return false;
    }
    if packet[ihl] != 8 {
        return false;
    }
    let mut src = [0u8; 4];
    src.copy_from_slice(&packet[12..16]);
    packet.copy_within(16..20, 12);
    packet[16..20].copy_from_slice(&src);
    packet[8] = 64;
    packet[10..12].fill(0);
    let ip_sum = internet_checksum(&[&packet[..ihl]]);
    packet[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    packet[ihl] = 0;
    packet[ihl + 2..ihl + 4].fill(0);
    let icmp_sum = internet_checksum(&[&packet[ihl..total]]);
    packet[ihl + 2..ihl + 4].copy_from_slice(&icmp_sum.to_be_bytes());
    true
}

/// Whether `packet` is an ICMP Echo Reply addressed to `to`.
pub fn is_echo_reply_to(packet: &[u8], to: Ipv4Addr) -> bool {
    packet.len() >= 28
        && packet[0] >> 4 == 4
        && packet[9] == 1
        && packet[20] == 0
        && packet[16..20] == to.octets()
}
