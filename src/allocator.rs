//! The binary's memory allocator: mimalloc, set to commit memory as it is used and to return freed pages at once.
//!
//! Chitin is meant to run for months beside everything else on its owner's machine, so what it does not use should
//! not stay resident. mimalloc's defaults favour speed over that: its first arena is committed whole up front, and
//! freed pages go back only after a second. In the agent benchmark that was 107 MiB resident right after start and
//! 164–175 MiB at 256 conversations; with both turned off, what glibc's malloc used in the same runs (67 and
//! 122 MiB then), at no cost measured in CPU per turn (current figures in README.md, Benchmarks). An operator's own
//! `MIMALLOC_*` setting of either option wins.

use libmimalloc_sys::mi_option_t;

/// `mi_option_arena_eager_commit` in mimalloc v3's `mimalloc.h`. (The crate's named constants follow v2's order,
/// so the numbers are spelled out; a test checks them.)
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay` in mimalloc v3's `mimalloc.h`: milliseconds before freed pages go back to the system.
const PURGE_DELAY: mi_option_t = 15;

/// Chitin's settings: (option, the start of the environment entry that overrides it, value).
const SETTINGS: [(mi_option_t, &[u8], std::ffi::c_long); 2] =
    [(ARENA_EAGER_COMMIT, b"MIMALLOC_ARENA_EAGER_COMMIT=", 0), (PURGE_DELAY, b"MIMALLOC_PURGE_DELAY=", 0)];

/// Applies Chitin's allocator settings, except those the environment `envp` sets itself.
///
/// It must run before mimalloc sets itself up (its first arena is made then), so the binary calls it from
/// `.preinit_array`: ahead of every constructor and the first allocation, which is why it allocates nothing. That
/// early, libc's own `environ` is not set up yet, so the environment comes as the argument glibc passes (`NULL`:
/// none known, and the settings apply).
///
/// # Safety
/// `envp` is `NULL` or a `NULL`-terminated array of NUL-terminated strings, as the loader passes it.
pub unsafe extern "C" fn configure_before_first_allocation(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
    envp: *const *const std::ffi::c_char,
) {
    for (option, assignment, value) in SETTINGS {
        // SAFETY: as the caller promises; `mi_option_set` stores one global option, 0 is documented for both.
        unsafe {
            if !environment_sets(envp, assignment) {
                libmimalloc_sys::mi_option_set(option, value);
            }
        }
    }
}

/// Whether an entry of `envp` starts with `assignment` (`NAME=`).
///
/// # Safety
/// As for [`configure_before_first_allocation`].
unsafe fn environment_sets(envp: *const *const std::ffi::c_char, assignment: &[u8]) -> bool {
    if envp.is_null() {
        return false;
    }
    let mut entry = envp;
    // SAFETY: the array ends with NULL and each entry is a NUL-terminated string (the caller's promise).
    unsafe {
        while !(*entry).is_null() {
            if std::ffi::CStr::from_ptr(*entry).to_bytes().starts_with(assignment) {
                return true;
            }
            entry = entry.add(1);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option numbers are mimalloc's enum order, which an upgrade can change: the documented defaults of the
    /// options meant (2: eager where the OS overcommits; 1000 ms) show the numbers still name them.
    #[test]
    fn the_option_numbers_name_the_options_meant() {
        // SAFETY: reads global options.
        let defaults = unsafe {
            (libmimalloc_sys::mi_option_get(ARENA_EAGER_COMMIT), libmimalloc_sys::mi_option_get(PURGE_DELAY))
        };
        assert_eq!(defaults, (2, 1000));
    }
}
