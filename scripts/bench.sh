#!/usr/bin/env bash
# The main job: the end-to-end benchmark of ledger-bench, release build.
# Extra arguments go to ledger-bench (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec cargo run --release --locked -p ledger-bench -- "$@"
