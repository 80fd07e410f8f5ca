//! Panics on fetcher threads. A fetcher works for readers that wait on the condition
//! variable for its result: a fetcher that died silently would leave its chunk or piece "in
//! flight" and its readers waiting forever. So a panic never ends a fetcher unnoticed:
//!
//! * a panic during a fetch (signing, the HTTP stack, a credentials provider) is caught
//!   there and becomes that fetch's error, delivered like any failed fetch ([`catch_fetch`]);
//! * a panic anywhere else in the fetcher's loop (a bug in the bookkeeping) is caught at the
//!   top of the thread: the task it was running is marked failed (so no reader waits for
//!   it), every open object fails with an internal error, and the readers are woken
//!   ([`recover`]).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::direct::PieceState;
use super::fetch::ObjectMeta;
use super::object::{ChunkIndex, Slot};
use super::{unlock, worker, Shared};
use crate::error::{Error, ErrorKind, Result};

/// The task a fetcher is running, and how far its completion was booked, for [`recover`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Running {
    pub target: RunningTarget,
    pub stage: Stage,
    /// Counted in `State::jumped_in_flight`.
    pub jumped: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum RunningTarget {
    /// `reserved` bytes count against the memory limit until the fetch is booked.
    Chunk {
        id: u64,
        idx: ChunkIndex,
        reserved: u64,
    },
    Piece {
        read: u64,
        piece: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// The request: counted in flight, its memory reserved.
    Fetching,
    /// No longer counted in flight; a chunk's reservation still is.
    Booked,
    /// Being recorded (`complete_chunk`, `complete_piece`): nothing more to undo.
    Completing,
}

/// Runs one fetch of `[start, start + len)` of `meta`'s object; a panic becomes its error.
pub(super) fn catch_fetch(
    meta: &ObjectMeta,
    start: u64,
    len: usize,
    fetch: impl FnOnce() -> Result<u64>,
) -> Result<u64> {
    catch_unwind(AssertUnwindSafe(fetch)).unwrap_or_else(|payload| {
        let e = Error::new(
            ErrorKind::Internal,
            format!(
                "fetching bytes {start}..{} panicked: {}",
                start + len as u64,
                message(payload.as_ref())
            ),
        )
        .with_object(&meta.bucket, Some(&meta.key));
        log::error!("{e}");
        Err(e)
    })
}

/// After a panic escaped a fetcher's loop: nothing waits for the task it ran, every open
/// object fails, and the thread no longer counts.
pub(super) fn recover(sh: &Shared, running: Option<Running>, payload: &(dyn Any + Send)) {
    let why = format!("a fetcher thread panicked: {}", message(payload));
    log::error!("{why}");
    // The state lock may be poisoned by the panic: its data is still the best there is.
    let mut st = sh.lock();
    if let Some(r) = running {
        if r.stage == Stage::Fetching {
            if r.jumped {
                st.jumped_in_flight = st.jumped_in_flight.saturating_sub(1);
            }
            st.add_in_flight(-1);
        }
        if let (Stage::Fetching | Stage::Booked, RunningTarget::Chunk { reserved, .. }) =
            (r.stage, r.target)
        {
            // Its buffer was dropped while unwinding.
            st.in_flight_bytes = st.in_flight_bytes.saturating_sub(reserved);
            st.mem.held = st.mem.held.saturating_sub(reserved);
        }
    }
    match running.map(|r| r.target) {
        Some(RunningTarget::Chunk { id, idx, .. }) => {
            if let Some(c) = st
                .objects
                .get_mut(&id)
                .and_then(|o| o.chunks.get_mut(idx as usize))
            {
                if matches!(c.slot, Slot::InFlight) {
                    c.slot = Slot::Empty;
                }
            }
        }
        Some(RunningTarget::Piece { read, piece }) => {
            // This thread is unwinding: it writes no more into the reader's buffer.
            if let Some(p) = st
                .reads
                .get_mut(&read)
                .and_then(|r| r.pieces.get_mut(piece))
            {
                if p.state == PieceState::InFlight {
                    p.state = PieceState::Failed;
                }
            }
        }
        None => {}
    }
    let ids: Vec<u64> = st.objects.keys().copied().collect();
    for id in ids {
        let e = Error::new(ErrorKind::Internal, why.clone());
        let e = match st.objects.get(&id) {
            Some(o) => e.with_object(&o.meta.bucket, Some(&o.meta.key)),
            None => e,
        };
        worker::fail(&mut st, id, e);
    }
    st.threads = st.threads.saturating_sub(1);
    unlock(st);
    sh.data.notify_all();
    sh.work.notify_all();
}

/// The text of a panic's payload (a `&str` or a `String` for `panic!` with a message).
fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            bucket: "bkt".into(),
            key: "a/b.bin".into(),
            etag: "\"e\"".into(),
            size: 100,
            crc64: None,
            crc_kind: Default::default(),
            scheme: "oss://",
        }
    }

    #[test]
    fn a_panicking_fetch_becomes_an_internal_error_naming_the_object() {
        let e = catch_fetch(&meta(), 10, 20, || panic!("out of range")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.bucket(), Some("bkt"));
        assert_eq!(e.key(), Some("a/b.bin"));
        assert!(
            e.message().contains("bytes 10..30 panicked: out of range"),
            "{e}"
        );
        let n = 7;
        let e = catch_fetch(&meta(), 0, 1, || panic!("{n} years")).unwrap_err();
        assert!(e.message().ends_with("7 years"), "{e}");
        assert_eq!(catch_fetch(&meta(), 0, 1, || Ok(5)).unwrap(), 5);
    }

    /// A provider with a bug: it panics when asked.
    struct PanickingProvider;

    impl crate::credentials::CredentialsProvider for PanickingProvider {
        fn credentials(&self) -> Result<crate::credentials::Credentials> {
            panic!("the credentials provider has a bug")
        }
    }

    /// Reads `len` bytes at `offset` on another thread; `None` if it did not end within a
    /// bound far beyond what failing takes (before the fix, such reads waited forever).
    fn read_bounded(
        p: &std::sync::Arc<super::super::Prefetcher>,
        id: u64,
        offset: u64,
        len: usize,
    ) -> Option<Result<Option<usize>>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = std::sync::Arc::clone(p);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; len];
            let _ = tx.send(p.read_at(id, offset, &mut buf, None));
        });
        rx.recv_timeout(std::time::Duration::from_secs(30)).ok()
    }

    /// A prefetcher whose fetches panic (its credentials provider does), logging into a
    /// scratch directory (removed by the caller).
    fn panicking_prefetcher(
        tag: &str,
    ) -> (std::sync::Arc<super::super::Prefetcher>, std::path::PathBuf) {
        use crate::client::Client;
        use crate::config::{Config, LogPath};
        use crate::endpoint::Endpoint;
        use crate::logging::ConnectorLog;
        use std::sync::Arc;

        let dir = std::env::temp_dir().join(format!("ossmc-panics-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = Config {
            log_level: 0,
            log_path: LogPath {
                path: dir.join("connector.log"),
                is_default: false,
            },
            ..Config::default()
        };
        cfg.prefetch.chunk_size = 1 << 20;
        // Never contacted: the panic comes before any request is sent.
        let endpoint = Endpoint::parse("http://127.0.0.1:9").unwrap();
        let client = Arc::new(Client::new(
            endpoint,
            Arc::new(PanickingProvider),
            &cfg,
            None,
            &crate::proxy::ProxyRoute::direct(),
        ));
        let log = ConnectorLog::open(&cfg).unwrap();
        let p = Arc::new(super::super::Prefetcher::new(client, &cfg.prefetch, log));
        (p, dir)
    }

    fn four_mib() -> std::sync::Arc<ObjectMeta> {
        std::sync::Arc::new(ObjectMeta {
            size: 4 << 20,
            ..meta()
        })
    }

    #[test]
    fn a_panic_on_a_fetcher_fails_the_waiting_reads_instead_of_hanging_them() {
        let (p, dir) = panicking_prefetcher("reads");
        // A read of whole chunks (pieces fetched into the caller's buffer), and a read of
        // part of a chunk (through a chunk buffer), each of a fresh object.
        for (offset, len) in [(0, 4 << 20), (100, 10)] {
            let id = p.open(four_mib()).unwrap();
            let e = read_bounded(&p, id, offset, len)
                .expect("the read ended")
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
            assert!(
                e.message().contains("the credentials provider has a bug"),
                "{e}"
            );
            assert_eq!(e.key(), Some("a/b.bin"));
            p.close(id);
        }
        drop(p);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn recovering_from_a_panic_mid_fetch_gives_back_what_the_fetch_held() {
        let (p, dir) = panicking_prefetcher("recover");
        let sh = &p.shared;
        // An object registered by hand: nothing queued, no fetcher started.
        let id = 99;
        // What a fetcher taking chunk 1 books (see `schedule::take_task`), as if it then
        // panicked outside the fetch itself, its buffer dropped while unwinding.
        let reserved = {
            let mut st = sh.lock();
            let obj = super::super::object::Object::new(four_mib(), sh.chunk_size, false);
            st.objects.insert(id, obj);
            let (buf, reserved) = st.mem.reserve(1 << 20);
            drop(buf);
            st.in_flight_bytes += reserved;
            st.add_in_flight(1);
            st.jumped_in_flight += 1;
            st.threads += 1;
            st.objects.get_mut(&id).unwrap().chunks[1].slot = Slot::InFlight;
            reserved
        };
        let before = sh.lock().threads;
        let running = Running {
            target: RunningTarget::Chunk {
                id,
                idx: 1,
                reserved,
            },
            stage: Stage::Fetching,
            jumped: true,
        };
        recover(sh, Some(running), &"a bookkeeping bug");
        let st = sh.lock();
        assert_eq!(st.threads, before - 1);
        assert_eq!(
            (st.in_flight, st.in_flight_bytes, st.jumped_in_flight),
            (0, 0, 0)
        );
        assert_eq!(
            st.mem.held,
            st.mem.pooled(),
            "the reservation was given back"
        );
        let obj = &st.objects[&id];
        assert!(matches!(obj.chunks[1].slot, Slot::Empty));
        let e = obj.error.as_ref().expect("the object failed");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(
            e.message()
                .contains("a fetcher thread panicked: a bookkeeping bug"),
            "{e}"
        );
        drop(st);
        p.close(id);
        drop(p);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
