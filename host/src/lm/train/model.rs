//! The whole GPT of `docs/lm.md` over one chunk of `n` sequences of
//! `len ≤ T` positions: forward, mean cross-entropy, backward. Generic over
//! [`Float`]: f32 to train, f64 for the gradient check. One thread runs a
//! chunk; the result depends only on the chunk and the parameters.

use super::attention::{attention_backward, attention_forward, Scratch, Shape};
use crate::lm::config::LN_EPS;
use crate::lm::params::{head_index, layer_index, ln_f_index, LayerParam as P, POS_EMB, TOK_EMB};
use crate::lm::LmConfig;
use crate::ops::embedding::train::{embedding_backward, embedding_forward};
use crate::ops::gelu::train::{gelu_backward, gelu_forward};
use crate::ops::layer_norm::train::{layer_norm_backward, layer_norm_forward};
use crate::ops::matmul::train::{linear_backward, linear_forward};
use crate::ops::matmul::{max_lanes, sum_lanes, Float};

/// One block's activations, kept for the backward (rows `M = n·len`).
#[derive(Debug, Clone)]
struct Block<T> {
    /// LayerNorm 1: output `(M, D)`, row means and `1/σ` `(M)`.
    ln1: Vec<T>,
    ln1_mean: Vec<T>,
    ln1_rstd: Vec<T>,
    /// `(M, 3D)`.
    qkv: Vec<T>,
    /// `(n, H, len, len)`, rows' prefixes.
    att: Vec<T>,
    /// Heads' outputs `(M, D)`.
    y: Vec<T>,
    /// The stream after attention `(M, D)`.
    mid: Vec<T>,
    ln2: Vec<T>,
    ln2_mean: Vec<T>,
    ln2_rstd: Vec<T>,
    /// Before and after GELU `(M, F)`.
    ff_pre: Vec<T>,
    ff_act: Vec<T>,
}

/// Everything one chunk's forward and backward write, allocated once for
/// a chunk shape and reused.
#[derive(Debug, Clone)]
pub struct Workspace<T> {
    n: usize,
    len: usize,
    /// Residual streams `(M, D)`: the embedding, then each block's output.
    xs: Vec<Vec<T>>,
    blocks: Vec<Block<T>>,
    lnf: Vec<T>,
    lnf_mean: Vec<T>,
    lnf_rstd: Vec<T>,
    /// `(M, V)`.
    logits: Vec<T>,
    /// Backward scratch: `(M, V)`, `(M, D)` ×3, `(M, 3D)`, `(M, F)` ×2.
    dlogits: Vec<T>,
    dx: Vec<T>,
    dh: Vec<T>,
    dy: Vec<T>,
    dqkv: Vec<T>,
    dff: Vec<T>,
    dpre: Vec<T>,
    scratch: Scratch<T>,
}

impl<T: Float> Workspace<T> {
    /// For chunks of `n` sequences of `len` positions.
    pub fn new(cfg: &LmConfig, n: usize, len: usize) -> Workspace<T> {
        let (d, f, v, h) = (cfg.d_model, cfg.d_ff, cfg.vocab, cfg.n_head);
        let m = n * len;
        let z = |k: usize| vec![T::ZERO; k];
        let block = Block {
            ln1: z(m * d),
            ln1_mean: z(m),
            ln1_rstd: z(m),
            qkv: z(m * 3 * d),
            att: z(n * h * len * len),
            y: z(m * d),
            mid: z(m * d),
            ln2: z(m * d),
            ln2_mean: z(m),
            ln2_rstd: z(m),
            ff_pre: z(m * f),
            ff_act: z(m * f),
        };
        Workspace {
            n,
            len,
            xs: vec![z(m * d); cfg.n_layer + 1],
            blocks: vec![block; cfg.n_layer],
            lnf: z(m * d),
            lnf_mean: z(m),
            lnf_rstd: z(m),
            logits: z(m * v),
            dlogits: z(m * v),
            dx: z(m * d),
            dh: z(m * d),
            dy: z(m * d),
            dqkv: z(m * 3 * d),
            dff: z(m * f),
            dpre: z(m * f),
            scratch: Scratch::new(cfg.head_dim(), len),
        }
    }

    /// The shape it was made for: (sequences, positions).
    pub fn shape(&self) -> (usize, usize) {
        (self.n, self.len)
    }

    /// The logits `(n·len, V)` of the last forward.
    pub fn logits(&self) -> &[T] {
        &self.logits
    }
}

/// `v[i]` and `v[j]` mutably (`i ≠ j`).
fn pair<T>(v: &mut [Vec<T>], i: usize, j: usize) -> (&mut [T], &mut [T]) {
    assert_ne!(i, j);
    if i < j {
        let (a, b) = v.split_at_mut(j);
        (&mut a[i], &mut b[0])
    } else {
        let (a, b) = v.split_at_mut(i);
        (&mut b[0], &mut a[j])
    }
}

/// Forward over the chunk whose inputs are `tokens` and next tokens
/// `targets` (both `n·len`, sequence-major) with the shape of `ws`; returns
/// the sum of the positions' cross-entropies (nats). With `grads = Some((g,
/// scale))` it then runs the backward of `scale ×` that sum, adding into
/// `g` (same tensors as `params`).
#[inline(always)]
pub fn forward_backward<T: Float>(
    cfg: &LmConfig,
    params: &[Vec<T>],
    tokens: &[u8],
    targets: &[u8],
    ws: &mut Workspace<T>,
    grads: Option<(&mut [Vec<T>], T)>,
) -> f64 {
    let (n, len) = (ws.n, ws.len);
    let (d, f, v) = (cfg.d_model, cfg.d_ff, cfg.vocab);
    let m = n * len;
    assert!(tokens.len() == m && targets.len() == m && len <= cfg.ctx);
    let eps = T::from_f64(f64::from(LN_EPS));
    let shape = Shape {
        len,
        d,
        heads: cfg.n_head,
    };
    let pl = |l: usize, p: P| params[layer_index(l, p)].as_slice();

    embedding_forward(
        &mut ws.xs[0],
        tokens,
        len,
        &params[TOK_EMB],
        &params[POS_EMB],
        d,
    );
    for l in 0..cfg.n_layer {
        let (before, after) = ws.xs.split_at_mut(l + 1);
        let (x, out) = (&before[l], &mut after[0]);
        let b = &mut ws.blocks[l];
        layer_norm_forward(
            &mut b.ln1,
            &mut b.ln1_mean,
            &mut b.ln1_rstd,
            x,
            pl(l, P::Ln1G),
            pl(l, P::Ln1B),
            d,
            eps,
        );
        linear_forward(
            &mut b.qkv,
            &b.ln1,
            pl(l, P::Wqkv),
            Some(pl(l, P::Bqkv)),
            false,
            m,
            3 * d,
            d,
        );
        for s in 0..n {
            attention_forward(
                &mut b.y[s * len * d..][..len * d],
                &mut b.att[s * cfg.n_head * len * len..][..cfg.n_head * len * len],
                &b.qkv[s * len * 3 * d..][..len * 3 * d],
                shape,
                &mut ws.scratch,
            );
        }
        b.mid.copy_from_slice(x);
        linear_forward(
            &mut b.mid,
            &b.y,
            pl(l, P::Wo),
            Some(pl(l, P::Bo)),
            true,
            m,
            d,
            d,
        );
        layer_norm_forward(
            &mut b.ln2,
            &mut b.ln2_mean,
            &mut b.ln2_rstd,
            &b.mid,
            pl(l, P::Ln2G),
            pl(l, P::Ln2B),
            d,
            eps,
        );
        linear_forward(
            &mut b.ff_pre,
            &b.ln2,
            pl(l, P::W1),
            Some(pl(l, P::B1)),
            false,
            m,
            f,
            d,
        );
        gelu_forward(&mut b.ff_act, &b.ff_pre);
        out.copy_from_slice(&b.mid);
        linear_forward(
            out,
            &b.ff_act,
            pl(l, P::W2),
            Some(pl(l, P::B2)),
            true,
            m,
            d,
            f,
        );
    }
    let lf = ln_f_index(cfg);
    let head = head_index(cfg);
    layer_norm_forward(
        &mut ws.lnf,
        &mut ws.lnf_mean,
        &mut ws.lnf_rstd,
        &ws.xs[cfg.n_layer],
        &params[lf],
        &params[lf + 1],
        d,
        eps,
    );
    linear_forward(&mut ws.logits, &ws.lnf, &params[head], None, false, m, v, d);

    // Cross-entropy; its gradient (softmax − one-hot)·scale into dlogits.
    let scale = grads.as_ref().map(|g| g.1);
    let mut loss = 0.0f64;
    for ((row, drow), &t) in ws
        .logits
        .chunks_exact(v)
        .zip(ws.dlogits.chunks_exact_mut(v))
        .zip(targets)
    {
        let mx = max_lanes(row);
        for (e, &z) in drow.iter_mut().zip(row) {
            *e = (z - mx).vexp();
        }
        let sum = sum_lanes(drow);
        let t = t as usize;
        loss += (sum.ln() - (row[t] - mx)).to_f64();
        if let Some(scale) = scale {
            let k = scale / sum;
            for e in drow.iter_mut() {
                *e = *e * k;
            }
            drow[t] = drow[t] - scale;
        }
    }
    let Some((g, _)) = grads else {
        return loss;
    };

    // Backward, last op first.
    linear_backward(
        &ws.dlogits,
        &ws.lnf,
        &params[head],
        &mut g[head],
        None,
        Some(&mut ws.dh),
        false,
        m,
        v,
        d,
    );
    {
        let (dg, db) = pair(g, lf, lf + 1);
        layer_norm_backward(
            &mut ws.dx,
            dg,
            db,
            &ws.dh,
            &ws.xs[cfg.n_layer],
            &ws.lnf_mean,
            &ws.lnf_rstd,
            &params[lf],
            d,
            false,
        );
    }
    let gl = |l: usize, p: P| layer_index(l, p);
    for l in (0..cfg.n_layer).rev() {
        let b = &ws.blocks[l];
        // out = mid + GELU(ln2·W1ᵀ + b1)·W2ᵀ + b2
        {
            let (dw, db) = pair(g, gl(l, P::W2), gl(l, P::B2));
            linear_backward(
                &ws.dx,
                &b.ff_act,
                pl(l, P::W2),
                dw,
                Some(db),
                Some(&mut ws.dff),
                false,
                m,
                d,
                f,
            );
        }
        gelu_backward(&mut ws.dpre, &ws.dff, &b.ff_pre);
        {
            let (dw, db) = pair(g, gl(l, P::W1), gl(l, P::B1));
            linear_backward(
                &ws.dpre,
                &b.ln2,
                pl(l, P::W1),
                dw,
                Some(db),
                Some(&mut ws.dh),
                false,
                m,
                f,
                d,
            );
        }
        {
            let (dg, db) = pair(g, gl(l, P::Ln2G), gl(l, P::Ln2B));
            layer_norm_backward(
                &mut ws.dx,
                dg,
                db,
                &ws.dh,
                &b.mid,
                &b.ln2_mean,
                &b.ln2_rstd,
                pl(l, P::Ln2G),
                d,
                true,
            );
        }
        // mid = x + attention(ln1)·Woᵀ + bo
        {
            let (dw, db) = pair(g, gl(l, P::Wo), gl(l, P::Bo));
            linear_backward(
                &ws.dx,
                &b.y,
                pl(l, P::Wo),
                dw,
                Some(db),
                Some(&mut ws.dy),
                false,
                m,
                d,
                d,
            );
        }
        for s in 0..n {
            attention_backward(
                &mut ws.dqkv[s * len * 3 * d..][..len * 3 * d],
                &ws.dy[s * len * d..][..len * d],
                &b.att[s * cfg.n_head * len * len..][..cfg.n_head * len * len],
                &b.qkv[s * len * 3 * d..][..len * 3 * d],
                shape,
                &mut ws.scratch,
            );
        }
        {
            let (dw, db) = pair(g, gl(l, P::Wqkv), gl(l, P::Bqkv));
            linear_backward(
                &ws.dqkv,
                &b.ln1,
                pl(l, P::Wqkv),
                dw,
                Some(db),
                Some(&mut ws.dh),
                false,
                m,
                3 * d,
                d,
            );
        }
        {
            let (dg, db) = pair(g, gl(l, P::Ln1G), gl(l, P::Ln1B));
            layer_norm_backward(
                &mut ws.dx,
                dg,
                db,
                &ws.dh,
                &ws.xs[l],
                &b.ln1_mean,
                &b.ln1_rstd,
                pl(l, P::Ln1G),
                d,
                true,
            );
        }
    }
    let (dtok, dpos) = pair(g, TOK_EMB, POS_EMB);
    embedding_backward(&ws.dx, tokens, len, dtok, dpos, d);
    loss
}
