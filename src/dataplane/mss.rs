//! TCP MSS clamping on the forwarding path: a subscriber behind PPPoE has a
//! smaller MTU than the hosts it talks to assume, and path-MTU discovery is
//! often broken by filtered ICMP. Lowering the MSS option of TCP SYNs
//! (RFC 9293 §3.7.1, RFC 6691) inside the PPP frames we forward keeps
//! segments within the tunnel's payload.
//!
//! In place, no allocation; the TCP checksum is updated incrementally
//! (RFC 1624 §3, eqn. 3: `HC' = ~(~HC + ~m + m')`). Anything that is not a
//! well-formed, unfragmented TCP SYN is left untouched.

/// Clamps the MSS option of a TCP SYN in `ip` (an IPv4 or IPv6 datagram,
/// as carried in a PPP frame) to at most `max_mss`. Returns the MSS the
/// packet had if it was lowered, `None` when nothing changed.
pub fn clamp_mss(ip: &mut [u8], max_mss: u16) -> Option<u16> {
    let version = ip.first()? >> 4;
    let tcp_start = match version {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            // Protocol TCP, and the first (or only) fragment: offset 0.
            let fragment_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x1fff;
            if ihl < 20 || total > ip.len() || *ip.get(9)? != 6 || fragment_offset != 0 {
                return None;
            }
            ihl
        }
        6 => {
            // Next Header TCP directly; SYNs behind extension headers are
            // rare enough to forward unchanged.
            if *ip.get(6)? != 6 {
                return None;
            }
            40
        }
        _ => return None,
    };
    let tcp = ip.get_mut(tcp_start..)?;
    let data_offset = usize::from(*tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    if data_offset < 20 || data_offset > tcp.len() || flags & 0x02 == 0 {
        return None;
    }
    let mut at = 20;
    while at < data_offset {
        match tcp[at] {
            0 => return None,
            1 => at += 1,
            kind => {
                let len = usize::from(*tcp.get(at + 1)?);
                if len < 2 || at + len > data_offset {
                    return None;
                }
                if kind == 2 && len == 4 {
                    let mss = u16::from_be_bytes([tcp[at + 2], tcp[at + 3]]);
                    if mss <= max_mss {
                        return None;
                    }
                    tcp[at + 2..at + 4].copy_from_slice(&max_mss.to_be_bytes());
                    let checksum = u16::from_be_bytes([tcp[16], tcp[17]]);
                    let updated = incremental_update(checksum, mss, max_mss);
                    tcp[16..18].copy_from_slice(&updated.to_be_bytes());
                    return Some(mss);
                }
                at += len;
            }
        }
    }
    None
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word changed from `old`
/// to `new`.
fn incremental_update(checksum: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(mut sum: u32) -> u16 {
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn words(data: &[u8]) -> u32 {
        data.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
            .sum()
    }

    /// A full recomputation of the TCP checksum (pseudo-header included).
    fn tcp_checksum_v4(ip: &[u8]) -> u16 {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let tcp = &ip[ihl..];
        let mut sum = words(&ip[12..20]) + 6 + tcp.len() as u32;
        let mut copy = tcp.to_vec();
        copy[16] = 0;
        copy[17] = 0;
        sum += words(&copy);
        fold(sum)
    }

    fn syn_v4(mss: u16, flags: u8) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 192, 0, 2, 7,
        ];
        let mut tcp = vec![
            0xc0, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x70, flags, 0xff, 0xff, 0, 0, 0, 0,
            // options: NOP, NOP, MSS, SACK-permitted, then padding to 28
            1, 1, 2, 4,
        ];
        tcp.extend_from_slice(&mss.to_be_bytes());
        tcp.extend_from_slice(&[4, 2]);
        ip.extend_from_slice(&tcp);
        let total = ip.len() as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let sum = tcp_checksum_v4(&ip);
        ip[20 + 16..20 + 18].copy_from_slice(&sum.to_be_bytes());
        ip
    }

    #[test]
    fn syn_mss_is_lowered_and_checksum_stays_valid() {
        let mut ip = syn_v4(1460, 0x02);
        assert_eq!(clamp_mss(&mut ip, 1412), Some(1460));
        assert_eq!(&ip[20 + 24..20 + 26], &1412u16.to_be_bytes());
        let stored = u16::from_be_bytes([ip[36], ip[37]]);
        assert_eq!(
            stored,
            tcp_checksum_v4(&ip),
            "incremental = full recomputation"
        );
    }

    #[test]
    fn syn_ack_too_and_small_mss_untouched() {
        let mut synack = syn_v4(8960, 0x12);
        assert_eq!(clamp_mss(&mut synack, 1452), Some(8960));
        let mut small = syn_v4(1200, 0x02);
        let before = small.clone();
        assert_eq!(clamp_mss(&mut small, 1452), None);
        assert_eq!(small, before);
    }

    #[test]
    fn non_syn_fragments_and_garbage_are_left_alone() {
        let mut ack = syn_v4(1460, 0x10);
        let before = ack.clone();
        assert_eq!(clamp_mss(&mut ack, 1400), None);
        assert_eq!(ack, before);
        let mut fragment = syn_v4(1460, 0x02);
        fragment[7] = 8; // offset 8 × 8 bytes
        assert_eq!(clamp_mss(&mut fragment, 1400), None);
        for len in 0..syn_v4(1460, 2).len() {
            let mut cut = syn_v4(1460, 2)[..len].to_vec();
            let _ = clamp_mss(&mut cut, 1400);
        }
        let mut bad_option = syn_v4(1460, 0x02);
        bad_option[20 + 21] = 0; // NOP → End of options before MSS
        assert_eq!(clamp_mss(&mut bad_option, 1400), None);
    }

    #[test]
    fn ipv6_syn_is_clamped() {
        let mut ip = vec![0u8; 40];
        ip[0] = 0x60;
        ip[6] = 6;
        ip[7] = 64;
        let mut tcp = vec![0u8; 24];
        tcp[12] = 0x60;
        tcp[13] = 0x02;
        tcp[20..24].copy_from_slice(&[2, 4, 0x05, 0xa0]);
        tcp[16..18].copy_from_slice(&0x1234u16.to_be_bytes());
        ip.extend_from_slice(&tcp);
        assert_eq!(clamp_mss(&mut ip, 1400), Some(1440));
        assert_eq!(&ip[62..64], &1400u16.to_be_bytes());
        // The checksum moved by exactly the MSS change (one's complement).
        let stored = u16::from_be_bytes([ip[56], ip[57]]);
        assert_eq!(stored, incremental_update(0x1234, 1440, 1400));
    }
}
