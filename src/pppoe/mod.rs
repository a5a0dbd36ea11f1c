//! PPPoE discovery server and client cores (RFC 2516 §5, RFC 4638, RFC 4679).
//!
//! Sans-IO (see `DESIGN.md`): frames and time go in, frames and events come
//! out. The wire format lives in [`crate::wire::pppoe`] and
//! [`crate::wire::ethernet`]; these cores decide what to answer.
//!
//! * [`Discovery`] — the access concentrator's side of RFC 2516 §5, one per
//!   access interface: PADI → PADO with a stateless [`cookie`], PADR → PADS
//!   with a session id unique on the interface, PADT both ways, RFC 4638
//!   PPP-Max-Payload, RFC 4679 / TR-101 line identification, and the
//!   [`limits`] a carrier needs (sessions per interface and per MAC, PADI
//!   rate limits, PADO delay growing with load).
//! * [`Client`] — the host's side: PADI with Host-Uniq, choosing a PADO,
//!   PADR, PADS, retransmission with exponential backoff (RFC 2516 §7) and
//!   PADT. Used by the tests and by the load generator.
//!
//! Both write complete Ethernet frames (VLAN tags included, padded to the
//! 60-byte minimum) into a buffer the driver owns: [`Transmit`] tells the
//! driver where the frame goes and how long it is.

pub mod client;
pub mod cookie;
pub mod limits;
pub mod server;

pub use client::{Client, ClientConfig, ClientEvent, ClientFailure, ClientState};
pub use server::{Discovery, DiscoveryConfig, Event, RefusalReason, SessionInfo, TerminateError};

use crate::wire::ethernet::{self, EtherType, EthernetRepr, MacAddress, VlanStack};
use crate::wire::pppoe::{Code, DiscoveryRepr};

/// Which way a discovery packet went, for per-code packet counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received from the peer.
    Rx,
    /// Sent to the peer.
    Tx,
}

/// A frame a core wrote into the driver's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Destination MAC (also in the frame; given for the driver's benefit).
    pub dst: MacAddress,
    /// VLAN tags of the frame (also in the frame).
    pub vlans: VlanStack,
    /// PPPoE CODE of the packet, for logs.
    pub code: Code,
    /// Length of the complete Ethernet frame at the start of the buffer.
    pub len: usize,
}

/// Buffer size that always holds a frame these cores write: 1500 bytes of
/// payload plus an Ethernet header with two VLAN tags.
pub const MAX_FRAME_LEN: usize = ethernet::MAX_HEADER_LEN + 1500;

/// Largest PPPoE Discovery packet (header plus tags) that fits a standard
/// 1500-byte Ethernet payload.
pub const MAX_DISCOVERY_LEN: usize = 1500;

/// A discovery packet waiting to be written.
#[derive(Debug, Clone)]
struct Outgoing {
    dst: MacAddress,
    vlans: VlanStack,
    repr: DiscoveryRepr,
}

/// Writes `out` as a complete Ethernet frame from `src` into `buf`, padded
/// with zeros to the 60-byte minimum (the PPPoE LENGTH field tells the
/// receiver where the packet ends).
fn write_frame(buf: &mut [u8], src: MacAddress, out: &Outgoing) -> crate::wire::Result<Transmit> {
    let mut eth = EthernetRepr::new(out.dst, src, EtherType::PppoeDiscovery);
    eth.vlans = out.vlans;
    let total = eth.buffer_len() + out.repr.buffer_len();
    // Check the room first so nothing is written into a buffer that
    // cannot hold the whole frame.
    crate::wire::ensure_room(buf, total)?;
    let header = eth.emit(buf)?;
    let (_, body) = buf.split_at_mut(header);
    let len = header + out.repr.emit(body)?;
    // Short frames are padded to the Ethernet minimum (60 bytes without
    // the FCS) when the buffer allows; the PPPoE LENGTH field tells the
    // receiver where the packet ends (RFC 2516 §4).
    let len = match buf.get_mut(len..ethernet::MIN_FRAME_LEN) {
        Some(pad) => {
            pad.fill(0);
            ethernet::MIN_FRAME_LEN
        }
        None => len,
    };
    Ok(Transmit {
        dst: out.dst,
        vlans: out.vlans,
        code: out.repr.code,
        len,
    })
}

/// A discovery frame split into its parts, or why it is not one.
#[derive(Debug)]
struct Parsed {
    dst: MacAddress,
    src: MacAddress,
    vlans: VlanStack,
    repr: DiscoveryRepr,
}

/// Parses an Ethernet frame carrying a PPPoE Discovery packet.
fn parse_frame(frame: &[u8]) -> Result<Parsed, crate::wire::Error> {
    let eth = ethernet::Frame::new_checked(frame)?;
    if eth.ethertype() != EtherType::PppoeDiscovery {
        return Err(crate::wire::Error::Unsupported(
            "not a PPPoE Discovery frame",
        ));
    }
    let repr = DiscoveryRepr::parse_bytes(eth.payload())?;
    Ok(Parsed {
        dst: eth.dst(),
        src: eth.src(),
        vlans: eth.vlans(),
        repr,
    })
}
