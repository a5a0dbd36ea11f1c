//! RADIUS dictionaries in FreeRADIUS (version 3) format, loaded at run time
//! to give attributes, values and vendors their names in logs and in
//! configuration that names attributes.
//!
//! The format (as FreeRADIUS 3 reads it; see `dictionaries/` in the
//! repository for tunnelnas's own files, written from the RFCs):
//!
//! ```text
//! # comment (also after fields)
//! ATTRIBUTE    <name> <number> <type>[<[len]>] [<flags> | <vendor-name>]
//! VALUE        <attribute-name> <value-name> <number>
//! VENDOR       <name> <number> [format=<type-len>,<length-len>[,c]]
//! BEGIN-VENDOR <name> [format=...]      ...   END-VENDOR <name>
//! BEGIN-TLV    <attribute-name>         ...   END-TLV <attribute-name>
//! $INCLUDE     <path>     (relative to the including file)
//! $INCLUDE-    <path>     (the same, silently skipped when absent)
//! ```
//!
//! Types: string, octets, ipaddr, ipv4prefix, ipv6addr, ipv6prefix, ifid,
//! integer, short, byte, signed, integer64, date, ether, abinary, tlv, vsa,
//! extended, long-extended, evs, combo-ip (and the uint8/16/32/64 spellings).
//! Flags: `has_tag` (RFC 2868 §3), `encrypt=1` (RFC 2865 §5.2),
//! `encrypt=2` (RFC 2868 §3.5), `encrypt=3` (Ascend secret), `array`,
//! `concat`, `virtual`, `secret`.
//!
//! Like FreeRADIUS, names are case-insensitive; a second name for the same
//! number is an alias (lookups by number keep the first name); a redefinition
//! of a name with a different number, type or flags is an error. Every error
//! names the file, the line and what was expected there.
//!
//! This file has the definitions and the lookups; `loader` reads the files.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod loader;

use loader::{Loader, normalize};

/// How deep `$INCLUDE` may nest (FreeRADIUS's tree nests 3 deep).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Largest dictionary file read, to keep a bad path from eating memory.
pub const MAX_FILE_LEN: usize = 4 << 20;

/// Data type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttributeType {
    /// Printable text (RFC 8044 "text"/"string").
    String,
    /// Opaque octets.
    Octets,
    /// IPv4 address.
    IpAddr,
    /// IPv4 prefix (RFC 6572).
    Ipv4Prefix,
    /// IPv6 address.
    Ipv6Addr,
    /// IPv6 prefix (RFC 3162 §2.3).
    Ipv6Prefix,
    /// 64-bit interface identifier (RFC 3162 §2.2).
    IfId,
    /// 32-bit unsigned integer.
    Integer,
    /// 16-bit unsigned integer.
    Short,
    /// 8-bit unsigned integer.
    Byte,
    /// 32-bit signed integer.
    Signed,
    /// 64-bit unsigned integer.
    Integer64,
    /// Seconds since the epoch, 32 bits.
    Date,
    /// 48-bit Ethernet address.
    Ether,
    /// Ascend binary filter.
    Abinary,
    /// Type-length-value container.
    Tlv,
    /// Vendor-Specific container.
    Vsa,
    /// RFC 6929 Extended-Type container.
    Extended,
    /// RFC 6929 Long-Extended-Type container.
    LongExtended,
    /// RFC 6929 Extended-Vendor-Specific container.
    Evs,
    /// IPv4 or IPv6 address, by length.
    ComboIp,
}

impl AttributeType {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "string" => Self::String,
            "octets" => Self::Octets,
            "ipaddr" => Self::IpAddr,
            "ipv4prefix" => Self::Ipv4Prefix,
            "ipv6addr" => Self::Ipv6Addr,
            "ipv6prefix" => Self::Ipv6Prefix,
            "ifid" => Self::IfId,
            "integer" | "uint32" => Self::Integer,
            "short" | "uint16" => Self::Short,
            "byte" | "uint8" => Self::Byte,
            "signed" | "int32" => Self::Signed,
            "integer64" | "uint64" => Self::Integer64,
            "date" => Self::Date,
            "ether" => Self::Ether,
            "abinary" => Self::Abinary,
            "tlv" => Self::Tlv,
            "vsa" => Self::Vsa,
            "extended" => Self::Extended,
            "long-extended" => Self::LongExtended,
            "evs" => Self::Evs,
            "combo-ip" => Self::ComboIp,
            _ => return None,
        })
    }

    /// True for the integer types whose values VALUE lines name.
    #[must_use]
    pub const fn is_integer(self) -> bool {
        matches!(
            self,
            Self::Integer | Self::Short | Self::Byte | Self::Signed | Self::Integer64 | Self::Date
        )
    }
}

/// How an attribute's value is hidden on the wire (`encrypt=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// `encrypt=1`: RFC 2865 §5.2 User-Password hiding.
    UserPassword,
    /// `encrypt=2`: RFC 2868 §3.5 salted hiding (Tunnel-Password, MS-MPPE
    /// keys).
    TunnelPassword,
    /// `encrypt=3`: Ascend's secret hiding.
    AscendSecret,
}

/// Flags of an ATTRIBUTE line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AttributeFlags {
    /// RFC 2868 tag octet.
    pub has_tag: bool,
    /// Value hiding.
    pub encrypt: Option<Encryption>,
    /// Several values packed into one attribute.
    pub array: bool,
    /// A long value split over several consecutive attributes.
    pub concat: bool,
    /// Server-internal, never on the wire.
    pub is_virtual: bool,
    /// Sensitive: not to be logged.
    pub secret: bool,
}

/// Where a definition was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One attribute definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    /// Name as written (lookups are case-insensitive).
    pub name: String,
    /// Vendor id, 0 for standard attributes.
    pub vendor: u32,
    /// Attribute number (for a TLV member: its number inside the parent).
    pub code: u32,
    /// Numbers of the enclosing TLVs / extended parents, outermost first;
    /// empty for an ordinary attribute.
    pub parents: Vec<u32>,
    /// Data type.
    pub ty: AttributeType,
    /// Fixed length from `octets[N]` / `string[N]`.
    pub fixed_len: Option<usize>,
    /// Flags.
    pub flags: AttributeFlags,
    /// Where it was defined.
    pub location: Location,
    values_by_name: HashMap<String, u64>,
    names_by_value: HashMap<u64, String>,
}

impl AttributeDef {
    /// The number a VALUE name stands for (case-insensitive).
    #[must_use]
    pub fn value(&self, name: &str) -> Option<u64> {
        self.values_by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// The (first) VALUE name for a number.
    #[must_use]
    pub fn value_name(&self, number: u64) -> Option<&str> {
        self.names_by_value.get(&number).map(String::as_str)
    }

    /// How many distinct VALUE names the attribute has.
    #[must_use]
    pub fn value_count(&self) -> usize {
        self.values_by_name.len()
    }

    fn same_definition(&self, other: &Self) -> bool {
        self.vendor == other.vendor
            && self.code == other.code
            && self.parents == other.parents
            && self.ty == other.ty
            && self.fixed_len == other.fixed_len
            && self.flags == other.flags
    }
}

/// Sizes of a vendor's sub-attribute type and length fields (`format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VendorFormat {
    /// Octets of the vendor type field: 1, 2 or 4.
    pub type_len: u8,
    /// Octets of the length field: 0, 1 or 2.
    pub length_len: u8,
    /// WiMAX-style continuation octet.
    pub continuation: bool,
}

impl Default for VendorFormat {
    /// RFC 2865 §5.26's recommended format: 1-octet type, 1-octet length.
    fn default() -> Self {
        Self {
            type_len: 1,
            length_len: 1,
            continuation: false,
        }
    }
}

/// One vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorDef {
    /// Name as written.
    pub name: String,
    /// SMI Private Enterprise Number.
    pub id: u32,
    /// Sub-attribute format.
    pub format: VendorFormat,
    /// Where it was defined.
    pub location: Location,
}

/// A loaded dictionary.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    attributes: Vec<AttributeDef>,
    attribute_by_name: HashMap<String, usize>,
    attribute_by_code: HashMap<(u32, Vec<u32>, u32), usize>,
    vendors: Vec<VendorDef>,
    vendor_by_name: HashMap<String, usize>,
    vendor_by_id: HashMap<u32, usize>,
}

/// A dictionary error: where, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {kind}", file.display())]
pub struct DictionaryError {
    /// The file being read.
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the whole file (it could not
    /// be read, or a block is still open at its end).
    pub line: usize,
    /// What was wrong.
    pub kind: DictionaryErrorKind,
}

/// What went wrong, and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DictionaryErrorKind {
    /// The file could not be read.
    #[error("cannot read dictionary file: {0}")]
    Io(#[source] std::io::Error),
    /// The file is larger than [`MAX_FILE_LEN`].
    #[error("dictionary file larger than {MAX_FILE_LEN} bytes")]
    TooLarge,
    /// A line starts with an unknown keyword.
    #[error(
        "unknown keyword {0:?}, expected ATTRIBUTE, VALUE, VENDOR, BEGIN-VENDOR, END-VENDOR, BEGIN-TLV, END-TLV or $INCLUDE"
    )]
    UnknownKeyword(String),
    /// Too few or too many fields.
    #[error("{keyword} takes {expected}, found {found} field(s)")]
    FieldCount {
        /// The keyword.
        keyword: &'static str,
        /// The expected fields.
        expected: &'static str,
        /// Fields after the keyword.
        found: usize,
    },
    /// A number field does not parse.
    #[error("{field} {value:?} is not a valid number, expected {expected}")]
    BadNumber {
        /// Which field.
        field: &'static str,
        /// The text.
        value: String,
        /// What would have been valid.
        expected: &'static str,
    },
    /// Unknown data type.
    #[error(
        "unknown attribute type {0:?}, expected string, octets, ipaddr, ipv4prefix, ipv6addr, ipv6prefix, ifid, integer, short, byte, signed, integer64, date, ether, abinary, tlv, vsa, extended, long-extended, evs or combo-ip"
    )]
    UnknownType(String),
    /// Unknown flag.
    #[error(
        "unknown flag {0:?}, expected has_tag, encrypt=1|2|3, array, concat, virtual, secret or a vendor name"
    )]
    UnknownFlag(String),
    /// A flag that does not fit the attribute.
    #[error("flag {flag} not allowed here: {why}")]
    FlagNotAllowed {
        /// The flag.
        flag: &'static str,
        /// Why.
        why: &'static str,
    },
    /// `format=` of VENDOR / BEGIN-VENDOR is wrong.
    #[error("bad vendor format {0:?}, expected format=T,L[,c] with T in 1,2,4 and L in 0,1,2")]
    BadVendorFormat(String),
    /// A name refers to a vendor not defined (yet).
    #[error("unknown vendor {0:?}, expected a VENDOR line before it")]
    UnknownVendor(String),
    /// A VALUE / BEGIN-TLV names an undefined attribute.
    #[error("unknown attribute {0:?}, expected an ATTRIBUTE line defining it")]
    UnknownAttribute(String),
    /// A name is defined again differently.
    #[error("{what} {name:?} conflicts with its definition at {previous}")]
    Conflict {
        /// "attribute", "value", "vendor".
        what: &'static str,
        /// The name.
        name: String,
        /// Where it was first defined.
        previous: String,
    },
    /// A number outside what the vendor format or type allows.
    #[error("{field} {value} out of range, expected at most {max}")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The value.
        value: u64,
        /// Largest allowed.
        max: u64,
    },
    /// BEGIN-VENDOR / BEGIN-TLV inside a block where it is not allowed.
    #[error("{0} inside an open block, expected the matching END first")]
    NestedBlock(&'static str),
    /// END-* that does not match the open block.
    #[error("{keyword} {found:?} does not close the open block, expected {expected:?}")]
    BlockMismatch {
        /// END-VENDOR or END-TLV.
        keyword: &'static str,
        /// The name found.
        found: String,
        /// The open block's name (empty when none is open).
        expected: String,
    },
    /// A block still open at the end of a file.
    #[error("{keyword} {name:?} is never closed in this file")]
    UnclosedBlock {
        /// BEGIN-VENDOR or BEGIN-TLV.
        keyword: &'static str,
        /// Its name.
        name: String,
    },
    /// `$INCLUDE` nested more than [`MAX_INCLUDE_DEPTH`] deep.
    #[error("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}")]
    IncludeDepth,
    /// `$INCLUDE` of a file that is already being read.
    #[error("$INCLUDE cycle: {0} is already being read")]
    IncludeCycle(String),
}

/// The files of `dictionaries/`, embedded for [`Dictionary::builtin`].
const BUILTIN_FILES: &[(&str, &str)] = &[
    ("dictionary", include_str!("../../dictionaries/dictionary")),
    (
        "dictionary.rfc2865",
        include_str!("../../dictionaries/dictionary.rfc2865"),
    ),
    (
        "dictionary.rfc2866",
        include_str!("../../dictionaries/dictionary.rfc2866"),
    ),
    (
        "dictionary.rfc2867",
        include_str!("../../dictionaries/dictionary.rfc2867"),
    ),
    (
        "dictionary.rfc2868",
        include_str!("../../dictionaries/dictionary.rfc2868"),
    ),
    (
        "dictionary.rfc2869",
        include_str!("../../dictionaries/dictionary.rfc2869"),
    ),
    (
        "dictionary.rfc3162",
        include_str!("../../dictionaries/dictionary.rfc3162"),
    ),
    (
        "dictionary.rfc4603",
        include_str!("../../dictionaries/dictionary.rfc4603"),
    ),
    (
        "dictionary.rfc4679",
        include_str!("../../dictionaries/dictionary.rfc4679"),
    ),
    (
        "dictionary.rfc5176",
        include_str!("../../dictionaries/dictionary.rfc5176"),
    ),
    (
        "dictionary.microsoft",
        include_str!("../../dictionaries/dictionary.microsoft"),
    ),
    (
        "dictionary.cisco",
        include_str!("../../dictionaries/dictionary.cisco"),
    ),
    (
        "dictionary.mikrotik",
        include_str!("../../dictionaries/dictionary.mikrotik"),
    ),
    (
        "dictionary.tunnelnas",
        include_str!("../../dictionaries/dictionary.tunnelnas"),
    ),
];

impl Dictionary {
    /// Loads a dictionary file and everything it `$INCLUDE`s.
    ///
    /// # Errors
    /// A [`DictionaryError`] naming the file and line.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DictionaryError> {
        let mut read = |p: &Path| -> std::io::Result<String> {
            let meta = std::fs::metadata(p)?;
            if meta.len() > MAX_FILE_LEN as u64 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "dictionary file too large",
                ));
            }
            let bytes = std::fs::read(p)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        Self::load_with(path.as_ref(), &mut read)
    }

    /// Loads with a caller-supplied file reader (tests, fuzzing, embedded
    /// dictionaries). Paths are joined and normalised lexically.
    ///
    /// # Errors
    /// A [`DictionaryError`] naming the file and line.
    pub fn load_with(
        path: &Path,
        read: &mut dyn FnMut(&Path) -> std::io::Result<String>,
    ) -> Result<Self, DictionaryError> {
        let mut loader = Loader {
            read,
            dict: Self::default(),
            reading: Vec::new(),
            pending_values: Vec::new(),
        };
        loader.file(&normalize(path), false)?;
        for pending in std::mem::take(&mut loader.pending_values) {
            loader.add_value(pending)?;
        }
        Ok(loader.dict)
    }

    /// The dictionaries shipped in `dictionaries/`, compiled into the binary:
    /// what tunnelnas uses when `[radius] dictionary` is not set.
    ///
    /// # Errors
    /// Only if the shipped files are broken (a test guards against that).
    pub fn builtin() -> Result<Self, DictionaryError> {
        Self::load_with(Path::new("builtin/dictionary"), &mut |p: &Path| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            BUILTIN_FILES
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, text)| (*text).to_owned())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{name} is not among the built-in dictionaries"),
                    )
                })
        })
    }

    /// An attribute by name (case-insensitive).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attribute_by_name
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.attributes[i])
    }

    /// A top-level attribute by vendor (0 = standard) and number.
    #[must_use]
    pub fn attribute_by_code(&self, vendor: u32, code: u32) -> Option<&AttributeDef> {
        self.attribute_by_code
            .get(&(vendor, Vec::new(), code))
            .map(|&i| &self.attributes[i])
    }

    /// A TLV member by vendor, parent numbers (outermost first) and number.
    #[must_use]
    pub fn tlv_member(&self, vendor: u32, parents: &[u32], code: u32) -> Option<&AttributeDef> {
        self.attribute_by_code
            .get(&(vendor, parents.to_vec(), code))
            .map(|&i| &self.attributes[i])
    }

    /// The value number of `value` for attribute `attribute` (both names).
    #[must_use]
    pub fn value(&self, attribute: &str, value: &str) -> Option<u64> {
        self.attribute(attribute)?.value(value)
    }

    /// The value name of `number` for attribute `attribute`.
    #[must_use]
    pub fn value_name(&self, attribute: &str, number: u64) -> Option<&str> {
        self.attribute(attribute)?.value_name(number)
    }

    /// A vendor by name (case-insensitive).
    #[must_use]
    pub fn vendor(&self, name: &str) -> Option<&VendorDef> {
        self.vendor_by_name
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.vendors[i])
    }

    /// A vendor by enterprise number.
    #[must_use]
    pub fn vendor_by_id(&self, id: u32) -> Option<&VendorDef> {
        self.vendor_by_id.get(&id).map(|&i| &self.vendors[i])
    }

    /// Every attribute, in definition order.
    pub fn attributes(&self) -> impl Iterator<Item = &AttributeDef> {
        self.attributes.iter()
    }

    /// Every vendor, in definition order.
    pub fn vendors(&self) -> impl Iterator<Item = &VendorDef> {
        self.vendors.iter()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_matches_the_shipped_files() {
        let builtin = Dictionary::builtin().expect("built-in dictionaries load");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dictionaries");
        let on_disk = Dictionary::load(dir.join("dictionary")).expect("dictionaries/ loads");
        assert_eq!(builtin.attributes().count(), on_disk.attributes().count());
        assert_eq!(builtin.vendors().count(), on_disk.vendors().count());
        let shipped = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("dictionary")
            })
            .count();
        assert_eq!(
            shipped,
            BUILTIN_FILES.len(),
            "embed every file of dictionaries/"
        );
        let tp = builtin.attribute("Tunnel-Password").unwrap();
        assert_eq!(tp.code, 69);
    }

    use super::*;

    fn repo_dictionary() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dictionaries/dictionary")
    }

    /// Loads in-memory files: `files` maps a path to its text.
    fn load_mem(files: &[(&str, &str)]) -> Result<Dictionary, DictionaryError> {
        let map: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect();
        let mut read = |p: &Path| {
            map.get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        Dictionary::load_with(Path::new(files[0].0), &mut read)
    }

    fn kind_of(text: &str) -> (usize, DictionaryErrorKind) {
        let e = load_mem(&[("/d/dictionary", text)]).unwrap_err();
        assert_eq!(e.file, Path::new("/d/dictionary"));
        (e.line, e.kind)
    }

    #[test]
    fn loads_the_tunnelnas_dictionaries() {
        let d = Dictionary::load(repo_dictionary()).unwrap();
        let tp = d.attribute("tunnel-password").unwrap();
        assert_eq!((tp.vendor, tp.code), (0, 69));
        assert!(tp.flags.has_tag);
        assert_eq!(tp.flags.encrypt, Some(Encryption::TunnelPassword));
        assert_eq!(d.attribute_by_code(0, 69).unwrap().name, "Tunnel-Password");
        let circuit = d.attribute("ADSL-Agent-Circuit-Id").unwrap();
        assert_eq!((circuit.vendor, circuit.code), (3561, 1));
        assert_eq!(d.vendor_by_id(3561).unwrap().name, "ADSL-Forum");
        assert_eq!(d.vendor("tunnelnas").unwrap().id, 32473);
        assert_eq!(
            d.attribute_by_code(32473, 2).unwrap().name,
            "Tunnelnas-Rate-Limit-Down"
        );
        assert_eq!(d.value("Tunnel-Type", "L2TP"), Some(3));
        assert_eq!(d.value_name("Tunnel-Medium-Type", 2), Some("IPv6"));
        assert_eq!(
            d.value_name("Acct-Status-Type", 12),
            Some("Tunnel-Link-Start")
        );
        assert_eq!(d.value("NAS-Port-Type", "pppoeoe"), Some(32));
        assert_eq!(
            d.value("Error-Cause", "Session-Context-Not-Found"),
            Some(503)
        );
        assert_eq!(d.value("Service-Type", "Framed-User"), Some(2));
        assert_eq!(d.value("Framed-Protocol", "PPP"), Some(1));
        assert_eq!(d.value("Acct-Terminate-Cause", "Lost-Carrier"), Some(2));
        let key = d.attribute("MS-MPPE-Send-Key").unwrap();
        assert_eq!(
            (key.vendor, key.code, key.flags.encrypt),
            (311, 16, Some(Encryption::TunnelPassword))
        );
        assert_eq!(
            d.attribute("MS-CHAP2-Response").unwrap().fixed_len,
            Some(50)
        );
        assert_eq!(
            d.attribute("User-Password").unwrap().flags.encrypt,
            Some(Encryption::UserPassword)
        );
        assert_eq!(
            d.attribute("Framed-IPv6-Prefix").unwrap().ty,
            AttributeType::Ipv6Prefix
        );
        assert_eq!(
            d.attribute("Event-Timestamp").unwrap().ty,
            AttributeType::Date
        );
        assert_eq!(d.attribute_by_code(9, 1).unwrap().name, "Cisco-AVPair");
        assert_eq!(
            d.attribute_by_code(14988, 8).unwrap().name,
            "Mikrotik-Rate-Limit"
        );
        // Every attribute tunnelnas's wire code names has a definition.
        use crate::wire::radius::attr;
        for code in [
            attr::USER_NAME,
            attr::USER_PASSWORD,
            attr::CHAP_PASSWORD,
            attr::NAS_IP_ADDRESS,
            attr::NAS_PORT,
            attr::SERVICE_TYPE,
            attr::FRAMED_PROTOCOL,
            attr::FRAMED_IP_ADDRESS,
            attr::REPLY_MESSAGE,
            attr::STATE,
            attr::CLASS,
            attr::VENDOR_SPECIFIC,
            attr::SESSION_TIMEOUT,
            attr::CALLING_STATION_ID,
            attr::NAS_IDENTIFIER,
            attr::PROXY_STATE,
            attr::CHAP_CHALLENGE,
            attr::NAS_PORT_TYPE,
            attr::ACCT_STATUS_TYPE,
            attr::ACCT_SESSION_ID,
            attr::ACCT_TERMINATE_CAUSE,
            attr::ACCT_TUNNEL_CONNECTION,
            attr::TUNNEL_TYPE,
            attr::TUNNEL_MEDIUM_TYPE,
            attr::TUNNEL_CLIENT_ENDPOINT,
            attr::TUNNEL_SERVER_ENDPOINT,
            attr::TUNNEL_PASSWORD,
            attr::TUNNEL_PRIVATE_GROUP_ID,
            attr::TUNNEL_ASSIGNMENT_ID,
            attr::TUNNEL_PREFERENCE,
            attr::TUNNEL_CLIENT_AUTH_ID,
            attr::TUNNEL_SERVER_AUTH_ID,
            attr::EAP_MESSAGE,
            attr::MESSAGE_AUTHENTICATOR,
            attr::NAS_PORT_ID,
            attr::FRAMED_INTERFACE_ID,
            attr::FRAMED_IPV6_PREFIX,
            attr::ERROR_CAUSE,
        ] {
            let def = d
                .attribute_by_code(0, u32::from(code))
                .unwrap_or_else(|| panic!("{code}"));
            let tagged = crate::wire::radius::tag_layout(code).is_some();
            assert_eq!(def.flags.has_tag, tagged, "{}", def.name);
        }
    }

    /// FreeRADIUS's own dictionaries load, and every definition in
    /// tunnelnas's files agrees with FreeRADIUS's on type and flags — the
    /// property that lets FreeRADIUS `$INCLUDE` them.
    #[test]
    fn reads_real_freeradius_dictionaries_and_agrees_with_them() {
        let root = Path::new("/usr/share/freeradius/dictionary");
        if !root.exists() {
            eprintln!("skipped: FreeRADIUS dictionaries not installed");
            return;
        }
        let fr = Dictionary::load(root).unwrap();
        assert_eq!(fr.attribute("User-Name").unwrap().code, 1);
        assert!(fr.attributes().count() > 5000);
        let ours = Dictionary::load(repo_dictionary()).unwrap();
        for def in ours.attributes() {
            let Some(theirs) = fr.attribute_by_code(def.vendor, def.code) else {
                assert_eq!(def.vendor, 32473, "{} missing from FreeRADIUS", def.name);
                continue;
            };
            assert_eq!(
                (def.ty, def.flags, def.fixed_len),
                (theirs.ty, theirs.flags, theirs.fixed_len),
                "{}",
                def.name
            );
            if let Some(same_name) = fr.attribute(&def.name) {
                assert_eq!(
                    (same_name.vendor, same_name.code),
                    (def.vendor, def.code),
                    "{}",
                    def.name
                );
            }
        }
        for vendor in ours.vendors() {
            if let Some(theirs) = fr.vendor(&vendor.name) {
                assert_eq!(theirs.id, vendor.id);
            }
        }
        for file in [
            "dictionary.rfc2865",
            "dictionary.rfc2868",
            "dictionary.microsoft",
        ] {
            Dictionary::load(Path::new("/usr/share/freeradius").join(file)).unwrap();
        }
    }

    #[test]
    fn vendor_blocks_tlvs_flags_and_aliases() {
        let d = load_mem(&[(
            "/d/dictionary",
            "VENDOR Acme 0x10 format=2,1 # comment\n\
                 BEGIN-VENDOR Acme\n\
                 ATTRIBUTE Acme-Big 300 integer\n\
                 ATTRIBUTE Acme-Tlv 2 tlv\n\
                 BEGIN-TLV Acme-Tlv\n\
                 ATTRIBUTE Acme-Inner 1 octets[4] array\n\
                 END-TLV Acme-Tlv\n\
                 END-VENDOR Acme\n\
                 VENDOR Other 77\n\
                 ATTRIBUTE Old-Style 5 string Other\n\
                 ATTRIBUTE Ext-1 241.1 integer64\n\
                 ATTRIBUTE Secret-Thing 7 octets encrypt=3,secret,concat\n\
                 ATTRIBUTE Alias-Of-Seven 7 octets\n\
                 VALUE Acme-Big Later 0x10\n\
                 VALUE Acme-Big Later 16\n\
                 VALUE Acme-Big Also-16 16\n",
        )])
        .unwrap();
        assert_eq!(d.vendor_by_id(16).unwrap().format.type_len, 2);
        assert_eq!(d.attribute_by_code(16, 300).unwrap().name, "Acme-Big");
        let inner = d.tlv_member(16, &[2], 1).unwrap();
        assert_eq!((inner.fixed_len, inner.flags.array), (Some(4), true));
        assert_eq!(d.attribute("old-style").unwrap().vendor, 77);
        assert_eq!(
            d.tlv_member(0, &[241], 1).unwrap().ty,
            AttributeType::Integer64
        );
        let secret = d.attribute("Secret-Thing").unwrap();
        assert!(secret.flags.secret && secret.flags.concat);
        assert_eq!(secret.flags.encrypt, Some(Encryption::AscendSecret));
        assert_eq!(d.attribute_by_code(0, 7).unwrap().name, "Secret-Thing");
        assert_eq!(d.attribute("Alias-Of-Seven").unwrap().code, 7);
        assert_eq!(d.value("Acme-Big", "also-16"), Some(16));
        assert_eq!(d.value_name("Acme-Big", 16), Some("Later"));
    }

    #[test]
    fn includes_are_relative_optional_and_cycle_checked() {
        let d = load_mem(&[
            (
                "/d/dictionary",
                "$INCLUDE sub/dictionary.a\n$INCLUDE- missing\n",
            ),
            (
                "/d/sub/dictionary.a",
                "$INCLUDE ../dictionary.b\nATTRIBUTE A 1 string\n",
            ),
            ("/d/dictionary.b", "ATTRIBUTE B 2 string\n"),
        ])
        .unwrap();
        assert!(d.attribute("A").is_some() && d.attribute("B").is_some());

        let e = load_mem(&[
            ("/d/dictionary", "\n$INCLUDE dictionary.a\n"),
            ("/d/dictionary.a", "$INCLUDE ./dictionary\n"),
        ])
        .unwrap_err();
        assert!(
            matches!(e.kind, DictionaryErrorKind::IncludeCycle(_)),
            "{e}"
        );
        assert_eq!(
            (e.file.as_path(), e.line),
            (Path::new("/d/dictionary.a"), 1)
        );

        let e = load_mem(&[("/d/dictionary", "$INCLUDE nope\n")]).unwrap_err();
        assert!(matches!(e.kind, DictionaryErrorKind::Io(_)));
        assert_eq!(e.file, Path::new("/d/nope"));

        // Depth: a chain of 20 distinct files.
        let names: Vec<String> = (0..20).map(|i| format!("/d/f{i}")).collect();
        let texts: Vec<String> = (0..20).map(|i| format!("$INCLUDE f{}\n", i + 1)).collect();
        let files: Vec<(&str, &str)> = names
            .iter()
            .map(String::as_str)
            .zip(texts.iter().map(String::as_str))
            .collect();
        let e = load_mem(&files).unwrap_err();
        assert!(matches!(e.kind, DictionaryErrorKind::IncludeDepth), "{e}");
        assert!(e.line > 0);
    }

    #[test]
    fn every_error_kind_names_file_line_and_expectation() {
        use DictionaryErrorKind as K;
        type Case = (&'static str, usize, fn(&K) -> bool);
        let cases: &[Case] = &[
            ("FOO bar\n", 1, |k| matches!(k, K::UnknownKeyword(_))),
            ("\nATTRIBUTE X 1\n", 2, |k| {
                matches!(
                    k,
                    K::FieldCount {
                        keyword: "ATTRIBUTE",
                        ..
                    }
                )
            }),
            ("ATTRIBUTE X one string\n", 1, |k| {
                matches!(k, K::BadNumber { .. })
            }),
            ("ATTRIBUTE X 1 float\n", 1, |k| {
                matches!(k, K::UnknownType(_))
            }),
            ("ATTRIBUTE X 1 string shiny\n", 1, |k| {
                matches!(k, K::UnknownFlag(_))
            }),
            ("ATTRIBUTE X 1 ipaddr has_tag\n", 1, |k| {
                matches!(k, K::FlagNotAllowed { .. })
            }),
            ("ATTRIBUTE X 1 string encrypt=9\n", 1, |k| {
                matches!(k, K::UnknownFlag(_))
            }),
            ("ATTRIBUTE X 1 integer[4]\n", 1, |k| {
                matches!(k, K::FlagNotAllowed { .. })
            }),
            ("ATTRIBUTE X 1 octets[0]\n", 1, |k| {
                matches!(k, K::OutOfRange { .. })
            }),
            (
                "VENDOR V 9\nBEGIN-VENDOR V\nATTRIBUTE X 256 string\n",
                3,
                |k| matches!(k, K::OutOfRange { .. }),
            ),
            ("VENDOR V 9 format=3,1\n", 1, |k| {
                matches!(k, K::BadVendorFormat(_))
            }),
            ("VENDOR V 99999999999\n", 1, |k| {
                matches!(k, K::OutOfRange { .. })
            }),
            ("BEGIN-VENDOR Nobody\n", 1, |k| {
                matches!(k, K::UnknownVendor(_))
            }),
            ("VENDOR V 9\nBEGIN-VENDOR V\nBEGIN-VENDOR V\n", 3, |k| {
                matches!(k, K::NestedBlock(_))
            }),
            (
                "VENDOR V 9\nVENDOR W 8\nBEGIN-VENDOR V\nEND-VENDOR W\n",
                4,
                |k| matches!(k, K::BlockMismatch { .. }),
            ),
            ("END-TLV T\n", 1, |k| matches!(k, K::BlockMismatch { .. })),
            ("VENDOR V 9\nBEGIN-VENDOR V\n", 0, |k| {
                matches!(k, K::UnclosedBlock { .. })
            }),
            ("ATTRIBUTE X 1 string\nBEGIN-TLV X\n", 2, |k| {
                matches!(k, K::FlagNotAllowed { .. })
            }),
            ("BEGIN-TLV Nothing\n", 1, |k| {
                matches!(k, K::UnknownAttribute(_))
            }),
            ("VALUE Nothing A 1\n", 1, |k| {
                matches!(k, K::UnknownAttribute(_))
            }),
            (
                "ATTRIBUTE X 1 integer\nVALUE X A 1\nVALUE X a 2\n",
                3,
                |k| matches!(k, K::Conflict { what: "value", .. }),
            ),
            ("ATTRIBUTE X 1 integer\nATTRIBUTE x 2 integer\n", 2, |k| {
                matches!(
                    k,
                    K::Conflict {
                        what: "attribute",
                        ..
                    }
                )
            }),
            ("ATTRIBUTE X 1 integer\nATTRIBUTE X 1 string\n", 2, |k| {
                matches!(k, K::Conflict { .. })
            }),
            ("VENDOR V 9\nVENDOR V 10\n", 2, |k| {
                matches!(k, K::Conflict { what: "vendor", .. })
            }),
            ("VALUE X A nine\n", 1, |k| matches!(k, K::BadNumber { .. })),
            ("$INCLUDE\n", 1, |k| matches!(k, K::FieldCount { .. })),
        ];
        for (text, line, check) in cases {
            let (got_line, kind) = kind_of(text);
            assert!(check(&kind), "{text:?} gave {kind:?}");
            assert_eq!(got_line, *line, "{text:?}: {kind}");
            let shown = DictionaryError {
                file: "/d/dictionary".into(),
                line: got_line,
                kind,
            }
            .to_string();
            assert!(
                shown.starts_with(&format!("/d/dictionary:{got_line}: ")),
                "{shown}"
            );
        }
        let e = Dictionary::load("/nonexistent/dictionary").unwrap_err();
        assert!(
            e.to_string()
                .contains("/nonexistent/dictionary:0: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn identical_redefinitions_are_accepted() {
        let text = "ATTRIBUTE X 1 integer has_tag\nVALUE X A 1\nVENDOR V 9\n";
        load_mem(&[("/d/dictionary", &format!("{text}{text}"))]).unwrap();
    }
}
