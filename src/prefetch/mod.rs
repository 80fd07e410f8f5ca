//! The prefetcher: fetches the chunks of open objects in open order with many ranged GETs in
//! flight, holds them in memory within a byte budget, verifies them against the object's
//! CRC-64, and hands them to readers.
//!
//! # Scheduling
//! Opening an object queues all its chunks (`prefetch.chunk_size` bytes each) behind those of
//! the objects opened before. A pool of blocking fetcher threads (spawned lazily) takes chunks
//! from the queue, as many requests in flight as pay (see [`pace`]), at most
//! `prefetch.max_in_flight()`.
//! A read that needs a chunk not fetched yet moves it to an urgent queue served first; the
//! reader then sleeps on a condition variable until the chunk arrives (never spins). Such a
//! chunk is fetched at once even when every paced slot is busy, and when it is out of open
//! order (a seek) no new prefetch request starts until it is in, so the read gets the
//! bandwidth. An object read at random (two jumps) leaves the prefetch queue: its chunks are
//! fetched as they are read, a read's chunks all at once; in-order reading brings it back.
//!
//! # Memory
//! Every byte of a chunk buffer counts against `prefetch.memory_limit` from the moment its
//! request is sent (a reservation) until the buffer is freed; fetchers wait for room. While
//! readers keep reading, fetched-but-unread bytes stay within one round of requests (see
//! [`READER_AWAY`]); the whole limit is for readers that go away to process what they read.
//! When room
//! is needed, chunks already read are dropped first (least recently read first) and fetched
//! again only if read again. A fetch a reader is waiting for may also drop prefetched chunks
//! nobody is waiting for, latest in open order first; those go back into the queue. Freed
//! full-size buffers are kept for reuse (saving page faults), and they count against the
//! limit too; but only as many as there are chunks still queued, and none once no object is
//! open.
//!
//! Buffers are anonymous memory mappings (see [`buffer`]): a buffer that is not kept goes
//! back to the operating system as soon as it is dropped, so the process's resident memory
//! falls with the prefetcher's books. They are dropped after the lock is released.
//!
//! Closing an object (dropping its reader) frees its buffers at once, removes its queued
//! chunks, and cancels its requests in flight (they stop at their next socket read, and their
//! bytes are discarded). Dropping the prefetcher stops and joins every thread.
//!
//! # Integrity
//! When the server sends `x-oss-hash-crc64ecma`, each chunk's CRC-64 is computed as its bytes
//! arrive and the chunk CRCs are combined into the whole object's CRC (no second pass over
//! the data). Two policies decide when a reader may see a chunk:
//!
//! * **Held objects** (size at most `prefetch.hold_limit` and at most half the memory limit):
//!   no byte is released to a reader until every chunk of the object was fetched and the
//!   combined CRC equals the header. A corrupted byte therefore never reaches the caller. The
//!   price is memory (the whole object) and time to first byte (the whole object's fetch), so
//!   by default only small objects (configs, tokenizers, small shards) are held.
//! * **Streamed objects** (larger): chunks are released as they arrive, except the object's
//!   final chunk, which is released only once the whole-object CRC is verified. A corrupted
//!   chunk may thus be copied to the caller, but the read of the object can never complete
//!   without an error: the final bytes are withheld and the failure is reported instead.
//!
//! On a mismatch every chunk is fetched once more (keeping the CRCs of both fetches). If the
//! second fetch's combined CRC matches, its data is used; chunks whose two CRCs differ were the
//! corrupted ones, and if any of them had already been copied to a caller (streamed objects
//! only) the object fails with [`ErrorKind::Corrupted`]. If the second fetch does not match
//! either, the object fails with [`ErrorKind::Corrupted`]. Once an object is verified its chunk
//! CRCs are kept, so a chunk fetched again after being dropped is checked on its own (and
//! fetched again, within the retry budget, on a mismatch). Without a CRC header there is no
//! check.

mod buffer;
mod crc;
pub(crate) mod fetch;
mod pace;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::client::{CancelToken, Client};
use crate::config::PrefetchConfig;
use crate::error::{Error, ErrorKind, Result};
use buffer::ChunkBuf;
pub(crate) use fetch::ObjectMeta;

/// Stack size of fetcher threads: they run ureq (and rustls) and little else.
const FETCHER_STACK: usize = 1 << 20;

/// Reads that jump to another place in an object before it counts as read at random. Two,
/// so that reading a header at the end and going back to the start is still sequential.
const RANDOM_AFTER_JUMPS: u32 = 2;

/// In-order chunk boundaries a randomly read object must cross before its prefetching resumes.
const SEQUENTIAL_AFTER_CHUNKS: u32 = 4;

/// A reader that has not read for this long is away (processing what it read): prefetching
/// may then fill the memory limit. While readers keep reading, fetched-but-unread bytes stay
/// within one round of requests: more would not arrive sooner, but it would cost fresh memory
/// (page faults) and CPU that the readers need.
const READER_AWAY: std::time::Duration = std::time::Duration::from_millis(50);

/// A read bigger than this, spanning several chunks, is copied by several threads.
const PARALLEL_COPY_MIN: usize = 32 << 20;

/// Gauges and counters of the prefetcher, for tests and monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefetchStats {
    /// Bytes in chunk buffers now: fetched data plus reservations of requests in flight.
    pub bytes_held: u64,
    /// The most `bytes_held` ever was.
    pub peak_bytes_held: u64,
    /// Of `bytes_held`, the reservations of requests in flight.
    pub bytes_in_flight: u64,
    /// Bytes of spare buffers kept for reuse (also within the memory limit).
    pub bytes_pooled: u64,
    /// The configured limit on `bytes_held + bytes_pooled`.
    pub memory_limit: u64,
    /// Ranged GETs in flight now.
    pub requests_in_flight: usize,
    /// The most requests that were ever in flight at once.
    pub peak_requests_in_flight: usize,
    /// Chunk fetches completed (successful or not).
    pub chunks_fetched: u64,
    /// Fetches of chunks that had been fetched before (dropped and read again, or fetched
    /// again after a CRC mismatch).
    pub chunks_refetched: u64,
    /// Whole-object or per-chunk CRC mismatches seen.
    pub crc_mismatches: u64,
    /// Fetcher threads alive.
    pub threads: usize,
    /// Objects open (readers not yet dropped).
    pub open_objects: usize,
}

/// Where a chunk's data is.
enum Slot {
    /// Not queued and no data (never fetched, dropped after being read, or cancelled).
    Empty,
    /// In the queue.
    Queued,
    /// A fetcher is fetching it.
    InFlight,
    /// Fetched.
    Ready(Arc<Buffer>),
}

/// A chunk buffer; its length counts against the memory limit.
struct Buffer {
    data: ChunkBuf,
    /// Dropped from its chunk while a reader still copied from it: it waits in
    /// [`Memory::lingering`] for that reader to finish.
    lingering: AtomicBool,
}

impl Buffer {
    fn new(data: ChunkBuf) -> Arc<Buffer> {
        Arc::new(Buffer {
            data,
            lingering: AtomicBool::new(false),
        })
    }
}

struct Chunk {
    slot: Slot,
    /// CRC of this chunk in the current verification round (or the verified CRC).
    crc: Option<u64>,
    /// CRC seen in the first round, kept after a mismatch to find the corrupted chunks.
    first_round_crc: Option<u64>,
    /// Some bytes of it were copied to a caller (in the current round).
    delivered: bool,
    /// Was delivered in the first round.
    delivered_first_round: bool,
    /// Read to its end: the first candidate for dropping.
    consumed: bool,
    /// Has been fetched at least once.
    fetched_before: bool,
    /// Per-chunk CRC mismatches after the object was verified.
    failures: u32,
}

struct Object {
    meta: Arc<ObjectMeta>,
    cancel: CancelToken,
    chunk_size: u64,
    chunks: Vec<Chunk>,
    /// Whole-object release (see the module docs).
    hold: bool,
    /// The combined CRC matched (or there is no CRC to check).
    verified: bool,
    /// 1, or 2 after a whole-object mismatch.
    round: u8,
    /// Chunks whose CRC of the current round is not known yet.
    crcs_missing: usize,
    /// Readers blocked on this object.
    waiting: usize,
    /// Chunks a blocked reader needs the data of.
    demanded: BTreeSet<u32>,
    error: Option<Error>,
    /// Where the last read ended: a read elsewhere (beyond the neighbouring chunk) is a jump.
    next_offset: u64,
    /// Jumps so far; at [`RANDOM_AFTER_JUMPS`] the object is read at random.
    jumps: u32,
    /// Reads at random: its chunks are fetched when read, not in open order.
    random: bool,
    /// Chunk boundaries crossed by consecutive in-order reads since the last jump.
    streak: u32,
    /// The chunk the last read started in.
    last_chunk: u64,
}

impl Object {
    fn chunk_range(&self, idx: u32) -> (u64, usize) {
        let start = u64::from(idx) * self.chunk_size;
        let len = (self.meta.size - start).min(self.chunk_size) as usize;
        (start, len)
    }

    fn last_index(&self) -> u32 {
        (self.chunks.len() as u32).saturating_sub(1)
    }

    /// May a reader see chunk `idx` now?
    fn releasable(&self, idx: u32) -> bool {
        matches!(self.chunks[idx as usize].slot, Slot::Ready(_))
            && (self.verified || (!self.hold && idx != self.last_index()))
    }
}

/// The memory budget's books. `held` counts chunk buffers (with data or reserved for a
/// request in flight) and the pooled spare buffers; it never exceeds the limit.
struct Memory {
    /// The full chunk size (the size of pooled buffers).
    full: u64,
    /// Spare full-size buffers.
    pool: Vec<ChunkBuf>,
    /// Buffers given up (already off the books), to be dropped once the lock is released:
    /// unmapping megabytes is not done while readers and fetchers wait for the lock.
    released: Vec<ChunkBuf>,
    /// Buffers dropped from their chunks while readers still copied from them. They stay on
    /// the books (the memory is still in use) and go to the pool once the last reader is
    /// done: unmapping them instead would make every reused chunk cost fresh page faults.
    lingering: Vec<Arc<Buffer>>,
    held: u64,
    /// The most bytes ever held outside the pool.
    peak_held: u64,
}

struct State {
    mem: Memory,
    objects: HashMap<u64, Object>,
    next_id: u64,
    /// Chunks in open order: (object id, chunk index). Ids grow with open order.
    queue: BTreeSet<(u64, u32)>,
    /// Chunks a reader waits for; may hold stale entries (checked when taken).
    urgent: VecDeque<(u64, u32)>,
    /// Chunks read to their end, least recently first; may hold stale entries.
    consumed: VecDeque<(u64, u32)>,
    /// Chunks a reader blocked on out of open order (a seek ahead or back): while they are
    /// fetched, no new prefetch request starts, so the read gets the bandwidth. May hold
    /// stale entries (dropped when the chunk is taken or its object closed).
    jumped: std::collections::HashSet<(u64, u32)>,
    /// Requests in flight for such chunks.
    jumped_in_flight: usize,
    /// When a reader last asked for bytes.
    last_read: Option<Instant>,
    /// A fetcher found enough unread bytes while readers were reading (see [`READER_AWAY`]):
    /// idle fetchers look again once the readers may have gone away.
    ahead_of_readers: bool,
    in_flight_bytes: u64,
    in_flight: usize,
    /// How many requests may be in flight now (at most the configured `vcpus × workers`).
    pace: pace::Pace,
    peak_in_flight: usize,
    threads: usize,
    idle: usize,
    shutdown: bool,
    chunks_fetched: u64,
    chunks_refetched: u64,
    crc_mismatches: u64,
}

/// What the fetcher threads share with the readers.
struct Shared {
    client: Arc<Client>,
    chunk_size: u64,
    memory_limit: u64,
    /// Objects up to this size are released only once verified (see the module docs).
    hold_limit: u64,
    state: Mutex<State>,
    /// Fetcher threads, joined when the prefetcher is dropped. Fetchers start siblings too
    /// (when more requests in flight pay), so the list is shared.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Fetchers wait here for work or room.
    work: Condvar,
    /// Readers wait here for chunks.
    data: Condvar,
}

/// The prefetcher of one connector.
pub(crate) struct Prefetcher {
    shared: Arc<Shared>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Prefetcher {
    pub(crate) fn new(client: Arc<Client>, cfg: &PrefetchConfig) -> Prefetcher {
        let chunk_size = cfg.chunk_size.max(1) as u64;
        let memory_limit = (cfg.memory_limit as u64).max(chunk_size);
        Prefetcher {
            shared: Arc::new(Shared {
                client,
                chunk_size,
                memory_limit,
                hold_limit: cfg.hold_limit as u64,
                state: Mutex::new(State {
                    mem: Memory {
                        full: chunk_size,
                        pool: Vec::new(),
                        released: Vec::new(),
                        lingering: Vec::new(),
                        held: 0,
                        peak_held: 0,
                    },
                    objects: HashMap::new(),
                    next_id: 1,
                    queue: BTreeSet::new(),
                    urgent: VecDeque::new(),
                    consumed: VecDeque::new(),
                    jumped: std::collections::HashSet::new(),
                    jumped_in_flight: 0,
                    last_read: None,
                    ahead_of_readers: false,
                    in_flight_bytes: 0,
                    in_flight: 0,
                    pace: pace::Pace::new(cfg.max_in_flight()),
                    peak_in_flight: 0,
                    threads: 0,
                    idle: 0,
                    shutdown: false,
                    chunks_fetched: 0,
                    chunks_refetched: 0,
                    crc_mismatches: 0,
                }),
                work: Condvar::new(),
                data: Condvar::new(),
                threads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Registers an open object and queues all its chunks behind those opened before.
    pub(crate) fn open(&self, meta: Arc<ObjectMeta>) -> Result<u64> {
        let sh = &self.shared;
        let n_chunks = meta.size.div_ceil(sh.chunk_size) as usize;
        let hold = meta.crc64.is_some() && meta.size <= sh.hold_limit.min(sh.memory_limit / 2);
        let mut st = sh.lock();
        if st.shutdown {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the connector was shut down",
            ));
        }
        if st.queue.is_empty() && st.urgent.is_empty() && st.in_flight == 0 {
            st.pace.restart();
        }
        let id = st.next_id;
        st.next_id += 1;
        let mut obj = Object {
            meta,
            cancel: CancelToken::new(),
            chunk_size: sh.chunk_size,
            chunks: (0..n_chunks)
                .map(|_| Chunk {
                    slot: Slot::Queued,
                    crc: None,
                    first_round_crc: None,
                    delivered: false,
                    delivered_first_round: false,
                    consumed: false,
                    fetched_before: false,
                    failures: 0,
                })
                .collect(),
            hold,
            verified: false,
            round: 1,
            crcs_missing: n_chunks,
            waiting: 0,
            demanded: BTreeSet::new(),
            error: None,
            next_offset: 0,
            jumps: 0,
            random: false,
            streak: 0,
            last_chunk: 0,
        };
        match obj.meta.crc64 {
            None => obj.verified = true,
            Some(expected) if n_chunks == 0 && expected != 0 => {
                obj.error = Some(corrupted(
                    &obj.meta,
                    "the object is empty but its CRC-64 is not 0".into(),
                ));
            }
            Some(_) if n_chunks == 0 => obj.verified = true,
            Some(_) => {}
        }
        log::debug!(
            "open oss://{}/{}: {} bytes in {} chunks, {}",
            obj.meta.bucket,
            obj.meta.key,
            obj.meta.size,
            n_chunks,
            if obj.meta.crc64.is_none() {
                "no CRC-64 to check"
            } else if hold {
                "released once its CRC-64 is verified"
            } else {
                "streamed, final chunk released once its CRC-64 is verified"
            }
        );
        for i in 0..n_chunks as u32 {
            st.queue.insert((id, i));
        }
        st.objects.insert(id, obj);
        let n = spawn_count(&st, n_chunks);
        spawn(sh, &mut st, n);
        drop(st);
        sh.work.notify_all();
        Ok(id)
    }

    /// Closes an object: frees its buffers, drops its queued chunks, cancels its requests.
    pub(crate) fn close(&self, id: u64) {
        let sh = &self.shared;
        let mut st = sh.lock();
        let Some(obj) = st.objects.remove(&id) else {
            return;
        };
        obj.cancel.cancel();
        st.jumped.retain(|&(o, _)| o != id);
        for (i, c) in obj.chunks.into_iter().enumerate() {
            match c.slot {
                Slot::Queued => {
                    st.queue.remove(&(id, i as u32));
                }
                Slot::Ready(buf) => free_buffer(&mut st.mem, buf),
                Slot::InFlight | Slot::Empty => {}
            }
        }
        trim_pool(&mut st);
        unlock(st);
        sh.work.notify_all();
        sh.data.notify_all();
    }

    /// Current gauges and counters.
    pub(crate) fn stats(&self) -> PrefetchStats {
        let sh = &self.shared;
        let st = sh.lock();
        let pooled = st.mem.pool.len() as u64 * sh.chunk_size;
        PrefetchStats {
            bytes_held: st.mem.held - pooled,
            peak_bytes_held: st.mem.peak_held,
            bytes_in_flight: st.in_flight_bytes,
            bytes_pooled: pooled,
            memory_limit: sh.memory_limit,
            requests_in_flight: st.in_flight,
            peak_requests_in_flight: st.peak_in_flight,
            chunks_fetched: st.chunks_fetched,
            chunks_refetched: st.chunks_refetched,
            crc_mismatches: st.crc_mismatches,
            threads: st.threads,
            open_objects: st.objects.len(),
        }
    }

    /// Reads up to `buf.len()` bytes of object `id` at `offset`. Blocks until at least one
    /// byte is available, or until `deadline` (then returns `Ok(None)`). Returns `Some(0)` at
    /// or past the end of the object.
    pub(crate) fn read_at(
        &self,
        id: u64,
        offset: u64,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<Option<usize>> {
        let sh = &self.shared;
        let mut st = sh.lock();
        st.last_read = Some(Instant::now());
        if follow_access_pattern(&mut st, id, offset, sh.chunk_size) {
            // Prefetching resumed: idle fetchers (and new ones, up to the pace) take it up.
            let n = spawn_count(&st, st.queue.len());
            spawn(sh, &mut st, n);
            sh.work.notify_all();
        }
        let mut waiting_registered = false;
        let result = loop {
            if st.shutdown {
                break Err(Error::new(
                    ErrorKind::Cancelled,
                    "the connector was shut down",
                ));
            }
            let Some(obj) = st.objects.get(&id) else {
                break Err(Error::new(ErrorKind::Cancelled, "the object was closed"));
            };
            if let Some(e) = &obj.error {
                break Err(e.clone());
            }
            let size = obj.meta.size;
            if offset >= size || buf.is_empty() {
                break Ok(Some(0));
            }
            let want = buf.len().min((size - offset) as usize);
            // Collect the releasable chunks covering [offset, offset + want).
            let mut segments: Vec<(Arc<Buffer>, usize, usize)> = Vec::new();
            let mut pos = offset;
            let end = offset + want as u64;
            while pos < end {
                let idx = (pos / sh.chunk_size) as u32;
                if !obj.releasable(idx) {
                    break;
                }
                let (cstart, clen) = obj.chunk_range(idx);
                let Slot::Ready(b) = &obj.chunks[idx as usize].slot else {
                    break;
                };
                let from = (pos - cstart) as usize;
                let n = (clen - from).min((end - pos) as usize);
                segments.push((Arc::clone(b), from, n));
                pos += n as u64;
            }
            if !segments.is_empty() {
                // Mark delivered / consumed.
                let first_idx = (offset / sh.chunk_size) as u32;
                let obj = st.objects.get_mut(&id).expect("object checked above");
                let mut consumed_now = Vec::new();
                for (k, (_, from, n)) in segments.iter().enumerate() {
                    let idx = first_idx + k as u32;
                    let clen = obj.chunk_range(idx).1;
                    let c = &mut obj.chunks[idx as usize];
                    c.delivered = true;
                    if from + n == clen && !c.consumed {
                        c.consumed = true;
                        consumed_now.push((id, idx));
                    }
                }
                if waiting_registered {
                    obj.waiting -= 1;
                    if obj.waiting == 0 {
                        obj.demanded.clear();
                    }
                }
                obj.next_offset = offset + segments.iter().map(|s| s.2).sum::<usize>() as u64;
                let freed_room = !consumed_now.is_empty();
                st.consumed.extend(consumed_now);
                drop(st);
                if freed_room {
                    sh.work.notify_one();
                }
                // The copy runs unlocked: the segments keep their buffers alive.
                let n = copy_segments(&segments, &mut buf[..want]);
                let dropped_meanwhile = segments
                    .iter()
                    .any(|(b, _, _)| b.lingering.load(Ordering::Acquire));
                drop(segments);
                if dropped_meanwhile {
                    // This reader may have held the last reference: hand the buffers on.
                    let mut st = sh.lock();
                    if reclaim_lingering(&mut st.mem) {
                        trim_pool(&mut st);
                        sh.work.notify_one();
                    }
                    unlock(st);
                }
                return Ok(Some(n));
            }
            // Nothing to copy yet: make sure what we need is being fetched first.
            let idx = (offset / sh.chunk_size) as u32;
            if !waiting_registered {
                waiting_registered = true;
                let obj = st.objects.get_mut(&id).expect("object checked above");
                obj.waiting += 1;
            }
            let last = ((offset + want as u64 - 1) / sh.chunk_size) as u32;
            self.demand(&mut st, id, idx, last);
            if let Some(d) = deadline {
                let now = Instant::now();
                if now >= d {
                    break Ok(None);
                }
                st = sh
                    .data
                    .wait_timeout(st, d - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            } else {
                st = sh.data.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        if waiting_registered {
            if let Some(o) = st.objects.get_mut(&id) {
                o.waiting -= 1;
                if o.waiting == 0 {
                    o.demanded.clear();
                }
            }
        }
        result
    }

    /// Moves what a blocked reader of chunk `idx` needs to the urgent queue: the chunk itself,
    /// and, while the object is unverified and the chunk is held back for the CRC check, every
    /// chunk whose CRC is still unknown.
    fn demand(&self, st: &mut MutexGuard<'_, State>, id: u64, idx: u32, last: u32) {
        // A randomly read object is not prefetched: ask for the whole read at once (up to a
        // round of requests), so that a big read is fetched in parallel. In open order the
        // prefetcher is already on its way.
        let random = st.objects.get(&id).is_some_and(|o| o.random);
        let last = if random {
            last.min(idx.saturating_add(st.pace.limit() as u32 - 1))
        } else {
            idx
        };
        // The chunk next in open order is not a jump: a sequential reader that caught up with
        // the prefetcher must not stall it. A randomly read object's chunks always are.
        if random {
            st.jumped.extend((idx..=last.max(idx)).map(|i| (id, i)));
        } else if st.queue.first().is_some_and(|&first| first != (id, idx))
            && st.queue.contains(&(id, idx))
        {
            st.jumped.insert((id, idx));
        }
        let Some(obj) = st.objects.get_mut(&id) else {
            return;
        };
        let mut wanted: Vec<u32> = (idx..=last.max(idx)).collect();
        for &i in &wanted[1..] {
            obj.demanded.insert(i);
        }
        let held_back = !obj.verified && (obj.hold || idx == obj.last_index());
        if held_back {
            wanted.extend(
                (0..obj.chunks.len() as u32)
                    .filter(|&i| (i < idx || i > last) && obj.chunks[i as usize].crc.is_none()),
            );
        }
        obj.demanded.insert(idx);
        let mut newly_urgent = Vec::new();
        for i in wanted {
            let c = &mut obj.chunks[i as usize];
            match c.slot {
                Slot::Queued => newly_urgent.push((id, i)),
                Slot::Empty => {
                    c.slot = Slot::Queued;
                    newly_urgent.push((id, i));
                }
                Slot::InFlight | Slot::Ready(_) => {}
            }
        }
        if newly_urgent.is_empty() {
            return;
        }
        let already: std::collections::HashSet<(u64, u32)> = st.urgent.iter().copied().collect();
        let mut added = 0;
        for t in newly_urgent {
            st.queue.remove(&t);
            if !already.contains(&t) {
                st.urgent.push_back(t);
                added += 1;
            }
        }
        // The chunk the reader is blocked on may go beyond the current pace (see `take_task`):
        // make sure a thread is free for it.
        let n =
            spawn_count(st, added).max(usize::from(st.idle == 0 && st.threads < st.pace.ceiling()));
        spawn(&self.shared, st, n);
        self.shared.work.notify_all();
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        let sh = &self.shared;
        {
            let mut st = sh.lock();
            st.shutdown = true;
            for obj in st.objects.values() {
                obj.cancel.cancel();
            }
            st.queue.clear();
            st.urgent.clear();
        }
        sh.work.notify_all();
        sh.data.notify_all();
        let handles = std::mem::take(&mut *sh.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            if h.join().is_err() {
                log::error!("a fetcher thread panicked");
            }
        }
    }
}

/// Notes where a read of object `id` starts: after [`RANDOM_AFTER_JUMPS`] jumps the object's
/// queued chunks leave the prefetch queue (they would take the bandwidth from the chunks
/// actually read, and fill memory with bytes nobody reads), and after
/// [`SEQUENTIAL_AFTER_CHUNKS`] in-order chunks its prefetching resumes from there. Returns
/// whether chunks went back into the queue.
fn follow_access_pattern(st: &mut State, id: u64, offset: u64, chunk_size: u64) -> bool {
    let Some(obj) = st.objects.get_mut(&id) else {
        return false;
    };
    let (at, expected) = (offset / chunk_size, obj.next_offset / chunk_size);
    let previous_chunk = std::mem::replace(&mut obj.last_chunk, at);
    if offset != obj.next_offset && at.abs_diff(expected) > 1 {
        obj.jumps += 1;
        obj.streak = 0;
        // Repeated attempts at the same place (timed-out waits) are one jump.
        obj.next_offset = offset;
        if !obj.random && obj.jumps >= RANDOM_AFTER_JUMPS {
            obj.random = true;
            let mut dropped = 0;
            for (i, c) in obj.chunks.iter_mut().enumerate() {
                if matches!(c.slot, Slot::Queued) && st.queue.remove(&(id, i as u32)) {
                    c.slot = Slot::Empty;
                    dropped += 1;
                }
            }
            log::debug!(
                "oss://{}/{}: read at random; {dropped} chunks left the prefetch queue",
                obj.meta.bucket,
                obj.meta.key
            );
        }
        return false;
    }
    if at != previous_chunk {
        obj.streak += 1;
        if obj.random && obj.streak >= SEQUENTIAL_AFTER_CHUNKS {
            obj.random = false;
            obj.jumps = 0;
            for i in at as usize..obj.chunks.len() {
                let c = &mut obj.chunks[i];
                if matches!(c.slot, Slot::Empty) {
                    c.slot = Slot::Queued;
                    st.queue.insert((id, i as u32));
                }
            }
            return true;
        }
    }
    false
}

/// How many fetchers to start for `new_tasks` more tasks (the caller passes it to [`spawn`]).
fn spawn_count(st: &State, new_tasks: usize) -> usize {
    let room = st.pace.limit().saturating_sub(st.threads);
    let pending = st.queue.len() + st.urgent.len();
    let busy_or_idle_enough = st.idle;
    room.min(pending.saturating_sub(busy_or_idle_enough))
        .min(new_tasks.max(1))
}

/// Starts `n` fetcher threads and counts those that started in `st.threads`. Called with the
/// state locked: it takes only the thread-list lock, which is never held while waiting for
/// the state lock.
fn spawn(sh: &Arc<Shared>, st: &mut State, n: usize) {
    if n == 0 {
        return;
    }
    let mut handles = sh.threads.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..n {
        let shared = Arc::clone(sh);
        let spawned = std::thread::Builder::new()
            .name("ossmc-fetch".into())
            .stack_size(FETCHER_STACK)
            .spawn(move || fetcher(shared));
        match spawned {
            Ok(h) => {
                handles.push(h);
                st.threads += 1;
            }
            Err(e) => log::warn!("cannot start a fetcher thread: {e}"),
        }
    }
}

/// Unlocks the state, then drops the buffers given up meanwhile: unmapping megabytes is not
/// done while readers and fetchers wait for the lock.
fn unlock(mut st: MutexGuard<'_, State>) {
    let released = std::mem::take(&mut st.mem.released);
    drop(st);
    drop(released);
}

/// Copies the segments into `out` in order; several threads for big multi-chunk reads.
fn copy_segments(segments: &[(Arc<Buffer>, usize, usize)], out: &mut [u8]) -> usize {
    let total: usize = segments.iter().map(|s| s.2).sum();
    if segments.len() > 1 && total >= PARALLEL_COPY_MIN {
        use rayon::prelude::*;
        let mut pieces: Vec<(&[u8], &mut [u8])> = Vec::with_capacity(segments.len());
        let mut rest = &mut out[..total];
        for (b, from, n) in segments {
            let (head, tail) = rest.split_at_mut(*n);
            pieces.push((&b.data[*from..*from + *n], head));
            rest = tail;
        }
        pieces
            .into_par_iter()
            .for_each(|(src, dst)| dst.copy_from_slice(src));
    } else {
        let mut at = 0;
        for (b, from, n) in segments {
            out[at..at + n].copy_from_slice(&b.data[*from..*from + *n]);
            at += n;
        }
    }
    total
}

/// Returns a buffer's bytes to the budget, or the buffer to the pool when it is full-size. A
/// buffer a reader still copies from lingers until the copy is done.
fn free_buffer(mem: &mut Memory, buf: Arc<Buffer>) {
    let cap = buf.data.len() as u64;
    match Arc::try_unwrap(buf) {
        Ok(b) if cap == mem.full => mem.pool.push(b.data),
        Ok(b) => {
            mem.held -= cap;
            mem.released.push(b.data);
        }
        Err(shared) => {
            shared.lingering.store(true, Ordering::Release);
            mem.lingering.push(shared);
        }
    }
}

/// Moves the lingering buffers no reader copies from any more to the pool (full-size ones)
/// or off the books. Returns whether any was reclaimed.
fn reclaim_lingering(mem: &mut Memory) -> bool {
    let before = mem.lingering.len();
    let mut still = Vec::with_capacity(before);
    for b in std::mem::take(&mut mem.lingering) {
        match Arc::try_unwrap(b) {
            Ok(b) if b.data.len() as u64 == mem.full => mem.pool.push(b.data),
            Ok(b) => {
                mem.held -= b.data.len() as u64;
                mem.released.push(b.data);
            }
            Err(b) => still.push(b),
        }
    }
    mem.lingering = still;
    mem.lingering.len() < before
}

/// Gives back the buffer of a fetch whose bytes are not kept.
fn discard(mem: &mut Memory, data: ChunkBuf, reserved: u64) {
    if data.len() as u64 == mem.full && reserved == mem.full {
        mem.pool.push(data);
    } else {
        mem.held -= reserved;
        mem.released.push(data);
    }
}

/// Releases the spare buffers no fetch can use: every one when no object is open (so an idle
/// connector holds no chunk memory), else those beyond the chunks still waiting to be
/// fetched. A chunk fetched again later (read again after being dropped) gets a new buffer.
fn trim_pool(st: &mut State) {
    let keep = if st.objects.is_empty() {
        0
    } else {
        st.queue.len() + st.urgent.len()
    };
    while st.mem.pool.len() > keep {
        let Some(b) = st.mem.pool.pop() else { break };
        st.mem.held -= st.mem.full;
        st.mem.released.push(b);
    }
}

fn corrupted(meta: &ObjectMeta, detail: String) -> Error {
    Error::new(
        ErrorKind::Corrupted,
        format!("the object failed its CRC-64 check: {detail}"),
    )
    .with_object(&meta.bucket, Some(&meta.key))
}

/// A chunk a fetcher took: what to fetch and where.
struct Task {
    id: u64,
    idx: u32,
    meta: Arc<ObjectMeta>,
    cancel: CancelToken,
    start: u64,
    len: usize,
    /// A spare buffer from the pool, if one fits.
    buffer: Option<ChunkBuf>,
    /// Bytes reserved against the limit.
    reserved: u64,
    /// When the request started, and under which level of requests in flight.
    started: Instant,
    generation: u64,
    /// A reader blocked on it out of open order (counted in `jumped_in_flight`).
    jumped: bool,
}

/// The fetcher thread's loop.
fn fetcher(sh: Arc<Shared>) {
    let mut st = sh.lock();
    loop {
        if st.shutdown {
            break;
        }
        let Some(task) = take_task(&sh, &mut st) else {
            // Making room may have given up buffers: drop them unlocked, then look again.
            if !st.mem.released.is_empty() {
                unlock(st);
                st = sh.lock();
                continue;
            }
            st.idle += 1;
            st = if st.ahead_of_readers {
                sh.work
                    .wait_timeout(st, READER_AWAY)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            } else {
                sh.work.wait(st).unwrap_or_else(|p| p.into_inner())
            };
            st.idle -= 1;
            continue;
        };
        unlock(st);
        let mut data = match task.buffer {
            Some(b) => b,
            None => ChunkBuf::new(task.len),
        };
        let result = fetch::fetch_range(
            &sh.client,
            &task.cancel,
            &task.meta,
            task.start,
            &mut data[..task.len],
        );
        st = sh.lock();
        if task.jumped {
            st.jumped_in_flight -= 1;
            if st.jumped_in_flight == 0 {
                // Prefetching paused for this read (see `take_queued`): resume it.
                sh.work.notify_all();
            }
        }
        if result.is_ok() {
            let secs = task.started.elapsed().as_secs_f64();
            if st.pace.completed(task.generation, task.len as u64, secs) && !st.shutdown {
                let n = spawn_count(&st, st.pace.limit());
                spawn(&sh, &mut st, n);
                sh.work.notify_all();
            }
        }
        complete(&sh, &mut st, task.id, task.idx, task.reserved, data, result);
        trim_pool(&mut st);
        unlock(st);
        sh.data.notify_all();
        st = sh.lock();
    }
    st.threads -= 1;
}

/// Takes the next chunk to fetch, if there is one, room for it, and a free slot.
fn take_task(sh: &Shared, st: &mut State) -> Option<Task> {
    if st.in_flight >= st.pace.limit() {
        // Slots are full, but a reader blocked on a chunk does not wait for one: a random
        // read would otherwise queue behind a whole round of prefetching.
        return if st.in_flight < st.pace.ceiling() {
            take_blocking_chunk(sh, st)
        } else {
            None
        };
    }
    let task = take_queued(sh, st);
    if task.is_none() {
        // A slot without work: the reader or the memory limit sets the pace now.
        st.pace.starved();
    }
    task
}

/// Bytes fetched and not read yet (chunks kept after being read are not counted).
fn unread_bytes(sh: &Shared, st: &State) -> u64 {
    let read: u64 = st
        .consumed
        .iter()
        .filter_map(|&(id, idx)| {
            let o = st.objects.get(&id)?;
            let c = &o.chunks[idx as usize];
            (c.consumed && matches!(c.slot, Slot::Ready(_))).then(|| o.chunk_range(idx).1 as u64)
        })
        .sum();
    let pooled = st.mem.pool.len() as u64 * sh.chunk_size;
    st.mem
        .held
        .saturating_sub(pooled + st.in_flight_bytes + read)
}

/// Takes the first urgent chunk a reader is blocked on (not one wanted only to complete a CRC
/// check), if there is room for it.
fn take_blocking_chunk(sh: &Shared, st: &mut State) -> Option<Task> {
    let at = st.urgent.iter().position(|&(id, idx)| {
        st.objects.get(&id).is_some_and(|o| {
            o.demanded.contains(&idx) && matches!(o.chunks[idx as usize].slot, Slot::Queued)
        })
    })?;
    let (id, idx) = st.urgent[at];
    let len = st.objects[&id].chunk_range(idx).1;
    if !make_room(sh, st, len as u64, true) {
        return None;
    }
    st.urgent.remove(at);
    Some(start_task(sh, st, id, idx))
}

/// Takes the next queued chunk, urgent ones first, if there is room for it.
fn take_queued(sh: &Shared, st: &mut State) -> Option<Task> {
    // Urgent chunks first, in the order readers asked for them.
    while let Some(&(id, idx)) = st.urgent.front() {
        let valid = st
            .objects
            .get(&id)
            .is_some_and(|o| matches!(o.chunks[idx as usize].slot, Slot::Queued));
        if !valid {
            st.urgent.pop_front();
            continue;
        }
        let len = st.objects[&id].chunk_range(idx).1;
        if !make_room(sh, st, len as u64, true) {
            // Wait for room rather than let prefetching overtake a reader.
            return None;
        }
        st.urgent.pop_front();
        return Some(start_task(sh, st, id, idx));
    }
    if st.jumped_in_flight > 0 {
        return None;
    }
    st.ahead_of_readers = st.last_read.is_some_and(|t| t.elapsed() < READER_AWAY)
        && unread_bytes(sh, st) >= st.pace.limit() as u64 * sh.chunk_size;
    if st.ahead_of_readers {
        return None;
    }
    let &(id, idx) = st.queue.first()?;
    let len = st.objects.get(&id)?.chunk_range(idx).1;
    if !make_room(sh, st, len as u64, false) {
        return None;
    }
    st.queue.remove(&(id, idx));
    Some(start_task(sh, st, id, idx))
}

/// Marks a chunk in flight and reserves its memory (room was made by [`make_room`]).
fn start_task(sh: &Shared, st: &mut State, id: u64, idx: u32) -> Task {
    let full = sh.chunk_size as usize;
    let jumped = st.jumped.remove(&(id, idx));
    st.jumped_in_flight += usize::from(jumped);
    let obj = st.objects.get_mut(&id).expect("task object exists");
    let (start, len) = obj.chunk_range(idx);
    let c = &mut obj.chunks[idx as usize];
    c.slot = Slot::InFlight;
    let refetch = c.fetched_before;
    c.fetched_before = true;
    let meta = Arc::clone(&obj.meta);
    let cancel = obj.cancel.clone();
    if refetch {
        st.chunks_refetched += 1;
    }
    // Full-size chunks reuse pooled buffers (the pool's bytes are already counted in `held`),
    // and a chunk already read is recycled rather than a new buffer allocated: fresh memory
    // costs page faults, and keeping read chunks only helps callers that seek back.
    if len == full && st.mem.pool.is_empty() && !reclaim_lingering(&mut st.mem) {
        evict_consumed(st);
    }
    let (buffer, reserved) = if len == full {
        match st.mem.pool.pop() {
            Some(b) => (Some(b), full as u64),
            None => {
                st.mem.held += full as u64;
                (None, full as u64)
            }
        }
    } else {
        st.mem.held += len as u64;
        (None, len as u64)
    };
    st.in_flight += 1;
    st.in_flight_bytes += reserved;
    st.peak_in_flight = st.peak_in_flight.max(st.in_flight);
    let pooled = st.mem.pool.len() as u64 * sh.chunk_size;
    st.mem.peak_held = st.mem.peak_held.max(st.mem.held - pooled);
    Task {
        id,
        idx,
        meta,
        cancel,
        start,
        len,
        buffer,
        reserved,
        started: Instant::now(),
        generation: st.pace.generation(),
        jumped,
    }
}

/// Drops the least recently read chunk (its buffer goes to the pool); false if none.
fn evict_consumed(st: &mut State) -> bool {
    while let Some((id, idx)) = st.consumed.pop_front() {
        let Some(obj) = st.objects.get_mut(&id) else {
            continue;
        };
        let c = &mut obj.chunks[idx as usize];
        if !c.consumed || !matches!(c.slot, Slot::Ready(_)) {
            continue;
        }
        // A blocked reader of this object may need it again: keep demanded chunks.
        if obj.demanded.contains(&idx) {
            continue;
        }
        if let Slot::Ready(b) = std::mem::replace(&mut c.slot, Slot::Empty) {
            free_buffer(&mut st.mem, b);
        }
        return true;
    }
    false
}

/// Makes `need` bytes of room within the memory limit, dropping read chunks first and, for a
/// chunk a reader waits for, prefetched chunks nobody waits for. Returns false if that is not
/// possible now.
fn make_room(sh: &Shared, st: &mut State, need: u64, urgent: bool) -> bool {
    let full = sh.chunk_size;
    let fits = |st: &State| {
        if need == full && !st.mem.pool.is_empty() {
            return true;
        }
        st.mem.held + need <= sh.memory_limit
    };
    loop {
        if fits(st) {
            return true;
        }
        if reclaim_lingering(&mut st.mem) {
            continue;
        }
        // A small chunk cannot use a pooled buffer: give one back instead.
        if need != full {
            if let Some(b) = st.mem.pool.pop() {
                st.mem.held -= full;
                st.mem.released.push(b);
                continue;
            }
        }
        // Least recently read chunks.
        if evict_consumed(st) {
            continue;
        }
        if !urgent {
            return false;
        }
        // Prefetched chunks nobody waits for, latest in open order first; they go back into
        // the queue.
        let mut victim: Option<(u64, u32)> = None;
        let mut ids: Vec<u64> = st.objects.keys().copied().collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        'outer: for id in ids {
            let obj = &st.objects[&id];
            for idx in (0..obj.chunks.len() as u32).rev() {
                if matches!(obj.chunks[idx as usize].slot, Slot::Ready(_))
                    && !obj.demanded.contains(&idx)
                {
                    // Never drop a chunk of an object a reader is waiting on if it is still
                    // needed for the CRC check and has no CRC yet (cannot happen: Ready
                    // chunks always have one), nor demanded ones (checked above).
                    victim = Some((id, idx));
                    break 'outer;
                }
            }
        }
        let Some((id, idx)) = victim else {
            return false;
        };
        let obj = st.objects.get_mut(&id).expect("victim exists");
        let c = &mut obj.chunks[idx as usize];
        let consumed = c.consumed;
        if let Slot::Ready(b) = std::mem::replace(
            &mut c.slot,
            if consumed { Slot::Empty } else { Slot::Queued },
        ) {
            if !consumed {
                st.queue.insert((id, idx));
            }
            free_buffer(&mut st.mem, b);
        }
    }
}

/// Records a finished fetch: stores the chunk, checks CRCs, fails or releases the object.
fn complete(
    sh: &Shared,
    st: &mut State,
    id: u64,
    idx: u32,
    reserved: u64,
    data: ChunkBuf,
    result: Result<u64>,
) {
    st.in_flight -= 1;
    st.in_flight_bytes -= reserved;
    st.chunks_fetched += 1;
    let full = sh.chunk_size;
    let Some(obj) = st.objects.get_mut(&id) else {
        // Closed meanwhile: discard the bytes (the caller trims the pool).
        discard(&mut st.mem, data, reserved);
        sh.work.notify_one();
        return;
    };
    let crc = match result {
        Ok(c) => c,
        Err(e) => {
            obj.chunks[idx as usize].slot = Slot::Empty;
            if obj.error.is_none() && e.kind() != ErrorKind::Cancelled {
                log::warn!("{e}");
                obj.error = Some(e);
            }
            // The object is failed: stop fetching it.
            for (i, c) in obj.chunks.iter_mut().enumerate() {
                if matches!(c.slot, Slot::Queued) {
                    c.slot = Slot::Empty;
                    st.queue.remove(&(id, i as u32));
                }
            }
            discard(&mut st.mem, data, reserved);
            sh.work.notify_one();
            return;
        }
    };
    let buffer = Buffer::new(data);
    let Some(expected) = obj.meta.crc64 else {
        obj.chunks[idx as usize].slot = Slot::Ready(buffer);
        return;
    };
    if obj.verified {
        let c = &mut obj.chunks[idx as usize];
        match c.crc {
            Some(v) if v != crc => {
                c.failures += 1;
                st.crc_mismatches += 1;
                let max = sh.client.retry_config().max_attempts.max(1);
                if c.failures >= max {
                    let e = corrupted(
                        &obj.meta,
                        format!(
                            "chunk {idx} (bytes {}..) failed its CRC-64 check {} times",
                            u64::from(idx) * full,
                            c.failures
                        ),
                    );
                    c.slot = Slot::Empty;
                    obj.error = Some(e);
                } else {
                    log::warn!(
                        "oss://{}/{}: chunk {idx} failed its CRC-64 check; fetching it again",
                        obj.meta.bucket,
                        obj.meta.key
                    );
                    c.slot = Slot::Queued;
                    if obj.demanded.contains(&idx) {
                        st.urgent.push_front((id, idx));
                    } else {
                        st.queue.insert((id, idx));
                    }
                }
                let b = Arc::try_unwrap(buffer).map(|b| b.data);
                match b {
                    Ok(d) => discard(&mut st.mem, d, reserved),
                    Err(_) => st.mem.held -= reserved,
                }
                sh.work.notify_one();
            }
            _ => c.slot = Slot::Ready(buffer),
        }
        return;
    }
    // Unverified: remember this round's CRC of the chunk.
    let c = &mut obj.chunks[idx as usize];
    let mut mismatch_now = false;
    match c.crc {
        None => {
            c.crc = Some(crc);
            obj.crcs_missing -= 1;
        }
        Some(v) if v != crc => mismatch_now = true,
        Some(_) => {}
    }
    c.slot = Slot::Ready(buffer);
    if !mismatch_now && obj.crcs_missing > 0 {
        return;
    }
    let combined = if mismatch_now {
        None
    } else {
        Some(crate::prefetch::crc::combine_all(
            obj.chunks
                .iter()
                .enumerate()
                .map(|(i, c)| (c.crc.unwrap_or(0), obj.chunk_range(i as u32).1 as u64)),
        ))
    };
    if combined == Some(expected) {
        // Verified. After a second round, a chunk whose CRC changed between rounds was
        // corrupted in the first; if a caller already got its bytes, the load is spoiled.
        obj.verified = true;
        if obj.round == 2 {
            let bad: Vec<u32> = obj
                .chunks
                .iter()
                .enumerate()
                .filter(|(_, c)| c.first_round_crc.is_some() && c.first_round_crc != c.crc)
                .map(|(i, _)| i as u32)
                .collect();
            let spoiled: Vec<u32> = bad
                .iter()
                .copied()
                .filter(|&i| obj.chunks[i as usize].delivered_first_round)
                .collect();
            log::warn!(
                "oss://{}/{}: verified on the second fetch; corrupted chunks in the first: {:?}",
                obj.meta.bucket,
                obj.meta.key,
                bad
            );
            if !spoiled.is_empty() {
                obj.error = Some(corrupted(
                    &obj.meta,
                    format!(
                        "chunks {spoiled:?} were corrupted in transfer and their bytes had already \
                         been returned; open the object again"
                    ),
                ));
            }
        }
        return;
    }
    st.crc_mismatches += 1;
    if obj.round >= 2 {
        let differing: Vec<u32> = obj
            .chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.first_round_crc.is_some() && c.crc.is_some() && c.first_round_crc != c.crc
            })
            .map(|(i, _)| i as u32)
            .collect();
        let detail = match combined {
            Some(got) => format!(
                "expected {expected}, got {got} on two fetches; chunks whose CRC differed between \
                 the fetches: {differing:?}"
            ),
            None => format!("chunk {idx} gave different CRCs on two fetches"),
        };
        let e = corrupted(&obj.meta, detail);
        log::error!("{e}");
        obj.error = Some(e);
        let mut freed = Vec::new();
        for (i, c) in obj.chunks.iter_mut().enumerate() {
            match std::mem::replace(&mut c.slot, Slot::Empty) {
                Slot::Ready(b) => freed.push(b),
                Slot::Queued => {
                    st.queue.remove(&(id, i as u32));
                }
                Slot::InFlight => c.slot = Slot::InFlight,
                Slot::Empty => {}
            }
        }
        for b in freed {
            free_buffer(&mut st.mem, b);
        }
        sh.work.notify_all();
        return;
    }
    // First mismatch: fetch every chunk again, keeping the first round's CRCs.
    log::warn!(
        "oss://{}/{}: CRC-64 mismatch (expected {expected}, got {}); fetching the object again",
        obj.meta.bucket,
        obj.meta.key,
        combined.map_or("different chunk CRCs".to_owned(), |c| c.to_string())
    );
    obj.round = 2;
    let demanded_any = obj.waiting > 0;
    let n = obj.chunks.len();
    obj.crcs_missing = n;
    let mut freed = Vec::new();
    let mut requeue = Vec::new();
    for (i, c) in obj.chunks.iter_mut().enumerate() {
        c.first_round_crc = c.crc.take();
        c.delivered_first_round = c.delivered;
        c.delivered = false;
        c.consumed = false;
        match std::mem::replace(&mut c.slot, Slot::Queued) {
            Slot::Ready(b) => freed.push(b),
            // An in-flight fetch of the first round completes into the second: it carries no
            // CRC, so it is simply counted as this round's fetch.
            Slot::InFlight => c.slot = Slot::InFlight,
            Slot::Queued | Slot::Empty => {}
        }
        if matches!(c.slot, Slot::Queued) {
            requeue.push((id, i as u32));
        }
    }
    for b in freed {
        free_buffer(&mut st.mem, b);
    }
    for t in requeue {
        if demanded_any {
            st.queue.remove(&t);
            st.urgent.push_back(t);
        } else {
            st.queue.insert(t);
        }
    }
    sh.work.notify_all();
}
