#!/usr/bin/env bash
# Every test of the workspace, in the release profile (one profile for
# build, clippy and tests, so that RocksDB's C++ is compiled once), plus the
# fuzz corpora replay (part of ledger-core's tests) and a doc-test pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# Benches are compiled by CI (`cargo bench --no-run`) but not run here: their
# workloads are sized for measurement, not for a test pass.
cargo test --release --locked --workspace --lib --bins --tests --examples
cargo test --release --locked --workspace --doc
