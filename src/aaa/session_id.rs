//! Acct-Session-Id allocation, unique across restarts (RFC 2866 §5.5: "The
//! Acct-Session-Id SHOULD contain UTF-8 encoded 10646 characters" and must
//! identify the session uniquely; RFC 2866 §5.5 "it is strongly recommended
//! that the Acct-Session-Id be unique").
//!
//! An id is `BBBBBBBB-CCCCCCCC`: a boot epoch (hex) persisted in
//! `state_dir/boot-epoch` and incremented at every start, and a per-boot
//! counter (hex). Two boots never share an epoch, so ids never repeat even
//! when the clock jumps back.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// File holding the last boot epoch.
pub const EPOCH_FILE: &str = "boot-epoch";

/// Hands out Acct-Session-Ids; cheap to share (`&self`).
#[derive(Debug)]
pub struct SessionIdAllocator {
    epoch: u32,
    counter: AtomicU64,
}

impl SessionIdAllocator {
    /// Reads, increments and persists (fsynced, via rename) the boot epoch
    /// in `state_dir`.
    ///
    /// # Errors
    /// I/O errors on the state directory.
    pub fn open(state_dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(state_dir)?;
        let path = state_dir.join(EPOCH_FILE);
        let previous = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let epoch = previous.wrapping_add(1);
        let tmp = path.with_extension("tmp");
        {
            let file = std::fs::File::create(&tmp)?;
            io::Write::write_all(&mut &file, epoch.to_string().as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(state_dir)?.sync_all()?;
        Ok(Self::with_epoch(epoch))
    }

    /// An allocator with a given epoch (tests, or no state directory).
    #[must_use]
    pub const fn with_epoch(epoch: u32) -> Self {
        Self {
            epoch,
            counter: AtomicU64::new(0),
        }
    }

    /// The boot epoch.
    #[must_use]
    pub const fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:08X}-{n:08X}", self.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let a = SessionIdAllocator::open(dir.path()).unwrap();
        let first = a.next_id();
        assert_ne!(first, a.next_id());
        let b = SessionIdAllocator::open(dir.path()).unwrap();
        assert_eq!(b.epoch(), 2);
        assert_ne!(b.next_id(), first);
        assert_eq!(first, "00000001-00000000");
    }
}
