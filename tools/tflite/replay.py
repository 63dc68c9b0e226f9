#!/usr/bin/env python3
"""Replay the committed vectors through another TFLite runtime.

``gen_vectors.py --save-models DIR`` writes the converted models; this script
runs each one through the chosen runtime on every input of the matching
``tests/data/tflite/<name>.json`` (FULLY_CONNECTED or ADD) and counts the
output codes that differ from the committed TFLite outputs, and how many of
those differences are exactly the codes where the generator's double-rounding
(or single-rounding) re-implementation differs too. It needs only that
runtime's package and numpy, not TensorFlow.

Runtimes:

* ``litert``: LiteRT (``ai-edge-litert``), TFLite's successor, reference kernels.
* ``litert-optimized``: LiteRT with its default (optimized) kernels
  (``OpResolverType.AUTO``, which also applies the default XNNPACK delegate).
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

from tflite_arith import add, add_params, fully_connected, mbqm_double, mbqm_single  # noqa: E402


def quantization(detail: dict) -> tuple[float, int]:
    qp = detail["quantization_parameters"]
    return float(qp["scales"][0]), int(qp["zero_points"][0])


# Each runner returns run(xs) (xs: one int8 vector per model input, in the
# model's input order) and each input's (scale, zero point).


def litert_runner(model: bytes, optimized: bool):
    from ai_edge_litert import interpreter as litert

    resolver = litert.OpResolverType.AUTO if optimized else litert.OpResolverType.BUILTIN_REF
    interp = litert.Interpreter(model_content=model, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    inputs = interp.get_input_details()
    out = interp.get_output_details()[0]

    def run(xs: list[np.ndarray]) -> list[int]:
        for d, x in zip(inputs, xs, strict=True):
            interp.set_tensor(d["index"], x[None, :])
        interp.invoke()
        return interp.get_tensor(out["index"])[0].tolist()

    return run, [quantization(d) for d in inputs]


def tflm_runner(model: bytes, n_inputs: int):
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)
    # TFLite Micro's Python API does not say how many inputs there are.
    quants = [quantization(interp.get_input_details(i)) for i in range(n_inputs)]

    def run(xs: list[np.ndarray]) -> list[int]:
        for i, x in enumerate(xs):
            interp.set_input(x[None, :], i)
        interp.invoke()
        return interp.get_output(0)[0].tolist()

    return run, quants


def model_inputs(doc: dict, case: dict, quants: list[tuple[float, int]]) -> list[np.ndarray]:
    """The case's input vectors in the model's input order.

    An ADD model's inputs are matched to input1/input2 by (scale, zero point):
    the converter may list them in either order, and when the two are
    quantized alike ADD is symmetric, so either match is right."""
    if doc.get("op") != "ADD":
        return [np.asarray(case["input"], dtype=np.int8)]
    x1, x2 = (np.asarray(case[k], dtype=np.int8) for k in ("input1", "input2"))
    q1 = (doc["input1_scale"], doc["input1_zero_point"])
    q2 = (doc["input2_scale"], doc["input2_zero_point"])
    if quants == [q1, q2]:
        return [x1, x2]
    if quants == [q2, q1]:
        return [x2, x1]
    raise SystemExit(f"{doc['name']}: model inputs {quants} are not {q1} and {q2}")


def rounding_outputs(doc: dict, case: dict, mbqm) -> list[int]:
    """What the generator's re-implementation, with rounding ``mbqm``, outputs."""
    if doc.get("op") == "ADD":
        params = add_params(doc["input1_scale"], doc["input2_scale"], doc["output_scale"])
        return add(
            case["input1"], case["input2"], doc["input1_zero_point"], doc["input2_zero_point"],
            doc["output_zero_point"], params, doc["expected_act_min"], doc["expected_act_max"],
            mbqm,
        )
    return fully_connected(
        np.asarray(doc["weights"]), np.asarray(case["input"], dtype=np.int8),
        np.asarray(doc["bias"]), doc["input_zero_point"], doc["output_zero_point"],
        doc["expected_multiplier"], doc["expected_shift"], doc["expected_act_min"],
        doc["expected_act_max"], mbqm,
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
        n_inputs = 2 if doc.get("op") == "ADD" else 1
        run, quants = tflm_runner(data, n_inputs) if args.runtime == "tflm" else litert_runner(
            data, args.runtime == "litert-optimized"
        )
        differ = as_double = as_single = checked = 0
        for case in doc["cases"]:
            y = run(model_inputs(doc, case, quants))
            d = rounding_outputs(doc, case, mbqm_double)
            s = rounding_outputs(doc, case, mbqm_single)
            for got, tflite, dbl, sgl in zip(y, case["output"], d, s):
                differ += int(got != tflite)
                as_double += int(got != tflite and got == dbl)
                as_single += int(got != tflite and got == sgl)
            checked += len(y)
        total += differ
        print(
            f"{model.stem}: {args.runtime}: {differ} of {checked} output codes differ from "
            f"TFLite ({as_double} of them equal double rounding, {as_single} single rounding)"
        )
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
