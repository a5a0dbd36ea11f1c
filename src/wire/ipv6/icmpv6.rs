//! ICMPv6 (RFC 4443 §2.1) and the Neighbor Discovery messages a router
//! on a PPP link deals with: Router Solicitation (RFC 4861 §4.1) and
//! Router Advertisement (RFC 4861 §4.2), their options (RFC 4861 §4.6:
//! Source Link-Layer Address, Prefix Information, MTU) and the Recursive
//! DNS Server option (RFC 8106 §5.1).
//!
//! Options are read by [`NdOptions`], which stops at the first malformed
//! one (RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that
//! contains an option with length zero").

use std::net::Ipv6Addr;

use super::{NextHeader, addr_at, be16, be32, checksum, put, verify_checksum};
use crate::wire::{Error, Result, ensure_len, ensure_room};

/// Length of the ICMPv6 header (type, code, checksum).
pub const HEADER_LEN: usize = 4;
/// Length of a Router Solicitation before its options.
pub const RS_LEN: usize = 8;
/// Length of a Router Advertisement before its options.
pub const RA_LEN: usize = 16;
/// Length of a Prefix Information option.
pub const PREFIX_INFORMATION_LEN: usize = 32;
/// Length of an MTU option.
pub const MTU_LEN: usize = 8;

crate::open_enum! {
    /// ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4).
    pub enum Icmpv6Type(u8) {
        /// Destination Unreachable.
        DestinationUnreachable = 1,
        /// Packet Too Big.
        PacketTooBig = 2,
        /// Time Exceeded.
        TimeExceeded = 3,
        /// Parameter Problem.
        ParameterProblem = 4,
        /// Echo Request.
        EchoRequest = 128,
        /// Echo Reply.
        EchoReply = 129,
        /// Router Solicitation (RFC 4861 §4.1).
        RouterSolicitation = 133,
        /// Router Advertisement (RFC 4861 §4.2).
        RouterAdvertisement = 134,
        /// Neighbor Solicitation (RFC 4861 §4.3).
        NeighborSolicitation = 135,
        /// Neighbor Advertisement (RFC 4861 §4.4).
        NeighborAdvertisement = 136,
        /// Redirect (RFC 4861 §4.5).
        Redirect = 137,
    }
}

/// Neighbor Discovery option types (RFC 4861 §4.6, RFC 8106 §5.1).
pub mod option_type {
    /// Source Link-Layer Address.
    pub const SOURCE_LINK_LAYER: u8 = 1;
    /// Target Link-Layer Address.
    pub const TARGET_LINK_LAYER: u8 = 2;
    /// Prefix Information.
    pub const PREFIX_INFORMATION: u8 = 3;
    /// MTU.
    pub const MTU: u8 = 5;
    /// Recursive DNS Server.
    pub const RDNSS: u8 = 25;
}

/// A zero-copy view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Checks that the 4-byte header is there.
    pub fn new_checked(buffer: T) -> Result<Self> {
        ensure_len("ICMPv6 header", buffer.as_ref(), HEADER_LEN)?;
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Type.
    pub fn msg_type(&self) -> Icmpv6Type {
        Icmpv6Type::from(self.bytes().first().copied().unwrap_or(0))
    }

    /// Code.
    pub fn code(&self) -> u8 {
        self.bytes().get(1).copied().unwrap_or(0)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.bytes(), 2)
    }

    /// The message body after the checksum.
    pub fn body(&self) -> &[u8] {
        self.bytes().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Whether the checksum is right for a message from `src` to `dst`
    /// (RFC 4443 §2.3).
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        verify_checksum(src, dst, NextHeader::Icmpv6, self.bytes())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Computes and writes the checksum for a message from `src` to `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        put(self.buffer.as_mut(), 2, &[0, 0]);
        let sum = checksum(src, dst, NextHeader::Icmpv6, self.buffer.as_ref());
        put(self.buffer.as_mut(), 2, &sum.to_be_bytes());
    }
}

/// Prefix Information option (RFC 4861 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixInformation {
    /// Prefix Length.
    pub prefix_len: u8,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: the prefix may be used for SLAAC (RFC 4862).
    pub autonomous: bool,
    /// Valid Lifetime, seconds (0xffffffff: infinity).
    pub valid_lifetime: u32,
    /// Preferred Lifetime, seconds.
    pub preferred_lifetime: u32,
    /// Prefix.
    pub prefix: Ipv6Addr,
}

impl PrefixInformation {
    fn parse(data: &[u8]) -> Result<Self> {
        // `data` starts after type and length; the option is 32 bytes.
        if data.len() + 2 != PREFIX_INFORMATION_LEN {
            return Err(Error::Malformed(
                "Prefix Information option is not 32 bytes",
            ));
        }
        let flags = data.get(1).copied().unwrap_or(0);
        let prefix_len = data.first().copied().unwrap_or(0);
        if prefix_len > 128 {
            return Err(Error::Malformed("Prefix Information length over 128"));
        }
        Ok(Self {
            prefix_len,
            on_link: flags & 0x80 != 0,
            autonomous: flags & 0x40 != 0,
            valid_lifetime: be32(data, 2),
            preferred_lifetime: be32(data, 6),
            prefix: addr_at(data, 14),
        })
    }

    fn emit(&self, out: &mut [u8]) {
        let flags = u8::from(self.on_link) << 7 | u8::from(self.autonomous) << 6;
        put(
            out,
            0,
            &[option_type::PREFIX_INFORMATION, 4, self.prefix_len, flags],
        );
        put(out, 4, &self.valid_lifetime.to_be_bytes());
        put(out, 8, &self.preferred_lifetime.to_be_bytes());
        put(out, 12, &[0; 4]);
        put(out, 16, &self.prefix.octets());
    }
}

/// Recursive DNS Server option (RFC 8106 §5.1) to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rdnss<'a> {
    /// Lifetime, seconds.
    pub lifetime: u32,
    /// The servers (at least one).
    pub servers: &'a [Ipv6Addr],
}

impl Rdnss<'_> {
    fn len(&self) -> usize {
        8 + 16 * self.servers.len()
    }
}

/// One Neighbor Discovery option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdOption<'a> {
    /// Source Link-Layer Address (RFC 4861 §4.6.1); PPP has none, but a
    /// host may still send one.
    SourceLinkLayer(&'a [u8]),
    /// Target Link-Layer Address (RFC 4861 §4.6.1).
    TargetLinkLayer(&'a [u8]),
    /// Prefix Information (RFC 4861 §4.6.2).
    PrefixInformation(PrefixInformation),
    /// MTU (RFC 4861 §4.6.4).
    Mtu(u32),
    /// Recursive DNS Server (RFC 8106 §5.1): lifetime and the addresses'
    /// bytes (a multiple of 16, see [`NdOption::rdnss_servers`]).
    Rdnss {
        /// Lifetime, seconds.
        lifetime: u32,
        /// The addresses, 16 bytes each.
        servers: &'a [u8],
    },
    /// Any other option: type and the bytes after the length.
    Unknown {
        /// Type.
        option_type: u8,
        /// Data after type and length.
        data: &'a [u8],
    },
}

impl<'a> NdOption<'a> {
    /// The addresses of an RDNSS option (empty for other options).
    pub fn rdnss_servers(&self) -> impl Iterator<Item = Ipv6Addr> + 'a {
        let servers: &'a [u8] = match self {
            Self::Rdnss { servers, .. } => servers,
            _ => &[],
        };
        servers.chunks_exact(16).map(|chunk| addr_at(chunk, 0))
    }
}

/// Iterator over the options of an ND message (RFC 4861 §4.6: type,
/// length in units of 8 octets, data). Yields one error and stops at the
/// first malformed option.
#[derive(Debug, Clone)]
pub struct NdOptions<'a> {
    rest: &'a [u8],
}

impl<'a> NdOptions<'a> {
    /// Options in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Checks every option; returns the first error.
    pub fn validate(self) -> Result<()> {
        for option in self {
            option?;
        }
        Ok(())
    }
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<NdOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = parse_nd_option(self.rest);
        match result {
            Ok((option, len)) => {
                self.rest = self.rest.get(len..).unwrap_or(&[]);
                Some(Ok(option))
            }
            Err(error) => {
                self.rest = &[];
                Some(Err(error))
            }
        }
    }
}

fn parse_nd_option(bytes: &[u8]) -> Result<(NdOption<'_>, usize)> {
    ensure_len("ND option", bytes, 2)?;
    let option_type = bytes.first().copied().unwrap_or(0);
    let len = usize::from(bytes.get(1).copied().unwrap_or(0)) * 8;
    if len == 0 {
        return Err(Error::Malformed("ND option with length zero"));
    }
    ensure_len("ND option", bytes, len)?;
    let data = bytes.get(2..len).unwrap_or(&[]);
    let option = match option_type {
        option_type::SOURCE_LINK_LAYER => NdOption::SourceLinkLayer(data),
        option_type::TARGET_LINK_LAYER => NdOption::TargetLinkLayer(data),
        option_type::PREFIX_INFORMATION => {
            NdOption::PrefixInformation(PrefixInformation::parse(data)?)
        }
        option_type::MTU => {
            if len != MTU_LEN {
                return Err(Error::Malformed("MTU option is not 8 bytes"));
            }
            NdOption::Mtu(be32(data, 2))
        }
        option_type::RDNSS => {
            // RFC 8106 §5.1: Length is 1 + 2 × (number of addresses) ≥ 3.
            if len < 24 {
                return Err(Error::Malformed("RDNSS option without an address"));
            }
            NdOption::Rdnss {
                lifetime: be32(data, 2),
                servers: data.get(6..).unwrap_or(&[]),
            }
        }
        option_type => NdOption::Unknown { option_type, data },
    };
    Ok((option, len))
}

/// A Router Solicitation (RFC 4861 §4.1), validated as §6.1.1 asks of
/// its ICMP part: Code 0, at least 8 bytes, every option well formed,
/// and no Source Link-Layer Address option when the source is the
/// unspecified address (the caller checks the hop limit and checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterSolicit<'a> {
    /// The options' bytes.
    pub options: &'a [u8],
}

impl<'a> RouterSolicit<'a> {
    /// Parses the Router Solicitation in `bytes` (the ICMPv6 message),
    /// sent from `src`.
    pub fn parse(bytes: &'a [u8], src: &Ipv6Addr) -> Result<Self> {
        ensure_len("Router Solicitation", bytes, RS_LEN)?;
        if bytes.first().copied() != Some(u8::from(Icmpv6Type::RouterSolicitation)) {
            return Err(Error::Malformed("not a Router Solicitation"));
        }
        if bytes.get(1).copied() != Some(0) {
            return Err(Error::Malformed("Router Solicitation with non-zero Code"));
        }
        let options = bytes.get(RS_LEN..).unwrap_or(&[]);
        for option in NdOptions::new(options) {
            if matches!(option?, NdOption::SourceLinkLayer(_)) && src.is_unspecified() {
                return Err(Error::Malformed(
                    "Router Solicitation from :: with a link-layer address",
                ));
            }
        }
        Ok(Self { options })
    }

    /// Its options.
    pub fn options(&self) -> NdOptions<'a> {
        NdOptions::new(self.options)
    }
}

/// The fixed fields of a Router Advertisement (RFC 4861 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RaHeader {
    /// Cur Hop Limit (0: unspecified).
    pub cur_hop_limit: u8,
    /// M: addresses are available via DHCPv6.
    pub managed: bool,
    /// O: other configuration is available via DHCPv6.
    pub other: bool,
    /// Router Lifetime, seconds (0: not a default router).
    pub router_lifetime: u16,
    /// Reachable Time, milliseconds (0: unspecified).
    pub reachable_time: u32,
    /// Retrans Timer, milliseconds (0: unspecified).
    pub retrans_timer: u32,
}

/// A parsed Router Advertisement (to read what a peer sent or what we
/// emitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvert<'a> {
    /// The fixed fields.
    pub header: RaHeader,
    /// The options' bytes.
    pub options: &'a [u8],
}

impl<'a> RouterAdvert<'a> {
    /// Parses the Router Advertisement in `bytes` (the ICMPv6 message):
    /// Code 0, at least 16 bytes, options well formed (RFC 4861 §6.1.2).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        ensure_len("Router Advertisement", bytes, RA_LEN)?;
        if bytes.first().copied() != Some(u8::from(Icmpv6Type::RouterAdvertisement)) {
            return Err(Error::Malformed("not a Router Advertisement"));
        }
        if bytes.get(1).copied() != Some(0) {
            return Err(Error::Malformed("Router Advertisement with non-zero Code"));
        }
        let flags = bytes.get(5).copied().unwrap_or(0);
        let options = bytes.get(RA_LEN..).unwrap_or(&[]);
        NdOptions::new(options).validate()?;
        Ok(Self {
            header: RaHeader {
                cur_hop_limit: bytes.get(4).copied().unwrap_or(0),
                managed: flags & 0x80 != 0,
                other: flags & 0x40 != 0,
                router_lifetime: be16(bytes, 6),
                reachable_time: be32(bytes, 8),
                retrans_timer: be32(bytes, 12),
            },
            options,
        })
    }

    /// Its options.
    pub fn options(&self) -> NdOptions<'a> {
        NdOptions::new(self.options)
    }
}

/// A Router Advertisement to emit. PPP has no link-layer address, so it
/// carries no Source Link-Layer Address option (RFC 4861 §4.2: "MAY be
/// omitted").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvertRepr<'a> {
    /// The fixed fields.
    pub header: RaHeader,
    /// Prefix Information options.
    pub prefixes: &'a [PrefixInformation],
    /// MTU option.
    pub mtu: Option<u32>,
    /// RDNSS option (left out when it has no server).
    pub rdnss: Option<Rdnss<'a>>,
}

impl RouterAdvertRepr<'_> {
    fn rdnss(&self) -> Option<&Rdnss<'_>> {
        self.rdnss.as_ref().filter(|r| !r.servers.is_empty())
    }

    /// Length of the ICMPv6 message.
    pub fn buffer_len(&self) -> usize {
        RA_LEN
            + self.prefixes.len() * PREFIX_INFORMATION_LEN
            + self.mtu.map_or(0, |_| MTU_LEN)
            + self.rdnss().map_or(0, Rdnss::len)
    }

    /// Writes the ICMPv6 message at the start of `buf` with the checksum
    /// for `src` → `dst`; returns its length.
    pub fn emit(&self, buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<usize> {
        let len = self.buffer_len();
        ensure_room(buf, len)?;
        if self.rdnss().is_some_and(|r| r.len() / 8 > 255) {
            return Err(Error::Malformed("RDNSS option with over 127 servers"));
        }
        let out = buf.get_mut(..len).unwrap_or(&mut []);
        let h = &self.header;
        let flags = u8::from(h.managed) << 7 | u8::from(h.other) << 6;
        put(
            out,
            0,
            &[
                Icmpv6Type::RouterAdvertisement.into(),
                0,
                0,
                0,
                h.cur_hop_limit,
                flags,
            ],
        );
        put(out, 6, &h.router_lifetime.to_be_bytes());
        put(out, 8, &h.reachable_time.to_be_bytes());
        put(out, 12, &h.retrans_timer.to_be_bytes());
        let mut at = RA_LEN;
        for prefix in self.prefixes {
            prefix.emit(out.get_mut(at..).unwrap_or(&mut []));
            at += PREFIX_INFORMATION_LEN;
        }
        if let Some(mtu) = self.mtu {
            put(out, at, &[option_type::MTU, 1, 0, 0]);
            put(out, at + 4, &mtu.to_be_bytes());
            at += MTU_LEN;
        }
        if let Some(rdnss) = self.rdnss() {
            let units = (rdnss.len() / 8) as u8;
            put(out, at, &[option_type::RDNSS, units, 0, 0]);
            put(out, at + 4, &rdnss.lifetime.to_be_bytes());
            at += 8;
            for server in rdnss.servers {
                put(out, at, &server.octets());
                at += 16;
            }
        }
        Icmpv6Packet { buffer: out }.fill_checksum(src, dst);
        Ok(len)
    }
}
