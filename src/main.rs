//! The `chitin` binary.

/// mimalloc instead of glibc's malloc: a turn makes many small, short-lived allocations, which mimalloc's
/// per-thread free lists serve more cheaply (about 13 % less CPU per turn in the agent benchmark). It serves Rust's
/// allocations only: SQLite and the other C libraries keep glibc's malloc. Its settings are in [`chitin::allocator`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Entries of an executable's `.preinit_array` run before any constructor, so before mimalloc's own sets it up;
/// glibc calls them with `(argc, argv, envp)`.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".preinit_array")]
static CONFIGURE_ALLOCATOR: unsafe extern "C" fn(
    std::ffi::c_int,
    *const *const std::ffi::c_char,
    *const *const std::ffi::c_char,
) = chitin::allocator::configure_before_first_allocation;

fn main() -> std::process::ExitCode {
    chitin::cli::main()
}
