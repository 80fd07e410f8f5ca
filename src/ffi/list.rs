//! `ossmc_listing`: the result of listing a prefix, and reading its entries.
//!
//! The whole listing is fetched by `ossmc_list` (every page) and kept in an immutable handle,
//! so entries can be read by index from any number of threads, with keys borrowed from it.

use std::ffi::c_char;

use super::boundary::{self, Failure, OK};
use super::connector::ossmc_connector;
use super::handle::{self, Castable};
use super::status::OSSMC_INVALID_ARGUMENT;
use crate::ObjectInfo;

/// The objects under a prefix (opaque, immutable): read it with `ossmc_list_len` and
/// `ossmc_list_get`, from any threads; free it with `ossmc_list_free`.
pub struct ossmc_listing {
    _private: [u8; 0],
}

/// One entry, with its key stored NUL-terminated so that C can use it as a C string.
pub(crate) struct Entry {
    /// The key's UTF-8 bytes followed by one NUL.
    key_nul: Box<[u8]>,
    size: u64,
}

impl From<ObjectInfo> for Entry {
    fn from(info: ObjectInfo) -> Entry {
        let mut bytes = info.key.into_bytes();
        bytes.push(0);
        Entry {
            key_nul: bytes.into_boxed_slice(),
            size: info.size,
        }
    }
}

impl Castable for ossmc_listing {
    type RustType = Vec<Entry>;
}

/// Lists every object whose key starts with `prefix` in `bucket`.
///
/// - `prefix` may be NULL or `""` for the whole bucket.
/// - `fast` = 0: the normal listing, page after page, in key order. `fast` != 0: FastList,
///   which splits the key space and lists the parts in parallel (much faster for millions of
///   objects); the order of the entries is then unspecified.
/// - `out_list`: receives the list (NULL on failure).
///
/// Blocks until every page has arrived (each request bounded by the configured timeouts and
/// retries). Errors: `OSSMC_NULL_POINTER`, `OSSMC_INVALID_UTF8`, `OSSMC_INVALID_ARGUMENT`
/// (bucket name), `OSSMC_NO_SUCH_BUCKET`, `OSSMC_ACCESS_DENIED`, the 600s, and
/// `OSSMC_CANCELLED` after `ossmc_connector_interrupt`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_list(
    conn: *const ossmc_connector,
    bucket: *const c_char,
    prefix: *const c_char,
    fast: i32,
    out_list: *mut *mut ossmc_listing,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_list, std::ptr::null_mut(), "out_list") }?;
        let connector = unsafe { handle::try_ref(conn, "conn") }?;
        let bucket = unsafe { handle::c_str(bucket, "bucket") }?;
        let prefix = unsafe { handle::opt_c_str(prefix, "prefix") }?.unwrap_or("");
        let infos = if fast != 0 {
            connector.fast_list(bucket, prefix)?
        } else {
            connector.list(bucket, prefix)?
        };
        let entries: Vec<Entry> = infos.into_iter().map(Entry::from).collect();
        *out = handle::into_handle::<ossmc_listing>(entries);
        OK
    })
}

/// Stores the number of entries of `list` in `*out_len`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_list_len(list: *const ossmc_listing, out_len: *mut usize) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out_len, 0, "out_len") }?;
        *out = unsafe { handle::try_ref(list, "list") }?.len();
        OK
    })
}

/// Reads entry `i` (0-based) of `list`: `*key` receives its key, NUL-terminated UTF-8
/// owned by the list and valid until `ossmc_list_free`; `*key_len` its length in bytes
/// (without the NUL); `*size` the object's size in bytes.
///
/// Errors: `OSSMC_NULL_POINTER`; `OSSMC_INVALID_ARGUMENT` when `i` is not below the length.
#[no_mangle]
pub unsafe extern "C" fn ossmc_list_get(
    list: *const ossmc_listing,
    i: usize,
    key: *mut *const c_char,
    key_len: *mut usize,
    size: *mut u64,
) -> i32 {
    boundary::call(|| {
        let key = unsafe { handle::out(key, std::ptr::null(), "key") }?;
        let key_len = unsafe { handle::out(key_len, 0, "key_len") }?;
        let size = unsafe { handle::out(size, 0, "size") }?;
        let entries = unsafe { handle::try_ref(list, "list") }?;
        let entry = entries.get(i).ok_or_else(|| {
            Failure::new(
                OSSMC_INVALID_ARGUMENT,
                format!(
                    "invalid argument: index {i} is out of range (the list has {} entries)",
                    entries.len()
                ),
            )
        })?;
        *key = entry.key_nul.as_ptr().cast();
        *key_len = entry.key_nul.len() - 1;
        *size = entry.size;
        OK
    })
}

/// Frees a list and its keys. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ossmc_list_free(list: *mut ossmc_listing) {
    boundary::call_void(|| unsafe { handle::free(list) });
}
