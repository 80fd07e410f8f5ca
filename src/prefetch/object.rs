//! Object and chunk state: where each chunk of an open object is (queued, being fetched,
//! fetched into a buffer, being fetched into a caller's buffer), what its CRC is, and which
//! chunks a reader may see.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::access::Access;
use super::buffer::ChunkBuf;
use super::fetch::ObjectMeta;
use crate::client::CancelToken;
use crate::error::Error;

/// A chunk's number within its object. As wide as an object's size, so that no object size
/// (checked at open against OSS's largest) can make it wrap.
pub(super) type ChunkIndex = u64;

/// Chunk state is made in windows of this many chunks as prefetching and reads reach them
/// (see [`super::schedule::materialize`]), so opening an object costs nothing per chunk up
/// front, however large the size its server claims.
pub(super) const CHUNK_WINDOW: u64 = 1024;

/// Where a chunk's data is.
pub(super) enum Slot {
    /// Not queued and no data (never fetched, dropped after being read, fetched straight into
    /// a caller's buffer, or cancelled).
    Empty,
    /// In the prefetch queue (or the urgent queue).
    Queued,
    /// A fetcher is fetching it into a chunk buffer.
    InFlight,
    /// A reader's direct read covers it: its bytes go straight into the caller's buffer
    /// (pieces queued or in flight). Back to `Empty` once every piece is done.
    Direct,
    /// Fetched into a chunk buffer.
    Ready(Arc<Buffer>),
}

/// A chunk buffer; its length counts against the memory limit.
pub(super) struct Buffer {
    pub data: ChunkBuf,
    /// Dropped from its chunk while a reader still copied from it: it waits in
    /// [`super::memory::Memory`]'s lingering list for that reader to finish.
    pub lingering: AtomicBool,
}

impl Buffer {
    pub(super) fn new(data: ChunkBuf) -> Arc<Buffer> {
        Arc::new(Buffer {
            data,
            lingering: AtomicBool::new(false),
        })
    }
}

pub(super) struct Chunk {
    pub slot: Slot,
    /// CRC of this chunk's bytes in the current verification round (or the verified CRC).
    pub crc: Option<u64>,
    /// CRCs its fetches in earlier rounds gave, the latest first (see [`super::verify`]).
    pub seen: [Option<u64>; 2],
    /// In a repair round: two fetches of it gave the same CRC.
    pub confirmed: bool,
    /// The CRC of the bytes of it handed to a caller, if any were.
    pub handed: Option<u64>,
    /// Bytes of it with two different CRCs were handed to callers.
    pub handed_mixed: bool,
    /// Its buffer was read to its end: the first candidate for dropping. Reset whenever the
    /// chunk loses its buffer, so a chunk fetched again is unread until it is read again.
    pub consumed: bool,
    /// Has been fetched at least once.
    pub fetched_before: bool,
    /// Per-chunk CRC mismatches after the object was verified.
    pub failures: u32,
}

impl Chunk {
    pub(super) fn new() -> Chunk {
        Chunk {
            slot: Slot::Queued,
            crc: None,
            seen: [None; 2],
            confirmed: false,
            handed: None,
            handed_mixed: false,
            consumed: false,
            fetched_before: false,
            failures: 0,
        }
    }

    /// Records that bytes of it, whose CRC is [`Chunk::crc`], reached a caller.
    pub(super) fn hand_over(&mut self) {
        match (self.handed, self.crc) {
            (_, None) => {}
            (None, now) => self.handed = now,
            (Some(before), Some(now)) => self.handed_mixed |= before != now,
        }
    }

    /// Takes the chunk's buffer, if it has one, leaving `to` in its place; a chunk without its
    /// buffer is no longer "read" (see [`Chunk::consumed`]).
    pub(super) fn take_buffer(&mut self, to: Slot) -> Option<Arc<Buffer>> {
        match std::mem::replace(&mut self.slot, to) {
            Slot::Ready(b) => {
                self.consumed = false;
                Some(b)
            }
            other => {
                self.slot = other;
                None
            }
        }
    }
}

pub(super) struct Object {
    pub meta: Arc<ObjectMeta>,
    pub cancel: CancelToken,
    pub chunk_size: u64,
    /// How many chunks the object has.
    pub n_chunks: u64,
    /// The state of chunks `0..chunks.len()`; the chunks after them have not been reached yet
    /// (see [`CHUNK_WINDOW`]): not queued, never fetched.
    pub chunks: Vec<Chunk>,
    /// Whole-object release (see the module docs).
    pub hold: bool,
    /// The combined CRC matched (or there is no CRC to check).
    pub verified: bool,
    /// The verification round: 1, then one more for each repair round (see
    /// [`super::verify`]).
    pub round: u8,
    /// Chunks whose CRC of the current round is not known yet (made or not).
    pub crcs_missing: u64,
    /// Readers blocked on this object.
    pub waiting: usize,
    /// Chunks a blocked reader needs the data of.
    pub demanded: BTreeSet<ChunkIndex>,
    pub error: Option<Error>,
    /// How it is being read (in order, at random).
    pub access: Access,
    /// A reader reached its end at least once (a read from the start again is a second pass).
    pub read_to_end: bool,
}

impl Object {
    /// A newly opened object of `meta.size` bytes in chunks of `chunk_size`, its first
    /// [`CHUNK_WINDOW`] chunks made and queued (the caller puts them in the prefetch queue).
    pub(super) fn new(meta: Arc<ObjectMeta>, chunk_size: u64, hold: bool) -> Object {
        let n_chunks = meta.size.div_ceil(chunk_size);
        let made = n_chunks.min(CHUNK_WINDOW) as usize;
        let mut obj = Object {
            meta,
            cancel: CancelToken::new(),
            chunk_size,
            n_chunks,
            chunks: (0..made).map(|_| Chunk::new()).collect(),
            hold,
            verified: false,
            round: 1,
            crcs_missing: n_chunks,
            waiting: 0,
            demanded: BTreeSet::new(),
            error: None,
            access: Access::default(),
            read_to_end: false,
        };
        match obj.meta.crc64 {
            None => obj.verified = true,
            Some(_) if n_chunks == 0 => obj.verified = true,
            Some(_) => {}
        }
        obj
    }

    /// Start and length of chunk `idx`.
    pub(super) fn chunk_range(&self, idx: ChunkIndex) -> (u64, usize) {
        let start = idx * self.chunk_size;
        let len = (self.meta.size - start).min(self.chunk_size) as usize;
        (start, len)
    }

    /// The chunk holding byte `offset`.
    pub(super) fn chunk_of(&self, offset: u64) -> ChunkIndex {
        offset / self.chunk_size
    }

    pub(super) fn last_index(&self) -> ChunkIndex {
        self.n_chunks.saturating_sub(1)
    }

    /// Bytes of chunk `idx` may reach a caller only once the object is verified: a held
    /// object's chunks, and a streamed object's final chunk (so a read of the object never
    /// completes on corrupted data). An object read at random is not read through, so its
    /// final chunk is not held back (see [`super`]'s Integrity section).
    pub(super) fn held_back(&self, idx: ChunkIndex) -> bool {
        !self.verified && (self.hold || (idx == self.last_index() && !self.access.random))
    }

    /// May a reader copy chunk `idx` from its buffer now?
    pub(super) fn releasable(&self, idx: ChunkIndex) -> bool {
        matches!(self.chunks[idx as usize].slot, Slot::Ready(_)) && !self.held_back(idx)
    }

    /// Chunks made so far whose CRC of the current round is still unknown.
    pub(super) fn chunks_without_crc(&self) -> impl Iterator<Item = ChunkIndex> + '_ {
        self.chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.crc.is_none())
            .map(|(i, _)| i as ChunkIndex)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn meta(size: u64, crc64: Option<u64>) -> Arc<ObjectMeta> {
        Arc::new(ObjectMeta {
            bucket: "b".into(),
            key: "k".into(),
            etag: "\"e\"".into(),
            size,
            crc64,
            crc_kind: Default::default(),
            scheme: "oss://",
        })
    }

    #[test]
    fn chunks_cover_the_object_and_the_last_one_is_short() {
        let o = Object::new(meta(10 * 4 + 3, Some(1)), 10, false);
        assert_eq!((o.n_chunks, o.chunks.len()), (5, 5));
        assert_eq!(o.chunk_range(0), (0, 10));
        assert_eq!(o.chunk_range(4), (40, 3));
        assert_eq!(o.chunk_of(39), 3);
        assert_eq!(o.last_index(), 4);
        assert!(!o.verified);
        let empty = Object::new(meta(0, Some(0)), 10, false);
        assert!(empty.chunks.is_empty() && empty.verified);
        let unchecked = Object::new(meta(25, None), 10, false);
        assert!(unchecked.verified, "no CRC: nothing to wait for");
    }

    #[test]
    fn an_object_is_named_by_its_uri_in_the_connectors_scheme() {
        assert_eq!(meta(1, None).uri(), "oss://b/k");
        let s3 = ObjectMeta {
            bucket: "b".into(),
            key: "k".into(),
            etag: "\"e\"".into(),
            size: 1,
            crc64: None,
            crc_kind: Default::default(),
            scheme: "s3://",
        };
        assert_eq!(s3.uri(), "s3://b/k");
    }

    #[test]
    fn opening_the_largest_object_makes_one_window_of_chunks() {
        // 48.8 TiB in 64 KiB chunks: 800 million chunks, of which only a window is made.
        let size = 48_800u64 << 30;
        let o = Object::new(meta(size, Some(1)), 64 << 10, false);
        assert_eq!(o.n_chunks, size / (64 << 10));
        assert_eq!(o.chunks.len() as u64, CHUNK_WINDOW);
        assert_eq!(o.crcs_missing, o.n_chunks);
        assert_eq!(o.last_index(), o.n_chunks - 1);
    }

    #[test]
    fn chunk_indices_are_never_narrowed() {
        // Past 2^32 chunks the old u32 index wrapped to another chunk. Open refuses sizes
        // that large now, but the index arithmetic must not depend on that.
        let o = Object::new(meta(1, Some(1)), 64 << 10, false);
        let far = (1u64 << 33) * (64 << 10) + 5;
        assert_eq!(o.chunk_of(far), 1 << 33);
        assert_eq!(o.chunk_of(far) * o.chunk_size, far - 5);
    }

    #[test]
    fn held_back_chunks_depend_on_the_policy_and_the_access_pattern() {
        let mut streamed = Object::new(meta(40, Some(1)), 10, false);
        assert!(!streamed.held_back(0));
        assert!(streamed.held_back(3), "the final chunk waits for the CRC");
        streamed.access.random = true;
        assert!(!streamed.held_back(3), "read at random: not read through");
        streamed.access.random = false;
        streamed.verified = true;
        assert!(!streamed.held_back(3));
        let held = Object::new(meta(40, Some(1)), 10, true);
        assert!((0..4).all(|i| held.held_back(i)));
    }

    #[test]
    fn a_chunk_that_loses_its_buffer_is_unread_again() {
        let mut c = Chunk::new();
        c.slot = Slot::Ready(Buffer::new(ChunkBuf::new(8)));
        c.consumed = true;
        assert!(c.take_buffer(Slot::Empty).is_some());
        assert!(!c.consumed, "the consumed flag must not outlive the buffer");
        assert!(matches!(c.slot, Slot::Empty));
        c.slot = Slot::InFlight;
        assert!(c.take_buffer(Slot::Empty).is_none());
        assert!(
            matches!(c.slot, Slot::InFlight),
            "no buffer: the slot is left alone"
        );
    }
}
