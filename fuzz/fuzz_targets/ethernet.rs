//! Fuzzes `wire::ethernet`: the frame view and header representation, VLAN
//! tags (in-frame and from PACKET_AUXDATA) and MAC address text.
//!
//! Whatever parses must re-emit to the same bytes and re-parse to the same
//! value; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnelnas::wire::ethernet::{
    EthernetRepr, Frame, MAX_HEADER_LEN, MacAddress, VlanStack, VlanTag,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::new_checked(data) {
        let repr = EthernetRepr::parse(&frame).expect("a checked frame parses");
        assert_eq!(repr.buffer_len(), frame.header_len());
        assert_eq!(repr.vlans.len(), frame.vlan_count());

        let mut out = [0u8; MAX_HEADER_LEN];
        let len = repr.emit(&mut out).expect("a parsed header emits");
        assert_eq!(&out[..len], &data[..frame.header_len()]);
        let again = Frame::new_checked(&out[..len]).expect("an emitted header parses");
        assert_eq!(EthernetRepr::parse(&again).expect("re-parse"), repr);

        // The same header written into headroom in front of the payload.
        let mut shifted = vec![0u8; MAX_HEADER_LEN + frame.payload().len()];
        shifted[MAX_HEADER_LEN..].copy_from_slice(frame.payload());
        let start = repr
            .emit_in_headroom(&mut shifted, MAX_HEADER_LEN)
            .expect("headroom emit");
        assert_eq!(&shifted[start..], data);

        // A stripped outer tag on top of the frame's own tags.
        let stack = frame.vlans();
        let _ = stack.with_stripped_outer(stack.inner());
    }

    if let Ok(tag) = VlanTag::parse(data) {
        let mut out = [0u8; 4];
        tag.emit(&mut out).expect("a parsed tag emits");
        assert_eq!(&out[..], &data[..4]);
        assert_eq!(VlanTag::from_tci(tag.tpid, tag.tci()), tag);
    }

    if data.len() >= 8 {
        let status = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let tci = u16::from_be_bytes([data[4], data[5]]);
        let tpid = u16::from_be_bytes([data[6], data[7]]);
        if let Ok(Some(tag)) = VlanTag::from_packet_auxdata(status, tci, tpid) {
            tag.check().expect("an auxdata tag is valid");
            assert_eq!(tag.tci(), tci);
            let _ = VlanStack::single(tag).with_stripped_outer(Some(tag));
        }
    }

    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(mac) = text.parse::<MacAddress>()
    {
        assert_eq!(mac.to_string().parse::<MacAddress>(), Ok(mac));
    }
});
