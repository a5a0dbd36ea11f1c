//! Fuzzes `wire::ppp`: the PPP framing (Address/Control, compressed
//! protocol), the control-packet view and option iterator, LCP, IPCP,
//! IPv6CP, PAP and CHAP packets and the MS-CHAPv2 layouts.
//!
//! Whatever parses must re-emit and re-parse to the same value, and to the
//! same bytes where the encoding is canonical (everything but PAP, which
//! tolerates a missing Msg-Length and ignores trailing bytes, and the
//! compressed protocol field, always re-emitted uncompressed); nothing may
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnelnas::wire::ppp::control::{ConfigOption, ControlPacket, OptionIter};
use tunnelnas::wire::ppp::{
    ChapRepr, ControlRepr, Frame, FrameHeader, IpcpOption, Ipv6cpOption, LcpOption,
    MsChapV2Failure, MsChapV2Response, MsChapV2Success, PapRepr,
};

/// Parses `data` as a control packet of one protocol and checks the round
/// trip, byte for byte.
fn control_round_trip<O>(data: &[u8])
where
    O: ConfigOption + Clone + PartialEq + core::fmt::Debug,
{
    let Ok(packet) = ControlPacket::new_checked(data) else {
        return;
    };
    if let Ok(repr) = ControlRepr::<O>::parse(&packet) {
        let bytes = repr.to_vec().expect("a parsed control packet emits");
        assert_eq!(&bytes[..], packet.packet());
        assert_eq!(
            ControlRepr::<O>::parse_bytes(&bytes).expect("re-parse"),
            repr
        );
    }
}

/// Every option of `data` re-emits its own bytes.
fn options_round_trip<O: ConfigOption>(data: &[u8]) {
    for raw in OptionIter::new(data) {
        let Ok(raw) = raw else { break };
        if let Ok(option) = O::parse(raw) {
            let mut out = vec![0u8; option.buffer_len()];
            option.emit(&mut out).expect("a parsed option emits");
            assert_eq!(&out[..], raw.bytes);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::new_checked(data) {
        let header = FrameHeader::parse(&frame);
        let mut out = vec![0u8; header.buffer_len()];
        header.emit(&mut out).expect("a parsed PPP header emits");
        out.extend_from_slice(frame.payload());
        let again = Frame::new_checked(&out[..]).expect("an emitted frame parses");
        assert_eq!(FrameHeader::parse(&again), header);
        assert_eq!(again.payload(), frame.payload());
        if !frame.is_protocol_compressed() {
            assert_eq!(out, data);
        }
    }

    control_round_trip::<LcpOption>(data);
    control_round_trip::<IpcpOption>(data);
    control_round_trip::<Ipv6cpOption>(data);
    options_round_trip::<LcpOption>(data);
    options_round_trip::<IpcpOption>(data);
    options_round_trip::<Ipv6cpOption>(data);

    if let Ok(repr) = PapRepr::parse_bytes(data) {
        let bytes = repr.to_vec().expect("a parsed PAP packet emits");
        assert_eq!(PapRepr::parse_bytes(&bytes).expect("re-parse"), repr);
    }
    if let Ok(packet) = ControlPacket::new_checked(data)
        && let Ok(repr) = ChapRepr::parse(&packet)
    {
        let bytes = repr.to_vec().expect("a parsed CHAP packet emits");
        assert_eq!(&bytes[..], packet.packet());
        assert_eq!(ChapRepr::parse_bytes(&bytes).expect("re-parse"), repr);
    }
    if let Ok(response) = MsChapV2Response::parse(data) {
        assert_eq!(&response.to_bytes()[..], data);
    }
    if let Ok(success) = MsChapV2Success::parse(data) {
        assert_eq!(
            MsChapV2Success::parse(&success.to_message()).expect("re-parse"),
            success
        );
    }
    if let Ok(failure) = MsChapV2Failure::parse(data) {
        assert_eq!(
            MsChapV2Failure::parse(&failure.to_message()).expect("re-parse"),
            failure
        );
    }
});
