//! `[pppoe]`, `[[pppoe.interface]]` and `[[pppoe.interface.vlan]]`: the
//! PPPoE access concentrator (RFC 2516) the LAC role serves subscribers
//! on — interfaces, Service-Names, session limits, PADI rates, PADO delay,
//! AC-Cookie lifetime, RFC 4638 payload, and per-VLAN rules ([`VlanRange`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Config;
use super::error::Invalid;
use super::types::{self, Duration};

/// `[pppoe]`: the PPPoE access concentrator (RFC 2516).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pppoe {
    /// Interfaces to serve (`[[pppoe.interface]]`). At least one for a LAC.
    #[serde(rename = "interface")]
    pub interfaces: Vec<PppoeInterface>,
    /// AC-Name tag in PADO/PADS. Default `"tunnelnas"`.
    #[serde(deserialize_with = "types::string")]
    pub ac_name: String,
    /// Service-Names offered; empty (the default) accepts any, including
    /// the empty Service-Name.
    pub service_names: Vec<String>,
    /// Most PPPoE sessions on one interface. Default 16000.
    pub max_sessions_per_interface: u32,
    /// Most PPPoE sessions from one subscriber MAC. Default 2.
    pub max_sessions_per_mac: u32,
    /// PADI accepted per second on each interface (also the burst).
    /// Default 500.
    pub padi_rate: u32,
    /// PADI accepted per second from one subscriber (MAC and VLAN tags;
    /// also the burst). Default 2.
    pub padi_rate_per_mac: u32,
    /// PADO delay when idle. Default `0s`.
    pub pado_delay: Duration,
    /// PADO delay at full load (grows linearly with sessions in use), so
    /// a less loaded concentrator answers first. Default `0s`.
    pub pado_delay_max: Duration,
    /// Lifetime of the AC-Cookie's time slot (the cookie is valid for the
    /// current and the previous slot). Default `30s`.
    pub cookie_lifetime: Duration,
    /// Largest PPP-Max-Payload (RFC 4638) granted. 1492 (the default)
    /// disables RFC 4638; raise it only on interfaces whose MTU is at least
    /// this plus 8.
    pub max_payload: u16,
}

impl Default for Pppoe {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            ac_name: "tunnelnas".into(),
            service_names: Vec::new(),
            max_sessions_per_interface: 16_000,
            max_sessions_per_mac: 2,
            padi_rate: 500,
            padi_rate_per_mac: 2,
            pado_delay: Duration::from_secs(0),
            pado_delay_max: Duration::from_secs(0),
            cookie_lifetime: Duration::from_secs(30),
            max_payload: 1492,
        }
    }
}

/// `[[pppoe.interface]]`: one access interface.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PppoeInterface {
    /// Linux interface name.
    #[serde(deserialize_with = "types::string")]
    pub name: String,
    /// Service-Names for this interface; absent = `[pppoe] service_names`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_names: Option<Vec<String>>,
    /// Session limit for this interface; absent = the `[pppoe]` default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// Per-VLAN rules (`[[pppoe.interface.vlan]]`), tried in file order;
    /// the first that matches a frame's VLAN tags applies (see
    /// [`PppoeVlan`]). Frames no rule matches get the interface's settings.
    #[serde(default, rename = "vlan", skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<PppoeVlan>,
}

/// `[[pppoe.interface.vlan]]`: settings for the subscribers on some VLANs
/// of an interface.
///
/// # Matching
///
/// A frame's tags are read the way the NAS-Port-Id placeholders read them:
/// with two tags the outer one is the S-VLAN and the inner one the C-VLAN;
/// a single tag is the **C-VLAN** (there is no S-VLAN); an untagged frame
/// has neither. A rule matches when each of `svlan` and `cvlan` that it
/// sets is present in the frame and within the id or range given; a key
/// left out matches anything, including no tag at all. So:
///
/// * `cvlan = 100` matches single-tagged frames on VLAN 100 and QinQ
///   frames whose inner tag is 100, whatever their outer tag;
/// * `svlan = 10` matches only QinQ frames whose outer tag is 10;
/// * a rule with neither key matches every frame, and is the only kind of
///   rule an untagged frame (or a priority-tagged one, VLAN id 0) matches.
///
/// Rules are tried in file order and **the first match wins**; a rule that
/// an earlier one entirely covers would never apply and is refused at load.
/// A frame that no rule matches gets the interface's own Service-Names and
/// limits: to serve only the VLANs listed, end with a catch-all rule with
/// `refuse = true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PppoeVlan {
    /// Outer (S-)VLAN id or range, e.g. `10` or `"10-19"`; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svlan: Option<VlanRange>,
    /// Inner (C-)VLAN id or range, or the only tag of a single-tagged
    /// frame; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvlan: Option<VlanRange>,
    /// Service-Names offered on these VLANs; absent = the interface's (or
    /// `[pppoe] service_names`); empty accepts any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_names: Option<Vec<String>>,
    /// Most sessions on the VLANs of this rule together (the interface's
    /// and the per-MAC limits still apply); absent = no limit of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    /// NAS-Port-Id template for sessions on these VLANs, overriding
    /// `[radius] nas_port_id` (same placeholders).
    #[serde(
        default,
        deserialize_with = "optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub nas_port_id: Option<String>,
    /// Ignore discovery on these VLANs entirely: no PADO and no PADS is
    /// sent (RFC 2516 §5.2), each PADI or PADR is only counted as refused.
    /// Takes no other setting than `svlan` and `cvlan`. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refuse: bool,
}

impl PppoeVlan {
    /// Whether every frame `self` matches is also matched by `earlier`
    /// (so `self` would never apply after it).
    fn covered_by(&self, earlier: &Self) -> bool {
        let covers = |earlier: Option<VlanRange>, later: Option<VlanRange>| match (earlier, later) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(e), Some(l)) => e.low <= l.low && l.high <= e.high,
        };
        covers(earlier.svlan, self.svlan) && covers(earlier.cvlan, self.cvlan)
    }
}

/// Deserialises an optional string field that may arrive as a number (an
/// environment override), as [`types::string`] does for required ones.
fn optional_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    types::string(deserializer).map(Some)
}

/// A VLAN id or an inclusive range of ids, written `100`, `"100"` or
/// `"100-199"` (serialised back as a number when it is one id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanRange {
    /// First id of the range.
    pub low: u16,
    /// Last id of the range (equal to `low` for a single id).
    pub high: u16,
}

impl VlanRange {
    /// The usable VLAN ids (IEEE 802.1Q: 0 means priority-tagged only,
    /// 4095 is reserved).
    pub const IDS: std::ops::RangeInclusive<u16> = 1..=4094;

    /// One id.
    pub const fn single(id: u16) -> Self {
        Self { low: id, high: id }
    }

    /// Whether `vid` is within the range.
    pub const fn contains(self, vid: u16) -> bool {
        self.low <= vid && vid <= self.high
    }

    /// Parses `"100"` or `"100-199"` (numbers only; see [`Self::check`]
    /// for the ranges allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = |part: &str| {
            part.trim().parse::<u16>().map_err(|_| {
                format!(
                    "expected a VLAN id (1 to 4094) or a range such as \"100-199\", found `{text}`"
                )
            })
        };
        match text.split_once('-') {
            Some((low, high)) => Ok(Self {
                low: number(low)?,
                high: number(high)?,
            }),
            None => number(text).map(Self::single),
        }
    }

    /// Checks the ids are usable VLAN ids and the range is not reversed.
    pub fn check(self) -> Result<(), String> {
        for id in [self.low, self.high] {
            if !Self::IDS.contains(&id) {
                return Err(format!("a VLAN id from 1 to 4094 (found {id})"));
            }
        }
        if self.low > self.high {
            return Err(format!(
                "a range \"low-high\" with low <= high (found \"{self}\")"
            ));
        }
        Ok(())
    }
}

impl fmt::Display for VlanRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

impl Serialize for VlanRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.low == self.high {
            serializer.serialize_u16(self.low)
        } else {
            serializer.collect_str(self)
        }
    }
}

impl<'de> Deserialize<'de> for VlanRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct RangeVisitor;
        impl Visitor<'_> for RangeVisitor {
            type Value = VlanRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VLAN id (1 to 4094) or a range such as \"100-199\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VlanRange, E> {
                VlanRange::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VlanRange, E> {
                u16::try_from(v)
                    .map(VlanRange::single)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VlanRange, E> {
                u16::try_from(v)
                    .map(VlanRange::single)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        deserializer.deserialize_any(RangeVisitor)
    }
}

impl Config {
    /// `[pppoe]`, which the LAC role needs (checked before `[lac]` itself).
    pub(super) fn validate_pppoe(&self) -> Result<(), Invalid> {
        let Some(pppoe) = &self.pppoe else {
            return Err(Invalid::new(
                "pppoe",
                "a [pppoe] section with at least one [[pppoe.interface]] (the LAC's access side)",
            ));
        };
        if pppoe.interfaces.is_empty() {
            return Err(Invalid::new(
                "pppoe.interface",
                "at least one [[pppoe.interface]]",
            ));
        }
        for (i, interface) in pppoe.interfaces.iter().enumerate() {
            if interface.name.is_empty() || interface.name.len() > 15 {
                return Err(Invalid::new(
                    format!("pppoe.interface.{i}.name"),
                    "an interface name of 1 to 15 bytes",
                ));
            }
            if pppoe.interfaces[..i]
                .iter()
                .any(|o| o.name == interface.name)
            {
                return Err(Invalid::new(
                    format!("pppoe.interface.{i}.name"),
                    "each interface at most once",
                ));
            }
            Self::validate_vlan_rules(i, &interface.vlans)?;
        }
        if !(1492..=9000).contains(&pppoe.max_payload) {
            return Err(Invalid::new(
                "pppoe.max_payload",
                "a PPP-Max-Payload between 1492 and 9000",
            ));
        }
        if pppoe.pado_delay_max < pppoe.pado_delay {
            return Err(Invalid::new(
                "pppoe.pado_delay_max",
                "a duration at least pppoe.pado_delay",
            ));
        }
        if pppoe.cookie_lifetime.get().is_zero() {
            return Err(Invalid::new("pppoe.cookie_lifetime", "a duration above 0s"));
        }
        Ok(())
    }

    /// `[[pppoe.interface.vlan]]` rules of interface `i`.
    fn validate_vlan_rules(i: usize, rules: &[PppoeVlan]) -> Result<(), Invalid> {
        for (j, rule) in rules.iter().enumerate() {
            let key = format!("pppoe.interface.{i}.vlan.{j}");
            for (name, range) in [("svlan", rule.svlan), ("cvlan", rule.cvlan)] {
                if let Some(range) = range {
                    range
                        .check()
                        .map_err(|expected| Invalid::new(format!("{key}.{name}"), expected))?;
                }
            }
            if rule.refuse
                && (rule.service_names.is_some()
                    || rule.max_sessions.is_some()
                    || rule.nas_port_id.is_some())
            {
                return Err(Invalid::new(
                    format!("{key}.refuse"),
                    "no service_names, max_sessions or nas_port_id beside `refuse = true` \
                     (a refused VLAN gets no PADO, so they would never apply)",
                ));
            }
            if rule.max_sessions == Some(0) {
                return Err(Invalid::new(
                    format!("{key}.max_sessions"),
                    "at least 1 (to turn these VLANs away, use `refuse = true`)",
                ));
            }
            if rule.nas_port_id.as_deref() == Some("") {
                return Err(Invalid::new(
                    format!("{key}.nas_port_id"),
                    "a template such as \"{interface}:{svlan}.{cvlan}\"",
                ));
            }
            if let Some(k) = rules[..j]
                .iter()
                .position(|earlier| rule.covered_by(earlier))
            {
                return Err(Invalid::new(
                    key,
                    format!(
                        "a rule that can apply (pppoe.interface.{i}.vlan.{k} before it matches \
                         every frame this one matches, and the first match wins)"
                    ),
                ));
            }
        }
        Ok(())
    }
}
