#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a few seconds (default 20)
# from its committed corpus. cargo-fuzz needs nightly features; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them. Usage: scripts/fuzz-smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
# Keep the instrumented build apart from the main one.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then export CARGO_TARGET_DIR="$CARGO_TARGET_DIR-fuzz"; fi
cd fuzz
# Copy the corpus so that the fuzzer's new entries do not dirty the checkout.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in $(cargo fuzz list); do
    mkdir -p "$work/$target"
    cp -r "corpus/$target/." "$work/$target/" 2>/dev/null || true
    echo "fuzz: $target for ${seconds}s"
    cargo fuzz run --release "$target" "$work/$target" -- -max_total_time="$seconds" -max_len=65536 2>&1 | tail -n 3
done
