#!/usr/bin/env bash
# Long runs kept out of the regular test pass (CI time): every `#[ignore]`d
# test of the workspace — soak runs of the crash tests with many more
# SIGKILLs than `scripts/test.sh` makes. Takes tens of minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cargo test --release --locked --workspace --lib --bins --tests -- --ignored --nocapture
