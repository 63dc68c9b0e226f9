//! The int8 form of an f32 fully connected layer (TFLite's post-training
//! quantization): weights symmetric int8 in −127..=127 with one scale per
//! output channel (or per tensor), bias int32 with scale `s_in·s_w[c]`,
//! each channel's requantization multiplier from `s_in·s_w[c]/s_out` in
//! f64, and a ReLU right after the layer fused into its clamp.

use anyhow::bail;
use axon_core::graph::DType;
use axon_core::ops::fully_connected::multipliers;
use axon_core::ops::Fused;
use axon_core::quant::QuantParams;

use super::{FullyConnected, Int8Attrs};
use crate::model::{Data, Node, Quant, Tensor};
use crate::ops::Op;
use crate::quantize::Builder;

/// Symmetric int8 codes of `w` with scale `s`: `clamp(round(w / s), ±127)`.
fn quantize_weight(w: f32, s: f32) -> i8 {
    libm::roundf(w / s).clamp(-127.0, 127.0) as i8
}

/// The weight scales, codes and int32 biases of `(out, in)` f32 weights
/// and biases for an input with scale `s_in`.
pub fn quantize_weights(
    weights: &[f32],
    bias: &[f32],
    inputs: usize,
    s_in: f32,
    per_channel: bool,
) -> (Vec<f32>, Vec<i8>, Vec<i32>) {
    let max_abs = |ws: &[f32]| ws.iter().fold(0.0f32, |m, &w| m.max(w.abs()));
    // An all-zero row (or tensor) has no range: any scale represents it; 1
    // keeps the multiplier finite.
    let scale_of = |m: f32| if m > 0.0 { m / 127.0 } else { 1.0 };
    let scales: Vec<f32> = if per_channel {
        weights.chunks_exact(inputs).map(|r| scale_of(max_abs(r))).collect()
    } else {
        vec![scale_of(max_abs(weights))]
    };
    let sw = |c: usize| scales[if per_channel { c } else { 0 }];
    let mut q = Vec::with_capacity(weights.len());
    for (c, row) in weights.chunks_exact(inputs).enumerate() {
        q.extend(row.iter().map(|&w| quantize_weight(w, sw(c))));
    }
    let qbias = bias
        .iter()
        .enumerate()
        .map(|(c, &b)| {
            let s = s_in as f64 * sw(c) as f64;
            (b as f64 / s).round().clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect();
    (scales, q, qbias)
}

/// Adds the int8 layer for f32 node `node`.
pub fn quantize(b: &mut Builder<'_>, node: &Node) -> anyhow::Result<()> {
    let src = b.src();
    let x = b.twin(node.inputs[0])?;
    let px = b.params(x);
    let (w, bias) = (src.param(node, "weight")?, src.param(node, "bias")?);
    let (Some(wf), Some(bf)) = (w.f32_data(), bias.f32_data()) else {
        bail!("node {}: an f32 layer to quantize has f32 parameters", node.name);
    };
    let inputs = w.shape[1] as usize;
    let (relu, out) = match b.fold_relu(node) {
        Some(t) => (Fused::Relu, t),
        None => (Fused::None, node.output),
    };
    let py: QuantParams = b.calibrated(out);
    let per_channel = b.per_channel();
    let (scales, q, qbias) = quantize_weights(wf, bf, inputs, px.scale, per_channel);
    let (mut multiplier, mut shift) = (Vec::new(), Vec::new());
    for (m, s) in multipliers(px.scale, &scales, py.scale) {
        if m == 0 {
            bail!(
                "node {}: a requantization scale is too small to represent (below 2^-32)",
                node.name
            );
        }
        multiplier.push(m);
        shift.push(s);
    }
    let quant = if per_channel {
        Quant::PerChannel { scales, axis: 0 }
    } else {
        Quant::PerTensor(QuantParams::new(scales[0], 0))
    };
    let wt = b.param(Tensor {
        name: w.name.clone(),
        shape: w.shape.clone(),
        dtype: DType::I8,
        quant,
        data: Some(Data::I8(q)),
    });
    let bt = b.param(Tensor {
        name: bias.name.clone(),
        shape: bias.shape.clone(),
        dtype: DType::I32,
        quant: Quant::None,
        data: Some(Data::I32(qbias)),
    });
    let y = b.activation(out, py);
    let op = FullyConnected {
        int8: Some(Int8Attrs {
            activation: relu,
            rounding: b.rounding(),
            multiplier,
            shift,
        }),
        row_sums: None,
        prepared: None,
    };
    b.node(&node.name, Op::FullyConnected(op), vec![x], y, vec![("weight", wt), ("bias", bt)]);
    Ok(())
}
