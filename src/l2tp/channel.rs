//! RFC 2661 §5.8 reliable control channel. Being written.
