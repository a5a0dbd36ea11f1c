//! Vendor ids and vendor attribute types used by tunnelnas.

/// Microsoft (RFC 2548).
pub const MICROSOFT: u32 = 311;
/// MS-MPPE-Send-Key (RFC 2548 §2.4.2), salted like Tunnel-Password.
pub const MS_MPPE_SEND_KEY: u8 = 16;
/// MS-MPPE-Recv-Key (RFC 2548 §2.4.3), salted like Tunnel-Password.
pub const MS_MPPE_RECV_KEY: u8 = 17;
/// MS-CHAP2-Success (RFC 2548 §2.3.3).
pub const MS_CHAP2_SUCCESS: u8 = 26;
/// DSL Forum (RFC 4679).
pub const DSL_FORUM: u32 = 3561;
/// Agent-Circuit-Id (RFC 4679 §4.1).
pub const AGENT_CIRCUIT_ID: u8 = 1;
/// Agent-Remote-Id (RFC 4679 §4.2).
pub const AGENT_REMOTE_ID: u8 = 2;
/// Cisco Systems.
pub const CISCO: u32 = 9;
/// Cisco-AVPair.
pub const CISCO_AVPAIR: u8 = 1;
/// tunnelnas — RFC 5612's documentation number until one is registered.
pub const TUNNELNAS: u32 = 32473;
