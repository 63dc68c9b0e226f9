#!/usr/bin/env bash
# The README's test command: sets up what it needs, then runs every check.
# Each section stops the run on its first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==> %s  (%d s into the run)\n' "$*" "$SECONDS"; }

section "setup"
bash scripts/setup.sh

section "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

section "tests (host)"
cargo test --workspace

# --- issue 5: SIMD parity ----------------------------------------------------
# Every desktop kernel equals its scalar reference bit for bit, and the fast
# paths really run: AXON_REQUIRE_KERNELS makes the tests fail if a kernel this
# CPU has did not run, instead of silently testing the scalar code alone. CI
# runs on the submitting machine, whose kind changes between sessions (a Zen 4
# with AVX-512 VNNI, a Xeon with AVX-512, a Zen 3 with AVX2 only), so the list
# is what /proc/cpuinfo says this CPU has: avx2 with AVX2 and FMA, avx512
# with AVX-512 F/BW/VL and VNNI (a kernel this CPU lacks cannot run here; it is
# compiled and shares its generic code with the others). The NEON twins: the
# core's tests cross-compiled for aarch64 and run under qemu-aarch64
# (.cargo/config.toml: linker and runner), with fewer proptest cases to keep
# the emulated run short.
cpu_flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
has() { for f in "$@"; do [[ " $cpu_flags " == *" $f "* ]] || return 1; done; }
required=()
has avx2 fma && required+=(avx2)
has avx512f avx512bw avx512vl avx512_vnni && required+=(avx512)
section "SIMD parity: ${required[*]:-scalar only} here, NEON under qemu-aarch64"
export AXON_REQUIRE_KERNELS="${AXON_REQUIRE_KERNELS-$(IFS=,; echo "${required[*]}")}"
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

# --- issue 4: bounded fuzzing of the model-blob parser and the interpreter ---
# Each cargo-fuzz target runs 30 s from the committed seed corpus (version-2
# blobs of digits int8, digits f32 and models with every op; regenerate with
# AXON_WRITE_FUZZ_CORPUS=1 cargo test -p axon --test blob_corrupt), copied so
# the run leaves the tree clean; a crash or panic fails the run.
section "fuzz: blob parser and interpreter (30 s per target)"
for target in blob_parse blob_resealed lm_blob_resealed; do
    corpus="$(mktemp -d)"
    cp fuzz/corpus/"$target"/* "$corpus"/
    (cd fuzz && cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time=30 -print_final_stats=1)
    rm -rf "$corpus"
done
# --- end issue 4 ---

# --- issue 6: firmware (Cortex-M4F under QEMU) -------------------------------
# The firmware is its own Cargo project (firmware/, excluded from the
# workspace): format, lints for the thumbv7em binaries (the panic-never ones
# with their feature) and the host-tested library, the embedded-hal app loop
# against embedded-hal-mock on the host, then `cargo xtask ci`: the generated
# model files are fresh, the SMLAD kernels equal the scalar reference on
# random layers inside QEMU, every row of the digits and sine data through
# every exported model (digits, sine, digits_residual; f32 and int8; each
# through its generated forward() and its GRAPH through the interpreter)
# equals the host bit for bit, the same binaries pass on the Cortex-M7
# (mps2-an500), the parity binary built for the soft-float ABI
# (thumbv7em-none-eabi) matches too, a thumbv6m build (scalar kernel) matches
# on a Cortex-M0 (QEMU micro:bit), the demo application runs to its end, and
# a blob through the interpreter and the generated forward() link with no
# panic path left (panic-never) and match the host.
section "firmware: Cortex-M4F under QEMU, DSP kernel, host <-> firmware parity"
host_triple="$(rustc -vV | sed -n 's/^host: //p')"
(
    cd firmware
    cargo fmt --check
    cargo clippy --release --bins --no-deps -- -D warnings
    cargo clippy --release --features panic-never --bin panic_never_blob --bin panic_never_forward \
        --no-deps -- -D warnings
    cargo clippy --lib --tests --no-deps --target "$host_triple" -- -D warnings
    cargo test --lib --target "$host_triple"
)
cargo xtask ci
# --- end issue 6 ---

section "benches build"
cargo bench --workspace --no-run

printf '\n==> all checks passed in %d s\n' "$SECONDS"
