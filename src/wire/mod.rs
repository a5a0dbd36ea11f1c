//! Wire formats: zero-copy packet views and owned representations.
//!
//! Every protocol follows the same shape (the smoltcp model):
//!
//! * `Packet<T: AsRef<[u8]>>` — a view over a buffer. `Packet::new_checked`
//!   validates every length the accessors rely on, so after it succeeds no
//!   accessor can panic. Mutable setters exist where `T: AsMut<[u8]>`.
//! * `Repr` — an owned, validated representation with `parse(&Packet)`,
//!   `buffer_len()` and `emit(&mut Packet)` (or `emit(&mut [u8])`).
//! * Protocol numbers are **open enums** (see [`open_enum!`](crate::open_enum)): unknown values
//!   are kept as `Unknown(n)` and round-trip unchanged.
//!
//! Nothing in here keeps state, touches a socket or reads the clock. A
//! malformed packet is an [`Error`] value, never a panic.

mod ct;
pub mod dhcpv6;
pub mod ethernet;
pub mod ipv6;
pub mod l2tp;
pub mod ppp;
pub mod pppoe;
pub mod radius;

pub use ct::ct_eq;

/// Why a buffer could not be parsed or emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a field or a declared length does.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// Which structure was cut short.
        what: &'static str,
        /// Bytes the structure needs.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A field holds a value the protocol forbids.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A well-formed packet uses a feature this implementation does not handle.
    #[error("unsupported {0}")]
    Unsupported(&'static str),
    /// The output buffer is too small for the representation being emitted.
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

/// Result alias for wire parsing and emitting.
pub type Result<T> = core::result::Result<T, Error>;

/// Returns [`Error::Truncated`] unless `buf` holds at least `need` bytes.
#[inline]
pub fn ensure_len(what: &'static str, buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            what,
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Returns [`Error::BufferTooSmall`] unless `buf` can hold `need` bytes.
#[inline]
pub fn ensure_room(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::BufferTooSmall {
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Declares an open enum over an integer type: named variants for the values
/// a protocol defines plus `Unknown(n)` for every other value, with lossless
/// `From` conversions both ways, so unknown codes round-trip.
///
/// ```
/// tunnelnas::open_enum! {
///     /// Example codes.
///     pub enum Code(u8) {
///         /// One.
///         One = 1,
///         /// Two.
///         Two = 2,
///     }
/// }
/// assert_eq!(Code::from(2), Code::Two);
/// assert_eq!(u8::from(Code::Unknown(9)), 9);
/// ```
#[macro_export]
macro_rules! open_enum {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident($ty:ty) {
            $( $(#[$vattr:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vattr])* $variant, )+
            /// A value this implementation has no name for; kept verbatim.
            Unknown($ty),
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( v if v == $value => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
