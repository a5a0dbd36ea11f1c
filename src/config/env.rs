//! The `TUNNELNAS_` environment as a figment provider ([`EnvOverrides`]):
//! `SECTION__KEY` nesting, array elements by index, and values kept as
//! strings unless their typed form prints back to the same text.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::ENV_PREFIX;

/// The `TUNNELNAS_` environment as a figment provider.
///
/// figment's own `Env` parses `0123` as the integer 123, which would
/// silently change a secret; this provider keeps a value as a string unless
/// its typed form prints back to exactly the same text.
#[derive(Debug, Clone)]
pub(super) struct EnvOverrides {
    pub(super) vars: Vec<(String, String)>,
    /// The file's data, to address array elements by index.
    base: Dict,
}

impl EnvOverrides {
    pub(super) const NAME: &'static str = "environment variable";

    pub(super) fn collect(env: impl IntoIterator<Item = (String, String)>, base: Dict) -> Self {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(ENV_PREFIX)?;
                (!rest.is_empty()).then(|| (rest.to_owned(), value))
            })
            .collect();
        vars.sort();
        Self { vars, base }
    }

    fn typed(raw: &str) -> Value {
        let parsed: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.to_owned()));
        let round_trips = match &parsed {
            Value::Num(_, num) => {
                let printed = if let Some(u) = num.to_u128() {
                    u.to_string()
                } else if let Some(i) = num.to_i128() {
                    i.to_string()
                } else {
                    num.to_f64().map(|f| f.to_string()).unwrap_or_default()
                };
                printed == raw
            }
            Value::Bool(_, b) => b.to_string() == raw,
            Value::String(..) | Value::Char(..) => true,
            // Arrays and tables written inline (`[1, 2]`, `{a = 1}`).
            Value::Array(..) | Value::Dict(..) => true,
            Value::Empty(..) => false,
        };
        if round_trips {
            parsed
        } else {
            Value::from(raw.to_owned())
        }
    }
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(Self::NAME).interpolater(|_profile, keys| {
            let joined: Vec<String> = keys.iter().map(|k| k.to_ascii_uppercase()).collect();
            format!("{ENV_PREFIX}{}", joined.join("__"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (name, raw) in &self.vars {
            let keys: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            if keys.iter().any(String::is_empty) {
                return Err(figment::Error::from(format!(
                    "environment variable {ENV_PREFIX}{name}: empty key segment (use `__` between keys)"
                )));
            }
            insert_nested(&mut root, Some(&self.base), &keys, Self::typed(raw));
        }
        Ok(Profile::Default.collect(root))
    }
}

/// Inserts `value` at `keys`, creating tables on the way. A numeric key
/// addresses an element of an array the file defines (`…__SERVER__0__SECRET`):
/// the file's array is copied into the override once and the element patched.
fn insert_nested(dict: &mut Dict, base: Option<&Dict>, keys: &[String], value: Value) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let base_here = base.and_then(|b| b.get(first));
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| match base_here {
            Some(array @ Value::Array(..)) => array.clone(),
            _ => Value::from(Dict::new()),
        });
    match entry {
        Value::Array(_, items) => {
            let index = rest[0].parse::<usize>().ok().filter(|&i| i < items.len());
            match (index, &rest[1..]) {
                (Some(i), []) => items[i] = value,
                (Some(i), deeper) => {
                    if let Value::Dict(_, element) = &mut items[i] {
                        let base_element = match base_here {
                            Some(Value::Array(_, base_items)) => match base_items.get(i) {
                                Some(Value::Dict(_, d)) => Some(d.clone()),
                                _ => None,
                            },
                            _ => None,
                        };
                        insert_nested(element, base_element.as_ref(), deeper, value);
                    }
                }
                // Not an index into the file's array: replace it, and let
                // deserialisation report the type mismatch with this source.
                (None, _) => {
                    let mut fresh = Dict::new();
                    insert_nested(&mut fresh, None, rest, value);
                    *entry = Value::from(fresh);
                }
            }
        }
        Value::Dict(_, inner) => {
            let base_inner = match base_here {
                Some(Value::Dict(_, d)) => Some(d),
                _ => None,
            };
            insert_nested(inner, base_inner, rest, value);
        }
        other => {
            let mut fresh = Dict::new();
            insert_nested(&mut fresh, None, rest, value);
            *other = Value::from(fresh);
        }
    }
}
