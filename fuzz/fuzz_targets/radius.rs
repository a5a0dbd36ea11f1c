//! Fuzzes `wire::radius`: the checked packet view, every decoder on every
//! attribute, authenticator verification and the PacketRepr round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnelnas::wire::radius::{
    Packet, PacketRepr, TunnelValue, VendorSpecific, decrypt_salted, unhide_user_password,
};

const SECRET: &[u8] = b"testing123";
const REQUEST: [u8; 16] = [7; 16];

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let _ = packet.verify_request(SECRET);
    let _ = packet.verify_response(&REQUEST, SECRET);
    for attribute in packet.attributes() {
        let attribute = attribute.expect("checked packet has a valid attribute chain");
        let _ = TunnelValue::parse(&attribute);
        let _ = attribute.as_u32();
        if let Ok(vsa) = VendorSpecific::parse(attribute.value()) {
            for sub in vsa.sub_attributes() {
                let _ = decrypt_salted(sub.value(), SECRET, &REQUEST);
            }
        }
        let _ = decrypt_salted(attribute.value(), SECRET, &REQUEST);
        let _ = unhide_user_password(attribute.value(), SECRET, &REQUEST);
    }
    let repr = PacketRepr::parse(&packet).expect("checked packet parses");
    let mut out = vec![0; repr.buffer_len()];
    let len = repr.emit(&mut out).expect("parsed packet re-emits");
    assert_eq!(&out[..len], packet.as_bytes());
});
