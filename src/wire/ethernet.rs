//! Ethernet II frames with up to two stacked VLAN tags.
//!
//! Implemented:
//!
//! * the Ethernet II header (IEEE 802.3-2018 §3.2.6: a Length/Type field of
//!   0x0600 or more is an EtherType),
//! * 802.1Q C-tags (TPID 0x8100) and 802.1ad S-tags (TPID 0x88a8, and the
//!   pre-standard 0x9100 still found on access networks), IEEE 802.1Q-2018
//!   §9.6: a 16-bit TPID followed by the 16-bit TCI = PCP (3 bits) | DEI
//!   (1 bit) | VID (12 bits),
//! * the two stackings a BNG sees on its access side: S-tag + C-tag (QinQ,
//!   one VLAN per subscriber line) and C-tag in C-tag.
//!
//! [`Frame`] is a zero-copy view; [`EthernetRepr`] the owned header. VLAN
//! tags are kept in a fixed-size [`VlanStack`], so parsing a frame never
//! allocates.
//!
//! ## Tags stripped by the kernel
//!
//! This machine's kernel has no 802.1Q module, but AF_PACKET may still
//! deliver a frame whose outermost tag was removed by the NIC or the
//! driver ("VLAN acceleration") and reported out of band in
//! `PACKET_AUXDATA` (`tp_status`, `tp_vlan_tci`, `tp_vlan_tpid`).
//! [`VlanTag::from_packet_auxdata`] turns those fields back into a tag and
//! [`VlanStack::with_stripped_outer`] (or [`Frame::vlans_with_stripped`])
//! puts it in front of the tags still present in the frame, outer first.
//!
//! ## Fast path
//!
//! [`EthernetRepr::emit_in_headroom`] writes the header immediately in
//! front of a payload that already sits in the buffer, so a forwarded frame
//! is re-encapsulated by writing a few bytes, never by copying its payload.

use core::fmt;
use core::str::FromStr;

use super::{Error, Result, ensure_len, ensure_room};

/// Length of a MAC address.
pub const ADDRESS_LEN: usize = 6;
/// Length of an untagged Ethernet II header: destination, source, EtherType.
pub const HEADER_LEN: usize = 14;
/// Length of one VLAN tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// The number of stacked VLAN tags this implementation models.
pub const MAX_VLAN_TAGS: usize = 2;
/// Length of the longest header this module produces (two tags).
pub const MAX_HEADER_LEN: usize = HEADER_LEN + MAX_VLAN_TAGS * VLAN_TAG_LEN;
/// The smallest Ethernet frame on the wire, without the 4-byte FCS
/// (IEEE 802.3 §3.2.8: 64 bytes including FCS). Shorter frames are padded,
/// which is why PPPoE carries its own LENGTH field.
pub const MIN_FRAME_LEN: usize = 60;

/// Offset of the first Length/Type (or TPID) field.
const TYPE_OFFSET: usize = 2 * ADDRESS_LEN;

#[inline]
fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

#[inline]
fn write_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_be_bytes());
}

// ---------------------------------------------------------------------------
// MAC address
// ---------------------------------------------------------------------------

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddress(pub [u8; ADDRESS_LEN]);

impl MacAddress {
    /// The broadcast address `ff:ff:ff:ff:ff:ff` (RFC 2516 §5.1: a PADI is
    /// sent to it).
    pub const BROADCAST: Self = Self([0xff; ADDRESS_LEN]);
    /// The all-zero address.
    pub const ZERO: Self = Self([0; ADDRESS_LEN]);

    /// Wraps six octets.
    pub const fn new(octets: [u8; ADDRESS_LEN]) -> Self {
        Self(octets)
    }

    /// Reads an address from a slice that must be exactly six bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match <[u8; ADDRESS_LEN]>::try_from(bytes) {
            Ok(octets) => Ok(Self(octets)),
            Err(_) => Err(Error::Malformed("MAC address is not 6 bytes")),
        }
    }

    /// The six octets, in transmission order.
    pub const fn octets(&self) -> [u8; ADDRESS_LEN] {
        self.0
    }

    /// The six octets as a slice.
    pub const fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `ff:ff:ff:ff:ff:ff`.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// The group (I/G) bit is set: multicast or broadcast.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// An individual address: the group bit is clear. RFC 2516 §4: "For PPP
    /// session traffic, this field MUST contain the peer's unicast address".
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// The U/L bit is set: a locally administered address.
    pub const fn is_locally_administered(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl From<[u8; ADDRESS_LEN]> for MacAddress {
    fn from(octets: [u8; ADDRESS_LEN]) -> Self {
        Self(octets)
    }
}

impl From<MacAddress> for [u8; ADDRESS_LEN] {
    fn from(mac: MacAddress) -> Self {
        mac.0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address: expected six hex octets separated by ':' or '-'")]
pub struct ParseMacAddressError;

impl FromStr for MacAddress {
    type Err = ParseMacAddressError;

    /// Parses `aa:bb:cc:dd:ee:ff` (or `aa-bb-cc-dd-ee-ff`), either case.
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        let separator = match s.as_bytes().get(2) {
            Some(b':') => ':',
            Some(b'-') => '-',
            _ => return Err(ParseMacAddressError),
        };
        let mut octets = [0u8; ADDRESS_LEN];
        let mut parts = s.split(separator);
        for octet in &mut octets {
            let part = parts.next().ok_or(ParseMacAddressError)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseMacAddressError);
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| ParseMacAddressError)?;
        }
        if parts.next().is_some() {
            return Err(ParseMacAddressError);
        }
        Ok(Self(octets))
    }
}

// ---------------------------------------------------------------------------
// EtherType
// ---------------------------------------------------------------------------

crate::open_enum! {
    /// The EtherType (or VLAN TPID) of an Ethernet II frame.
    pub enum EtherType(u16) {
        /// IPv4.
        Ipv4 = 0x0800,
        /// ARP.
        Arp = 0x0806,
        /// IEEE 802.1Q customer VLAN tag (C-tag).
        Vlan = 0x8100,
        /// IPv6.
        Ipv6 = 0x86dd,
        /// PPPoE Discovery stage (RFC 2516 §4).
        PppoeDiscovery = 0x8863,
        /// PPPoE Session stage (RFC 2516 §4).
        PppoeSession = 0x8864,
        /// IEEE 802.1ad service VLAN tag (S-tag).
        QinQ = 0x88a8,
        /// Pre-standard S-tag TPID still used by some access equipment.
        QinQLegacy = 0x9100,
    }
}

impl EtherType {
    /// Whether this value, found where an EtherType is expected, announces a
    /// VLAN tag rather than a payload.
    pub const fn is_vlan_tpid(self) -> bool {
        matches!(self, Self::Vlan | Self::QinQ | Self::QinQLegacy)
            || matches!(self, Self::Unknown(0x8100 | 0x88a8 | 0x9100))
    }
}

// ---------------------------------------------------------------------------
// VLAN tags
// ---------------------------------------------------------------------------

/// `tp_status` bit: the packet carried a VLAN tag that the kernel stripped
/// (`TP_STATUS_VLAN_VALID` in `<linux/if_packet.h>`).
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
/// `tp_status` bit: `tp_vlan_tpid` is meaningful (`TP_STATUS_VLAN_TPID_VALID`);
/// kernels before 3.13 never set it and only stripped 802.1Q tags.
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// One VLAN tag: the TPID that announced it and the fields of its TCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Tag protocol identifier: [`EtherType::Vlan`] for a C-tag,
    /// [`EtherType::QinQ`] (or [`EtherType::QinQLegacy`]) for an S-tag.
    pub tpid: EtherType,
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier, 0..=4095 (0: priority tag only; 4095 reserved).
    pub vid: u16,
}

impl Default for VlanTag {
    fn default() -> Self {
        Self {
            tpid: EtherType::Vlan,
            pcp: 0,
            dei: false,
            vid: 0,
        }
    }
}

impl VlanTag {
    /// The largest VLAN identifier the 12-bit field holds.
    pub const MAX_VID: u16 = 0x0fff;
    /// The largest priority code point.
    pub const MAX_PCP: u8 = 7;

    /// A tag with priority 0 and DEI clear; checks the TPID and the VID.
    pub fn new(tpid: EtherType, vid: u16) -> Result<Self> {
        let tag = Self {
            tpid,
            pcp: 0,
            dei: false,
            vid,
        };
        tag.check()?;
        Ok(tag)
    }

    /// An 802.1Q C-tag (TPID 0x8100).
    pub fn customer(vid: u16) -> Result<Self> {
        Self::new(EtherType::Vlan, vid)
    }

    /// An 802.1ad S-tag (TPID 0x88a8).
    pub fn service(vid: u16) -> Result<Self> {
        Self::new(EtherType::QinQ, vid)
    }

    /// Splits a TCI into PCP, DEI and VID.
    pub const fn from_tci(tpid: EtherType, tci: u16) -> Self {
        Self {
            tpid,
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & Self::MAX_VID,
        }
    }

    /// The 16-bit TCI. Out-of-range fields are masked; [`VlanTag::check`]
    /// (called by every `emit`) rejects them first.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & Self::MAX_VID)
    }

    /// Checks that the TPID is a VLAN TPID and that PCP and VID fit their
    /// fields, so that emitting and re-parsing the tag gives it back.
    pub fn check(&self) -> Result<()> {
        if !self.tpid.is_vlan_tpid() {
            return Err(Error::Malformed(
                "VLAN tag TPID is not 0x8100, 0x88a8 or 0x9100",
            ));
        }
        if self.pcp > Self::MAX_PCP {
            return Err(Error::Malformed("VLAN PCP above 7"));
        }
        if self.vid > Self::MAX_VID {
            return Err(Error::Malformed("VLAN VID above 4095"));
        }
        Ok(())
    }

    /// Rebuilds the tag the kernel stripped from a received frame, from the
    /// `tpacket_auxdata` fields `tp_status`, `tp_vlan_tci` and `tp_vlan_tpid`.
    ///
    /// Returns `Ok(None)` when the frame carried no stripped tag. When the
    /// kernel does not report the TPID ([`TP_STATUS_VLAN_TPID_VALID`] clear)
    /// the tag was an 802.1Q C-tag.
    pub fn from_packet_auxdata(
        tp_status: u32,
        tp_vlan_tci: u16,
        tp_vlan_tpid: u16,
    ) -> Result<Option<Self>> {
        if tp_status & TP_STATUS_VLAN_VALID == 0 {
            return Ok(None);
        }
        let tpid = if tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
            EtherType::from(tp_vlan_tpid)
        } else {
            EtherType::Vlan
        };
        let tag = Self::from_tci(tpid, tp_vlan_tci);
        tag.check()?;
        Ok(Some(tag))
    }

    /// Reads a tag (TPID + TCI) from the first four bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        ensure_len("VLAN tag", bytes, VLAN_TAG_LEN)?;
        let tag = Self::from_tci(EtherType::from(read_u16(bytes, 0)), read_u16(bytes, 2));
        if !tag.tpid.is_vlan_tpid() {
            return Err(Error::Malformed(
                "VLAN tag TPID is not 0x8100, 0x88a8 or 0x9100",
            ));
        }
        Ok(tag)
    }

    /// Writes the tag (TPID + TCI) into the first four bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        ensure_room(buf, VLAN_TAG_LEN)?;
        write_u16(buf, 0, self.tpid.into());
        write_u16(buf, 2, self.tci());
        Ok(VLAN_TAG_LEN)
    }
}

/// Up to [`MAX_VLAN_TAGS`] VLAN tags, outermost first, stored inline.
#[derive(Clone, Copy, Default)]
pub struct VlanStack {
    tags: [VlanTag; MAX_VLAN_TAGS],
    len: u8,
}

impl VlanStack {
    /// No tags: an untagged frame.
    pub const fn new() -> Self {
        Self {
            tags: [VlanTag {
                tpid: EtherType::Vlan,
                pcp: 0,
                dei: false,
                vid: 0,
            }; MAX_VLAN_TAGS],
            len: 0,
        }
    }

    /// A single tag.
    pub fn single(tag: VlanTag) -> Self {
        let mut stack = Self::new();
        stack.tags[0] = tag;
        stack.len = 1;
        stack
    }

    /// Two tags, `outer` first on the wire.
    pub fn double(outer: VlanTag, inner: VlanTag) -> Self {
        Self {
            tags: [outer, inner],
            len: 2,
        }
    }

    /// Builds a stack from a slice, outermost first.
    pub fn from_slice(tags: &[VlanTag]) -> Result<Self> {
        let mut stack = Self::new();
        for tag in tags {
            stack.push_inner(*tag)?;
        }
        Ok(stack)
    }

    /// The tags, outermost first.
    pub fn as_slice(&self) -> &[VlanTag] {
        &self.tags[..usize::from(self.len)]
    }

    /// Iterates the tags, outermost first.
    pub fn iter(&self) -> core::slice::Iter<'_, VlanTag> {
        self.as_slice().iter()
    }

    /// Number of tags.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// No tag at all.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The outermost tag.
    pub fn outer(&self) -> Option<VlanTag> {
        self.as_slice().first().copied()
    }

    /// The innermost tag (the same as the outer one when there is only one).
    pub fn inner(&self) -> Option<VlanTag> {
        self.as_slice().last().copied()
    }

    /// Bytes the tags occupy in a frame.
    pub const fn header_len(&self) -> usize {
        self.len() * VLAN_TAG_LEN
    }

    /// Adds a tag inside the existing ones.
    pub fn push_inner(&mut self, tag: VlanTag) -> Result<()> {
        let slot = self
            .tags
            .get_mut(usize::from(self.len))
            .ok_or(Error::Unsupported("more than two stacked VLAN tags"))?;
        *slot = tag;
        self.len += 1;
        Ok(())
    }

    /// Adds a tag outside the existing ones.
    pub fn push_outer(&mut self, tag: VlanTag) -> Result<()> {
        match self.len {
            0 => self.tags[0] = tag,
            1 => self.tags = [tag, self.tags[0]],
            _ => return Err(Error::Unsupported("more than two stacked VLAN tags")),
        }
        self.len += 1;
        Ok(())
    }

    /// The complete tag stack of a received frame: the tag the kernel
    /// stripped (from [`VlanTag::from_packet_auxdata`]), if any, outside the
    /// tags still present in the frame.
    pub fn with_stripped_outer(mut self, stripped: Option<VlanTag>) -> Result<Self> {
        if let Some(tag) = stripped {
            self.push_outer(tag)?;
        }
        Ok(self)
    }

    /// Checks every tag (see [`VlanTag::check`]).
    pub fn check(&self) -> Result<()> {
        self.iter().try_for_each(VlanTag::check)
    }
}

impl PartialEq for VlanStack {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for VlanStack {}

impl core::hash::Hash for VlanStack {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for VlanStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a VlanStack {
    type Item = &'a VlanTag;
    type IntoIter = core::slice::Iter<'a, VlanTag>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

// ---------------------------------------------------------------------------
// Frame view
// ---------------------------------------------------------------------------

/// A zero-copy view of an Ethernet II frame (without FCS) with up to two
/// VLAN tags.
///
/// [`Frame::new_checked`] walks the tags once; every accessor afterwards
/// is infallible.
#[derive(Debug, Clone)]
pub struct Frame<T> {
    buffer: T,
    vlan_count: u8,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Validates the header: 14 bytes plus 4 per VLAN tag. A third stacked
    /// tag is [`Error::Unsupported`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        ensure_len("Ethernet header", bytes, HEADER_LEN)?;
        let mut vlan_count = 0u8;
        let mut type_offset = TYPE_OFFSET;
        while EtherType::from(read_u16(bytes, type_offset)).is_vlan_tpid() {
            if usize::from(vlan_count) == MAX_VLAN_TAGS {
                return Err(Error::Unsupported("more than two stacked VLAN tags"));
            }
            vlan_count += 1;
            type_offset += VLAN_TAG_LEN;
            ensure_len("Ethernet VLAN-tagged header", bytes, type_offset + 2)?;
        }
        Ok(Self { buffer, vlan_count })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole frame.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Destination address.
    pub fn dst(&self) -> MacAddress {
        let b = self.buffer.as_ref();
        MacAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Source address.
    pub fn src(&self) -> MacAddress {
        let b = self.buffer.as_ref();
        MacAddress([b[6], b[7], b[8], b[9], b[10], b[11]])
    }

    /// Number of VLAN tags present in the frame (0, 1 or 2).
    pub fn vlan_count(&self) -> usize {
        usize::from(self.vlan_count)
    }

    /// The `index`-th tag, outermost first.
    pub fn vlan(&self, index: usize) -> Option<VlanTag> {
        if index >= self.vlan_count() {
            return None;
        }
        let offset = TYPE_OFFSET + index * VLAN_TAG_LEN;
        let b = self.buffer.as_ref();
        Some(VlanTag::from_tci(
            EtherType::from(read_u16(b, offset)),
            read_u16(b, offset + 2),
        ))
    }

    /// The tags present in the frame, outermost first.
    pub fn vlans(&self) -> VlanStack {
        let mut stack = VlanStack::new();
        for index in 0..self.vlan_count() {
            if let Some(tag) = self.vlan(index) {
                stack.tags[index] = tag;
            }
        }
        stack.len = self.vlan_count;
        stack
    }

    /// The frame's tags with the one the kernel stripped in front (see
    /// [`VlanStack::with_stripped_outer`]).
    pub fn vlans_with_stripped(&self, stripped: Option<VlanTag>) -> Result<VlanStack> {
        self.vlans().with_stripped_outer(stripped)
    }

    /// The EtherType after the last VLAN tag.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), self.header_len() - 2))
    }

    /// Header length: 14 bytes plus 4 per tag.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.vlan_count() * VLAN_TAG_LEN
    }

    /// Everything after the header, including any Ethernet padding.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    pub fn set_dst(&mut self, mac: MacAddress) {
        self.buffer.as_mut()[..ADDRESS_LEN].copy_from_slice(&mac.0);
    }

    /// Sets the source address.
    pub fn set_src(&mut self, mac: MacAddress) {
        self.buffer.as_mut()[ADDRESS_LEN..2 * ADDRESS_LEN].copy_from_slice(&mac.0);
    }

    /// Rewrites the `index`-th tag. The TPID must stay a VLAN TPID so the
    /// frame's layout does not change.
    pub fn set_vlan(&mut self, index: usize, tag: VlanTag) -> Result<()> {
        if index >= self.vlan_count() {
            return Err(Error::Malformed("no VLAN tag at this index"));
        }
        let offset = TYPE_OFFSET + index * VLAN_TAG_LEN;
        tag.emit(&mut self.buffer.as_mut()[offset..])?;
        Ok(())
    }

    /// Sets the EtherType after the last tag. A VLAN TPID is refused: it
    /// would turn the payload into a tag.
    pub fn set_ethertype(&mut self, ethertype: EtherType) -> Result<()> {
        if ethertype.is_vlan_tpid() {
            return Err(Error::Malformed("EtherType is a VLAN TPID"));
        }
        let offset = self.header_len() - 2;
        write_u16(self.buffer.as_mut(), offset, ethertype.into());
        Ok(())
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

// ---------------------------------------------------------------------------
// Owned header
// ---------------------------------------------------------------------------

/// An owned Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Destination address.
    pub dst: MacAddress,
    /// Source address.
    pub src: MacAddress,
    /// VLAN tags, outermost first.
    pub vlans: VlanStack,
    /// The EtherType after the tags.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// An untagged header.
    pub const fn new(dst: MacAddress, src: MacAddress, ethertype: EtherType) -> Self {
        Self {
            dst,
            src,
            vlans: VlanStack::new(),
            ethertype,
        }
    }

    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Self> {
        Ok(Self {
            dst: frame.dst(),
            src: frame.src(),
            vlans: frame.vlans(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length in bytes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.vlans.header_len()
    }

    /// A header for the answer to a frame with this header: addresses
    /// swapped, `local` as the source, same tags, the given EtherType.
    pub fn reply(&self, local: MacAddress, ethertype: EtherType) -> Self {
        Self {
            dst: self.src,
            src: local,
            vlans: self.vlans,
            ethertype,
        }
    }

    fn check(&self) -> Result<()> {
        self.vlans.check()?;
        if self.ethertype.is_vlan_tpid() {
            return Err(Error::Malformed("EtherType is a VLAN TPID"));
        }
        Ok(())
    }

    fn write(&self, out: &mut [u8]) {
        out[..ADDRESS_LEN].copy_from_slice(&self.dst.0);
        out[ADDRESS_LEN..TYPE_OFFSET].copy_from_slice(&self.src.0);
        let mut offset = TYPE_OFFSET;
        for tag in &self.vlans {
            write_u16(out, offset, tag.tpid.into());
            write_u16(out, offset + 2, tag.tci());
            offset += VLAN_TAG_LEN;
        }
        write_u16(out, offset, self.ethertype.into());
    }

    /// Writes the header at the start of `buf`; returns its length (the
    /// payload starts there).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let len = self.buffer_len();
        ensure_room(buf, len)?;
        self.write(&mut buf[..len]);
        Ok(len)
    }

    /// Writes the header so that it ends exactly at `payload_start`, in the
    /// headroom in front of a payload already in `buf`; returns the offset
    /// where the frame now starts. Nothing at or after `payload_start` is
    /// touched.
    pub fn emit_in_headroom(&self, buf: &mut [u8], payload_start: usize) -> Result<usize> {
        self.check()?;
        let len = self.buffer_len();
        if payload_start > buf.len() {
            return Err(Error::BufferTooSmall {
                need: payload_start,
                have: buf.len(),
            });
        }
        let start = payload_start
            .checked_sub(len)
            .ok_or(Error::BufferTooSmall {
                need: len,
                have: payload_start,
            })?;
        self.write(&mut buf[start..payload_start]);
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UNTAGGED: [u8; 20] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x63, 0x11,
        0x09, 0x00, 0x00, 0x00, 0x00,
    ];

    /// S-tag 100 (PCP 5) + C-tag 200 (DEI) in front of a PPPoE session header.
    const QINQ: [u8; 24] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xa8, 0xa0,
        0x64, 0x81, 0x00, 0x10, 0xc8, 0x88, 0x64, 0x11, 0x00,
    ];

    #[test]
    fn mac_display_and_parse() {
        let mac: MacAddress = "f6:d1:68:8c:eb:17".parse().unwrap();
        assert_eq!(mac.0, [0xf6, 0xd1, 0x68, 0x8c, 0xeb, 0x17]);
        assert_eq!(mac.to_string(), "f6:d1:68:8c:eb:17");
        assert_eq!(format!("{mac:?}"), "f6:d1:68:8c:eb:17");
        assert_eq!("F6-D1-68-8C-EB-17".parse::<MacAddress>().unwrap(), mac);
        for bad in [
            "",
            "f6:d1:68:8c:eb",
            "f6:d1:68:8c:eb:17:00",
            "f6:d1:68:8c:eb:1",
            "f6:d1-68:8c:eb:17",
            "f6:d1:68:8c:eb:1g",
            "+6:d1:68:8c:eb:17",
            "f6:d1:68:8c:eb:+7",
        ] {
            assert!(bad.parse::<MacAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mac_classes() {
        assert!(MacAddress::BROADCAST.is_broadcast());
        assert!(MacAddress::BROADCAST.is_multicast());
        assert!(!MacAddress::BROADCAST.is_unicast());
        let lldp = MacAddress([0x01, 0x80, 0xc2, 0, 0, 0x0e]);
        assert!(lldp.is_multicast() && !lldp.is_broadcast());
        let local = MacAddress([0x02, 0, 0, 0, 0, 1]);
        assert!(local.is_unicast() && local.is_locally_administered());
        assert!(MacAddress::from_bytes(&[1, 2, 3]).is_err());
        assert_eq!(
            MacAddress::from_bytes(&[1, 2, 3, 4, 5, 6])
                .unwrap()
                .octets(),
            [1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn tci_encoding() {
        let tag = VlanTag {
            tpid: EtherType::QinQ,
            pcp: 5,
            dei: true,
            vid: 0x123,
        };
        assert_eq!(tag.tci(), 0xb123);
        assert_eq!(VlanTag::from_tci(EtherType::QinQ, 0xb123), tag);
        assert!(VlanTag::customer(4096).is_err());
        assert!(VlanTag::new(EtherType::Ipv4, 1).is_err());
        let bad_pcp = VlanTag { pcp: 8, ..tag };
        assert!(bad_pcp.emit(&mut [0; 4]).is_err());
    }

    #[test]
    fn untagged_frame() {
        let frame = Frame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(frame.dst(), MacAddress::BROADCAST);
        assert_eq!(frame.src(), MacAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(frame.vlan_count(), 0);
        assert_eq!(frame.ethertype(), EtherType::PppoeDiscovery);
        assert_eq!(frame.header_len(), 14);
        assert_eq!(frame.payload(), &UNTAGGED[14..]);
        let repr = EthernetRepr::parse(&frame).unwrap();
        let mut out = [0u8; 14];
        assert_eq!(repr.emit(&mut out).unwrap(), 14);
        assert_eq!(out, UNTAGGED[..14]);
    }

    #[test]
    fn qinq_frame() {
        let frame = Frame::new_checked(&QINQ[..]).unwrap();
        assert_eq!(frame.vlan_count(), 2);
        let vlans = frame.vlans();
        assert_eq!(
            vlans.outer(),
            Some(VlanTag {
                tpid: EtherType::QinQ,
                pcp: 5,
                dei: false,
                vid: 100
            })
        );
        assert_eq!(
            vlans.inner(),
            Some(VlanTag {
                tpid: EtherType::Vlan,
                pcp: 0,
                dei: true,
                vid: 200
            })
        );
        assert_eq!(frame.ethertype(), EtherType::PppoeSession);
        assert_eq!(frame.header_len(), 22);
        assert_eq!(frame.payload(), &[0x11, 0x00]);
        let repr = EthernetRepr::parse(&frame).unwrap();
        assert_eq!(repr.buffer_len(), 22);
        let mut out = [0u8; 22];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, QINQ[..22]);
    }

    #[test]
    fn truncated_and_over_tagged_frames_are_errors() {
        for len in 0..QINQ.len() - 2 {
            assert!(Frame::new_checked(&QINQ[..len]).is_err(), "len {len}");
        }
        // A third TPID where the inner EtherType should be.
        let mut triple = QINQ.to_vec();
        triple[20..22].copy_from_slice(&[0x81, 0x00]);
        triple.extend_from_slice(&[0x00, 0x01, 0x08, 0x00]);
        assert_eq!(
            Frame::new_checked(&triple[..]).unwrap_err(),
            Error::Unsupported("more than two stacked VLAN tags")
        );
    }

    #[test]
    fn stripped_tag_from_auxdata_goes_outside() {
        // Kernel stripped the S-tag; the C-tag is still in the frame.
        let mut frame_bytes = QINQ.to_vec();
        frame_bytes.drain(12..16);
        let frame = Frame::new_checked(&frame_bytes[..]).unwrap();
        assert_eq!(frame.vlan_count(), 1);
        let stripped = VlanTag::from_packet_auxdata(
            TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
            0xa064,
            0x88a8,
        )
        .unwrap();
        let all = frame.vlans_with_stripped(stripped).unwrap();
        assert_eq!(all, Frame::new_checked(&QINQ[..]).unwrap().vlans());

        // No TPID reported: an 802.1Q tag.
        let tag = VlanTag::from_packet_auxdata(TP_STATUS_VLAN_VALID, 7, 0)
            .unwrap()
            .unwrap();
        assert_eq!(tag, VlanTag::customer(7).unwrap());
        // No tag stripped.
        assert_eq!(VlanTag::from_packet_auxdata(0, 7, 0x8100).unwrap(), None);
        // A nonsense TPID is refused rather than trusted.
        assert!(VlanTag::from_packet_auxdata(0x50, 7, 0x0800).is_err());
        // Stripped + two in-frame tags is one too many.
        let full = Frame::new_checked(&QINQ[..]).unwrap();
        assert!(full.vlans_with_stripped(Some(tag)).is_err());
    }

    #[test]
    fn headroom_emit_writes_only_the_header() {
        let repr = EthernetRepr {
            dst: MacAddress([2, 0, 0, 0, 0, 2]),
            src: MacAddress([2, 0, 0, 0, 0, 1]),
            vlans: VlanStack::double(
                VlanTag::service(100).unwrap(),
                VlanTag::customer(200).unwrap(),
            ),
            ethertype: EtherType::PppoeSession,
        };
        let mut buf = [0xeeu8; 40];
        let start = repr.emit_in_headroom(&mut buf, 30).unwrap();
        assert_eq!(start, 8);
        assert!(buf[..8].iter().all(|&b| b == 0xee));
        assert!(buf[30..].iter().all(|&b| b == 0xee));
        let frame = Frame::new_checked(&buf[start..]).unwrap();
        assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
        assert_eq!(frame.header_len(), 22);
        assert!(matches!(
            repr.emit_in_headroom(&mut buf, 21),
            Err(Error::BufferTooSmall { .. })
        ));
        assert!(matches!(
            repr.emit_in_headroom(&mut buf, 41),
            Err(Error::BufferTooSmall { .. })
        ));
        assert!(repr.emit(&mut [0u8; 21]).is_err());
    }

    #[test]
    fn setters() {
        let mut bytes = QINQ;
        let mut frame = Frame::new_checked(&mut bytes[..]).unwrap();
        frame.set_dst(MacAddress::BROADCAST);
        frame.set_src(MacAddress([9; 6]));
        frame.set_vlan(1, VlanTag::customer(33).unwrap()).unwrap();
        assert!(frame.set_vlan(2, VlanTag::customer(33).unwrap()).is_err());
        frame.set_ethertype(EtherType::PppoeDiscovery).unwrap();
        assert!(frame.set_ethertype(EtherType::QinQ).is_err());
        frame.payload_mut()[0] = 0x22;
        let frame = Frame::new_checked(&bytes[..]).unwrap();
        assert_eq!(frame.dst(), MacAddress::BROADCAST);
        assert_eq!(frame.src(), MacAddress([9; 6]));
        assert_eq!(frame.vlan(1).unwrap().vid, 33);
        assert_eq!(frame.ethertype(), EtherType::PppoeDiscovery);
        assert_eq!(frame.payload()[0], 0x22);
    }

    #[test]
    fn emit_refuses_unparseable_headers() {
        let mut repr = EthernetRepr::new(MacAddress::BROADCAST, MacAddress::ZERO, EtherType::Vlan);
        assert!(repr.emit(&mut [0; 14]).is_err());
        repr.ethertype = EtherType::Ipv4;
        repr.vlans = VlanStack::single(VlanTag {
            tpid: EtherType::Arp,
            pcp: 0,
            dei: false,
            vid: 1,
        });
        assert!(repr.emit(&mut [0; 18]).is_err());
        let mut stack =
            VlanStack::double(VlanTag::service(1).unwrap(), VlanTag::customer(2).unwrap());
        assert!(stack.push_inner(VlanTag::customer(3).unwrap()).is_err());
        assert!(stack.push_outer(VlanTag::customer(3).unwrap()).is_err());
    }

    pub(crate) fn vlan_tag() -> impl Strategy<Value = VlanTag> {
        (
            prop_oneof![
                Just(EtherType::Vlan),
                Just(EtherType::QinQ),
                Just(EtherType::QinQLegacy)
            ],
            0u8..=7,
            any::<bool>(),
            0u16..=4095,
        )
            .prop_map(|(tpid, pcp, dei, vid)| VlanTag {
                tpid,
                pcp,
                dei,
                vid,
            })
    }

    fn ethernet_repr() -> impl Strategy<Value = EthernetRepr> {
        (
            any::<[u8; 6]>(),
            any::<[u8; 6]>(),
            proptest::collection::vec(vlan_tag(), 0..=2),
            any::<u16>().prop_filter("not a TPID", |t| !EtherType::from(*t).is_vlan_tpid()),
        )
            .prop_map(|(dst, src, tags, ethertype)| EthernetRepr {
                dst: MacAddress(dst),
                src: MacAddress(src),
                vlans: VlanStack::from_slice(&tags).unwrap(),
                ethertype: EtherType::from(ethertype),
            })
    }

    proptest! {
        #[test]
        fn repr_round_trips(repr in ethernet_repr(), payload in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut buf = vec![0u8; repr.buffer_len() + payload.len()];
            let len = repr.emit(&mut buf).unwrap();
            buf[len..].copy_from_slice(&payload);
            let frame = Frame::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
            prop_assert_eq!(frame.payload(), &payload[..]);
        }

        #[test]
        fn bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(frame) = Frame::new_checked(&bytes[..]) {
                let repr = EthernetRepr::parse(&frame).unwrap();
                let mut out = vec![0u8; repr.buffer_len()];
                repr.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..], &bytes[..frame.header_len()]);
            }
        }

        #[test]
        fn tci_round_trips(tag in vlan_tag()) {
            prop_assert_eq!(VlanTag::from_tci(tag.tpid, tag.tci()), tag);
            let mut buf = [0u8; 4];
            tag.emit(&mut buf).unwrap();
            prop_assert_eq!(VlanTag::parse(&buf).unwrap(), tag);
        }

        #[test]
        fn mac_text_round_trips(octets in any::<[u8; 6]>()) {
            let mac = MacAddress(octets);
            prop_assert_eq!(mac.to_string().parse::<MacAddress>().unwrap(), mac);
        }
    }
}
