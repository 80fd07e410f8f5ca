//! Test support shared by oss-local, ossmc's tests and the benchmarks.
//!
//! - [`synthetic`]: the bytes and key names oss-local serves without storing them.
//! - [`oss_local`]: starting an oss-local server on a free loopback port.

pub mod fuzz_corpus;
pub mod oss_local;
pub mod synthetic;
