#!/usr/bin/env python3
"""Generate int8 FULLY_CONNECTED and ADD test vectors from TensorFlow Lite itself.

For each FULLY_CONNECTED configuration below this script

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

For each ADD configuration (``ADD_CONFIGS``) it

1. builds a Keras model of two ``(n,)`` inputs joined by ``layers.Add()``,
   optionally followed by ``ReLU``/``ReLU6`` (the converter fuses it into ADD),
2. converts it the same way, calibrating the two inputs on ranges about ten
   times apart so their scales differ (unless step 4 replaces them),
3. checks that the graph is exactly one ADD operator on int8 tensors, reads
   its fused activation from ``AddOptions`` and which subgraph input is its
   first operand,
4. optionally rewrites either input's or the output's (scale, zero point) in
   the flatbuffer (equal or power-of-two scales, which make exact rounding
   ties; one input scale far below the other; an output scale below both so
   outputs saturate; a fused clamp inside the int8 range),
5. runs both runtimes on a few hundred pairs of int8 vectors (all −128, all
   127, mixtures, sweeps of every code, the code pairs where the two
   roundings disagree, random), finds which rounding reproduces every output
   as in step 6 above, then checks that rounding against both runtimes on all
   65 536 (x1, x2) code pairs, and
6. writes ``tests/data/tflite/<name>.json``: scales, zero points, the fused
   activation, the three multipliers and shifts of add.cc's Prepare
   (``tflite_arith.add_params``), the clamp range, and the input pairs with
   both runtimes' outputs.

``tests/tflite_vectors.rs`` checks Axon's int8 kernel against the ``fc_*``
files bit for bit (the ``add_*`` files are for an int8 ADD kernel); tests
need only the JSON, never TensorFlow. See README.md beside this file for how
to rerun.
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
    add,
    add_params,
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
# ADD files: at least this many cases, even if that exceeds CODE_BUDGET.
MIN_ADD_CASES = 200
CODES = np.arange(-128, 128)  # every int8 code

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


@dataclass(frozen=True)
class AddConfig:
    """One int8 ADD of two (n,) tensors to convert and sample."""

    name: str
    n: int
    activation: str | None  # None, "relu" or "relu6": a Keras ReLU layer after Add
    seed: int
    # Ranges of the representative inputs: set each input's scale and zero point.
    calibration_ranges: tuple[tuple[float, float], tuple[float, float]]
    # (scale, zero point) written over the converter's in the flatbuffer.
    input1_override: tuple[float, int] | None = None
    input2_override: tuple[float, int] | None = None
    output_override: tuple[float, int] | None = None
    description: str = ""


ADD_CONFIGS = [
    AddConfig(
        "add_none_16", 16, None, 11, ((-1.0, 1.0), (-10.0, 10.0)),
        description="no activation; input1 calibrated on [-1, 1], input2 on [-10, 10] "
        "(input2 scale about 10x input1's)",
    ),
    AddConfig(
        "add_relu_13", 13, "relu", 12, ((-4.0, 4.0), (-0.4, 0.4)),
        description="fused ReLU; input1 on [-4, 4], input2 on [-0.4, 0.4] (input1 scale "
        "about 10x input2's); output calibrated after the ReLU, so act_min = -128",
    ),
    AddConfig(
        "add_none_input_zp_min_max_12", 12, None, 14, ((0.0, 3.0), (-0.3, 0.0)),
        description="no activation; input1 calibrated on [0, 3] (zero point -128, "
        "input1_offset 128), input2 on [-0.3, 0] (zero point 127, input2_offset -127)",
    ),
    AddConfig(
        "add_none_zp_max_20", 20, None, 15, ((-6.0, 0.0), (-0.6, 0.0)),
        description="no activation; both inputs calibrated on negative ranges, [-6, 0] "
        "and [-0.6, 0], so both input zero points and the output zero point are 127",
    ),
    AddConfig(
        "add_none_equal_scales_override_20", 20, None, 16, ((-2.0, 2.0), (-2.0, 2.0)),
        input1_override=(0.02, -3),
        input2_override=(0.02, 10),
        output_override=(0.04, 4),
        description="no activation; quantization rewritten so both inputs have scale 0.02 "
        "(zero points -3 and 10) and the output scale 0.04 (zero point 4): both input "
        "multipliers are exactly 0.5 and the output is (x1 + 3 + x2 - 10) / 2 + 4, an exact "
        "tie whenever the sum is odd",
    ),
    AddConfig(
        "add_none_pow2_scales_override_11", 11, None, 21, ((-4.0, 4.0), (-2.0, 2.0)),
        input1_override=(0.0625, 3),
        input2_override=(0.03125, -128),
        output_override=(0.0625, -10),
        description="no activation; quantization rewritten to power-of-two scales: input1 "
        "(0.0625, zero point 3), input2 (0.03125, zero point -128), output (0.0625, zero "
        "point -10), so the output is (x1 - 3) + (x2 + 128) / 2 - 10, an exact tie whenever "
        "x2 is odd",
    ),
    AddConfig(
        "add_none_rounding_override_15", 15, None, 22, ((-7.0, 7.0), (-4.0, 4.0)),
        input1_override=(0.057, -4),
        input2_override=(0.0306, 4),
        output_override=(0.086, 0),
        description="no activation; quantization rewritten to input1 (0.057, zero point "
        "-4), input2 (0.0306, zero point 4), output (0.086, zero point 0), chosen because "
        "for these scales double and single rounding disagree on 49 of the 65536 input "
        "pairs without an exact tie, some from the input rescaling, some from the output's",
    ),
    AddConfig(
        "add_none_tiny_scale_override_16", 16, None, 17, ((-50.0, 50.0), (-0.05, 0.05)),
        input1_override=(0.4, 0),
        input2_override=(0.00004, -7),
        output_override=(0.38, -1),
        description="no activation; quantization rewritten so input2's scale (0.00004) "
        "is 10^-4 of input1's (0.4): input2's real multiplier is 5e-5 (shift -14) and it "
        "moves the output by at most 0.03 codes, so only near rounding boundaries; output "
        "(0.38, zero point -1)",
    ),
    AddConfig(
        "add_none_saturating_override_8", 8, None, 18, ((-5.0, 5.0), (-0.5, 0.5)),
        output_override=(0.01, 0),
        description="no activation; input1 on [-5, 5], input2 on [-0.5, 0.5]; output "
        "quantization rewritten to (scale 0.01, zero point 0), below both input scales, "
        "so most outputs saturate at -128 or 127",
    ),
    AddConfig(
        "add_relu_override_10", 10, "relu", 19, ((-2.0, 2.0), (-20.0, 20.0)),
        output_override=(0.05, -20),
        description="fused ReLU; input1 on [-2, 2], input2 on [-20, 20]; output "
        "quantization rewritten to (scale 0.05, zero point -20) so the ReLU clamp "
        "(act_min = -20) lies inside the int8 range",
    ),
    AddConfig(
        "add_relu6_override_7", 7, "relu6", 20, ((-1.0, 1.0), (-8.0, 8.0)),
        output_override=(0.03125, -100),
        description="fused ReLU6; input1 on [-1, 1], input2 on [-8, 8]; output "
        "quantization rewritten to (scale 0.03125, zero point -100) so both clamps lie "
        "inside the int8 range (act_min = -100, act_max = -100 + 6 / 0.03125 = 92)",
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
    sub = schema.ModelT.InitFromPackedBuf(tflite, 0).subgraphs[0]
    return override_quantization(tflite, {int(sub.outputs[0]): (scale, zero_point)})


def override_quantization(tflite: bytes, overrides: dict[int, tuple[float, int]]) -> bytes:
    """Rewrites the (scale, zero point) of subgraph 0's tensors {index: (scale, zp)}."""
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    sub = model.subgraphs[0]
    for index, (scale, zero_point) in overrides.items():
        q = sub.tensors[index].quantization
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


# ---------------------------------------------------------------------------
# ADD.


def build_add_model(cfg: AddConfig) -> tf.keras.Model:
    x1 = tf.keras.Input(shape=(cfg.n,), dtype="float32", name="x1")
    x2 = tf.keras.Input(shape=(cfg.n,), dtype="float32", name="x2")
    y = tf.keras.layers.Add()([x1, x2])
    if cfg.activation == "relu":
        y = tf.keras.layers.ReLU()(y)
    elif cfg.activation == "relu6":
        y = tf.keras.layers.ReLU(max_value=6.0)(y)
    elif cfg.activation is not None:
        raise ValueError(f"unsupported activation {cfg.activation}")
    return tf.keras.Model([x1, x2], y)


def convert_add(cfg: AddConfig, model: tf.keras.Model, rng: np.random.Generator) -> bytes:
    (lo1, hi1), (lo2, hi2) = cfg.calibration_ranges
    calib1 = rng.uniform(lo1, hi1, (200, cfg.n)).astype(np.float32)
    calib2 = rng.uniform(lo2, hi2, (200, cfg.n)).astype(np.float32)

    def representative_dataset():
        # Keyed by signature input name: a list would be matched to the subgraph
        # inputs, which the converter orders x2, x1.
        for r1, r2 in zip(calib1, calib2):
            yield {"x1": r1[None, :], "x2": r2[None, :]}

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


@dataclass(frozen=True)
class AddGraph:
    """Where the single ADD op's operands sit in subgraph 0."""

    activation: str
    operands: tuple[int, int]  # tensor indices of ADD's input1, input2
    output: int  # tensor index of ADD's output
    subgraph_inputs: tuple[int, ...]


def add_graph(tflite: bytes) -> AddGraph:
    """Checks the graph is one int8 ADD of the two subgraph inputs into the output."""
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    if len(model.subgraphs) != 1:
        raise SystemExit(f"expected one subgraph, got {len(model.subgraphs)}")
    sub = model.subgraphs[0]
    codes = [model.operatorCodes[op.opcodeIndex] for op in sub.operators]
    builtins = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in codes]
    if builtins != [schema.BuiltinOperator.ADD]:
        raise SystemExit(f"expected a single ADD op, got builtin codes {builtins}")
    op = sub.operators[0]
    operands = tuple(int(i) for i in op.inputs)
    outputs = [int(i) for i in op.outputs]
    if len(operands) != 2 or sorted(operands) != sorted(int(i) for i in sub.inputs):
        raise SystemExit(f"ADD reads {operands}, the subgraph inputs are {list(sub.inputs)}")
    if outputs != [int(i) for i in sub.outputs]:
        raise SystemExit(f"ADD writes {outputs}, the subgraph outputs are {list(sub.outputs)}")
    for i in (*operands, *outputs):
        t = sub.tensors[i]
        if t.type != schema.TensorType.INT8 or len(t.quantization.scale) != 1:
            raise SystemExit(f"tensor {i} ({t.name}) is not a per-tensor int8 tensor")
    # AddOptions also holds pot_scale_int16, which add.cc reads only for int16.
    act = ACTIVATIONS[op.builtinOptions.fusedActivationFunction]
    return AddGraph(act, operands, outputs[0], tuple(int(i) for i in sub.inputs))


def input_pairs(
    n: int, count: int, rng: np.random.Generator, split: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Edge pairs first (all −128 / all 127 in all four combinations, zeros,
    alternating extremes), then two sweeps (input1 through every int8 code
    against input2 through them backwards; input2 through every code against
    shuffled codes), then up to a quarter of the cases made of the code pairs
    in ``split`` (shape (k, 2): where the two roundings disagree; evenly
    spaced if there are more), then random pairs: uniform codes,
    mostly-saturated codes, small codes, and saturated codes against uniform
    ones."""
    lo, hi, zero = np.full(n, -128), np.full(n, 127), np.zeros(n)
    alt, tla = np.resize([-128, 127], n), np.resize([127, -128], n)
    ps = [(lo, lo), (hi, hi), (lo, hi), (hi, lo), (zero, zero), (lo, zero), (zero, hi),
          (alt, alt), (alt, tla)]
    for k in range(0, 256, n):
        ps.append((np.resize(np.roll(CODES, -k), n), np.resize(np.roll(CODES[::-1], -k), n)))
    for k in range(0, 256, n):
        ps.append((rng.permutation(CODES)[:n], np.resize(np.roll(CODES, -k), n)))
    if len(split):
        k = min(len(split), (count // 4) * n)
        chosen = split[np.linspace(0, len(split) - 1, k).round().astype(int)]
        chosen = np.resize(chosen, (-(-k // n) * n, 2))
        for i in range(0, len(chosen), n):
            ps.append((chosen[i : i + n, 0], chosen[i : i + n, 1]))
    while len(ps) < count:
        kind = len(ps) % 4
        if kind == 0:
            p = (rng.integers(-128, 128, n), rng.integers(-128, 128, n))
        elif kind == 1:
            p = (rng.choice([-128, 127, -127, 126], n), rng.choice([-128, 127, -127, 126], n))
        elif kind == 2:
            p = (rng.integers(-8, 9, n), rng.integers(-8, 9, n))
        else:
            p = (rng.choice([-128, 127], n), rng.integers(-128, 128, n))
            if rng.integers(2):
                p = p[::-1]
        ps.append(p)
    return [(np.asarray(a, dtype=np.int8), np.asarray(b, dtype=np.int8)) for a, b in ps[:count]]


def generate_add(cfg: AddConfig, out_dir: Path, models_dir: Path | None) -> Path:
    rng = np.random.default_rng(cfg.seed)
    tf.keras.utils.set_random_seed(cfg.seed)
    tflite = convert_add(cfg, build_add_model(cfg), rng)
    graph = add_graph(tflite)
    overrides = {
        t: o
        for t, o in zip((*graph.operands, graph.output),
                        (cfg.input1_override, cfg.input2_override, cfg.output_override))
        if o is not None
    }
    if overrides:
        tflite = override_quantization(tflite, overrides)
        if add_graph(tflite) != graph:
            raise SystemExit(f"{cfg.name}: rewriting the quantization changed the graph")
    act = graph.activation
    if models_dir is not None:
        (models_dir / f"{cfg.name}.tflite").write_bytes(tflite)

    interp = tf.lite.Interpreter(
        model_content=tflite,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    assert len(ops) == 1 and ops[0]["op_name"] == "ADD", ops
    assert tuple(ops[0]["inputs"]) == graph.operands, (ops, graph)
    details = {d["index"]: d for d in interp.get_tensor_details()}
    in_details = {d["index"]: d for d in interp.get_input_details()}
    out = interp.get_output_details()[0]
    assert sorted(in_details) == sorted(graph.operands) and out["index"] == graph.output
    for d in (*in_details.values(), out):
        assert d["dtype"] == np.int8 and list(d["shape"]) == [1, cfg.n], d

    (s1,), (zp1,) = quant_of(details[graph.operands[0]])
    (s2,), (zp2,) = quant_of(details[graph.operands[1]])
    (s_out,), (zp_out,) = quant_of(out)
    for want, got in zip((cfg.input1_override, cfg.input2_override, cfg.output_override),
                         ((s1, zp1), (s2, zp2), (s_out, zp_out))):
        assert want is None or got == (float(np.float32(want[0])), want[1]), (cfg.name, want, got)
    if cfg.input1_override is None and cfg.input2_override is None:
        # The calibration ranges, not the converter's input order, set the scales.
        widths = [hi - lo for lo, hi in cfg.calibration_ranges]
        assert (s1 < s2) == (widths[0] < widths[1]), (cfg.name, s1, s2)
    params = add_params(s1, s2, s_out)
    act_min, act_max = activation_range(act, s_out, zp_out)

    tflm = tflm_runtime.Interpreter.from_bytes(tflite)
    # TFLite Micro addresses inputs by position in the subgraph's input list.
    tflm_pos = [graph.subgraph_inputs.index(t) for t in graph.operands]

    def run_tflite(x1: np.ndarray, x2: np.ndarray) -> list[int]:
        for t, x in zip(graph.operands, (x1, x2)):
            interp.set_tensor(t, x[None, :])
        interp.invoke()
        return interp.get_tensor(out["index"])[0].tolist()

    def run_tflm(x1: np.ndarray, x2: np.ndarray) -> list[int]:
        for pos, x in zip(tflm_pos, (x1, x2)):
            tflm.set_input(x[None, :], pos)
        tflm.invoke()
        return tflm.get_output(0)[0].tolist()

    # Every (x1, x2) code pair through both roundings: where they disagree.
    grid1, grid2 = (g.ravel() for g in np.meshgrid(CODES, CODES, indexing="ij"))
    exhaustive = {
        mode: np.array(add(grid1, grid2, zp1, zp2, zp_out, params, act_min, act_max, mbqm))
        for mode, mbqm in (("double", mbqm_double), ("single", mbqm_single))
    }
    differ = exhaustive["double"] != exhaustive["single"]
    split = np.stack([grid1[differ], grid2[differ]], axis=1)

    n_cases = min(MAX_CASES, max(MIN_ADD_CASES, CODE_BUDGET // (3 * cfg.n)))
    cases = []
    outputs = set()
    mismatches = {rt: {"double": 0, "single": 0} for rt in ("tflite", "tflm")}
    for x1, x2 in input_pairs(cfg.n, n_cases, rng, split):
        y = run_tflite(x1, x2)
        y_micro = run_tflm(x1, x2)
        cases.append({
            "input1": x1.tolist(), "input2": x2.tolist(), "output": y, "tflm_output": y_micro,
        })
        outputs.update(y)
        assert act_min <= min(y) and max(y) <= act_max, (cfg.name, y, act_min, act_max)
        for mode, mbqm in (("double", mbqm_double), ("single", mbqm_single)):
            ref = add(x1, x2, zp1, zp2, zp_out, params, act_min, act_max, mbqm)
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
        rounding[rt] = exact[0] if len(exact) == 1 else "either"
    # The samples decided; the whole grid must agree: both runtimes on all
    # 65 536 code pairs, n pairs per invocation (the last one padded).
    pad = -len(grid1) % cfg.n
    rows1, rows2 = (
        np.concatenate([g, g[:pad]]).astype(np.int8).reshape(-1, cfg.n) for g in (grid1, grid2)
    )
    for rt, run in (("tflite", run_tflite), ("tflm", run_tflm)):
        got = np.concatenate([run(a, b) for a, b in zip(rows1, rows2)])[: len(grid1)]
        for mode in ("double", "single") if rounding[rt] == "either" else (rounding[rt],):
            wrong = int(np.count_nonzero(got != exhaustive[mode]))
            if wrong:
                raise SystemExit(
                    f"{cfg.name}: {rt} matches {mode} rounding on every sample but not on "
                    f"{wrong} of the {len(grid1)} code pairs"
                )

    doc = {
        "name": cfg.name,
        "description": cfg.description,
        "generator": "tools/tflite/gen_vectors.py",
        "tensorflow_version": tf.__version__,
        "op_resolver": "BUILTIN_REF",
        "tflm_version": tflite_micro.__version__,
        "op": "ADD",
        "len": cfg.n,
        "input1_scale": s1,
        "input1_zero_point": zp1,
        "input2_scale": s2,
        "input2_zero_point": zp2,
        "output_scale": s_out,
        "output_zero_point": zp_out,
        "quantization_overridden": bool(overrides),
        "fused_activation": act,
        "expected_left_shift": params["left_shift"],
        "expected_input1_multiplier": params["input1_multiplier"],
        "expected_input1_shift": params["input1_shift"],
        "expected_input2_multiplier": params["input2_multiplier"],
        "expected_input2_shift": params["input2_shift"],
        "expected_output_multiplier": params["output_multiplier"],
        "expected_output_shift": params["output_shift"],
        "expected_act_min": act_min,
        "expected_act_max": act_max,
        "requantization_rounding": rounding["tflite"],
        "double_rounding_mismatches": mismatches["tflite"]["double"],
        "single_rounding_mismatches": mismatches["tflite"]["single"],
        "tflm_requantization_rounding": rounding["tflm"],
        "tflm_double_rounding_mismatches": mismatches["tflm"]["double"],
        "tflm_single_rounding_mismatches": mismatches["tflm"]["single"],
        "cases": cases,
    }
    path = out_dir / f"{cfg.name}.json"
    write_json(doc, path)
    hit = [v for v in (act_min, act_max) if v in outputs]
    print(
        f"{path}: {len(cases)} cases, scales {s1:.6g}/{s2:.6g}->{s_out:.6g}, zero points "
        f"{zp1}/{zp2}->{zp_out}, act {act} [{act_min}, {act_max}], clamps hit {hit}, "
        f"rounding {rounding} (checked on all {len(grid1)} code pairs, where the roundings "
        f"differ on {len(split)}), mismatches {mismatches}, {path.stat().st_size} bytes"
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
    ap.add_argument(
        "--only",
        action="append",
        help="generate only this configuration, FULLY_CONNECTED or ADD (repeatable)",
    )
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    known = [c.name for c in (*CONFIGS, *ADD_CONFIGS)]
    unknown = [n for n in args.only or [] if n not in known]
    if unknown:
        ap.error(f"no configuration named {unknown}; known: {known}")
    if args.save_models is not None:
        args.save_models.mkdir(parents=True, exist_ok=True)
    for cfg in CONFIGS:
        if not args.only or cfg.name in args.only:
            generate(cfg, args.out_dir, args.save_models)
    for add_cfg in ADD_CONFIGS:
        if not args.only or add_cfg.name in args.only:
            generate_add(add_cfg, args.out_dir, args.save_models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
