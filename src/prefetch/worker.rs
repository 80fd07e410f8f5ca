//! The fetcher threads: each takes a task (see [`schedule`]), runs its ranged GET unlocked,
//! and records the outcome: a chunk buffer stored (or discarded), a piece of a direct read
//! done, CRCs checked, readers woken.

use std::cell::Cell;
use std::sync::Arc;

use super::buffer::ChunkBuf;
use super::direct::PieceState;
use super::fetch;
use super::object::{Buffer, ChunkIndex, Slot};
use super::panics::{self, Running, RunningTarget, Stage};
use super::schedule::{self, Target, AHEAD_RECHECK};
use super::verify::{record_crc, Verdict};
use super::{memory, unlock, Shared, State};
use crate::error::{ErrorKind, Result};

/// Changes of the pace recorded for [`super::PrefetchStats::pace_steps`].
const PACE_STEPS_KEPT: usize = 64;

/// Stack size of fetcher threads: they run ureq (and rustls) and little else.
const FETCHER_STACK: usize = 1 << 20;

/// How many fetchers to start for `new_tasks` more tasks (the caller passes it to [`spawn`]).
pub(super) fn spawn_count(st: &State, new_tasks: usize) -> usize {
    let room = st.pace.limit().saturating_sub(st.threads);
    let pending = st.queue.len() + st.urgent.len() + st.direct_queue.len();
    room.min(pending.saturating_sub(st.idle))
        .min(new_tasks.max(1))
}

/// Starts `n` fetcher threads and counts those that started in `st.threads`. Called with the
/// state locked: it takes only the thread-list lock, which is never held while waiting for
/// the state lock.
pub(super) fn spawn(sh: &Arc<Shared>, st: &mut State, n: usize) {
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

/// Wakes fetchers for new work: idle ones, and new ones up to the pace. One idle fetcher per
/// new task (a fetcher that takes a task wakes the next one while work is left, see
/// [`fetcher`]): waking them all for a read of one or two pieces costs every idle thread a
/// context switch, on a small machine as much as the read.
pub(super) fn wake(sh: &Arc<Shared>, st: &mut State, new_tasks: usize) {
    let n = spawn_count(st, new_tasks);
    spawn(sh, st, n);
    if new_tasks >= st.idle {
        sh.work.notify_all();
    } else {
        for _ in 0..new_tasks.max(1) {
            sh.work.notify_one();
        }
    }
}

/// A fetcher thread: its loop, and what is left to do when a panic escapes it (see
/// [`panics`]).
fn fetcher(sh: Arc<Shared>) {
    let _log = sh.log.enter();
    let running = Cell::new(None);
    if let Err(payload) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fetch_loop(&sh, &running)))
    {
        panics::recover(&sh, running.get(), payload.as_ref());
    }
}

/// The fetcher's loop; `running` tells [`panics::recover`] which task it runs.
fn fetch_loop(sh: &Arc<Shared>, running: &Cell<Option<Running>>) {
    let mut st = sh.lock();
    loop {
        if st.shutdown {
            break;
        }
        let Some(task) = schedule::take_task(sh, &mut st) else {
            // Making room may have given up buffers: drop them unlocked, then look again.
            if !st.mem.released.is_empty() {
                unlock(st);
                st = sh.lock();
                continue;
            }
            // Wake up again when the readers' pause may let prefetching go further, or when
            // the pool's grace period ends (its buffers go back to the system).
            let timeout = if st.ahead_of_readers {
                Some(AHEAD_RECHECK)
            } else if st.objects.is_empty() && !st.mem.pool.is_empty() {
                Some(memory::POOL_GRACE)
            } else {
                None
            };
            st.idle += 1;
            st = match timeout {
                Some(t) => {
                    sh.work
                        .wait_timeout(st, t)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => sh.work.wait(st).unwrap_or_else(|p| p.into_inner()),
            };
            st.idle -= 1;
            schedule::trim_pool(&mut st);
            continue;
        };
        // More work and an idle sibling: pass the baton (wakers wake one fetcher per task).
        let more = !st.queue.is_empty() || !st.direct_queue.is_empty() || !st.urgent.is_empty();
        if more && st.idle > 0 && st.in_flight < st.pace.limit() {
            sh.work.notify_one();
        }
        let mut now_running = Running {
            target: match &task.target {
                Target::Chunk { idx, reserved, .. } => RunningTarget::Chunk {
                    id: task.id,
                    idx: *idx,
                    reserved: *reserved,
                },
                Target::Piece { read, piece, .. } => RunningTarget::Piece {
                    read: *read,
                    piece: *piece,
                },
            },
            stage: Stage::Fetching,
            jumped: task.jumped,
        };
        running.set(Some(now_running));
        unlock(st);
        let (target, result) = run(
            sh,
            task.target,
            &task.cancel,
            &task.meta,
            task.start,
            task.len,
        );
        st = sh.lock();
        if task.jumped {
            st.jumped_in_flight -= 1;
            if st.jumped_in_flight == 0 {
                // Prefetching paused for this read (see `take_prefetch`): resume it (the
                // fetcher woken passes the baton on while there is work).
                sh.work.notify_one();
            }
        }
        st.add_in_flight(-1);
        now_running.stage = Stage::Booked;
        running.set(Some(now_running));
        if result.is_ok() {
            st.bytes_fetched += task.len as u64;
            let secs = task.started.elapsed().as_secs_f64();
            if task.len >= 1 << 20 {
                let rate = task.len as f64 / secs.max(1e-6);
                st.request_rate = match st.request_rate {
                    r if r > 0.0 => 0.8 * r + 0.2 * rate,
                    _ => rate,
                };
            }
            let meter = st.meter(&sh.received);
            let before = st.pace.limit();
            let grew = st
                .pace
                .completed(task.generation, task.len as u64, secs, meter);
            if st.pace.limit() != before && st.pace_steps.len() < PACE_STEPS_KEPT {
                let step = (st.bytes_fetched, st.pace.limit());
                st.pace_steps.push(step);
            }
            if grew && !st.shutdown {
                let n = spawn_count(&st, st.pace.limit());
                spawn(sh, &mut st, n);
                sh.work.notify_all();
            }
        }
        now_running.stage = Stage::Completing;
        running.set(Some(now_running));
        match target {
            Done::Chunk {
                idx,
                data,
                reserved,
            } => complete_chunk(sh, &mut st, task.id, idx, reserved, data, result),
            Done::Piece { read, piece } => complete_piece(sh, &mut st, read, piece, result),
        }
        running.set(None);
        schedule::trim_pool(&mut st);
        unlock(st);
        sh.data.notify_all();
        st = sh.lock();
    }
    st.threads -= 1;
    drop(st);
    // Dropping the prefetcher waits for this (see `Prefetcher::drop`).
    sh.data.notify_all();
}

/// A finished task's target, with the buffer it filled.
enum Done {
    Chunk {
        idx: ChunkIndex,
        data: ChunkBuf,
        reserved: u64,
    },
    Piece {
        read: u64,
        piece: usize,
    },
}

/// Runs one ranged GET (unlocked).
fn run(
    sh: &Shared,
    target: Target,
    cancel: &crate::client::CancelToken,
    meta: &Arc<fetch::ObjectMeta>,
    start: u64,
    len: usize,
) -> (Done, Result<u64>) {
    match target {
        Target::Chunk {
            idx,
            buffer,
            reserved,
        } => {
            let mut data = buffer.unwrap_or_else(|| ChunkBuf::new(len));
            let result = panics::catch_fetch(meta, start, len, || {
                fetch::fetch_range(
                    &sh.client,
                    cancel,
                    meta,
                    start,
                    &mut data[..len],
                    &sh.received,
                )
            });
            (
                Done::Chunk {
                    idx,
                    data,
                    reserved,
                },
                result,
            )
        }
        Target::Piece { read, piece, dst } => {
            // SAFETY: `dst` points at `len` bytes of the buffer of the reader that planned
            // this piece; that reader waits until this piece is done before it returns (see
            // the `direct` module), and no other task writes these bytes.
            let out = unsafe { std::slice::from_raw_parts_mut(dst.0, len) };
            let result = panics::catch_fetch(meta, start, len, || {
                fetch::fetch_range(&sh.client, cancel, meta, start, out, &sh.received)
            });
            (Done::Piece { read, piece }, result)
        }
    }
}

/// Records a finished fetch into a chunk buffer: stores the chunk, checks CRCs, fails or
/// releases the object.
fn complete_chunk(
    sh: &Shared,
    st: &mut State,
    id: u64,
    idx: ChunkIndex,
    reserved: u64,
    data: ChunkBuf,
    result: Result<u64>,
) {
    st.in_flight_bytes -= reserved;
    st.chunks_fetched += 1;
    let max_failures = sh.client.retry_config().max_attempts;
    let Some(obj) = st.objects.get_mut(&id) else {
        // Closed meanwhile: discard the bytes (the caller trims the pool).
        st.mem.discard(data, reserved);
        sh.work.notify_one();
        return;
    };
    let crc = match result {
        Ok(c) => c,
        Err(e) => {
            obj.chunks[idx as usize].slot = Slot::Empty;
            fail(st, id, e);
            st.mem.discard(data, reserved);
            sh.work.notify_one();
            return;
        }
    };
    let verdict = record_crc(obj, idx, crc, max_failures);
    if verdict == Verdict::Keep {
        obj.chunks[idx as usize].slot = Slot::Ready(Buffer::new(data));
        return;
    }
    st.mem.discard(data, reserved);
    after_mismatch(st, id, idx, verdict);
    sh.work.notify_all();
}

/// Records a finished piece of a direct read; once every piece of a chunk the read covers
/// whole is in, the chunk's CRC is checked like any chunk's.
fn complete_piece(sh: &Shared, st: &mut State, read_id: u64, p: usize, result: Result<u64>) {
    let max_failures = sh.client.retry_config().max_attempts;
    let read = st
        .reads
        .get_mut(&read_id)
        .expect("a direct read outlives its pieces");
    let id = read.object;
    let piece = &mut read.pieces[p];
    let (idx, whole) = (piece.chunk, piece.whole);
    match result {
        Err(e) => {
            piece.state = PieceState::Failed;
            if let Some(obj) = st.objects.get_mut(&id) {
                let c = &mut obj.chunks[idx as usize];
                if whole && matches!(c.slot, Slot::Direct) {
                    // Cancelled (its reader ran out of time): fetched later, like any chunk.
                    if e.kind() == ErrorKind::Cancelled && !obj.access.random {
                        c.slot = Slot::Queued;
                        st.queue.insert((id, idx));
                    } else {
                        c.slot = Slot::Empty;
                    }
                }
            }
            fail(st, id, e);
            return;
        }
        Ok(crc) => {
            piece.state = PieceState::Done(crc);
            piece.round = st.objects.get(&id).map_or(0, |o| o.round);
            st.direct_requests += 1;
            st.direct_bytes += piece.len as u64;
        }
    }
    if !whole {
        return;
    }
    let Some(obj) = st.objects.get_mut(&id) else {
        return;
    };
    // Without a CRC to check, pieces carry CRC 0 and combining them costs nothing.
    let Some(crc) = read.chunk_crc(idx) else {
        return;
    };
    let c = &mut obj.chunks[idx as usize];
    if c.fetched_before {
        st.chunks_refetched += 1;
    }
    c.fetched_before = true;
    let verdict = record_crc(obj, idx, crc, max_failures);
    match verdict {
        Verdict::Keep => obj.chunks[idx as usize].slot = Slot::Empty,
        Verdict::Refetch => {
            // The bytes in the caller's buffer are not the object's: fetch them again, there.
            st.crc_mismatches += 1;
            let read = st.reads.get_mut(&read_id).expect("checked above");
            for (i, piece) in read.pieces.iter_mut().enumerate() {
                if piece.chunk == idx && piece.whole && matches!(piece.state, PieceState::Done(_)) {
                    piece.state = PieceState::Waiting;
                    st.direct_queue.push_front((read_id, i));
                }
            }
            sh.work.notify_all();
        }
        Verdict::Failed | Verdict::NewRound => {
            obj.chunks[idx as usize].slot = Slot::Empty;
            after_mismatch(st, id, idx, verdict);
            sh.work.notify_all();
        }
    }
}

/// Acts on a CRC verdict other than `Keep` for chunk `idx` of object `id` (whose data was
/// discarded): fetch it again, fail the object, or start a repair round.
fn after_mismatch(st: &mut State, id: u64, idx: ChunkIndex, verdict: Verdict) {
    st.crc_mismatches += 1;
    let Some(obj) = st.objects.get_mut(&id) else {
        return;
    };
    match verdict {
        Verdict::Keep => {}
        Verdict::Refetch => {
            obj.chunks[idx as usize].slot = Slot::Queued;
            if obj.demanded.contains(&idx) {
                st.urgent.push_front((id, idx));
            } else {
                st.queue.insert((id, idx));
            }
        }
        Verdict::Failed => {
            obj.chunks[idx as usize].slot = Slot::Empty;
            let e = obj.error.clone().expect("a failed verdict sets the error");
            fail(st, id, e);
        }
        Verdict::NewRound => {
            // The chunks without a CRC in the new round are fetched again (every chunk in
            // round 2); chunks being fetched complete into it. Confirmed chunks keep their data.
            let urgent = obj.waiting > 0;
            obj.chunks[idx as usize].slot = Slot::Empty;
            let mut requeue = Vec::new();
            for (i, c) in obj.chunks.iter_mut().enumerate() {
                if c.crc.is_some() {
                    continue;
                }
                if let Some(b) = c.take_buffer(Slot::Queued) {
                    st.mem.free(b);
                }
                c.consumed = false;
                match c.slot {
                    Slot::Empty => c.slot = Slot::Queued,
                    Slot::InFlight | Slot::Direct | Slot::Ready(_) => continue,
                    Slot::Queued => {}
                }
                requeue.push((id, i as ChunkIndex));
            }
            for t in requeue {
                if urgent {
                    st.queue.remove(&t);
                    st.urgent.push_back(t);
                } else {
                    st.queue.insert(t);
                }
            }
        }
    }
}

/// Fails object `id` with `e` (unless it is a cancellation, or it failed already): its
/// buffers are freed and its queued chunks dropped, so nothing more is fetched for it.
pub(super) fn fail(st: &mut State, id: u64, e: crate::error::Error) {
    let Some(obj) = st.objects.get_mut(&id) else {
        return;
    };
    if e.kind() == ErrorKind::Cancelled {
        return;
    }
    if obj.error.is_none() {
        log::warn!("{e}");
        obj.error = Some(e);
    }
    for (i, c) in obj.chunks.iter_mut().enumerate() {
        if matches!(c.slot, Slot::Queued) {
            c.slot = Slot::Empty;
            st.queue.remove(&(id, i as ChunkIndex));
        }
        if let Some(b) = c.take_buffer(Slot::Empty) {
            st.mem.free(b);
        }
    }
}

/// CPU seconds (user and system) the process has used so far.
pub(super) fn process_cpu_secs() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes the struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            return secs(ru.ru_utime) + secs(ru.ru_stime);
        }
    }
    0.0
}
