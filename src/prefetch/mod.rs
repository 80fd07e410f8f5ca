//! The prefetcher: fetches the chunks of open objects in open order with many ranged GETs in
//! flight, holds what lies ahead of the readers in memory within a byte budget, fetches what
//! a reader asks for and nobody fetched yet straight into the reader's buffer, verifies every
//! byte against the object's CRC-64, and hands the bytes to readers.
//!
//! One lock ([`State`]) guards everything; the modules each own one concept:
//!
//! * [`object`]: object and chunk state (queued, being fetched, in a buffer, fetched straight
//!   into a caller's buffer), and which chunks a reader may see;
//! * [`memory`]: the memory budget and the pool of reused buffers;
//! * [`access`]: the access pattern (in order, after a seek, at random, a second pass);
//! * [`schedule`]: the queues, what a fetcher takes next, how far ahead of the readers to go,
//!   making room;
//! * [`verify`]: CRC-64 verification rounds;
//! * [`direct`]: reads fetched straight into the caller's buffer;
//! * [`read`]: a reader's read, from buffers and directly;
//! * [`worker`]: the fetcher threads; [`panics`]: a panic on one fails its task, never
//!   leaves a reader waiting;
//! * [`pace`]: how many requests to keep in flight; [`fetch`]: one ranged GET.
//!
//! # Scheduling
//! Opening an object queues all its chunks (`prefetch.chunk_size` bytes each) behind those of
//! the objects opened before. Fetcher threads (spawned lazily, as many requests in flight as
//! pay, see [`pace`], at most `prefetch.max_in_flight()`) take work in this order: chunks a
//! blocked reader waits for, pieces of direct reads, then the prefetch queue.
//!
//! A read of bytes already fetched copies them from the chunk buffers. A read of bytes not
//! fetched yet fetches them straight into the caller's buffer: every chunk it covers whole,
//! split into pieces over the free slots, in parallel; the bytes of a chunk it covers only in
//! part come through a chunk buffer (the rest of that chunk is the next read's), except after
//! a seek or for an object read at random, where exactly the bytes read are fetched. A read
//! that jumps (a seek) pauses new prefetching until its bytes are in, so it gets the
//! bandwidth. An object read at random (two jumps) leaves the prefetch queue; reading it in
//! order again brings it back. Reading an object from its start again after a reader went
//! through it (a second pass) queues it, and the objects opened after it that were read
//! through too, again in open order.
//!
//! # Memory
//! Every byte of a chunk buffer counts against `prefetch.memory_limit` from the moment its
//! request is sent until the buffer is freed; fetchers wait for room. While readers keep
//! reading, the bytes fetched and not read yet stay within a cushion of 16 chunks (see
//! [`schedule::ahead_cap`]), besides the requests in flight: more would not arrive sooner,
//! and costs memory and CPU. While readers pause to process what they read, prefetching goes
//! further by what the link delivers meanwhile, up to the limit. When room is needed, chunks already
//! read are dropped first (least recently read first) and fetched again only if read again. A
//! fetch a reader is waiting for may also drop prefetched chunks nobody is waiting for,
//! latest in open order first; those go back into the queue. Spare buffers are pooled and
//! reused across objects (see [`memory`]). Bytes fetched straight into a caller's buffer
//! cost the prefetcher no memory.
//!
//! Buffers are anonymous memory mappings (see [`buffer`]): a buffer that is not kept goes
//! back to the operating system as soon as it is dropped. They are dropped after the lock is
//! released.
//!
//! Closing an object (dropping its reader) frees its buffers at once, removes its queued
//! chunks, and cancels its requests in flight (they stop at their next socket read, and their
//! bytes are discarded). Dropping the prefetcher cancels everything and waits a moment
//! ([`SHUTDOWN_WAIT`]) for the fetchers to stop; a fetcher still waiting on a silent server
//! then is left to stop by itself (within the read timeout), holding what it needs (the
//! shared state, its chunk buffer) alive itself: dropping never blocks for long, and a late
//! fetcher writes only into memory it owns.
//!
//! # Integrity
//! Every response is first checked by [`fetch`]: its ETag is the one from open (so a server
//! that ignores `If-Match` cannot slip in another version), its range and length are exactly
//! those asked for, and its body is no longer; none of its bytes is used otherwise.
//!
//! When the server sends `x-oss-hash-crc64ecma`, each chunk's CRC-64 is computed as its bytes
//! arrive, into a chunk buffer or a caller's buffer alike, and the chunk CRCs are combined
//! into the whole object's CRC (no second pass over the data); see [`verify`]. Two policies
//! decide when a reader may see a chunk:
//!
//! * **Held objects** (size at most `prefetch.hold_limit` and at most half the memory limit):
//!   no byte is handed to a reader until every chunk of the object was fetched and the
//!   combined CRC equals the header. A read of such an object returns only then, even when
//!   its bytes were fetched straight into the caller's buffer.
//! * **Streamed objects** (larger): chunks are handed over as they arrive, except the
//!   object's final chunk, which is handed over only once the whole-object CRC is verified. A
//!   corrupted chunk may thus reach the caller, but a read of the object through to its end
//!   never completes without an error. An object read at random is not read through: its
//!   final chunk is not held back (fetching the whole object to check a few tensors would
//!   cost more than the reads), and its bytes are as checked as a streamed object's others.
//!
//! Bytes fetched into a caller's buffer count as handed over only when the read returns
//! them: a read during which a mismatch starts a repair round fetches its bytes again.
//! Without a CRC header there is no check. An object is *verified* ([`Prefetcher::verified`])
//! once every chunk was fetched in a round and the combined CRC matched; an object read at
//! random may never be.

mod access;
mod buffer;
pub(crate) mod crc;
mod direct;
pub(crate) mod fetch;
mod memory;
mod object;
mod pace;
mod panics;
mod read;
mod schedule;
mod verify;
mod worker;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::config::PrefetchConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::logging::ConnectorLog;
pub(crate) use fetch::ObjectMeta;
use memory::Memory;
use object::{ChunkIndex, Object, Slot};

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
    /// Ranged GETs in flight now (into chunk buffers and into callers' buffers).
    pub requests_in_flight: usize,
    /// The most requests that were ever in flight at once.
    pub peak_requests_in_flight: usize,
    /// Requests in flight allowed now by the pace (see the configuration's `prefetch.vcpus`).
    pub pace_limit: usize,
    /// How the pace changed: (bytes received so far, requests in flight allowed from then
    /// on), the first 64 changes.
    pub pace_steps: Vec<(u64, usize)>,
    /// Chunk fetches into chunk buffers completed (successful or not).
    pub chunks_fetched: u64,
    /// Fetches of chunks that had been fetched before (dropped and read again, or fetched
    /// again after a CRC mismatch).
    pub chunks_refetched: u64,
    /// Chunk buffers ever mapped: fresh memory (the rest were reused).
    pub buffers_created: u64,
    /// Ranged GETs that went straight into a caller's buffer, and their bytes.
    pub direct_requests: u64,
    pub direct_bytes: u64,
    /// Bytes received by every ranged GET (chunk buffers and callers' buffers).
    pub bytes_fetched: u64,
    /// Whole-object or per-chunk CRC mismatches seen.
    pub crc_mismatches: u64,
    /// Fetcher threads alive.
    pub threads: usize,
    /// Objects open (readers not yet dropped).
    pub open_objects: usize,
}

/// Everything the lock guards.
struct State {
    mem: Memory,
    objects: HashMap<u64, Object>,
    next_id: u64,
    /// Chunks in open order: (object id, chunk index). Ids grow with open order.
    queue: BTreeSet<(u64, ChunkIndex)>,
    /// Chunks a reader waits for; may hold stale entries (checked when taken).
    urgent: VecDeque<(u64, ChunkIndex)>,
    /// Chunks read to their end, least recently first; may hold stale entries.
    consumed: VecDeque<(u64, ChunkIndex)>,
    /// Chunks a reader blocked on out of open order (a seek ahead or back): while they are
    /// fetched, no new prefetch request starts, so the read gets the bandwidth. May hold
    /// stale entries (dropped when the chunk is taken or its object closed).
    jumped: HashSet<(u64, ChunkIndex)>,
    /// Requests in flight for such chunks, and for the pieces of such direct reads.
    jumped_in_flight: usize,
    /// Direct reads in progress, by read id.
    reads: HashMap<u64, direct::DirectRead>,
    next_read: u64,
    /// Pieces of direct reads not started yet: (read id, piece index), in the order planned.
    direct_queue: VecDeque<(u64, usize)>,
    /// Readers in a read now (copying, or waiting for bytes).
    readers_reading: usize,
    /// When a reader last asked for bytes.
    last_read: Option<Instant>,
    /// The last read that had to wait fetched bytes straight into the caller's buffer.
    last_read_direct: bool,
    /// The last read jumped or was at random, or an object was opened since: what to
    /// prefetch is anyone's guess.
    last_read_exact: bool,
    /// What one request delivers, bytes per second: a moving average over the requests of
    /// at least a megabyte (0 before the first).
    request_rate: f64,
    /// A fetcher found enough bytes ahead of the readers (see [`schedule::ahead_cap`]): idle
    /// fetchers look again shortly, as the cap grows while readers pause.
    ahead_of_readers: bool,
    /// When the last open object was closed (the pool's grace period, see [`memory`]).
    idle_since: Option<Instant>,
    in_flight_bytes: u64,
    in_flight: usize,
    /// The moment the pace's clock counts from.
    pace_epoch: Instant,
    /// Requests in flight integrated over time since `pace_epoch`, up to `in_flight_at`.
    in_flight_secs: f64,
    in_flight_at: Instant,
    /// How many requests may be in flight now (at most the configured `vcpus × workers`).
    pace: pace::Pace,
    peak_in_flight: usize,
    threads: usize,
    idle: usize,
    shutdown: bool,
    chunks_fetched: u64,
    chunks_refetched: u64,
    direct_requests: u64,
    direct_bytes: u64,
    bytes_fetched: u64,
    crc_mismatches: u64,
    pace_steps: Vec<(u64, usize)>,
}

/// What the fetcher threads share with the readers.
struct Shared {
    client: Arc<Client>,
    /// The connector's log: fetcher threads run in its scope.
    log: Arc<ConnectorLog>,
    /// Bytes received by ranged GETs so far, counted as they arrive (for the pace).
    received: AtomicU64,
    chunk_size: u64,
    /// Objects up to this size are released only once verified (see the module docs).
    hold_limit: u64,
    state: Mutex<State>,
    /// Fetcher threads, joined when the prefetcher is dropped. Fetchers start siblings too
    /// (when more requests in flight pay), so the list is shared.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Fetchers wait here for work or room.
    work: Condvar,
    /// Readers wait here for chunks and pieces.
    data: Condvar,
}

impl State {
    fn new(chunk_size: u64, memory_limit: u64, max_in_flight: usize) -> State {
        State {
            mem: Memory::new(chunk_size, memory_limit),
            objects: HashMap::new(),
            next_id: 1,
            queue: BTreeSet::new(),
            urgent: VecDeque::new(),
            consumed: VecDeque::new(),
            jumped: HashSet::new(),
            jumped_in_flight: 0,
            reads: HashMap::new(),
            next_read: 1,
            direct_queue: VecDeque::new(),
            readers_reading: 0,
            last_read: None,
            last_read_direct: false,
            last_read_exact: false,
            request_rate: 0.0,
            ahead_of_readers: false,
            idle_since: None,
            in_flight_bytes: 0,
            in_flight: 0,
            pace_epoch: Instant::now(),
            in_flight_secs: 0.0,
            in_flight_at: Instant::now(),
            pace: pace::Pace::new(max_in_flight),
            peak_in_flight: 0,
            threads: 0,
            idle: 0,
            shutdown: false,
            chunks_fetched: 0,
            chunks_refetched: 0,
            direct_requests: 0,
            direct_bytes: 0,
            bytes_fetched: 0,
            crc_mismatches: 0,
            pace_steps: Vec::new(),
        }
    }

    /// What the pace measures, read when it asks (see [`pace::Meter`]).
    fn meter<'a>(&self, received: &'a AtomicU64) -> impl Fn() -> pace::Meter + 'a {
        let epoch = self.pace_epoch;
        let (in_flight, secs, at) = (self.in_flight, self.in_flight_secs, self.in_flight_at);
        move || pace::Meter {
            cpu_secs: worker::process_cpu_secs(),
            bytes: received.load(Ordering::Relaxed),
            wall_secs: epoch.elapsed().as_secs_f64(),
            in_flight_secs: secs + in_flight as f64 * at.elapsed().as_secs_f64(),
        }
    }

    /// Changes the requests in flight by `delta`, keeping their integral over time.
    fn add_in_flight(&mut self, delta: isize) {
        let now = Instant::now();
        let since = now
            .saturating_duration_since(self.in_flight_at)
            .as_secs_f64();
        self.in_flight_secs += self.in_flight as f64 * since;
        self.in_flight_at = now;
        self.in_flight = self.in_flight.saturating_add_signed(delta);
        self.peak_in_flight = self.peak_in_flight.max(self.in_flight);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Unlocks the state, then drops the buffers given up meanwhile: unmapping megabytes is not
/// done while readers and fetchers wait for the lock.
fn unlock(mut st: MutexGuard<'_, State>) {
    let released = std::mem::take(&mut st.mem.released);
    drop(st);
    drop(released);
}

/// The prefetcher of one connector.
pub(crate) struct Prefetcher {
    shared: Arc<Shared>,
}

impl Prefetcher {
    pub(crate) fn new(
        client: Arc<Client>,
        cfg: &PrefetchConfig,
        log: Arc<ConnectorLog>,
    ) -> Prefetcher {
        let chunk_size = cfg.chunk_size.max(1) as u64;
        let memory_limit = (cfg.memory_limit as u64).max(chunk_size);
        Prefetcher {
            shared: Arc::new(Shared {
                client,
                log,
                received: AtomicU64::new(0),
                chunk_size,
                hold_limit: cfg.hold_limit as u64,
                state: Mutex::new(State::new(chunk_size, memory_limit, cfg.max_in_flight())),
                work: Condvar::new(),
                data: Condvar::new(),
                threads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Registers an open object and queues all its chunks behind those opened before.
    pub(crate) fn open(&self, meta: Arc<ObjectMeta>) -> Result<u64> {
        let sh = &self.shared;
        let mut st = sh.lock();
        let hold = meta.crc64.is_some() && meta.size <= sh.hold_limit.min(st.mem.limit / 2);
        let obj = Object::new(meta, sh.chunk_size, hold);
        if st.shutdown {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the connector was shut down",
            ));
        }
        // After a pause (not between shards loaded one at a time), the link may have changed:
        // probe the pace again.
        let paused = !st
            .idle_since
            .is_some_and(|t| t.elapsed() < memory::POOL_GRACE);
        if st.queue.is_empty() && st.urgent.is_empty() && st.in_flight == 0 && paused {
            let now = st.meter(&sh.received)();
            st.pace.restart(now);
        }
        let id = st.next_id;
        st.next_id += 1;
        let mut obj = obj;
        if obj.meta.crc64.is_some_and(|c| c != 0) && obj.chunks.is_empty() {
            obj.error = Some(verify::corrupted(
                &obj,
                "the object is empty but its CRC-64 is not 0".into(),
            ));
        }
        log::debug!(
            "open {}: {} bytes in {} chunks, {}",
            obj.meta.uri(),
            obj.meta.size,
            obj.n_chunks,
            if obj.meta.crc64.is_none() {
                "no CRC-64 to check"
            } else if hold {
                "released once its CRC-64 is verified"
            } else {
                "streamed, final chunk released once its CRC-64 is verified"
            }
        );
        let n_chunks = obj.chunks.len();
        st.queue
            .extend((0..n_chunks as ChunkIndex).map(|i| (id, i)));
        // The rest are made and queued as prefetching and reads reach them.
        st.objects.insert(id, obj);
        st.idle_since = None;
        // Opening counts as reading: the reader usually comes at once, and its first read
        // says what to prefetch (in order from the start, or nothing for random reads); a
        // reader that stays away leaves prefetching the limit (see `schedule::ahead_cap`).
        st.last_read = Some(Instant::now());
        st.last_read_exact = true;
        let n = worker::spawn_count(&st, n_chunks);
        worker::spawn(sh, &mut st, n);
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
        for (i, mut c) in obj.chunks.into_iter().enumerate() {
            if matches!(c.slot, Slot::Queued) {
                st.queue.remove(&(id, i as ChunkIndex));
            }
            if let Some(b) = c.take_buffer(Slot::Empty) {
                st.mem.free(b);
            }
        }
        if st.objects.is_empty() {
            st.idle_since = Some(Instant::now());
        }
        schedule::trim_pool(&mut st);
        unlock(st);
        sh.work.notify_all();
        sh.data.notify_all();
    }

    /// Current gauges and counters.
    /// Whether every byte of object `id` has been checked against the server's CRC-64 (see
    /// Integrity in the module docs): every chunk was fetched and their combined CRC matched
    /// the header. Never true for an object without a CRC header.
    pub(crate) fn verified(&self, id: u64) -> bool {
        let st = self.shared.lock();
        st.objects
            .get(&id)
            .is_some_and(|o| o.verified && o.meta.crc64.is_some())
    }

    pub(crate) fn stats(&self) -> PrefetchStats {
        let st = self.shared.lock();
        let pooled = st.mem.pooled();
        PrefetchStats {
            bytes_held: st.mem.held - pooled,
            peak_bytes_held: st.mem.peak_held,
            bytes_in_flight: st.in_flight_bytes,
            bytes_pooled: pooled,
            memory_limit: st.mem.limit,
            requests_in_flight: st.in_flight,
            peak_requests_in_flight: st.peak_in_flight,
            pace_limit: st.pace.limit(),
            pace_steps: st.pace_steps.clone(),
            chunks_fetched: st.chunks_fetched,
            chunks_refetched: st.chunks_refetched,
            buffers_created: st.mem.buffers_created,
            direct_requests: st.direct_requests,
            direct_bytes: st.direct_bytes,
            bytes_fetched: st.bytes_fetched,
            crc_mismatches: st.crc_mismatches,
            threads: st.threads,
            open_objects: st.objects.len(),
        }
    }

    /// Reads up to `buf.len()` bytes of object `id` at `offset`. Blocks until at least one
    /// byte is available, or until `deadline` (then returns `Ok(None)`). Returns `Some(0)` at
    /// or past the end of the object. See [`read`].
    pub(crate) fn read_at(
        &self,
        id: u64,
        offset: u64,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<Option<usize>> {
        read::read_at(&self.shared, id, offset, buf, deadline)
    }
}

/// How long dropping the prefetcher waits for its fetchers to stop. Cancelled fetchers stop
/// at their next socket read, within milliseconds on a working link; one whose server went
/// silent would only stop at the read timeout (30 s by default), too long for a free
/// function, which must not block.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(250);

impl Drop for Prefetcher {
    fn drop(&mut self) {
        let sh = &self.shared;
        // Dropped on whatever thread lets go of the connector last.
        let _log = sh.log.enter();
        log::info!("prefetcher: {:?}", self.stats());
        {
            let mut st = sh.lock();
            st.shutdown = true;
            for obj in st.objects.values() {
                obj.cancel.cancel();
            }
            st.queue.clear();
            st.urgent.clear();
        }
        // The caller may free a credentials callback's user data once this returns: a fetcher
        // left behind must not call it.
        sh.client.close();
        sh.work.notify_all();
        sh.data.notify_all();
        // Fetchers leaving their loop say so on `data` (see `worker::fetch_loop`).
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut st = sh.lock();
        while st.threads > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = sh
                .data
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let busy = st.threads;
        drop(st);
        let handles = std::mem::take(&mut *sh.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            // A fetcher out of its loop ends at once: join it. One still in a request is
            // detached; its `Arc<Shared>` keeps what it uses alive until it ends.
            if (busy == 0 || h.is_finished()) && h.join().is_err() {
                log::error!("a fetcher thread panicked");
            }
        }
        if busy > 0 {
            log::warn!(
                "{busy} fetcher thread(s) still wait for the server after {} ms; they stop \
                 by themselves (at the read timeout at the latest)",
                SHUTDOWN_WAIT.as_millis()
            );
        }
    }
}
