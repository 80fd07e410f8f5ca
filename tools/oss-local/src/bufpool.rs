//! Recycled frame buffers for object bodies.
//!
//! A fresh buffer per frame costs an allocation, a memset and often page faults, which
//! profiling showed cost more than generating the synthetic bytes. Frames are instead
//! `Bytes` that own a pooled buffer and put it back when the connection has written them,
//! so buffers are reused while still warm in cache and are never zeroed again (their old
//! contents are overwritten before use).

use std::sync::Mutex;

use bytes::Bytes;

/// Size of every pooled buffer, and so the largest frame: big enough that per-frame costs
/// vanish, small enough that a frame is still in cache when the kernel copies it.
pub const BUF_SIZE: usize = 256 * 1024;

/// Buffers kept for reuse at most (more are freed): 64 MiB.
const MAX_POOLED: usize = 256;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of `BUF_SIZE` bytes whose contents are unspecified (but initialized).
pub fn take() -> Vec<u8> {
    let reused = POOL.lock().unwrap_or_else(|p| p.into_inner()).pop();
    reused.unwrap_or_else(|| vec![0u8; BUF_SIZE])
}

fn give_back(buf: Vec<u8>) {
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if pool.len() < MAX_POOLED {
        pool.push(buf);
    }
}

/// The first `len` bytes of a pooled buffer; the buffer returns to the pool on drop.
struct Frame {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.buf));
    }
}

/// Turns the first `len` bytes of a buffer from [`take`] into a frame.
pub fn freeze(buf: Vec<u8>, len: usize) -> Bytes {
    let len = len.min(buf.len());
    Bytes::from_owner(Frame { buf, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_after_the_frame_is_dropped() {
        let mut b = take();
        assert_eq!(b.len(), BUF_SIZE);
        b[..3].copy_from_slice(b"abc");
        let ptr = b.as_ptr();
        let f = freeze(b, 3);
        assert_eq!(&f[..], b"abc");
        let clone = f.slice(1..);
        drop(f);
        assert_eq!(&clone[..], b"bc");
        drop(clone);
        // Other tests may use the pool concurrently; look for our buffer among a few.
        let taken: Vec<Vec<u8>> = (0..8).map(|_| take()).collect();
        assert!(taken.iter().any(|t| t.as_ptr() == ptr));
    }
}
