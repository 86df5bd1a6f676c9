#!/usr/bin/env bash
# The witness's load test: add-checkpoint requests from 64 logs at once on
# loopback, state durable (one fdatasync per group commit), release profile.
# Prints the rate and the CPU. WITNESS_LOAD_DIR: where the state goes (the
# disk under test; default: the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
lscpu | grep 'Model name' || true
nice -n 15 cargo test --release -p ledger-witness --test load -- --ignored --nocapture
