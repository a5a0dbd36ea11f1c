//! The Network Control Protocols: IPCP (RFC 1332, RFC 1877 DNS/NBNS) and
//! IPv6CP (RFC 5072).
//!
//! IPCP, server side: we send our own IP-Address; the peer's address is
//! assigned by the driver (from RADIUS Framed-IP-Address, a pool …) and a
//! request for 0.0.0.0 or any other address is Nak'd with it (RFC 1332
//! §3.3: "If the peer ... does not know its address ... it MAY request ...
//! 0.0.0.0 ... the peer ... MUST Configure-Nak ... with a valid IP-Address");
//! an absent IP-Address is prompted for with a Nak. Primary / secondary DNS
//! (RFC 1877 §1.1, §1.3) are Nak'd with the configured servers and rejected
//! when none is configured; NBNS likewise; IP-Compression-Protocol and the
//! deprecated IP-Addresses are rejected (no Van Jacobson compression here).
//!
//! IPCP, client side: we request 0.0.0.0 and DNS 0.0.0.0 and take the
//! server's Naks; an IP-Address reject or an acknowledged 0.0.0.0 fails.
//!
//! IPv6CP (RFC 5072 §4.1): both ends use a random non-zero
//! Interface-Identifier. A received identifier equal to ours is answered
//! with a Configure-Nak carrying a new one (the RFC makes the identifiers
//! unique on the link this way), and a zero identifier, which asks us to
//! suggest one, is Nak'd with a fresh random value too.

use std::net::Ipv4Addr;

use rand::Rng;
use rand::rngs::StdRng;

use super::fsm::{NegotiationFailure, Negotiator, Verdict};
use crate::wire::ppp::{IpcpOption, Ipv6cpOption};

/// The IPv4 result of IPCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Negotiated {
    /// Our address.
    pub local: Ipv4Addr,
    /// The peer's address.
    pub peer: Ipv4Addr,
    /// Primary DNS (server: what we gave; client: what we got).
    pub primary_dns: Option<Ipv4Addr>,
    /// Secondary DNS.
    pub secondary_dns: Option<Ipv4Addr>,
}

/// IPCP settings of one link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpcpConfig {
    /// Server: our address (sent as IP-Address). Client: ignored.
    pub local: Option<Ipv4Addr>,
    /// Server: DNS servers to hand out; client: ask for DNS.
    pub primary_dns: Option<Ipv4Addr>,
    /// Secondary DNS server.
    pub secondary_dns: Option<Ipv4Addr>,
    /// NBNS servers to hand out (server); rejected when `None`.
    pub primary_nbns: Option<Ipv4Addr>,
    /// Secondary NBNS server.
    pub secondary_nbns: Option<Ipv4Addr>,
    /// Client: ask the server for DNS servers (RFC 1877).
    pub request_dns: bool,
}

/// Which end of IPCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcpRole {
    /// Assigns the peer's address.
    Server,
    /// Asks for an address.
    Client,
}

/// The IPCP [`Negotiator`].
#[derive(Debug)]
pub struct Ipcp {
    role: NcpRole,
    config: IpcpConfig,
    /// Server: the address assigned to the peer.
    assigned_peer: Option<Ipv4Addr>,
    // Client request state.
    want_address: Ipv4Addr,
    want_primary_dns: Option<Ipv4Addr>,
    want_secondary_dns: Option<Ipv4Addr>,
    // Results.
    local: Ipv4Addr,
    peer: Ipv4Addr,
    primary_dns: Option<Ipv4Addr>,
    secondary_dns: Option<Ipv4Addr>,
}

impl Ipcp {
    /// An IPCP negotiator for `role`.
    pub fn new(role: NcpRole, config: IpcpConfig) -> Self {
        let mut ipcp = Self {
            role,
            assigned_peer: None,
            want_address: Ipv4Addr::UNSPECIFIED,
            want_primary_dns: None,
            want_secondary_dns: None,
            local: Ipv4Addr::UNSPECIFIED,
            peer: Ipv4Addr::UNSPECIFIED,
            primary_dns: None,
            secondary_dns: None,
            config,
        };
        ipcp.reset();
        ipcp
    }

    /// Server: the address (and DNS servers, if given) for the peer.
    pub fn assign(&mut self, peer: Ipv4Addr, dns: Option<(Ipv4Addr, Option<Ipv4Addr>)>) {
        self.assigned_peer = Some(peer);
        if let Some((primary, secondary)) = dns {
            self.config.primary_dns = Some(primary);
            self.config.secondary_dns = secondary;
        }
    }

    /// Server: whether the peer's address is known.
    pub fn has_assignment(&self) -> bool {
        self.assigned_peer.is_some()
    }

    /// The result, once IPCP is Opened.
    pub fn negotiated(&self) -> Ipv4Negotiated {
        Ipv4Negotiated {
            local: self.local,
            peer: self.peer,
            primary_dns: self.primary_dns,
            secondary_dns: self.secondary_dns,
        }
    }

    fn judge_server_value(
        offered: Ipv4Addr,
        configured: Option<Ipv4Addr>,
        make: fn(Ipv4Addr) -> IpcpOption,
    ) -> Verdict<IpcpOption> {
        match configured {
            None => Verdict::Reject,
            Some(value) if value == offered => Verdict::Ack,
            Some(value) => Verdict::Nak(make(value)),
        }
    }
}

impl Negotiator for Ipcp {
    type Option = IpcpOption;

    fn request(&mut self) -> Vec<IpcpOption> {
        match self.role {
            NcpRole::Server => self
                .config
                .local
                .map(IpcpOption::IpAddress)
                .into_iter()
                .collect(),
            NcpRole::Client => {
                let mut options = vec![IpcpOption::IpAddress(self.want_address)];
                if let Some(dns) = self.want_primary_dns {
                    options.push(IpcpOption::PrimaryDns(dns));
                }
                if let Some(dns) = self.want_secondary_dns {
                    options.push(IpcpOption::SecondaryDns(dns));
                }
                options
            }
        }
    }

    fn judge(&mut self, option: &IpcpOption) -> Verdict<IpcpOption> {
        match (self.role, option) {
            (NcpRole::Server, IpcpOption::IpAddress(address)) => match self.assigned_peer {
                Some(assigned) if assigned == *address => Verdict::Ack,
                Some(assigned) => Verdict::Nak(IpcpOption::IpAddress(assigned)),
                // Not assigned yet (the driver opens IPCP only once it is).
                None => Verdict::Reject,
            },
            (NcpRole::Server, IpcpOption::PrimaryDns(a)) => {
                Self::judge_server_value(*a, self.config.primary_dns, IpcpOption::PrimaryDns)
            }
            (NcpRole::Server, IpcpOption::SecondaryDns(a)) => {
                Self::judge_server_value(*a, self.config.secondary_dns, IpcpOption::SecondaryDns)
            }
            (NcpRole::Server, IpcpOption::PrimaryNbns(a)) => {
                Self::judge_server_value(*a, self.config.primary_nbns, IpcpOption::PrimaryNbns)
            }
            (NcpRole::Server, IpcpOption::SecondaryNbns(a)) => {
                Self::judge_server_value(*a, self.config.secondary_nbns, IpcpOption::SecondaryNbns)
            }
            // The client accepts the server's own address as it is.
            (NcpRole::Client, IpcpOption::IpAddress(_)) => Verdict::Ack,
            _ => Verdict::Reject,
        }
    }

    fn missing(&mut self, received: &[IpcpOption]) -> Vec<IpcpOption> {
        // RFC 1332 §3.3 (prompting with a Nak, RFC 1661 §5.3): the server
        // needs the peer to take the assigned address.
        match (self.role, self.assigned_peer) {
            (NcpRole::Server, Some(assigned))
                if !received
                    .iter()
                    .any(|o| matches!(o, IpcpOption::IpAddress(_))) =>
            {
                vec![IpcpOption::IpAddress(assigned)]
            }
            _ => Vec::new(),
        }
    }

    fn peer_acked(&mut self, options: &[IpcpOption]) {
        for option in options {
            if let IpcpOption::IpAddress(address) = option {
                self.peer = *address;
            }
        }
        if self.role == NcpRole::Server {
            self.primary_dns = options.iter().find_map(|o| match o {
                IpcpOption::PrimaryDns(a) => Some(*a),
                _ => None,
            });
            self.secondary_dns = options.iter().find_map(|o| match o {
                IpcpOption::SecondaryDns(a) => Some(*a),
                _ => None,
            });
            if let Some(assigned) = self.assigned_peer {
                self.peer = assigned;
            }
        }
    }

    fn our_acked(&mut self, options: &[IpcpOption]) -> Result<(), NegotiationFailure> {
        for option in options {
            match option {
                IpcpOption::IpAddress(address) => self.local = *address,
                IpcpOption::PrimaryDns(a) if self.role == NcpRole::Client => {
                    self.primary_dns = Some(*a);
                }
                IpcpOption::SecondaryDns(a) if self.role == NcpRole::Client => {
                    self.secondary_dns = Some(*a);
                }
                _ => {}
            }
        }
        if self.role == NcpRole::Client && self.local.is_unspecified() {
            return Err(NegotiationFailure::Unusable(
                "IPCP server acknowledged IP-Address 0.0.0.0",
            ));
        }
        Ok(())
    }

    fn nak_received(&mut self, options: &[IpcpOption]) -> Result<(), NegotiationFailure> {
        if self.role == NcpRole::Server {
            // Our own address is not negotiable.
            return Ok(());
        }
        for option in options {
            match option {
                IpcpOption::IpAddress(a) => self.want_address = *a,
                IpcpOption::PrimaryDns(a) if self.want_primary_dns.is_some() => {
                    self.want_primary_dns = Some(*a);
                }
                IpcpOption::SecondaryDns(a) if self.want_secondary_dns.is_some() => {
                    self.want_secondary_dns = Some(*a);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn reject_received(&mut self, options: &[IpcpOption]) -> Result<(), NegotiationFailure> {
        for option in options {
            match option {
                IpcpOption::IpAddress(_) => {
                    if self.role == NcpRole::Client {
                        return Err(NegotiationFailure::RequiredOptionRefused(3));
                    }
                    // A server whose address is refused goes on without
                    // sending it (the peer knows ours some other way).
                    self.config.local = None;
                }
                IpcpOption::PrimaryDns(_) => self.want_primary_dns = None,
                IpcpOption::SecondaryDns(_) => self.want_secondary_dns = None,
                _ => {}
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.want_address = Ipv4Addr::UNSPECIFIED;
        let dns = (self.role == NcpRole::Client && self.config.request_dns)
            .then_some(Ipv4Addr::UNSPECIFIED);
        self.want_primary_dns = dns;
        self.want_secondary_dns = dns;
        self.local = Ipv4Addr::UNSPECIFIED;
        self.peer = Ipv4Addr::UNSPECIFIED;
        self.primary_dns = None;
        self.secondary_dns = None;
    }
}

/// The IPv6 result of IPv6CP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Negotiated {
    /// Our Interface-Identifier.
    pub local_interface_id: [u8; 8],
    /// The peer's Interface-Identifier.
    pub peer_interface_id: [u8; 8],
}

/// The IPv6CP [`Negotiator`].
#[derive(Debug)]
pub struct Ipv6cp {
    rng: StdRng,
    want: Option<[u8; 8]>,
    local: [u8; 8],
    peer: [u8; 8],
}

impl Ipv6cp {
    /// An IPv6CP negotiator; `rng` draws identifiers.
    pub fn new(rng: StdRng) -> Self {
        let mut ipv6cp = Self {
            rng,
            want: None,
            local: [0; 8],
            peer: [0; 8],
        };
        ipv6cp.reset();
        ipv6cp
    }

    /// The result, once IPv6CP is Opened.
    pub fn negotiated(&self) -> Ipv6Negotiated {
        Ipv6Negotiated {
            local_interface_id: self.local,
            peer_interface_id: self.peer,
        }
    }

    fn fresh(&mut self, avoid: &[[u8; 8]]) -> [u8; 8] {
        loop {
            let mut id = [0u8; 8];
            self.rng.fill_bytes(&mut id);
            if id != [0; 8] && !avoid.contains(&id) {
                return id;
            }
        }
    }
}

impl Negotiator for Ipv6cp {
    type Option = Ipv6cpOption;

    fn request(&mut self) -> Vec<Ipv6cpOption> {
        self.want
            .map(Ipv6cpOption::InterfaceIdentifier)
            .into_iter()
            .collect()
    }

    fn judge(&mut self, option: &Ipv6cpOption) -> Verdict<Ipv6cpOption> {
        match option {
            Ipv6cpOption::InterfaceIdentifier(id) => {
                let ours = self.want.unwrap_or([0; 8]);
                if *id == [0; 8] || *id == ours {
                    Verdict::Nak(Ipv6cpOption::InterfaceIdentifier(self.fresh(&[ours, *id])))
                } else {
                    Verdict::Ack
                }
            }
            _ => Verdict::Reject,
        }
    }

    fn peer_acked(&mut self, options: &[Ipv6cpOption]) {
        for option in options {
            if let Ipv6cpOption::InterfaceIdentifier(id) = option {
                self.peer = *id;
            }
        }
    }

    fn our_acked(&mut self, options: &[Ipv6cpOption]) -> Result<(), NegotiationFailure> {
        for option in options {
            if let Ipv6cpOption::InterfaceIdentifier(id) = option {
                self.local = *id;
            }
        }
        Ok(())
    }

    fn nak_received(&mut self, options: &[Ipv6cpOption]) -> Result<(), NegotiationFailure> {
        for option in options {
            if let Ipv6cpOption::InterfaceIdentifier(suggested) = option {
                let current = self.want.unwrap_or([0; 8]);
                self.want = Some(if *suggested != [0; 8] && *suggested != self.peer {
                    *suggested
                } else {
                    self.fresh(&[current, self.peer])
                });
            }
        }
        Ok(())
    }

    fn reject_received(&mut self, options: &[Ipv6cpOption]) -> Result<(), NegotiationFailure> {
        if options
            .iter()
            .any(|o| matches!(o, Ipv6cpOption::InterfaceIdentifier(_)))
        {
            self.want = None;
        }
        Ok(())
    }

    fn reset(&mut self) {
        let id = self.fresh(&[]);
        self.want = Some(id);
        self.local = id;
        self.peer = [0; 8];
    }
}
