//! The credentials callback: C code that manages credentials itself hands them to ossmc
//! through `ossmc_credentials_sink_set` from inside an `ossmc_credentials_callback`.
//!
//! The callback is adapted into the Rust API's [`crate::CallbackProvider`]: each call passes
//! a fresh sink (a borrowed handle to a stack slot), and whatever the callback stored there
//! becomes the provider's answer.

use std::ffi::{c_char, c_void};
use std::time::{Duration, SystemTime};

use super::boundary::{self, Failure, OK};
use super::handle::{self, Castable};
use super::status::{self, OSSMC_INVALID_ARGUMENT, OSSMC_OK};
use crate::{Credentials, Error, ErrorKind, Result, Secret};

/// Where a credentials callback puts the credentials it fetched (opaque). Valid only during
/// the callback that received it.
pub struct ossmc_credentials_sink {
    _private: [u8; 0],
}

/// What a sink points at: the answer of one callback invocation.
#[derive(Default)]
pub(crate) struct SinkSlot {
    credentials: Option<Credentials>,
}

impl Castable for ossmc_credentials_sink {
    type RustType = SinkSlot;
}

/// A caller-supplied credentials function. It receives the `userdata` given to
/// `ossmc_connector_new_with_callback` and a sink; it calls `ossmc_credentials_sink_set` and
/// returns `OSSMC_OK`, or returns a nonzero status when it cannot provide credentials.
pub type ossmc_credentials_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, sink: *mut ossmc_credentials_sink) -> i32>;

/// A C callback with its user data, callable from any thread.
pub(crate) struct CallbackSource {
    callback: unsafe extern "C" fn(*mut c_void, *mut ossmc_credentials_sink) -> i32,
    userdata: *mut c_void,
}

// SAFETY: the documented contract of `ossmc_connector_new_with_callback` is that the callback
// may be invoked from any thread, concurrently, with `userdata`; the caller vouches for that.
unsafe impl Send for CallbackSource {}
unsafe impl Sync for CallbackSource {}

impl CallbackSource {
    pub(crate) fn new(
        callback: unsafe extern "C" fn(*mut c_void, *mut ossmc_credentials_sink) -> i32,
        userdata: *mut c_void,
    ) -> CallbackSource {
        CallbackSource { callback, userdata }
    }

    /// Invokes the callback once and returns what it stored in the sink.
    pub(crate) fn fetch(&self) -> Result<Credentials> {
        let mut slot = SinkSlot::default();
        let sink = (&mut slot as *mut SinkSlot).cast::<ossmc_credentials_sink>();
        // SAFETY: the caller promised the callback and userdata are valid while the connector
        // lives; `sink` points at `slot`, which outlives the call.
        let code = unsafe { (self.callback)(self.userdata, sink) };
        let failed = |message: String| Error::new(ErrorKind::CredentialsCallback, message);
        if code != OSSMC_OK {
            return Err(failed(format!(
                "the credentials callback failed with status {code} ({})",
                status::name(code).to_string_lossy()
            )));
        }
        slot.credentials.ok_or_else(|| {
            failed(
                "the credentials callback returned OSSMC_OK without calling ossmc_credentials_sink_set"
                    .to_owned(),
            )
        })
    }
}

/// Stores credentials in `sink`; call it from inside an `ossmc_credentials_callback`.
///
/// `access_key_id` and `access_key_secret` are required; `security_token` may be NULL (or
/// empty) for long-term keys; `expiration_unix` is when STS credentials expire, in seconds
/// since the Unix epoch, or 0 if they do not (ossmc asks again 5 minutes before). The strings
/// are copied. Calling it again in the same callback replaces the earlier values.
///
/// Errors: `OSSMC_NULL_POINTER`, `OSSMC_INVALID_UTF8`, `OSSMC_INVALID_ARGUMENT` (negative
/// expiration). Never blocks.
#[no_mangle]
pub unsafe extern "C" fn ossmc_credentials_sink_set(
    sink: *mut ossmc_credentials_sink,
    access_key_id: *const c_char,
    access_key_secret: *const c_char,
    security_token: *const c_char,
    expiration_unix: i64,
) -> i32 {
    boundary::call(|| {
        let slot = unsafe { handle::try_mut(sink, "sink") }?;
        let id = unsafe { handle::c_str(access_key_id, "access_key_id") }?;
        let secret = unsafe { handle::c_str(access_key_secret, "access_key_secret") }?;
        let token = unsafe { handle::opt_c_str(security_token, "security_token") }?;
        let expiration = match u64::try_from(expiration_unix) {
            Ok(0) => None,
            Ok(secs) => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            Err(_) => {
                return Err(Failure::new(
                    OSSMC_INVALID_ARGUMENT,
                    format!("invalid argument: expiration_unix is negative ({expiration_unix})"),
                ))
            }
        };
        slot.credentials = Some(Credentials {
            access_key_id: id.to_owned(),
            access_key_secret: secret.into(),
            security_token: token.filter(|t| !t.is_empty()).map(Secret::from),
            expiration,
        });
        OK
    })
}
