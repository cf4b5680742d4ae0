#!/usr/bin/env bash
# Builds the WASM tools in tools/ for wasm32-wasip2 and copies each component with its manifest
# (tools/<name>/<name>.toml, when there is one) to target/wasm-tools/. Safe to run repeatedly:
# cargo only rebuilds what changed, and files are copied only when their content differs.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="$repo_root/tools"
out_dir="${CHITIN_WASM_TOOLS_DIR:-$repo_root/target/wasm-tools}"
target="wasm32-wasip2"
target_dir="${CHITIN_TOOLS_TARGET_DIR:-$tools_dir/target}"

if ! rustup target list --installed | grep -qx "$target"; then
    echo "build-tools: installing rust target $target" >&2
    rustup target add "$target"
fi

locked=()
if [[ -f "$tools_dir/Cargo.lock" ]]; then
    locked=(--locked)
fi
cargo build --manifest-path "$tools_dir/Cargo.toml" --release --target "$target" \
    --target-dir "$target_dir" "${locked[@]}" --quiet

mkdir -p "$out_dir"
built="$target_dir/$target/release"
count=0
for wasm in "$built"/*.wasm; do
    name="$(basename "$wasm" .wasm)"
    cmp -s "$wasm" "$out_dir/$name.wasm" || cp "$wasm" "$out_dir/$name.wasm"
    manifest="$tools_dir/$name/$name.toml"
    if [[ -f "$manifest" ]]; then
        cmp -s "$manifest" "$out_dir/$name.toml" || cp "$manifest" "$out_dir/$name.toml"
    fi
    count=$((count + 1))
done
echo "build-tools: $count components in $out_dir" >&2
