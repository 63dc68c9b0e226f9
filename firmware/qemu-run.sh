#!/usr/bin/env bash
# Cargo runner for the QEMU build: runs an ELF on an emulated MPS2 board with
# semihosting, decodes its defmt stream with defmt-print, and exits with the
# firmware's own exit code (semihosting SYS_EXIT).
#
#   QEMU_MACHINE  mps2-an386 (Cortex-M4F, default) | mps2-an500 (Cortex-M7)
#                 | microbit (Cortex-M0, thumbv6m builds)
#   QEMU_CPU      cortex-m4 (default for an386) | cortex-m7
#   ICOUNT_SHIFT  6: one instruction = 2^6 ns of virtual time, so SysTick
#                 (25 MHz) reads 1.6 ticks per instruction
#   QEMU_TIMEOUT  seconds before a hung firmware counts as failed (600)
set -euo pipefail
elf="$1"
machine="${QEMU_MACHINE:-mps2-an386}"
case "$machine" in
    mps2-an500) cpu_default=cortex-m7 ;;
    mps2-an385) cpu_default=cortex-m3 ;;
    microbit) cpu_default=cortex-m0 ;;
    *) cpu_default=cortex-m4 ;;
esac
cpu="${QEMU_CPU:-$cpu_default}"
command -v defmt-print >/dev/null || {
    echo "qemu-run.sh: defmt-print not found (cargo install defmt-print --locked)" >&2
    exit 2
}
# Never pipe QEMU into something that may close early (head): the
# semihosting write loop would spin.
timeout "${QEMU_TIMEOUT:-600}" qemu-system-arm -machine "$machine" -cpu "$cpu" -nographic \
    -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift="${ICOUNT_SHIFT:-6}" \
    -kernel "$elf" | defmt-print -e "$elf"
