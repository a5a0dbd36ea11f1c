//! Durable accounting spool: an append-only log in `state_dir`, so that no
//! accounting record is lost across a RADIUS outage or a process restart
//! (RFC 2866 §2: the client "will continue to retransmit ... until it
//! receives an acknowledgement"; RFC 5080 §2.2.1 on Acct-Delay-Time).
//!
//! # File format
//!
//! `acct-spool.log`, one JSON object per line:
//!
//! * `{"Record":{"seq":N,"created_ms":T,"group":"G","record":{…}}}` — a
//!   record to deliver, `created_ms` = Unix time in ms when it was made
//!   (for Acct-Delay-Time after a restart);
//! * `{"Ack":{"seq":N}}` — record N was acknowledged by a server.
//!
//! A torn last line (a crash in the middle of a write) is ignored on load.
//! On open the log is compacted: the pending records are written to a
//! temporary file, fsynced and renamed over the log (then the directory is
//! fsynced). It is compacted again at run time when acknowledged entries
//! outnumber pending ones by far.
//!
//! # fsync policy
//!
//! * A record is written **and `fdatasync`ed before [`Spool::append`]
//!   returns**, and it is only sent after that: an acknowledged
//!   `account()` call survives a crash or power loss.
//! * An acknowledgement is written and `fdatasync`ed too; if the machine
//!   dies between the server's answer and that sync, the record is sent
//!   again after restart (a duplicate, which RADIUS servers must tolerate:
//!   RFC 2866 identifies a record by Acct-Session-Id and Acct-Status-Type).
//!
//! # Bound
//!
//! At most `max_records` pending records. Past 90 % a loud warning is
//! logged and [`SpoolLevel::NearFull`] returned; a full spool refuses new
//! records ([`SpoolError::Full`]) — the caller counts and logs the loss.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::request::AccountingRecord;

/// File name of the spool in the state directory.
pub const SPOOL_FILE: &str = "acct-spool.log";

/// One pending record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledRecord {
    /// Sequence number (delivery order).
    pub seq: u64,
    /// Unix time in milliseconds when the record was made.
    pub created_ms: u64,
    /// Accounting group it goes to.
    pub group: String,
    /// The record.
    pub record: AccountingRecord,
}

#[derive(Debug, Serialize, Deserialize)]
enum Entry {
    Record(Box<SpooledRecord>),
    Ack { seq: u64 },
}

/// Why a record could not be spooled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The spool holds `max_records` records.
    #[error("accounting spool full ({0} records)")]
    Full(u64),
    /// Writing failed.
    #[error("accounting spool I/O: {0}")]
    Io(#[from] io::Error),
}

/// Fill level after an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolLevel {
    /// Below 90 %.
    Normal,
    /// At or above 90 % of the bound.
    NearFull,
}

/// The spool.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    file: File,
    pending: BTreeMap<u64, SpooledRecord>,
    next_seq: u64,
    max_records: u64,
    acks_in_file: u64,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, loads the pending records and
    /// compacts the log.
    ///
    /// # Errors
    /// I/O errors creating or reading the directory or file.
    pub fn open(dir: &Path, max_records: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(SPOOL_FILE);
        let mut pending = BTreeMap::new();
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).split(b'\n') {
                let line = line?;
                match serde_json::from_slice::<Entry>(&line) {
                    Ok(Entry::Record(r)) => {
                        pending.insert(r.seq, *r);
                    }
                    Ok(Entry::Ack { seq }) => {
                        pending.remove(&seq);
                    }
                    Err(error) => {
                        if !line.is_empty() {
                            tracing::warn!(%error, "ignoring a torn or corrupt accounting spool line");
                        }
                    }
                }
            }
        }
        let next_seq = pending.keys().next_back().map_or(0, |s| s + 1);
        let file = Self::rewrite(&path, &pending)?;
        Ok(Self {
            path,
            file,
            pending,
            next_seq,
            max_records: max_records.max(1),
            acks_in_file: 0,
        })
    }

    fn rewrite(path: &Path, pending: &BTreeMap<u64, SpooledRecord>) -> io::Result<File> {
        let tmp = path.with_extension("tmp");
        {
            let mut out = io::BufWriter::new(File::create(&tmp)?);
            for record in pending.values() {
                serde_json::to_writer(&mut out, &Entry::Record(Box::new(record.clone())))?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            out.get_ref().sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        OpenOptions::new().append(true).open(path)
    }

    fn write_entry(&mut self, entry: &Entry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    /// Persists `record` (fsynced) and returns its sequence number and the
    /// fill level.
    ///
    /// # Errors
    /// [`SpoolError::Full`] at the bound, [`SpoolError::Io`] on write errors.
    pub fn append(
        &mut self,
        group: &str,
        record: AccountingRecord,
        created_ms: u64,
    ) -> Result<(u64, SpoolLevel), SpoolError> {
        let depth = self.pending.len() as u64;
        if depth >= self.max_records {
            return Err(SpoolError::Full(depth));
        }
        let spooled = SpooledRecord {
            seq: self.next_seq,
            created_ms,
            group: group.to_owned(),
            record,
        };
        self.write_entry(&Entry::Record(Box::new(spooled.clone())))?;
        self.next_seq += 1;
        let seq = spooled.seq;
        self.pending.insert(seq, spooled);
        let level = if (depth + 1) * 10 >= self.max_records * 9 {
            SpoolLevel::NearFull
        } else {
            SpoolLevel::Normal
        };
        Ok((seq, level))
    }

    /// Marks `seq` acknowledged (fsynced); compacts when worthwhile.
    ///
    /// # Errors
    /// I/O errors.
    pub fn ack(&mut self, seq: u64) -> io::Result<()> {
        if self.pending.remove(&seq).is_none() {
            return Ok(());
        }
        self.write_entry(&Entry::Ack { seq })?;
        self.acks_in_file += 1;
        if self.acks_in_file > 10_000 && self.acks_in_file > 4 * self.pending.len() as u64 {
            self.file = Self::rewrite(&self.path, &self.pending)?;
            self.acks_in_file = 0;
        }
        Ok(())
    }

    /// A pending record.
    #[must_use]
    pub fn get(&self, seq: u64) -> Option<&SpooledRecord> {
        self.pending.get(&seq)
    }

    /// Pending sequence numbers, oldest first.
    pub fn pending_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.pending.keys().copied()
    }

    /// Number of pending records.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.pending.len()
    }

    /// Creation time (Unix ms) of the oldest pending record.
    #[must_use]
    pub fn oldest_created_ms(&self) -> Option<u64> {
        self.pending.values().next().map(|r| r.created_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aaa::request::{AcctStatusType, SessionInfo};

    fn record(n: u32) -> AccountingRecord {
        let mut r = AccountingRecord::new(
            AcctStatusType::Start,
            Some(format!("user{n}")),
            SessionInfo::default(),
        );
        r.session_time = Some(n);
        r
    }

    #[test]
    fn records_survive_reopen_until_acked_and_torn_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 10).unwrap();
        for n in 0..4 {
            assert_eq!(
                spool.append("g", record(n), 1000 + u64::from(n)).unwrap().0,
                u64::from(n)
            );
        }
        spool.ack(1).unwrap();
        spool.ack(1).unwrap();
        drop(spool);
        // A crash in the middle of a write.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(SPOOL_FILE))
            .unwrap();
        f.write_all(b"{\"Record\":{\"seq\":9,\"crea").unwrap();
        drop(f);
        let mut spool = Spool::open(dir.path(), 10).unwrap();
        assert_eq!(spool.pending_seqs().collect::<Vec<_>>(), [0, 2, 3]);
        assert_eq!(spool.oldest_created_ms(), Some(1000));
        assert_eq!(spool.get(3).unwrap().record, record(3));
        // Sequence numbers keep growing.
        assert_eq!(spool.append("g", record(7), 5).unwrap().0, 4);
    }

    #[test]
    fn bound_warns_then_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 10).unwrap();
        for n in 0..8 {
            assert_eq!(
                spool.append("g", record(n), 0).unwrap().1,
                SpoolLevel::Normal
            );
        }
        assert_eq!(
            spool.append("g", record(8), 0).unwrap().1,
            SpoolLevel::NearFull
        );
        spool.append("g", record(9), 0).unwrap();
        assert!(matches!(
            spool.append("g", record(10), 0),
            Err(SpoolError::Full(10))
        ));
        spool.ack(0).unwrap();
        assert!(spool.append("g", record(10), 0).is_ok());
    }
}
