//! The int8 fully connected layer of the runtime against an oracle written
//! independently, in i128 with plain floor division, from the arithmetic
//! TFLite documents: the i32 accumulator (wrapping), then
//! `SaturatingRoundingDoublingHighMul` = ⌊(a·b + 2^30) / 2^31⌋ (ties toward
//! +∞; `MIN·MIN` saturates), then `RoundingDivideByPOT` = x / 2^e rounded
//! half away from zero, then the output offset and the clamp. Random
//! shapes and parameters, weighted toward the corners: inputs at −128,
//! weights at ±127, biases at the i32 extremes, every shift −31..=30.
//! The same for single rounding (the TFLite interpreter's
//! `TFLITE_SINGLE_ROUNDING`): ⌊(acc·M0 + 2^(30−shift)) / 2^(31−shift)⌋.

use axon_core::int8::{FullyConnected, Layer};
use axon_core::quant::{QuantParams, Rounding};
use proptest::prelude::*;

fn srdhm_oracle(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let p = a as i128 * b as i128;
    (p + (1i128 << 30)).div_euclid(1i128 << 31) as i32
}

fn rdbpot_oracle(x: i32, e: i32) -> i32 {
    if e == 0 {
        return x;
    }
    let m = (x as i128).abs();
    let q = (m + (1i128 << (e - 1))) >> e;
    (if x < 0 { -q } else { q }) as i32
}

fn requantize_oracle(acc: i32, m: i32, shift: i32) -> i32 {
    let left = shift.max(0);
    let right = (-shift).max(0);
    rdbpot_oracle(srdhm_oracle(acc.wrapping_mul(1i32 << left), m), right)
}

fn single_rounding_oracle(acc: i32, m: i32, shift: i32) -> i32 {
    let total = 31 - shift;
    (acc as i128 * m as i128 + (1i128 << (total - 1))).div_euclid(1i128 << total) as i32
}

#[allow(clippy::too_many_arguments)]
fn fc_oracle(
    rounding: Rounding,
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    m: &[i32],
    s: &[i32],
    in_off: i32,
    out_zp: i32,
    lo: i8,
    hi: i8,
) -> Vec<i8> {
    let n = x.len();
    (0..bias.len())
        .map(|c| {
            let mut acc: i64 = bias[c] as i64;
            for d in 0..n {
                acc += w[c * n + d] as i64 * (x[d] as i64 + in_off as i64);
            }
            let acc = acc as i32; // two's-complement wrap, as TFLite's i32 sum
            let k = if m.len() == 1 { 0 } else { c };
            let v = match rounding {
                Rounding::Double => requantize_oracle(acc, m[k], s[k]),
                Rounding::Single => single_rounding_oracle(acc, m[k], s[k]),
            };
            let v = v.wrapping_add(out_zp);
            v.clamp(lo as i32, hi as i32) as i8
        })
        .collect()
}

fn corner_i8() -> impl Strategy<Value = i8> {
    prop_oneof![Just(-128i8), Just(127), Just(-127), Just(0), any::<i8>()]
}

fn corner_weight() -> impl Strategy<Value = i8> {
    prop_oneof![Just(-127i8), Just(127), Just(0), -127i8..=127]
}

fn corner_bias() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(i32::MIN),
        Just(i32::MAX),
        Just(0),
        -100_000i32..100_000,
        any::<i32>()
    ]
}

fn multiplier() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(1i32 << 30),
        Just(i32::MAX),
        (1i32 << 30)..=i32::MAX,
        Just(0)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn runtime_fully_connected_equals_the_i128_oracle(
        (n, outs) in (1usize..40, 1usize..12),
        seed_w in prop::collection::vec(corner_weight(), 40 * 12),
        seed_x in prop::collection::vec(corner_i8(), 40),
        seed_b in prop::collection::vec(corner_bias(), 12),
        seed_m in prop::collection::vec(multiplier(), 12),
        seed_s in prop::collection::vec(-31i32..=30, 12),
        per_channel in any::<bool>(),
        input_zp in corner_i8(),
        output_zp in corner_i8(),
        relu in any::<bool>(),
        single in any::<bool>(),
    ) {
        let rounding = if single { Rounding::Single } else { Rounding::Double };
        let w = &seed_w[..n * outs];
        let x = &seed_x[..n];
        let bias = &seed_b[..outs];
        let ch = if per_channel { outs } else { 1 };
        let (m, s) = (&seed_m[..ch], &seed_s[..ch]);
        let (lo, hi) = if relu { (output_zp, 127) } else { (-128, 127) };
        let layer = Layer::FullyConnected(FullyConnected {
            input_len: n,
            output_len: outs,
            weights: w,
            bias,
            multiplier: m,
            shift: s,
            input_offset: -(input_zp as i32),
            output: QuantParams::new(0.1, output_zp as i32),
            act_min: lo,
            act_max: hi,
            row_sums: None,
            rounding,
        });
        let mut y = vec![0i8; outs];
        layer.run(x, &mut y).unwrap();
        let want = fc_oracle(rounding, w, x, bias, m, s, -(input_zp as i32), output_zp as i32, lo, hi);
        prop_assert_eq!(y, want);
    }
}

#[test]
fn oracle_pins_the_documented_corners() {
    // The oracle itself, on the cases the issue names.
    assert_eq!(srdhm_oracle(i32::MIN, i32::MIN), i32::MAX);
    assert_eq!(srdhm_oracle(1, 1 << 30), 1); // +0.5 → 1
    assert_eq!(srdhm_oracle(-1, 1 << 30), 0); // −0.5 → 0 (toward +∞)
    assert_eq!(rdbpot_oracle(5, 1), 3); // 2.5 → 3
    assert_eq!(rdbpot_oracle(-5, 1), -3); // −2.5 → −3
    assert_eq!(rdbpot_oracle(i32::MIN, 31), -1);
    for shift in -31..=30 {
        let x = 123_456;
        assert_eq!(
            axon_core::quant::multiply_by_quantized_multiplier(x, 1 << 30, shift),
            requantize_oracle(x, 1 << 30, shift),
            "shift {shift}"
        );
    }
}

#[test]
fn extremes_through_a_whole_layer() {
    // Inputs at −128 with zero point −128 contribute nothing; weights ±127
    // at input 127 contribute ±127·255; biases at the i32 extremes wrap.
    let w = [127i8, -127, 127, -127, -127, 127];
    let x = [-128i8, 127];
    let bias = [i32::MAX, i32::MIN, 0];
    let (m, s) = ([1i32 << 30], [-20i32]);
    let layer = Layer::FullyConnected(FullyConnected {
        input_len: 2,
        output_len: 3,
        weights: &w,
        bias: &bias,
        multiplier: &m,
        shift: &s,
        input_offset: 128,
        output: QuantParams::new(1.0, 0),
        act_min: -128,
        act_max: 127,
        row_sums: None,
        rounding: Rounding::Double,
    });
    let mut y = [0i8; 3];
    layer.run(&x, &mut y).unwrap();
    let want = fc_oracle(Rounding::Double, &w, &x, &bias, &m, &s, 128, 0, -128, 127);
    assert_eq!(y.to_vec(), want);
    // i32::MAX − 127·255 ≈ 2^31 · 0.99998: × 0.5 · 2^−20 = 1023.98 → clamps to 127.
    assert_eq!(y[0], 127);
}
