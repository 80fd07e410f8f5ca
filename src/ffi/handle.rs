//! Opaque handles and argument checks, each written once.
//!
//! A C handle type (`ossmc_connector`, `ossmc_listing`, `ossmc_object`) is an empty Rust struct
//! that cbindgen emits as an opaque `typedef struct x x;`. [`Castable`] says which Rust value
//! a pointer to it really points at. Every handle given to C is a `Box` of that value, owned
//! by C until it is passed to the handle's one free function. (The credentials sink is the
//! one borrowed handle: it points at a stack value for the duration of a callback.)
//!
//! The helpers return a [`Failure`] instead of dereferencing NULL or accepting invalid UTF-8,
//! so exported functions read as a list of `?`-checked conversions followed by one call.

use std::ffi::{c_char, c_void, CStr};

use super::boundary::Failure;
use super::status::{OSSMC_INVALID_ARGUMENT, OSSMC_INVALID_UTF8};

/// Ties an opaque C handle type to the Rust value it points at.
pub(crate) trait Castable {
    /// The Rust value behind the handle.
    type RustType;
}

/// Gives a Rust value to C as a new handle (a leaked `Box`, reclaimed by [`free`]).
pub(crate) fn into_handle<C: Castable>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Reclaims and drops a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from [`into_handle`] for the same `C` and was not freed before.
pub(crate) unsafe fn free<C: Castable>(ptr: *mut C) {
    if !ptr.is_null() {
        drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// Borrows the value behind a handle; NULL is `OSSMC_NULL_POINTER` naming `what`.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `C`.
pub(crate) unsafe fn try_ref<'a, C: Castable>(
    ptr: *const C,
    what: &str,
) -> Result<&'a C::RustType, Failure> {
    unsafe { ptr.cast::<C::RustType>().as_ref() }.ok_or_else(|| Failure::null(what))
}

/// Mutably borrows the value behind a handle; NULL is `OSSMC_NULL_POINTER` naming `what`.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `C` that no other thread uses meanwhile.
pub(crate) unsafe fn try_mut<'a, C: Castable>(
    ptr: *mut C,
    what: &str,
) -> Result<&'a mut C::RustType, Failure> {
    unsafe { ptr.cast::<C::RustType>().as_mut() }.ok_or_else(|| Failure::null(what))
}

/// An out-parameter, already reset to `empty` so that the caller never reads garbage after
/// a failure; NULL is `OSSMC_NULL_POINTER` naming `what`.
///
/// # Safety
/// `ptr` is NULL or valid for writes of a `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, empty: T, what: &str) -> Result<&'a mut T, Failure> {
    match unsafe { ptr.as_mut() } {
        Some(slot) => {
            *slot = empty;
            Ok(slot)
        }
        None => Err(Failure::null(what)),
    }
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` is NULL or points at a NUL-terminated string that outlives the call.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|e| {
        Failure::new(
            OSSMC_INVALID_UTF8,
            format!(
                "invalid UTF-8: `{what}` has an invalid byte at offset {}",
                e.valid_up_to()
            ),
        )
    })
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As [`c_str`].
pub(crate) unsafe fn opt_c_str<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        unsafe { c_str(ptr, what) }.map(Some)
    }
}

/// A caller buffer of `len` bytes to write into; NULL is accepted only when `len` is 0.
///
/// # Safety
/// `ptr` is NULL or valid for writes of `len` bytes, not aliased during the call.
pub(crate) unsafe fn buf_mut<'a>(
    ptr: *mut c_void,
    len: usize,
    what: &str,
) -> Result<&'a mut [u8], Failure> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    if len > isize::MAX as usize {
        return Err(Failure::new(
            OSSMC_INVALID_ARGUMENT,
            format!(
                "invalid argument: the length of `{what}` ({len}) is larger than any buffer can be"
            ),
        ));
    }
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}
