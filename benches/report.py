#!/usr/bin/env python3
"""Turns one criterion run of `benches/gemv.rs` and `benches/models.rs` into
the markdown tables of BENCHMARKS.md ("Desktop kernels").

Usage: python3 benches/report.py [CRITERION_DIR]   (default: target/criterion,
or $CARGO_TARGET_DIR/criterion)

Times are criterion's median point estimates. MACs per cycle use the core
clock measured in the same run by `clock/add_chain_4096` (4096 dependent
adds = 4096 cycles).
"""
import json
import os
import sys
from pathlib import Path


def load(root):
    out = {}
    for bench in root.rglob("new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        out[meta["full_id"]] = (est["median"]["point_estimate"], meta.get("throughput"))
    return out


def fmt_ns(ns):
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


def main():
    default = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    data = load(root)
    clock = data.get("clock/add_chain_4096")
    ghz = 4096 / clock[0] if clock else None
    if ghz:
        print(f"Core clock measured in this run: {ghz:.2f} GHz "
              f"(clock/add_chain_4096 = {clock[0]:.0f} ns for 4096 cycles)\n")

    for family in ("gemv_f32", "gemv_i8"):
        sizes = sorted({k.split("/")[1] for k in data if k.startswith(family + "/")},
                       key=lambda s: int(s.split("x")[0]))
        if not sizes:
            continue
        peers = any("/peer/faer" in k for k in data if k.startswith(family + "/"))
        print(f"### {family}\n")
        print("| size | implementation | ns per call | GMAC/s | MACs/cycle |"
              + (" vs faer |" if peers else ""))
        print("|---|---|---:|---:|---:|" + ("---:|" if peers else ""))
        for size in sizes:
            rows = {k.split("/", 2)[2]: v for k, v in data.items()
                    if k.startswith(f"{family}/{size}/")}
            faer = rows.get("peer/faer", (None,))[0]
            for name, (ns, thr) in sorted(rows.items(), key=lambda kv: kv[1][0]):
                macs = thr["Elements"] if thr else 0
                gmacs = macs / ns
                per_cycle = f"{gmacs / ghz:.1f}" if ghz else "–"
                rel = f" {faer / ns:.2f}× |" if faer else ""
                print(f"| {size} | {name} | {fmt_ns(ns)} | {gmacs:.1f} | {per_cycle} |{rel}")
        print()

    models = {k: v for k, v in data.items() if k.startswith("model/")}
    if models:
        print("### whole networks, one inference (batch 1)\n")
        print("| network | kernel | ns per inference |")
        print("|---|---|---:|")
        for k, (ns, _) in sorted(models.items()):
            _, net, kernel = k.split("/", 2)
            print(f"| {net} | {kernel} | {fmt_ns(ns)} |")
        print()


if __name__ == "__main__":
    main()
