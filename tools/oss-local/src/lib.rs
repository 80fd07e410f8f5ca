//! oss-local is a program (`main.rs`); this library target exists only for its fuzz targets
//! (`fuzz/`) and their corpus replay test, and is empty without the `fuzzing` feature. It
//! compiles the request parsers on their own: routing, query strings, ranges and the V1/V4
//! header and presigned-URL verifiers.
#![cfg(feature = "fuzzing")]
// The program uses the rest of these modules; here only the parsers are called.
#![allow(dead_code)]

mod auth;
mod error;
mod range;
mod routing;

#[doc(hidden)]
pub mod fuzzing;
