//! `ossmc_object`: opening, reading, seeking and closing objects.
//!
//! An object handle is a `Box<ObjectReader>`. It is `Send` but not shared: one thread at a
//! time, so `&mut` access through the handle is sound as long as the caller keeps that rule.

use std::ffi::{c_char, c_void};
use std::io::SeekFrom;
use std::time::Duration;

use super::boundary::{self, Failure, OK};
use super::connector::ossmc_connector;
use super::handle::{self, Castable};
use super::status::{OSSMC_AGAIN, OSSMC_INVALID_ARGUMENT, OSSMC_INVALID_URI};
use crate::ObjectReader;

fn millis(timeout_ms: u32) -> Duration {
    Duration::from_millis(u64::from(timeout_ms))
}

/// The end of every timed call: what it got is stored by `store` and the call is
/// `OSSMC_OK`; nothing in time is `OSSMC_AGAIN`, with the outputs left as set on entry.
fn ok_or_again<T>(done: Option<T>, store: impl FnOnce(T)) -> Result<i32, Failure> {
    match done {
        Some(v) => {
            store(v);
            OK
        }
        None => Ok(OSSMC_AGAIN),
    }
}

/// Seek relative to the start of the object.
pub const OSSMC_SEEK_SET: i32 = 0;
/// Seek relative to the current position.
pub const OSSMC_SEEK_CUR: i32 = 1;
/// Seek relative to the end of the object.
pub const OSSMC_SEEK_END: i32 = 2;

/// An open object: a read position over one OSS object, fed by the connector's prefetcher
/// (opaque). Use it from one thread at a time (any thread); close it with `ossmc_close`.
pub struct ossmc_object {
    _private: [u8; 0],
}

impl Castable for ossmc_object {
    type RustType = ObjectReader;
}

/// Opens the object named by `uri` (`oss://bucket/key`, or `s3://bucket/key` on a connector
/// that speaks the S3 API) for reading and queues it for
/// prefetching: objects are fetched ahead in the order they were opened, so opening all the
/// shards of a model first and then reading them one by one keeps the network busy.
///
/// Blocks for one metadata request (the object's size and version), bounded by the
/// configured timeouts and retries. `out_obj` receives the object (NULL on failure).
/// Errors: `OSSMC_NULL_POINTER`, `OSSMC_INVALID_UTF8`, `OSSMC_INVALID_URI`,
/// `OSSMC_NO_SUCH_BUCKET`, `OSSMC_NO_SUCH_KEY`, `OSSMC_ACCESS_DENIED`, the 200s and 600s,
/// and `OSSMC_CANCELLED` after `ossmc_connector_interrupt`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_open(
    conn: *const ossmc_connector,
    uri: *const c_char,
    out_obj: *mut *mut ossmc_object,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_obj, std::ptr::null_mut(), "out_obj") }?;
        let connector = unsafe { handle::try_ref(conn, "conn") }?;
        let uri = unsafe { handle::c_str(uri, "uri") }?;
        let (bucket, key) = connector
            .parse_uri(uri)
            .map_err(|e| Failure::with_status(OSSMC_INVALID_URI, e))?;
        *out = handle::into_handle(connector.open_object(&bucket, &key)?);
        OK
    })
}

/// Opens object `key` of `bucket`; as `ossmc_open` without the URI. Invalid bucket names
/// and keys are `OSSMC_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_open_object(
    conn: *const ossmc_connector,
    bucket: *const c_char,
    key: *const c_char,
    out_obj: *mut *mut ossmc_object,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_obj, std::ptr::null_mut(), "out_obj") }?;
        let connector = unsafe { handle::try_ref(conn, "conn") }?;
        let bucket = unsafe { handle::c_str(bucket, "bucket") }?;
        let key = unsafe { handle::c_str(key, "key") }?;
        *out = handle::into_handle(connector.open_object(bucket, key)?);
        OK
    })
}

/// Reads up to `len` bytes at the current position into `buf` and advances the position.
///
/// `*out_n` receives the number of bytes read: at least 1 unless the position is at or past
/// the end of the object (then 0) or `len` is 0. Blocks until some data is available (from
/// the prefetcher or a request of its own), bounded by the configured timeouts and retries.
/// Bytes already prefetched are copied, and the call may return fewer than `len`; bytes
/// nobody fetched yet are fetched straight into `buf`, in parallel ranged GETs, and the call
/// returns once they are all in: one call with a shard-sized buffer loads the shard with no
/// second copy. `buf` may be NULL only when `len` is 0.
#[no_mangle]
pub unsafe extern "C" fn ossmc_read(
    obj: *mut ossmc_object,
    buf: *mut c_void,
    len: usize,
    out_n: *mut usize,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_n, 0, "out_n") }?;
        let reader = unsafe { handle::try_mut(obj, "obj") }?;
        let buf = unsafe { handle::buf_mut(buf, len, "buf") }?;
        *out = reader.read(buf)?;
        OK
    })
}

/// As `ossmc_read`, but waits at most `timeout_ms` milliseconds for data. When nothing
/// arrived in time it returns `OSSMC_AGAIN` with `*out_n` = 0 and the position unchanged:
/// call it again. Meant for callers that must react between waits (Python checking for
/// Ctrl-C); a failed request is reported as by `ossmc_read`. When the time runs out while
/// bytes are being fetched straight into `buf`, the requests already sent end first (they
/// write into `buf`), so the call may take longer than `timeout_ms` by about one request's
/// duration; the bytes in place from the position on are returned. Bytes of `buf` beyond
/// `*out_n` may have been written: they are not part of the result.
#[no_mangle]
pub unsafe extern "C" fn ossmc_read_timeout(
    obj: *mut ossmc_object,
    buf: *mut c_void,
    len: usize,
    timeout_ms: u32,
    out_n: *mut usize,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_n, 0, "out_n") }?;
        let reader = unsafe { handle::try_mut(obj, "obj") }?;
        let buf = unsafe { handle::buf_mut(buf, len, "buf") }?;
        let done = reader.read_timeout(buf, millis(timeout_ms))?;
        ok_or_again(done, |n| *out = n)
    })
}

/// Reads up to `len` bytes starting at `offset` into `buf`, without using or moving the
/// position. `*out_n` is less than `len` only at the end of the object (0 at or past it).
/// Blocks like `ossmc_read`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_read_at(
    obj: *mut ossmc_object,
    offset: u64,
    buf: *mut c_void,
    len: usize,
    out_n: *mut usize,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_n, 0, "out_n") }?;
        let reader = unsafe { handle::try_ref(obj, "obj") }?;
        let buf = unsafe { handle::buf_mut(buf, len, "buf") }?;
        *out = reader.read_at(offset, buf)?;
        OK
    })
}

/// As `ossmc_read_at`, but waits at most `timeout_ms` milliseconds for data, and may return
/// fewer than `len` bytes before the end of the object. When nothing arrived in time it
/// returns `OSSMC_AGAIN` with `*out_n` = 0: call it again. Time running out while bytes are
/// fetched straight into `buf` behaves as in `ossmc_read_timeout`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_read_at_timeout(
    obj: *mut ossmc_object,
    offset: u64,
    buf: *mut c_void,
    len: usize,
    timeout_ms: u32,
    out_n: *mut usize,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_n, 0, "out_n") }?;
        let reader = unsafe { handle::try_ref(obj, "obj") }?;
        let buf = unsafe { handle::buf_mut(buf, len, "buf") }?;
        let done = reader.read_at_timeout(offset, buf, millis(timeout_ms))?;
        ok_or_again(done, |n| *out = n)
    })
}

/// Loads the whole object into memory and stores its address in `*out_data` and its size in
/// `*out_len`. The memory is read-only, belongs to `obj` and stays valid until
/// `ossmc_close(obj)`; later calls return the same memory at once. Bytes not prefetched yet
/// are fetched straight into it (no second copy), and the object is verified as by a read
/// through it. The position is neither used nor moved. Blocks like `ossmc_read` until the
/// whole object is in. An empty object gives a non-NULL address and length 0. On failure
/// `*out_data` is NULL; calling again goes on where the failed call stopped.
#[no_mangle]
pub unsafe extern "C" fn ossmc_mmap(
    obj: *mut ossmc_object,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    boundary::call(|| {
        let data = unsafe { handle::out(out_data, std::ptr::null(), "out_data") }?;
        let len = unsafe { handle::out(out_len, 0, "out_len") }?;
        let reader = unsafe { handle::try_mut(obj, "obj") }?;
        let bytes = reader.map()?;
        *data = bytes.as_ptr();
        *len = bytes.len();
        OK
    })
}

/// As `ossmc_mmap`, but waits at most `timeout_ms` milliseconds for more bytes: returns
/// `OSSMC_AGAIN` (with `*out_data` NULL) while the object is not wholly in memory yet. Call
/// it again to go on where it stopped.
#[no_mangle]
pub unsafe extern "C" fn ossmc_mmap_timeout(
    obj: *mut ossmc_object,
    timeout_ms: u32,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    boundary::call(|| {
        let data = unsafe { handle::out(out_data, std::ptr::null(), "out_data") }?;
        let len = unsafe { handle::out(out_len, 0, "out_len") }?;
        let reader = unsafe { handle::try_mut(obj, "obj") }?;
        let done = reader.map_timeout(Some(millis(timeout_ms)))?;
        ok_or_again(done, |bytes| {
            *data = bytes.as_ptr();
            *len = bytes.len();
        })
    })
}

/// Moves the position to `offset` relative to `whence` (`OSSMC_SEEK_SET`, `OSSMC_SEEK_CUR`,
/// `OSSMC_SEEK_END`) and stores the new position in `*out_pos`. A position past the end is
/// allowed (reads there return 0 bytes); a negative one is `OSSMC_INVALID_ARGUMENT`, as is an
/// unknown `whence`. Never blocks: data at the new position is fetched when read.
#[no_mangle]
pub unsafe extern "C" fn ossmc_seek(
    obj: *mut ossmc_object,
    offset: i64,
    whence: i32,
    out_pos: *mut u64,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_pos, 0, "out_pos") }?;
        let reader = unsafe { handle::try_mut(obj, "obj") }?;
        let invalid =
            |why: String| Failure::new(OSSMC_INVALID_ARGUMENT, format!("invalid argument: {why}"));
        let from = match whence {
            OSSMC_SEEK_SET => SeekFrom::Start(
                u64::try_from(offset)
                    .map_err(|_| invalid(format!("cannot seek to negative offset {offset}")))?,
            ),
            OSSMC_SEEK_CUR => SeekFrom::Current(offset),
            OSSMC_SEEK_END => SeekFrom::End(offset),
            other => {
                return Err(invalid(format!(
                    "unknown whence {other} (use OSSMC_SEEK_SET, _CUR or _END)"
                )))
            }
        };
        *out = reader.seek(from)?;
        OK
    })
}

/// Stores the current position of `obj` in `*out_pos`. Never blocks.
#[no_mangle]
pub unsafe extern "C" fn ossmc_tell(obj: *const ossmc_object, out_pos: *mut u64) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_pos, 0, "out_pos") }?;
        *out = unsafe { handle::try_ref(obj, "obj") }?.tell();
        OK
    })
}

/// Stores the size of `obj` in bytes (as of `ossmc_open`) in `*out_size`. Never blocks.
#[no_mangle]
pub unsafe extern "C" fn ossmc_size(obj: *const ossmc_object, out_size: *mut u64) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_size, 0, "out_size") }?;
        *out = unsafe { handle::try_ref(obj, "obj") }?.size();
        OK
    })
}

/// Stores in `*out_verified` 1 if every byte of `obj` has been checked (all of it fetched and
/// its CRC-64 equal to the server's `x-oss-hash-crc64ecma`), else 0. It becomes 1 once a read
/// through to the end or `ossmc_mmap` succeeded; it stays 0 without a CRC header and for an
/// object read at random that never had all its bytes fetched (see "Integrity" in the
/// README). Never blocks.
#[no_mangle]
pub unsafe extern "C" fn ossmc_verified(obj: *const ossmc_object, out_verified: *mut i32) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_verified, 0, "out_verified") }?;
        *out = i32::from(unsafe { handle::try_ref(obj, "obj") }?.verified());
        OK
    })
}

/// Closes an object: stops its prefetching and frees its buffers. NULL is a no-op. Does not
/// wait for requests in flight to finish.
#[no_mangle]
pub unsafe extern "C" fn ossmc_close(obj: *mut ossmc_object) {
    boundary::call_void(|| unsafe { handle::free(obj) });
}
