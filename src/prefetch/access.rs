//! How an object is being read: in order (prefetch ahead of the reader), after a seek (fetch
//! what the read needs first, then carry on in order from there), at random (fetch only what
//! is read), or from the start again after a reader went through it (a second pass: prefetch
//! it again in open order).
//!
//! Pure bookkeeping: [`Access::on_read`] says what a read means, and the scheduler acts on it.

use super::object::ChunkIndex;

/// Reads that jump to another place in an object before it counts as read at random. Two,
/// so that reading a header at the end and going back to the start is still sequential.
pub(super) const RANDOM_AFTER_JUMPS: u32 = 2;

/// In-order chunk boundaries a randomly read object must cross before its prefetching resumes.
pub(super) const SEQUENTIAL_AFTER_CHUNKS: u32 = 4;

/// The access pattern of one object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Access {
    /// Where the last read ended: a read elsewhere (beyond the neighbouring chunk) is a jump.
    pub next_offset: u64,
    /// Jumps so far; at [`RANDOM_AFTER_JUMPS`] the object is read at random.
    pub jumps: u32,
    /// Read at random: its chunks are fetched when read, exactly the bytes read.
    pub random: bool,
    /// Chunk boundaries crossed by consecutive in-order reads since the last jump.
    pub streak: u32,
    /// The chunk the last read started in.
    pub last_chunk: u64,
}

/// What a read means for prefetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadKind {
    /// Where the previous read ended (or next to it): the prefetcher is on its way.
    InOrder,
    /// In order again after reading at random: queue the object's chunks from `from` on.
    BackInOrder { from: ChunkIndex },
    /// A seek: fetch what this read needs first, then carry on in order from `from`.
    Jump { from: ChunkIndex },
    /// From the start of an object a reader already went through: a second pass. Queue the
    /// whole object again.
    Rewind,
    /// A seek, and the object is read at random from now on: its queued chunks leave the
    /// queue; fetch exactly what is read.
    BecameRandom,
    /// Another read of an object read at random.
    Random,
}

impl ReadKind {
    /// Does this read fetch exactly its own bytes (no chunk it only partly needs)?
    pub(super) fn exact(self) -> bool {
        matches!(
            self,
            ReadKind::Jump { .. } | ReadKind::BecameRandom | ReadKind::Random
        )
    }
}

impl Access {
    /// A read starts at `offset` (chunks of `chunk_size`); `read_through` says a reader has
    /// already reached the object's end.
    pub(super) fn on_read(&mut self, offset: u64, chunk_size: u64, read_through: bool) -> ReadKind {
        let (at, expected) = (offset / chunk_size, self.next_offset / chunk_size);
        let previous_chunk = std::mem::replace(&mut self.last_chunk, at);
        if offset == self.next_offset || at.abs_diff(expected) <= 1 {
            if at != previous_chunk {
                self.streak += 1;
                if self.random && self.streak >= SEQUENTIAL_AFTER_CHUNKS {
                    self.random = false;
                    self.jumps = 0;
                    return ReadKind::BackInOrder { from: at };
                }
            }
            return if self.random {
                ReadKind::Random
            } else {
                ReadKind::InOrder
            };
        }
        self.streak = 0;
        // Repeated attempts at the same place (timed-out waits) are one jump.
        self.next_offset = offset;
        if offset == 0 && read_through {
            // The document's own second loop: `seek(0)` on every shard, read again in order.
            self.jumps = 0;
            self.random = false;
            return ReadKind::Rewind;
        }
        self.jumps += 1;
        if self.random {
            return ReadKind::Random;
        }
        if self.jumps >= RANDOM_AFTER_JUMPS {
            self.random = true;
            return ReadKind::BecameRandom;
        }
        ReadKind::Jump { from: at }
    }

    /// A read ended at `offset`.
    pub(super) fn read_ended(&mut self, offset: u64) {
        self.next_offset = offset;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: u64 = 100;

    #[test]
    fn reading_in_order_stays_in_order() {
        let mut a = Access::default();
        for i in 0..10 {
            assert_eq!(a.on_read(i * 40, C, false), ReadKind::InOrder);
            a.read_ended(i * 40 + 40);
        }
        assert!(!a.random);
    }

    #[test]
    fn a_header_at_the_end_then_the_start_is_one_jump_and_two_are_random() {
        let mut a = Access::default();
        // safetensors: header first (offset 0), then a tensor far away: one jump.
        assert_eq!(a.on_read(0, C, false), ReadKind::InOrder);
        a.read_ended(8);
        assert_eq!(a.on_read(5_000, C, false), ReadKind::Jump { from: 50 });
        a.read_ended(5_100);
        // A neighbouring chunk is still in order.
        assert_eq!(a.on_read(5_150, C, false), ReadKind::InOrder);
        a.read_ended(5_200);
        assert!(ReadKind::Jump { from: 0 }.exact() && !ReadKind::InOrder.exact());
        // A second jump: random from now on, and later reads too.
        assert_eq!(a.on_read(100, C, false), ReadKind::BecameRandom);
        a.read_ended(200);
        assert_eq!(a.on_read(9_000, C, false), ReadKind::Random);
        a.read_ended(9_010);
        assert!(a.random);
    }

    #[test]
    fn a_timed_out_read_retried_at_the_same_place_is_one_jump() {
        let mut a = Access::default();
        assert_eq!(a.on_read(5_000, C, false), ReadKind::Jump { from: 50 });
        // No read_ended: the wait timed out; the same read comes again.
        assert_eq!(a.on_read(5_000, C, false), ReadKind::InOrder);
        assert_eq!(a.jumps, 1);
    }

    #[test]
    fn reading_in_order_after_random_reads_resumes_prefetching() {
        let mut a = Access::default();
        a.on_read(5_000, C, false);
        a.read_ended(5_010);
        assert_eq!(a.on_read(90_000, C, false), ReadKind::BecameRandom);
        a.read_ended(90_050);
        let mut kinds = Vec::new();
        // The first read is in the chunk the jump landed in: no boundary crossed yet.
        for i in 0..=SEQUENTIAL_AFTER_CHUNKS as u64 {
            let off = 90_050 + i * C;
            kinds.push(a.on_read(off, C, false));
            a.read_ended(off + C);
        }
        assert_eq!(kinds.last(), Some(&ReadKind::BackInOrder { from: 904 }));
        assert!(kinds[..kinds.len() - 1]
            .iter()
            .all(|k| *k == ReadKind::Random));
        assert!(!a.random && a.jumps == 0);
    }

    #[test]
    fn reading_from_the_start_again_after_reading_through_is_a_second_pass() {
        let mut a = Access::default();
        for i in 0..10 {
            a.on_read(i * C, C, false);
            a.read_ended(i * C + C);
        }
        assert_eq!(a.on_read(0, C, true), ReadKind::Rewind);
        assert_eq!(a.jumps, 0, "a second pass is not a step towards random");
        a.read_ended(C);
        assert_eq!(a.on_read(C, C, true), ReadKind::InOrder);
        // Without having read through, going back to 0 is an ordinary jump.
        let mut b = Access::default();
        b.on_read(0, C, false);
        b.read_ended(500);
        assert_eq!(b.on_read(0, C, false), ReadKind::Jump { from: 0 });
    }
}
