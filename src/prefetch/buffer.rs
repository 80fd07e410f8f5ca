//! Chunk buffers: memory the prefetcher fetches object bytes into.
//!
//! Each buffer is its own anonymous memory mapping, so dropping it unmaps it and its pages go
//! back to the operating system at once. Buffers from the C allocator would not: once glibc
//! has freed one large block it raises its mmap threshold above the chunk size and serves
//! later chunks from its heaps, which keep freed memory, so a process stayed hundreds of MiB
//! above its baseline after closing a large load.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::MmapMut;

/// A zero-filled byte buffer of a fixed length, returned to the system when dropped.
pub(crate) struct ChunkBuf(Storage);

enum Storage {
    Mapped(MmapMut),
    /// When a mapping cannot be made (the map count limit, say): the allocator's memory,
    /// which still works but may not be returned to the system on drop.
    Heap(Box<[u8]>),
}

impl ChunkBuf {
    /// A buffer of `len` zero bytes. Its pages are only backed by memory once written.
    pub(crate) fn new(len: usize) -> ChunkBuf {
        if len == 0 {
            return ChunkBuf(Storage::Heap(Box::default()));
        }
        match MmapMut::map_anon(len) {
            // No MADV_HUGEPAGE: on a VM measured here, chunk buffers faulted in 2 MiB at a
            // time doubled a throttled load's CPU (clear_page_erms at 58% of the profile), while
            // the pool makes first touches rare anyway.
            Ok(m) => ChunkBuf(Storage::Mapped(m)),
            Err(e) => {
                // Once per process: with a tiny chunk size and a huge memory limit this could
                // otherwise repeat for every chunk.
                static WARNED: AtomicBool = AtomicBool::new(false);
                if !WARNED.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "cannot map {len} bytes for a chunk buffer ({e}); using the allocator \
                         instead, whose memory may not be returned to the system when objects \
                         are closed (said once)"
                    );
                }
                ChunkBuf(Storage::Heap(vec![0u8; len].into_boxed_slice()))
            }
        }
    }
}

impl Deref for ChunkBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Storage::Mapped(m) => m,
            Storage::Heap(b) => b,
        }
    }
}

impl DerefMut for ChunkBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Storage::Mapped(m) => m,
            Storage::Heap(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_zeroed_writable_and_of_its_length() {
        for len in [0, 1, 4095, 4096, 1 << 20] {
            let mut b = ChunkBuf::new(len);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 0));
            if len > 0 {
                b[len - 1] = 7;
                b[0] = 9;
                assert_eq!((b[0], b[len - 1]), (9, if len == 1 { 9 } else { 7 }));
            }
        }
    }
}
