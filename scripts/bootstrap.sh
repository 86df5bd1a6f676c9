#!/usr/bin/env bash
# Installs what building the ledger needs on a fresh Debian machine, and
# nothing else: a Rust toolchain must already be on PATH (rustup), and
# RocksDB's C++ build needs libclang (bindgen) and a C++ compiler.
set -euo pipefail

need_apt=()
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v clang >/dev/null 2>&1 || true

if ((${#need_apt[@]})); then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "bootstrap: installing ${need_apt[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "bootstrap: cargo not found; install Rust with rustup (stable) first" >&2
    exit 1
fi
