//! Link settings for the `chitin` binary.
//!
//! The binary is position-independent, so at start the loader patches about 130,000 pointers (vtables, string
//! tables) at their load address. Written the classic way (`RELA`), that table is 24 bytes per pointer, 3 MB that the
//! loader reads once and that then stays resident for the life of the process. Packed (`RELR`, `-z
//! pack-relative-relocs`) it is 42 KB: the same patching, the same address randomisation. glibc reads the
//! packed form from 2.36 on (Debian 12), and a binary linked this way does not start on an older glibc, so the flag
//! is used only when this machine's glibc can run it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if target_os == "linux" && target_env == "gnu" && native && host_glibc_reads_packed_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the glibc of the machine building Chitin (which is where it will run) is 2.36 or later.
fn host_glibc_reads_packed_relocations() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = text.split_whitespace().nth(1) else {
        return false;
    };
    let mut parts = version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (2, 36)
}
