//! Gives the shared library the SONAME it is installed under (scripts/install_c.sh):
//! `libagent_sessions.so.MAJOR`. Cargo names the file `libagent_sessions_ffi.so` (the core
//! crate already owns `agent_sessions`); the install renames it, and programs linked against
//! it record the SONAME, so they load the installed `libagent_sessions.so.0` whatever the
//! build-tree file was called.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    // Only ELF linkers know -soname; macOS (install_name) and Windows have their own ways.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let vendor = std::env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    if vendor != "apple" && os != "windows" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libagent_sessions.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
