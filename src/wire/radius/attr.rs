//! Attribute type numbers used by tunnelnas, taken from the `radius` crate's
//! generated constants where it has them.

use radius::core::{rfc2865, rfc2866, rfc2867, rfc2868, rfc2869, rfc3162, rfc3576};

/// User-Name (RFC 2865 §5.1).
pub const USER_NAME: u8 = rfc2865::USER_NAME_TYPE;
/// User-Password (RFC 2865 §5.2).
pub const USER_PASSWORD: u8 = rfc2865::USER_PASSWORD_TYPE;
/// CHAP-Password (RFC 2865 §5.3).
pub const CHAP_PASSWORD: u8 = rfc2865::CHAP_PASSWORD_TYPE;
/// NAS-IP-Address (RFC 2865 §5.4).
pub const NAS_IP_ADDRESS: u8 = rfc2865::NAS_IP_ADDRESS_TYPE;
/// NAS-Port (RFC 2865 §5.5).
pub const NAS_PORT: u8 = rfc2865::NAS_PORT_TYPE;
/// Service-Type (RFC 2865 §5.6).
pub const SERVICE_TYPE: u8 = rfc2865::SERVICE_TYPE_TYPE;
/// Framed-Protocol (RFC 2865 §5.7).
pub const FRAMED_PROTOCOL: u8 = rfc2865::FRAMED_PROTOCOL_TYPE;
/// Framed-IP-Address (RFC 2865 §5.8).
pub const FRAMED_IP_ADDRESS: u8 = rfc2865::FRAMED_IP_ADDRESS_TYPE;
/// Reply-Message (RFC 2865 §5.18).
pub const REPLY_MESSAGE: u8 = rfc2865::REPLY_MESSAGE_TYPE;
/// State (RFC 2865 §5.24).
pub const STATE: u8 = rfc2865::STATE_TYPE;
/// Class (RFC 2865 §5.25).
pub const CLASS: u8 = rfc2865::CLASS_TYPE;
/// Vendor-Specific (RFC 2865 §5.26).
pub const VENDOR_SPECIFIC: u8 = rfc2865::VENDOR_SPECIFIC_TYPE;
/// Session-Timeout (RFC 2865 §5.27).
pub const SESSION_TIMEOUT: u8 = rfc2865::SESSION_TIMEOUT_TYPE;
/// Calling-Station-Id (RFC 2865 §5.31).
pub const CALLING_STATION_ID: u8 = rfc2865::CALLING_STATION_ID_TYPE;
/// NAS-Identifier (RFC 2865 §5.32).
pub const NAS_IDENTIFIER: u8 = rfc2865::NAS_IDENTIFIER_TYPE;
/// Proxy-State (RFC 2865 §5.33).
pub const PROXY_STATE: u8 = rfc2865::PROXY_STATE_TYPE;
/// CHAP-Challenge (RFC 2865 §5.40).
pub const CHAP_CHALLENGE: u8 = rfc2865::CHAP_CHALLENGE_TYPE;
/// NAS-Port-Type (RFC 2865 §5.41).
pub const NAS_PORT_TYPE: u8 = rfc2865::NAS_PORT_TYPE_TYPE;
/// Acct-Status-Type (RFC 2866 §5.1).
pub const ACCT_STATUS_TYPE: u8 = rfc2866::ACCT_STATUS_TYPE_TYPE;
/// Acct-Session-Id (RFC 2866 §5.5).
pub const ACCT_SESSION_ID: u8 = rfc2866::ACCT_SESSION_ID_TYPE;
/// Acct-Terminate-Cause (RFC 2866 §5.10).
pub const ACCT_TERMINATE_CAUSE: u8 = rfc2866::ACCT_TERMINATE_CAUSE_TYPE;
/// Acct-Tunnel-Connection (RFC 2867 §4.1).
pub const ACCT_TUNNEL_CONNECTION: u8 = rfc2867::ACCT_TUNNEL_CONNECTION_TYPE;
/// Tunnel-Type (RFC 2868 §3.1).
pub const TUNNEL_TYPE: u8 = rfc2868::TUNNEL_TYPE_TYPE;
/// Tunnel-Medium-Type (RFC 2868 §3.2).
pub const TUNNEL_MEDIUM_TYPE: u8 = rfc2868::TUNNEL_MEDIUM_TYPE_TYPE;
/// Tunnel-Client-Endpoint (RFC 2868 §3.3).
pub const TUNNEL_CLIENT_ENDPOINT: u8 = rfc2868::TUNNEL_CLIENT_ENDPOINT_TYPE;
/// Tunnel-Server-Endpoint (RFC 2868 §3.4).
pub const TUNNEL_SERVER_ENDPOINT: u8 = rfc2868::TUNNEL_SERVER_ENDPOINT_TYPE;
/// Tunnel-Password (RFC 2868 §3.5).
pub const TUNNEL_PASSWORD: u8 = rfc2868::TUNNEL_PASSWORD_TYPE;
/// Tunnel-Private-Group-ID (RFC 2868 §3.6).
pub const TUNNEL_PRIVATE_GROUP_ID: u8 = rfc2868::TUNNEL_PRIVATE_GROUP_ID_TYPE;
/// Tunnel-Assignment-ID (RFC 2868 §3.7).
pub const TUNNEL_ASSIGNMENT_ID: u8 = rfc2868::TUNNEL_ASSIGNMENT_ID_TYPE;
/// Tunnel-Preference (RFC 2868 §3.8).
pub const TUNNEL_PREFERENCE: u8 = rfc2868::TUNNEL_PREFERENCE_TYPE;
/// Tunnel-Client-Auth-ID (RFC 2868 §3.9).
pub const TUNNEL_CLIENT_AUTH_ID: u8 = rfc2868::TUNNEL_CLIENT_AUTH_ID_TYPE;
/// Tunnel-Server-Auth-ID (RFC 2868 §3.10).
pub const TUNNEL_SERVER_AUTH_ID: u8 = rfc2868::TUNNEL_SERVER_AUTH_ID_TYPE;
/// EAP-Message (RFC 3579 §3.1).
pub const EAP_MESSAGE: u8 = rfc2869::EAP_MESSAGE_TYPE;
/// Message-Authenticator (RFC 3579 §3.2, RFC 2869 §5.14).
pub const MESSAGE_AUTHENTICATOR: u8 = rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
/// NAS-Port-Id (RFC 2869 §5.17).
pub const NAS_PORT_ID: u8 = rfc2869::NAS_PORT_ID_TYPE;
/// Framed-Interface-Id (RFC 3162 §2.2).
pub const FRAMED_INTERFACE_ID: u8 = rfc3162::FRAMED_INTERFACE_ID_TYPE;
/// Framed-IPv6-Prefix (RFC 3162 §2.3).
pub const FRAMED_IPV6_PREFIX: u8 = rfc3162::FRAMED_IPV6_PREFIX_TYPE;
/// Error-Cause (RFC 5176 §3.6).
pub const ERROR_CAUSE: u8 = rfc3576::ERROR_CAUSE_TYPE;
