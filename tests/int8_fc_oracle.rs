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
//!
//! The layer under test is the `fully_connected` op's int8 form, run by the
//! interpreter over a one-node graph (which checks the op at load) and
//! through its typed functions: `run_i8` without and with row sums, and the
//! VNNI layout.

use axon_core::graph::{DType, Graph, Node, Quant, Shape, Storage, Tensor};
use axon_core::kernels::{pack_vnni, packed_vnni_len, weight_row_sums, FullyConnectedParams};
use axon_core::ops::fully_connected::{run_i8, run_vnni, FullyConnected, Int8, Vnni};
use axon_core::ops::{Fused, Op, Signature, View, ViewMut};
use axon_core::quant::{QuantParams, Rounding};
use axon_core::Interpreter;
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

/// One int8 layer's constants.
struct Layer<'a> {
    weights: &'a [i8],
    bias: &'a [i32],
    multiplier: &'a [i32],
    shift: &'a [i32],
    input_zp: i32,
    output_zp: i32,
    activation: Fused,
    rounding: Rounding,
}

impl Layer<'_> {
    /// Runs every form of the layer on `x` and returns their outputs, all
    /// checked equal; the op's load-time check must accept the layer.
    fn run(&self, x: &[i8]) -> Vec<i8> {
        let (n, outs) = (x.len(), self.bias.len());
        let input = QuantParams::new(0.05, self.input_zp);
        let output = QuantParams::new(0.1, self.output_zp);
        let (act_min, act_max) = self.activation.clamp(output);
        let params = FullyConnectedParams {
            input_offset: -self.input_zp,
            output_offset: self.output_zp,
            multiplier: self.multiplier,
            shift: self.shift,
            act_min,
            act_max,
            rounding: self.rounding,
        };
        let scales = vec![1.0f32; self.multiplier.len()];
        let mut sums = vec![0i32; outs];
        weight_row_sums(self.weights, n, &mut sums).unwrap();
        let int8 = |row_sums| Int8 {
            weights: self.weights,
            bias: self.bias,
            weight_scales: &scales,
            row_sums,
            activation: self.activation,
            params,
        };
        let t = |len: usize, q| {
            Tensor::arena(Shape::vector(len as u32), DType::I8, Quant::PerTensor(q), 0)
        };
        let sig = Signature::new(&[t(n, input)], t(outs, output));
        // As the interpreter runs it: a one-node graph, validated, then run.
        let tensors = [
            Tensor {
                storage: Storage::Input(0),
                ..t(n, input)
            },
            Tensor {
                storage: Storage::Output(0),
                ..t(outs, output)
            },
        ];
        let nodes = [Node::new(
            Op::FullyConnected(FullyConnected::Int8(int8(None))),
            &[0],
            1,
        )];
        let it = Interpreter::new(Graph::new(&tensors, &nodes, &[0], &[1], 0))
            .expect("the op accepts the layer");
        let mut y = vec![0i8; outs];
        let mut arena = [0u64; 1];
        it.run(
            &[View::I8(x)],
            &mut [ViewMut::I8(&mut y)],
            bytemuck::cast_slice_mut(&mut arena),
        )
        .unwrap();
        let with_sums = int8(Some(&sums));
        Op::FullyConnected(FullyConnected::Int8(with_sums))
            .check(&sig)
            .unwrap();
        let mut y2 = vec![0i8; outs];
        run_i8(&with_sums, x, &mut y2).unwrap();
        assert_eq!(y2, y, "run_i8 with row sums");
        run_i8(&int8(None), x, &mut y2).unwrap();
        assert_eq!(y2, y, "run_i8");
        let mut packed = vec![0i8; packed_vnni_len(outs, n).unwrap()];
        pack_vnni(self.weights, n, &mut packed).unwrap();
        let v = Vnni {
            packed: &packed,
            row_sums: &sums,
            bias: self.bias,
            activation: self.activation,
            params,
        };
        Op::FullyConnected(FullyConnected::Vnni(v))
            .check(&sig)
            .unwrap();
        run_vnni(&v, n, x, &mut y2).unwrap();
        assert_eq!(y2, y, "run_vnni");
        y
    }
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
        let activation = if relu { Fused::Relu } else { Fused::None };
        // A fused ReLU clamps at the output zero point.
        prop_assert_eq!(activation.clamp(QuantParams::new(0.1, output_zp as i32)), (lo, hi));
        let layer = Layer {
            weights: w,
            bias,
            multiplier: m,
            shift: s,
            input_zp: input_zp as i32,
            output_zp: output_zp as i32,
            activation,
            rounding,
        };
        let y = layer.run(x);
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
    let layer = Layer {
        weights: &w,
        bias: &bias,
        multiplier: &m,
        shift: &s,
        input_zp: -128,
        output_zp: 0,
        activation: Fused::None,
        rounding: Rounding::Double,
    };
    let y = layer.run(&x);
    let want = fc_oracle(Rounding::Double, &w, &x, &bias, &m, &s, 128, 0, -128, 127);
    assert_eq!(y, want);
    // i32::MAX − 127·255 ≈ 2^31 · 0.99998: × 0.5 · 2^−20 = 1023.98 → clamps to 127.
    assert_eq!(y[0], 127);
}
