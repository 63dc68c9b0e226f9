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

# --- issue 5: SIMD parity ----------------------------------------------------
# Every desktop kernel equals its scalar reference bit for bit, and the fast
# paths really run: CI runs on the same kind of machine (Zen 4, AVX-512 VNNI),
# so AXON_REQUIRE_KERNELS makes the tests fail if AVX2 or AVX-512 is missing
# instead of silently testing the scalar code alone (set it to "" to skip on
# a machine without them). The NEON twins: the core's tests cross-compiled for
# aarch64 and run under qemu-aarch64 (.cargo/config.toml: linker and runner),
# with fewer proptest cases to keep the emulated run short.
section "SIMD parity: AVX2 + AVX-512 here, NEON under qemu-aarch64"
export AXON_REQUIRE_KERNELS="${AXON_REQUIRE_KERNELS-avx2,avx512}"
cargo test -p axon-core --lib kernels::
cargo test -p axon --test simd_parity --test simd_dispatch
AXON_REQUIRE_KERNELS=neon PROPTEST_CASES=64 \
    cargo test -p axon-core --features std --target aarch64-unknown-linux-gnu --lib
unset AXON_REQUIRE_KERNELS
# --- end issue 5 ---

section "core builds for microcontrollers"
for target in thumbv7em-none-eabihf thumbv7em-none-eabi thumbv6m-none-eabi riscv32imac-unknown-none-elf; do
    cargo build -p axon-core --target "$target"
done

section "core tests under Miri"
MIRIFLAGS="-Zmiri-strict-provenance" cargo +nightly miri test -p axon-core

# --- issue 4: bounded fuzzing of the model-blob parser and the int8 runner ---
# Each cargo-fuzz target runs 30 s from the committed seed corpus (copied, so
# the run leaves the tree clean); a crash or panic fails the run.
section "fuzz: blob parser and int8 runner (30 s per target)"
for target in blob_parse blob_resealed; do
    corpus="$(mktemp -d)"
    cp fuzz/corpus/"$target"/* "$corpus"/
    (cd fuzz && cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time=30 -print_final_stats=1)
    rm -rf "$corpus"
done
# --- end issue 4 ---

# --- issue 6: firmware (Cortex-M4F under QEMU) -------------------------------
# The firmware is its own Cargo project (firmware/, excluded from the
# workspace): format, lints for the thumbv7em binaries and the host-tested
# library, the embedded-hal app loop against embedded-hal-mock on the host,
# then `cargo xtask ci`: the generated model files are fresh, the SMLAD kernel
# equals the scalar reference on 4,000 random layers inside QEMU, every row of
# the digits and sine data through the firmware (f32 and int8) equals the
# host bit for bit, the same binaries pass on the Cortex-M7 (mps2-an500), the
# parity binary built for the soft-float ABI (thumbv7em-none-eabi) matches
# too, a thumbv6m build (scalar kernel) matches on a Cortex-M0 (QEMU
# micro:bit), and the demo application runs to its end.
section "firmware: Cortex-M4F under QEMU, DSP kernel, host <-> firmware parity"
host_triple="$(rustc -vV | sed -n 's/^host: //p')"
(
    cd firmware
    cargo fmt --check
    cargo clippy --release --bins --no-deps -- -D warnings
    cargo clippy --lib --tests --no-deps --target "$host_triple" -- -D warnings
    cargo test --lib --target "$host_triple"
)
cargo xtask ci
# --- end issue 6 ---

section "benches build"
cargo bench --workspace --no-run
