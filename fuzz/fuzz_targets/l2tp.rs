//! Fuzzes `wire::l2tp`: the header view and owned header, in-place Ns/Nr
//! and id patching, the AVP iterator and typed AVPs, and whole control
//! messages with and without a tunnel secret.
//!
//! Whatever parses must re-emit and re-parse to the same value (and to the
//! same bytes where the encoding is canonical); nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnelnas::wire::l2tp::avp::write_avp_header;
use tunnelnas::wire::l2tp::header::FLAG_SEQUENCE;
use tunnelnas::wire::l2tp::{
    Avp, AvpIter, ControlMessage, HeaderRepr, HiddenPadding, Hiding, Packet, peek_version,
};

const SECRET: &[u8] = b"fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let _ = peek_version(data);

    if let Ok(packet) = Packet::new_checked(data) {
        check_header(&packet);
        check_patching(data, &packet);
        if packet.is_control() {
            check_control(&packet);
        }
    }

    // The AVP walker on its own, over arbitrary bytes.
    for raw in AvpIter::new(data) {
        let Ok(raw) = raw else { break };
        let _ = Avp::from_raw(&raw, SECRET, data);
        if let Ok(avp) = Avp::from_raw_concealed(&raw) {
            let mut out = vec![0u8; avp.buffer_len()];
            let len = avp
                .emit(raw.mandatory, &mut out)
                .expect("a decoded AVP emits");
            assert_eq!(len, raw.wire_len());
            // Every decoding is lossless; only a standalone reserved-bit AVP
            // loses its H bit (in a message, MessageAvp keeps it).
            let hidden = raw.hidden && raw.reserved_bits == 0;
            let mut expect = vec![0u8; raw.wire_len()];
            write_avp_header(
                &mut expect,
                raw.mandatory,
                hidden,
                raw.reserved_bits,
                raw.vendor_id,
                raw.attr_type,
                raw.value.len(),
            )
            .expect("header fits");
            expect[6..].copy_from_slice(raw.value);
            assert_eq!(out, expect);
        }
    }
});

fn check_header(packet: &Packet<&[u8]>) {
    let repr = HeaderRepr::parse(packet);
    assert_eq!(repr.header_len(), packet.header_len());
    let payload = packet.payload();
    let mut out = vec![0u8; repr.header_len() + payload.len()];
    let header_len = repr
        .emit(&mut out, payload.len())
        .expect("a parsed header emits");
    out[header_len..].copy_from_slice(payload);
    let again = Packet::new_checked(&out[..]).expect("an emitted header parses");
    assert_eq!(HeaderRepr::parse(&again), repr);
    assert_eq!(again.payload(), payload);
    // Canonical input (no reserved bits, zero offset pad) re-emits exactly.
    let pad_start = packet.header_len() - usize::from(packet.offset_size().unwrap_or(0));
    let pad_is_zero = packet.as_bytes()[pad_start..packet.header_len()]
        .iter()
        .all(|b| *b == 0);
    if packet.reserved_bits() == 0 && pad_is_zero {
        assert_eq!(&out[..], packet.as_bytes());
    }
    // The same header written into headroom in front of the payload.
    let headroom = repr.header_len() + 3;
    let mut shifted = vec![0u8; headroom + payload.len()];
    shifted[headroom..].copy_from_slice(payload);
    let start = repr
        .emit_before(&mut shifted, headroom, payload.len())
        .expect("headroom emit");
    assert_eq!(&shifted[start..], &out[..]);
}

fn check_patching(data: &[u8], packet: &Packet<&[u8]>) {
    let mut copy = data.to_vec();
    let mut patched = Packet::new_checked(&mut copy[..]).expect("same bytes check");
    patched.set_tunnel_id(0xBEEF);
    patched.set_session_id(0xCAFE);
    let has_sequence = packet.flags() & FLAG_SEQUENCE != 0;
    assert_eq!(patched.set_ns(7).is_ok(), has_sequence);
    assert_eq!(patched.set_nr(9).is_ok(), has_sequence);
    let patched = Packet::new_checked(&copy[..]).expect("patching keeps the packet valid");
    assert_eq!(
        (patched.tunnel_id(), patched.session_id()),
        (0xBEEF, 0xCAFE)
    );
    if has_sequence {
        assert_eq!((patched.ns(), patched.nr()), (Some(7), Some(9)));
    }
    assert_eq!(patched.payload(), packet.payload());
}

fn check_control(packet: &Packet<&[u8]>) {
    // Without a secret: hidden AVPs stay concealed and everything re-emits
    // byte for byte (given canonical header flags).
    if let Ok(msg) = ControlMessage::parse(packet, None) {
        let out = msg.to_vec(None).expect("a parsed message emits");
        let again = ControlMessage::from_bytes(&out, None).expect("re-parse");
        assert_eq!(again, msg);
        if packet.flags() == 0xC802 {
            assert_eq!(&out[..], packet.as_bytes());
        }
        assert_eq!(msg.is_zlb(), packet.payload().is_empty());
    }
    // With a secret: hidden AVPs are unhidden; re-hiding them (without
    // padding) must give a message that parses back to the same value.
    if let Ok(msg) = ControlMessage::parse(packet, Some(SECRET)) {
        let hiding = Hiding {
            secret: SECRET,
            random_vector: b"",
            hide: &[],
            padding: HiddenPadding::None,
        };
        let out = msg.to_vec(Some(&hiding)).expect("a parsed message emits");
        let again = ControlMessage::from_bytes(&out, Some(SECRET)).expect("re-parse");
        assert_eq!(again, msg);
    }
}
