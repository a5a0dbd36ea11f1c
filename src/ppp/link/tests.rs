//! The path from the automatons to [`Link::poll_transmit`].

use super::*;

/// An LCP Configure-Request (Identifier 3) of 40 unknown options of 255
/// octets, and those options.
fn huge_configure_request() -> (Vec<u8>, Vec<u8>) {
    let mut options = Vec::new();
    for kind in 100..140u8 {
        options.push(kind);
        options.push(255);
        options.extend_from_slice(&[kind; 253]);
    }
    let mut request = vec![1, 3, 0, 0];
    request.extend_from_slice(&options);
    let length = u16::try_from(request.len()).unwrap();
    request[2..4].copy_from_slice(&length.to_be_bytes());
    (request, options)
}

#[test]
fn packets_longer_than_a_frame_reach_poll_transmit_whole() {
    let now = Instant::now();
    let mut link = Link::new(LinkConfig::default(), [1; 32]);
    link.open(now);
    let (request, options) = huge_configure_request();
    link.handle_frame(now, Protocol::Lcp, &request);

    let mut buf = vec![0; 16 * 1024];
    let (protocol, len) = link.poll_transmit(&mut buf).unwrap();
    assert_eq!((protocol, buf[0]), (Protocol::Lcp, 1), "our request first");
    assert!(len < 128);
    let (protocol, len) = link.poll_transmit(&mut buf).unwrap();
    assert_eq!(protocol, Protocol::Lcp);
    assert_eq!(len, 4 + options.len());
    assert_eq!(&buf[..2], &[4, 3], "Configure-Reject, Identifier 3");
    assert_eq!(&buf[4..len], &options[..]);
    assert_eq!(link.poll_transmit(&mut buf), None);
    assert_eq!(link.stats().queue_overflows, 0);
}

#[test]
fn a_frame_longer_than_the_buffer_is_dropped_and_counted() {
    let now = Instant::now();
    let mut link = Link::new(LinkConfig::default(), [1; 32]);
    link.open(now);
    let (request, _) = huge_configure_request();
    link.handle_frame(now, Protocol::Lcp, &request);

    // The Configure-Request fits, the Configure-Reject does not.
    let mut buf = [0; 1500];
    assert_eq!(
        link.poll_transmit(&mut buf).map(|(p, _)| p),
        Some(Protocol::Lcp)
    );
    assert_eq!(link.poll_transmit(&mut buf), None);
    assert_eq!(link.stats().queue_overflows, 1);
    // Retransmissions still flow.
    link.handle_timeout(now + Duration::from_secs(3));
    assert_eq!(
        link.poll_transmit(&mut buf).map(|(_, len)| buf[..len][0]),
        Some(1)
    );
}
