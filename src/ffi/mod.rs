//! The C ABI: `libossmc.so` and `include/ossmc.h`.
//!
//! This module only converts and delegates: it checks and converts C arguments, calls
//! the Rust API ([`crate::Connector`], [`crate::ObjectReader`], the credential providers),
//! and turns the result into an `int32_t` status plus out-parameters. No behaviour lives
//! here that the Rust API lacks.
//!
//! Layout, one concern per module:
//! - [`status`]: the stable status codes, their names, and the `ErrorKind` → status map.
//! - [`boundary`]: the panic boundary every exported function runs inside, and [`boundary::Failure`].
//! - [`handle`]: opaque handle casting and argument checks (NULL, UTF-8, buffers) written once.
//! - [`last_error`]: the thread-local detail of the last failure and its accessors.
//! - [`version`]: library and ABI versions.
//! - [`connector`], [`credentials`], [`list`], [`object`]: the handles and their functions.
//! - [`prepare`]: the `ossmc_prepare_directory` function.
//!
//! The conventions the C side can rely on (ownership, threads, blocking, errors) are written
//! in the header's top comment (`cbindgen.toml`) and in `examples-c/README.md`.

// Every exported function is `unsafe extern "C"`: the caller's obligations are the C API
// conventions stated once in the header, not a `# Safety` section repeated on each function.
#![allow(clippy::missing_safety_doc)]
// C type names (`ossmc_connector`) are part of the ABI.
#![allow(non_camel_case_types)]

pub mod boundary;
pub mod connector;
pub mod credentials;
pub mod handle;
pub mod last_error;
pub mod list;
pub mod object;
pub mod prepare;
pub mod status;
pub mod version;
