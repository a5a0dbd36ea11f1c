//! The crate's layering, checked from its `use crate::…` lines (DESIGN.md,
//! "Three roles, one session model": dependencies point down).
//!
//! Forbidden:
//! - a sans-IO core (`wire`, `pppoe`, `ppp`, `l2tp`, the node core
//!   `session`, the role policies `lac::select`, `lac::policy` and the
//!   LNS's address pools `lns::pool`, the
//!   fast path `dataplane::{fastpath, mss, police}`, `shard`) using a
//!   driver or the process edge (`node` with its workers, `mgmt`,
//!   `metrics`, `demo`, `loadgen`, the RADIUS service task, the socket
//!   and TUN modules of `dataplane`), or the serde configuration (`config`: cores
//!   take their own small config structs);
//! - a role policy (`lac`, `lns`, `lts`) using the node core (`session`):
//!   the core owns the sessions and asks the policies, never the reverse;
//! - `config` using any other module of the crate (it is a leaf);
//! - `metrics`, `mgmt` or `observe` using a role (`lac`, `lns`, `lts`):
//!   roles publish their `observe` events to an observer and implement
//!   `mgmt::RoleApi`; `observe` using `metrics` (it is what `metrics`
//!   implements);
//! - a cycle between top-level modules.
//!
//! [`KNOWN`] lists the edges that still break a rule, each with the issue
//! that removes it. The test fails on any other forbidden edge, and on a
//! listed edge that no longer exists (so the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Sans-IO cores.
const CORES: &[&str] = &[
    "wire",
    "pppoe",
    "ppp",
    "l2tp",
    "session",
    "lac::select",
    "lac::policy",
    "lns::pool",
    "lns::pool6",
    "lns::policy",
    "lns::ipv6",
    "lns::echo",
    "dial::core",
    "dial::event",
    "dataplane::fastpath",
    "dataplane::mss",
    "dataplane::police",
    "shard",
];

/// Drivers and the process edge: what a core must not use.
const DRIVERS: &[&str] = &[
    "node",
    "mgmt",
    "metrics",
    "demo",
    "loadgen",
    "aaa::service",
    "dataplane::packet",
    "dataplane::udp",
    "dataplane::steer",
    "dataplane::tun",
];

/// Role modules.
const ROLES: &[&str] = &["lac", "lns", "lts"];

/// Forbidden edges that still exist, as (using module, used module); each
/// goes with the work that removes it.
const KNOWN: &[(&str, &str)] = &[
    // Empty: issue 12 moved the last ones (the conversions from the serde
    // configuration are in `node::convert`).
];

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`; `None` for the crate roots.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [] => None,
        [only] if only == "lib" || only == "main" => None,
        _ => Some(parts.join("::")),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src/") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a file's `use crate::…` items name, as their first one or
/// two path segments (`use crate::{a::X, b}` included).
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut statement = String::new();
    let mut in_use = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if !in_use {
            let body = trimmed
                .strip_prefix("pub use ")
                .or_else(|| trimmed.strip_prefix("pub(crate) use "))
                .or_else(|| trimmed.strip_prefix("pub(super) use "))
                .or_else(|| trimmed.strip_prefix("use "));
            match body {
                Some(body) if body.starts_with("crate::") => {
                    in_use = true;
                    statement.clear();
                    statement.push_str(body);
                }
                _ => continue,
            }
        } else {
            statement.push_str(trimmed);
        }
        if statement.contains(';') {
            in_use = false;
            collect_paths(statement.trim_end_matches(';'), &mut used);
        }
    }
    // Paths written inline (`impl From<&crate::config::L2tp> for …`).
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let modules: Vec<&str> = segments
                .iter()
                .take(2)
                .take_while(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .copied()
                .collect();
            // A lower-case last segment is a function or a module: keep
            // only segments followed by more path.
            let modules = if modules.len() == segments.len() && modules.len() > 1 {
                &modules[..modules.len() - 1]
            } else {
                &modules[..]
            };
            if !modules.is_empty() {
                used.insert(modules.join("::"));
            }
        }
    }
    used
}

/// `crate::a::{b::C, d}` → `a::b`, `a::d`; `crate::a::B` → `a` (or `a::b`
/// when `b` is a module: lower case).
fn collect_paths(statement: &str, used: &mut BTreeSet<String>) {
    let path = statement.trim_start_matches("crate::");
    let (head, group) = match path.split_once('{') {
        Some((head, rest)) => (
            head.trim_end_matches("::"),
            Some(rest.trim_end_matches('}')),
        ),
        None => (path, None),
    };
    let head: Vec<&str> = head.split("::").filter(|s| !s.is_empty()).collect();
    let mut push = |segments: &[&str]| {
        let modules: Vec<&str> = segments
            .iter()
            .take(2)
            .take_while(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .copied()
            .collect();
        if !modules.is_empty() {
            used.insert(modules.join("::"));
        }
    };
    match group {
        None => push(&head),
        Some(group) => {
            for item in split_top_level(group) {
                let mut segments = head.clone();
                let item = item.trim();
                if item.is_empty() || item == "self" {
                    push(&segments);
                    continue;
                }
                let item = item.split_once('{').map_or(item, |(h, _)| h);
                segments.extend(item.split("::").filter(|s| !s.is_empty()));
                push(&segments);
            }
        }
    }
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&group[start..]);
    out
}

fn within(module: &str, prefix: &str) -> bool {
    module == prefix || module.starts_with(&format!("{prefix}::"))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// Every (module, used module) edge of the crate under `src`.
fn edges(src: &Path) -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges = BTreeSet::new();
    for file in files {
        let Some(module) = module_of(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        for used in used_modules(&text) {
            if top(&used) != top(&module) || used != module {
                edges.insert((module.clone(), used));
            }
        }
    }
    edges
}

/// Why `from → to` is forbidden, if it is.
fn violation(from: &str, to: &str) -> Option<&'static str> {
    let core = CORES.iter().any(|c| within(from, c));
    if core && DRIVERS.iter().any(|d| within(to, d)) {
        return Some("a core uses a driver");
    }
    if core && within(to, "config") {
        return Some("a core uses the serde configuration");
    }
    if within(from, "config") && !within(to, "config") {
        return Some("config is a leaf");
    }
    if ["metrics", "mgmt", "observe"]
        .iter()
        .any(|m| within(from, m))
        && ROLES.iter().any(|r| within(to, r))
    {
        return Some("metrics, mgmt and observe know no role");
    }
    if ROLES.iter().any(|r| within(from, r)) && within(to, "session") {
        return Some("a role policy does not use the node core");
    }
    if within(from, "observe") && within(to, "metrics") {
        return Some("observe is below metrics");
    }
    None
}

/// Cycles between top-level modules (each as a sorted pair or longer
/// loop, found by depth-first search).
fn top_level_cycles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in edges {
        let (a, b) = (top(from), top(to));
        if a != b {
            graph.entry(a).or_default().insert(b);
        }
    }
    let mut cycles = BTreeSet::new();
    for &start in graph.keys() {
        let mut stack = vec![(start, vec![start])];
        while let Some((node, path)) = stack.pop() {
            for &next in graph.get(node).into_iter().flatten() {
                if next == start {
                    let mut cycle: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, m)| (*m).clone())
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    cycles.insert(cycle);
                } else if !path.contains(&next) && path.len() < 6 {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push((next, longer));
                }
            }
        }
    }
    cycles.into_iter().collect()
}

fn is_known(from: &str, to: &str) -> bool {
    KNOWN.iter().any(|(f, t)| *f == from && within(to, t))
}

#[test]
fn dependencies_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = edges(&src);
    assert!(
        edges.len() > 50,
        "the parser found too few edges: {edges:?}"
    );
    let mut broken = Vec::new();
    let mut known_seen = BTreeSet::new();
    for (from, to) in &edges {
        if let Some(why) = violation(from, to) {
            if is_known(from, to) {
                known_seen.insert(
                    KNOWN
                        .iter()
                        .find(|(f, t)| f == from && within(to, t))
                        .copied(),
                );
            } else {
                broken.push(format!("{from} → {to}: {why}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "forbidden dependencies (DESIGN.md: dependencies point down):\n  {}",
        broken.join("\n  ")
    );
    let stale: Vec<_> = KNOWN
        .iter()
        .filter(|known| !known_seen.contains(&Some(**known)))
        .collect();
    assert!(
        stale.is_empty(),
        "these KNOWN edges are gone: remove them from the list: {stale:?}"
    );
    // No cycle, but for those that run through a KNOWN edge.
    let without_known: BTreeSet<(String, String)> = edges
        .iter()
        .filter(|(from, to)| !(violation(from, to).is_some() && is_known(from, to)))
        .cloned()
        .collect();
    let cycles = top_level_cycles(&without_known);
    assert!(
        cycles.is_empty(),
        "cycles between top-level modules: {cycles:?}"
    );
}

#[test]
fn the_parser_reads_use_lines_as_written_here() {
    let text = "use crate::a::B;\npub use crate::c::{d::E, f, G};\nuse crate::{\n    h::I,\n    j::k::L,\n};\nuse std::x;\n\
                impl From<&crate::m::n::O> for P {}\n// crate::q::R in a comment\n";
    let used: Vec<String> = used_modules(text).into_iter().collect();
    assert_eq!(used, ["a", "c", "c::d", "c::f", "h", "j::k", "m::n"]);
}

#[test]
fn a_forbidden_edge_is_reported() {
    assert!(violation("l2tp::tunnel", "node::worker").is_some());
    assert!(violation("session", "node::worker").is_some());
    assert!(violation("session::forwarding", "metrics").is_some());
    assert!(violation("dataplane::fastpath", "dataplane::udp").is_some());
    assert!(violation("session", "config").is_some());
    assert!(violation("lac::policy", "session").is_some());
    assert!(violation("session", "lac::policy").is_none());
    assert!(violation("ppp::link", "metrics").is_some());
    assert!(violation("config::lac", "aaa::request").is_some());
    assert!(violation("mgmt", "lac::select").is_some());
    assert!(violation("metrics", "lns").is_some());
    assert!(violation("observe::lac", "lac::select").is_some());
    assert!(violation("observe", "metrics").is_some());
    assert!(violation("node::worker", "metrics").is_none());
    assert!(violation("node", "node::worker").is_none());
    let mut edges = BTreeSet::new();
    edges.insert(("a::x".to_owned(), "b".to_owned()));
    edges.insert(("b::y".to_owned(), "a::z".to_owned()));
    assert_eq!(
        top_level_cycles(&edges),
        vec![vec!["a".to_owned(), "b".to_owned()]]
    );
}
