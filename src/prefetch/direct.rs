//! Direct reads: bytes a reader asks for that are not fetched yet are fetched straight into
//! the caller's buffer, split into ranged GETs that run in parallel on the fetcher threads.
//! The caller's memory is already faulted in, and there is no second copy; chunk buffers
//! are only for what lies ahead of the reader.
//!
//! A direct read is a list of pieces. A piece covers part of one chunk; the pieces of a
//! chunk the read covers whole give that chunk's CRC (combined in order), which feeds the
//! object's verification exactly as a chunk fetched into a buffer does.
//!
//! Safety: a piece writes through a raw pointer into the caller's buffer from a fetcher
//! thread. The reader that planned it never returns (nor unwinds: nothing between planning
//! and waiting panics) while any of its pieces is in flight, and a piece that has not started
//! when the reader gives up is withdrawn, never started later. So every write happens while
//! the caller's `&mut [u8]` is borrowed by the read.

use super::object::ChunkIndex;
use crate::client::CancelToken;

/// Pieces are at least this big (unless the read is smaller): each is a request, with its
/// headers, signature and round trip.
pub(super) const MIN_PIECE: u64 = 1 << 20;

/// A pointer into a caller's buffer, handed to a fetcher thread (see the module's Safety).
#[derive(Clone, Copy)]
pub(super) struct Dst(pub *mut u8);

// SAFETY: the pointee is only written by the one fetcher that runs the piece, while the
// reader that owns the buffer waits for it (see the module docs).
unsafe impl Send for Dst {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PieceState {
    Waiting,
    InFlight,
    Done(u64),
    Failed,
    /// The reader gave up waiting before it started, or planned the bytes again (after a
    /// second verification round): it no longer counts.
    Withdrawn,
}

pub(super) struct Piece {
    /// Object offset and length.
    pub start: u64,
    pub len: usize,
    pub dst: Dst,
    /// The chunk it lies in.
    pub chunk: ChunkIndex,
    /// The read covers that chunk whole: the chunk's CRC comes from its pieces.
    pub whole: bool,
    /// The object's verification round when it completed.
    pub round: u8,
    pub state: PieceState,
}

/// One reader's direct read of one object.
pub(super) struct DirectRead {
    pub object: u64,
    pub pieces: Vec<Piece>,
    /// Cancels this read's pieces (a timed read that ran out of time and of patience).
    pub cancel: CancelToken,
    /// Out of open order (a seek or random access): prefetching waits while its pieces are
    /// fetched, so the read gets the bandwidth.
    pub jumped: bool,
    /// The object's CRC polynomial, for combining piece CRCs.
    pub crc_kind: crate::protocol::CrcKind,
}

impl DirectRead {
    pub(super) fn in_flight(&self) -> usize {
        self.count(|s| s == PieceState::InFlight)
    }

    pub(super) fn waiting(&self) -> usize {
        self.count(|s| s == PieceState::Waiting)
    }

    fn count(&self, f: impl Fn(PieceState) -> bool) -> usize {
        self.pieces.iter().filter(|p| f(p.state)).count()
    }

    /// The CRC of chunk `idx` once every piece of it is done (their CRCs combined in order).
    pub(super) fn chunk_crc(&self, idx: ChunkIndex) -> Option<u64> {
        let mut parts = Vec::new();
        let pieces = self
            .pieces
            .iter()
            .filter(|p| p.chunk == idx && p.whole && p.state != PieceState::Withdrawn);
        for p in pieces {
            match p.state {
                PieceState::Done(crc) => parts.push((crc, p.len as u64)),
                _ => return None,
            }
        }
        (!parts.is_empty()).then(|| super::crc::combine_all(self.crc_kind, parts))
    }
}

/// How long a timed read that ran out of time waits for its pieces in flight before it
/// cancels them (they stop at their next socket read): long enough for a piece on a working
/// link to complete (its bytes are kept), short enough for Ctrl-C to feel prompt.
pub(super) const PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// A piece should keep its connection busy at least this long: shorter ones cost more in
/// requests (headers, signatures, wake-ups) than they gain in parallelism.
pub(super) const PIECE_TIME_SECS: f64 = 0.02;

/// How big pieces should be for a read fetching `bytes` directly with `slots` requests in
/// flight, each request delivering `request_rate` bytes per second (0 if not known yet):
/// spread over the slots (so a read not much bigger than a chunk still goes out in parallel
/// where connections are slow), but each at least what a request delivers in
/// [`PIECE_TIME_SECS`] and at least [`MIN_PIECE`], at most a chunk.
pub(super) fn piece_size(bytes: u64, slots: usize, chunk: u64, request_rate: f64) -> u64 {
    let floor = ((request_rate * PIECE_TIME_SECS) as u64).max(MIN_PIECE);
    (bytes / slots.max(1) as u64).clamp(floor.min(chunk), chunk)
}

/// Splits `[start, end)` (within one chunk) into pieces of about `piece` bytes, the last
/// ones no smaller than half a piece.
pub(super) fn split(start: u64, end: u64, piece: u64) -> Vec<(u64, u64)> {
    let len = end - start;
    let n = len.div_ceil(piece.max(1)).max(1);
    let base = len / n;
    let extra = len % n;
    let mut out = Vec::with_capacity(n as usize);
    let mut at = start;
    for i in 0..n {
        let l = base + u64::from(i < extra);
        out.push((at, at + l));
        at += l;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn pieces_spread_a_read_over_the_slots_within_bounds() {
        // A whole 512 MiB shard with 16 slots: chunk-sized pieces.
        assert_eq!(piece_size(512 * MIB, 16, 8 * MIB, 0.0), 8 * MIB);
        // A 16 MiB random read with 16 slots over slow connections: 1 MiB pieces at once.
        assert_eq!(piece_size(16 * MIB, 16, 8 * MIB, 50e6), MIB);
        // Over fast ones (400 MB/s each), pieces of what a request delivers in 20 ms.
        assert_eq!(piece_size(16 * MIB, 16, 8 * MIB, 400e6), 8_000_000);
        // Never below the minimum, nor above the chunk size.
        assert_eq!(piece_size(100, 16, 8 * MIB, 0.0), MIB);
        assert_eq!(piece_size(100, 16, 4096, 0.0), 4096);
        assert_eq!(piece_size(64 * MIB, 2, 8 * MIB, 0.0), 8 * MIB);
    }

    #[test]
    fn split_covers_the_range_exactly_in_even_pieces() {
        for (start, end, piece) in [
            (0, 8 * MIB, 3 * MIB),
            (5, 6, MIB),
            (10, 10 + 7 * MIB + 3, MIB),
        ] {
            let parts = split(start, end, piece);
            assert_eq!(parts.first().unwrap().0, start);
            assert_eq!(parts.last().unwrap().1, end);
            for w in parts.windows(2) {
                assert_eq!(w[0].1, w[1].0, "contiguous");
            }
            let (min, max) = parts.iter().fold((u64::MAX, 0), |(a, b), p| {
                (a.min(p.1 - p.0), b.max(p.1 - p.0))
            });
            assert!(max <= piece && max - min <= 1, "{parts:?}");
        }
    }

    #[test]
    fn a_chunk_crc_needs_all_its_pieces_and_combines_them_in_order() {
        use super::super::crc::crc64;
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut r = DirectRead {
            object: 1,
            pieces: Vec::new(),
            cancel: CancelToken::new(),
            jumped: false,
            crc_kind: crate::protocol::CrcKind::Xz,
        };
        for (a, b) in split(0, 3000, 1000) {
            r.pieces.push(Piece {
                start: a,
                len: (b - a) as usize,
                dst: Dst(std::ptr::null_mut()),
                chunk: 0,
                whole: true,
                round: 1,
                state: PieceState::Waiting,
            });
        }
        assert_eq!(r.waiting(), 3);
        for i in [2, 0] {
            let p = &mut r.pieces[i];
            p.state = PieceState::Done(crc64(&data[p.start as usize..p.start as usize + p.len]));
        }
        assert_eq!(r.chunk_crc(0), None, "piece 1 is missing");
        r.pieces[1].state = PieceState::InFlight;
        assert_eq!(r.in_flight(), 1);
        r.pieces[1].state = PieceState::Done(crc64(&data[1000..2000]));
        assert_eq!(r.chunk_crc(0), Some(crc64(&data)));
        assert_eq!(r.chunk_crc(1), None);
    }
}
