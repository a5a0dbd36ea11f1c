//! The dictionary file reader: `$INCLUDE` handling (relative paths, depth
//! and cycle checks), the line parser for ATTRIBUTE, VALUE, VENDOR and the
//! BEGIN-/END- blocks, and the checks that turn a redefinition into an
//! error naming the file and line.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::{
    AttributeDef, AttributeFlags, AttributeType, Dictionary, DictionaryError, DictionaryErrorKind,
    Encryption, Location, MAX_FILE_LEN, MAX_INCLUDE_DEPTH, VendorDef, VendorFormat,
};

#[derive(Debug)]
enum Block {
    Vendor {
        id: u32,
        name: String,
    },
    Tlv {
        parents: Vec<u32>,
        vendor: u32,
        name: String,
    },
}

pub(super) struct PendingValue {
    attribute: String,
    name: String,
    number: u64,
    location: Location,
}

pub(super) struct Loader<'r> {
    pub(super) read: &'r mut dyn FnMut(&Path) -> std::io::Result<String>,
    pub(super) dict: Dictionary,
    pub(super) reading: Vec<PathBuf>,
    pub(super) pending_values: Vec<PendingValue>,
}

/// Joins `.` / `..` lexically (no filesystem access), for cycle detection.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn parse_number(
    field: &'static str,
    text: &str,
    expected: &'static str,
) -> Result<u64, DictionaryErrorKind> {
    let parsed = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else {
        text.parse::<u64>()
    };
    parsed.map_err(|_| DictionaryErrorKind::BadNumber {
        field,
        value: text.to_owned(),
        expected,
    })
}

fn parse_u32(
    field: &'static str,
    text: &str,
    expected: &'static str,
) -> Result<u32, DictionaryErrorKind> {
    let n = parse_number(field, text, expected)?;
    u32::try_from(n).map_err(|_| DictionaryErrorKind::OutOfRange {
        field,
        value: n,
        max: u64::from(u32::MAX),
    })
}

fn parse_format(text: &str) -> Result<VendorFormat, DictionaryErrorKind> {
    let bad = || DictionaryErrorKind::BadVendorFormat(text.to_owned());
    let spec = text.strip_prefix("format=").ok_or_else(bad)?;
    let parts: Vec<&str> = spec.split(',').collect();
    let (t, l, c) = match parts.as_slice() {
        [t, l] => (*t, *l, false),
        [t, l, "c"] => (*t, *l, true),
        _ => return Err(bad()),
    };
    let type_len = match t {
        "1" => 1,
        "2" => 2,
        "4" => 4,
        _ => return Err(bad()),
    };
    let length_len = match l {
        "0" => 0,
        "1" => 1,
        "2" => 2,
        _ => return Err(bad()),
    };
    if c && (type_len != 1 || length_len != 1) {
        return Err(bad());
    }
    Ok(VendorFormat {
        type_len,
        length_len,
        continuation: c,
    })
}

impl Loader<'_> {
    fn err(file: &Path, line: usize, kind: DictionaryErrorKind) -> DictionaryError {
        DictionaryError {
            file: file.to_path_buf(),
            line,
            kind,
        }
    }

    pub(super) fn file(&mut self, path: &Path, optional: bool) -> Result<(), DictionaryError> {
        if self.reading.len() >= MAX_INCLUDE_DEPTH {
            return Err(Self::err(path, 0, DictionaryErrorKind::IncludeDepth));
        }
        if self.reading.iter().any(|p| p == path) {
            return Err(Self::err(
                path,
                0,
                DictionaryErrorKind::IncludeCycle(path.display().to_string()),
            ));
        }
        let text = match (self.read)(path) {
            Ok(text) => text,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Self::err(path, 0, DictionaryErrorKind::Io(e))),
        };
        if text.len() > MAX_FILE_LEN {
            return Err(Self::err(path, 0, DictionaryErrorKind::TooLarge));
        }
        self.reading.push(path.to_path_buf());
        let mut blocks: Vec<Block> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("");
            let fields: Vec<&str> = content.split_whitespace().collect();
            let Some((&keyword, args)) = fields.split_first() else {
                continue;
            };
            let location = Location {
                file: path.to_path_buf(),
                line,
            };
            self.line(keyword, args, &location, &mut blocks)
                .map_err(|kind| match kind {
                    LineError::Kind(kind) => Self::err(path, line, kind),
                    LineError::Nested(e) => e,
                })?;
        }
        self.reading.pop();
        if let Some(block) = blocks.pop() {
            let (keyword, name) = match block {
                Block::Vendor { name, .. } => ("BEGIN-VENDOR", name),
                Block::Tlv { name, .. } => ("BEGIN-TLV", name),
            };
            return Err(Self::err(
                path,
                0,
                DictionaryErrorKind::UnclosedBlock { keyword, name },
            ));
        }
        Ok(())
    }

    fn line(
        &mut self,
        keyword: &str,
        args: &[&str],
        location: &Location,
        blocks: &mut Vec<Block>,
    ) -> Result<(), LineError> {
        let count = |keyword: &'static str, expected: &'static str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(DictionaryErrorKind::FieldCount {
                    keyword,
                    expected,
                    found: args.len(),
                })
            }
        };
        match keyword {
            "$INCLUDE" | "$INCLUDE-" => {
                count("$INCLUDE", "one path", args.len() == 1)?;
                let base = location.file.parent().unwrap_or_else(|| Path::new(""));
                let target = normalize(&base.join(args[0]));
                self.file(&target, keyword == "$INCLUDE-")
                    .map_err(|e| match e.kind {
                        // A cycle or depth overflow is reported at the
                        // $INCLUDE line that caused it.
                        DictionaryErrorKind::IncludeCycle(_)
                        | DictionaryErrorKind::IncludeDepth
                            if e.line == 0 =>
                        {
                            LineError::Kind(e.kind)
                        }
                        _ => LineError::Nested(e),
                    })?;
            }
            "VENDOR" => {
                count(
                    "VENDOR",
                    "<name> <number> [format=T,L[,c]]",
                    (2..=3).contains(&args.len()),
                )?;
                let id = parse_u32(
                    "vendor number",
                    args[1],
                    "a decimal or 0x-hex enterprise number",
                )?;
                let format = match args.get(2) {
                    Some(text) => parse_format(text)?,
                    None => VendorFormat::default(),
                };
                self.add_vendor(VendorDef {
                    name: args[0].to_owned(),
                    id,
                    format,
                    location: location.clone(),
                })?;
            }
            "BEGIN-VENDOR" => {
                count(
                    "BEGIN-VENDOR",
                    "<vendor-name> [format=...]",
                    (1..=2).contains(&args.len()),
                )?;
                if !blocks.is_empty() {
                    return Err(DictionaryErrorKind::NestedBlock("BEGIN-VENDOR").into());
                }
                let vendor = self
                    .dict
                    .vendor(args[0])
                    .ok_or_else(|| DictionaryErrorKind::UnknownVendor(args[0].to_owned()))?;
                blocks.push(Block::Vendor {
                    id: vendor.id,
                    name: args[0].to_owned(),
                });
            }
            "END-VENDOR" => {
                count("END-VENDOR", "<vendor-name>", args.len() == 1)?;
                match blocks.last() {
                    Some(Block::Vendor { name, .. }) if name.eq_ignore_ascii_case(args[0]) => {
                        blocks.pop();
                    }
                    other => {
                        return Err(DictionaryErrorKind::BlockMismatch {
                            keyword: "END-VENDOR",
                            found: args[0].to_owned(),
                            expected: block_name(other),
                        }
                        .into());
                    }
                }
            }
            "BEGIN-TLV" => {
                count("BEGIN-TLV", "<tlv-attribute-name>", args.len() == 1)?;
                let parent = self
                    .dict
                    .attribute(args[0])
                    .ok_or_else(|| DictionaryErrorKind::UnknownAttribute(args[0].to_owned()))?;
                if parent.ty != AttributeType::Tlv {
                    return Err(DictionaryErrorKind::FlagNotAllowed {
                        flag: "BEGIN-TLV",
                        why: "the attribute is not of type tlv",
                    }
                    .into());
                }
                let mut parents = parent.parents.clone();
                parents.push(parent.code);
                blocks.push(Block::Tlv {
                    parents,
                    vendor: parent.vendor,
                    name: args[0].to_owned(),
                });
            }
            "END-TLV" => {
                count("END-TLV", "<tlv-attribute-name>", args.len() == 1)?;
                match blocks.last() {
                    Some(Block::Tlv { name, .. }) if name.eq_ignore_ascii_case(args[0]) => {
                        blocks.pop();
                    }
                    other => {
                        return Err(DictionaryErrorKind::BlockMismatch {
                            keyword: "END-TLV",
                            found: args[0].to_owned(),
                            expected: block_name(other),
                        }
                        .into());
                    }
                }
            }
            "ATTRIBUTE" => {
                count(
                    "ATTRIBUTE",
                    "<name> <number> <type> [flags]",
                    (3..=4).contains(&args.len()),
                )?;
                let attribute = self.attribute_line(args, location, blocks)?;
                self.add_attribute(attribute)?;
            }
            "VALUE" => {
                count(
                    "VALUE",
                    "<attribute-name> <value-name> <number>",
                    args.len() == 3,
                )?;
                let number = parse_number("VALUE number", args[2], "a decimal or 0x-hex integer")?;
                self.pending_values.push(PendingValue {
                    attribute: args[0].to_owned(),
                    name: args[1].to_owned(),
                    number,
                    location: location.clone(),
                });
            }
            other => return Err(DictionaryErrorKind::UnknownKeyword(other.to_owned()).into()),
        }
        Ok(())
    }

    fn attribute_line(
        &self,
        args: &[&str],
        location: &Location,
        blocks: &[Block],
    ) -> Result<AttributeDef, DictionaryErrorKind> {
        let (mut vendor, mut parents) = match blocks.last() {
            Some(Block::Vendor { id, .. }) => (*id, Vec::new()),
            Some(Block::Tlv {
                parents, vendor, ..
            }) => (*vendor, parents.clone()),
            None => (0, Vec::new()),
        };
        // Dotted numbers (e.g. 241.1, 255.2) name a member of a parent.
        let mut numbers = Vec::new();
        for part in args[1].split('.') {
            numbers.push(parse_u32(
                "attribute number",
                part,
                "a decimal or 0x-hex number, or dotted numbers",
            )?);
        }
        let Some(code) = numbers.pop() else {
            return Err(DictionaryErrorKind::BadNumber {
                field: "attribute number",
                value: args[1].to_owned(),
                expected: "a number",
            });
        };
        parents.extend(numbers);

        let (type_word, fixed_len) = match args[2].split_once('[') {
            Some((word, rest)) => {
                let len = rest
                    .strip_suffix(']')
                    .ok_or_else(|| DictionaryErrorKind::BadNumber {
                        field: "type length",
                        value: args[2].to_owned(),
                        expected: "type[N]",
                    })?;
                let len = parse_number("type length", len, "a length in octets")?;
                if len == 0 || len > 253 {
                    return Err(DictionaryErrorKind::OutOfRange {
                        field: "type length",
                        value: len,
                        max: 253,
                    });
                }
                (word, Some(len as usize))
            }
            None => (args[2], None),
        };
        let ty = AttributeType::parse(type_word)
            .ok_or_else(|| DictionaryErrorKind::UnknownType(type_word.to_owned()))?;
        if fixed_len.is_some() && !matches!(ty, AttributeType::Octets | AttributeType::String) {
            return Err(DictionaryErrorKind::FlagNotAllowed {
                flag: "[N]",
                why: "only octets and string take a fixed length",
            });
        }

        let mut flags = AttributeFlags::default();
        if let Some(flag_text) = args.get(3) {
            for flag in flag_text.split(',') {
                match flag {
                    "has_tag" => flags.has_tag = true,
                    "encrypt=1" => flags.encrypt = Some(Encryption::UserPassword),
                    "encrypt=2" => flags.encrypt = Some(Encryption::TunnelPassword),
                    "encrypt=3" => flags.encrypt = Some(Encryption::AscendSecret),
                    "array" => flags.array = true,
                    "concat" => flags.concat = true,
                    "virtual" => flags.is_virtual = true,
                    "secret" => flags.secret = true,
                    other => {
                        // The old "vendor" form: ATTRIBUTE name num type Vendor.
                        let named = other.strip_prefix("vendor=").unwrap_or(other);
                        match self.dict.vendor(named) {
                            Some(v) if !other.contains('=') || other.starts_with("vendor=") => {
                                vendor = v.id;
                            }
                            _ => return Err(DictionaryErrorKind::UnknownFlag(other.to_owned())),
                        }
                    }
                }
            }
        }
        if flags.has_tag
            && !matches!(
                ty,
                AttributeType::Integer | AttributeType::String | AttributeType::Octets
            )
        {
            return Err(DictionaryErrorKind::FlagNotAllowed {
                flag: "has_tag",
                why: "RFC 2868 tags exist only on integer and string attributes",
            });
        }
        // The number must fit the vendor's type field (RFC 2865 §5.26
        // standard format: one octet).
        let max = if parents.is_empty() && vendor != 0 {
            match self.dict.vendor_by_id(vendor).map(|v| v.format.type_len) {
                Some(2) => 0xffff,
                Some(4) => u64::from(u32::MAX),
                _ => 0xff,
            }
        } else {
            // Standard numbers above 255 are FreeRADIUS server-internal
            // attributes (never on the wire); TLV members are unbounded.
            u64::from(u32::MAX)
        };
        if u64::from(code) > max {
            return Err(DictionaryErrorKind::OutOfRange {
                field: "attribute number",
                value: u64::from(code),
                max,
            });
        }
        Ok(AttributeDef {
            name: args[0].to_owned(),
            vendor,
            code,
            parents,
            ty,
            fixed_len,
            flags,
            location: location.clone(),
            values_by_name: HashMap::new(),
            names_by_value: HashMap::new(),
        })
    }

    fn add_vendor(&mut self, vendor: VendorDef) -> Result<(), DictionaryErrorKind> {
        let key = vendor.name.to_ascii_lowercase();
        if let Some(&i) = self.dict.vendor_by_name.get(&key) {
            let previous = &self.dict.vendors[i];
            if previous.id == vendor.id && previous.format == vendor.format {
                return Ok(());
            }
            return Err(DictionaryErrorKind::Conflict {
                what: "vendor",
                name: vendor.name,
                previous: previous.location.to_string(),
            });
        }
        let index = self.dict.vendors.len();
        self.dict.vendor_by_name.insert(key, index);
        self.dict.vendor_by_id.entry(vendor.id).or_insert(index);
        self.dict.vendors.push(vendor);
        Ok(())
    }

    fn add_attribute(&mut self, attribute: AttributeDef) -> Result<(), DictionaryErrorKind> {
        let key = attribute.name.to_ascii_lowercase();
        if let Some(&i) = self.dict.attribute_by_name.get(&key) {
            let previous = &self.dict.attributes[i];
            if previous.same_definition(&attribute) {
                return Ok(());
            }
            return Err(DictionaryErrorKind::Conflict {
                what: "attribute",
                name: attribute.name,
                previous: previous.location.to_string(),
            });
        }
        let index = self.dict.attributes.len();
        self.dict.attribute_by_name.insert(key, index);
        self.dict
            .attribute_by_code
            .entry((attribute.vendor, attribute.parents.clone(), attribute.code))
            .or_insert(index);
        self.dict.attributes.push(attribute);
        Ok(())
    }

    pub(super) fn add_value(&mut self, pending: PendingValue) -> Result<(), DictionaryError> {
        let fail = |kind| Self::err(&pending.location.file, pending.location.line, kind);
        let Some(&index) = self
            .dict
            .attribute_by_name
            .get(&pending.attribute.to_ascii_lowercase())
        else {
            return Err(fail(DictionaryErrorKind::UnknownAttribute(
                pending.attribute.clone(),
            )));
        };
        let attribute = &mut self.dict.attributes[index];
        let key = pending.name.to_ascii_lowercase();
        match attribute.values_by_name.get(&key) {
            Some(&number) if number == pending.number => return Ok(()),
            Some(_) => {
                return Err(fail(DictionaryErrorKind::Conflict {
                    what: "value",
                    name: format!("{}.{}", pending.attribute, pending.name),
                    previous: "an earlier VALUE line".to_owned(),
                }));
            }
            None => {}
        }
        attribute.values_by_name.insert(key, pending.number);
        attribute
            .names_by_value
            .entry(pending.number)
            .or_insert(pending.name);
        Ok(())
    }
}

fn block_name(block: Option<&Block>) -> String {
    match block {
        Some(Block::Vendor { name, .. } | Block::Tlv { name, .. }) => name.clone(),
        None => String::new(),
    }
}

enum LineError {
    Kind(DictionaryErrorKind),
    Nested(DictionaryError),
}

impl From<DictionaryErrorKind> for LineError {
    fn from(kind: DictionaryErrorKind) -> Self {
        Self::Kind(kind)
    }
}
