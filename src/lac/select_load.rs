//! Box-wide sessions per LNS endpoint, shared by the LAC workers without
//! locks (module `lac::select::load`).
//!
//! Each of the `[lac] workers` cores has its own [`Selector`](super::Selector)
//! and knows only its own sessions. Balancing by least sessions or by free
//! capacity must nonetheless see what the *box* carries to each LNS, or `n`
//! workers each put "their" share on the same LNS. So every worker
//! publishes its per-endpoint counts in a [`LoadTable`] and reads the
//! others' when it plans.
//!
//! # Design
//!
//! * **One row per worker, one writer per row.** A row is a fixed array of
//!   slots `(endpoint, sessions)`. Only the worker owning a row writes it
//!   (a [`LoadWriter`], claimed once by its selector), so writers never
//!   contend and need no read-modify-write: the count stored is the
//!   worker's absolute count, so a missed publication heals at the next one.
//! * **Seqlock per slot.** Giving a slot to another endpoint makes its
//!   sequence number odd, rewrites the key, and makes it even again
//!   (Release); a reader reads the sequence (Acquire), key and count, an
//!   Acquire fence, the sequence again, and trusts the slot only if both
//!   reads match and are even. Updating the count of the endpoint a slot
//!   already holds is one atomic store: any value a reader sees is a count
//!   that slot had. Readers never block writers; a writer never waits.
//! * **Touched only at selection time and on session start/end.** The
//!   per-packet path never looks at the table. A start or an end is a
//!   hash-map look-up in the worker's private slot map and one or two
//!   atomic stores in its own row; a plan scans the slots the other rows
//!   have ever used (a high-water mark, so the scan is as long as the
//!   number of distinct LNS endpoints in use, not the table size).
//! * **Fixed size, no allocation after start.** A slot whose count drops
//!   to zero goes back to its row's free list. When a worker has sessions
//!   on more distinct endpoints at once than its row has slots, the excess
//!   endpoints are not published (logged once) and the other workers
//!   count only what they see; nothing else degrades.
//! * **Exact keys.** An endpoint is encoded losslessly in four 64-bit words
//!   (family, port, address, IPv6 flow info and scope), so two endpoints
//!   never share a count.
//!
//! A reader sees each other worker's counts as of a moment within the
//! scan; the sum can be off by the sessions that started or ended during
//! that scan, which balancing tolerates by nature.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

/// Slots per worker the LAC driver allocates: distinct LNS endpoints one
/// worker can carry sessions to at once and still publish them.
pub const DEFAULT_ENDPOINTS_PER_WORKER: usize = 1024;

/// How often a reader retries a slot being rewritten before skipping it.
const READ_RETRIES: usize = 64;

/// An endpoint as four words; equal keys ⇔ equal [`SocketAddr`]s.
type Key = [u64; 4];

fn encode(endpoint: SocketAddr) -> Key {
    match endpoint {
        SocketAddr::V4(v4) => [
            (4 << 48) | (u64::from(v4.port()) << 32) | u64::from(v4.ip().to_bits()),
            0,
            0,
            0,
        ],
        SocketAddr::V6(v6) => {
            let ip = v6.ip().to_bits();
            [
                (6 << 48) | (u64::from(v6.port()) << 32) | u64::from(v6.flowinfo()),
                u64::from(v6.scope_id()),
                (ip >> 64) as u64,
                ip as u64,
            ]
        }
    }
}

/// One `(endpoint, sessions)` slot of a row.
#[derive(Debug, Default)]
struct Slot {
    /// 0: never used; odd: being given to another endpoint.
    seq: AtomicU64,
    key: [AtomicU64; 4],
    count: AtomicU32,
}

impl Slot {
    /// Gives the slot to `key` with `count` sessions (its row's writer
    /// only).
    fn assign(&self, key: Key, count: u32) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        for (word, value) in self.key.iter().zip(key) {
            word.store(value, Ordering::Relaxed);
        }
        self.count.store(count, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// A consistent `(key, count)`, or `None` for a slot never used (or
    /// being rewritten for longer than a reader waits).
    fn read(&self) -> Option<(Key, u32)> {
        for _ in 0..READ_RETRIES {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let key = [
                self.key[0].load(Ordering::Relaxed),
                self.key[1].load(Ordering::Relaxed),
                self.key[2].load(Ordering::Relaxed),
                self.key[3].load(Ordering::Relaxed),
            ];
            let count = self.count.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return Some((key, count));
            }
        }
        None
    }
}

/// One worker's counts.
#[derive(Debug)]
struct Row {
    /// Whether a [`LoadWriter`] holds the row.
    claimed: AtomicBool,
    /// Slots `0..used` have been given to an endpoint at some point.
    used: AtomicUsize,
    slots: Box<[Slot]>,
}

/// Every worker's sessions per LNS endpoint (see the module docs).
#[derive(Debug)]
pub struct LoadTable {
    rows: Box<[Row]>,
}

impl LoadTable {
    /// A table for `workers` workers, each able to publish
    /// `endpoints_per_worker` distinct endpoints at once.
    pub fn new(workers: usize, endpoints_per_worker: usize) -> Arc<Self> {
        let rows = (0..workers)
            .map(|_| Row {
                claimed: AtomicBool::new(false),
                used: AtomicUsize::new(0),
                slots: (0..endpoints_per_worker.max(1))
                    .map(|_| Slot::default())
                    .collect(),
            })
            .collect();
        Arc::new(Self { rows })
    }

    /// Worker `worker`'s handle; `None` past the last worker.
    pub fn handle(self: &Arc<Self>, worker: usize) -> Option<SharedLoad> {
        (worker < self.rows.len()).then(|| SharedLoad {
            table: Arc::clone(self),
            worker,
        })
    }

    /// Sessions every worker published for `endpoint`.
    pub fn total(&self, endpoint: SocketAddr) -> u32 {
        let mut total = [0];
        self.add_rows(None, &[endpoint], &mut total);
        total[0]
    }

    /// Adds the published counts of `endpoints` of every row but `skip`
    /// to `totals` (same order).
    fn add_rows(&self, skip: Option<usize>, endpoints: &[SocketAddr], totals: &mut [u32]) {
        let keys: Vec<Key> = endpoints.iter().map(|e| encode(*e)).collect();
        for (index, row) in self.rows.iter().enumerate() {
            if Some(index) == skip {
                continue;
            }
            let used = row.used.load(Ordering::Acquire).min(row.slots.len());
            for slot in &row.slots[..used] {
                let Some((key, count)) = slot.read() else {
                    continue;
                };
                if count == 0 {
                    continue;
                }
                for (wanted, total) in keys.iter().zip(totals.iter_mut()) {
                    if *wanted == key {
                        *total = total.saturating_add(count);
                    }
                }
            }
        }
    }
}

/// One worker's place in a [`LoadTable`]: it reads the other workers'
/// rows and, through the [`LoadWriter`] its selector claims, writes its
/// own. Given to the worker's selector in
/// [`SelectConfig::shared_load`](super::SelectConfig::shared_load).
#[derive(Clone)]
pub struct SharedLoad {
    table: Arc<LoadTable>,
    worker: usize,
}

impl std::fmt::Debug for SharedLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLoad")
            .field("worker", &self.worker)
            .field("workers", &self.table.rows.len())
            .finish_non_exhaustive()
    }
}

/// The same place in the same table.
impl PartialEq for SharedLoad {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.table, &other.table) && self.worker == other.worker
    }
}

impl Eq for SharedLoad {}

impl SharedLoad {
    /// This worker's index in the table.
    pub const fn worker(&self) -> usize {
        self.worker
    }

    /// The table.
    pub const fn table(&self) -> &Arc<LoadTable> {
        &self.table
    }

    /// Adds what the *other* workers carry to each of `endpoints` to
    /// `totals` (same order).
    pub fn add_others(&self, endpoints: &[SocketAddr], totals: &mut [u32]) {
        self.table.add_rows(Some(self.worker), endpoints, totals);
    }

    /// Becomes the row's only writer; `None` while another writer holds it.
    pub fn claim(&self) -> Option<LoadWriter> {
        let row = self.table.rows.get(self.worker)?;
        if row.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        // A previous writer left every count at zero: all its slots are
        // free again.
        let used = row.used.load(Ordering::Acquire).min(row.slots.len());
        Some(LoadWriter {
            load: self.clone(),
            slots: HashMap::new(),
            free: (0..used).rev().collect(),
            overflowed: false,
        })
    }
}

/// The writer of one worker's row ([`SharedLoad::claim`]); it zeroes the
/// row and gives it up when dropped.
#[derive(Debug)]
pub struct LoadWriter {
    load: SharedLoad,
    /// Endpoint → its slot in the row.
    slots: HashMap<SocketAddr, usize>,
    /// Slots used before and free now (reused first, last freed first).
    free: Vec<usize>,
    /// Whether an endpoint found no free slot (logged once).
    overflowed: bool,
}

impl LoadWriter {
    /// The handle this writer writes through.
    pub const fn shared(&self) -> &SharedLoad {
        &self.load
    }

    fn row(&self) -> &Row {
        &self.load.table.rows[self.load.worker]
    }

    /// This worker now carries `sessions` sessions to `endpoint`. Zero
    /// frees the endpoint's slot.
    pub fn publish(&mut self, endpoint: SocketAddr, sessions: u32) {
        if let Some(&index) = self.slots.get(&endpoint) {
            let slot = &self.row().slots[index];
            slot.count.store(sessions, Ordering::Release);
            if sessions == 0 {
                self.slots.remove(&endpoint);
                self.free.push(index);
            }
            return;
        }
        if sessions == 0 {
            return;
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let (used, capacity) = {
                    let row = self.row();
                    (row.used.load(Ordering::Relaxed), row.slots.len())
                };
                if used >= capacity {
                    if !self.overflowed {
                        self.overflowed = true;
                        tracing::warn!(
                            worker = self.load.worker,
                            endpoints = capacity,
                            lns = %endpoint,
                            "more LNS endpoints in use than the shared load table holds per worker: \
                             the other workers do not see this worker's sessions on the excess ones"
                        );
                    }
                    return;
                }
                used
            }
        };
        let row = self.row();
        row.slots[index].assign(encode(endpoint), sessions);
        if index >= row.used.load(Ordering::Relaxed) {
            row.used.store(index + 1, Ordering::Release);
        }
        self.slots.insert(endpoint, index);
    }
}

impl Drop for LoadWriter {
    fn drop(&mut self) {
        let row = self.row();
        for index in self.slots.values() {
            row.slots[*index].count.store(0, Ordering::Release);
        }
        row.claimed.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn keys_are_exact() {
        let all = [
            addr("192.0.2.1:1701"),
            addr("192.0.2.1:1702"),
            addr("192.0.2.2:1701"),
            addr("[2001:db8::1]:1701"),
            addr("[2001:db8::1]:1702"),
            addr("[2001:db8::1%2]:1701"),
            addr("[::ffff:192.0.2.1]:1701"),
        ];
        for a in &all {
            for b in &all {
                assert_eq!(encode(*a) == encode(*b), a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn a_worker_sees_the_others_but_not_itself() {
        let table = LoadTable::new(3, 4);
        let (a, b) = (addr("192.0.2.1:1701"), addr("192.0.2.2:1701"));
        let mut w0 = table.handle(0).unwrap().claim().unwrap();
        let mut w1 = table.handle(1).unwrap().claim().unwrap();
        w0.publish(a, 3);
        w1.publish(a, 2);
        w1.publish(b, 5);
        let mut totals = [0, 0];
        w0.shared().add_others(&[a, b], &mut totals);
        assert_eq!(totals, [2, 5]);
        let mut totals = [0, 0];
        table.handle(2).unwrap().add_others(&[a, b], &mut totals);
        assert_eq!(totals, [5, 5]);
        assert_eq!(table.total(a), 5);
        assert!(table.handle(3).is_none());
    }

    #[test]
    fn one_writer_per_row_and_a_dropped_writer_leaves_zeroes() {
        let table = LoadTable::new(2, 4);
        let handle = table.handle(0).unwrap();
        let mut writer = handle.claim().unwrap();
        assert!(handle.claim().is_none(), "one writer at a time");
        writer.publish(addr("192.0.2.1:1701"), 7);
        assert_eq!(table.total(addr("192.0.2.1:1701")), 7);
        drop(writer);
        assert_eq!(table.total(addr("192.0.2.1:1701")), 0);
        let mut writer = handle.claim().unwrap();
        // The old slot is reused rather than a new one.
        writer.publish(addr("192.0.2.9:1701"), 1);
        assert_eq!(table.rows[0].used.load(Ordering::Relaxed), 1);
        assert_eq!(table.total(addr("192.0.2.9:1701")), 1);
    }

    #[test]
    fn slots_are_reused_and_overflow_is_not_published() {
        let table = LoadTable::new(1, 2);
        let mut w = table.handle(0).unwrap().claim().unwrap();
        let (a, b, c) = (
            addr("192.0.2.1:1701"),
            addr("192.0.2.2:1701"),
            addr("192.0.2.3:1701"),
        );
        w.publish(a, 1);
        w.publish(b, 1);
        w.publish(c, 4);
        assert_eq!(table.total(c), 0, "no room: not published");
        w.publish(a, 0);
        assert_eq!(table.total(a), 0);
        // The next change of c finds a slot: absolute counts heal.
        w.publish(c, 5);
        assert_eq!((table.total(b), table.total(c)), (1, 5));
        assert_eq!(table.rows[0].used.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn readers_never_see_a_torn_slot_while_it_is_reassigned() {
        // The writer alternates one slot between two endpoints whose
        // counts identify them; a reader must never pair one endpoint with
        // the other's count.
        let table = LoadTable::new(2, 1);
        let (a, b) = (addr("192.0.2.1:1701"), addr("[2001:db8::2]:1702"));
        let reader = table.handle(1).unwrap();
        let writer = table.handle(0).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_writer = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut w = writer.claim().unwrap();
            while !stop_writer.load(Ordering::Relaxed) {
                w.publish(a, 1);
                w.publish(a, 0);
                w.publish(b, 2);
                w.publish(b, 0);
            }
        });
        for _ in 0..200_000 {
            let mut totals = [0, 0];
            reader.add_others(&[a, b], &mut totals);
            assert!(matches!(totals, [0 | 1, 0] | [0, 2]), "{totals:?}");
        }
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
    }
}
