//! [`ObjectReader`]: a seekable reader of one open object, served from the prefetcher.
//!
//! Sequential reads (`read`, `io::Read`) and positional reads (`read_at`) copy straight from
//! the prefetched chunk buffers into the caller's buffer (one copy). Dropping the reader
//! closes the object: its prefetched bytes are freed and its pending requests cancelled.
//!
//! [`ObjectReader::map`] loads the whole object into memory of its own (an anonymous
//! mapping, read-only once complete, unmapped when the reader is dropped): bytes nobody
//! fetched yet are fetched straight into it, so it costs no copy beyond the network's.

use std::io::{self, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memmap2::{Mmap, MmapMut};

use crate::connector::Inner;
use crate::error::{Error, ErrorKind, Result};
use crate::prefetch::ObjectMeta;

/// A reader of one object, opened with [`crate::Connector::open`].
///
/// `Send` (move it to another thread) but not shared: positional reads take `&self`, so
/// wrap it in an `Arc` to read ranges from several threads. It keeps its connector alive.
pub struct ObjectReader {
    inner: Arc<Inner>,
    id: u64,
    meta: Arc<ObjectMeta>,
    pos: u64,
    whole: WholeCopy,
}

/// The object's in-memory copy made by [`ObjectReader::map`]: filling, then complete.
enum WholeCopy {
    None,
    Filling { map: MmapMut, filled: usize },
    Complete(Mmap),
}

impl ObjectReader {
    pub(crate) fn new(inner: Arc<Inner>, id: u64, meta: Arc<ObjectMeta>) -> ObjectReader {
        ObjectReader {
            inner,
            id,
            meta,
            pos: 0,
            whole: WholeCopy::None,
        }
    }

    /// Reads at the current position, advancing it. Blocks until at least one byte is
    /// available; returns 0 only at the end of the object (or for an empty `buf`). May return
    /// fewer bytes than asked for when the rest is not fetched yet.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let _log = self.inner.log.enter();
        let n = self.fetch(self.pos, buf, None)?.unwrap_or(0);
        self.pos += n as u64;
        Ok(n)
    }

    /// Like [`ObjectReader::read`], but waits at most `wait` for the first byte: returns
    /// `Ok(None)` if none became available in time (the position is unchanged). Lets a caller
    /// (Python, say) check for interrupts between waits.
    pub fn read_timeout(&mut self, buf: &mut [u8], wait: Duration) -> Result<Option<usize>> {
        let _log = self.inner.log.enter();
        let deadline = Instant::now() + wait;
        let got = self.fetch(self.pos, buf, Some(deadline))?;
        if let Some(n) = got {
            self.pos += n as u64;
        }
        Ok(got)
    }

    /// Reads at `offset` without moving the position; fills `buf` unless the object ends
    /// first, and returns the number of bytes read (0 at or past the end).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let _log = self.inner.log.enter();
        let mut done = 0;
        while done < buf.len() {
            let n = self
                .fetch(offset + done as u64, &mut buf[done..], None)?
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// Like [`ObjectReader::read_at`], but waits at most `wait` for the first byte: returns
    /// `Ok(None)` if none became available in time. May return fewer bytes than asked for.
    pub fn read_at_timeout(
        &self,
        offset: u64,
        buf: &mut [u8],
        wait: Duration,
    ) -> Result<Option<usize>> {
        let _log = self.inner.log.enter();
        self.fetch(offset, buf, Some(Instant::now() + wait))
    }

    /// The prefetcher's read, its errors naming the object with the connector's scheme.
    fn fetch(
        &self,
        offset: u64,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<Option<usize>> {
        self.inner
            .prefetcher
            .read_at(self.id, offset, buf, deadline)
            .map_err(|e| e.with_scheme(self.inner.client.protocol().as_str()))
    }

    /// The whole object in memory: read-only, owned by this reader and valid until it is
    /// dropped. The first call loads it (later calls return the same memory). Bytes not
    /// prefetched yet are fetched straight into it, and it is verified like any read
    /// through (CRC-64 when the server sent one). The position is neither used nor moved.
    pub fn map(&mut self) -> Result<&[u8]> {
        match self.map_timeout(None)? {
            Some(bytes) => Ok(bytes),
            None => unreachable!("an untimed load always completes or fails"),
        }
    }

    /// Like [`ObjectReader::map`], but waits at most `wait` (`None`: no bound) for more
    /// bytes: returns `Ok(None)` when the copy is not complete yet. Call it again to go on
    /// where it stopped.
    pub fn map_timeout(&mut self, wait: Option<Duration>) -> Result<Option<&[u8]>> {
        let _log = self.inner.log.enter();
        let deadline = wait.map(|w| Instant::now() + w);
        if let WholeCopy::None = self.whole {
            let len = usize::try_from(self.meta.size).map_err(|_| self.too_big())?;
            let map = MmapMut::map_anon(len).map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot map {len} bytes of memory for the object: {e}"),
                )
                .with_object(&self.meta.bucket, Some(&self.meta.key))
            })?;
            self.whole = WholeCopy::Filling { map, filled: 0 };
        }
        if let WholeCopy::Filling { map, filled } = &mut self.whole {
            while *filled < map.len() {
                let n = self
                    .inner
                    .prefetcher
                    .read_at(self.id, *filled as u64, &mut map[*filled..], deadline)
                    .map_err(|e| e.with_scheme(self.inner.client.protocol().as_str()))?;
                match n {
                    None => return Ok(None),
                    Some(0) => {
                        let got = *filled as u64;
                        return Err(self.ended_early(got));
                    }
                    Some(n) => *filled += n,
                }
            }
        }
        if let WholeCopy::Filling { .. } = self.whole {
            let WholeCopy::Filling { map, .. } =
                std::mem::replace(&mut self.whole, WholeCopy::None)
            else {
                unreachable!()
            };
            let read_only = map.make_read_only().map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot make the object's memory read-only: {e}"),
                )
            })?;
            self.whole = WholeCopy::Complete(read_only);
        }
        match &self.whole {
            WholeCopy::Complete(m) => Ok(Some(&m[..])),
            _ => unreachable!("the copy was just completed"),
        }
    }

    fn too_big(&self) -> Error {
        Error::new(
            ErrorKind::Io,
            format!(
                "the object's {} bytes do not fit in this process's address space",
                self.meta.size
            ),
        )
        .with_object(&self.meta.bucket, Some(&self.meta.key))
    }

    /// The error for a read that found the object's end after `got` bytes, before the size
    /// announced at open.
    pub(crate) fn ended_early(&self, got: u64) -> Error {
        Error::new(
            ErrorKind::Protocol,
            format!(
                "the object ended after {got} of the {} bytes announced at open",
                self.meta.size
            ),
        )
        .with_object(&self.meta.bucket, Some(&self.meta.key))
    }

    /// Moves the position; a position past the end is allowed (reads there return 0).
    pub fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.meta.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(t) => {
                self.pos = t;
                Ok(t)
            }
            None => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "cannot seek to {pos:?}: the position would be before the start of the object"
                ),
            )
            .with_object(&self.meta.bucket, Some(&self.meta.key))),
        }
    }

    /// The current position.
    pub fn tell(&self) -> u64 {
        self.pos
    }
    /// The object's size in bytes (from open).
    pub fn size(&self) -> u64 {
        self.meta.size
    }
    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.meta.bucket
    }
    /// The key.
    pub fn key(&self) -> &str {
        &self.meta.key
    }
    /// The ETag from open (quoted, as the server sent it).
    pub fn etag(&self) -> &str {
        &self.meta.etag
    }
    /// The whole object's CRC-64/XZ as the server announced it, if it did.
    pub fn crc64(&self) -> Option<u64> {
        self.meta.crc64
    }
    /// Whether every byte of the object has been checked: all of it was fetched and its
    /// CRC-64 equals the server's `x-oss-hash-crc64ecma`. True once a read through to the end
    /// or [`ObjectReader::map`] succeeded. False without a CRC header (nothing to check
    /// against) and for an object read at random that never had all its chunks fetched:
    /// bytes handed over before then were checked only against the ETag from open (see the
    /// crate docs' Integrity section). Never blocks.
    pub fn verified(&self) -> bool {
        self.inner.prefetcher.verified(self.id)
    }
}

impl io::Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        ObjectReader::read(self, buf).map_err(io::Error::from)
    }
}

impl io::Seek for ObjectReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        ObjectReader::seek(self, pos).map_err(io::Error::from)
    }
    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        let _log = self.inner.log.enter();
        self.inner.prefetcher.close(self.id);
    }
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("bucket", &self.meta.bucket)
            .field("key", &self.meta.key)
            .field("size", &self.meta.size)
            .field("position", &self.pos)
            .finish()
    }
}
