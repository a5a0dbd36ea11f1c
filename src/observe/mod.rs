//! What the roles report to their observers (the Prometheus families of
//! [`crate::metrics`], logs): each role's event vocabulary and the sink
//! its driver publishes to. It sits below the roles and `metrics`, so
//! neither knows the other: a role's driver publishes to an observer the
//! node hands it, and `metrics` implements the observers (DESIGN.md,
//! "dependencies point down").

pub mod lac;
pub mod lns;

use std::fmt::Debug;

/// A low-cardinality label from an enum value: the variant name in
/// snake_case, without any data it carries (`Unknown(42)` → `unknown`,
/// `NegotiationFailed { .. }` → `negotiation_failed`). The number of
/// distinct labels is the number of variants, whatever peers send.
pub fn variant_label(value: &impl Debug) -> String {
    let debug = format!("{value:?}");
    let name = debug
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
