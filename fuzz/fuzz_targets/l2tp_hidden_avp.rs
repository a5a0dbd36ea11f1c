//! Fuzzes the hidden AVP cipher of `wire::l2tp` (RFC 2661 §4.3): hide and
//! unhide round-trip for arbitrary secret, random vector, attribute type,
//! value and padding; unhiding arbitrary bytes never panics; and a control
//! message carrying the value as a hidden AVP round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnelnas::wire::l2tp::hidden::hidden_len;
use tunnelnas::wire::l2tp::{
    Avp, AvpType, ControlMessage, HiddenPadding, Hiding, MessageAvp, MessageType, hide, unhide,
};

/// Splits `data` as: secret length, random vector length, padding length,
/// attribute type (2 bytes), then secret, random vector and value.
fn split(data: &[u8]) -> Option<(&[u8], &[u8], usize, u16, &[u8])> {
    let (head, rest) = data.split_first_chunk::<5>()?;
    let [secret_len, rv_len, padding, t0, t1] = *head;
    let (secret, rest) = rest.split_at_checked(usize::from(secret_len % 64))?;
    let (rv, value) = rest.split_at_checked(usize::from(rv_len % 64))?;
    Some((
        secret,
        rv,
        usize::from(padding),
        u16::from_be_bytes([t0, t1]),
        value,
    ))
}

fuzz_target!(|data: &[u8]| {
    // Unhiding arbitrary bytes: an error or a value that fits.
    if let Some((secret, rv, _, attr_type, hidden)) = split(data)
        && let Ok(value) = unhide(attr_type, secret, rv, hidden)
    {
        assert!(value.len() + 2 <= hidden.len());
    }

    let Some((secret, rv, padding, attr_type, value)) = split(data) else {
        return;
    };

    // hide / unhide round trip.
    let mut out = vec![0u8; hidden_len(value.len(), padding)];
    let len = hide(attr_type, secret, rv, value, padding, &mut out).expect("room was reserved");
    assert_eq!(len, out.len());
    assert_eq!(
        unhide(attr_type, secret, rv, &out).expect("own output unhides"),
        value
    );
    if !out.is_empty() && !secret.is_empty() {
        // A different attribute type keys differently (the two Original
        // Length bytes are then garbage, so this almost always fails; it
        // must never panic).
        let _ = unhide(attr_type ^ 1, secret, rv, &out);
    }

    // The value as a hidden AVP of this type inside a message.
    let Ok(avp) = Avp::decode(0, attr_type, value) else {
        return;
    };
    if !AvpType::from(attr_type).may_be_hidden() || value.len() + 2 > 1017 {
        return;
    }
    let mut msg = ControlMessage::new(MessageType::Iccn).with_ids(1, 2);
    msg.avps.push(MessageAvp::hidden(avp));
    let hiding = Hiding {
        secret,
        random_vector: rv,
        hide: &[],
        padding: HiddenPadding::Fixed((padding % 32) as u16),
    };
    let bytes = msg.to_vec(Some(&hiding)).expect("a valid hidden AVP emits");
    let parsed = ControlMessage::from_bytes(&bytes, Some(secret)).expect("own output parses");
    // The emitter inserted the Random Vector AVP before the hidden one.
    assert!(matches!(&parsed.avps[0].avp, Avp::RandomVector(v) if v == rv));
    assert_eq!(&parsed.avps[1..], &msg.avps[..]);
    // Re-emitting the parsed message reproduces the bytes.
    assert_eq!(parsed.to_vec(Some(&hiding)).expect("re-emit"), bytes);
});
