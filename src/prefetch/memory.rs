//! The memory budget's books and the pool of spare chunk buffers.
//!
//! `held` counts chunk buffers (with data, or reserved for a request in flight) and the
//! pooled spare buffers; it never exceeds the limit. Bytes fetched straight into a caller's
//! buffer count nothing: they are the caller's memory.
//!
//! Spare full-size buffers are kept in a pool and reused, across objects too: a fresh buffer
//! costs a page fault and zeroing per page on first touch (on a VM about as much CPU as
//! receiving the bytes), a reused one nothing. The pool holds at most one round of requests'
//! worth of buffers while objects are open, and keeps them for [`POOL_GRACE`] after the last
//! object closes (loading shards one at a time closes one before opening the next); then an
//! idle connector holds no chunk memory.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::buffer::ChunkBuf;
use super::object::Buffer;

/// How long spare buffers outlive the last open object.
pub(super) const POOL_GRACE: Duration = Duration::from_secs(1);

pub(super) struct Memory {
    /// The full chunk size (the size of pooled buffers).
    pub full: u64,
    /// The most bytes held (data, reservations and pool).
    pub limit: u64,
    /// Spare full-size buffers.
    pub pool: Vec<ChunkBuf>,
    /// Buffers given up (already off the books), to be dropped once the lock is released:
    /// unmapping megabytes is not done while readers and fetchers wait for the lock.
    pub released: Vec<ChunkBuf>,
    /// Buffers dropped from their chunks while readers still copied from them. They stay on
    /// the books (the memory is still in use) and go to the pool once the last reader is
    /// done: unmapping them instead would make every reused chunk cost fresh page faults.
    pub lingering: Vec<Arc<Buffer>>,
    pub held: u64,
    /// The most bytes ever held outside the pool.
    pub peak_held: u64,
    /// Chunk buffers ever mapped (fresh memory), for tests and monitoring.
    pub buffers_created: u64,
}

impl Memory {
    pub(super) fn new(full: u64, limit: u64) -> Memory {
        Memory {
            full,
            limit,
            pool: Vec::new(),
            released: Vec::new(),
            lingering: Vec::new(),
            held: 0,
            peak_held: 0,
            buffers_created: 0,
        }
    }

    /// Bytes of the spare buffers.
    pub(super) fn pooled(&self) -> u64 {
        self.pool.len() as u64 * self.full
    }

    /// Is there room for a buffer of `need` bytes now (a pooled one, or new memory)?
    pub(super) fn fits(&self, need: u64) -> bool {
        (need == self.full && !self.pool.is_empty()) || self.held + need <= self.limit
    }

    /// Reserves a buffer of `len` bytes for a fetch (room was made): a pooled one when it is
    /// full-size, else `None` (the fetcher maps a new one, unlocked). Returns the buffer and
    /// the bytes reserved.
    pub(super) fn reserve(&mut self, len: usize) -> (Option<ChunkBuf>, u64) {
        let len = len as u64;
        if len == self.full {
            if let Some(b) = self.pool.pop() {
                return (Some(b), len);
            }
        }
        self.held += len;
        self.buffers_created += 1;
        let outside_pool = self.held - self.pooled();
        self.peak_held = self.peak_held.max(outside_pool);
        (None, len)
    }

    /// Returns a buffer's bytes to the budget, or the buffer to the pool when it is
    /// full-size. A buffer a reader still copies from lingers until the copy is done.
    pub(super) fn free(&mut self, buf: Arc<Buffer>) {
        let cap = buf.data.len() as u64;
        match Arc::try_unwrap(buf) {
            Ok(b) if cap == self.full => self.pool.push(b.data),
            Ok(b) => {
                self.held -= cap;
                self.released.push(b.data);
            }
            Err(shared) => {
                shared.lingering.store(true, Ordering::Release);
                self.lingering.push(shared);
            }
        }
    }

    /// Moves the lingering buffers no reader copies from any more to the pool (full-size
    /// ones) or off the books. Returns whether any was reclaimed.
    pub(super) fn reclaim_lingering(&mut self) -> bool {
        let before = self.lingering.len();
        let mut still = Vec::with_capacity(before);
        for b in std::mem::take(&mut self.lingering) {
            match Arc::try_unwrap(b) {
                Ok(b) if b.data.len() as u64 == self.full => self.pool.push(b.data),
                Ok(b) => {
                    self.held -= b.data.len() as u64;
                    self.released.push(b.data);
                }
                Err(b) => still.push(b),
            }
        }
        self.lingering = still;
        self.lingering.len() < before
    }

    /// Gives back the buffer of a fetch whose bytes are not kept.
    pub(super) fn discard(&mut self, data: ChunkBuf, reserved: u64) {
        if data.len() as u64 == self.full && reserved == self.full {
            self.pool.push(data);
        } else {
            self.held -= reserved;
            self.released.push(data);
        }
    }

    /// Gives one pooled buffer back to the system (to make room for a buffer of another
    /// size). Returns false if the pool is empty.
    pub(super) fn release_one(&mut self) -> bool {
        match self.pool.pop() {
            Some(b) => {
                self.held -= self.full;
                self.released.push(b);
                true
            }
            None => false,
        }
    }

    /// Keeps at most `keep` spare buffers.
    pub(super) fn trim(&mut self, keep: usize) {
        while self.pool.len() > keep && self.release_one() {}
    }
}

/// How many spare buffers to keep: one round of requests (`round` buffers) while objects
/// are open or for [`POOL_GRACE`] after the last one closed (`idle_since`), none after that.
pub(super) fn pool_keep(
    open_objects: usize,
    idle_since: Option<Instant>,
    now: Instant,
    round: usize,
) -> usize {
    match idle_since {
        _ if open_objects > 0 => round,
        Some(t) if now.saturating_duration_since(t) < POOL_GRACE => round,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: u64 = 4096;

    fn ready(len: u64) -> Arc<Buffer> {
        Buffer::new(ChunkBuf::new(len as usize))
    }

    #[test]
    fn full_size_buffers_are_reused_and_never_counted_twice() {
        let mut m = Memory::new(FULL, 4 * FULL);
        let (b, r) = m.reserve(FULL as usize);
        assert!(b.is_none() && r == FULL && m.held == FULL);
        // The fetch is done and the chunk read and dropped: its buffer goes to the pool,
        // still on the books.
        m.free(ready(FULL));
        assert_eq!((m.pool.len(), m.held, m.pooled()), (1, FULL, FULL));
        // The next full-size fetch takes it: no new memory, no new reservation.
        assert!(m.fits(FULL));
        let (b, r) = m.reserve(FULL as usize);
        assert!(b.is_some() && r == FULL && m.held == FULL && m.pool.is_empty());
        assert_eq!(m.peak_held, FULL);
    }

    #[test]
    fn the_limit_counts_reservations_pool_and_data() {
        let mut m = Memory::new(FULL, 2 * FULL);
        m.reserve(FULL as usize);
        m.reserve(FULL as usize);
        assert!(!m.fits(FULL) && !m.fits(1));
        // A short buffer cannot use a pooled one: giving one back makes room.
        m.free(ready(FULL));
        assert!(m.fits(FULL) && !m.fits(100));
        assert!(m.release_one());
        assert!(m.fits(100));
        assert_eq!(m.released.len(), 1, "dropped later, outside the lock");
        let (_, r) = m.reserve(100);
        m.discard(ChunkBuf::new(100), r);
        assert_eq!(m.held, FULL);
    }

    #[test]
    fn a_buffer_being_copied_lingers_until_the_copy_ends() {
        let mut m = Memory::new(FULL, 2 * FULL);
        m.reserve(FULL as usize);
        let b = ready(FULL);
        let reader_copy = Arc::clone(&b);
        m.free(b);
        assert!(reader_copy.lingering.load(Ordering::Acquire));
        assert!(
            m.pool.is_empty() && m.held == FULL,
            "still in use, still counted"
        );
        assert!(!m.reclaim_lingering());
        drop(reader_copy);
        assert!(m.reclaim_lingering());
        assert_eq!((m.pool.len(), m.held), (1, FULL));
    }

    #[test]
    fn spare_buffers_outlive_the_last_object_for_a_grace_period_only() {
        let now = Instant::now();
        assert_eq!(pool_keep(3, None, now, 16), 16);
        assert_eq!(pool_keep(0, Some(now), now, 16), 16, "just closed");
        let later = now + POOL_GRACE + Duration::from_millis(1);
        assert_eq!(pool_keep(0, Some(now), later, 16), 0, "idle: nothing kept");
        assert_eq!(pool_keep(1, Some(now), later, 16), 16, "open again");
        let mut m = Memory::new(FULL, 8 * FULL);
        for _ in 0..3 {
            m.reserve(FULL as usize);
            m.free(ready(FULL));
        }
        assert_eq!(
            (m.pool.len(), m.buffers_created),
            (1, 1),
            "one buffer, reused"
        );
        m.reserve(FULL as usize);
        m.reserve(FULL as usize);
        m.reserve(FULL as usize);
        for _ in 0..3 {
            m.free(ready(FULL));
        }
        assert_eq!((m.pool.len(), m.held), (3, 3 * FULL));
        m.trim(1);
        assert_eq!((m.pool.len(), m.held, m.released.len()), (1, FULL, 2));
    }
}
