//! DHCPv6 (RFC 8415) client/server messages, as far as a delegating
//! router on a PPP link needs them.
//!
//! * the message format (RFC 8415 §8): msg-type, a 24-bit
//!   transaction-id, options — [`Packet`]; relay messages (§9) are
//!   [`Error::Unsupported`]: a PPP link has no relay on it;
//! * the option format (§21.1) — [`Options`], [`RawOption`];
//! * the options a client sends, read into [`Dhcpv6Repr`]: Client and
//!   Server Identifier (§21.2, §21.3; DUIDs §11), IA_NA (§21.4, only its
//!   IAID: we delegate prefixes, not addresses), Option Request (§21.7),
//!   Preference (§21.8), Elapsed Time (§21.9), Status Code (§21.13),
//!   Rapid Commit (§21.14), IA_PD and IA Prefix (§21.21, §21.22), DNS
//!   Recursive Name Server (§21 via RFC 3646 §3);
//! * emitting a server's message — [`MessageBuilder`], which writes
//!   straight into the caller's buffer.
//!
//! Every option is checked for its length; a message with a malformed
//! option is malformed (RFC 8415 §16: "clients and servers SHOULD
//! discard … messages that contain … malformed options").

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

use super::ipv6::{be16, be32, put};
use super::{Error, Result, ensure_len, ensure_room};

/// UDP port servers and relays listen on (RFC 8415 §7.2).
pub const SERVER_PORT: u16 = 547;
/// UDP port clients listen on (RFC 8415 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// All_DHCP_Relay_Agents_and_Servers, `ff02::1:2` (RFC 8415 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// Length of msg-type and transaction-id.
pub const HEADER_LEN: usize = 4;
/// Largest DUID (RFC 8415 §11.1: "no more than 128 octets long (not
/// including the type code)").
pub const MAX_DUID_LEN: usize = 130;
/// Lifetime or T1/T2 meaning "infinity" (RFC 8415 §7.7).
pub const INFINITY: u32 = 0xffff_ffff;

crate::open_enum! {
    /// msg-type (RFC 8415 §7.3).
    pub enum MessageType(u8) {
        /// SOLICIT.
        Solicit = 1,
        /// ADVERTISE.
        Advertise = 2,
        /// REQUEST.
        Request = 3,
        /// CONFIRM.
        Confirm = 4,
        /// RENEW.
        Renew = 5,
        /// REBIND.
        Rebind = 6,
        /// REPLY.
        Reply = 7,
        /// RELEASE.
        Release = 8,
        /// DECLINE.
        Decline = 9,
        /// RECONFIGURE.
        Reconfigure = 10,
        /// INFORMATION-REQUEST.
        InformationRequest = 11,
        /// RELAY-FORW.
        RelayForw = 12,
        /// RELAY-REPL.
        RelayRepl = 13,
    }
}

crate::open_enum! {
    /// Option codes (RFC 8415 §21, RFC 3646 §3).
    pub enum OptionCode(u16) {
        /// OPTION_CLIENTID.
        ClientId = 1,
        /// OPTION_SERVERID.
        ServerId = 2,
        /// OPTION_IA_NA.
        IaNa = 3,
        /// OPTION_IA_TA.
        IaTa = 4,
        /// OPTION_IAADDR.
        IaAddr = 5,
        /// OPTION_ORO.
        Oro = 6,
        /// OPTION_PREFERENCE.
        Preference = 7,
        /// OPTION_ELAPSED_TIME.
        ElapsedTime = 8,
        /// OPTION_STATUS_CODE.
        StatusCode = 13,
        /// OPTION_RAPID_COMMIT.
        RapidCommit = 14,
        /// OPTION_DNS_SERVERS (RFC 3646).
        DnsServers = 23,
        /// OPTION_DOMAIN_LIST (RFC 3646).
        DomainList = 24,
        /// OPTION_IA_PD.
        IaPd = 25,
        /// OPTION_IAPREFIX.
        IaPrefix = 26,
        /// OPTION_INFORMATION_REFRESH_TIME.
        InformationRefreshTime = 32,
        /// OPTION_SOL_MAX_RT.
        SolMaxRt = 82,
    }
}

crate::open_enum! {
    /// Status codes (RFC 8415 §21.13).
    pub enum StatusCode(u16) {
        /// Success.
        Success = 0,
        /// UnspecFail.
        UnspecFail = 1,
        /// NoAddrsAvail.
        NoAddrsAvail = 2,
        /// NoBinding.
        NoBinding = 3,
        /// NotOnLink.
        NotOnLink = 4,
        /// UseMulticast.
        UseMulticast = 5,
        /// NoPrefixAvail.
        NoPrefixAvail = 6,
    }
}

/// DUID types (RFC 8415 §11.1).
pub mod duid {
    /// DUID-LLT: link-layer address plus time.
    pub const LLT: u16 = 1;
    /// DUID-EN: enterprise number.
    pub const EN: u16 = 2;
    /// DUID-LL: link-layer address.
    pub const LL: u16 = 3;
    /// DUID-UUID.
    pub const UUID: u16 = 4;
    /// Hardware type Ethernet (IANA ARP hardware types).
    pub const HW_ETHERNET: u16 = 1;

    /// A DUID-LL (RFC 8415 §11.4).
    pub fn ll(hardware_type: u16, link_layer: &[u8]) -> Vec<u8> {
        let mut duid = Vec::with_capacity(4 + link_layer.len());
        duid.extend_from_slice(&LL.to_be_bytes());
        duid.extend_from_slice(&hardware_type.to_be_bytes());
        duid.extend_from_slice(link_layer);
        duid
    }

    /// A DUID-LLT (RFC 8415 §11.2); `time` is seconds since midnight
    /// (UTC), January 1, 2000, modulo 2^32.
    pub fn llt(hardware_type: u16, time: u32, link_layer: &[u8]) -> Vec<u8> {
        let mut duid = Vec::with_capacity(8 + link_layer.len());
        duid.extend_from_slice(&LLT.to_be_bytes());
        duid.extend_from_slice(&hardware_type.to_be_bytes());
        duid.extend_from_slice(&time.to_be_bytes());
        duid.extend_from_slice(link_layer);
        duid
    }
}

/// A zero-copy view of a client/server message (RFC 8415 §8).
#[derive(Debug, Clone)]
pub struct Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the 4-byte header; relay messages are
    /// [`Error::Unsupported`] (their layout differs, RFC 8415 §9).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        ensure_len("DHCPv6 header", bytes, HEADER_LEN)?;
        let msg_type = MessageType::from(bytes.first().copied().unwrap_or(0));
        if matches!(msg_type, MessageType::RelayForw | MessageType::RelayRepl) {
            return Err(Error::Unsupported("DHCPv6 relay message"));
        }
        Ok(Self { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// msg-type.
    pub fn msg_type(&self) -> MessageType {
        MessageType::from(self.bytes().first().copied().unwrap_or(0))
    }

    /// transaction-id (24 bits).
    pub fn transaction_id(&self) -> u32 {
        be32(self.bytes(), 0) & 0x00ff_ffff
    }

    /// The options.
    pub fn options(&self) -> Options<'_> {
        Options::new(self.bytes().get(HEADER_LEN..).unwrap_or(&[]))
    }
}

/// One option: code and data (RFC 8415 §21.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// option-code.
    pub code: OptionCode,
    /// option-data (option-len bytes).
    pub data: &'a [u8],
}

/// Iterator over options; yields one error and stops at an option whose
/// length runs past the end.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    /// Options in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<RawOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        if let Err(error) = ensure_len("DHCPv6 option header", rest, 4) {
            self.rest = &[];
            return Some(Err(error));
        }
        let end = 4 + usize::from(be16(rest, 2));
        match rest.get(4..end) {
            Some(data) => {
                self.rest = rest.get(end..).unwrap_or(&[]);
                Some(Ok(RawOption {
                    code: OptionCode::from(be16(rest, 0)),
                    data,
                }))
            }
            None => {
                self.rest = &[];
                Some(Err(Error::Truncated {
                    what: "DHCPv6 option",
                    need: end,
                    have: rest.len(),
                }))
            }
        }
    }
}

/// An IA_PD option (RFC 8415 §21.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaPd<'a> {
    /// IAID.
    pub iaid: u32,
    /// T1, seconds.
    pub t1: u32,
    /// T2, seconds.
    pub t2: u32,
    /// IA_PD-options' bytes.
    pub options: &'a [u8],
}

impl<'a> IaPd<'a> {
    /// Parses IA_PD's option-data (12 bytes and options, every IA Prefix
    /// well formed).
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        ensure_len("DHCPv6 IA_PD", data, 12)?;
        let ia = Self {
            iaid: be32(data, 0),
            t1: be32(data, 4),
            t2: be32(data, 8),
            options: data.get(12..).unwrap_or(&[]),
        };
        for prefix in ia.prefixes() {
            prefix?;
        }
        Ok(ia)
    }

    /// The IA Prefix options in it (other options are skipped).
    pub fn prefixes(&self) -> impl Iterator<Item = Result<IaPrefix>> + 'a {
        Options::new(self.options).filter_map(|option| match option {
            Ok(RawOption {
                code: OptionCode::IaPrefix,
                data,
            }) => Some(IaPrefix::parse(data)),
            Ok(_) => None,
            Err(error) => Some(Err(error)),
        })
    }
}

/// An IA Prefix option (RFC 8415 §21.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IaPrefix {
    /// preferred-lifetime, seconds.
    pub preferred_lifetime: u32,
    /// valid-lifetime, seconds.
    pub valid_lifetime: u32,
    /// The prefix (a client's hint may be `::/56`, a length only).
    pub prefix: Ipv6Net,
}

/// Length of an IA Prefix option's data without sub-options.
const IA_PREFIX_DATA_LEN: usize = 25;

impl IaPrefix {
    /// Parses IAPREFIX option-data (sub-options are ignored).
    pub fn parse(data: &[u8]) -> Result<Self> {
        ensure_len("DHCPv6 IAPREFIX", data, IA_PREFIX_DATA_LEN)?;
        let prefix_len = data.get(8).copied().unwrap_or(0);
        let addr = super::ipv6::addr_at(data, 9);
        let prefix = Ipv6Net::new(addr, prefix_len)
            .map_err(|_| Error::Malformed("DHCPv6 IAPREFIX prefix-length over 128"))?;
        Ok(Self {
            preferred_lifetime: be32(data, 0),
            valid_lifetime: be32(data, 4),
            prefix,
        })
    }

    fn write(&self, out: &mut [u8]) {
        put(out, 0, &u16::from(OptionCode::IaPrefix).to_be_bytes());
        put(out, 2, &(IA_PREFIX_DATA_LEN as u16).to_be_bytes());
        put(out, 4, &self.preferred_lifetime.to_be_bytes());
        put(out, 8, &self.valid_lifetime.to_be_bytes());
        put(out, 12, &[self.prefix.prefix_len()]);
        put(out, 13, &self.prefix.network().octets());
    }
}

/// A client's message, read: the options a server acts on. Borrowed from
/// the packet; parsing allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dhcpv6Repr<'a> {
    /// msg-type.
    pub msg_type: MessageType,
    /// transaction-id.
    pub transaction_id: u32,
    /// Client Identifier: the client's DUID.
    pub client_id: Option<&'a [u8]>,
    /// Server Identifier: the chosen server's DUID.
    pub server_id: Option<&'a [u8]>,
    /// The first IA_PD.
    pub ia_pd: Option<IaPd<'a>>,
    /// How many IA_PD options the message has.
    pub ia_pd_count: usize,
    /// The IAID of the first IA_NA (a client asking for an address too).
    pub ia_na: Option<u32>,
    /// Whether an IA_TA is present.
    pub ia_ta: bool,
    /// Rapid Commit option present.
    pub rapid_commit: bool,
    /// Elapsed Time, hundredths of a second.
    pub elapsed_time: Option<u16>,
    /// Option Request option's codes (pairs of bytes).
    pub oro: Option<&'a [u8]>,
    /// Preference (in an Advertise).
    pub preference: Option<u8>,
    /// Status Code at message level, with its UTF-8 message bytes.
    pub status: Option<(StatusCode, &'a [u8])>,
    /// DNS Recursive Name Server addresses' bytes (16 each).
    pub dns_servers: Option<&'a [u8]>,
}

/// Checks a DUID's length (RFC 8415 §11.1: a 2-byte type and at most 128
/// bytes more).
fn check_duid(data: &[u8], what: &'static str) -> Result<()> {
    if data.len() < 3 || data.len() > MAX_DUID_LEN {
        return Err(Error::Malformed(what));
    }
    Ok(())
}

impl<'a> Dhcpv6Repr<'a> {
    /// Reads every option of `packet`, checking the length of each option
    /// modelled here; a repeated Client or Server Identifier is malformed
    /// (RFC 8415 §21.2, §21.3 allow one).
    ///
    /// `bytes` is the whole message (the UDP payload).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = Packet::new_checked(bytes)?;
        let mut repr = Self {
            msg_type: packet.msg_type(),
            transaction_id: packet.transaction_id(),
            client_id: None,
            server_id: None,
            ia_pd: None,
            ia_pd_count: 0,
            ia_na: None,
            ia_ta: false,
            rapid_commit: false,
            elapsed_time: None,
            oro: None,
            preference: None,
            status: None,
            dns_servers: None,
        };
        for option in Options::new(bytes.get(HEADER_LEN..).unwrap_or(&[])) {
            let RawOption { code, data } = option?;
            match code {
                OptionCode::ClientId => {
                    check_duid(data, "DHCPv6 Client Identifier length")?;
                    if repr.client_id.replace(data).is_some() {
                        return Err(Error::Malformed("DHCPv6 Client Identifier twice"));
                    }
                }
                OptionCode::ServerId => {
                    check_duid(data, "DHCPv6 Server Identifier length")?;
                    if repr.server_id.replace(data).is_some() {
                        return Err(Error::Malformed("DHCPv6 Server Identifier twice"));
                    }
                }
                OptionCode::IaPd => {
                    let ia = IaPd::parse(data)?;
                    repr.ia_pd_count += 1;
                    repr.ia_pd.get_or_insert(ia);
                }
                OptionCode::IaNa => {
                    ensure_len("DHCPv6 IA_NA", data, 12)?;
                    repr.ia_na.get_or_insert(be32(data, 0));
                }
                OptionCode::IaTa => {
                    ensure_len("DHCPv6 IA_TA", data, 4)?;
                    repr.ia_ta = true;
                }
                OptionCode::RapidCommit => {
                    if !data.is_empty() {
                        return Err(Error::Malformed("DHCPv6 Rapid Commit with data"));
                    }
                    repr.rapid_commit = true;
                }
                OptionCode::ElapsedTime => {
                    if data.len() != 2 {
                        return Err(Error::Malformed("DHCPv6 Elapsed Time is not 2 bytes"));
                    }
                    repr.elapsed_time = Some(be16(data, 0));
                }
                OptionCode::Oro => {
                    if data.len() % 2 != 0 {
                        return Err(Error::Malformed("DHCPv6 Option Request of odd length"));
                    }
                    repr.oro = Some(data);
                }
                OptionCode::Preference => {
                    if data.len() != 1 {
                        return Err(Error::Malformed("DHCPv6 Preference is not 1 byte"));
                    }
                    repr.preference = data.first().copied();
                }
                OptionCode::StatusCode => {
                    ensure_len("DHCPv6 Status Code", data, 2)?;
                    repr.status = Some((
                        StatusCode::from(be16(data, 0)),
                        data.get(2..).unwrap_or(&[]),
                    ));
                }
                OptionCode::DnsServers => {
                    if data.len() % 16 != 0 {
                        return Err(Error::Malformed(
                            "DHCPv6 DNS servers not a multiple of 16 bytes",
                        ));
                    }
                    repr.dns_servers = Some(data);
                }
                _ => {}
            }
        }
        Ok(repr)
    }

    /// Whether the Option Request option asks for `code`.
    pub fn requests(&self, code: OptionCode) -> bool {
        let wanted = u16::from(code);
        self.oro
            .is_some_and(|oro| oro.chunks_exact(2).any(|pair| be16(pair, 0) == wanted))
    }

    /// The DNS servers of an OPTION_DNS_SERVERS.
    pub fn dns_servers(&self) -> impl Iterator<Item = Ipv6Addr> + 'a {
        self.dns_servers
            .unwrap_or(&[])
            .chunks_exact(16)
            .map(|chunk| super::ipv6::addr_at(chunk, 0))
    }
}

/// Writes a message into the caller's buffer, option by option
/// (RFC 8415 §8, §21.1); nothing is allocated.
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message of `msg_type` with `transaction_id` (24 bits).
    pub fn new(buf: &'b mut [u8], msg_type: MessageType, transaction_id: u32) -> Result<Self> {
        ensure_room(buf, HEADER_LEN)?;
        put(buf, 0, &(transaction_id & 0x00ff_ffff).to_be_bytes());
        put(buf, 0, &[msg_type.into()]);
        Ok(Self {
            buf,
            len: HEADER_LEN,
        })
    }

    /// Reserves an option of `data_len` bytes, writes its header and
    /// returns its data to fill.
    fn reserve(&mut self, code: OptionCode, data_len: usize) -> Result<&mut [u8]> {
        let data_len16 = u16::try_from(data_len)
            .map_err(|_| Error::Malformed("DHCPv6 option over 65535 bytes"))?;
        let start = self.len;
        let end = start + 4 + data_len;
        ensure_room(self.buf, end)?;
        put(self.buf, start, &u16::from(code).to_be_bytes());
        put(self.buf, start + 2, &data_len16.to_be_bytes());
        self.len = end;
        Ok(self.buf.get_mut(start + 4..end).unwrap_or(&mut []))
    }

    /// Appends an option with `data`.
    pub fn option(&mut self, code: OptionCode, data: &[u8]) -> Result<&mut Self> {
        self.reserve(code, data.len())?.copy_from_slice(data);
        Ok(self)
    }

    /// Client Identifier (§21.2).
    pub fn client_id(&mut self, duid: &[u8]) -> Result<&mut Self> {
        self.option(OptionCode::ClientId, duid)
    }

    /// Server Identifier (§21.3).
    pub fn server_id(&mut self, duid: &[u8]) -> Result<&mut Self> {
        self.option(OptionCode::ServerId, duid)
    }

    /// Status Code (§21.13) with a UTF-8 message.
    pub fn status(&mut self, code: StatusCode, message: &str) -> Result<&mut Self> {
        let data = self.reserve(OptionCode::StatusCode, 2 + message.len())?;
        put(data, 0, &u16::from(code).to_be_bytes());
        put(data, 2, message.as_bytes());
        Ok(self)
    }

    /// Preference (§21.8).
    pub fn preference(&mut self, preference: u8) -> Result<&mut Self> {
        self.option(OptionCode::Preference, &[preference])
    }

    /// Rapid Commit (§21.14).
    pub fn rapid_commit(&mut self) -> Result<&mut Self> {
        self.option(OptionCode::RapidCommit, &[])
    }

    /// Elapsed Time (§21.9), hundredths of a second.
    pub fn elapsed_time(&mut self, hundredths: u16) -> Result<&mut Self> {
        self.option(OptionCode::ElapsedTime, &hundredths.to_be_bytes())
    }

    /// Option Request (§21.7).
    pub fn oro(&mut self, codes: &[OptionCode]) -> Result<&mut Self> {
        let data = self.reserve(OptionCode::Oro, 2 * codes.len())?;
        for (index, code) in codes.iter().enumerate() {
            put(data, 2 * index, &u16::from(*code).to_be_bytes());
        }
        Ok(self)
    }

    /// DNS Recursive Name Server (RFC 3646 §3).
    pub fn dns_servers(&mut self, servers: &[Ipv6Addr]) -> Result<&mut Self> {
        let data = self.reserve(OptionCode::DnsServers, 16 * servers.len())?;
        for (index, server) in servers.iter().enumerate() {
            put(data, 16 * index, &server.octets());
        }
        Ok(self)
    }

    /// An IA_PD (§21.21) with `prefixes` and, when given, a Status Code
    /// inside it (e.g. NoPrefixAvail).
    pub fn ia_pd(
        &mut self,
        iaid: u32,
        t1: u32,
        t2: u32,
        prefixes: &[IaPrefix],
        status: Option<(StatusCode, &str)>,
    ) -> Result<&mut Self> {
        self.ia(OptionCode::IaPd, iaid, t1, t2, prefixes, status)
    }

    /// An IA_NA (§21.4) holding only a Status Code (we assign no
    /// addresses: NoAddrsAvail, §18.3.9).
    pub fn ia_na_status(
        &mut self,
        iaid: u32,
        code: StatusCode,
        message: &str,
    ) -> Result<&mut Self> {
        self.ia(OptionCode::IaNa, iaid, 0, 0, &[], Some((code, message)))
    }

    fn ia(
        &mut self,
        code: OptionCode,
        iaid: u32,
        t1: u32,
        t2: u32,
        prefixes: &[IaPrefix],
        status: Option<(StatusCode, &str)>,
    ) -> Result<&mut Self> {
        let status_len = status.map_or(0, |(_, message)| 6 + message.len());
        let data_len = 12 + prefixes.len() * (4 + IA_PREFIX_DATA_LEN) + status_len;
        let data = self.reserve(code, data_len)?;
        put(data, 0, &iaid.to_be_bytes());
        put(data, 4, &t1.to_be_bytes());
        put(data, 8, &t2.to_be_bytes());
        let mut at = 12;
        for prefix in prefixes {
            prefix.write(data.get_mut(at..).unwrap_or(&mut []));
            at += 4 + IA_PREFIX_DATA_LEN;
        }
        if let Some((code, message)) = status {
            put(data, at, &u16::from(OptionCode::StatusCode).to_be_bytes());
            put(data, at + 2, &((2 + message.len()) as u16).to_be_bytes());
            put(data, at + 4, &u16::from(code).to_be_bytes());
            put(data, at + 6, message.as_bytes());
        }
        Ok(self)
    }

    /// The message's length so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether only the header is written.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Ends the message; returns its length.
    pub fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests;
