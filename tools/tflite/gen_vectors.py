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
    batch_matmul,
    effective_scale,
    fully_connected,
    matmul_multiplier,
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


# ---------------------------------------------------------------------------
# The language model's ops: BATCH_MATMUL, SOFTMAX, GATHER (int8).
#
# These models are written directly as flatbuffers (one operator, the
# tensors' scales and zero points set by the configuration) rather than
# converted from Keras: the converter would choose the scales itself and
# fold or fuse the ops differently from the model of docs/lm.md (an int8
# BATCH_MATMUL of two activations with adj_y; a SOFTMAX over one row; a
# GATHER from a constant int8 table). Both runtimes run the flatbuffer as
# they would a converted one.


def lm_model(
    op: int,
    version: int,
    tensors: list[dict],
    inputs: list[int],
    outputs: list[int],
    options_type: int,
    options,
) -> bytes:
    """A one-operator TFLite model. ``tensors``: dicts with shape, type
    (schema.TensorType), optional quant (scale, zero point), optional data
    (bytes of a constant buffer); the operator reads ``inputs`` and writes
    ``outputs`` (tensor indices), which are also the subgraph's non-constant
    inputs and its outputs."""
    model = schema.ModelT()
    model.version = 3
    model.description = "tools/tflite/gen_vectors.py"
    code = schema.OperatorCodeT()
    code.builtinCode = op
    code.deprecatedBuiltinCode = min(op, 127)
    code.version = version
    model.operatorCodes = [code]
    model.buffers = [schema.BufferT()]  # buffer 0: the empty sentinel
    sub = schema.SubGraphT()
    sub.name = "main"
    sub.tensors = []
    for i, t in enumerate(tensors):
        tt = schema.TensorT()
        tt.name = t.get("name", f"t{i}")
        tt.shape = list(t["shape"])
        tt.type = t["type"]
        buf = schema.BufferT()
        if "data" in t:
            buf.data = list(t["data"])
        model.buffers.append(buf)
        tt.buffer = len(model.buffers) - 1
        if "quant" in t:
            q = schema.QuantizationParametersT()
            q.scale = [float(np.float32(t["quant"][0]))]
            q.zeroPoint = [int(t["quant"][1])]
            tt.quantization = q
        sub.tensors.append(tt)
    opr = schema.OperatorT()
    opr.opcodeIndex = 0
    opr.inputs = list(inputs)
    opr.outputs = list(outputs)
    opr.builtinOptionsType = options_type
    opr.builtinOptions = options
    sub.operators = [opr]
    sub.inputs = [i for i in inputs if "data" not in tensors[i]]
    sub.outputs = list(outputs)
    model.subgraphs = [sub]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class Runtimes:
    """One model in TFLite (BUILTIN_REF) and TFLite Micro: run(inputs) -> both
    outputs, or None where a runtime refused (an out-of-range gather index)."""

    def __init__(self, tflite: bytes):
        self.interp = tf.lite.Interpreter(
            model_content=tflite,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        )
        self.interp.allocate_tensors()
        self.inputs = [d["index"] for d in self.interp.get_input_details()]
        self.output = self.interp.get_output_details()[0]["index"]
        self.tflm = tflm_runtime.Interpreter.from_bytes(tflite)

    def run(self, xs: list[np.ndarray]) -> tuple[np.ndarray | None, np.ndarray | None]:
        try:
            for t, x in zip(self.inputs, xs, strict=True):
                self.interp.set_tensor(t, x)
            self.interp.invoke()
            y = self.interp.get_tensor(self.output).copy()
        except RuntimeError:
            y = None
        try:
            for i, x in enumerate(xs):
                self.tflm.set_input(x, i)
            self.tflm.invoke()
            y_micro = np.array(self.tflm.get_output(0), copy=True)
        except RuntimeError:
            y_micro = None
        return y, y_micro


def provenance(name: str, description: str, op: str) -> dict:
    return {
        "name": name,
        "description": description,
        "generator": "tools/tflite/gen_vectors.py",
        "model": "flatbuffer written by the generator (one operator)",
        "tensorflow_version": tf.__version__,
        "op_resolver": "BUILTIN_REF",
        "tflm_version": tflite_micro.__version__,
        "op": op,
    }


def flat(a) -> list[int]:
    return np.asarray(a).reshape(-1).tolist()


# --- BATCH_MATMUL ---


@dataclass(frozen=True)
class MatmulConfig:
    """One int8 BATCH_MATMUL: lhs [m, k] × rhs [k, n] (stored [n, k] with adj_y)."""

    name: str
    m: int
    k: int
    n: int
    adj_y: bool
    lhs: tuple[float, int]  # (scale, zero point)
    rhs: tuple[float, int]
    output_zero_point: int
    seed: int
    # The output scale; None: chosen from the sampled products so that a few
    # per cent of the outputs saturate at each end.
    output_scale: float | None = None
    description: str = ""


MATMUL_CONFIGS = [
    MatmulConfig("bmm_qk_1x16x1", 1, 16, 1, True, (0.05, 3), (0.04, -5), 10, 31,
                 description="scores of the first position: one query, one key, head width 16"),
    MatmulConfig("bmm_qk_1x16x130", 1, 16, 130, True, (0.031, -7), (0.047, 12), -3, 32,
                 description="one query against 130 keys (past the 128 context), head width 16"),
    MatmulConfig("bmm_qk_3x5x17", 3, 5, 17, True, (0.11, 20), (0.023, -31), 0, 33,
                 description="odd shapes: 3 queries, width 5, 17 keys"),
    MatmulConfig("bmm_qk_8x40x9_zp_extreme", 8, 40, 9, True, (0.02, -128), (0.03, 127), -128,
                 34, description="zero points at the int8 ends: lhs -128, rhs 127, output -128"),
    MatmulConfig("bmm_qk_2x1x7", 2, 1, 7, True, (0.5, 1), (0.25, -1), 2, 35,
                 description="depth 1: every output is one product"),
    MatmulConfig("bmm_qk_2x7x129_zp_extreme", 2, 7, 129, True, (0.07, 127), (0.015, -128), 127,
                 36, description="zero points at the other ends: lhs 127, rhs -128, output 127"),
    MatmulConfig("bmm_pv_1x1x16", 1, 1, 16, False, (1 / 256, -128), (0.05, 4), -2, 37,
                 description="attention-weighted values at the first position: weights "
                 "(softmax codes, scale 1/256, zero point -128) [1, 1] x values [1, 16]"),
    MatmulConfig("bmm_pv_1x130x16", 1, 130, 16, False, (1 / 256, -128), (0.06, -9), 5, 38,
                 description="softmax weights over 130 positions x values [130, 16]"),
    MatmulConfig("bmm_pv_4x33x7", 4, 33, 7, False, (1 / 256, -128), (0.09, 17), -1, 39,
                 description="odd shapes: [4, 33] x [33, 7]"),
    MatmulConfig("bmm_pv_2x127x5", 2, 127, 5, False, (0.013, 60), (0.021, -100), 33, 40,
                 description="[2, 127] x [127, 5], zero points 60 and -100"),
    MatmulConfig("bmm_pv_2x9x40_pow2_ties", 2, 9, 40, False, (0.0625, 0), (0.03125, 0), 0, 41,
                 output_scale=0.125,
                 description="power-of-two scales: real multiplier 2^-6, so every accumulator "
                 "32 mod 64 is an exact tie, which double and single rounding send apart when "
                 "negative"),
]

MATMUL_CODE_BUDGET = 2_000  # input and output codes per file, about
MATMUL_MIN_CASES = 4  # two edge cases and two random ones at least


def matmul_cases(
    cfg: MatmulConfig, rng: np.random.Generator
) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """(number of edge cases, cases). Edge operands first (all −128 and all
    127 in the four combinations, the lhs zero point against 127, alternating
    extremes; only the first two for large shapes), then random ones:
    uniform, mostly saturated, small around the zero points; and, for
    softmax-like lhs (zero point −128), rows that sum to about 256 codes
    above the zero point, like real attention weights."""
    m, k, n = cfg.m, cfg.k, cfg.n
    rshape = (n, k) if cfg.adj_y else (k, n)
    per_case = m * k + k * n + 2 * m * n
    count = max(MATMUL_MIN_CASES, min(40, MATMUL_CODE_BUDGET // per_case))
    full = lambda shape, v: np.full(shape, v)  # noqa: E731
    edges = [
        (full((m, k), -128), full(rshape, -128)),
        (full((m, k), 127), full(rshape, 127)),
        (full((m, k), -128), full(rshape, 127)),
        (full((m, k), 127), full(rshape, -128)),
        (full((m, k), cfg.lhs[1]), full(rshape, 127)),
        (np.resize([-128, 127], (m, k)), np.resize([127, -128], rshape)),
    ]
    # Large shapes keep fewer edge cases (the most extreme first) and two random ones.
    cases = edges[: max(2, min(len(edges), count - 2))]
    n_edges = len(cases)
    while len(cases) < count:
        kind = len(cases) % 4
        if kind == 0:
            l, r = rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, rshape)
        elif kind == 1:
            l = rng.choice([-128, 127, -127, 126], (m, k))
            r = rng.choice([-128, 127, -127, 126], rshape)
        elif kind == 2:
            l = np.clip(cfg.lhs[1] + rng.integers(-6, 7, (m, k)), -128, 127)
            r = np.clip(cfg.rhs[1] + rng.integers(-6, 7, rshape), -128, 127)
        else:
            if cfg.lhs[1] == -128:
                # Attention weights: non-negative probabilities summing to ~1.
                p = rng.dirichlet(np.full(k, 0.3), m)
                l = np.clip(np.round(p * 256) - 128, -128, 127)
            else:
                l = rng.integers(-128, 128, (m, k))
            r = rng.normal(cfg.rhs[1], 40, rshape).round().clip(-128, 127)
        cases.append((l, r))
    return n_edges, [(np.asarray(l, dtype=np.int8), np.asarray(r, dtype=np.int8)) for l, r in cases]


def generate_matmul(cfg: MatmulConfig, out_dir: Path, models_dir: Path | None) -> Path:
    rng = np.random.default_rng(cfg.seed)
    n_edges, cases = matmul_cases(cfg, rng)
    (s_l, zp_l), (s_r, zp_r) = cfg.lhs, cfg.rhs
    s_l, s_r = float(np.float32(s_l)), float(np.float32(s_r))
    if cfg.output_scale is None:
        acc = np.concatenate([
            ((l.astype(np.int64) - zp_l) @ ((r.T if cfg.adj_y else r).astype(np.int64) - zp_r))
            .ravel()
            for l, r in cases[n_edges:]
        ])
        # The random cases' median magnitude at ±60 codes: the largest of them
        # saturate, and so do most edge cases.
        s_out = float(np.float32(s_l * s_r * max(np.median(np.abs(acc)), 1) / 60))
    else:
        s_out = float(np.float32(cfg.output_scale))
    zp_out = cfg.output_zero_point
    rshape = [cfg.n, cfg.k] if cfg.adj_y else [cfg.k, cfg.n]
    opts = schema.BatchMatMulOptionsT()
    opts.adjX, opts.adjY, opts.asymmetricQuantizeInputs = False, cfg.adj_y, False
    i8 = schema.TensorType.INT8
    tflite = lm_model(
        schema.BuiltinOperator.BATCH_MATMUL, 2,
        [
            {"name": "lhs", "shape": [cfg.m, cfg.k], "type": i8, "quant": (s_l, zp_l)},
            {"name": "rhs", "shape": rshape, "type": i8, "quant": (s_r, zp_r)},
            {"name": "out", "shape": [cfg.m, cfg.n], "type": i8, "quant": (s_out, zp_out)},
        ],
        [0, 1], [2], schema.BuiltinOptions.BatchMatMulOptions, opts,
    )
    if models_dir is not None:
        (models_dir / f"{cfg.name}.tflite").write_bytes(tflite)
    rt = Runtimes(tflite)
    mult, shift = matmul_multiplier(s_l, s_r, s_out)
    mismatches = {r: {"double": 0, "single": 0} for r in ("tflite", "tflm")}
    out_cases, outputs = [], set()
    for l, r in cases:
        y, y_micro = rt.run([l, r])
        assert y is not None and y_micro is not None, cfg.name
        outputs.update(flat(y))
        out_cases.append({"lhs": flat(l), "rhs": flat(r), "output": flat(y),
                          "tflm_output": flat(y_micro)})
        for mode, mbqm in (("double", mbqm_double), ("single", mbqm_single)):
            ref = np.array(batch_matmul(l, r, cfg.adj_y, zp_l, zp_r, zp_out, mult, shift, mbqm))
            for name, got in (("tflite", y), ("tflm", y_micro)):
                mismatches[name][mode] += int(np.count_nonzero(ref != got))
    rounding = decide_rounding(cfg.name, mismatches)
    doc = provenance(cfg.name, cfg.description, "BATCH_MATMUL")
    doc.update({
        "m": cfg.m, "k": cfg.k, "n": cfg.n, "adj_x": False, "adj_y": cfg.adj_y,
        "lhs_scale": s_l, "lhs_zero_point": zp_l, "rhs_scale": s_r, "rhs_zero_point": zp_r,
        "output_scale": s_out, "output_zero_point": zp_out,
        "expected_multiplier": mult, "expected_shift": shift,
    })
    doc.update(rounding_fields(rounding, mismatches))
    doc["cases"] = out_cases
    return finish(doc, out_dir, f"scales {s_l:.4g}*{s_r:.4g}->{s_out:.4g}, M {mult} shift "
                  f"{shift}, clamps hit {[v for v in (-128, 127) if v in outputs]}, rounding "
                  f"{rounding}, mismatches {mismatches}")


def decide_rounding(name: str, mismatches: dict) -> dict[str, str]:
    """Which requantization rounding reproduces each runtime; stops if neither."""
    rounding = {}
    for rt, counts in mismatches.items():
        exact = [mode for mode, n in counts.items() if n == 0]
        if not exact:
            raise SystemExit(f"{name}: neither rounding reproduces {rt} ({counts})")
        rounding[rt] = exact[0] if len(exact) == 1 else "either"
    return rounding


def rounding_fields(rounding: dict, mismatches: dict) -> dict:
    return {
        "requantization_rounding": rounding["tflite"],
        "double_rounding_mismatches": mismatches["tflite"]["double"],
        "single_rounding_mismatches": mismatches["tflite"]["single"],
        "tflm_requantization_rounding": rounding["tflm"],
        "tflm_double_rounding_mismatches": mismatches["tflm"]["double"],
        "tflm_single_rounding_mismatches": mismatches["tflm"]["single"],
    }


def finish(doc: dict, out_dir: Path, summary: str) -> Path:
    """Writes the file, counting the codes where the two runtimes differ."""
    differ = sum(
        int(a != b)
        for c in doc["cases"] if c.get("output") is not None
        for a, b in zip(c["output"], c["tflm_output"])
    )
    doc["runtimes_differ"] = differ
    doc["cases"] = doc.pop("cases")  # last, for readable diffs
    path = out_dir / f"{doc['name']}.json"
    write_json(doc, path)
    print(f"{path}: {len(doc['cases'])} cases, {summary}, TFLite vs TFLite Micro differ on "
          f"{differ} codes, {path.stat().st_size} bytes")
    return path


# --- SOFTMAX ---


@dataclass(frozen=True)
class SoftmaxConfig:
    """int8 SOFTMAX (beta 1) over rows of the given lengths at one input scale."""

    name: str
    input_scale: float
    input_zero_point: int
    lengths: tuple[int, ...]
    rows_per_length: int
    seed: int
    description: str = ""


SOME_LENGTHS = (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 127, 128, 129, 130)

SOFTMAX_CONFIGS = [
    SoftmaxConfig("softmax_all_lengths_s0.1", 0.1, 0, tuple(range(1, 131)), 1, 51,
                  description="every row length 1..=130 (the causal prefixes of a 128-token "
                  "context and past it), input scale 0.1 (scores within +-12.8)"),
    SoftmaxConfig("softmax_s0.0625", 0.0625, -5, SOME_LENGTHS, 1, 52,
                  description="input scale 1/16, an exact power of two"),
    SoftmaxConfig("softmax_s0.0039", 0.0039, 17, SOME_LENGTHS, 1, 53,
                  description="input scale 0.0039: the whole int8 range spans one unit of "
                  "score, no element falls below diff_min"),
    SoftmaxConfig("softmax_s0.37", 0.37, -128, SOME_LENGTHS, 1, 54,
                  description="input scale 0.37: diff_min -62, elements further below the "
                  "maximum are 0"),
    SoftmaxConfig("softmax_s1.3", 1.3, 127, SOME_LENGTHS, 1, 55,
                  description="input scale 1.3: diff_min -15, most of a random row is 0"),
]


def softmax_rows(n: int, rows: int, first: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Rows of length n, their kind cycling from ``first``: uniform codes,
    all equal, one 127 among −128, a small spread, the two extremes, one
    element far above the rest, a ramp, scores like attention's (normal)."""
    out = []
    for r in range(rows):
        kind = (first + r) % 8
        if kind == 0:
            x = rng.integers(-128, 128, n)
        elif kind == 1:
            x = np.full(n, rng.integers(-128, 128))
        elif kind == 2:
            x = np.full(n, -128)
            x[rng.integers(n)] = 127
        elif kind == 3:
            x = rng.integers(-3, 4, n) + rng.integers(-100, 100)
        elif kind == 4:
            x = rng.choice([-128, 127], n)
        elif kind == 5:
            x = rng.integers(-128, -60, n)
            x[rng.integers(n)] = rng.integers(0, 128)
        elif kind == 6:
            x = np.linspace(-128, 127, n).round() if n > 1 else np.array([5])
        else:
            x = rng.normal(0, 40, n).round()
        out.append(np.asarray(np.clip(x, -128, 127), dtype=np.int8))
    return out


def generate_softmax(cfg: SoftmaxConfig, out_dir: Path, models_dir: Path | None) -> Path:
    rng = np.random.default_rng(cfg.seed)
    s_in = float(np.float32(cfg.input_scale))
    opts = schema.SoftmaxOptionsT()
    opts.beta = 1.0
    i8 = schema.TensorType.INT8
    cases = []
    for j, n in enumerate(cfg.lengths):
        tflite = lm_model(
            schema.BuiltinOperator.SOFTMAX, 2,
            [
                {"name": "x", "shape": [1, n], "type": i8, "quant": (s_in, cfg.input_zero_point)},
                {"name": "y", "shape": [1, n], "type": i8, "quant": (1 / 256, -128)},
            ],
            [0], [1], schema.BuiltinOptions.SoftmaxOptions, opts,
        )
        if models_dir is not None and n == cfg.lengths[-1]:
            (models_dir / f"{cfg.name}.tflite").write_bytes(tflite)
        rt = Runtimes(tflite)
        for x in softmax_rows(n, cfg.rows_per_length, j * cfg.rows_per_length, rng):
            y, y_micro = rt.run([x[None, :]])
            assert y is not None and y_micro is not None, cfg.name
            cases.append({"input": flat(x), "output": flat(y), "tflm_output": flat(y_micro)})
    doc = provenance(cfg.name, cfg.description, "SOFTMAX")
    doc.update({
        "beta": 1.0, "input_scale": s_in, "input_zero_point": cfg.input_zero_point,
        "output_scale": 1 / 256, "output_zero_point": -128,
    })
    doc["cases"] = cases
    codes = sum(len(c["input"]) for c in cases)
    return finish(doc, out_dir, f"{codes} codes, lengths {cfg.lengths[0]}..={cfg.lengths[-1]}")


# --- GATHER ---


@dataclass(frozen=True)
class GatherConfig:
    """int8 GATHER (axis 0) of rows from a constant [rows, width] table."""

    name: str
    rows: int
    width: int
    quant: tuple[float, int]
    seed: int
    description: str = ""


GATHER_CONFIGS = [
    GatherConfig("gather_65x64", 65, 64, (0.02, -3), 61,
                 description="a token embedding of the default model: 65 rows of 64"),
    GatherConfig("gather_256x3", 256, 3, (0.1, 0), 62,
                 description="the largest vocabulary (256 rows), narrow rows"),
    GatherConfig("gather_1x130", 1, 130, (0.007, 127), 63,
                 description="one row of 130, zero point 127"),
    GatherConfig("gather_7x1", 7, 1, (1.5, -128), 64,
                 description="rows of one element, zero point -128"),
]


def generate_gather(cfg: GatherConfig, out_dir: Path, models_dir: Path | None) -> Path:
    rng = np.random.default_rng(cfg.seed)
    table = rng.integers(-128, 128, (cfg.rows, cfg.width))
    table.flat[0], table.flat[-1] = -128, 127  # both ends of int8 in every table
    table = table.astype(np.int8)
    last = cfg.rows - 1
    index_lists = [[0], [last], [last, 0, last], [0] * 3]
    if cfg.rows <= 256 and cfg.rows * cfg.width <= 1024:
        index_lists.append(list(range(cfg.rows)))  # every row, in order
    index_lists += [rng.integers(0, cfg.rows, 3).tolist() for _ in range(3)]
    # Out of range: both runtimes must refuse, and so must Axon.
    index_lists += [[cfg.rows], [0, cfg.rows + 1000]]
    opts = schema.GatherOptionsT()
    opts.axis, opts.batchDims = 0, 0
    i8, i32 = schema.TensorType.INT8, schema.TensorType.INT32
    cases = []
    errors = {"tflite": 0, "tflm": 0}
    for idx in index_lists:
        tflite = lm_model(
            schema.BuiltinOperator.GATHER, 2,
            [
                {"name": "table", "shape": [cfg.rows, cfg.width], "type": i8, "quant": cfg.quant,
                 "data": table.tobytes()},
                {"name": "indices", "shape": [len(idx)], "type": i32},
                {"name": "rows", "shape": [len(idx), cfg.width], "type": i8, "quant": cfg.quant},
            ],
            [0, 1], [2], schema.BuiltinOptions.GatherOptions, opts,
        )
        if models_dir is not None and idx == [last]:
            (models_dir / f"{cfg.name}.tflite").write_bytes(tflite)
        y, y_micro = Runtimes(tflite).run([np.asarray(idx, dtype=np.int32)])
        in_range = all(0 <= i < cfg.rows for i in idx)
        for name, got in (("tflite", y), ("tflm", y_micro)):
            if got is None:
                errors[name] += 1
                if in_range:
                    raise SystemExit(f"{cfg.name}: {name} refused in-range indices {idx}")
            elif not in_range:
                raise SystemExit(f"{cfg.name}: {name} accepted out-of-range indices {idx}")
            elif not np.array_equal(got, table[idx]):
                raise SystemExit(f"{cfg.name}: {name} did not copy rows {idx}")
        cases.append({
            "indices": idx,
            "output": None if y is None else flat(y),
            "tflm_output": None if y_micro is None else flat(y_micro),
        })
    doc = provenance(cfg.name, cfg.description, "GATHER")
    doc.update({
        "rows": cfg.rows, "width": cfg.width, "axis": 0, "scale": float(np.float32(cfg.quant[0])),
        "zero_point": cfg.quant[1], "refused": errors,
        "table": table.tolist(),
    })
    doc["cases"] = cases
    return finish(doc, out_dir, f"{len(cases)} index lists, refused {errors}")


def write_json(doc: dict, path: Path) -> None:
    """Compact JSON with one weight row and one case per line, for readable diffs."""
    lines = ["{"]
    items = list(doc.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if k in ("weights", "cases", "table"):
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
    lm_ops = [(c, generate_matmul) for c in MATMUL_CONFIGS]
    lm_ops += [(c, generate_softmax) for c in SOFTMAX_CONFIGS]
    lm_ops += [(c, generate_gather) for c in GATHER_CONFIGS]
    known = [c.name for c in (*CONFIGS, *ADD_CONFIGS)] + [c.name for c, _ in lm_ops]
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
    for lm_cfg, gen in lm_ops:
        if not args.only or lm_cfg.name in args.only:
            gen(lm_cfg, args.out_dir, args.save_models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
