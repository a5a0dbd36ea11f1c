//! The negotiation record of a [`Link`]: what LCP (RFC 1661 §5.1) and
//! authentication (RFC 1334 §2.2, RFC 1994 §4, RFC 2759 §4) exchanged, as
//! a LAC hands it to the LNS in the proxy LCP and authentication AVPs of
//! RFC 2661 §4.4.5, so that the LNS can take the session over without
//! negotiating again. [`Link::negotiation_record`] and
//! [`Link::pending_negotiation_record`] hand it out.

use super::Link;
use crate::ppp::auth::{AuthMethod, AuthRequest};

/// An authentication exchange, as the L2TP proxy AVPs carry it (RFC 2661
/// §4.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRecord {
    /// The method (Proxy Authen Type).
    pub method: AuthMethod,
    /// Proxy Authen Name.
    pub name: Vec<u8>,
    /// Proxy Authen Challenge (CHAP, MS-CHAPv2: our challenge; PAP: empty).
    pub challenge: Vec<u8>,
    /// Proxy Authen ID.
    pub id: u8,
    /// Proxy Authen Response (PAP: the password; CHAP: the 16-octet value;
    /// MS-CHAPv2: the 49-octet response value, peer challenge, reserved,
    /// NT-Response, flags).
    pub response: Vec<u8>,
}

/// What LCP and authentication exchanged, for the L2TP proxy AVPs (RFC
/// 2661 §4.4.5). Option bytes are as on the wire (the Configure-Request's
/// data, without Code, Identifier and Length).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NegotiationRecord {
    /// Initial Received LCP CONFREQ.
    pub initial_received_lcp_request: Option<Vec<u8>>,
    /// Last Sent LCP CONFREQ.
    pub last_sent_lcp_request: Option<Vec<u8>>,
    /// Last Received LCP CONFREQ.
    pub last_received_lcp_request: Option<Vec<u8>>,
    /// The authentication exchange, if any.
    pub auth: Option<AuthRecord>,
}

impl Link {
    /// Records the Configure-Requests of the LCP negotiation that just
    /// reached Opened.
    pub(super) fn record_lcp_requests(&mut self) {
        self.record.initial_received_lcp_request =
            self.lcp.first_received_request().map(<[u8]>::to_vec);
        self.record.last_sent_lcp_request = self.lcp.last_sent_request().map(<[u8]>::to_vec);
        self.record.last_received_lcp_request =
            self.lcp.last_received_request().map(<[u8]>::to_vec);
    }

    pub(super) fn record_auth(&mut self, request: &AuthRequest) {
        let Some(method) = self.auth_method else {
            return;
        };
        let record = match request {
            AuthRequest::Pap { user, password } => AuthRecord {
                method,
                name: user.clone(),
                challenge: Vec::new(),
                id: self.last_pap_id,
                response: password.expose().to_vec(),
            },
            AuthRequest::Chap {
                user,
                id,
                challenge,
                response,
            } => AuthRecord {
                method,
                name: user.clone(),
                challenge: challenge.clone(),
                id: *id,
                response: response.clone(),
            },
            AuthRequest::MsChapV2 {
                user,
                id,
                authenticator_challenge,
                peer_challenge,
                nt_response,
                flags,
            } => {
                // RFC 2759 §4 Response-Value layout: Peer-Challenge (16),
                // Reserved (8, zero), NT-Response (24), Flags (1).
                let mut response = Vec::with_capacity(49);
                response.extend_from_slice(peer_challenge);
                response.extend_from_slice(&[0; 8]);
                response.extend_from_slice(nt_response);
                response.push(*flags);
                AuthRecord {
                    method,
                    name: user.clone(),
                    challenge: authenticator_challenge.to_vec(),
                    id: *id,
                    response,
                }
            }
        };
        self.record.auth = Some(record);
    }
}
