//! Response bodies: small in-memory ones (XML, JSON) and object streams that generate or
//! read large frames on demand, with the per-connection bandwidth cap and the injected
//! reset/corruption applied on the way out. Object bytes handed to the connection are counted
//! in the stats, and a streamed body keeps its request counted in flight until it is dropped.
//! Listing bodies are streamed too when they are sent chunked or cut short
//! ([`ObjectStream::listing`]).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::faults::Throttle;
use crate::stats::{Fault, InFlight, Stats};
use crate::{bufpool, generate};

/// Frame size of object bodies (see `bufpool` for the choice).
pub const CHUNK: usize = bufpool::BUF_SIZE;

/// Frames a file reader may read ahead of the connection.
const FILE_READ_AHEAD: usize = 4;

/// The error a body stream ends with; hyper then closes the connection.
#[derive(Debug)]
pub struct BodyError(pub String);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyError {}

/// Where an object stream's bytes come from.
pub enum Source {
    Synthetic { seed: u64 },
    Memory(Bytes),
    File(PathBuf),
}

enum Reader {
    Synthetic {
        seed: u64,
    },
    Memory(Bytes),
    /// Frames read by a blocking task, one frame ahead.
    File {
        path: PathBuf,
        rx: Option<mpsc::Receiver<io::Result<Bytes>>>,
    },
}

/// An object body: bytes `[start, end)` of an object.
pub struct ObjectStream {
    reader: Reader,
    pos: u64,
    end: u64,
    chunk: usize,
    throttle: Option<Arc<Throttle>>,
    /// A frame waiting for the throttle (or for the reset delay).
    held: Option<Bytes>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Absolute offset where the connection is dropped.
    reset_at: Option<u64>,
    resetting: bool,
    /// Absolute offset of the byte to flip.
    corrupt_at: Option<u64>,
    /// No length announced: the size hint is left open, so hyper sends the body chunked.
    chunked: bool,
    /// Whether the bytes count as object bytes in the stats (not for listings).
    counted: bool,
    stats: Arc<Stats>,
    _in_flight: Option<InFlight>,
}

/// A response body.
pub enum OssBody {
    Full(Option<Bytes>),
    Stream(Box<ObjectStream>),
    /// A body held back on purpose (`slow_body`).
    Slow(Box<crate::slow_body::SlowBody>),
}

impl OssBody {
    /// No body.
    pub fn empty() -> OssBody {
        OssBody::Full(None)
    }

    /// A body sent in one frame.
    pub fn full(b: impl Into<Bytes>) -> OssBody {
        let b = b.into();
        OssBody::Full((!b.is_empty()).then_some(b))
    }
}

/// Options of an object stream.
pub struct StreamOptions {
    pub throttle: Option<Arc<Throttle>>,
    /// Drop the connection after this many body bytes.
    pub reset_after: Option<u64>,
    /// Flip the body byte at this offset (relative to the body).
    pub corrupt_at: Option<u64>,
}

impl ObjectStream {
    /// Streams bytes `start..end` of an object.
    pub fn new(
        source: Source,
        start: u64,
        end: u64,
        opts: StreamOptions,
        stats: Arc<Stats>,
    ) -> ObjectStream {
        let reader = match source {
            Source::Synthetic { seed } => Reader::Synthetic { seed },
            Source::Memory(b) => Reader::Memory(b),
            Source::File(path) => Reader::File { path, rx: None },
        };
        let chunk = opts.throttle.as_ref().map_or(CHUNK, |t| t.chunk());
        ObjectStream {
            reader,
            pos: start,
            end,
            chunk,
            throttle: opts.throttle,
            held: None,
            sleep: None,
            reset_at: opts.reset_after.map(|n| start + n),
            resetting: false,
            corrupt_at: opts.corrupt_at.map(|n| start + n),
            chunked: false,
            counted: true,
            stats,
            _in_flight: None,
        }
    }

    /// A listing body: `xml` in frames of `frame` bytes, chunked (no length announced) when
    /// `chunked`, the connection dropped after `reset_after` bytes when given. Its bytes are
    /// not counted as object bytes.
    pub fn listing(
        xml: Bytes,
        frame: usize,
        chunked: bool,
        reset_after: Option<u64>,
        stats: Arc<Stats>,
    ) -> ObjectStream {
        let len = xml.len() as u64;
        let opts = StreamOptions {
            throttle: None,
            reset_after,
            corrupt_at: None,
        };
        let mut s = ObjectStream::new(Source::Memory(xml), 0, len, opts, stats);
        s.chunk = frame.max(1);
        s.chunked = chunked;
        s.counted = false;
        s
    }

    /// Sends the body chunked, announcing no length (hostile overlong responses).
    pub fn unannounced(mut self) -> ObjectStream {
        self.chunked = true;
        self
    }

    /// Keeps the request counted in flight while the body is being sent.
    pub fn hold(mut self, in_flight: InFlight) -> ObjectStream {
        self._in_flight = Some(in_flight);
        self
    }

    /// The next frame's bytes (`pos..limit`), or an error.
    fn produce(&mut self, cx: &mut Context<'_>, limit: u64) -> Poll<Result<Bytes, BodyError>> {
        let n = (limit - self.pos).min(self.chunk as u64) as usize;
        match &mut self.reader {
            Reader::Synthetic { seed } => {
                let mut buf = bufpool::take();
                generate::fill(*seed, self.pos, &mut buf[..n]);
                Poll::Ready(Ok(bufpool::freeze(buf, n)))
            }
            Reader::Memory(b) => {
                let s = self.pos as usize;
                Poll::Ready(Ok(b.slice(s..s + n)))
            }
            Reader::File { path, rx } => {
                let rx =
                    rx.get_or_insert_with(|| spawn_file_reader(path.clone(), self.pos, self.end));
                match rx.poll_recv(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Some(Ok(b))) => {
                        // The reader's frames follow `end`, not the reset point: cut here.
                        let take = (limit - self.pos) as usize;
                        if b.len() > take {
                            Poll::Ready(Ok(b.slice(..take)))
                        } else {
                            Poll::Ready(Ok(b))
                        }
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Err(BodyError(format!(
                        "reading the object file failed: {e}"
                    )))),
                    Poll::Ready(None) => {
                        Poll::Ready(Err(BodyError("the object file ended early".into())))
                    }
                }
            }
        }
    }

    fn corrupt(&mut self, frame: Bytes) -> Bytes {
        let Some(at) = self.corrupt_at else {
            return frame;
        };
        if at < self.pos || at >= self.pos + frame.len() as u64 {
            return frame;
        }
        self.corrupt_at = None;
        self.stats.fault(Fault::Corrupt);
        let mut v = BytesMut::from(&frame[..]);
        v[(at - self.pos) as usize] ^= 0xFF;
        v.freeze()
    }
}

fn spawn_file_reader(path: PathBuf, start: u64, end: u64) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(FILE_READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::FileExt;
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut pos = start;
        while pos < end {
            let n = (end - pos).min(CHUNK as u64) as usize;
            let mut buf = bufpool::take();
            let mut filled = 0;
            while filled < n {
                match f.read_at(&mut buf[filled..n], pos + filled as u64) {
                    Ok(0) => {
                        let _ = tx.blocking_send(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while being sent",
                        )));
                        return;
                    }
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if tx.blocking_send(Ok(bufpool::freeze(buf, n))).is_err() {
                return; // The response was dropped.
            }
            pos += n as u64;
        }
    });
    rx
}

impl Body for ObjectStream {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = &mut this.sleep {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            if this.resetting {
                this.stats.fault(Fault::Reset);
                return Poll::Ready(Some(Err(BodyError("injected connection reset".into()))));
            }
            if let Some(frame) = this.held.take() {
                if this.counted {
                    this.stats.add_bytes(frame.len() as u64);
                }
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
            let limit = this.reset_at.map_or(this.end, |r| r.min(this.end));
            if this.pos >= limit {
                if this.reset_at.is_some_and(|r| r < this.end) {
                    // Let the connection flush what was sent, then drop it.
                    this.resetting = true;
                    this.sleep = Some(Box::pin(tokio::time::sleep(Duration::from_millis(20))));
                    continue;
                }
                return Poll::Ready(None);
            }
            let frame = match this.produce(cx, limit) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    log::warn!("{e}");
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Ok(f)) => f,
            };
            let frame = this.corrupt(frame);
            this.pos += frame.len() as u64;
            if let Some(t) = &this.throttle {
                let wait = t.take(frame.len());
                if !wait.is_zero() {
                    this.held = Some(frame);
                    this.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                    continue;
                }
            }
            if this.counted {
                this.stats.add_bytes(frame.len() as u64);
            }
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end && self.held.is_none() && !self.resetting
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked {
            return SizeHint::default();
        }
        SizeHint::with_exact(self.end - self.pos + self.held.as_ref().map_or(0, |h| h.len() as u64))
    }
}

impl Body for OssBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            OssBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            OssBody::Stream(s) => Pin::new(s.as_mut()).poll_frame(cx),
            OssBody::Slow(s) => Pin::new(s.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OssBody::Full(b) => b.is_none(),
            OssBody::Stream(s) => s.is_end_stream(),
            OssBody::Slow(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OssBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            OssBody::Stream(s) => s.size_hint(),
            OssBody::Slow(s) => s.size_hint(),
        }
    }
}
