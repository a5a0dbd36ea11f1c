//! Fuzzes `wire::pppoe`: the header view, the tag iterator and typed tags,
//! discovery packets and the session stage. Input: a PPPoE packet (header
//! first, Ethernet excluded).
//!
//! Whatever parses must re-emit and re-parse to the same value, and to the
//! same bytes where the encoding is canonical; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnelnas::wire::pppoe::{
    DiscoveryRepr, HEADER_LEN, Packet, SessionHeader, SessionPacket, Tag, TagIter,
};

fuzz_target!(|data: &[u8]| {
    // Tags of an arbitrary payload: each typed tag re-emits its own bytes.
    for raw in TagIter::new(data) {
        let Ok(raw) = raw else { break };
        if let Ok(tag) = Tag::parse(raw) {
            let mut out = vec![0u8; tag.buffer_len()];
            tag.emit(&mut out).expect("a parsed tag emits");
            assert_eq!(&out[4..], raw.value);
            assert_eq!(u16::from(tag.tag_type()), u16::from(raw.tag_type));
        }
    }

    if let Ok(packet) = Packet::new_checked(data) {
        assert!(packet.total_len() <= data.len());
        assert_eq!(packet.payload().len(), usize::from(packet.payload_len()));
        if let Ok(repr) = DiscoveryRepr::parse(&packet) {
            let bytes = repr.to_vec().expect("a parsed discovery packet emits");
            assert_eq!(DiscoveryRepr::parse_bytes(&bytes).expect("re-parse"), repr);
            // Only bytes after End-Of-List are ever dropped.
            if repr.buffer_len() == packet.total_len() {
                assert_eq!(&bytes[..], &data[..packet.total_len()]);
            } else {
                assert_eq!(repr.tags.last(), Some(&Tag::EndOfList));
            }
        }
    }

    if let Ok(session) = SessionPacket::new_checked(data) {
        let header = SessionHeader::parse(&session);
        let mut out = [0u8; HEADER_LEN];
        header
            .emit(&mut out)
            .expect("a parsed session header emits");
        assert_eq!(&out[..], &data[..HEADER_LEN]);
        assert_eq!(session.payload().len(), usize::from(header.payload_len));
        let again = SessionPacket::new_checked(&data[..HEADER_LEN + session.payload().len()])
            .expect("a session packet without padding parses");
        assert_eq!(SessionHeader::parse(&again), header);
    }
});
