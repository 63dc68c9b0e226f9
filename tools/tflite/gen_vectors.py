#!/usr/bin/env python3
"""Generate int8 FULLY_CONNECTED test vectors from TensorFlow Lite itself.

For each configuration below this script

1. builds a one-layer Keras ``Dense`` model with fixed, non-zero weights and
   biases (seeded, so a rerun gives the same model),
2. converts it to a fully int8 TFLite model (``optimizations=[DEFAULT]``, a
   representative dataset, ``TFLITE_BUILTINS_INT8``, int8 input and output;
   per-channel weight scales unless the configuration asks for per-tensor),
3. checks that the converted graph is exactly one FULLY_CONNECTED operator
   and reads its fused activation from the flatbuffer,
4. optionally rewrites the output tensor's (scale, zero point) in the
   flatbuffer so that a fused ReLU/ReLU6 clamps at a code other than the int8
   limits (the converter calibrates the output range *after* the activation,
   which makes the fused clamp coincide with int8 saturation),
5. runs the model through TFLite's reference kernels
   (``OpResolverType.BUILTIN_REF``) and through TFLite Micro on a few hundred
   int8 input vectors, including all −128, all 127 and mixtures of the two,
6. finds which requantization rounding (gemmlowp's double rounding, or
   ``TFLITE_SINGLE_ROUNDING``'s single one; ``tflite_arith.py``) reproduces
   each runtime's every output, and stops if neither does, and
7. writes ``tests/data/tflite/<name>.json`` with everything a
   re-implementation needs: shapes, scales, zero points, int8 weights
   (output-major), int32 biases, the fused activation, the multipliers and
   shifts TFLite's ``QuantizeMultiplier`` gives (re-implemented with Python
   floats, i.e. IEEE doubles), the activation clamp range, and the inputs
   with both runtimes' outputs.

``tests/tflite_vectors.rs`` checks Axon's int8 kernel against these files bit
for bit; it needs only the JSON, never TensorFlow. See README.md beside this
file for how to rerun.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN may reorder float sums in calibration; keep reruns bit-identical.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# tf.lite.Interpreter's deprecation notice and the converter's input-statistics
# notice: both expected here.
warnings.filterwarnings("ignore", category=UserWarning)

import flatbuffers  # noqa: E402  (installed with tensorflow)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tflite_micro  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402
from tflite_arith import (  # noqa: E402
    activation_range,
    effective_scale,
    fully_connected,
    mbqm_double,
    mbqm_single,
    quantize_multiplier,
)

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "tflite"
# Keep each file in the tens of kilobytes: about this many int8 codes per file.
CODE_BUDGET = 16_000
MAX_CASES = 300

ACTIVATIONS = {
    schema.ActivationFunctionType.NONE: "NONE",
    schema.ActivationFunctionType.RELU: "RELU",
    schema.ActivationFunctionType.RELU6: "RELU6",
    schema.ActivationFunctionType.RELU_N1_TO_1: "RELU_N1_TO_1",
}


@dataclass(frozen=True)
class Config:
    """One FULLY_CONNECTED layer to convert and sample."""

    name: str
    in_features: int
    out_features: int
    activation: str | None  # Keras activation name
    per_channel: bool
    seed: int
    # Overrides the converter's output (scale, zero point) in the flatbuffer,
    # so that the fused activation clamps inside the int8 range.
    output_override: tuple[float, int] | None = None
    # Range of the representative inputs: sets the input scale and zero point.
    calibration_range: tuple[float, float] = (-2.0, 2.0)
    description: str = ""


CONFIGS = [
    Config(
        "fc_per_channel_none_64x32", 64, 32, None, True, 1,
        description="per-channel weights, no activation, 64 -> 32",
    ),
    Config(
        "fc_per_channel_relu_33x7", 33, 7, "relu", True, 2,
        description="per-channel weights, fused ReLU, odd shape 33 -> 7",
    ),
    Config(
        "fc_per_tensor_none_100x10", 100, 10, None, False, 3,
        description="per-tensor weights (converter _experimental_disable_per_channel), "
        "no activation, 100 -> 10",
    ),
    Config(
        "fc_per_channel_relu6_1x16", 1, 16, "relu6", True, 4,
        description="per-channel weights, fused ReLU6, single input 1 -> 16",
    ),
    Config(
        "fc_per_tensor_relu_17x5", 17, 5, "relu", False, 5,
        description="per-tensor weights, fused ReLU, 17 -> 5",
    ),
    Config(
        "fc_per_channel_none_input_zp_min_48x20", 48, 20, None, True, 8,
        calibration_range=(0.0, 3.0),
        description="per-channel weights, no activation, inputs calibrated on [0, 3] so the "
        "input zero point is -128 (input_offset 128), 48 -> 20",
    ),
    Config(
        "fc_per_tensor_relu6_input_zp_max_20x6", 20, 6, "relu6", False, 9,
        calibration_range=(-3.0, 0.0),
        description="per-tensor weights, fused ReLU6, inputs calibrated on [-3, 0] so the "
        "input zero point is 127 (input_offset -127), 20 -> 6",
    ),
    Config(
        "fc_per_channel_relu_zp_override_24x9", 24, 9, "relu", True, 6,
        output_override=(0.05, -20),
        description="per-channel weights, fused ReLU; output quantization rewritten to "
        "(scale 0.05, zero point -20) so the ReLU clamp (act_min = -20) lies inside "
        "the int8 range",
    ),
    Config(
        "fc_per_channel_relu6_override_40x12", 40, 12, "relu6", True, 7,
        output_override=(0.0625, -50),
        description="per-channel weights, fused ReLU6; output quantization rewritten to "
        "(scale 0.0625, zero point -50) so both clamps lie inside the int8 range "
        "(act_min = -50, act_max = -50 + round(6 / 0.0625) = 46)",
    ),
]


# ---------------------------------------------------------------------------
# Model building and conversion.


def build_model(cfg: Config, rng: np.random.Generator) -> tf.keras.Model:
    inp = tf.keras.Input(shape=(cfg.in_features,), dtype="float32")
    dense = tf.keras.layers.Dense(cfg.out_features, activation=cfg.activation)
    model = tf.keras.Model(inp, dense(inp))
    # Glorot-like weights with a few channels scaled up or down, so per-channel
    # scales differ by more than a factor of ten across channels.
    w = rng.normal(0.0, 1.0 / math.sqrt(cfg.in_features), (cfg.in_features, cfg.out_features))
    w *= rng.choice([0.1, 0.5, 1.0, 2.0, 4.0], size=(1, cfg.out_features))
    # Non-zero biases: the converter drops all-zero ones.
    b = rng.uniform(-0.5, 0.5, cfg.out_features)
    b[np.abs(b) < 0.01] = 0.25
    dense.set_weights([w.astype(np.float32), b.astype(np.float32)])
    return model


def convert(cfg: Config, model: tf.keras.Model, rng: np.random.Generator) -> bytes:
    lo, hi = cfg.calibration_range
    calib = rng.uniform(lo, hi, (200, cfg.in_features)).astype(np.float32)

    def representative_dataset():
        for row in calib:
            yield [row[None, :]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not cfg.per_channel:
        converter._experimental_disable_per_channel = True
    # The converter prints a SavedModel summary on stdout; keep the log to our lines.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def override_output_quantization(tflite: bytes, scale: float, zero_point: int) -> bytes:
    """Rewrites the subgraph output's quantization in the flatbuffer."""
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    sub = model.subgraphs[0]
    q = sub.tensors[sub.outputs[0]].quantization
    q.scale = [float(np.float32(scale))]
    q.zeroPoint = [int(zero_point)]
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def fused_activation(tflite: bytes) -> str:
    """The FULLY_CONNECTED op's fused activation; the graph must be that one op."""
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    if len(model.subgraphs) != 1:
        raise SystemExit(f"expected one subgraph, got {len(model.subgraphs)}")
    ops = model.subgraphs[0].operators
    codes = [model.operatorCodes[op.opcodeIndex] for op in ops]
    builtins = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in codes]
    if builtins != [schema.BuiltinOperator.FULLY_CONNECTED]:
        raise SystemExit(f"expected a single FULLY_CONNECTED op, got builtin codes {builtins}")
    opts = ops[0].builtinOptions
    if opts.keepNumDims or opts.weightsFormat != schema.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise SystemExit("unexpected FULLY_CONNECTED options")
    return ACTIVATIONS[opts.fusedActivationFunction]


def quant_of(detail: dict) -> tuple[list[float], list[int]]:
    qp = detail["quantization_parameters"]
    return [float(s) for s in qp["scales"]], [int(z) for z in qp["zero_points"]]


# ---------------------------------------------------------------------------
# Sampling.


def input_vectors(n_in: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Edge vectors first (all −128, all 127, alternating, one-hot extremes), then
    random ones: uniform codes, mostly-saturated codes, and small codes."""
    vs = [
        np.full(n_in, -128),
        np.full(n_in, 127),
        np.zeros(n_in),
        np.resize([-128, 127], n_in),
        np.resize([127, -128], n_in),
    ]
    for d in range(min(n_in, 4)):
        v = np.full(n_in, -128)
        v[d] = 127
        vs.append(v)
    while len(vs) < count:
        kind = len(vs) % 3
        if kind == 0:
            v = rng.integers(-128, 128, n_in)
        elif kind == 1:
            v = rng.choice([-128, 127, -127, 126], n_in)
        else:
            v = rng.integers(-8, 9, n_in)
        vs.append(v)
    return [np.asarray(v, dtype=np.int8) for v in vs[:count]]


def generate(cfg: Config, out_dir: Path, models_dir: Path | None) -> Path:
    rng = np.random.default_rng(cfg.seed)
    tf.keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg, rng)
    tflite = convert(cfg, model, rng)
    if cfg.output_override is not None:
        tflite = override_output_quantization(tflite, *cfg.output_override)
    act = fused_activation(tflite)
    if models_dir is not None:
        (models_dir / f"{cfg.name}.tflite").write_bytes(tflite)

    interp = tf.lite.Interpreter(
        model_content=tflite,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"]) == [1, cfg.in_features], inp["shape"]
    assert list(out["shape"]) == [1, cfg.out_features], out["shape"]

    ops = interp._get_ops_details()
    assert len(ops) == 1 and ops[0]["op_name"] == "FULLY_CONNECTED", ops
    _, w_idx, b_idx = ops[0]["inputs"]
    details = {d["index"]: d for d in interp.get_tensor_details()}
    weights = interp.get_tensor(w_idx)
    bias = interp.get_tensor(b_idx)
    assert weights.dtype == np.int8 and weights.shape == (cfg.out_features, cfg.in_features)
    assert bias.dtype == np.int32 and bias.shape == (cfg.out_features,)
    assert np.any(bias != 0), "the converter dropped the bias"
    assert weights.min() >= -127, "weights must be symmetric in [-127, 127]"

    (s_in,), (zp_in,) = quant_of(inp)
    (s_out,), (zp_out,) = quant_of(out)
    s_w, zp_w = quant_of(details[w_idx])
    s_b, _ = quant_of(details[b_idx])
    assert all(z == 0 for z in zp_w)
    assert len(s_w) == (cfg.out_features if cfg.per_channel else 1), (cfg.name, len(s_w))

    multipliers, shifts = zip(*(quantize_multiplier(effective_scale(s_in, s, s_out)) for s in s_w))
    act_min, act_max = activation_range(act, s_out, zp_out)

    tflm = tflm_runtime.Interpreter.from_bytes(tflite)

    n_cases = max(50, min(MAX_CASES, CODE_BUDGET // (cfg.in_features + 2 * cfg.out_features)))
    cases = []
    outputs = set()
    # Output codes where each rounding mode, re-implemented here, disagrees
    # with each runtime.
    mismatches = {rt: {"double": 0, "single": 0} for rt in ("tflite", "tflm")}
    for x in input_vectors(cfg.in_features, n_cases, rng):
        interp.set_tensor(inp["index"], x[None, :])
        interp.invoke()
        y = interp.get_tensor(out["index"])[0].tolist()
        tflm.set_input(x[None, :], 0)
        tflm.invoke()
        y_micro = tflm.get_output(0)[0].tolist()
        cases.append({"input": x.tolist(), "output": y, "tflm_output": y_micro})
        outputs.update(y)
        assert act_min <= min(y) and max(y) <= act_max, (cfg.name, y, act_min, act_max)
        for mode, mbqm in (("double", mbqm_double), ("single", mbqm_single)):
            ref = fully_connected(
                weights, x, bias, zp_in, zp_out, multipliers, shifts, act_min, act_max, mbqm
            )
            for rt, got in (("tflite", y), ("tflm", y_micro)):
                mismatches[rt][mode] += sum(int(a != b) for a, b in zip(ref, got))
    rounding = {}
    for rt, counts in mismatches.items():
        exact = [mode for mode, n in counts.items() if n == 0]
        if not exact:
            raise SystemExit(
                f"{cfg.name}: neither rounding mode reproduces {rt} ({counts}); the multiplier "
                "derivation or the kernel differs from what this script assumes"
            )
        # Both explain everything only when no case hits a double-rounding tie.
        rounding[rt] = exact[0] if len(exact) == 1 else "either"

    doc = {
        "name": cfg.name,
        "description": cfg.description,
        "generator": "tools/tflite/gen_vectors.py",
        "tensorflow_version": tf.__version__,
        "op_resolver": "BUILTIN_REF",
        "output_quantization_overridden": cfg.output_override is not None,
        "in_features": cfg.in_features,
        "out_features": cfg.out_features,
        "input_scale": s_in,
        "input_zero_point": zp_in,
        "output_scale": s_out,
        "output_zero_point": zp_out,
        "per_channel": cfg.per_channel,
        "weight_scales": s_w,
        "bias_scales": s_b,
        "fused_activation": act,
        "expected_multiplier": list(multipliers),
        "expected_shift": list(shifts),
        "expected_act_min": act_min,
        "expected_act_max": act_max,
        "requantization_rounding": rounding["tflite"],
        "double_rounding_mismatches": mismatches["tflite"]["double"],
        "single_rounding_mismatches": mismatches["tflite"]["single"],
        "tflm_version": tflite_micro.__version__,
        "tflm_requantization_rounding": rounding["tflm"],
        "tflm_double_rounding_mismatches": mismatches["tflm"]["double"],
        "tflm_single_rounding_mismatches": mismatches["tflm"]["single"],
        "weights": weights.tolist(),
        "bias": bias.tolist(),
        "cases": cases,
    }
    path = out_dir / f"{cfg.name}.json"
    write_json(doc, path)
    hit = [v for v in (act_min, act_max) if v in outputs]
    print(
        f"{path}: {len(cases)} cases, act {act} [{act_min}, {act_max}], "
        f"clamps hit {hit}, rounding {rounding}, mismatches {mismatches}, "
        f"{path.stat().st_size} bytes"
    )
    return path


def write_json(doc: dict, path: Path) -> None:
    """Compact JSON with one weight row and one case per line, for readable diffs."""
    lines = ["{"]
    items = list(doc.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if k in ("weights", "cases"):
            rows = [json.dumps(r, separators=(",", ":")) for r in v]
            body = ",\n    ".join(rows)
            lines.append(f'  "{k}": [\n    {body}\n  ]{comma}')
        else:
            lines.append(f'  "{k}": {json.dumps(v, separators=(",", ":"))}{comma}')
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where to write the JSON files")
    ap.add_argument(
        "--save-models",
        type=Path,
        metavar="DIR",
        help="also write each converted .tflite model to DIR (for replay.py)",
    )
    ap.add_argument("--only", action="append", help="generate only this configuration (repeatable)")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    selected = [c for c in CONFIGS if not args.only or c.name in args.only]
    if not selected:
        ap.error(f"no configuration named {args.only}; known: {[c.name for c in CONFIGS]}")
    if args.save_models is not None:
        args.save_models.mkdir(parents=True, exist_ok=True)
    for cfg in selected:
        generate(cfg, args.out_dir, args.save_models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
