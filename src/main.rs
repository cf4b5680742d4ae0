//! The `chitin` binary.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    chitin::cli::main()
}

/// Caps glibc's malloc at one arena per core (at least two), before any thread starts.
///
/// glibc gives threads their own arenas, up to eight per core, and memory freed in an arena stays mapped for
/// that arena's next use. Chitin runs a thread per SQLite connection besides the async workers, so at 256
/// concurrent conversations most of them held an arena of their own: the agent bench's peak RSS fell from 153
/// to 124 MiB with two arenas, at no measurable CPU cost.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    let arenas = std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2));
    let arenas = libc::c_int::try_from(arenas).unwrap_or(libc::c_int::MAX);
    // SAFETY: called first thing in `main`, before any other thread exists; mallopt only adjusts allocator
    // settings, and a value it rejects leaves them as they were.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
