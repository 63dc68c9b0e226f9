"""TFLite's int8 arithmetic, re-implemented with Python integers and floats.

Python floats are IEEE doubles, so ``quantize_multiplier`` computes exactly
what TFLite's C++ ``QuantizeMultiplier`` does. ``gen_vectors.py`` uses these
to emit the expected multipliers, shifts and clamp range, and to check which
requantization rounding reproduces TFLite's outputs; ``replay.py`` uses them
to classify differences. Needs only numpy.

Two kernels: FULLY_CONNECTED (``effective_scale``, ``fully_connected``) and
ADD (``add_params``, ``add``).
"""

from __future__ import annotations

import math

import numpy as np



def round_half_away(x: float) -> int:
    """C's std::round: halves go away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(m: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier (quantization_util.cc): M ≈ q_fixed · 2^(shift − 31)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = round_half_away(q * float(1 << 31))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    assert q_fixed <= 2**31 - 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    if shift > 30:
        # Only in TFLITE_SINGLE_ROUNDING builds; never reached for a layer's M < 2^30.
        shift = 30
        q_fixed = 2**31 - 1
    return q_fixed, shift


def _srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul (C division truncates)."""
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    return v // (1 << 31) if v >= 0 else -((-v) // (1 << 31))


def _rounding_divide_by_pot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if (x & mask) > threshold else 0)


def _wrap_i32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def mbqm_double(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier, default (gemmlowp) double rounding."""
    left, right = max(shift, 0), max(-shift, 0)
    return _rounding_divide_by_pot(_srdhm(_wrap_i32(x * (1 << left)), m), right)


def mbqm_single(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier built with TFLITE_SINGLE_ROUNDING."""
    total = 31 - shift
    return (x * m + (1 << (total - 1))) >> total


# For shift <= 0 (the only shifts ADD uses) these two are also TFLite's
# MultiplyByQuantizedMultiplierSmallerThanOneExp: the double-rounding build
# computes RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -shift),
# which is mbqm_double without its (zero) left shift, and the single-rounding
# build calls MultiplyByQuantizedMultiplier itself.


def fully_connected(w, x, bias, zp_in, zp_out, mults, shifts, act_min, act_max, mbqm):
    """reference_integer_ops::FullyConnected(PerChannel), in Python integers."""
    acc = w.astype(np.int64) @ (x.astype(np.int64) - zp_in) + bias
    out = []
    for c, a in enumerate(acc.tolist()):
        i = c if len(mults) > 1 else 0
        v = mbqm(_wrap_i32(a), mults[i], shifts[i]) + zp_out
        out.append(min(max(v, act_min), act_max))
    return out


def effective_scale(s_in: float, s_w: float, s_out: float) -> float:
    """(double)s_in * (double)s_w / (double)s_out, as TFLite's FC Prepare."""
    return (float(s_in) * float(s_w)) / float(s_out)


def activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8, float32 arithmetic."""
    qmin, qmax = -128, 127
    scale32 = np.float32(scale)

    def quantize(f: float) -> int:
        # zero_point + static_cast<int32_t>(TfLiteRound(f / scale)), f and scale float.
        v = float(np.float32(f) / scale32)
        return zero_point + round_half_away(v)

    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if act == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(f"unsupported fused activation {act}")


# ---------------------------------------------------------------------------
# ADD (int8): add.cc Prepare and reference_integer_ops::AddFunc.

ADD_LEFT_SHIFT = 20  # int8; int16 would use 15


def quantize_multiplier_smaller_than_one_exp(m: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: CHECKs 0 < m < 1, returns shift <= 0."""
    if not 0.0 < m < 1.0:
        raise ValueError(f"multiplier {m} outside (0, 1)")
    q, shift = quantize_multiplier(m)
    if shift > 0:
        raise ValueError(f"multiplier {m} gives shift {shift} > 0")
    return q, shift


def add_params(s1: float, s2: float, s_out: float) -> dict[str, int]:
    """add.cc Prepare for int8 (TFLite and TFLite Micro compute the same doubles).

    The float32 scales are widened to double first; doubling the larger one
    and multiplying s_out by 2^20 are exact either way, so builds that do
    those two steps in float (older add.cc) give the same values.
    """
    s1, s2, s_out = (float(np.float32(s)) for s in (s1, s2, s_out))
    twice_max_input_scale = 2.0 * max(s1, s2)
    real_input1_multiplier = s1 / twice_max_input_scale
    real_input2_multiplier = s2 / twice_max_input_scale
    real_output_multiplier = twice_max_input_scale / (float(1 << ADD_LEFT_SHIFT) * s_out)
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(real_input1_multiplier)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(real_input2_multiplier)
    mo, sho = quantize_multiplier_smaller_than_one_exp(real_output_multiplier)
    return {
        "left_shift": ADD_LEFT_SHIFT,
        "input1_multiplier": m1, "input1_shift": sh1,
        "input2_multiplier": m2, "input2_shift": sh2,
        "output_multiplier": mo, "output_shift": sho,
    }


def add(x1, x2, zp1, zp2, zp_out, p, act_min, act_max, mbqm):
    """reference_integer_ops::Add (AddFunc per element), in Python integers.

    ``p`` is ``add_params``'s dict; ``mbqm`` is ``mbqm_double`` or
    ``mbqm_single``. No intermediate leaves int32: |x - zp| <= 255, so each
    shifted input is below 2^28 and each scaled one at most half that.
    """
    ls = p["left_shift"]
    assert p["input1_shift"] <= 0 and p["input2_shift"] <= 0 and p["output_shift"] <= 0
    out = []
    for a, b in zip(np.asarray(x1).tolist(), np.asarray(x2).tolist()):
        shifted1 = (a - zp1) * (1 << ls)  # (input1_offset + x) * (1 << left_shift)
        shifted2 = (b - zp2) * (1 << ls)
        scaled1 = mbqm(shifted1, p["input1_multiplier"], p["input1_shift"])
        scaled2 = mbqm(shifted2, p["input2_multiplier"], p["input2_shift"])
        raw_sum = scaled1 + scaled2
        assert -(2**31) <= raw_sum < 2**31
        raw = mbqm(raw_sum, p["output_multiplier"], p["output_shift"]) + zp_out
        out.append(min(max(raw, act_min), act_max))
    return out


# ---------------------------------------------------------------------------
# BATCH_MATMUL (int8, both operands activations): batch_matmul.cc Prepare and
# reference_ops::BatchMatMul, which TFLite and TFLite Micro share.


def matmul_multiplier(s_lhs: float, s_rhs: float, s_out: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler (no bias), then QuantizeMultiplier:
    (double)s_lhs * (double)s_rhs / (double)s_out."""
    return quantize_multiplier(effective_scale(s_lhs, s_rhs, s_out))


def batch_matmul(lhs, rhs, adj_y, zp_lhs, zp_rhs, zp_out, mult, shift, mbqm):
    """One [m, k] × [k, n] int8 product (rhs stored [n, k] when ``adj_y``), in
    Python integers: acc = Σ (lhs − zp_lhs)(rhs − zp_rhs), then
    ``mbqm(acc, mult, shift) + zp_out`` clamped to int8. |acc| ≤ k·255², so
    int32 holds it for k < 33 025."""
    l = np.asarray(lhs, dtype=np.int64) - zp_lhs
    r = np.asarray(rhs, dtype=np.int64) - zp_rhs
    acc = l @ (r.T if adj_y else r)
    return [
        [min(max(mbqm(int(a), mult, shift) + zp_out, -128), 127) for a in row]
        for row in acc.tolist()
    ]
