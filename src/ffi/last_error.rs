//! The detail of the last failure on this thread, and the functions that read it.
//!
//! Every status-returning call records its outcome here (see [`super::boundary::call`]):
//! the failure's detail, or nothing after a success. The strings are kept as C strings so
//! that `ossmc_last_error` can hand out borrowed pointers without allocating; they stay
//! valid until the next recording call on the same thread. Nothing recorded here contains
//! a secret: it is built from [`crate::Error`], which never holds one.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

use super::boundary::{self, Failure};
use super::handle;
use super::status::{OSSMC_BUFFER_TOO_SMALL, OSSMC_OK};

/// The detail of the last failure on the calling thread, filled by `ossmc_last_error`.
///
/// Every string is NUL-terminated, never NULL (empty when absent), and its length is given
/// without the NUL. The strings belong to the library and stay valid until the next ossmc
/// call on the same thread, except the calls that never record: `ossmc_last_error`,
/// `ossmc_last_error_message`, `ossmc_status_name`, `ossmc_version`, `ossmc_abi_version`
/// and the free functions.
#[repr(C)]
pub struct ossmc_error_detail {
    /// The status the failing call returned; `OSSMC_OK` when the last call succeeded.
    pub status: i32,
    /// The HTTP status of the failed response; 0 when no response was involved.
    pub http_status: i32,
    /// The full message, e.g. `no such key: The specified key does not exist (oss://b/k)
    /// [NoSuchKey, HTTP 404, request id 5F...]`; empty after a success.
    pub message: *const c_char,
    /// Length of `message` in bytes.
    pub message_len: usize,
    /// The OSS error code (`NoSuchKey`, `SignatureDoesNotMatch`...), or empty.
    pub oss_code: *const c_char,
    /// Length of `oss_code` in bytes.
    pub oss_code_len: usize,
    /// The `x-oss-request-id` of the failed response (quote it in support requests), or empty.
    pub request_id: *const c_char,
    /// Length of `request_id` in bytes.
    pub request_id_len: usize,
    /// The bucket of the failed operation, or empty.
    pub bucket: *const c_char,
    /// Length of `bucket` in bytes.
    pub bucket_len: usize,
    /// The key of the failed operation, or empty.
    pub key: *const c_char,
    /// Length of `key` in bytes.
    pub key_len: usize,
}

/// One recorded failure, stored as C strings.
pub(crate) struct Recorded {
    pub(crate) status: i32,
    pub(crate) http_status: i32,
    pub(crate) message: CString,
    pub(crate) oss_code: CString,
    pub(crate) request_id: CString,
    pub(crate) bucket: CString,
    pub(crate) key: CString,
}

thread_local! {
    static LAST: RefCell<Option<Recorded>> = const { RefCell::new(None) };
}

/// A C string from Rust text; an interior NUL (never expected in OSS text) becomes U+FFFD so
/// that the C string and its length agree.
fn c_string(text: &str) -> CString {
    let cleaned = if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.to_owned()
    };
    CString::new(cleaned).unwrap_or_default()
}

/// Records `failure` as the thread's last error.
pub(crate) fn set(failure: Failure) {
    let failure = failure.into_detail();
    let e = failure.error.as_ref();
    let recorded = Recorded {
        status: failure.status,
        http_status: e.and_then(|e| e.http_status()).map_or(0, i32::from),
        message: c_string(&failure.message),
        oss_code: c_string(e.and_then(|e| e.code()).unwrap_or("")),
        request_id: c_string(e.and_then(|e| e.request_id()).unwrap_or("")),
        bucket: c_string(e.and_then(|e| e.bucket()).unwrap_or("")),
        key: c_string(e.and_then(|e| e.key()).unwrap_or("")),
    };
    // `try_with`: during thread teardown the slot may be gone; there is nobody to tell then.
    let _ = LAST.try_with(|slot| *slot.borrow_mut() = Some(recorded));
}

/// Forgets the thread's last error (after a successful call).
pub(crate) fn clear() {
    let _ = LAST.try_with(|slot| {
        // Avoid a write (and a drop) when there is nothing to clear: the common case.
        if slot.borrow().is_some() {
            *slot.borrow_mut() = None;
        }
    });
}

/// Runs `f` on the thread's last error (`None` also while the thread is being torn down).
pub(crate) fn with_current<R>(mut f: impl FnMut(Option<&Recorded>) -> R) -> R {
    LAST.try_with(|slot| f(slot.borrow().as_ref()))
        .unwrap_or_else(|_| f(None))
}

/// Fills `*out` with the detail of the last failure on the calling thread (status `OSSMC_OK`
/// and empty strings when the last call succeeded). The pointers borrow from the library; see
/// `ossmc_error_detail` for how long they stay valid.
///
/// Returns `OSSMC_OK`, or `OSSMC_NULL_POINTER` when `out` is NULL. Does not block and does not
/// change the last error.
#[no_mangle]
pub unsafe extern "C" fn ossmc_last_error(out: *mut ossmc_error_detail) -> i32 {
    boundary::call_quiet(|| unsafe { fill_detail(out) })
}

/// The body of `ossmc_last_error`.
unsafe fn fill_detail(out: *mut ossmc_error_detail) -> i32 {
    let Some(out) = (unsafe { out.as_mut() }) else {
        return super::status::OSSMC_NULL_POINTER;
    };
    let empty: &CStr = c"";
    with_current(|last| {
        let text = |s: Option<&CString>| {
            let s = s.map_or(empty, CString::as_c_str);
            (s.as_ptr(), s.to_bytes().len())
        };
        out.status = last.map_or(OSSMC_OK, |r| r.status);
        out.http_status = last.map_or(0, |r| r.http_status);
        (out.message, out.message_len) = text(last.map(|r| &r.message));
        (out.oss_code, out.oss_code_len) = text(last.map(|r| &r.oss_code));
        (out.request_id, out.request_id_len) = text(last.map(|r| &r.request_id));
        (out.bucket, out.bucket_len) = text(last.map(|r| &r.bucket));
        (out.key, out.key_len) = text(last.map(|r| &r.key));
    });
    OSSMC_OK
}

/// Copies the message of the last failure on the calling thread into `buf` (`cap` bytes),
/// always NUL-terminated when `cap > 0`, and stores its full length (without the NUL) in
/// `*out_len`. The message is empty when the last call succeeded.
///
/// Returns `OSSMC_OK`; `OSSMC_BUFFER_TOO_SMALL` when the message was truncated to `cap - 1`
/// bytes (call again with `*out_len + 1` bytes); `OSSMC_NULL_POINTER` when `out_len` is NULL,
/// or `buf` is NULL while `cap > 0`. Does not block and does not change the last error.
#[no_mangle]
pub unsafe extern "C" fn ossmc_last_error_message(
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> i32 {
    boundary::call_quiet(|| unsafe { copy_message(buf, cap, out_len) })
}

/// The body of `ossmc_last_error_message`.
unsafe fn copy_message(buf: *mut c_char, cap: usize, out_len: *mut usize) -> i32 {
    let Some(out_len) = (unsafe { out_len.as_mut() }) else {
        return super::status::OSSMC_NULL_POINTER;
    };
    *out_len = 0;
    // Checked without the boundary's recording: reading the last error must not replace it.
    let dst = match unsafe { handle::buf_mut(buf.cast(), cap, "buf") } {
        Ok(dst) => dst,
        Err(failure) => return failure.status(),
    };
    with_current(|last| {
        let message = last.map_or(&[][..], |r| r.message.to_bytes());
        *out_len = message.len();
        if dst.is_empty() {
            return if message.is_empty() {
                OSSMC_OK
            } else {
                OSSMC_BUFFER_TOO_SMALL
            };
        }
        let n = message.len().min(dst.len() - 1);
        dst[..n].copy_from_slice(&message[..n]);
        dst[n] = 0;
        if n < message.len() {
            OSSMC_BUFFER_TOO_SMALL
        } else {
            OSSMC_OK
        }
    })
}
