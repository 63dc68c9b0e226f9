//! f32 → integer-only int8 (`docs/lm.md`, "int8, integer-only"):
//! calibrate every activation's range on windows of the training split
//! through the f32 reference step ([`super::infer`]), then quantize each
//! op by TFLite's rules (weights symmetric per output channel, int32
//! biases at `s_in·s_w[c]`, multipliers in f64 by `QuantizeMultiplier`,
//! ADD by `PrepareGeneralSubOp`, the softmax by `PreprocessSoftmaxScaling`,
//! GELU as a `LUTPopulate` table from the calibrated scales) and fold each
//! layer norm's gain and bias into Axon's integer layer norm.

use std::collections::HashMap;

use anyhow::{bail, Result};
use axon_core::lm::Shape;
use axon_core::ops::add::AddInt8;
use axon_core::ops::batch_matmul::MatmulQuant;
use axon_core::ops::fully_connected::multipliers;
use axon_core::ops::layer_norm::{epsilon_codes, fold};
use axon_core::ops::Fused;
use axon_core::quant::lut::build_table;
use axon_core::quant::softmax::SOFTMAX_OUTPUT;
use axon_core::quant::{quantize_multiplier, QuantParams, Rounding, SoftmaxParams};

use super::config::LN_EPS;
use super::infer::{F32Step, Point};
use super::int8::{window_starts, Block, Fc, Int8Lm, Ln};
use super::params::{ln_f_index, LayerParam, LmParams, POS_EMB, TOK_EMB};
use super::Vocab;
use crate::ops::fully_connected::quantize_weights;
use crate::quantize::{choose_params, Calibration, TensorStats};

/// The quantizer's options.
#[derive(Debug, Clone, Copy)]
pub struct QuantizeOptions {
    /// Calibration windows of `T` tokens, evenly spaced over the text.
    pub calib_windows: usize,
    /// How a range is taken from what calibration saw.
    pub calibration: Calibration,
    /// How requantizations round.
    pub rounding: Rounding,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            calib_windows: 16,
            calibration: Calibration::MinMax,
            rounding: Rounding::Double,
        }
    }
}

/// The ranges seen at every [`Point`] (heads merged: one scale per block
/// for scores).
pub fn calibrate(
    params: &LmParams,
    calib: &[u8],
    opts: &QuantizeOptions,
) -> Result<HashMap<Point, TensorStats>> {
    let t = params.cfg.ctx;
    let keep = matches!(opts.calibration, Calibration::Percentile(_));
    let mut stats: HashMap<Point, TensorStats> = HashMap::new();
    let mut step = F32Step::new(params);
    for start in window_starts(calib.len(), t, opts.calib_windows)? {
        step.reset();
        for &tok in &calib[start..start + t] {
            step.step(tok, &mut |p, xs| {
                let key = match p {
                    Point::Scores(l, _) => Point::Scores(l, 0),
                    Point::Probs(..) => return,
                    p => p,
                };
                stats
                    .entry(key)
                    .or_insert_with(|| TensorStats::new(keep))
                    .observe(xs);
            })?;
        }
    }
    Ok(stats)
}

/// Per-tensor parameters of a constant table from its own range.
fn table_params(x: &[f32]) -> (QuantParams, Vec<i8>) {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let p = choose_params(lo, hi);
    (p, x.iter().map(|&v| p.quantize(v)).collect())
}

fn fc(
    name: &str,
    w: &[f32],
    b: &[f32],
    d_in: usize,
    input: QuantParams,
    output: QuantParams,
) -> Result<Fc> {
    let (scales, weights, bias) = quantize_weights(w, b, d_in, input.scale, true);
    let (multiplier, shift): (Vec<i32>, Vec<i32>) =
        multipliers(input.scale, &scales, output.scale).unzip();
    if let Some(c) = multiplier.iter().position(|&m| m == 0) {
        bail!("{name}: output channel {c}'s requantization scale is too small to represent (below 2^-32)");
    }
    Ok(Fc {
        weights,
        bias,
        multiplier,
        shift,
        input,
        output,
    })
}

fn ln(name: &str, g: &[f32], b: &[f32], input: QuantParams, output: QuantParams) -> Result<Ln> {
    let n = g.len();
    let (mut gain, mut bias) = (vec![0; n], vec![0; n]);
    let Some(shift) = fold(g, b, output, &mut gain, &mut bias) else {
        bail!("{name}: its gain or bias does not fit the integer layer norm (too large for the output scale)");
    };
    Ok(Ln {
        gain,
        bias,
        shift,
        epsilon: epsilon_codes(n, LN_EPS as f64, input.scale),
        output,
    })
}

fn matmul(
    name: &str,
    lhs: QuantParams,
    rhs: QuantParams,
    out: QuantParams,
    extra: f64,
    rounding: Rounding,
) -> Result<MatmulQuant> {
    let real = lhs.scale as f64 * rhs.scale as f64 * extra / out.scale as f64;
    let (multiplier, shift) = quantize_multiplier(real);
    if multiplier == 0 {
        bail!("{name}: its requantization scale {real:e} cannot be represented");
    }
    Ok(MatmulQuant {
        lhs_zero_point: lhs.zero_point,
        rhs_zero_point: rhs.zero_point,
        output_zero_point: out.zero_point,
        multiplier,
        shift,
        rounding,
    })
}

/// The int8 model of `params` calibrated on `calib` (tokens of the
/// training split).
pub fn quantize(
    params: &LmParams,
    vocab: &Vocab,
    calib: &[u8],
    opts: &QuantizeOptions,
) -> Result<Int8Lm> {
    let c = params.cfg;
    if vocab.len() != c.vocab {
        bail!(
            "the vocabulary has {} characters, the model {}",
            vocab.len(),
            c.vocab
        );
    }
    let shape = Shape {
        vocab: c.vocab,
        d_model: c.d_model,
        n_layer: c.n_layer,
        n_head: c.n_head,
        ctx: c.ctx,
        d_ff: c.d_ff,
        tied: c.tied,
    };
    if let Err(why) = shape.check() {
        bail!("the model's shape cannot run in int8: {why}");
    }
    let stats = calibrate(params, calib, opts)?;
    let q = |p: Point| -> Result<QuantParams> {
        let Some(s) = stats.get(&p) else {
            bail!("calibration saw nothing at {p:?}");
        };
        let (lo, hi) = s.range(opts.calibration);
        Ok(choose_params(lo, hi))
    };
    let r = opts.rounding;
    let add =
        |a: QuantParams, b: QuantParams, y: QuantParams| AddInt8::derive(a, b, y, Fused::None, r);
    let (d, dh) = (c.d_model, c.head_dim());
    let (tok_params, tok_emb) = table_params(params.tensor(TOK_EMB));
    let (pos_params, pos_emb) = table_params(params.tensor(POS_EMB));
    let embed_params = q(Point::Embed)?;
    let mut x = embed_params;
    let mut blocks = Vec::with_capacity(c.n_layer);
    for l in 0..c.n_layer {
        let w = |p: LayerParam| params.layer(l, p);
        let name = |s: &str| format!("h{l}.{s}");
        let ln1 = ln(
            &name("ln1"),
            w(LayerParam::Ln1G),
            w(LayerParam::Ln1B),
            x,
            q(Point::Ln1(l))?,
        )?;
        let (wqkv, bqkv) = (w(LayerParam::Wqkv), w(LayerParam::Bqkv));
        let part = |i: usize| (&wqkv[i * d * d..(i + 1) * d * d], &bqkv[i * d..(i + 1) * d]);
        let h1 = ln1.output;
        let fq = fc(&name("q"), part(0).0, part(0).1, d, h1, q(Point::Q(l))?)?;
        let fk = fc(&name("k"), part(1).0, part(1).1, d, h1, q(Point::K(l))?)?;
        let fv = fc(&name("v"), part(2).0, part(2).1, d, h1, q(Point::V(l))?)?;
        let scores_params = q(Point::Scores(l, 0))?;
        let scores = matmul(
            &name("scores"),
            fq.output,
            fk.output,
            scores_params,
            1.0 / (dh as f64).sqrt(),
            r,
        )?;
        let Some(softmax) = SoftmaxParams::from_input_scale(scores_params.scale, 1.0) else {
            bail!(
                "{}: the scores' scale {} is too small for the int8 softmax",
                name("softmax"),
                scores_params.scale
            );
        };
        let attn = q(Point::Attn(l))?;
        let pv = matmul(&name("pv"), SOFTMAX_OUTPUT, fv.output, attn, 1.0, r)?;
        let proj = fc(
            &name("proj"),
            w(LayerParam::Wo),
            w(LayerParam::Bo),
            d,
            attn,
            q(Point::Proj(l))?,
        )?;
        let res1 = q(Point::Res1(l))?;
        let add1 = add(x, proj.output, res1);
        let ln2 = ln(
            &name("ln2"),
            w(LayerParam::Ln2G),
            w(LayerParam::Ln2B),
            res1,
            q(Point::Ln2(l))?,
        )?;
        let ff1 = fc(
            &name("ff1"),
            w(LayerParam::W1),
            w(LayerParam::B1),
            d,
            ln2.output,
            q(Point::Ff1(l))?,
        )?;
        let gelu_params = q(Point::Gelu(l))?;
        let gelu = build_table(ff1.output, gelu_params, axon_core::activations::gelu_erf);
        let ff2 = fc(
            &name("ff2"),
            w(LayerParam::W2),
            w(LayerParam::B2),
            c.d_ff,
            gelu_params,
            q(Point::Ff2(l))?,
        )?;
        let res2 = q(Point::Res2(l))?;
        let add2 = add(res1, ff2.output, res2);
        x = res2;
        blocks.push(Block {
            ln1,
            q: fq,
            k: fk,
            v: fv,
            scores,
            scores_params,
            softmax,
            pv,
            proj,
            add1,
            res1,
            ln2,
            ff1,
            gelu,
            ff2,
            add2,
            res2,
        });
    }
    let lf = ln_f_index(&c);
    let ln_f = ln(
        "ln_f",
        params.tensor(lf),
        params.tensor(lf + 1),
        x,
        q(Point::LnF)?,
    )?;
    let zeros = vec![0.0f32; c.vocab];
    let head = fc(
        "head",
        params.head(),
        &zeros,
        d,
        ln_f.output,
        q(Point::Logits)?,
    )?;
    Ok(Int8Lm {
        shape,
        rounding: r,
        vocab: vocab.as_string(),
        tok_emb,
        tok_params,
        pos_emb,
        pos_params,
        embed: add(tok_params, pos_params, embed_params),
        embed_params,
        blocks,
        ln_f,
        head,
    })
}

/// Mean cross-entropy of the f32 model on the same windows as
/// [`super::int8::int8_loss`].
pub fn f32_loss(params: &LmParams, tokens: &[u8], windows: usize) -> Result<f64> {
    let t = params.cfg.ctx;
    let starts = window_starts(tokens.len(), t + 1, windows)?;
    let mut total = 0.0;
    for &s in &starts {
        let w = &tokens[s..s + t + 1];
        let logits = F32Step::logits_of(params, &w[..t])?;
        total += super::infer::cross_entropy(&logits, w);
    }
    Ok(total / starts.len() as f64)
}
