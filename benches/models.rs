//! Whole networks, one inference at batch 1, for the scalar reference and
//! each SIMD kernel this machine runs (forced through the dispatcher):
//!
//! * digits MLP 64→32→10 with ReLU and softmax: f32 layers (`Dense`/`Seq`)
//!   and the int8 runtime (`int8::Model`, float in, float out: standardise-
//!   free quantize, two fully connected layers with precomputed row sums,
//!   int8 softmax, dequantize);
//! * sine MLP 1→16→16→1 with ReLU, f32 and int8.
//!
//! Weights are deterministic pseudo-random values of trained-model size;
//! the time per inference does not depend on their values.
//!
//! Run: `cargo bench --bench models` (AXON_BENCH_QUICK=1 for a short run).

use std::hint::black_box;
use std::time::Duration;

use axon::core::int8::{FullyConnected, Layer as I8Layer, Layers, Model};
use axon::core::kernels::dispatch;
use axon::core::kernels::{weight_row_sums, KernelId};
use axon::core::quant::softmax::{softmax_exp_table, SoftmaxParams, SOFTMAX_OUTPUT};
use axon::core::quant::{quantize_multiplier, QuantParams, Rounding};
use axon::core::{Activation, Dense, Layer, Seq};
use criterion::{criterion_group, criterion_main, Criterion};

/// Deterministic values in [-1, 1) (SplitMix64).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn dense<const IN: usize, const OUT: usize>(seed: u64, act: Activation) -> Dense<IN, OUT> {
    let v = values(IN * OUT + OUT, seed);
    let scale = 1.0 / (IN as f32).sqrt();
    let w: [[f32; IN]; OUT] =
        core::array::from_fn(|o| core::array::from_fn(|i| v[o * IN + i] * scale));
    let b: [f32; OUT] = core::array::from_fn(|o| v[IN * OUT + o] * 0.1);
    Dense::new(w, b, act)
}

/// Owned constants of one int8 fully connected layer.
struct Fc {
    input_len: usize,
    output_len: usize,
    weights: Vec<i8>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i32>,
    row_sums: Vec<i32>,
    input: QuantParams,
    output: QuantParams,
    relu: bool,
}

impl Fc {
    /// Per-channel symmetric weights; `input`/`output` tensor parameters.
    fn new(
        input_len: usize,
        output_len: usize,
        seed: u64,
        input: QuantParams,
        output: QuantParams,
        relu: bool,
    ) -> Fc {
        let v = values(input_len * output_len, seed);
        let weights: Vec<i8> = v.iter().map(|x| (x * 127.0).round() as i8).collect();
        let w_scale = 1.0 / (127.0 * (input_len as f32).sqrt());
        let bias: Vec<i32> = values(output_len, seed + 1)
            .iter()
            .map(|b| (b * 0.1 / (input.scale * w_scale)).round() as i32)
            .collect();
        let (multiplier, shift): (Vec<i32>, Vec<i32>) = (0..output_len)
            .map(|_| quantize_multiplier((input.scale * w_scale / output.scale) as f64))
            .unzip();
        let mut row_sums = vec![0; output_len];
        weight_row_sums(&weights, input_len, &mut row_sums).unwrap();
        Fc {
            input_len,
            output_len,
            weights,
            bias,
            multiplier,
            shift,
            row_sums,
            input,
            output,
            relu,
        }
    }

    fn layer(&self) -> I8Layer<'_> {
        I8Layer::FullyConnected(FullyConnected {
            input_len: self.input_len,
            output_len: self.output_len,
            weights: &self.weights,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            input_offset: -self.input.zero_point,
            output: self.output,
            act_min: if self.relu {
                self.output.zero_point as i8
            } else {
                -128
            },
            act_max: 127,
            row_sums: Some(&self.row_sums),
            rounding: Rounding::Double,
        })
    }
}

fn kernels_here() -> Vec<KernelId> {
    KernelId::ALL
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

fn config() -> Criterion {
    let quick = std::env::var_os("AXON_BENCH_QUICK").is_some();
    Criterion::default()
        .warm_up_time(Duration::from_millis(if quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 2000 }))
        .sample_size(if quick { 20 } else { 60 })
}

fn f32_models(c: &mut Criterion) {
    let digits = Seq::new(
        dense::<64, 32>(1, Activation::Relu),
        dense::<32, 10>(2, Activation::Softmax),
    );
    let sine = Seq::new(
        dense::<1, 16>(3, Activation::Relu),
        Seq::new(
            dense::<16, 16>(4, Activation::Relu),
            dense::<16, 1>(5, Activation::Identity),
        ),
    );
    let xd: [f32; 64] = core::array::from_fn(|i| values(64, 9)[i] * 8.0 + 8.0);
    let xs = [0.7f32];
    for k in kernels_here() {
        dispatch::force(k).unwrap();
        c.bench_function(&format!("model/digits_f32/{}", k.name()), |b| {
            b.iter(|| digits.infer(black_box(&xd)))
        });
        c.bench_function(&format!("model/sine_f32/{}", k.name()), |b| {
            b.iter(|| sine.infer(black_box(&xs)))
        });
    }
    dispatch::reset();
}

fn int8_models(c: &mut Criterion) {
    // digits: pixel intensities 0..16 in, 10 class probabilities out.
    let t_in = QuantParams::new(16.0 / 255.0, -128);
    let t_hidden = QuantParams::new(0.05, -128);
    let t_logits = QuantParams::new(0.1, 10);
    let fc1 = Fc::new(64, 32, 11, t_in, t_hidden, true);
    let fc2 = Fc::new(32, 10, 12, t_hidden, t_logits, false);
    let softmax_params = SoftmaxParams::from_input_scale(t_logits.scale, 1.0).unwrap();
    // Built once, as the host and the Rust export do.
    let exp_table = softmax_exp_table(&softmax_params);
    let softmax = I8Layer::Softmax {
        len: 10,
        params: softmax_params,
        exp_table: Some(&exp_table),
    };
    let digits_layers = [fc1.layer(), fc2.layer(), softmax];
    let digits = Model {
        input_len: 64,
        output_len: 10,
        preprocess: None,
        input: t_in,
        output: SOFTMAX_OUTPUT,
        layers: Layers::Slice(&digits_layers),
    };
    digits.validate().unwrap();

    // sine: x in [0, 2π), y in [-1, 1].
    let s_in = QuantParams::new(6.3 / 255.0, -128);
    let s_h = QuantParams::new(0.02, -128);
    let s_out = QuantParams::new(2.0 / 255.0, 0);
    let (l1, l2, l3) = (
        Fc::new(1, 16, 21, s_in, s_h, true),
        Fc::new(16, 16, 22, s_h, s_h, true),
        Fc::new(16, 1, 23, s_h, s_out, false),
    );
    let sine_layers = [l1.layer(), l2.layer(), l3.layer()];
    let sine = Model {
        input_len: 1,
        output_len: 1,
        preprocess: None,
        input: s_in,
        output: s_out,
        layers: Layers::Slice(&sine_layers),
    };
    sine.validate().unwrap();

    let xd: Vec<f32> = values(64, 9).iter().map(|v| v * 8.0 + 8.0).collect();
    let mut scratch = vec![0i8; digits.scratch_len().max(sine.scratch_len())];
    let (mut codes, mut probs) = ([0i8; 10], [0.0f32; 10]);
    let (mut code1, mut y1) = ([0i8; 1], [0.0f32; 1]);
    for k in kernels_here() {
        dispatch::force(k).unwrap();
        c.bench_function(&format!("model/digits_int8/{}", k.name()), |b| {
            b.iter(|| {
                digits
                    .run(black_box(&xd), &mut scratch, &mut codes, &mut probs)
                    .unwrap()
            })
        });
        c.bench_function(&format!("model/sine_int8/{}", k.name()), |b| {
            b.iter(|| {
                sine.run(black_box(&[0.7]), &mut scratch, &mut code1, &mut y1)
                    .unwrap()
            })
        });
    }
    dispatch::reset();
}

criterion_group! {
    name = benches;
    config = config();
    targets = f32_models, int8_models
}
criterion_main!(benches);
