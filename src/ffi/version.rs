//! Library and ABI versions.

use std::ffi::c_char;

/// The ABI version of this header. It equals the soname major (`libossmc.so.0`) and is bumped,
/// together with the soname and the committed ABI baseline, on any incompatible change.
/// Compare it with `ossmc_abi_version()` at startup to detect a header/library mismatch.
pub const OSSMC_ABI_VERSION: u32 = 0;

/// The ABI version of the loaded library (`OSSMC_ABI_VERSION` of the header it was built with).
#[no_mangle]
pub extern "C" fn ossmc_abi_version() -> u32 {
    OSSMC_ABI_VERSION
}

/// The library version, such as `"0.1.0"`: a static NUL-terminated string, never freed.
#[no_mangle]
pub extern "C" fn ossmc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
