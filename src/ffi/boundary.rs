//! The panic boundary every exported status-returning function runs inside.
//!
//! [`call`] runs the body under `catch_unwind`, turns its outcome into a status code, and
//! records the outcome as the thread's last error: the failure's detail, or nothing after a
//! success. A panic becomes `OSSMC_PANIC`; it never unwinds into C.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::last_error;
use super::status::{self, OSSMC_OK};
use crate::Error;

/// Why a C call failed: its status code and the detail shown by `ossmc_last_error`.
///
/// Boxed so that the `Result`s of the happy path stay one word wide.
#[derive(Debug)]
pub struct Failure(Box<FailureDetail>);

/// The content of a [`Failure`].
#[derive(Debug)]
pub(crate) struct FailureDetail {
    pub(crate) status: i32,
    /// The full sentence shown to the caller.
    pub(crate) message: String,
    /// The Rust error behind the failure, for its OSS details (HTTP status, code, request id...).
    pub(crate) error: Option<Error>,
}

impl Failure {
    /// A failure detected at the boundary itself (bad pointer, bad UTF-8...).
    pub(crate) fn new(status: i32, message: impl Into<String>) -> Failure {
        Failure(Box::new(FailureDetail {
            status,
            message: message.into(),
            error: None,
        }))
    }

    /// A NULL pointer where one is required; `what` names the parameter.
    pub(crate) fn null(what: &str) -> Failure {
        Failure::new(
            status::OSSMC_NULL_POINTER,
            format!("null pointer: `{what}` must not be NULL"),
        )
    }

    /// A Rust error reported under a status other than the one its kind maps to
    /// (a URI that does not parse is `OSSMC_INVALID_URI`, not the generic invalid argument).
    pub(crate) fn with_status(status: i32, error: Error) -> Failure {
        Failure(Box::new(FailureDetail {
            status,
            message: error.to_string(),
            error: Some(error),
        }))
    }

    /// The status the failing call returns.
    pub(crate) fn status(&self) -> i32 {
        self.0.status
    }

    /// The detail, for recording.
    pub(crate) fn into_detail(self) -> FailureDetail {
        *self.0
    }

    fn panic(payload: &(dyn Any + Send)) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        Failure::new(
            status::OSSMC_PANIC,
            format!("internal error: ossmc panicked ({what}); please report this bug"),
        )
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::with_status(status::of_kind(error.kind()), error)
    }
}

/// Runs `body` as the whole of an exported function: catches panics, records the outcome as
/// the thread's last error, and returns the status (`Ok(OSSMC_OK)` or another non-failure
/// status such as `OSSMC_AGAIN` from the body; the failure's status otherwise).
pub(crate) fn call(body: impl FnOnce() -> Result<i32, Failure>) -> i32 {
    // AssertUnwindSafe: after a panic the only thing the caller may rely on is the status;
    // the documentation tells it to free the handle involved.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => {
            last_error::clear();
            code
        }
        Ok(Err(failure)) => {
            let code = failure.status();
            last_error::set(failure);
            code
        }
        Err(payload) => {
            let failure = Failure::panic(payload.as_ref());
            // Recording must not panic again: `set` only allocates.
            last_error::set(failure);
            status::OSSMC_PANIC
        }
    }
}

/// Runs a function that returns nothing (the free functions): panics are swallowed, since
/// there is no status to report them with, and the last error is left alone.
pub(crate) fn call_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// Runs an accessor of the last error, which must not record anything itself: a panic
/// becomes `OSSMC_PANIC` without touching the last error.
pub(crate) fn call_quiet(body: impl FnOnce() -> i32) -> i32 {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(status::OSSMC_PANIC)
}

/// Shorthand for a successful body.
pub(crate) const OK: Result<i32, Failure> = Ok(OSSMC_OK);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let code = call(|| panic!("boom"));
        assert_eq!(code, status::OSSMC_PANIC);
        let msg = last_error::with_current(|e| e.map(|e| e.message.to_string_lossy().into_owned()));
        assert!(msg.unwrap().contains("boom"));
        assert_eq!(call(|| OK), OSSMC_OK);
        assert!(last_error::with_current(|e| e.is_none()));
    }
}
