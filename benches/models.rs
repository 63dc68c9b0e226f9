//! Whole networks, one inference at batch 1, for the scalar reference and
//! each SIMD kernel this machine runs (forced through the dispatcher):
//!
//! * digits MLP 64→32→10 with ReLU and softmax: f32 layers (`Dense`/`Seq`,
//!   the compile-time API), and the int8 graph through the interpreter
//!   (float in, float out: quantize, two fully connected layers with
//!   load-time row sums, int8 softmax, dequantize);
//! * sine MLP 1→16→16→1 with ReLU, f32 and int8;
//! * the firmware's trained digits and sine models (`firmware/models/`):
//!   their f32 graphs through the interpreter (`/graph/…`), and the
//!   generated straight-line `forward()` of the f32 and int8 exports
//!   (`/forward`: on the desktop the graph's own ops in a straight line,
//!   through the dispatcher's best kernel).
//!
//! Weights are deterministic pseudo-random values of trained-model size
//! (or the trained ones); the time per inference does not depend on their
//! values.
//!
//! Run: `cargo bench --bench models` (AXON_BENCH_QUICK=1 for a short run).

use std::hint::black_box;
use std::time::Duration;

use axon::core::graph::DType;
use axon::core::kernels::dispatch;
use axon::core::kernels::KernelId;
use axon::core::ops::fully_connected::multipliers;
use axon::core::ops::Fused;
use axon::core::quant::softmax::{SoftmaxParams, SOFTMAX_OUTPUT};
use axon::core::quant::{QuantParams, Rounding};
use axon::core::{Activation, Dense, Layer, Seq};
use axon::host::model::{Data, Graph, Meta, Model, Quant, Runner, Tensor};
use axon::host::ops::fully_connected::{FullyConnected, Int8Attrs};
use axon::host::ops::Op;
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

/// An int8 fully connected layer of the bench's pseudo-random weights:
/// per-channel symmetric codes, int32 bias, TFLite's multipliers.
fn fc(
    g: &mut Graph,
    name: &str,
    x: usize,
    (inputs, outputs): (usize, usize),
    seed: u64,
    out: QuantParams,
    relu: bool,
) -> usize {
    let input = g.tensors[x].quant.params().unwrap();
    let v = values(inputs * outputs, seed);
    let weights: Vec<i8> = v.iter().map(|x| (x * 127.0).round() as i8).collect();
    let w_scale = 1.0 / (127.0 * (inputs as f32).sqrt());
    let bias: Vec<i32> = values(outputs, seed + 1)
        .iter()
        .map(|b| (b * 0.1 / (input.scale * w_scale)).round() as i32)
        .collect();
    let scales = vec![w_scale; outputs];
    let (multiplier, shift) = multipliers(input.scale, &scales, out.scale).unzip();
    let w = g.add_tensor(Tensor {
        name: format!("{name}.weight"),
        shape: vec![outputs as u32, inputs as u32],
        dtype: DType::I8,
        quant: Quant::PerChannel { scales, axis: 0 },
        data: Some(Data::I8(weights)),
    });
    let b = g.add_tensor(Tensor {
        name: format!("{name}.bias"),
        shape: vec![outputs as u32],
        dtype: DType::I32,
        quant: Quant::None,
        data: Some(Data::I32(bias)),
    });
    let y = g.add_tensor(Tensor::activation(
        format!("{name}.out"),
        vec![outputs as u32],
        DType::I8,
        Quant::PerTensor(out),
    ));
    let op = FullyConnected {
        int8: Some(Int8Attrs {
            activation: if relu { Fused::Relu } else { Fused::None },
            rounding: Rounding::Double,
            multiplier,
            shift,
        }),
        row_sums: None,
        prepared: None,
    };
    g.add_node(
        name,
        Op::FullyConnected(op),
        vec![x],
        y,
        vec![("weight", w), ("bias", b)],
    );
    y
}

/// An int8 MLP graph: f32 in, quantize, the layers, optional softmax,
/// dequantize, f32 out (no standardisation).
fn int8_mlp(widths: &[usize], t: &[QuantParams], softmax: bool, seed: u64) -> Model {
    let mut g = Graph::default();
    let n = widths[0] as u32;
    let x = g.add_tensor(Tensor::activation("x", vec![n], DType::F32, Quant::None));
    let xq = g.add_tensor(Tensor::activation(
        "x.q",
        vec![n],
        DType::I8,
        Quant::PerTensor(t[0]),
    ));
    g.add_node(
        "input",
        Op::Quantize(Default::default()),
        vec![x],
        xq,
        vec![],
    );
    g.inputs.push(x);
    let mut h = xq;
    for (k, w) in widths.windows(2).enumerate() {
        let last = k + 2 == widths.len();
        h = fc(
            &mut g,
            &format!("fc{}", k + 1),
            h,
            (w[0], w[1]),
            seed + 10 * k as u64,
            t[k + 1],
            !last,
        );
    }
    let out_w = *widths.last().unwrap() as u32;
    if softmax {
        let p = SoftmaxParams::from_input_scale(t[widths.len() - 1].scale, 1.0).unwrap();
        let s = g.add_tensor(Tensor::activation(
            "softmax.out",
            vec![out_w],
            DType::I8,
            Quant::PerTensor(SOFTMAX_OUTPUT),
        ));
        g.add_node(
            "softmax",
            Op::Softmax(axon::host::ops::softmax::Softmax::int8(1.0, p)),
            vec![h],
            s,
            vec![],
        );
        h = s;
    }
    let y = g.add_tensor(Tensor::activation(
        "y",
        vec![out_w],
        DType::F32,
        Quant::None,
    ));
    g.add_node(
        "output",
        Op::Dequantize(Default::default()),
        vec![h],
        y,
        vec![],
    );
    g.outputs.push(y);
    axon::host::ops::fully_connected::derive_row_sums(&mut g);
    let m = Model {
        meta: Meta::default(),
        graph: g,
    };
    m.validate().unwrap();
    m
}

/// The firmware's trained int8 models as `axon export --rust` writes
/// them: their generated straight-line `forward()` (the packed path and
/// the graph tables are the firmware's; unused here).
#[allow(dead_code)]
mod digits_fw {
    include!("../firmware/models/digits_int8.rs");
}
#[allow(dead_code)]
mod sine_fw {
    include!("../firmware/models/sine_int8.rs");
}
#[allow(dead_code)]
mod digits_fw_f32 {
    include!("../firmware/models/digits_f32.rs");
}
#[allow(dead_code)]
mod sine_fw_f32 {
    include!("../firmware/models/sine_f32.rs");
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
    // The trained f32 graphs through the interpreter.
    let dm = Model::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/firmware/models/digits.json"
    )))
    .unwrap();
    let sm = Model::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/firmware/models/sine.json"
    )))
    .unwrap();
    let (rd, rs) = (Runner::new(&dm).unwrap(), Runner::new(&sm).unwrap());
    let (id, is) = (rd.interpreter().unwrap(), rs.interpreter().unwrap());
    let mut arena = vec![0u64; 64];
    let arena: &mut [u8] = bytemuck::cast_slice_mut(&mut arena);
    let (mut yd, mut ys) = ([0f32; 10], [0f32; 1]);
    for k in kernels_here() {
        dispatch::force(k).unwrap();
        c.bench_function(&format!("model/digits_f32/graph/{}", k.name()), |b| {
            b.iter(|| id.run_f32(black_box(&xd), &mut yd, arena).unwrap())
        });
        c.bench_function(&format!("model/sine_f32/graph/{}", k.name()), |b| {
            b.iter(|| is.run_f32(black_box(&xs), &mut ys, arena).unwrap())
        });
    }
    dispatch::reset();
    let mut ad = digits_fw_f32::Arena::new();
    let mut as_ = sine_fw_f32::Arena::new();
    c.bench_function("model/digits_f32/forward", |b| {
        b.iter(|| digits_fw_f32::forward(black_box(&xd), &mut ad, &mut yd).unwrap())
    });
    c.bench_function("model/sine_f32/forward", |b| {
        b.iter(|| sine_fw_f32::forward(black_box(&xs), &mut as_, &mut ys).unwrap())
    });
}

fn int8_models(c: &mut Criterion) {
    // digits: pixel intensities 0..16 in, 10 class probabilities out.
    let digits = int8_mlp(
        &[64, 32, 10],
        &[
            QuantParams::new(16.0 / 255.0, -128),
            QuantParams::new(0.05, -128),
            QuantParams::new(0.1, 10),
        ],
        true,
        11,
    );
    // sine: x in [0, 2π), y in [-1, 1].
    let sine = int8_mlp(
        &[1, 16, 16, 1],
        &[
            QuantParams::new(6.3 / 255.0, -128),
            QuantParams::new(0.02, -128),
            QuantParams::new(0.02, -128),
            QuantParams::new(2.0 / 255.0, 0),
        ],
        false,
        21,
    );
    let (rd, rs) = (Runner::new(&digits).unwrap(), Runner::new(&sine).unwrap());
    let (id, is) = (rd.interpreter().unwrap(), rs.interpreter().unwrap());
    let mut arena = vec![0u64; 64];
    let arena: &mut [u8] = bytemuck::cast_slice_mut(&mut arena);
    let xd: Vec<f32> = values(64, 9).iter().map(|v| v * 8.0 + 8.0).collect();
    let mut probs = [0.0f32; 10];
    let mut y1 = [0.0f32; 1];
    for k in kernels_here() {
        dispatch::force(k).unwrap();
        c.bench_function(&format!("model/digits_int8/{}", k.name()), |b| {
            b.iter(|| id.run_f32(black_box(&xd), &mut probs, arena).unwrap())
        });
        c.bench_function(&format!("model/sine_int8/{}", k.name()), |b| {
            b.iter(|| is.run_f32(black_box(&[0.7]), &mut y1, arena).unwrap())
        });
    }
    dispatch::reset();
    // The generated forward() of the firmware's trained models (on the
    // desktop the graph's own ops in a straight line, best kernel).
    let xd: [f32; 64] = core::array::from_fn(|i| xd[i]);
    let mut ad = digits_fw::Arena::new();
    let mut as_ = sine_fw::Arena::new();
    c.bench_function("model/digits_int8/forward", |b| {
        b.iter(|| digits_fw::forward(black_box(&xd), &mut ad, &mut probs).unwrap())
    });
    c.bench_function("model/sine_int8/forward", |b| {
        b.iter(|| sine_fw::forward(black_box(&[0.7]), &mut as_, &mut y1).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = config();
    targets = f32_models, int8_models
}
criterion_main!(benches);
