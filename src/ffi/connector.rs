//! `ossmc_connector`: creating and freeing connectors.
//!
//! A connector is a `Box<Connector>` given to C. [`crate::Connector`] is `Send + Sync` and
//! cheap to clone (its state is shared), so one handle may be used by many threads at once,
//! and objects and lists made from it keep the shared state alive on their own.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::Arc;

use super::boundary::{self, Failure, OK};
use super::credentials::{ossmc_credentials_callback, CallbackSource};
use super::handle::{self, Castable};
use crate::{CallbackProvider, Config, Connector, CredentialsProvider, FileProvider};

/// A connection to one OSS endpoint with its credentials and configuration (opaque).
///
/// Thread-safe: any number of threads may call `ossmc_list` and `ossmc_open` on the same
/// connector at the same time. Free it with `ossmc_connector_free`.
pub struct ossmc_connector {
    _private: [u8; 0],
}

impl Castable for ossmc_connector {
    type RustType = Connector;
}

/// Builds the connector from converted arguments; shared by both constructors.
fn build(
    endpoint: &str,
    credentials: Option<Arc<dyn CredentialsProvider>>,
    config_path: Option<&str>,
) -> Result<*mut ossmc_connector, Failure> {
    let (config, warnings) = match config_path {
        Some(path) => Config::from_file(Path::new(path))?,
        None => (Config::default(), Vec::new()),
    };
    // The default depends on the protocol, which the configuration may choose.
    let credentials = match credentials {
        Some(c) => c,
        None => Connector::default_credentials(endpoint, &config)?,
    };
    let connector = Connector::new(endpoint, credentials, config)?;
    // `Config::from_file` leaves reporting unknown fields to its caller; the connector has
    // set up logging by now, so they land in its log.
    let _log = connector.log_scope();
    for warning in warnings {
        log::warn!("{warning}");
    }
    Ok(handle::into_handle(connector))
}

/// Creates a connector for `endpoint` (`"https://oss-cn-hangzhou.aliyuncs.com"`,
/// `"http://127.0.0.1:9000"`, or a bare host name, which means HTTPS).
///
/// - `cred_path`: a JSON credentials file (`AccessKeyId`, `AccessKeySecret`, optional
///   `SecurityToken` and `Expiration`), re-read before the credentials expire; or NULL to
///   use the environment variables `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` and
///   optionally `OSS_SESSION_TOKEN` (for an S3 connector: `AWS_ACCESS_KEY_ID`,
///   `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`, else the shared credentials
///   file `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials` at profile `AWS_PROFILE` or
///   `default`).
/// - `config_path`: a JSON configuration file, or NULL for the defaults.
/// - `out`: receives the new connector (NULL on failure).
///
/// Reads the configuration file and sets up logging; sends no request (credentials are
/// first read when the first request needs them). Errors: `OSSMC_NULL_POINTER`,
/// `OSSMC_INVALID_UTF8`, `OSSMC_INVALID_ARGUMENT` (endpoint), `OSSMC_INVALID_CONFIG`, `OSSMC_IO`.
#[no_mangle]
pub unsafe extern "C" fn ossmc_connector_new(
    endpoint: *const c_char,
    cred_path: *const c_char,
    config_path: *const c_char,
    out: *mut *mut ossmc_connector,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out") }?;
        let endpoint = unsafe { handle::c_str(endpoint, "endpoint") }?;
        let cred_path = unsafe { handle::opt_c_str(cred_path, "cred_path") }?;
        let config_path = unsafe { handle::opt_c_str(config_path, "config_path") }?;
        let credentials: Option<Arc<dyn CredentialsProvider>> = match cred_path {
            Some(path) => Some(Arc::new(FileProvider::new(path))),
            None => None,
        };
        *out = build(endpoint, credentials, config_path)?;
        OK
    })
}

/// Creates a connector that asks `callback` for credentials, for callers that manage
/// credentials themselves (an STS client, a secrets agent, Python's credential providers).
///
/// The callback receives `userdata` and a sink; it must call `ossmc_credentials_sink_set`
/// once and return `OSSMC_OK`, or return any nonzero status to report a failure (the ossmc
/// call that needed credentials then fails with `OSSMC_CREDENTIALS_CALLBACK`). It is called
/// when a request first needs credentials, when the cached ones expire within 5 minutes,
/// and after the server rejected them; it may be called from any thread ossmc runs, at any
/// time while the connector or an object or list made from it lives, and from several
/// threads at once. It must not call any other ossmc function.
///
/// `userdata` may be NULL and must stay valid until the connector is freed and every object
/// opened from it is closed. `endpoint`, `config_path` and `out` are as in
/// `ossmc_connector_new`. Sends no request and does not call the callback.
#[no_mangle]
pub unsafe extern "C" fn ossmc_connector_new_with_callback(
    endpoint: *const c_char,
    callback: ossmc_credentials_callback,
    userdata: *mut c_void,
    config_path: *const c_char,
    out: *mut *mut ossmc_connector,
) -> i32 {
    boundary::call(|| {
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out") }?;
        let endpoint = unsafe { handle::c_str(endpoint, "endpoint") }?;
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let config_path = unsafe { handle::opt_c_str(config_path, "config_path") }?;
        let source = CallbackSource::new(callback, userdata);
        let provider = CallbackProvider::new(Box::new(move || source.fetch()));
        *out = build(endpoint, Some(Arc::new(provider)), config_path)?;
        OK
    })
}

/// Makes every `ossmc_list` and `ossmc_open` call in progress on `conn`, on any thread,
/// return `OSSMC_CANCELLED` soon: waits between retries end at once, and no further request
/// is sent. A request already waiting for its response is not cut short (a call that needs
/// nothing more than that response may still succeed), so a hung server delays the return
/// by up to the read timeout. Calls started afterwards are not affected, and reads are not
/// interrupted (use `ossmc_read_timeout` to wait in slices instead).
///
/// Meant for a caller that runs a long listing on one thread and notices on another that the
/// user gave up (Python's Ctrl-C). Thread-safe and non-blocking, but not async-signal-safe:
/// call it from a thread, not from inside a signal handler.
#[no_mangle]
pub unsafe extern "C" fn ossmc_connector_interrupt(conn: *const ossmc_connector) -> i32 {
    boundary::call(|| {
        unsafe { handle::try_ref(conn, "conn") }?.interrupt();
        OK
    })
}

/// Frees a connector. NULL is a no-op. Objects and lists made from it stay usable until they
/// are closed and freed themselves; close them first all the same, so that a connector's
/// threads and connections go away when this returns (a thread still waiting on a silent
/// server is cancelled and left to end by itself; this does not wait for it, and the
/// credentials callback is not called again).
#[no_mangle]
pub unsafe extern "C" fn ossmc_connector_free(conn: *mut ossmc_connector) {
    boundary::call_void(|| unsafe { handle::free(conn) });
}
