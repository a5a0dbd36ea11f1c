//! ICMPv6 Echo Reply for the LNS's link-local address on a subscriber's
//! PPP link (RFC 4443 §4.2: "Every node MUST implement an ICMPv6 Echo
//! responder function that receives Echo Requests and originates
//! corresponding Echo Replies"). The link-local address `fe80::<our
//! interface identifier>` (RFC 5072 §5) exists on each PPP link, not in
//! the kernel behind TUN, so the LNS answers for it; everything else is
//! the kernel's.

use std::net::Ipv6Addr;

use crate::wire::ipv6::icmpv6::{Icmpv6Packet, Icmpv6Type};
use crate::wire::ipv6::{HEADER_LEN, NextHeader, Packet};

/// Hop limit of our replies (RFC 4861's default Cur Hop Limit).
const HOP_LIMIT: u8 = 64;

/// The Echo Reply to `packet` when it is a valid ICMPv6 Echo Request to
/// `ours` (checksum right, no extension header): the request with its
/// addresses swapped, type 129 and a new checksum. `None` otherwise.
#[must_use]
pub fn echo_reply(packet: &[u8], ours: Ipv6Addr) -> Option<Vec<u8>> {
    let view = Packet::new_checked(packet).ok()?;
    if view.dst_addr() != ours || view.next_header() != NextHeader::Icmpv6 {
        return None;
    }
    let (src, dst) = (view.src_addr(), view.dst_addr());
    let icmp = Icmpv6Packet::new_checked(view.payload()).ok()?;
    if icmp.msg_type() != Icmpv6Type::EchoRequest
        || icmp.code() != 0
        || !icmp.verify_checksum(&src, &dst)
        || src.is_multicast()
        || src.is_unspecified()
    {
        return None;
    }
    let end = HEADER_LEN + view.payload().len();
    let mut reply = packet.get(..end)?.to_vec();
    reply.get_mut(8..24)?.copy_from_slice(&dst.octets());
    reply.get_mut(24..40)?.copy_from_slice(&src.octets());
    *reply.get_mut(7)? = HOP_LIMIT;
    let body = reply.get_mut(HEADER_LEN..)?;
    *body.first_mut()? = Icmpv6Type::EchoReply.into();
    let mut icmp = Icmpv6Packet::new_checked(body).ok()?;
    icmp.fill_checksum(&dst, &src);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(src: Ipv6Addr, dst: Ipv6Addr, data: &[u8]) -> Vec<u8> {
        let mut icmp = vec![128, 0, 0, 0, 0x12, 0x34, 0, 1];
        icmp.extend_from_slice(data);
        let mut view = Icmpv6Packet::new_checked(&mut icmp[..]).unwrap();
        view.fill_checksum(&src, &dst);
        let mut packet = vec![0x60, 0, 0, 0];
        packet.extend_from_slice(&u16::try_from(icmp.len()).unwrap().to_be_bytes());
        packet.extend_from_slice(&[58, 255]);
        packet.extend_from_slice(&src.octets());
        packet.extend_from_slice(&dst.octets());
        packet.extend_from_slice(&icmp);
        packet
    }

    #[test]
    fn an_echo_request_to_our_link_local_is_answered_with_its_data() {
        let ours: Ipv6Addr = "fe80::1".parse().unwrap();
        let peer: Ipv6Addr = "fe80::2".parse().unwrap();
        let reply = echo_reply(&request(peer, ours, b"ping data"), ours).expect("a reply");
        let view = Packet::new_checked(&reply[..]).unwrap();
        assert_eq!((view.src_addr(), view.dst_addr()), (ours, peer));
        let icmp = Icmpv6Packet::new_checked(view.payload()).unwrap();
        assert_eq!(icmp.msg_type(), Icmpv6Type::EchoReply);
        assert!(icmp.verify_checksum(&ours, &peer));
        assert_eq!(&icmp.body()[4..], b"ping data");
    }

    #[test]
    fn other_destinations_bad_checksums_and_truncations_get_no_reply() {
        let ours: Ipv6Addr = "fe80::1".parse().unwrap();
        let peer: Ipv6Addr = "fe80::2".parse().unwrap();
        let other: Ipv6Addr = "fe80::3".parse().unwrap();
        assert!(echo_reply(&request(peer, other, b"x"), ours).is_none());
        let mut bad = request(peer, ours, b"x");
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(echo_reply(&bad, ours).is_none());
        let good = request(peer, ours, b"xyz");
        for len in 0..good.len() {
            assert!(
                echo_reply(&good[..len], ours).is_none(),
                "truncated at {len}"
            );
        }
    }
}
