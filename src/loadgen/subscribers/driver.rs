//! The blocking driver of the subscriber farm over an AF_PACKET socket
//! ([`run_farm`], [`run_farm_observed`]): frames received in batches with
//! `recvmmsg(2)`, due timers, frames sent in batches with `sendmmsg(2)`,
//! and the farm's statistics published every ~100 ms.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{FarmStats, MAX_FRAME_LEN, SubscriberFarm};
use crate::dataplane::packet::{PacketSocket, RecvBatch};

/// How often [`run_farm`] publishes its statistics.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Frames [`run_farm`] sends with one `sendmmsg(2)`.
const SEND_BATCH: usize = 32;

/// Runs `farm` over `socket` until `stop` is set, then hangs every
/// subscriber up (Terminate-Request and PADT) and returns. `report` gets
/// a fresh [`FarmStats`] every ~100 ms and at the end.
///
/// The loop: a batch of received frames (`recvmmsg(2)`), due timers,
/// transmissions in batches (`sendmmsg(2)`), and a short sleep when there
/// was nothing to do.
pub fn run_farm(
    socket: PacketSocket,
    farm: SubscriberFarm,
    stop: &AtomicBool,
    report: &Mutex<FarmStats>,
) {
    run_farm_observed(socket, farm, stop, report, |_| {});
}

/// [`run_farm`], calling `observe` with the farm each time it publishes
/// its statistics (every ~100 ms and at the end): a benchmark takes what
/// it needs from the running farm there (e.g. [`SubscriberFarm::up_sessions`]
/// when it asked for them), without stopping it.
pub fn run_farm_observed(
    socket: PacketSocket,
    mut farm: SubscriberFarm,
    stop: &AtomicBool,
    report: &Mutex<FarmStats>,
    mut observe: impl FnMut(&SubscriberFarm),
) {
    let mut batch = RecvBatch::new(64);
    let mut arena = vec![0u8; SEND_BATCH * MAX_FRAME_LEN];
    let mut last_report: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) {
            farm.shutdown(now);
            flush(&socket, &mut farm, &mut arena);
            publish(report, &farm);
            observe(&farm);
            return;
        }
        let mut busy = false;
        if socket.recv_batch(&mut batch).is_ok() {
            for frame in batch.iter() {
                busy = true;
                if frame.stripped_vlan.is_some() {
                    // The farm's segment is untagged.
                    continue;
                }
                farm.handle_frame(now, frame.data);
            }
        }
        let now = Instant::now();
        if farm.poll_timeout().is_some_and(|at| at <= now) {
            farm.handle_timeout(now);
        }
        busy |= flush(&socket, &mut farm, &mut arena) > 0;
        if last_report.is_none_or(|at| now.saturating_duration_since(at) >= REPORT_INTERVAL) {
            publish(report, &farm);
            observe(&farm);
            last_report = Some(now);
        }
        if !busy {
            let wait = farm
                .poll_timeout()
                .map_or(Duration::from_millis(1), |at| {
                    at.saturating_duration_since(Instant::now())
                })
                .min(Duration::from_millis(1));
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
}

/// Sends everything the farm has, in batches; returns the frames sent.
fn flush(socket: &PacketSocket, farm: &mut SubscriberFarm, arena: &mut [u8]) -> usize {
    let mut total = 0;
    loop {
        let mut lens = [0usize; SEND_BATCH];
        let mut count = 0;
        for (slot, len) in arena.chunks_exact_mut(MAX_FRAME_LEN).zip(lens.iter_mut()) {
            let Some(n) = farm.poll_transmit(slot) else {
                break;
            };
            *len = n;
            count += 1;
        }
        if count == 0 {
            return total;
        }
        let mut frames: [&[u8]; SEND_BATCH] = [&[]; SEND_BATCH];
        for ((frame, slot), len) in frames
            .iter_mut()
            .zip(arena.chunks_exact(MAX_FRAME_LEN))
            .zip(lens)
            .take(count)
        {
            *frame = slot.get(..len).unwrap_or_default();
        }
        let mut sent = 0;
        // One retry after a short pause when the socket buffer is full.
        for attempt in 0..2 {
            match socket.send_batch(frames.get(sent..count).unwrap_or_default()) {
                Ok(n) => sent += n,
                Err(_) if attempt == 0 => std::thread::sleep(Duration::from_micros(200)),
                Err(_) => break,
            }
            if sent >= count {
                break;
            }
        }
        farm.note_send_failures((count - sent.min(count)) as u64);
        total += count;
        if count < SEND_BATCH {
            return total;
        }
    }
}

fn publish(report: &Mutex<FarmStats>, farm: &SubscriberFarm) {
    let stats = farm.stats();
    *report
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = stats;
}
