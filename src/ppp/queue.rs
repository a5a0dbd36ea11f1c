//! The outgoing packets of a PPP core: a bounded first-in first-out queue
//! whose packets lie back to back in one buffer that is kept from packet to
//! packet, so that queueing a packet and handing it out through
//! `poll_transmit` allocate nothing once the buffer has grown to the usual
//! burst.
//!
//! [`super::fsm::Automaton`] queues its packets here and
//! [`super::Link`] its frames (each tagged with its PPP
//! [`Protocol`](crate::wire::ppp::Protocol)); both hand them out into a
//! caller-owned buffer, the crate's sans-IO shape. Packets can be written
//! in place ([`PacketQueue::push_with`], [`PacketQueue::push_control`]), so
//! moving a packet from one queue to the next is a single copy.

use std::collections::VecDeque;

use crate::wire::ppp::control::{Code, HEADER_LEN, MAX_PACKET_LEN, emit_header};

/// Buffer capacity kept when the queue empties. A larger buffer (grown by
/// a burst the driver did not poll) is given back then.
const RETAINED_CAPACITY: usize = 4096;

/// What [`PacketQueue::push_with`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The packet is queued.
    Queued,
    /// The packet is queued; the oldest one was dropped to keep the bound.
    QueuedDroppingOldest,
    /// The writer declined: nothing was queued.
    NotWritten,
}

impl Pushed {
    /// Whether the oldest packet was dropped.
    pub(crate) fn dropped_oldest(self) -> bool {
        self == Self::QueuedDroppingOldest
    }
}

/// A bounded FIFO of packets, each with metadata `M` (see the module
/// documentation).
#[derive(Debug)]
pub(crate) struct PacketQueue<M> {
    /// The queued packets, back to back; the oldest begins at `start`.
    bytes: Vec<u8>,
    /// Where the oldest packet begins in `bytes`.
    start: usize,
    /// Metadata and length of each packet, oldest first.
    packets: VecDeque<(M, usize)>,
    /// Packets kept at most.
    max_packets: usize,
}

impl<M: Copy> PacketQueue<M> {
    /// An empty queue holding at most `max_packets` packets (at least one);
    /// it allocates nothing until the first packet.
    pub(crate) fn new(max_packets: usize) -> Self {
        Self {
            bytes: Vec::new(),
            start: 0,
            packets: VecDeque::new(),
            max_packets: max_packets.max(1),
        }
    }

    /// The oldest packet and its metadata, left queued.
    pub(crate) fn front(&self) -> Option<(M, &[u8])> {
        let &(meta, len) = self.packets.front()?;
        Some((meta, &self.bytes[self.start..self.start + len]))
    }

    /// Removes the oldest packet.
    pub(crate) fn pop_front(&mut self) {
        let Some((_, len)) = self.packets.pop_front() else {
            return;
        };
        self.start += len;
        if self.packets.is_empty() {
            self.bytes.clear();
            self.start = 0;
            if self.bytes.capacity() > RETAINED_CAPACITY {
                self.bytes.shrink_to(RETAINED_CAPACITY);
            }
        }
    }

    /// Appends a packet of `len` octets that `fill` writes in place; `fill`
    /// returns whether it wrote them (if not, nothing is queued). A full
    /// queue drops its oldest packet to make room.
    pub(crate) fn push_with(
        &mut self,
        meta: M,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> bool,
    ) -> Pushed {
        self.compact();
        let at = self.bytes.len();
        self.bytes.resize(at + len, 0);
        if !fill(&mut self.bytes[at..]) {
            self.bytes.truncate(at);
            return Pushed::NotWritten;
        }
        self.packets.push_back((meta, len));
        if self.packets.len() > self.max_packets {
            // At least two packets are queued: this one stays.
            self.pop_front();
            return Pushed::QueuedDroppingOldest;
        }
        Pushed::Queued
    }

    /// Appends a copy of `packet` (see [`push_with`](Self::push_with)).
    pub(crate) fn push(&mut self, meta: M, packet: &[u8]) -> Pushed {
        self.push_with(meta, packet.len(), |slot| {
            slot.copy_from_slice(packet);
            true
        })
    }

    /// Appends a control packet (RFC 1661 §5: Code, Identifier, Length)
    /// whose data is the concatenation of `data`, written in place. Data
    /// past the 65,535 octets a Length can count is cut off.
    pub(crate) fn push_control(
        &mut self,
        meta: M,
        code: Code,
        identifier: u8,
        data: &[&[u8]],
    ) -> Pushed {
        let data_len = data
            .iter()
            .map(|part| part.len())
            .sum::<usize>()
            .min(MAX_PACKET_LEN - HEADER_LEN);
        self.push_with(meta, HEADER_LEN + data_len, |slot| {
            if emit_header(slot, u8::from(code), identifier, data_len).is_err() {
                return false;
            }
            let mut at = HEADER_LEN;
            for part in data {
                let take = part.len().min(slot.len() - at);
                slot[at..at + take].copy_from_slice(&part[..take]);
                at += take;
            }
            true
        })
    }

    /// Moves the live packets to the front of the buffer once the consumed
    /// part is at least as long as they are (amortised: each octet moved
    /// was preceded by one consumed).
    fn compact(&mut self) {
        if self.start > 0 && self.start * 2 >= self.bytes.len() {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<M: Copy>(queue: &mut PacketQueue<M>) -> Vec<(M, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((meta, packet)) = queue.front() {
            out.push((meta, packet.to_vec()));
            queue.pop_front();
        }
        out
    }

    #[test]
    fn first_in_first_out_with_metadata() {
        let mut queue = PacketQueue::new(8);
        assert!(queue.front().is_none());
        assert_eq!(queue.push(1, b"one"), Pushed::Queued);
        assert_eq!(queue.push(2, b""), Pushed::Queued);
        assert_eq!(queue.push(3, b"three"), Pushed::Queued);
        assert_eq!(queue.packets.len(), 3);
        assert_eq!(queue.front(), Some((1, &b"one"[..])));
        assert_eq!(
            drain(&mut queue),
            vec![
                (1, b"one".to_vec()),
                (2, Vec::new()),
                (3, b"three".to_vec())
            ]
        );
        assert!(queue.front().is_none());
        queue.pop_front();
        assert!(queue.packets.is_empty());
    }

    #[test]
    fn a_full_queue_drops_its_oldest_packet() {
        let mut queue = PacketQueue::new(2);
        assert_eq!(queue.push(1, b"a"), Pushed::Queued);
        assert_eq!(queue.push(2, b"bb"), Pushed::Queued);
        let pushed = queue.push(3, b"ccc");
        assert_eq!(pushed, Pushed::QueuedDroppingOldest);
        assert!(pushed.dropped_oldest());
        assert_eq!(
            drain(&mut queue),
            vec![(2, b"bb".to_vec()), (3, b"ccc".to_vec())]
        );
        // A bound of zero still holds one packet.
        let mut queue = PacketQueue::new(0);
        assert_eq!(queue.push(1, b"x"), Pushed::Queued);
        assert_eq!(queue.push(2, b"y"), Pushed::QueuedDroppingOldest);
        assert_eq!(drain(&mut queue), vec![(2, b"y".to_vec())]);
    }

    #[test]
    fn a_declining_writer_queues_nothing() {
        let mut queue = PacketQueue::new(4);
        queue.push(1, b"kept");
        assert_eq!(queue.push_with(2, 10, |_| false), Pushed::NotWritten);
        assert_eq!(
            queue.push_with(3, 2, |slot| {
                slot.copy_from_slice(b"ok");
                true
            }),
            Pushed::Queued
        );
        assert_eq!(
            drain(&mut queue),
            vec![(1, b"kept".to_vec()), (3, b"ok".to_vec())]
        );
    }

    #[test]
    fn control_packets_are_written_in_place() {
        let mut queue = PacketQueue::new(4);
        queue.push_control(0, Code::ProtocolReject, 7, &[&[0x80, 0x21], b"xyz"]);
        queue.push_control(0, Code::TerminateAck, 9, &[]);
        assert_eq!(
            drain(&mut queue),
            vec![
                (0, vec![8, 7, 0, 9, 0x80, 0x21, b'x', b'y', b'z']),
                (0, vec![6, 9, 0, 4]),
            ]
        );
        // Data past what Length counts is cut off.
        let big = vec![0xab; MAX_PACKET_LEN];
        queue.push_control(0, Code::EchoRequest, 1, &[&big, b"more"]);
        let (_, packet) = queue.front().unwrap();
        assert_eq!(packet.len(), MAX_PACKET_LEN);
        assert_eq!(&packet[..4], &[9, 1, 0xff, 0xff]);
    }

    #[test]
    fn the_buffer_is_reused_from_packet_to_packet() {
        let mut queue = PacketQueue::new(64);
        for round in 0..3u8 {
            for i in 0..10 {
                queue.push(round, &[i; 100]);
            }
            drain(&mut queue);
        }
        let (capacity, pointer) = (queue.bytes.capacity(), queue.bytes.as_ptr());
        // Steady traffic, polled or left queued for a while: no new buffer.
        for round in 0..1000u32 {
            queue.push(0, &round.to_be_bytes().repeat(20));
            if round % 7 == 6 {
                drain(&mut queue);
            }
        }
        drain(&mut queue);
        assert_eq!(queue.bytes.capacity(), capacity);
        assert_eq!(queue.bytes.as_ptr(), pointer);
    }

    #[test]
    fn a_long_unpolled_queue_stays_bounded_and_compacts() {
        let mut queue = PacketQueue::new(4);
        for i in 0..10_000u32 {
            queue.push(i, &i.to_be_bytes());
            if i % 3 == 0 {
                queue.pop_front();
            }
            assert!(queue.packets.len() <= 4);
            assert!(queue.bytes.len() - queue.start <= 4 * 4);
            assert!(queue.bytes.len() <= 2 * 4 * 4 + 4);
        }
        // 9999 pushed out 9995, then one pop took 9996.
        let kept: Vec<u32> = drain(&mut queue).into_iter().map(|(i, _)| i).collect();
        assert_eq!(kept, vec![9997, 9998, 9999]);
    }

    #[test]
    fn a_burst_buffer_is_given_back_when_the_queue_empties() {
        let mut queue = PacketQueue::new(128);
        for _ in 0..100 {
            queue.push(0, &[0; 1500]);
        }
        assert!(queue.bytes.capacity() >= 100 * 1500);
        drain(&mut queue);
        assert!(queue.bytes.capacity() <= RETAINED_CAPACITY);
    }
}
