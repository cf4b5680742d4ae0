#!/usr/bin/env bash
# Runs each safety fuzz target for a bounded time (default 60 s each). Not part of CI.
# Usage: fuzz/run.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 2
fi
for target in leak_scan injection_scan; do
    echo "== fuzzing ${target} for ${seconds}s"
    # -max_len 65536 lets inputs grow past the prefilter windows; -timeout flags any single input over 10 s.
    # New inputs go to target/ (ignored by git); the committed seeds in corpus/ are only read.
    mkdir -p "target/fuzz-corpus/${target}"
    cargo +nightly fuzz run --fuzz-dir . "${target}" "target/fuzz-corpus/${target}" "corpus/${target}" -- \
        -max_total_time="${seconds}" -max_len=65536 -timeout=10
done
