//! `ossmc_prepare_directory`: a local directory holding every object under a prefix.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use super::boundary::{self, Failure, OK};
use super::connector::ossmc_connector;
use super::handle;
use super::status::OSSMC_INVALID_ARGUMENT;
use crate::{PrepareOptions, PrepareReport};

/// Progress line on stderr when stderr is a terminal (the default, 0).
pub const OSSMC_PREPARE_PROGRESS_AUTO: u32 = 0;
/// Always draw the progress line on stderr.
pub const OSSMC_PREPARE_PROGRESS_ON: u32 = 1;
/// Never draw the progress line.
pub const OSSMC_PREPARE_PROGRESS_OFF: u32 = 2;

/// What an `ossmc_prepare_directory` call did.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct ossmc_prepare_result {
    /// Files the directory holds for the prefix now.
    pub files: u64,
    /// Of those, the ones fetched by this call.
    pub fetched: u64,
    /// Of those, the ones an earlier call left that still match their objects.
    pub kept: u64,
    /// Files removed because their objects are gone from the prefix.
    pub removed: u64,
    /// Bytes fetched into files by this call.
    pub bytes_fetched: u64,
    /// Bytes of all the files.
    pub bytes_total: u64,
}

impl From<PrepareReport> for ossmc_prepare_result {
    fn from(r: PrepareReport) -> Self {
        ossmc_prepare_result {
            files: r.files,
            fetched: r.fetched,
            kept: r.kept,
            removed: r.removed,
            bytes_fetched: r.bytes_fetched,
            bytes_total: r.bytes_total,
        }
    }
}

/// Makes the local directory `dir` hold every object under `uri` (`oss://bucket/prefix` or
/// `oss://bucket`), each in the file its key names below the prefix, so that any framework
/// (vLLM, transformers, safetensors, a C++ loader) can load the directory as it is. On tmpfs
/// such as `/dev/shm` it lives in memory.
///
/// - Objects are fetched with the prefetcher at full speed, each straight into its file
///   under a hidden temporary name (`.<name>.ossmc-part`), renamed only when complete and
///   verified (CRC-64 when the server sends it; the size always).
/// - A file an earlier call wrote is kept when its object has the same ETag and size and the
///   file still has the object's size and CRC-64 (computed over the local file; without a
///   server CRC, the modification time recorded then). Anything truncated, edited or
///   deleted is fetched again. What the next call needs is kept in `dir/.ossmc-manifest.json`.
/// - Files of objects gone from the prefix since the last call are removed; temporary files
///   of an interrupted call are removed. Nothing else in `dir` is touched.
/// - A key whose part after the prefix has a `.` or `..` segment, an empty segment, a
///   leading `/`, a NUL or a backslash is refused (`OSSMC_INVALID_ARGUMENT` naming the key)
///   before anything is fetched or written.
///
/// `flags`: one of `OSSMC_PREPARE_PROGRESS_AUTO`, `_ON`, `_OFF`. `out_result` may be NULL.
/// Blocks until every file is in place; `ossmc_connector_interrupt` makes it return
/// `OSSMC_CANCELLED` (files already complete stay and are recorded). Errors name the key
/// or the path involved.
#[no_mangle]
pub unsafe extern "C" fn ossmc_prepare_directory(
    conn: *const ossmc_connector,
    uri: *const c_char,
    dir: *const c_char,
    flags: u32,
    out_result: *mut ossmc_prepare_result,
) -> i32 {
    boundary::call(|| {
        if let Some(out) = unsafe { out_result.as_mut() } {
            *out = ossmc_prepare_result::default();
        }
        let connector = unsafe { handle::try_ref(conn, "conn") }?;
        let uri = unsafe { handle::c_str(uri, "uri") }?;
        if dir.is_null() {
            return Err(Failure::null("dir"));
        }
        // Paths are bytes on Linux: any directory name is accepted, UTF-8 or not.
        let dir = Path::new(OsStr::from_bytes(unsafe { CStr::from_ptr(dir) }.to_bytes()));
        if dir.as_os_str().is_empty() {
            return Err(Failure::new(
                OSSMC_INVALID_ARGUMENT,
                "invalid argument: dir is empty".to_owned(),
            ));
        }
        let progress = match flags {
            OSSMC_PREPARE_PROGRESS_AUTO => None,
            OSSMC_PREPARE_PROGRESS_ON => Some(true),
            OSSMC_PREPARE_PROGRESS_OFF => Some(false),
            other => {
                return Err(Failure::new(
                    OSSMC_INVALID_ARGUMENT,
                    format!("invalid argument: unknown flags {other} (use OSSMC_PREPARE_PROGRESS_AUTO, _ON or _OFF)"),
                ))
            }
        };
        let report = connector.prepare_directory(uri, dir, &PrepareOptions { progress })?;
        if let Some(out) = unsafe { out_result.as_mut() } {
            *out = report.into();
        }
        OK
    })
}
