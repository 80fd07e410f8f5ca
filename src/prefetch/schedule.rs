//! What a fetcher takes next, how far ahead of the readers prefetching goes, and making room
//! within the memory budget.
//!
//! Work comes in this order: chunks a blocked reader waits for (the urgent queue), pieces of
//! direct reads, then the prefetch queue in open order. Prefetching pauses while a read that
//! jumped (a seek, random access) has requests in flight, and while readers keep reading and
//! one round of requests' worth of bytes is already ahead of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::access::ReadKind;
use super::buffer::ChunkBuf;
use super::direct::{Dst, PieceState};
use super::memory::pool_keep;
use super::object::{Chunk, ChunkIndex, Slot, CHUNK_WINDOW};
use super::pace;
use super::{Shared, State};
use crate::client::CancelToken;
use crate::prefetch::ObjectMeta;

/// Readers that have not read for this long while nothing was measured yet are away: see
/// [`ahead_cap`].
pub(super) const READER_AWAY: Duration = Duration::from_millis(50);

/// How often fetchers held back by [`ahead_cap`] look again: the cap grows while the
/// readers pause.
pub(super) const AHEAD_RECHECK: Duration = Duration::from_millis(20);

/// A unit of work for a fetcher: one ranged GET.
pub(super) struct Task {
    pub id: u64,
    pub meta: Arc<ObjectMeta>,
    pub cancel: CancelToken,
    pub start: u64,
    pub len: usize,
    pub target: Target,
    /// When the request started, and under which level of requests in flight.
    pub started: Instant,
    pub generation: u64,
    /// For a read that jumped (counted in `jumped_in_flight`).
    pub jumped: bool,
}

/// Where a task's bytes go.
pub(super) enum Target {
    /// Into a chunk buffer: a pooled one, or a new one of `len` bytes. `reserved` bytes count
    /// against the limit.
    Chunk {
        idx: ChunkIndex,
        buffer: Option<ChunkBuf>,
        reserved: u64,
    },
    /// Into a reader's buffer: piece `piece` of direct read `read`.
    Piece { read: u64, piece: usize, dst: Dst },
}

/// Bytes fetched into buffers and not read yet (chunks kept after being read, and requests
/// in flight, are not counted).
pub(super) fn unread_bytes(st: &State) -> u64 {
    let read: u64 = st
        .consumed
        .iter()
        .filter_map(|&(id, idx)| {
            let o = st.objects.get(&id)?;
            let c = &o.chunks[idx as usize];
            (c.consumed && matches!(c.slot, Slot::Ready(_))).then(|| o.chunk_range(idx).1 as u64)
        })
        .sum();
    let lingering: u64 = st.mem.lingering.iter().map(|b| b.data.len() as u64).sum();
    st.mem
        .held
        .saturating_sub(st.mem.pooled() + read + lingering + st.in_flight_bytes)
}

/// How many bytes prefetching may hold ahead of the readers now, in flight or fetched and not
/// read. While a reader keeps reading (one is blocked in a read, or has just read):
/// * a reader whose reads get their bytes straight into its buffer (a whole shard, a big
///   tensor) does so again on its next read: prefetching only keeps the slots its pieces
///   leave free busy, a cushion of [`pace::INITIAL`] chunks;
/// * smaller reads (4 MiB) are served from buffers: the requests in flight the pace wants, up
///   to an eighth of the memory limit (256 MiB by default), the cushion at least;
/// * after a read that jumped or was at random, and after opening objects until the first
///   read says how they are read, nothing: what comes next is not known.
///
/// More would not arrive sooner, and costs memory (page faults) and CPU the readers need.
/// While the readers pause (to process what they read), the cap grows by what the link
/// delivers meanwhile, so a short pause costs no more memory than it saves time, and a long
/// one fills the memory limit.
pub(super) fn ahead_cap(chunk_size: u64, st: &State, now: Instant) -> u64 {
    let cushion = st.pace.limit().min(pace::INITIAL) as u64 * chunk_size;
    let cushion = if st.last_read_exact {
        // Reads at random, or none yet since an object was opened: nothing ahead is known
        // to be wanted.
        0
    } else if st.last_read_direct {
        cushion
    } else {
        let in_flight = st.pace.limit() as u64 * chunk_size;
        in_flight.min(st.mem.limit / 8).max(cushion)
    };
    if st.readers_reading > 0 {
        return cushion;
    }
    let Some(last) = st.last_read else {
        return u64::MAX;
    };
    let away = now.saturating_duration_since(last);
    let rate = st.pace.rate();
    if rate <= 0.0 && away >= READER_AWAY {
        // Nothing measured yet (objects opened, no read): a reader this long away leaves
        // the whole limit to prefetching.
        return u64::MAX;
    }
    cushion.saturating_add((rate * away.as_secs_f64()) as u64)
}

/// Takes the next task, if there is one, room for it, and a free slot.
pub(super) fn take_task(sh: &Shared, st: &mut State) -> Option<Task> {
    if st.in_flight >= st.pace.limit() {
        // Slots are full, but a reader blocked on a chunk does not wait for one: a random
        // read would otherwise queue behind a whole round of prefetching.
        return if st.in_flight < st.pace.ceiling() {
            take_blocking_chunk(sh, st).or_else(|| take_first_piece(st))
        } else {
            None
        };
    }
    if let Some(t) = take_urgent(sh, st) {
        return Some(t);
    }
    if let Some(t) = take_piece(st, |_| true) {
        return Some(t);
    }
    let task = take_prefetch(sh, st);
    if task.is_none() {
        // A slot without work: the readers (enough is ahead of them and none waits), the
        // memory limit, or the end of the queue set the pace now.
        if st.ahead_of_readers {
            st.pace.reader_bound();
        } else {
            st.pace.starved();
        }
    }
    task
}

/// Urgent chunks, in the order readers asked for them, if there is room.
fn take_urgent(sh: &Shared, st: &mut State) -> Option<Task> {
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
        return Some(start_chunk(sh, st, id, idx));
    }
    None
}

/// The next chunk in open order, unless a jumped read has requests in flight or enough is
/// already ahead of readers that keep reading.
fn take_prefetch(sh: &Shared, st: &mut State) -> Option<Task> {
    st.ahead_of_readers = false;
    if st.jumped_in_flight > 0 || !st.urgent.is_empty() || st.queue.is_empty() {
        return None;
    }
    let ahead = unread_bytes(st) + st.in_flight_bytes;
    st.ahead_of_readers = ahead >= ahead_cap(sh.chunk_size, st, Instant::now());
    if st.ahead_of_readers {
        return None;
    }
    let &(id, idx) = st.queue.first()?;
    let len = st.objects.get(&id)?.chunk_range(idx).1;
    if !make_room(sh, st, len as u64, false) {
        return None;
    }
    st.queue.remove(&(id, idx));
    materialize(st, id, idx);
    Some(start_chunk(sh, st, id, idx))
}

/// Makes the state of object `id`'s chunks through `idx`, and a window beyond it once `idx`
/// is within half a window of the last chunk made (see [`CHUNK_WINDOW`]). New chunks go into
/// the prefetch queue, unless the object is read at random (then they wait for reads).
pub(super) fn materialize(st: &mut State, id: u64, idx: ChunkIndex) {
    let Some(obj) = st.objects.get_mut(&id) else {
        return;
    };
    let made = obj.chunks.len() as ChunkIndex;
    if idx.saturating_add(CHUNK_WINDOW / 2) < made || made == obj.n_chunks {
        return;
    }
    let through = idx.saturating_add(CHUNK_WINDOW).min(obj.n_chunks - 1);
    let queued = !obj.access.random && obj.error.is_none();
    for i in made..=through {
        let mut c = Chunk::new();
        if queued {
            st.queue.insert((id, i));
        } else {
            c.slot = Slot::Empty;
        }
        obj.chunks.push(c);
    }
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
    Some(start_chunk(sh, st, id, idx))
}

/// A piece of a direct read that has none in flight yet (beyond the pace: the reader waits).
fn take_first_piece(st: &mut State) -> Option<Task> {
    take_piece(st, |r| r.in_flight() == 0)
}

/// The next waiting piece of a direct read accepted by `which`.
fn take_piece(st: &mut State, which: impl Fn(&super::direct::DirectRead) -> bool) -> Option<Task> {
    let waiting = |st: &State, r: u64, p: usize| {
        st.reads
            .get(&r)
            .is_some_and(|read| read.pieces[p].state == PieceState::Waiting)
    };
    // Stale entries (withdrawn, or fetched again and done) leave from the front.
    while let Some(&(r, p)) = st.direct_queue.front() {
        if waiting(st, r, p) {
            break;
        }
        st.direct_queue.pop_front();
    }
    let at = st
        .direct_queue
        .iter()
        .position(|&(r, p)| waiting(st, r, p) && which(&st.reads[&r]))?;
    let (read_id, p) = st.direct_queue.remove(at).expect("position found");
    let read = st.reads.get_mut(&read_id).expect("checked above");
    let piece = &mut read.pieces[p];
    piece.state = PieceState::InFlight;
    let (start, len, dst, jumped, id) =
        (piece.start, piece.len, piece.dst, read.jumped, read.object);
    let obj = st.objects.get(&id).expect("a reader waits on its object");
    // The read's own token: the object outlives the read (its reader is borrowed by it).
    let (meta, cancel) = (Arc::clone(&obj.meta), read.cancel.clone());
    st.jumped_in_flight += usize::from(jumped);
    st.add_in_flight(1);
    Some(Task {
        id,
        meta,
        cancel,
        start,
        len,
        target: Target::Piece {
            read: read_id,
            piece: p,
            dst,
        },
        started: Instant::now(),
        generation: st.pace.generation(),
        jumped,
    })
}

/// Marks a chunk in flight and reserves its memory (room was made by [`make_room`]).
fn start_chunk(sh: &Shared, st: &mut State, id: u64, idx: ChunkIndex) -> Task {
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
    // A chunk already read is recycled rather than a new buffer allocated: fresh memory
    // costs page faults, and keeping read chunks only helps callers that seek back.
    if len == full && st.mem.pool.is_empty() && !st.mem.reclaim_lingering() {
        evict_consumed(st);
    }
    let (buffer, reserved) = st.mem.reserve(len);
    st.add_in_flight(1);
    st.in_flight_bytes += reserved;
    Task {
        id,
        meta,
        cancel,
        start,
        len,
        target: Target::Chunk {
            idx,
            buffer,
            reserved,
        },
        started: Instant::now(),
        generation: st.pace.generation(),
        jumped,
    }
}

/// Drops the least recently read chunk (its buffer goes to the pool); false if none. Chunks a
/// blocked reader needs are kept, and keep their place in the list.
pub(super) fn evict_consumed(st: &mut State) -> bool {
    let mut kept = Vec::new();
    let mut evicted = false;
    while let Some((id, idx)) = st.consumed.pop_front() {
        let Some(obj) = st.objects.get_mut(&id) else {
            continue;
        };
        let c = &obj.chunks[idx as usize];
        if !c.consumed || !matches!(c.slot, Slot::Ready(_)) {
            continue;
        }
        if obj.demanded.contains(&idx) {
            kept.push((id, idx));
            continue;
        }
        if let Some(b) = obj.chunks[idx as usize].take_buffer(Slot::Empty) {
            st.mem.free(b);
        }
        evicted = true;
        break;
    }
    for entry in kept.into_iter().rev() {
        st.consumed.push_front(entry);
    }
    evicted
}

/// Makes `need` bytes of room within the memory limit, dropping read chunks first and, for a
/// chunk a reader waits for, prefetched chunks nobody waits for. Returns false if that is not
/// possible now.
pub(super) fn make_room(sh: &Shared, st: &mut State, need: u64, urgent: bool) -> bool {
    let full = sh.chunk_size;
    loop {
        if st.mem.fits(need) {
            return true;
        }
        if st.mem.reclaim_lingering() {
            continue;
        }
        // A small chunk cannot use a pooled buffer: give one back instead.
        if need != full && st.mem.release_one() {
            continue;
        }
        if evict_consumed(st) {
            continue;
        }
        if !urgent {
            return false;
        }
        // Prefetched chunks nobody waits for, latest in open order first; they go back into
        // the queue.
        let mut ids: Vec<u64> = st.objects.keys().copied().collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let victim = ids.into_iter().find_map(|id| {
            let obj = &st.objects[&id];
            (0..obj.chunks.len() as ChunkIndex)
                .rev()
                .find(|&idx| {
                    matches!(obj.chunks[idx as usize].slot, Slot::Ready(_))
                        && !obj.demanded.contains(&idx)
                })
                .map(|idx| (id, idx))
        });
        let Some((id, idx)) = victim else {
            return false;
        };
        let obj = st.objects.get_mut(&id).expect("victim exists");
        let c = &mut obj.chunks[idx as usize];
        let read = c.consumed;
        if let Some(b) = c.take_buffer(if read { Slot::Empty } else { Slot::Queued }) {
            if !read {
                st.queue.insert((id, idx));
            }
            st.mem.free(b);
        }
    }
}

/// Releases the spare buffers beyond what the pool keeps now (see [`pool_keep`]).
pub(super) fn trim_pool(st: &mut State) {
    let keep = pool_keep(
        st.objects.len(),
        st.idle_since,
        Instant::now(),
        st.pace.limit(),
    );
    st.mem.trim(keep);
}

/// Puts the chunks of object `id` from `from` on that hold no data and are not being fetched
/// back into the prefetch queue. Returns how many.
fn requeue_from(st: &mut State, id: u64, from: ChunkIndex) -> usize {
    let Some(obj) = st.objects.get_mut(&id) else {
        return 0;
    };
    let mut n = 0;
    for i in from as usize..obj.chunks.len() {
        let c = &mut obj.chunks[i];
        if matches!(c.slot, Slot::Empty) {
            c.slot = Slot::Queued;
            st.queue.insert((id, i as ChunkIndex));
            n += 1;
        }
    }
    n
}

/// Acts on what a read of object `id` means for prefetching (see [`ReadKind`]). Returns
/// whether chunks went back into the queue (the caller wakes fetchers).
pub(super) fn follow_read(st: &mut State, id: u64, kind: ReadKind) -> bool {
    match kind {
        ReadKind::InOrder | ReadKind::Random => false,
        ReadKind::BackInOrder { from } | ReadKind::Jump { from } => requeue_from(st, id, from) > 0,
        ReadKind::Rewind => {
            // This object, and the objects opened after it that were read through too: the
            // document's second loop reads every shard again, in open order.
            let later: Vec<u64> = st
                .objects
                .iter()
                .filter(|(&o, obj)| o > id && obj.read_to_end && !obj.access.random)
                .map(|(&o, _)| o)
                .collect();
            let mut n = requeue_from(st, id, 0);
            for o in later {
                n += requeue_from(st, o, 0);
            }
            n > 0
        }
        ReadKind::BecameRandom => {
            let Some(obj) = st.objects.get_mut(&id) else {
                return false;
            };
            let mut dropped = 0;
            for (i, c) in obj.chunks.iter_mut().enumerate() {
                if matches!(c.slot, Slot::Queued) && st.queue.remove(&(id, i as ChunkIndex)) {
                    c.slot = Slot::Empty;
                    dropped += 1;
                }
            }
            log::debug!(
                "{}: read at random; {dropped} chunks left the prefetch queue",
                obj.meta.uri(),
            );
            false
        }
    }
}

/// Moves the chunks a blocked reader needs to the urgent queue: `wanted` (which it will copy
/// from buffers), and, while the object is unverified and the read's bytes are held back for
/// the CRC check, every chunk whose CRC is still unknown. `jump`: the read is out of open
/// order, so prefetching pauses while these are fetched. Returns how many chunks became
/// urgent.
pub(super) fn demand(
    st: &mut State,
    id: u64,
    wanted: &[ChunkIndex],
    held_back: bool,
    jump: bool,
) -> usize {
    if held_back {
        // Every chunk is needed for the CRC check.
        let last = st.objects.get(&id).map_or(0, |o| o.last_index());
        materialize(st, id, last);
    }
    let Some(obj) = st.objects.get_mut(&id) else {
        return 0;
    };
    let mut chunks: Vec<ChunkIndex> = wanted.to_vec();
    obj.demanded.extend(wanted.iter().copied());
    if held_back {
        let missing: Vec<ChunkIndex> = obj.chunks_without_crc().collect();
        chunks.extend(missing.into_iter().filter(|i| !wanted.contains(i)));
    }
    let mut newly_urgent = Vec::new();
    for i in chunks {
        let c = &mut obj.chunks[i as usize];
        match c.slot {
            Slot::Queued => newly_urgent.push((id, i)),
            Slot::Empty => {
                c.slot = Slot::Queued;
                newly_urgent.push((id, i));
            }
            Slot::InFlight | Slot::Direct | Slot::Ready(_) => {}
        }
    }
    for &i in wanted {
        // A chunk out of open order is fetched before any new prefetching starts. The chunk
        // next in open order is not: a reader that caught up with the prefetcher must not
        // stall it.
        let queued_elsewhere = st.queue.contains(&(id, i)) && st.queue.first() != Some(&(id, i));
        if jump || queued_elsewhere {
            st.jumped.insert((id, i));
        }
    }
    let mut added = 0;
    for t in newly_urgent {
        st.queue.remove(&t);
        if !st.urgent.contains(&t) {
            st.urgent.push_back(t);
            added += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::super::object::tests::meta;
    use super::super::object::{Buffer, Object};
    use super::*;

    const CHUNK: u64 = 4096;

    /// A state with one open object of `chunks` chunks, none queued.
    fn state(chunks: u64, limit_chunks: u64) -> State {
        let mut st = State::new(CHUNK, limit_chunks * CHUNK, 16);
        let mut obj = Object::new(meta(chunks * CHUNK, None), CHUNK, false);
        for c in &mut obj.chunks {
            c.slot = Slot::Empty;
        }
        st.objects.insert(1, obj);
        st
    }

    /// Fetches chunk `idx` (a buffer on the books) and reads it to its end.
    fn fetch_and_read(st: &mut State, idx: ChunkIndex) {
        let (b, _) = st.mem.reserve(CHUNK as usize);
        let data = b.unwrap_or_else(|| ChunkBuf::new(CHUNK as usize));
        let c = &mut st.objects.get_mut(&1).unwrap().chunks[idx as usize];
        c.slot = Slot::Ready(Buffer::new(data));
        assert!(!c.consumed, "a freshly fetched chunk is unread");
        c.consumed = true;
        st.consumed.push_back((1, idx));
    }

    #[test]
    fn an_evicted_chunk_fetched_and_read_again_can_be_evicted_again() {
        let mut st = state(4, 4);
        fetch_and_read(&mut st, 0);
        assert!(evict_consumed(&mut st));
        let c = &st.objects[&1].chunks[0];
        assert!(
            matches!(c.slot, Slot::Empty) && !c.consumed,
            "dropped and unread"
        );
        // Read again after a seek back: fetched again, read again, droppable again.
        fetch_and_read(&mut st, 0);
        assert_eq!(
            unread_bytes(&st),
            0,
            "a chunk read again is not ahead of the reader"
        );
        assert!(
            evict_consumed(&mut st),
            "the chunk read twice must be droppable"
        );
        assert!(!evict_consumed(&mut st));
    }

    #[test]
    fn a_demanded_chunk_keeps_its_place_among_the_read_ones() {
        let mut st = state(4, 4);
        fetch_and_read(&mut st, 0);
        fetch_and_read(&mut st, 1);
        st.objects.get_mut(&1).unwrap().demanded.insert(0);
        // Chunk 0 is needed by a blocked reader: chunk 1 goes first...
        assert!(evict_consumed(&mut st));
        assert!(matches!(st.objects[&1].chunks[1].slot, Slot::Empty));
        // ...and chunk 0 stays in the list, droppable once no reader needs it.
        assert!(!evict_consumed(&mut st));
        st.objects.get_mut(&1).unwrap().demanded.clear();
        assert!(
            evict_consumed(&mut st),
            "the demanded chunk was lost from the list"
        );
    }

    #[test]
    fn prefetching_stays_a_cushion_ahead_of_readers_that_keep_reading() {
        let mut st = state(64, 64);
        let now = Instant::now();
        let cushion = pace::INITIAL as u64 * CHUNK;
        let cap = |st: &State, at: Instant| ahead_cap(CHUNK, st, at);
        assert_eq!(
            cap(&st, now),
            u64::MAX,
            "no reader yet: the memory limit is the cap"
        );
        st.last_read = Some(now);
        assert_eq!(cap(&st, now), cushion);
        st.readers_reading = 1;
        assert_eq!(
            cap(&st, now + Duration::from_secs(5)),
            cushion,
            "a blocked reader is reading"
        );
        st.readers_reading = 0;
        // A reader pausing lets prefetching go further by what the link delivers meanwhile.
        st.pace.set_rate_for_tests(1e9);
        assert_eq!(
            cap(&st, now + Duration::from_millis(100)),
            cushion + 100_000_000
        );
        // Requests in flight are not ahead (the pace sets them); fetched, unread bytes are.
        st.mem.reserve(CHUNK as usize);
        st.in_flight_bytes += CHUNK;
        assert_eq!(unread_bytes(&st), 0);
        st.in_flight_bytes -= CHUNK;
        assert_eq!(unread_bytes(&st), CHUNK);
        fetch_and_read(&mut st, 3);
        assert_eq!(unread_bytes(&st), CHUNK, "a read chunk is not ahead");
    }

    #[test]
    fn a_second_pass_queues_the_object_and_the_later_ones_read_through() {
        let mut st = state(3, 8);
        for id in [2, 3] {
            let mut o = Object::new(meta(3 * CHUNK, None), CHUNK, false);
            for c in &mut o.chunks {
                c.slot = Slot::Empty;
            }
            o.read_to_end = id == 2;
            st.objects.insert(id, o);
        }
        st.objects.get_mut(&1).unwrap().read_to_end = true;
        assert!(follow_read(&mut st, 1, ReadKind::Rewind));
        let queued: Vec<(u64, ChunkIndex)> = st.queue.iter().copied().collect();
        assert_eq!(queued, vec![(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]);
        // Random reading drops the queue; reading in order again brings it back from there.
        assert!(!follow_read(&mut st, 1, ReadKind::BecameRandom));
        assert!(st.queue.iter().all(|&(id, _)| id == 2));
        assert!(follow_read(&mut st, 1, ReadKind::BackInOrder { from: 1 }));
        assert!(st.queue.contains(&(1, 1)) && !st.queue.contains(&(1, 0)));
    }
}
