#!/usr/bin/env bash
# Installs everything Axon's two commands need on a fresh machine. Idempotent:
# a second run only checks. Needs root for apt-get (CI and dev machines run as root).
set -euo pipefail

# Runs a command quietly; shows its output only if it fails.
quiet() {
    local out
    out="$("$@" 2>&1)" || { printf '%s\n' "$out" >&2; return 1; }
}

quiet rustup target add thumbv7em-none-eabihf thumbv7em-none-eabi thumbv6m-none-eabi riscv32imac-unknown-none-elf \
    aarch64-unknown-linux-gnu
quiet rustup component add rustfmt clippy
quiet rustup component add miri rust-src --toolchain nightly

need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
command -v arm-none-eabi-size >/dev/null || need_apt+=(binutils-arm-none-eabi)
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- issue 4: cargo-fuzz, for the bounded fuzz run in scripts/test.sh ---
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# --- end issue 4 ---

# --- issue 6: firmware under QEMU: defmt-print decodes the firmware's log ---
# (qemu-system-arm, binutils-arm-none-eabi and the thumb targets are above.)
command -v defmt-print >/dev/null || cargo install defmt-print --locked
# --- end issue 6 ---
