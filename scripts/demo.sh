#!/usr/bin/env bash
# The README's main command: the whole pipeline on the bundled digits set.
#   train → evaluate → quantize (int8, TFLite spec) → export (blob + Rust)
#   → verify: the exported blob runs on a Cortex-M4F in QEMU and every
#     output equals `axon predict` on the host, bit for bit.
# Sets up what it needs first (scripts/setup.sh). Output: out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo run --release --quiet -p axon-host -- demo --out-dir out/demo "$@"
echo
echo "verify    the exported blob on the microcontroller (QEMU mps2-an386, Cortex-M4F):"
cargo xtask verify --dir out/demo --data data/digits.csv
