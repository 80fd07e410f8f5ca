//! Build script: gives the C library its soname.
//!
//! `libossmc.so` is linked with soname `libossmc.so.<ABI major>` so that programs record the
//! ABI they were built against. The major must equal `OSSMC_ABI_VERSION` in
//! `src/ffi/version.rs`; the ABI checks in `examples-c/tests/` verify both together.
//! (Which symbols are exported needs no linker script: a Rust cdylib exports exactly its
//! `#[no_mangle] pub extern "C"` functions, and `abi/symbols.txt` pins that list.)

/// The soname major: bump together with `OSSMC_ABI_VERSION` on an incompatible change.
const ABI_MAJOR: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libossmc.so.{ABI_MAJOR}");
    }
}
