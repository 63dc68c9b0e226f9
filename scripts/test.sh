#!/usr/bin/env bash
# The README's test command: sets up what it needs, then runs every check.
# Each section stops the run on its first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==> %s\n' "$*"; }

section "setup"
bash scripts/setup.sh

section "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

section "tests (host)"
cargo test --workspace

section "core builds for microcontrollers"
for target in thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf; do
    cargo build -p axon-core --target "$target"
done

section "core tests under Miri"
MIRIFLAGS="-Zmiri-strict-provenance" cargo +nightly miri test -p axon-core

section "benches build"
cargo bench --workspace --no-run
