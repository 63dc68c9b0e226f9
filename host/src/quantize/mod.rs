//! Post-training quantization to the TFLite int8 spec.
//!
//! Calibration runs the f32 model over sample inputs and records the range
//! of every activation tensor (min/max, or percentiles). From those ranges:
//! activations get an asymmetric (scale, zero point) per tensor; weights are
//! symmetric int8 in −127..=127 with one scale per output channel (or one
//! per tensor); biases are int32 with scale `s_in·s_w[c]`; each channel's
//! requantization multiplier `s_in·s_w[c]/s_out` becomes a Q31 multiplier
//! and a shift ([`axon_core::quant::quantize_multiplier`], in f64 as
//! TFLite). A ReLU after a dense layer is fused into its clamp; sigmoid and
//! tanh (and leaky ReLU, GELU, SiLU) become 256-entry tables; softmax
//! becomes TFLite's int8 softmax.

mod calibrate;
mod compare;
mod data;
mod int8_model;

pub use calibrate::{choose_params, Calibration, TensorStats};
pub use compare::{compare, Comparison};
pub use data::{load_rows, rows_from_table, Rows};
pub use int8_model::{
    is_int8_model_file, row_sums, CalibrationInfo, FusedActivation, Int8Layer, Int8Model,
    Int8Runner, FORMAT, VERSION,
};

use anyhow::{bail, Context};
use axon_core::int8::LutKind;
use axon_core::quant::lut::{build_table, SIGMOID_OUTPUT, TANH_OUTPUT};
use axon_core::quant::softmax::SOFTMAX_OUTPUT;
use axon_core::quant::{quantize_multiplier, QuantParams, Rounding, SoftmaxParams};
use axon_core::Activation;

use crate::model::{LayerSpec, Model};

/// Options of [`quantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantizeOptions {
    /// How activation ranges are calibrated.
    pub calibration: Calibration,
    /// One weight scale per output channel (TFLite's default) rather than
    /// one per tensor.
    pub per_channel: bool,
    /// How requantization rounds: TFLite Micro's double rounding (the
    /// default) or the TFLite interpreter's single rounding.
    pub rounding: Rounding,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            calibration: Calibration::MinMax,
            per_channel: true,
            rounding: Rounding::Double,
        }
    }
}

/// One int8 operation planned from the f32 layers.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// f32 layer index of the dense layer, and whether a ReLU follows it.
    Dense { layer: usize, relu: bool },
    /// An element-wise activation by table.
    Lut { kind: LutKind, act: Activation },
    /// Softmax.
    Softmax,
}

fn plan(model: &Model) -> anyhow::Result<Vec<Stage>> {
    let mut stages = Vec::new();
    let mut i = 0;
    while i < model.layers.len() {
        match &model.layers[i] {
            LayerSpec::Dense { .. } => {
                let relu = matches!(
                    model.layers.get(i + 1),
                    Some(LayerSpec::Activation(Activation::Relu))
                );
                stages.push(Stage::Dense { layer: i, relu });
                i += if relu { 2 } else { 1 };
                continue;
            }
            LayerSpec::Activation(a) => {
                let kind = match a {
                    Activation::Identity => None,
                    Activation::Relu => bail!(
                        "layer {i}: a ReLU is quantized by fusing it into the dense layer before it, \
                         and this one does not follow a dense layer"
                    ),
                    Activation::Sigmoid => Some(LutKind::Sigmoid),
                    Activation::Tanh => Some(LutKind::Tanh),
                    Activation::LeakyRelu { .. } => Some(LutKind::LeakyRelu),
                    Activation::GeluTanh => Some(LutKind::Gelu),
                    Activation::GeluErf => Some(LutKind::GeluErf),
                    Activation::Silu => Some(LutKind::Silu),
                    Activation::Softmax => {
                        stages.push(Stage::Softmax);
                        None
                    }
                };
                if let Some(kind) = kind {
                    stages.push(Stage::Lut { kind, act: *a });
                }
            }
        }
        i += 1;
    }
    Ok(stages)
}

/// The f32 output of one stage (the same kernels as [`Model::forward`]).
fn run_stage(model: &Model, stage: Stage, x: &[f32]) -> Vec<f32> {
    match stage {
        Stage::Dense { layer, relu } => {
            let LayerSpec::Dense {
                outputs,
                weights,
                bias,
                ..
            } = &model.layers[layer]
            else {
                unreachable!("plan() only records dense layers here")
            };
            let mut y = vec![0.0; *outputs];
            axon_core::kernels::gemv(weights, x, bias, &mut y)
                .expect("model shapes were validated");
            if relu {
                Activation::Relu.apply(&mut y);
            }
            y
        }
        Stage::Lut { act, .. } => {
            let mut y = x.to_vec();
            act.apply(&mut y);
            y
        }
        Stage::Softmax => {
            let mut y = x.to_vec();
            Activation::Softmax.apply(&mut y);
            y
        }
    }
}

/// Quantizes `model` with the raw calibration inputs `calib` (row-major,
/// `model.inputs` per row). `source` names the data in the model file.
pub fn quantize(
    model: &Model,
    calib: &[f32],
    source: &str,
    opts: &QuantizeOptions,
) -> anyhow::Result<Int8Model> {
    model.validate().context("the f32 model is invalid")?;
    let d = model.inputs;
    if d == 0 || calib.is_empty() || !calib.len().is_multiple_of(d) {
        bail!(
            "calibration needs at least one row of {d} inputs (got {} numbers)",
            calib.len()
        );
    }
    if let Calibration::Percentile(p) = opts.calibration {
        if !(50.0..=100.0).contains(&p) {
            bail!("the calibration percentile must lie in 50..=100, got {p}");
        }
    }
    let stages = plan(model)?;
    if !stages.iter().any(|s| matches!(s, Stage::Dense { .. })) {
        bail!("the model has no dense layer to quantize");
    }
    let keep = matches!(opts.calibration, Calibration::Percentile(_));
    // stats[0]: the standardised input; stats[k + 1]: stage k's output.
    let mut stats: Vec<TensorStats> = (0..=stages.len()).map(|_| TensorStats::new(keep)).collect();
    let mut x = vec![0.0f32; d];
    for row in calib.chunks_exact(d) {
        model.preprocess(row, &mut x);
        stats[0].observe(&x);
        let mut t = x.clone();
        for (k, &s) in stages.iter().enumerate() {
            t = run_stage(model, s, &t);
            stats[k + 1].observe(&t);
        }
    }
    let calibrated = |k: usize| {
        let (lo, hi) = stats[k].range(opts.calibration);
        choose_params(lo, hi)
    };

    let input = calibrated(0);
    let mut prev = input;
    let mut layers = Vec::with_capacity(stages.len());
    for (k, &stage) in stages.iter().enumerate() {
        let layer = match stage {
            Stage::Dense { layer, relu } => {
                let output = calibrated(k + 1);
                quantize_dense(model, layer, relu, prev, output, opts.per_channel)
                    .with_context(|| format!("layer {layer} (dense)"))?
            }
            Stage::Lut { kind, act } => {
                let output = match kind {
                    LutKind::Sigmoid => SIGMOID_OUTPUT,
                    LutKind::Tanh => TANH_OUTPUT,
                    _ => calibrated(k + 1),
                };
                let table = build_table(prev, output, |v| {
                    let mut a = [v];
                    act.apply(&mut a);
                    a[0]
                });
                Int8Layer::Lut {
                    kind,
                    len: layers.last().map_or(d, Int8Layer::outputs),
                    input: prev,
                    output,
                    table: Box::new(table),
                }
            }
            Stage::Softmax => {
                let params =
                    SoftmaxParams::from_input_scale(prev.scale, 1.0).with_context(|| {
                        format!(
                            "softmax: the input scale {} is too small for TFLite's int8 softmax",
                            prev.scale
                        )
                    })?;
                Int8Layer::softmax(
                    layers.last().map_or(d, Int8Layer::outputs),
                    1.0,
                    prev.scale,
                    params,
                )
            }
        };
        prev = layer.as_core(opts.rounding).output_params();
        layers.push(layer);
    }
    debug_assert!(prev == SOFTMAX_OUTPUT || !matches!(stages.last(), Some(Stage::Softmax)));
    let n = calib.len() / d;
    let m = Int8Model {
        inputs: d,
        preprocess: model.preprocess.clone(),
        input,
        layers,
        task: model.task,
        feature_names: model.feature_names.clone(),
        target_name: model.target_name.clone(),
        class_labels: model.class_labels.clone(),
        calibration: CalibrationInfo {
            method: opts.calibration.name().to_owned(),
            percentile: match opts.calibration {
                Calibration::Percentile(p) => Some(p),
                Calibration::MinMax => None,
            },
            samples: n,
            source: source.to_owned(),
        },
        rounding: opts.rounding,
    };
    m.validate()
        .context("internal error: the quantized model does not validate")?;
    Ok(m)
}

/// Symmetric int8 codes of `w` with scale `s`: `clamp(round(w / s), ±127)`.
fn quantize_weight(w: f32, s: f32) -> i8 {
    libm::roundf(w / s).clamp(-127.0, 127.0) as i8
}

fn quantize_dense(
    model: &Model,
    layer: usize,
    relu: bool,
    input: QuantParams,
    output: QuantParams,
    per_channel: bool,
) -> anyhow::Result<Int8Layer> {
    let LayerSpec::Dense {
        inputs,
        outputs,
        weights,
        bias,
    } = &model.layers[layer]
    else {
        bail!("not a dense layer");
    };
    let (inputs, outputs) = (*inputs, *outputs);
    let max_abs = |ws: &[f32]| ws.iter().fold(0.0f32, |m, &w| m.max(w.abs()));
    // An all-zero row (or tensor) has no range: any scale represents it; 1
    // keeps the multiplier finite.
    let scale_of = |m: f32| if m > 0.0 { m / 127.0 } else { 1.0 };
    let weight_scales: Vec<f32> = if per_channel {
        weights
            .chunks_exact(inputs)
            .map(|r| scale_of(max_abs(r)))
            .collect()
    } else {
        vec![scale_of(max_abs(weights))]
    };
    let sw = |c: usize| weight_scales[if per_channel { c } else { 0 }];
    let mut q = Vec::with_capacity(weights.len());
    for (c, row) in weights.chunks_exact(inputs).enumerate() {
        q.extend(row.iter().map(|&w| quantize_weight(w, sw(c))));
    }
    let qbias: Vec<i32> = bias
        .iter()
        .enumerate()
        .map(|(c, &b)| {
            let s = input.scale as f64 * sw(c) as f64;
            (b as f64 / s)
                .round()
                .clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect();
    let mut multiplier = Vec::with_capacity(weight_scales.len());
    let mut shift = Vec::with_capacity(weight_scales.len());
    for &s in &weight_scales {
        let real = input.scale as f64 * s as f64 / output.scale as f64;
        let (m, sh) = quantize_multiplier(real);
        if m == 0 {
            bail!("requantization scale {real:e} is too small to represent (below 2^-32)");
        }
        multiplier.push(m);
        shift.push(sh);
    }
    let act_min = if relu {
        output.zero_point.clamp(-128, 127) as i8
    } else {
        -128
    };
    let row_sums = row_sums(&q, inputs);
    Ok(Int8Layer::FullyConnected {
        inputs,
        outputs,
        weights: q,
        weight_scales,
        bias: qbias,
        multiplier,
        shift,
        input,
        output,
        activation: if relu {
            FusedActivation::Relu
        } else {
            FusedActivation::None
        },
        act_min,
        act_max: 127,
        row_sums,
    })
}
