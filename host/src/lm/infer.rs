//! The f32 reference of one token step with a KV cache: what `axon
//! generate` runs from an f32 model, and what the quantizer observes to
//! calibrate every activation (`docs/lm.md`, "The model").
//!
//! Products go through the core's canonical-order f32 kernels
//! ([`axon_core::kernels::gemv_f32`]), LayerNorm and softmax are plain
//! loops in f32 (the softmax's sum and the LayerNorm's moments in f64, then
//! rounded once).

use super::config::LN_EPS;
use super::params::{head_index, ln_f_index, LayerParam, LmParams, POS_EMB, TOK_EMB};
use anyhow::{bail, Result};
use axon_core::kernels::gemv_f32;

/// A named activation of the token step, as the quantizer calibrates it.
/// `usize` is the block; [`Point::Scores`] and [`Point::Probs`] carry the
/// head too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Point {
    /// The token's embedding row.
    TokEmb,
    /// The position's embedding row.
    PosEmb,
    /// Their sum: the residual stream entering block 0.
    Embed,
    /// Block `l`'s first LayerNorm output.
    Ln1(usize),
    /// The query.
    Q(usize),
    /// The key.
    K(usize),
    /// The value.
    V(usize),
    /// Head `h`'s scaled scores `q·k[i]/√Dh` over positions `0..=p`.
    Scores(usize, usize),
    /// Head `h`'s attention probabilities over `0..=p`.
    Probs(usize, usize),
    /// The heads' outputs side by side `[D]`, before the output projection.
    Attn(usize),
    /// The output projection.
    Proj(usize),
    /// The residual stream after attention.
    Res1(usize),
    /// The second LayerNorm output.
    Ln2(usize),
    /// The feed-forward layer before GELU `[F]`.
    Ff1(usize),
    /// After GELU.
    Gelu(usize),
    /// The feed-forward down projection.
    Ff2(usize),
    /// The residual stream after the block.
    Res2(usize),
    /// The final LayerNorm output.
    LnF,
    /// The logits `[V]`.
    Logits,
}

/// LayerNorm of `x` into `y` (biased variance, ε = 1e-5, as PyTorch); the
/// mean and variance summed in f64 and rounded once to f32.
pub fn layer_norm(x: &[f32], g: &[f32], b: &[f32], y: &mut [f32]) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let (mean, inv) = (mean as f32, (1.0 / (var + f64::from(LN_EPS)).sqrt()) as f32);
    for (((yi, &xi), &gi), &bi) in y.iter_mut().zip(x).zip(g).zip(b) {
        *yi = (xi - mean) * inv * gi + bi;
    }
}

/// Softmax of `x` in place: the maximum subtracted, `exp` in f32, the sum
/// in f64.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inv = (1.0 / sum) as f32;
    x.iter_mut().for_each(|v| *v *= inv);
}

/// One model's token steps: the KV cache and the scratch rows.
#[derive(Debug, Clone)]
pub struct F32Step<'p> {
    p: &'p LmParams,
    /// Per block, the keys then the values of positions `0..pos`, `[T, D]` each.
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    pos: usize,
    x: Vec<f32>,
    h: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    scores: Vec<f32>,
    tmp: Vec<f32>,
    ff: Vec<f32>,
    logits: Vec<f32>,
    zeros: Vec<f32>,
}

impl<'p> F32Step<'p> {
    /// An empty cache for `p`.
    pub fn new(p: &'p LmParams) -> F32Step<'p> {
        let c = p.cfg;
        let (d, t) = (c.d_model, c.ctx);
        F32Step {
            p,
            k: vec![vec![0.0; t * d]; c.n_layer],
            v: vec![vec![0.0; t * d]; c.n_layer],
            pos: 0,
            x: vec![0.0; d],
            h: vec![0.0; d],
            qkv: vec![0.0; 3 * d],
            att: vec![0.0; d],
            scores: vec![0.0; t],
            tmp: vec![0.0; d],
            ff: vec![0.0; c.d_ff],
            logits: vec![0.0; c.vocab],
            zeros: vec![0.0; c.vocab.max(c.d_model)],
        }
    }

    /// Tokens seen since the last [`F32Step::reset`]: the position the next
    /// step runs at.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Forgets the cache.
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Runs `token` at the current position and returns the next token's
    /// logits; `obs` sees every [`Point`]. An error past the context or
    /// for a token outside the vocabulary.
    pub fn step(&mut self, token: u8, obs: &mut dyn FnMut(Point, &[f32])) -> Result<&[f32]> {
        let p = self.p;
        let c = p.cfg;
        let (d, dh, f) = (c.d_model, c.head_dim(), c.d_ff);
        let (pos, tok) = (self.pos, token as usize);
        if pos >= c.ctx {
            bail!("position {pos} is past the context of {} tokens", c.ctx);
        }
        if tok >= c.vocab {
            bail!("token {tok} is outside the vocabulary of {}", c.vocab);
        }
        let te = &p.tensor(TOK_EMB)[tok * d..(tok + 1) * d];
        let pe = &p.tensor(POS_EMB)[pos * d..(pos + 1) * d];
        obs(Point::TokEmb, te);
        obs(Point::PosEmb, pe);
        for ((x, &a), &b) in self.x.iter_mut().zip(te).zip(pe) {
            *x = a + b;
        }
        obs(Point::Embed, &self.x);
        let scale = 1.0 / (dh as f32).sqrt();
        for l in 0..c.n_layer {
            let w = |q: LayerParam| p.layer(l, q);
            layer_norm(
                &self.x,
                w(LayerParam::Ln1G),
                w(LayerParam::Ln1B),
                &mut self.h,
            );
            obs(Point::Ln1(l), &self.h);
            gemv(
                w(LayerParam::Wqkv),
                &self.h,
                w(LayerParam::Bqkv),
                &mut self.qkv,
            );
            let (q, kv) = self.qkv.split_at(d);
            let (k, v) = kv.split_at(d);
            obs(Point::Q(l), q);
            obs(Point::K(l), k);
            obs(Point::V(l), v);
            self.k[l][pos * d..(pos + 1) * d].copy_from_slice(k);
            self.v[l][pos * d..(pos + 1) * d].copy_from_slice(v);
            for hd in 0..c.n_head {
                let cols = hd * dh..(hd + 1) * dh;
                let s = &mut self.scores[..=pos];
                for (i, si) in s.iter_mut().enumerate() {
                    let krow = &self.k[l][i * d..(i + 1) * d][cols.clone()];
                    *si = dot(&q[cols.clone()], krow) * scale;
                }
                obs(Point::Scores(l, hd), s);
                softmax(s);
                obs(Point::Probs(l, hd), s);
                let out = &mut self.att[cols.clone()];
                out.iter_mut().for_each(|o| *o = 0.0);
                for (i, &a) in s.iter().enumerate() {
                    let vrow = &self.v[l][i * d..(i + 1) * d][cols.clone()];
                    for (o, &vv) in out.iter_mut().zip(vrow) {
                        *o += a * vv;
                    }
                }
            }
            obs(Point::Attn(l), &self.att);
            gemv(
                w(LayerParam::Wo),
                &self.att,
                w(LayerParam::Bo),
                &mut self.tmp,
            );
            obs(Point::Proj(l), &self.tmp);
            self.x.iter_mut().zip(&self.tmp).for_each(|(x, &y)| *x += y);
            obs(Point::Res1(l), &self.x);
            layer_norm(
                &self.x,
                w(LayerParam::Ln2G),
                w(LayerParam::Ln2B),
                &mut self.h,
            );
            obs(Point::Ln2(l), &self.h);
            gemv(
                w(LayerParam::W1),
                &self.h,
                w(LayerParam::B1),
                &mut self.ff[..f],
            );
            obs(Point::Ff1(l), &self.ff);
            self.ff
                .iter_mut()
                .for_each(|v| *v = axon_core::activations::gelu_erf(*v));
            obs(Point::Gelu(l), &self.ff);
            gemv(
                w(LayerParam::W2),
                &self.ff,
                w(LayerParam::B2),
                &mut self.tmp,
            );
            obs(Point::Ff2(l), &self.tmp);
            self.x.iter_mut().zip(&self.tmp).for_each(|(x, &y)| *x += y);
            obs(Point::Res2(l), &self.x);
        }
        let lf = ln_f_index(&c);
        layer_norm(&self.x, p.tensor(lf), p.tensor(lf + 1), &mut self.h);
        obs(Point::LnF, &self.h);
        let head = p.tensor(head_index(&c));
        gemv(head, &self.h, &self.zeros[..c.vocab], &mut self.logits);
        obs(Point::Logits, &self.logits);
        self.pos += 1;
        Ok(&self.logits)
    }

    /// The logits of every position of `tokens` (at most the context),
    /// from an empty cache: row `i` predicts token `i + 1`.
    pub fn logits_of(p: &LmParams, tokens: &[u8]) -> Result<Vec<Vec<f32>>> {
        let mut s = F32Step::new(p);
        let mut out = Vec::with_capacity(tokens.len());
        for &t in tokens {
            out.push(s.step(t, &mut |_, _| {})?.to_vec());
        }
        Ok(out)
    }
}

/// Mean cross-entropy in nats per character of predicting each token of
/// `window` from those before it (the first is context only), f64
/// log-softmax of `logits` rows.
pub fn cross_entropy(logits: &[Vec<f32>], window: &[u8]) -> f64 {
    let mut total = 0.0;
    for (row, &next) in logits.iter().zip(&window[1..]) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = row
            .iter()
            .map(|&v| (f64::from(v) - max).exp())
            .sum::<f64>()
            .ln()
            + max;
        total += lse - f64::from(row[next as usize]);
    }
    total / (window.len() - 1).max(1) as f64
}

fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    // Shapes come from a validated configuration.
    gemv_f32::gemv(w, x, b, y).expect("validated shapes");
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    gemv_f32::dot(a, b).expect("equal lengths")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::LmConfig;

    fn tiny() -> LmParams {
        let cfg = LmConfig {
            vocab: 7,
            d_model: 8,
            n_layer: 2,
            n_head: 2,
            ctx: 6,
            d_ff: 16,
            tied: false,
        };
        let mut p = LmParams::init(cfg, 3).unwrap();
        // Non-trivial norms and biases so every term is exercised.
        let mut r = crate::train::rng::Rng::new(9, 9);
        for t in p.data.iter_mut() {
            for v in t.iter_mut() {
                *v += (r.next_f64() as f32 - 0.5) * 0.3;
            }
        }
        p
    }

    /// The whole sequence computed naively, attention as full matrices with
    /// a causal mask, in f64.
    fn naive(p: &LmParams, toks: &[u8]) -> Vec<Vec<f64>> {
        let c = p.cfg;
        let (d, dh, n) = (c.d_model, c.head_dim(), toks.len());
        let lin = |w: &[f32], b: Option<&[f32]>, x: &[f64], o: usize| -> Vec<f64> {
            (0..o)
                .map(|r| {
                    let s: f64 = (0..x.len())
                        .map(|i| f64::from(w[r * x.len() + i]) * x[i])
                        .sum();
                    s + b.map_or(0.0, |b| f64::from(b[r]))
                })
                .collect()
        };
        let ln = |x: &[f64], g: &[f32], b: &[f32]| -> Vec<f64> {
            let m = x.iter().sum::<f64>() / x.len() as f64;
            let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64;
            x.iter()
                .enumerate()
                .map(|(i, a)| (a - m) / (v + 1e-5).sqrt() * f64::from(g[i]) + f64::from(b[i]))
                .collect()
        };
        let mut xs: Vec<Vec<f64>> = (0..n)
            .map(|t| {
                (0..d)
                    .map(|j| {
                        f64::from(p.tensor(TOK_EMB)[toks[t] as usize * d + j])
                            + f64::from(p.tensor(POS_EMB)[t * d + j])
                    })
                    .collect()
            })
            .collect();
        for l in 0..c.n_layer {
            let w = |q| p.layer(l, q);
            let qkv: Vec<Vec<f64>> = xs
                .iter()
                .map(|x| {
                    let h = ln(x, w(LayerParam::Ln1G), w(LayerParam::Ln1B));
                    lin(w(LayerParam::Wqkv), Some(w(LayerParam::Bqkv)), &h, 3 * d)
                })
                .collect();
            for t in 0..n {
                let mut att = vec![0.0; d];
                for hd in 0..c.n_head {
                    let s: Vec<f64> = (0..=t)
                        .map(|i| {
                            (0..dh)
                                .map(|j| qkv[t][hd * dh + j] * qkv[i][d + hd * dh + j])
                                .sum::<f64>()
                                / (dh as f64).sqrt()
                        })
                        .collect();
                    let m = s.iter().copied().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for j in 0..dh {
                        att[hd * dh + j] = (0..=t)
                            .map(|i| e[i] / z * qkv[i][2 * d + hd * dh + j])
                            .sum();
                    }
                }
                let o = lin(w(LayerParam::Wo), Some(w(LayerParam::Bo)), &att, d);
                xs[t].iter_mut().zip(o).for_each(|(a, b)| *a += b);
            }
            for x in xs.iter_mut() {
                let h = ln(x, w(LayerParam::Ln2G), w(LayerParam::Ln2B));
                let u: Vec<f64> = lin(w(LayerParam::W1), Some(w(LayerParam::B1)), &h, c.d_ff)
                    .into_iter()
                    .map(|v| 0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2)))
                    .collect();
                let o = lin(w(LayerParam::W2), Some(w(LayerParam::B2)), &u, d);
                x.iter_mut().zip(o).for_each(|(a, b)| *a += b);
            }
        }
        let lf = ln_f_index(&c);
        xs.iter()
            .map(|x| {
                let h = ln(x, p.tensor(lf), p.tensor(lf + 1));
                lin(p.head(), None, &h, c.vocab)
            })
            .collect()
    }

    #[test]
    fn the_token_step_equals_the_whole_sequence_in_f64() {
        let p = tiny();
        let toks = [3u8, 0, 6, 6, 2, 5];
        let got = F32Step::logits_of(&p, &toks).unwrap();
        let want = naive(&p, &toks);
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            for (a, b) in g.iter().zip(w) {
                assert!((f64::from(*a) - b).abs() < 1e-4, "position {t}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn the_observer_sees_every_point_and_the_context_is_enforced() {
        let p = tiny();
        let mut s = F32Step::new(&p);
        let mut seen = Vec::new();
        s.step(1, &mut |pt, v| seen.push((pt, v.len()))).unwrap();
        assert!(seen.contains(&(Point::Scores(1, 1), 1)));
        assert!(seen.contains(&(Point::Ff1(0), 16)));
        assert_eq!(seen.last(), Some(&(Point::Logits, 7)));
        assert_eq!(seen.len(), 3 + 2 * (4 + 2 * 2 + 8) + 2);
        for _ in 1..6 {
            s.step(2, &mut |_, _| {}).unwrap();
        }
        let e = s.step(2, &mut |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("past the context"), "{e}");
        assert!(s.step(2, &mut |_, _| {}).is_err());
        s.reset();
        assert!(s
            .step(7, &mut |_, _| {})
            .unwrap_err()
            .to_string()
            .contains("vocabulary"));
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_v() {
        let rows = vec![vec![0.0f32; 7]; 3];
        let ce = cross_entropy(&rows, &[0, 1, 2, 3]);
        assert!((ce - 7f64.ln()).abs() < 1e-12);
    }
}
