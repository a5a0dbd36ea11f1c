//! Stateless AC-Cookies (RFC 2516 §5.2, Appendix A).
//!
//! RFC 2516 Appendix A: the AC-Cookie "is used by the Access Concentrator
//! to aid in protecting against denial of service attacks … The Host MUST
//! return the TAG unmodified in the following PADR." We make the cookie a
//! keyed MAC over what the PADR must prove — the subscriber's MAC address,
//! its VLAN stack and the time slot — so the server keeps **no state at all
//! between PADI and PADR**: a flood of PADIs from forged addresses costs
//! one HMAC each and no memory.
//!
//! Layout (24 bytes): `slot: u32` big-endian, `issued: u32` big-endian
//! (milliseconds since the jar's base when the PADO was built, so the PADR
//! tells how long discovery took without the server remembering the
//! PADI), then the first 16 bytes of
//! HMAC-SHA1(secret(slot), mac ‖ vlan count ‖ (tpid, vid)* ‖ slot ‖ issued).
//!
//! Secrets rotate every slot (`cookie_lifetime`); the current and the
//! previous slot's secrets are kept, so a cookie is valid for between one
//! and two lifetimes. Secrets come from the core's seeded RNG.

use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha1::Sha1;

use crate::wire::ethernet::{MacAddress, VlanStack};

/// Length of an AC-Cookie this module issues.
pub const COOKIE_LEN: usize = 24;
/// Bytes of HMAC-SHA1 output kept in the cookie.
const TAG_LEN: usize = 16;
/// Length of a slot secret.
const SECRET_LEN: usize = 32;

/// Why a cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The PADR carried no AC-Cookie.
    Missing,
    /// Wrong length: not one of ours.
    BadLength,
    /// The slot is neither the current nor the previous one.
    Expired,
    /// The MAC does not match (forged, or for another subscriber).
    BadMac,
}

/// Issues and verifies AC-Cookies with rotating secrets.
#[derive(Clone)]
pub struct CookieJar {
    base: Instant,
    lifetime: Duration,
    /// Slot number and secret of the current slot.
    current: (u64, [u8; SECRET_LEN]),
    /// Secret of the slot before `current.0`, if it was ever drawn.
    previous: Option<[u8; SECRET_LEN]>,
}

impl core::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the secrets.
        f.debug_struct("CookieJar")
            .field("lifetime", &self.lifetime)
            .field("slot", &self.current.0)
            .finish_non_exhaustive()
    }
}

fn draw<R: Rng + ?Sized>(rng: &mut R) -> [u8; SECRET_LEN] {
    let mut secret = [0; SECRET_LEN];
    rng.fill_bytes(&mut secret);
    secret
}

impl CookieJar {
    /// A jar whose slot 0 starts at `now`. A zero lifetime is raised to one
    /// second.
    pub fn new<R: Rng + ?Sized>(lifetime: Duration, now: Instant, rng: &mut R) -> Self {
        Self {
            base: now,
            lifetime: lifetime.max(Duration::from_secs(1)),
            current: (0, draw(rng)),
            previous: None,
        }
    }

    /// The slot `now` falls in.
    pub fn slot_at(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.base).as_nanos();
        u64::try_from(elapsed / self.lifetime.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// The start of the slot after the current one (when [`Self::rotate`]
    /// next has work to do).
    pub fn next_rotation(&self) -> Instant {
        let slots = u32::try_from(self.current.0.saturating_add(1)).unwrap_or(u32::MAX);
        self.base + self.lifetime.saturating_mul(slots)
    }

    /// Moves to the slot of `now`, drawing fresh secrets. Time that goes
    /// backwards never rotates.
    pub fn rotate<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        let slot = self.slot_at(now);
        if slot <= self.current.0 {
            return;
        }
        self.previous = if slot == self.current.0 + 1 {
            Some(self.current.1)
        } else {
            // A gap: the previous slot never issued anything we still trust.
            Some(draw(rng))
        };
        self.current = (slot, draw(rng));
    }

    fn mac(
        secret: &[u8; SECRET_LEN],
        slot: u32,
        issued: u32,
        mac: MacAddress,
        vlans: &VlanStack,
    ) -> Option<Hmac<Sha1>> {
        let mut h = <Hmac<Sha1> as KeyInit>::new_from_slice(secret).ok()?;
        h.update(mac.as_bytes());
        h.update(&[vlans.len() as u8]);
        for tag in vlans {
            h.update(&u16::from(tag.tpid).to_be_bytes());
            h.update(&tag.vid.to_be_bytes());
        }
        h.update(&slot.to_be_bytes());
        h.update(&issued.to_be_bytes());
        Some(h)
    }

    /// The cookie for a subscriber in the current slot, issued at `now`
    /// (call [`Self::rotate`] first).
    pub fn issue(
        &self,
        mac: MacAddress,
        vlans: &VlanStack,
        now: Instant,
    ) -> Option<[u8; COOKIE_LEN]> {
        // Slot numbers are carried modulo 2^32; only equality with the
        // current or previous slot matters.
        let slot = self.current.0 as u32;
        let issued = self.millis(now);
        let tag = Self::mac(&self.current.1, slot, issued, mac, vlans)?
            .finalize()
            .into_bytes();
        let mut cookie = [0; COOKIE_LEN];
        cookie[..4].copy_from_slice(&slot.to_be_bytes());
        cookie[4..8].copy_from_slice(&issued.to_be_bytes());
        cookie[8..].copy_from_slice(tag.get(..TAG_LEN)?);
        Some(cookie)
    }

    /// Milliseconds since the base, modulo 2^32 (about 49 days: a cookie
    /// lives two slots at most, so the wrap is resolved in [`Self::verify`]).
    fn millis(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.base).as_millis() as u32
    }

    /// Verifies a cookie returned in a PADR at `now` (call [`Self::rotate`]
    /// first); returns how long ago it was issued (PADI to PADR).
    pub fn verify(
        &self,
        cookie: Option<&[u8]>,
        mac: MacAddress,
        vlans: &VlanStack,
        now: Instant,
    ) -> Result<Duration, CookieError> {
        let cookie = cookie.ok_or(CookieError::Missing)?;
        let (slot_bytes, issued_bytes, tag) = match cookie {
            [a, b, c, d, e, f, g, h, tag @ ..] if tag.len() == TAG_LEN => {
                ([*a, *b, *c, *d], [*e, *f, *g, *h], tag)
            }
            _ => return Err(CookieError::BadLength),
        };
        let slot = u32::from_be_bytes(slot_bytes);
        let issued = u32::from_be_bytes(issued_bytes);
        let current = self.current.0 as u32;
        let secret = if slot == current {
            &self.current.1
        } else if slot == current.wrapping_sub(1) && self.current.0 > 0 {
            self.previous.as_ref().ok_or(CookieError::Expired)?
        } else {
            return Err(CookieError::Expired);
        };
        Self::mac(secret, slot, issued, mac, vlans)
            .ok_or(CookieError::BadMac)?
            .verify_truncated_left(tag)
            .map_err(|_| CookieError::BadMac)?;
        Ok(Duration::from_millis(u64::from(
            self.millis(now).wrapping_sub(issued),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::VlanTag;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const MAC: MacAddress = MacAddress::new([2, 0, 0, 0, 0, 1]);

    #[test]
    fn current_and_previous_slot_accepted_older_refused() {
        let mut rng = StdRng::from_seed([7; 32]);
        let t0 = Instant::now();
        let mut jar = CookieJar::new(Duration::from_secs(30), t0, &mut rng);
        let vlans = VlanStack::single(VlanTag::customer(100).unwrap());
        let cookie = jar.issue(MAC, &vlans, t0).unwrap();
        assert_eq!(
            jar.verify(Some(&cookie), MAC, &vlans, t0),
            Ok(Duration::ZERO)
        );
        jar.rotate(t0 + Duration::from_secs(31), &mut rng);
        assert_eq!(
            jar.verify(Some(&cookie), MAC, &vlans, t0),
            Ok(Duration::ZERO)
        );
        jar.rotate(t0 + Duration::from_secs(61), &mut rng);
        assert_eq!(
            jar.verify(Some(&cookie), MAC, &vlans, t0),
            Err(CookieError::Expired)
        );
    }

    #[test]
    fn bound_to_mac_and_vlans() {
        let mut rng = StdRng::from_seed([8; 32]);
        let t0 = Instant::now();
        let jar = CookieJar::new(Duration::from_secs(30), t0, &mut rng);
        let v100 = VlanStack::single(VlanTag::customer(100).unwrap());
        let v101 = VlanStack::single(VlanTag::customer(101).unwrap());
        let cookie = jar.issue(MAC, &v100, t0).unwrap();
        assert_eq!(
            jar.verify(Some(&cookie), MAC, &v101, t0),
            Err(CookieError::BadMac)
        );
        let other = MacAddress::new([2, 0, 0, 0, 0, 2]);
        assert_eq!(
            jar.verify(Some(&cookie), other, &v100, t0),
            Err(CookieError::BadMac)
        );
        assert_eq!(
            jar.verify(Some(&cookie[..23]), MAC, &v100, t0),
            Err(CookieError::BadLength)
        );
        assert_eq!(jar.verify(None, MAC, &v100, t0), Err(CookieError::Missing));
        let mut forged = cookie;
        forged[10] ^= 1;
        assert_eq!(
            jar.verify(Some(&forged), MAC, &v100, t0),
            Err(CookieError::BadMac)
        );
    }

    #[test]
    fn gap_of_several_slots_invalidates_everything() {
        let mut rng = StdRng::from_seed([9; 32]);
        let t0 = Instant::now();
        let mut jar = CookieJar::new(Duration::from_secs(10), t0, &mut rng);
        let vlans = VlanStack::new();
        let cookie = jar.issue(MAC, &vlans, t0).unwrap();
        jar.rotate(t0 + Duration::from_secs(25), &mut rng);
        assert!(jar.verify(Some(&cookie), MAC, &vlans, t0).is_err());
        assert_eq!(jar.next_rotation(), t0 + Duration::from_secs(30));
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn verify_tells_how_long_ago_the_cookie_was_issued_and_the_time_is_signed() {
        let mut rng = StdRng::from_seed([3; 32]);
        let t0 = Instant::now();
        let jar = CookieJar::new(Duration::from_secs(30), t0, &mut rng);
        let mac = MacAddress::new([2, 0, 0, 0, 0, 9]);
        let vlans = VlanStack::new();
        let cookie = jar
            .issue(mac, &vlans, t0 + Duration::from_millis(250))
            .unwrap();
        assert_eq!(
            jar.verify(
                Some(&cookie),
                mac,
                &vlans,
                t0 + Duration::from_millis(1_750)
            ),
            Ok(Duration::from_millis(1_500))
        );
        // Moving the issue time (to fake a fast discovery) breaks the MAC.
        let mut forged = cookie;
        forged[7] ^= 0x10;
        assert_eq!(
            jar.verify(Some(&forged), mac, &vlans, t0 + Duration::from_secs(2)),
            Err(CookieError::BadMac)
        );
    }
}
