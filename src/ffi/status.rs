//! Stable status codes returned by every fallible C function, and their names.
//!
//! Codes are plain `int32_t` constants (cbindgen emits `#define`s, which every C and C++
//! compiler and cffi's `cdef` accept), grouped by family in hundreds. A code is never
//! renumbered or reused; new codes are added inside their family.

use std::ffi::{c_char, CStr};

use crate::ErrorKind;

/// Success.
pub const OSSMC_OK: i32 = 0;
/// No data arrived within the timeout of `ossmc_read_timeout`; nothing was consumed, call again.
pub const OSSMC_AGAIN: i32 = 1;

/// An argument has an invalid value (bad `whence`, index out of range, bad bucket name...).
pub const OSSMC_INVALID_ARGUMENT: i32 = 100;
/// A pointer argument that must not be NULL was NULL.
pub const OSSMC_NULL_POINTER: i32 = 101;
/// A string argument is not valid UTF-8.
pub const OSSMC_INVALID_UTF8: i32 = 102;
/// A URI is not of the form `oss://bucket/key`.
pub const OSSMC_INVALID_URI: i32 = 103;
/// A caller buffer was too small; what fitted was copied (see `ossmc_last_error_message`).
pub const OSSMC_BUFFER_TOO_SMALL: i32 = 104;

/// The configuration file or one of its values is invalid.
pub const OSSMC_INVALID_CONFIG: i32 = 200;
/// Credentials are missing or malformed (environment, credentials file, or what a callback set).
pub const OSSMC_INVALID_CREDENTIALS: i32 = 201;
/// The caller's credentials callback returned a failure status or set no credentials.
pub const OSSMC_CREDENTIALS_CALLBACK: i32 = 202;

/// The bucket does not exist.
pub const OSSMC_NO_SUCH_BUCKET: i32 = 300;
/// The object does not exist.
pub const OSSMC_NO_SUCH_KEY: i32 = 301;

/// The server refused the request (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId,
/// expired or invalid security token, RequestTimeTooSkewed).
pub const OSSMC_ACCESS_DENIED: i32 = 400;

/// The object changed while it was being read.
pub const OSSMC_OBJECT_CHANGED: i32 = 500;
/// Data failed its CRC-64 check even after fetching it again.
pub const OSSMC_CORRUPTED: i32 = 501;

/// The server kept failing (5xx, throttling) after all retries.
pub const OSSMC_SERVER_ERROR: i32 = 600;
/// Any other error response, or a response ossmc could not understand.
pub const OSSMC_PROTOCOL: i32 = 601;
/// The connection failed or broke, after all retries.
pub const OSSMC_NETWORK: i32 = 602;
/// A connect or read timeout, after all retries.
pub const OSSMC_TIMEOUT: i32 = 603;

/// A local file could not be read or written (credentials file, configuration, logs).
pub const OSSMC_IO: i32 = 700;
/// The operation was cancelled.
pub const OSSMC_CANCELLED: i32 = 701;

/// A bug in ossmc (a broken invariant). Please report it with the last error message.
pub const OSSMC_INTERNAL: i32 = 900;
/// A panic inside ossmc was caught at the C boundary. The handle involved should be freed.
pub const OSSMC_PANIC: i32 = 901;

/// The status a Rust [`ErrorKind`] is reported as.
///
/// The match is exhaustive on purpose: a new kind does not compile until it has a code.
pub(crate) fn of_kind(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument => OSSMC_INVALID_ARGUMENT,
        ErrorKind::InvalidConfig => OSSMC_INVALID_CONFIG,
        ErrorKind::InvalidCredentials => OSSMC_INVALID_CREDENTIALS,
        ErrorKind::CredentialsCallback => OSSMC_CREDENTIALS_CALLBACK,
        ErrorKind::NoSuchBucket => OSSMC_NO_SUCH_BUCKET,
        ErrorKind::NoSuchKey => OSSMC_NO_SUCH_KEY,
        ErrorKind::AccessDenied => OSSMC_ACCESS_DENIED,
        ErrorKind::ObjectChanged => OSSMC_OBJECT_CHANGED,
        ErrorKind::Corrupted => OSSMC_CORRUPTED,
        ErrorKind::ServerError => OSSMC_SERVER_ERROR,
        ErrorKind::Protocol => OSSMC_PROTOCOL,
        ErrorKind::Network => OSSMC_NETWORK,
        ErrorKind::Timeout => OSSMC_TIMEOUT,
        ErrorKind::Io => OSSMC_IO,
        ErrorKind::Cancelled => OSSMC_CANCELLED,
        ErrorKind::Internal => OSSMC_INTERNAL,
    }
}

/// Every status with its name, in code order (also used by the tests to check names).
pub(crate) const ALL: &[(i32, &CStr)] = &[
    (OSSMC_OK, c"OSSMC_OK"),
    (OSSMC_AGAIN, c"OSSMC_AGAIN"),
    (OSSMC_INVALID_ARGUMENT, c"OSSMC_INVALID_ARGUMENT"),
    (OSSMC_NULL_POINTER, c"OSSMC_NULL_POINTER"),
    (OSSMC_INVALID_UTF8, c"OSSMC_INVALID_UTF8"),
    (OSSMC_INVALID_URI, c"OSSMC_INVALID_URI"),
    (OSSMC_BUFFER_TOO_SMALL, c"OSSMC_BUFFER_TOO_SMALL"),
    (OSSMC_INVALID_CONFIG, c"OSSMC_INVALID_CONFIG"),
    (OSSMC_INVALID_CREDENTIALS, c"OSSMC_INVALID_CREDENTIALS"),
    (OSSMC_CREDENTIALS_CALLBACK, c"OSSMC_CREDENTIALS_CALLBACK"),
    (OSSMC_NO_SUCH_BUCKET, c"OSSMC_NO_SUCH_BUCKET"),
    (OSSMC_NO_SUCH_KEY, c"OSSMC_NO_SUCH_KEY"),
    (OSSMC_ACCESS_DENIED, c"OSSMC_ACCESS_DENIED"),
    (OSSMC_OBJECT_CHANGED, c"OSSMC_OBJECT_CHANGED"),
    (OSSMC_CORRUPTED, c"OSSMC_CORRUPTED"),
    (OSSMC_SERVER_ERROR, c"OSSMC_SERVER_ERROR"),
    (OSSMC_PROTOCOL, c"OSSMC_PROTOCOL"),
    (OSSMC_NETWORK, c"OSSMC_NETWORK"),
    (OSSMC_TIMEOUT, c"OSSMC_TIMEOUT"),
    (OSSMC_IO, c"OSSMC_IO"),
    (OSSMC_CANCELLED, c"OSSMC_CANCELLED"),
    (OSSMC_INTERNAL, c"OSSMC_INTERNAL"),
    (OSSMC_PANIC, c"OSSMC_PANIC"),
];

/// The name of a status code, such as `"OSSMC_NO_SUCH_KEY"`, or `"OSSMC_UNKNOWN_STATUS"` for a
/// code this library does not know. The string is static: never free it.
///
/// Does not block, never fails, and does not change the thread's last error.
#[no_mangle]
pub extern "C" fn ossmc_status_name(status: i32) -> *const c_char {
    // Nothing here can panic (a lookup in a constant table), so no boundary is needed.
    name(status).as_ptr()
}

/// The name of a status code (see `ossmc_status_name`).
pub(crate) fn name(status: i32) -> &'static CStr {
    ALL.iter()
        .find(|(code, _)| *code == status)
        .map_or(c"OSSMC_UNKNOWN_STATUS", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_names_match_the_constants() {
        let mut codes: Vec<i32> = ALL.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        for (code, name) in ALL {
            let got = unsafe { CStr::from_ptr(ossmc_status_name(*code)) };
            assert_eq!(got, *name);
        }
        let unknown = unsafe { CStr::from_ptr(ossmc_status_name(12345)) };
        assert_eq!(unknown, c"OSSMC_UNKNOWN_STATUS");
    }

    #[test]
    fn every_kind_maps_into_its_family() {
        assert_eq!(of_kind(ErrorKind::NoSuchKey) / 100, 3);
        assert_eq!(of_kind(ErrorKind::AccessDenied) / 100, 4);
        assert_eq!(of_kind(ErrorKind::Timeout) / 100, 6);
        assert_eq!(of_kind(ErrorKind::Internal) / 100, 9);
        assert_eq!(of_kind(ErrorKind::InvalidConfig) / 100, 2);
        assert_eq!(
            of_kind(ErrorKind::CredentialsCallback),
            OSSMC_CREDENTIALS_CALLBACK
        );
    }
}
