//! LAC role driver (NAS-initiated mode, RFC 2661 §1.1): glues a subscriber's
//! PPPoE session through discovery, LCP, authentication, RADIUS and L2TP.

pub mod select;
