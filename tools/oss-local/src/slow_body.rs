//! Hostile pacing of response bodies: bodies that trickle (`--trickle-bytes-per-sec N`) and
//! bodies that never come (`--stall-after-headers`). Both apply to every GetObject,
//! ListObjects and ListObjectsV2 response with a body (success or error), with no draw: the
//! same request is always paced the same way. They stand for a server or proxy that keeps a
//! connection alive without delivering, which a client's per-read timeout alone never ends.
//!
//! The headers (and the `Content-Length`) are sent as usual; only the body is held back. Each
//! paced response is counted in `/_stats` under `faults.trickle` or `faults.stall`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::body::{BodyError, OssBody};
use crate::stats::Op;

/// How paced bodies are sent (from the command line).
#[derive(Debug, Clone, Copy, Default)]
pub struct SlowBodies {
    /// Send bodies at this many bytes per second, in pieces a tenth of a second apart.
    pub trickle_bytes_per_sec: Option<u64>,
    /// Send the headers, then nothing (the connection stays open).
    pub stall_after_headers: bool,
}

/// How many responses were paced, for `/_stats`.
#[derive(Debug, Default)]
pub struct SlowBodyCounters {
    trickled: AtomicU64,
    stalled: AtomicU64,
}

impl SlowBodyCounters {
    /// Zeroes the counters.
    pub fn reset(&self) {
        self.trickled.store(0, Relaxed);
        self.stalled.store(0, Relaxed);
    }

    /// Adds `faults.trickle` and `faults.stall` to the stats document.
    pub fn add_to(&self, doc: &mut serde_json::Value) {
        doc["faults"]["trickle"] = self.trickled.load(Relaxed).into();
        doc["faults"]["stall_after_headers"] = self.stalled.load(Relaxed).into();
    }
}

impl SlowBodies {
    /// Whether responses of `op` are paced at all.
    fn applies_to(&self, op: Op) -> bool {
        (self.trickle_bytes_per_sec.is_some() || self.stall_after_headers)
            && matches!(op, Op::GetObject | Op::ListObjects | Op::ListObjectsV2)
    }

    /// `body`, paced as configured when it belongs to `op` and is not empty.
    pub fn pace(&self, op: Op, body: OssBody, counters: &SlowBodyCounters) -> OssBody {
        if !self.applies_to(op) || body.is_end_stream() {
            return body;
        }
        let mode = if self.stall_after_headers {
            counters.stalled.fetch_add(1, Relaxed);
            Mode::Stall
        } else {
            counters.trickled.fetch_add(1, Relaxed);
            let rate = self.trickle_bytes_per_sec.unwrap_or(1).max(1);
            Mode::Trickle {
                // A tenth of a second's worth per piece, at least one byte.
                piece: (rate / 10).max(1) as usize,
                rate,
            }
        };
        OssBody::Slow(Box::new(SlowBody {
            inner: body,
            mode,
            pending: Bytes::new(),
            sleep: None,
        }))
    }
}

enum Mode {
    Stall,
    Trickle { piece: usize, rate: u64 },
}

/// A body whose frames are held back (see the module comment).
pub struct SlowBody {
    inner: OssBody,
    mode: Mode,
    /// Bytes of the inner body's last frame not sent yet.
    pending: Bytes,
    /// The wait before the next piece.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for SlowBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let (piece, rate) = match self.mode {
            // Never ready: the connection stays open until the client gives up.
            Mode::Stall => return Poll::Pending,
            Mode::Trickle { piece, rate } => (piece, rate),
        };
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        if self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => self.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
            }
        }
        let n = piece.min(self.pending.len());
        let out = self.pending.split_to(n);
        let wait = Duration::from_secs_f64(n as f64 / rate as f64);
        self.sleep = Some(Box::pin(tokio::time::sleep(wait)));
        Poll::Ready(Some(Ok(Frame::data(out))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // The inner body's length, so that a Content-Length is still announced.
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn trickled_bodies_arrive_whole_at_the_rate() {
        let counters = SlowBodyCounters::default();
        let slow = SlowBodies {
            trickle_bytes_per_sec: Some(100),
            stall_after_headers: false,
        };
        let body = slow.pace(Op::GetObject, OssBody::full(vec![7u8; 25]), &counters);
        assert_eq!(body.size_hint().exact(), Some(25));
        let started = tokio::time::Instant::now();
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], &[7u8; 25][..]);
        // Pieces of 10, 10 and 5 bytes: two waits of 0.1 s before the last one.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        let mut doc = serde_json::json!({"faults": {}});
        counters.add_to(&mut doc);
        assert_eq!(doc["faults"]["trickle"], 1);
        assert_eq!(doc["faults"]["stall_after_headers"], 0);
        // Other operations and empty bodies are left alone.
        let head = slow.pace(Op::HeadObject, OssBody::full("x"), &counters);
        assert!(matches!(head, OssBody::Full(_)));
        let empty = slow.pace(Op::GetObject, OssBody::empty(), &counters);
        assert!(matches!(empty, OssBody::Full(None)));
    }

    #[tokio::test]
    async fn stalled_bodies_never_send_a_byte() {
        let counters = SlowBodyCounters::default();
        let slow = SlowBodies {
            trickle_bytes_per_sec: None,
            stall_after_headers: true,
        };
        let mut body = slow.pace(Op::ListObjectsV2, OssBody::full("<xml/>"), &counters);
        let frame = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
        assert!(frame.is_err(), "a stalled body sent a frame");
        let mut doc = serde_json::json!({"faults": {}});
        counters.add_to(&mut doc);
        assert_eq!(doc["faults"]["stall_after_headers"], 1);
    }
}
