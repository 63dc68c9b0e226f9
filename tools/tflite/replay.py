#!/usr/bin/env python3
"""Replay the committed vectors through another TFLite runtime.

``gen_vectors.py --save-models DIR`` writes the converted models; this script
runs each one through the chosen runtime on every input of the matching
``tests/data/tflite/<name>.json`` and counts the output codes that differ
from the committed TFLite outputs, and how many of those differences are
exactly the codes where the generator's double-rounding re-implementation
differs too. It needs only that runtime's package and numpy, not TensorFlow.

Runtimes:

* ``litert``: LiteRT (``ai-edge-litert``), TFLite's successor, reference kernels.
* ``litert-optimized``: LiteRT with its default (optimized) kernels.
* ``tflm``: TensorFlow Lite for Microcontrollers (``tflite-micro``), the
  runtime a Cortex-M would use.

Exit status 1 if any code differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def litert_runner(model: bytes, optimized: bool):
    from ai_edge_litert import interpreter as litert

    resolver = litert.OpResolverType.AUTO if optimized else litert.OpResolverType.BUILTIN_REF
    interp = litert.Interpreter(model_content=model, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]

    def run(x: np.ndarray) -> list[int]:
        interp.set_tensor(inp["index"], x[None, :])
        interp.invoke()
        return interp.get_tensor(out["index"])[0].tolist()

    return run


def tflm_runner(model: bytes):
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)

    def run(x: np.ndarray) -> list[int]:
        interp.set_input(x[None, :], 0)
        interp.invoke()
        return interp.get_output(0)[0].tolist()

    return run


def double_rounding_outputs(doc: dict, x: np.ndarray) -> list[int]:
    from tflite_arith import fully_connected, mbqm_double

    return fully_connected(
        np.asarray(doc["weights"]), x, np.asarray(doc["bias"]), doc["input_zero_point"],
        doc["output_zero_point"], doc["expected_multiplier"], doc["expected_shift"],
        doc["expected_act_min"], doc["expected_act_max"], mbqm_double,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", type=Path, help="directory written by gen_vectors.py --save-models")
    ap.add_argument("--runtime", choices=["litert", "litert-optimized", "tflm"], default="litert")
    ap.add_argument("--vectors", type=Path, default=REPO / "tests" / "data" / "tflite")
    args = ap.parse_args()
    models = sorted(args.models.glob("*.tflite"))
    if not models:
        ap.error(f"no .tflite files in {args.models}")
    total = 0
    for model in models:
        doc = json.loads((args.vectors / f"{model.stem}.json").read_text())
        data = model.read_bytes()
        run = tflm_runner(data) if args.runtime == "tflm" else litert_runner(
            data, args.runtime == "litert-optimized"
        )
        differ = as_double = checked = 0
        for case in doc["cases"]:
            x = np.asarray(case["input"], dtype=np.int8)
            y = run(x)
            d = double_rounding_outputs(doc, x)
            for got, tflite, dbl in zip(y, case["output"], d):
                differ += int(got != tflite)
                as_double += int(got != tflite and got == dbl)
            checked += len(y)
        total += differ
        print(
            f"{model.stem}: {args.runtime}: {differ} of {checked} output codes differ from "
            f"TFLite ({as_double} of them equal double rounding)"
        )
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
