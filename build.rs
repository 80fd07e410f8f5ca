//! Build script: link arguments of the C library (`libossmc.so`).
//!
//! - soname `libossmc.so.<ABI major>`, so that programs record the ABI they were built
//!   against. The major must equal `OSSMC_ABI_VERSION` (`src/ffi/version.rs`); the ABI check
//!   (`tools/abi-check.sh`) verifies that they agree.
//! - `--exclude-libs,ALL`: a Rust cdylib exports every `#[no_mangle]` function of every crate
//!   it links, and a dependency may have a C API of its own (crc-fast's default `ffi`
//!   feature exports `crc_fast_*`) that must not become part of ours. Dependencies are linked from static archives (rlibs) and this crate's own code
//!   from object files, so hiding the archives' symbols leaves exactly the `ossmc_*`
//!   functions exported. (A linker version script cannot do this: rustc's own script lists
//!   those symbols by name, which beats any wildcard.) `abi/symbols.txt` pins the result.

/// The soname major: bump together with `OSSMC_ABI_VERSION` on an incompatible change.
const ABI_MAJOR: u32 = 0;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // RUSTC_LINKER (below) comes from this variable, which cargo zigbuild sets; cargo does not
    // watch RUSTC_LINKER itself.
    let target = std::env::var("TARGET").unwrap_or_default();
    println!(
        "cargo:rerun-if-env-changed=CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace(['-', '.'], "_")
    );
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libossmc.so.{ABI_MAJOR}");
        // zig's linker (cargo zigbuild, the wheel's glibc 2.17 build) rejects --exclude-libs;
        // there the exported symbols are checked against abi/symbols.txt instead (tools/wheel.sh).
        let linker = std::env::var("RUSTC_LINKER").unwrap_or_default();
        if !linker.contains("zigcc") {
            println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
        }
    }
}
