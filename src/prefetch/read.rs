//! A reader's read of `[offset, offset + n)`.
//!
//! When the bytes at `offset` are already fetched, the read copies what is ready from the
//! chunk buffers and returns (it may return fewer bytes than asked for). Otherwise it plans:
//! the chunks of its range that nobody fetched yet go straight into the caller's buffer (see
//! [`super::direct`]); chunks being fetched into buffers, or ready ones, are copied as they
//! come, while the direct pieces are in flight; chunks the read needs only in part (in
//! order) are demanded into buffers. Such a read returns once its whole range is in the
//! caller's buffer and may be handed over (held chunks verified).
//!
//! With a deadline (Python's interruptible reads), a read that runs out of time withdraws
//! the pieces that have not started (their chunks go back to the prefetch queue), waits for
//! those in flight (a piece writes into the caller's buffer: it must end before the read
//! does), and returns the bytes in place from `offset` on, if any.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use super::access::ReadKind;
use super::direct::{piece_size, split, DirectRead, Dst, Piece, PieceState, PATIENCE};
use super::object::{Buffer, ChunkIndex, Object, Slot};
use super::{schedule, unlock, worker, Shared, State};
use crate::client::CancelToken;
use crate::error::{Error, ErrorKind, Result};

/// A copy bigger than this, spanning several chunks, runs on several threads.
const PARALLEL_COPY_MIN: usize = 32 << 20;

/// Bytes of a chunk buffer to copy: (buffer, offset in it, length, offset in the caller's
/// buffer).
type Segment = (Arc<Buffer>, usize, usize, usize);

pub(super) fn read_at(
    sh: &Arc<Shared>,
    id: u64,
    offset: u64,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<Option<usize>> {
    // A reader is reading for as long as a read lasts (copying, or waiting for bytes), not
    // only when it asks: the prefetcher's cushion depends on it (see `schedule::ahead_cap`).
    sh.lock().readers_reading += 1;
    let result = read_at_reading(sh, id, offset, buf, deadline);
    let mut st = sh.lock();
    st.readers_reading -= 1;
    st.last_read = Some(Instant::now());
    drop(st);
    result
}

fn read_at_reading(
    sh: &Arc<Shared>,
    id: u64,
    offset: u64,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<Option<usize>> {
    let mut st = sh.lock();
    st.last_read = Some(Instant::now());
    let obj = live_object(&mut st, id)?;
    let size = obj.meta.size;
    if offset >= size || buf.is_empty() {
        return Ok(Some(0));
    }
    let kind = obj.access.on_read(offset, sh.chunk_size, obj.read_to_end);
    let want = buf.len().min((size - offset) as usize);
    let end = offset + want as u64;
    let last = obj.chunk_of(end - 1);
    st.last_read_exact = kind.exact();
    let queued_before = st.queue.len();
    schedule::materialize(&mut st, id, last);
    if schedule::follow_read(&mut st, id, kind) || st.queue.len() > queued_before {
        // Prefetching resumed: idle fetchers (and new ones, up to the pace) take it up.
        let n = st.queue.len();
        worker::wake(sh, &mut st, n);
    }

    // Bytes ready at the offset: copy what is ready, as far as it goes.
    let segments = ready_prefix(&st.objects[&id], offset, end);
    if !segments.is_empty() {
        let n: usize = segments.iter().map(|s| s.2).sum();
        let freed_room = hand_over(&mut st, id, offset, n);
        drop(st);
        if freed_room {
            sh.work.notify_one();
        }
        copy_segments(sh, segments, buf);
        return Ok(Some(n));
    }
    let mut read = Planned::new(&st.objects[&id], id, offset, end, kind, buf.as_mut_ptr());
    let (mut st, outcome) = read.run(sh, st, buf, deadline);
    st.last_read_direct = read.read_id.is_some();
    let (mut st, outcome) = read.finish(sh, st, outcome);
    match outcome {
        Ok(Some(n)) if n > 0 => {
            let freed_room = hand_over(&mut st, id, offset, n);
            unlock(st);
            if freed_room {
                sh.work.notify_one();
            }
            Ok(Some(n))
        }
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The object, unless it is closed or failed (or the connector shut down).
fn live_object(st: &mut State, id: u64) -> Result<&mut Object> {
    if st.shutdown {
        return Err(Error::new(
            ErrorKind::Cancelled,
            "the connector was shut down",
        ));
    }
    let Some(obj) = st.objects.get_mut(&id) else {
        return Err(Error::new(ErrorKind::Cancelled, "the object was closed"));
    };
    match &obj.error {
        Some(e) => Err(e.clone()),
        None => Ok(obj),
    }
}

/// The releasable chunk segments covering `[offset, end)` from `offset` on, up to the first
/// chunk that is not releasable.
fn ready_prefix(obj: &Object, offset: u64, end: u64) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut pos = offset;
    while pos < end {
        let idx = obj.chunk_of(pos);
        if !obj.releasable(idx) {
            break;
        }
        let Slot::Ready(b) = &obj.chunks[idx as usize].slot else {
            break;
        };
        let (cstart, clen) = obj.chunk_range(idx);
        let from = (pos - cstart) as usize;
        let n = (clen - from).min((end - pos) as usize);
        segments.push((Arc::clone(b), from, n, (pos - offset) as usize));
        pos += n as u64;
    }
    segments
}

/// Records that `n` bytes from `offset` reached the caller: the chunks are delivered (for the
/// verification rounds), buffers read to their end become the first to drop, and the access
/// pattern learns where the read ended. Returns whether read chunks became droppable.
fn hand_over(st: &mut State, id: u64, offset: u64, n: usize) -> bool {
    let Some(obj) = st.objects.get_mut(&id) else {
        return false;
    };
    let end = offset + n as u64;
    let mut consumed_now = Vec::new();
    for idx in obj.chunk_of(offset)..=obj.chunk_of(end - 1) {
        let (cstart, clen) = obj.chunk_range(idx);
        let c = &mut obj.chunks[idx as usize];
        c.hand_over();
        if matches!(c.slot, Slot::Ready(_)) && end >= cstart + clen as u64 && !c.consumed {
            c.consumed = true;
            consumed_now.push((id, idx));
        }
    }
    obj.access.read_ended(end);
    if end == obj.meta.size {
        obj.read_to_end = true;
    }
    let freed = !consumed_now.is_empty();
    st.consumed.extend(consumed_now);
    freed
}

/// Copies the segments into `out`; several threads for big multi-chunk copies. Buffers
/// dropped from their chunks meanwhile are handed on once this reader lets go of them.
fn copy_segments(sh: &Shared, segments: Vec<Segment>, out: &mut [u8]) {
    let total: usize = segments.iter().map(|s| s.2).sum();
    if segments.len() > 1 && total >= PARALLEL_COPY_MIN {
        use rayon::prelude::*;
        let base = out.as_mut_ptr() as usize;
        let len = out.len();
        segments.par_iter().for_each(|(b, from, n, at)| {
            assert!(at + n <= len);
            // SAFETY: the segments' destinations are disjoint ranges within `out` (each covers
            // its own part of the read), checked in bounds above; `out` is borrowed mutably
            // for the whole call.
            let dst = unsafe { std::slice::from_raw_parts_mut((base + at) as *mut u8, *n) };
            dst.copy_from_slice(&b.data[*from..*from + *n]);
        });
    } else {
        for (b, from, n, at) in &segments {
            out[*at..*at + n].copy_from_slice(&b.data[*from..*from + *n]);
        }
    }
    let dropped_meanwhile = segments
        .iter()
        .any(|(b, _, _, _)| b.lingering.load(Ordering::Acquire));
    drop(segments);
    if dropped_meanwhile {
        // This reader may have held the last reference: hand the buffers on.
        let mut st = sh.lock();
        if st.mem.reclaim_lingering() {
            schedule::trim_pool(&mut st);
            sh.work.notify_one();
        }
        unlock(st);
    }
}

/// A read that waits: what of its range is in the caller's buffer, and its direct pieces.
struct Planned {
    id: u64,
    offset: u64,
    end: u64,
    first: ChunkIndex,
    /// Fetch exactly the bytes read (a seek, random access), and pause prefetching for them.
    exact: bool,
    /// The caller's buffer (for direct pieces).
    out: *mut u8,
    /// Per chunk of the range: the verification round in which its bytes reached the
    /// caller's buffer, 0 if they have not.
    covered: Vec<u8>,
    /// Per chunk of the range: this read's live pieces (planned, not superseded).
    pieces: Vec<Vec<usize>>,
    /// The direct read, once a piece is planned.
    read_id: Option<u64>,
    /// Registered in `Object::waiting` / `State::readers_waiting`.
    waiting: bool,
}

impl Planned {
    fn new(obj: &Object, id: u64, offset: u64, end: u64, kind: ReadKind, out: *mut u8) -> Planned {
        let first = obj.chunk_of(offset);
        let n = (obj.chunk_of(end - 1) - first + 1) as usize;
        Planned {
            id,
            offset,
            end,
            first,
            exact: kind.exact() && !obj.hold,
            out,
            covered: vec![0; n],
            pieces: vec![Vec::new(); n],
            read_id: None,
            waiting: false,
        }
    }

    fn chunks(&self) -> impl Iterator<Item = (usize, ChunkIndex)> {
        let first = self.first;
        (0..self.covered.len()).map(move |k| (k, first + k as ChunkIndex))
    }

    /// The part of chunk `idx` within the read: (object offset, length).
    fn overlap(&self, obj: &Object, idx: ChunkIndex) -> (u64, u64) {
        let (cstart, clen) = obj.chunk_range(idx);
        let a = cstart.max(self.offset);
        let b = (cstart + clen as u64).min(self.end);
        (a, b - a)
    }

    /// Waits until the range is in the caller's buffer and may be handed over (`Some(n)`),
    /// the deadline passes (`None`), or the object fails.
    fn run<'a>(
        &mut self,
        sh: &'a Arc<Shared>,
        mut st: MutexGuard<'a, State>,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State>, Result<Option<usize>>) {
        loop {
            let round = match live_object(&mut st, self.id) {
                Ok(obj) => obj.round,
                Err(e) => return (st, Err(e)),
            };
            // A second verification round started: bytes from the first are fetched again.
            for c in &mut self.covered {
                if *c != 0 && *c < round {
                    *c = 0;
                }
            }
            self.collect_pieces(&st);
            let obj = &st.objects[&self.id];
            let held = self.chunks().any(|(_, idx)| obj.held_back(idx));
            let mut segments: Vec<Segment> = Vec::new();
            let mut copied = Vec::new();
            let mut to_plan = Vec::new();
            let mut to_demand = Vec::new();
            for (k, idx) in self.chunks() {
                if self.covered[k] != 0 || !self.pieces[k].is_empty() {
                    continue;
                }
                let (a, n) = self.overlap(obj, idx);
                match &obj.chunks[idx as usize].slot {
                    Slot::Ready(b) if !obj.held_back(idx) => {
                        let from = (a - obj.chunk_range(idx).0) as usize;
                        segments.push((
                            Arc::clone(b),
                            from,
                            n as usize,
                            (a - self.offset) as usize,
                        ));
                        copied.push(k);
                    }
                    // Held back until verified, or on its way: wait.
                    Slot::Ready(_) | Slot::InFlight | Slot::Direct => {}
                    Slot::Queued | Slot::Empty => {
                        let whole = n == obj.chunk_range(idx).1 as u64;
                        if whole || (self.exact && !obj.held_back(idx)) {
                            to_plan.push(idx);
                        } else {
                            to_demand.push(idx);
                        }
                    }
                }
            }
            if self.covered.iter().all(|&c| c != 0) && (!held || obj.verified) {
                return (st, Ok(Some((self.end - self.offset) as usize)));
            }
            let verify = held && !obj.verified;
            if !to_plan.is_empty() {
                self.plan(sh, &mut st, &to_plan);
            }
            if (!to_demand.is_empty() || verify)
                && schedule::demand(&mut st, self.id, &to_demand, verify, self.exact) > 0
            {
                worker::wake(sh, &mut st, to_demand.len().max(1));
            }
            if !segments.is_empty() {
                for k in copied {
                    self.covered[k] = round;
                }
                // The copy runs unlocked: the segments keep their buffers alive.
                unlock(st);
                copy_segments(sh, segments, buf);
                st = sh.lock();
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (st, Ok(None));
            }
            st = self.wait(sh, st, deadline);
        }
    }

    /// Marks the chunks whose live pieces are all done as covered, in the round their last
    /// piece completed in.
    fn collect_pieces(&mut self, st: &State) {
        let Some(read) = self.read_id.and_then(|r| st.reads.get(&r)) else {
            return;
        };
        for k in 0..self.pieces.len() {
            if self.pieces[k].is_empty() {
                continue;
            }
            let mut round = u8::MAX;
            for &p in &self.pieces[k] {
                match read.pieces[p].state {
                    PieceState::Done(_) => round = round.min(read.pieces[p].round),
                    _ => {
                        round = 0;
                        break;
                    }
                }
            }
            if round != 0 {
                self.covered[k] = round;
                self.pieces[k].clear();
            }
        }
    }

    /// Plans direct pieces for chunks `to_plan` (not fetched, not being fetched).
    fn plan(&mut self, sh: &Arc<Shared>, st: &mut State, to_plan: &[ChunkIndex]) {
        let obj = &st.objects[&self.id];
        let parts: Vec<(ChunkIndex, u64, u64, bool)> = to_plan
            .iter()
            .map(|&idx| {
                let (a, n) = self.overlap(obj, idx);
                (idx, a, a + n, n == obj.chunk_range(idx).1 as u64)
            })
            .collect();
        let crc_kind = obj.meta.crc_kind;
        let bytes: u64 = parts.iter().map(|p| p.2 - p.1).sum();
        let piece = piece_size(bytes, st.pace.limit(), sh.chunk_size, st.request_rate);
        let read_id = *self.read_id.get_or_insert_with(|| {
            let r = st.next_read;
            st.next_read += 1;
            st.reads.insert(
                r,
                DirectRead {
                    object: self.id,
                    pieces: Vec::new(),
                    cancel: CancelToken::new(),
                    jumped: self.exact,
                    crc_kind,
                },
            );
            r
        });
        let read = st.reads.get_mut(&read_id).expect("registered above");
        let obj = st.objects.get_mut(&self.id).expect("checked by the caller");
        let mut added = 0;
        for (idx, a, b, whole) in parts {
            let k = (idx - self.first) as usize;
            // Pieces of this chunk planned before (fetched in a round since abandoned) no
            // longer count.
            for p in read.pieces.iter_mut().filter(|p| p.chunk == idx) {
                if p.state != PieceState::InFlight {
                    p.state = PieceState::Withdrawn;
                }
            }
            if whole {
                obj.chunks[idx as usize].slot = Slot::Direct;
                st.queue.remove(&(self.id, idx));
            }
            for (pa, pb) in split(a, b, piece) {
                let at = (pa - self.offset) as usize;
                read.pieces.push(Piece {
                    start: pa,
                    len: (pb - pa) as usize,
                    // In bounds: [pa, pb) lies within [offset, end), the caller's buffer.
                    dst: Dst(self.out.wrapping_add(at)),
                    chunk: idx,
                    whole,
                    round: 0,
                    state: PieceState::Waiting,
                });
                let p = read.pieces.len() - 1;
                self.pieces[k].push(p);
                st.direct_queue.push_back((read_id, p));
                added += 1;
            }
        }
        worker::wake(sh, st, added);
    }

    /// Waits for progress (a chunk or piece done, an error), at most until `deadline`.
    fn wait<'a>(
        &mut self,
        sh: &'a Shared,
        mut st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, State> {
        if !self.waiting {
            self.waiting = true;
            if let Some(o) = st.objects.get_mut(&self.id) {
                o.waiting += 1;
            }
        }
        let st = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                sh.data
                    .wait_timeout(st, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => sh.data.wait(st).unwrap_or_else(|p| p.into_inner()),
        };
        st
    }

    /// Ends the read: withdraws the pieces that have not started (their chunks go back to the
    /// queue), waits for those in flight, and says how many bytes from the offset may be
    /// handed over (all of them, or after a deadline or an error the ones in place).
    fn finish<'a>(
        &mut self,
        sh: &'a Shared,
        mut st: MutexGuard<'a, State>,
        outcome: Result<Option<usize>>,
    ) -> (MutexGuard<'a, State>, Result<Option<usize>>) {
        if let Some(read_id) = self.read_id {
            self.withdraw(&mut st, read_id);
            // Pieces write into the caller's buffer: they must end before the read does. A
            // read out of time (or failed) gives those in flight a moment, then cancels them.
            let patience = (!matches!(outcome, Ok(Some(_)))).then(|| Instant::now() + PATIENCE);
            while st.reads[&read_id].in_flight() > 0 || st.reads[&read_id].waiting() > 0 {
                match patience {
                    Some(p) if Instant::now() >= p => {
                        st.reads[&read_id].cancel.cancel();
                        st = self.wait(sh, st, None);
                    }
                    p => st = self.wait(sh, st, p),
                }
            }
            self.collect_pieces(&st);
            st.reads.remove(&read_id);
        }
        if self.waiting {
            if let Some(o) = st.objects.get_mut(&self.id) {
                o.waiting -= 1;
                if o.waiting == 0 {
                    o.demanded.clear();
                }
            }
        }
        let outcome = match outcome {
            Ok(None) => Ok(Some(self.in_place(&st))),
            other => other,
        };
        (st, outcome)
    }

    /// Withdraws the pieces of chunks none of whose pieces has started: whole chunks go back
    /// to the prefetch queue (or stay unfetched, for an object read at random).
    fn withdraw(&mut self, st: &mut State, read_id: u64) {
        let read = st.reads.get_mut(&read_id).expect("the read is registered");
        let Some(obj) = st.objects.get_mut(&self.id) else {
            return;
        };
        for k in 0..self.pieces.len() {
            let live = &self.pieces[k];
            if live.is_empty()
                || live
                    .iter()
                    .any(|&p| read.pieces[p].state != PieceState::Waiting)
            {
                continue;
            }
            let idx = self.first + k as ChunkIndex;
            let whole = read.pieces[live[0]].whole;
            for &p in live {
                read.pieces[p].state = PieceState::Withdrawn;
            }
            self.pieces[k].clear();
            let c = &mut obj.chunks[idx as usize];
            if whole && matches!(c.slot, Slot::Direct) {
                if obj.access.random {
                    c.slot = Slot::Empty;
                } else {
                    c.slot = Slot::Queued;
                    st.queue.insert((self.id, idx));
                }
            }
        }
    }

    /// Bytes in the caller's buffer from the offset on that may be handed over.
    fn in_place(&self, st: &State) -> usize {
        let Some(obj) = st.objects.get(&self.id) else {
            return 0;
        };
        let mut n = 0u64;
        for (k, idx) in self.chunks() {
            if self.covered[k] == 0 || self.covered[k] < obj.round || obj.held_back(idx) {
                break;
            }
            n += self.overlap(obj, idx).1;
        }
        n as usize
    }
}
