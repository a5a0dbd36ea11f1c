//! Fuzzes the node core in the LAC role (`session::NodeCore`): a sequence of Ethernet
//! frames from the access side, datagrams from the LNS and clock steps, in
//! any order. Nothing may panic; whatever the core queues is drained.
//!
//! Input: records of `kind: u8, len: u8, bytes[len]`; kind % 3 selects a
//! frame (0), a datagram (1) or a timer step of `len` × 100 ms (2).
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tunnelnas::config::Config;
use tunnelnas::session::{Command, NodeCoreConfig, NodeCore};
use tunnelnas::wire::ethernet::MacAddress;

fn config() -> Option<NodeCoreConfig> {
    let text = r#"
[pppoe]
ac_name = "fuzz"
[[pppoe.interface]]
name = "access0"
[l2tp]
listen = "192.0.2.1:1701"
[lac]
auth_group = "g"
acct_group = "g"
[[lac.realm]]
prefix = "u"
[[lac.realm.lns]]
address = "192.0.2.10"
secret = "s"
[radius.group.g]
[[radius.group.g.server]]
address = "127.0.0.1"
secret = "s"
"#;
    let dir = std::env::temp_dir().join(format!("tunnelnas-fuzz-lac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("lac.toml");
    std::fs::write(&path, text).ok()?;
    let config = Config::load_with_env(&path, std::iter::empty()).ok()?;
    tunnelnas::node::convert::lac_config(&config)
}

static CONFIG: std::sync::OnceLock<Option<NodeCoreConfig>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some(config) = CONFIG.get_or_init(config).clone() else {
        return;
    };
    let mut now = Instant::now();
    let mut lac = NodeCore::new(
        config,
        vec![MacAddress::new([2, 0, 0, 0, 0, 1])],
        "FUZZ-".into(),
        [7; 32],
        now,
    );
    let lns: SocketAddr = "192.0.2.10:1701".parse().expect("address");
    let mut rest = data;
    let mut out = vec![0u8; 2048];
    let mut control = Vec::new();
    while let [kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        match kind % 3 {
            0 => {
                let mut frame = chunk.to_vec();
                let _ = lac.handle_frame(now, 0, &mut frame, None);
            }
            1 => {
                let mut buf = vec![0u8; 64 + chunk.len()];
                buf[64..].copy_from_slice(chunk);
                let _ = lac.handle_datagram(now, lns, &mut buf, 64, chunk.len());
            }
            _ => {
                now += Duration::from_millis(100 * len as u64);
                lac.handle_timeout(now);
            }
        }
        while lac.poll_frame(&mut out).is_some() {}
        while lac.poll_datagram(now, &mut control).is_some() {}
        while let Some(command) = lac.poll_command() {
            if let Command::Authenticate { token, .. } = command {
                lac.auth_result(
                    now,
                    token,
                    tunnelnas::aaa::Decision::Accept(Box::default()),
                );
            }
        }
        while lac.poll_event().is_some() {}
    }
});
