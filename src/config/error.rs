//! Load errors: [`ConfigError`] (every variant names the file or the
//! environment variable, the key and what was expected), the mapping from
//! figment's errors, and [`Invalid`], a validation failure before it is
//! given a source.

use std::path::{Path, PathBuf};

use figment::value::Value;
use figment::{Figment, Metadata};

use super::ENV_PREFIX;
use super::env::EnvOverrides;

/// A validation failure before it is given a source.
#[derive(Debug)]
pub(super) struct Invalid {
    pub(super) key: String,
    pub(super) expected: String,
}

impl Invalid {
    pub(super) fn new(key: impl Into<String>, expected: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            expected: expected.into(),
        }
    }
}

/// Why a configuration could not be loaded. Every variant names where the
/// problem is (file or environment variable), the key and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be used at all.
    #[error("config file {}: {problem}", path.display())]
    File {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The TOML does not parse.
    #[error("config file {}: {message}", path.display())]
    Syntax {
        /// The path given.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value has the wrong type or form, or a key is unknown or missing.
    #[error("{origin}: key `{key}`: {problem}")]
    Value {
        /// `config file PATH` or `environment variable NAME`.
        origin: String,
        /// Dotted key path.
        key: String,
        /// What was found and what was expected.
        problem: String,
    },
    /// Values parse but do not make a usable configuration.
    #[error("{origin}: key `{key}`: expected {expected}")]
    Invalid {
        /// `config file PATH` or `environment variable NAME`.
        origin: String,
        /// Dotted key path.
        key: String,
        /// What was expected.
        expected: String,
    },
    /// Several problems at once.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Many(Vec<Self>),
}

impl ConfigError {
    pub(super) fn from_figment(path: &Path, err: figment::Error) -> Self {
        Self::from_figment_with(path, err, &[])
    }

    /// `env_names`: the `TUNNELNAS_` variables in use, without the prefix.
    pub(super) fn from_figment_with(
        path: &Path,
        err: figment::Error,
        env_names: &[String],
    ) -> Self {
        let mut all: Vec<Self> = err
            .into_iter()
            .map(|e| Self::from_one(path, e, env_names))
            .collect();
        if all.len() == 1 {
            all.remove(0)
        } else {
            Self::Many(all)
        }
    }

    fn from_one(path: &Path, err: figment::Error, env_names: &[String]) -> Self {
        use figment::error::Kind;
        let mut key_path = err.path.clone();
        let problem = match &err.kind {
            Kind::Message(msg) if err.metadata.is_none() && err.path.is_empty() => {
                // Provider failures (TOML syntax) carry no key.
                return Self::Syntax {
                    path: path.to_owned(),
                    message: msg.clone(),
                };
            }
            Kind::Message(msg) => msg.clone(),
            Kind::InvalidType(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::InvalidValue(actual, expected) => {
                format!("expected {expected}, found {actual}")
            }
            Kind::InvalidLength(len, expected) => {
                format!("expected {expected}, found {len} elements")
            }
            Kind::UnknownVariant(found, allowed) => {
                format!("expected one of {}, found `{found}`", quote_list(allowed))
            }
            Kind::UnknownField(field, allowed) => {
                push_unless_last(&mut key_path, field);
                format!("unknown key; expected one of {}", quote_list(allowed))
            }
            Kind::MissingField(field) => {
                push_unless_last(&mut key_path, field);
                "missing; this key is required".to_owned()
            }
            Kind::DuplicateField(field) => {
                push_unless_last(&mut key_path, field);
                "given twice".to_owned()
            }
            other => format!("{other}"),
        };
        let key = key_path.join(".");
        let source = describe_source(path, err.metadata.as_ref(), &key, env_names);
        Self::Value {
            origin: source,
            key,
            problem,
        }
    }
}

/// figment sometimes includes the offending field in the path, sometimes not.
fn push_unless_last(path: &mut Vec<String>, field: &str) {
    if path.last().map(String::as_str) != Some(field) {
        path.push(field.to_owned());
    }
}

fn quote_list(items: &[&str]) -> String {
    if items.is_empty() {
        return "nothing (no keys allowed here)".into();
    }
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `config file PATH` or `environment variable NAME` for an error at `key`.
///
/// figment tags a value with the provider that gave it; an array the
/// environment patches (`…__SERVER__0__SECRET`) is copied from the file
/// whole, so its other elements carry the environment's tag too. The
/// environment is named only when one of the variables in use (`env_names`,
/// without the prefix) is for `key` itself; figment's own errors name keys
/// without array indices, so a variable also matches with its indices left
/// out.
pub(super) fn describe_source(
    path: &Path,
    metadata: Option<&Metadata>,
    key: &str,
    env_names: &[String],
) -> String {
    let from_env = metadata.is_some_and(|meta| meta.name == EnvOverrides::NAME);
    let key_parts: Vec<&str> = key.split('.').filter(|k| !k.is_empty()).collect();
    let matching: Vec<String> = env_names
        .iter()
        .filter(|name| {
            let parts: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            let same = |parts: &mut dyn Iterator<Item = &String>| {
                parts.map(String::as_str).eq(key_parts.iter().copied())
            };
            same(&mut parts.iter())
                || same(&mut parts.iter().filter(|p| p.parse::<usize>().is_err()))
        })
        .map(|name| format!("{ENV_PREFIX}{name}"))
        .collect();
    if from_env && !matching.is_empty() {
        format!("environment variable {}", matching.join(" or "))
    } else {
        format!("config file {}", path.display())
    }
}

/// Like [`Figment::find_metadata`], but `key` may index into arrays
/// (`pppoe.interface.0.vlan.1.cvlan`), as validation names keys.
pub(super) fn find_metadata<'a>(figment: &'a Figment, key: &str) -> Option<&'a Metadata> {
    let mut keys = key.split('.');
    let mut value = figment.find_value(keys.next()?).ok()?;
    for k in keys {
        value = match value {
            Value::Dict(_, mut dict) => dict.remove(k)?,
            Value::Array(_, mut items) => {
                let index = k.parse::<usize>().ok().filter(|&i| i < items.len())?;
                items.swap_remove(index)
            }
            _ => return None,
        };
    }
    figment.get_metadata(value.tag())
}
