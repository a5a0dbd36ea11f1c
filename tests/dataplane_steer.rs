//! Kernel steering of access frames to LAC workers
//! (`tunnelnas::dataplane::steer::fan_out_by_mac`), on a real veth pair in
//! a namespace of the test's own: every frame reaches exactly one worker,
//! always the same one for a MAC, both workers get subscribers, and the
//! frames a worker sends are not copied back to the group.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use common::netns::{Netns, VethPair};
use tunnelnas::dataplane::packet::{PacketSocket, RecvBatch};
use tunnelnas::dataplane::steer;

const SUBSCRIBERS: u8 = 64;

/// A PADI-shaped frame (EtherType 0x8863, which the sockets' filter takes)
/// from subscriber `index`.
fn frame_from(index: u8) -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0x5e, 0x10, 0x00, 0x07, index]);
    frame.extend_from_slice(&[0x88, 0x63, 0x11, 0x09, 0x00, 0x00, 0x00, 0x04]);
    frame.extend_from_slice(&[0x01, 0x01, 0x00, 0x00]);
    frame
}

/// Source MAC bytes of every frame waiting on `socket`.
fn drain(socket: &PacketSocket) -> Result<Vec<[u8; 6]>> {
    let mut batch = RecvBatch::new(32);
    let mut sources = Vec::new();
    loop {
        match socket.recv_batch(&mut batch) {
            Ok(0) => return Ok(sources),
            Ok(_) => {
                for frame in batch.iter() {
                    let source: [u8; 6] = frame.data[6..12].try_into().context("source MAC")?;
                    sources.push(source);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(sources),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Frames delivered to `socket` by the kernel since the last call
/// (`PACKET_STATISTICS`, which resets on read).
fn delivered(socket: &PacketSocket) -> Result<u32> {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `stats` and `len` are live and describe a tpacket_stats.
    let ret = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            std::ptr::from_mut(&mut stats).cast(),
            &raw mut len,
        )
    };
    ensure!(
        ret == 0,
        "PACKET_STATISTICS: {}",
        io::Error::last_os_error()
    );
    Ok(stats.tp_packets)
}

#[test]
fn access_frames_reach_one_worker_per_mac_and_sent_frames_are_not_read_back() -> Result<()> {
    common::require_root()?;
    let ns = Netns::new("steer")?;
    let pair = VethPair::builder(&ns, &ns).create()?;
    let (lac_side, subscriber_side) = (pair.a().to_owned(), pair.b().to_owned());
    ns.run(move || -> Result<()> {
        let workers = [
            PacketSocket::open(&lac_side)?,
            PacketSocket::open(&lac_side)?,
        ];
        steer::fan_out_by_mac(&workers)?;
        let subscribers = PacketSocket::open(&subscriber_side)?;
        for worker in &workers {
            drain(worker)?;
            delivered(worker)?;
        }

        // Two rounds from the same 64 MACs: one worker per MAC, stable.
        let mut owner: BTreeMap<[u8; 6], usize> = BTreeMap::new();
        for round in 0..2 {
            for index in 0..SUBSCRIBERS {
                subscribers.send(&frame_from(index))?;
            }
            std::thread::sleep(Duration::from_millis(100));
            let mut seen = BTreeSet::new();
            for (worker, socket) in workers.iter().enumerate() {
                for source in drain(socket)? {
                    ensure!(
                        seen.insert(source),
                        "{source:02x?} reached more than one worker"
                    );
                    let first = *owner.entry(source).or_insert(worker);
                    ensure!(
                        first == worker,
                        "round {round}: {source:02x?} moved from worker {first} to {worker}"
                    );
                }
            }
            ensure!(
                seen.len() == usize::from(SUBSCRIBERS),
                "round {round}: {} of {SUBSCRIBERS} frames arrived",
                seen.len()
            );
        }
        let on_first = owner.values().filter(|w| **w == 0).count();
        ensure!(
            on_first > 0 && on_first < usize::from(SUBSCRIBERS),
            "all {SUBSCRIBERS} subscribers hashed to one worker ({on_first} on worker 0)"
        );

        // Frames a worker sends leave the interface and are not handed
        // back to the group.
        delivered(&workers[0])?;
        delivered(&workers[1])?;
        for index in 0..10 {
            workers[0].send(&frame_from(index))?;
        }
        std::thread::sleep(Duration::from_millis(100));
        ensure!(
            drain(&subscribers)?.len() == 10,
            "the subscriber side should receive the 10 frames sent"
        );
        let copies = delivered(&workers[0])? + delivered(&workers[1])?;
        ensure!(
            copies == 0,
            "{copies} of our own transmissions were delivered back to the fanout group"
        );
        Ok(())
    })??;
    Ok(())
}
