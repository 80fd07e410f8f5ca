//! The progress line of `prepare_directory` on stderr: files, bytes and GB/s, redrawn in
//! place a few times a second by a thread of its own while the work runs.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError};

const REDRAW: Duration = Duration::from_millis(250);

/// What the line shows, updated by the worker.
pub(crate) struct Counters {
    pub files_done: AtomicU64,
    pub bytes_written: AtomicU64,
}

/// Runs `work`, drawing a progress line for it on stderr meanwhile when `enabled`.
pub(crate) fn with_progress<T>(
    enabled: bool,
    label: &str,
    files_total: u64,
    bytes_total: u64,
    counters: &Counters,
    work: impl FnOnce() -> T,
) -> T {
    if !enabled {
        return work();
    }
    let (stop, stopped) = bounded::<()>(0);
    std::thread::scope(|s| {
        s.spawn(move || {
            let start = Instant::now();
            loop {
                let last = !matches!(stopped.recv_timeout(REDRAW), Err(RecvTimeoutError::Timeout));
                let line = render(label, counters, files_total, bytes_total, start.elapsed());
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{line}\x1b[K{}", if last { "\n" } else { "" });
                let _ = err.flush();
                if last {
                    break;
                }
            }
        });
        let out = work();
        drop(stop);
        out
    })
}

fn render(
    label: &str,
    c: &Counters,
    files_total: u64,
    bytes_total: u64,
    elapsed: Duration,
) -> String {
    let files = c.files_done.load(Ordering::Relaxed);
    let bytes = c.bytes_written.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!(
        "{label}: {files}/{files_total} files, {:.2}/{:.2} GB, {:.2} GB/s",
        bytes as f64 / 1e9,
        bytes_total as f64 / 1e9,
        bytes as f64 / 1e9 / secs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_files_bytes_and_rate() {
        let c = Counters {
            files_done: AtomicU64::new(2),
            bytes_written: AtomicU64::new(3_000_000_000),
        };
        let line = render("oss://b/m/", &c, 5, 6_000_000_000, Duration::from_secs(2));
        assert_eq!(line, "oss://b/m/: 2/5 files, 3.00/6.00 GB, 1.50 GB/s");
    }

    #[test]
    fn disabled_progress_just_runs_the_work() {
        let c = Counters {
            files_done: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        };
        assert_eq!(with_progress(false, "x", 0, 0, &c, || 7), 7);
        assert_eq!(with_progress(true, "x", 0, 0, &c, || 8), 8);
    }
}
