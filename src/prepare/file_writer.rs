//! Writing fetched bytes into files on a pool of threads.
//!
//! On tmpfs (and most file systems) the cost of a file is its pages: allocating and mapping a
//! 4 KiB page costs more CPU than the network bytes that fill it (0.5-0.9 CPU s/GB on one
//! thread, against 0.5-0.7 for the whole in-memory load). So the thread that reads an object
//! does not write it: it reads a piece into a reused, already-resident buffer (bytes not
//! prefetched yet are fetched straight into it), hands the piece to a writer thread
//! (`pwrite`), and reads the next piece while the writers allocate pages in parallel.
//! Mapping the file and reading into the mapping instead makes the reading thread take every
//! page fault itself, one file after another (measured at 0.5x the in-memory load rate, with
//! `MAP_POPULATE` 0.36x).

use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

/// Bytes read and written as one piece.
pub(crate) const PIECE: usize = 16 << 20;

/// One piece on its way to a file.
pub(crate) struct Piece {
    pub file: Arc<File>,
    pub offset: u64,
    pub buf: Vec<u8>,
    pub len: usize,
    /// Where the writer reports the outcome.
    pub done: Sender<std::io::Result<()>>,
}

/// The writer threads and the spare buffers, for the duration of [`with_writers`].
pub(crate) struct Writers {
    work: Sender<Piece>,
    spare: Receiver<Vec<u8>>,
    made: Cell<usize>,
    max_buffers: usize,
}

impl Writers {
    /// A buffer of [`PIECE`] bytes: a spare one, a new one while fewer than the pool's
    /// size exist, or else the next one a writer hands back.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        if let Ok(b) = self.spare.try_recv() {
            return b;
        }
        if self.made.get() < self.max_buffers {
            self.made.set(self.made.get() + 1);
            return vec![0u8; PIECE];
        }
        self.spare
            .recv()
            .expect("the writer threads live as long as the pool")
    }

    /// Queues `piece` for writing (waits while every writer is busy and the queue is full).
    pub(crate) fn write(&self, piece: Piece) {
        self.work
            .send(piece)
            .expect("the writer threads live as long as the pool");
    }
}

/// How many writer threads: half the cores, 1 to 8 (each allocates ~2 GB/s of tmpfs pages).
fn writer_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .div_ceil(2)
        .clamp(1, 8)
}

/// Runs `work` with a pool of writer threads; counts the bytes they write in `written`.
pub(crate) fn with_writers<T>(written: &AtomicU64, work: impl FnOnce(&Writers) -> T) -> T {
    let threads = writer_threads();
    let (work_tx, work_rx) = bounded::<Piece>(threads);
    let (spare_tx, spare_rx) = unbounded::<Vec<u8>>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let pieces = work_rx.clone();
            let spare = spare_tx.clone();
            s.spawn(move || {
                for p in pieces {
                    let outcome = p.file.write_all_at(&p.buf[..p.len], p.offset);
                    if outcome.is_ok() {
                        written.fetch_add(p.len as u64, Ordering::Relaxed);
                    }
                    // The reader may have given up on this file already: nobody to tell.
                    let _ = p.done.send(outcome);
                    let _ = spare.send(p.buf);
                }
            });
        }
        drop(work_rx);
        drop(spare_tx);
        let writers = Writers {
            work: work_tx,
            spare: spare_rx,
            made: Cell::new(0),
            max_buffers: threads + 2,
        };
        // Dropping the pool closes the queue: the writers finish what is queued and end.
        work(&writers)
    })
}

/// Collects the outcomes of the pieces written for one file.
pub(crate) fn outcomes() -> (Sender<std::io::Result<()>>, Receiver<std::io::Result<()>>) {
    unbounded()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_land_at_their_offsets_and_buffers_are_reused() {
        let dir = std::env::temp_dir().join(format!("ossmc-writers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let file = Arc::new(File::create(&path).unwrap());
        let written = AtomicU64::new(0);
        let pieces = 20u64;
        with_writers(&written, |w| {
            let (done, results) = outcomes();
            // Backwards, to show offsets are honoured whatever the order.
            for i in (0..pieces).rev() {
                let mut buf = w.buffer();
                buf[..3].copy_from_slice(&[i as u8; 3]);
                w.write(Piece {
                    file: Arc::clone(&file),
                    offset: i * 3,
                    buf,
                    len: 3,
                    done: done.clone(),
                });
            }
            drop(done);
            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                pieces as usize
            );
            assert!(w.made.get() <= w.max_buffers);
        });
        assert_eq!(written.load(Ordering::Relaxed), pieces * 3);
        let got = std::fs::read(&path).unwrap();
        let want: Vec<u8> = (0..pieces).flat_map(|i| [i as u8; 3]).collect();
        assert_eq!(got, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
