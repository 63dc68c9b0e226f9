//! One token step of the int8 model over a KV cache in caller memory; it
//! reads top to bottom like the table in `docs/lm.md`.

use super::LmModel;
use crate::ops::batch_matmul::{matmul_i8_strided, Strided};
use crate::ops::embedding::gather_i8;
use crate::ops::layer_norm::layer_norm_i8;
use crate::quant::softmax_i8;
use crate::Error;

/// The ops of a step, as a [`Probe`] sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OpKind {
    /// GATHER of the token and position rows and their ADD.
    Embed = 0,
    /// A layer norm.
    LayerNorm,
    /// The query, key and value projections.
    Qkv,
    /// `q·kᵀ` over the prefix, every head.
    Scores,
    /// The softmax of the scores, every head.
    Softmax,
    /// Probabilities times values, every head.
    Pv,
    /// The attention output projection.
    Proj,
    /// A residual ADD.
    Residual,
    /// The feed-forward up projection.
    Ff1,
    /// The GELU table.
    Gelu,
    /// The feed-forward down projection.
    Ff2,
    /// The head (logits).
    Head,
}

impl OpKind {
    /// Every kind, in code order.
    pub const ALL: [OpKind; 12] = [
        OpKind::Embed,
        OpKind::LayerNorm,
        OpKind::Qkv,
        OpKind::Scores,
        OpKind::Softmax,
        OpKind::Pv,
        OpKind::Proj,
        OpKind::Residual,
        OpKind::Ff1,
        OpKind::Gelu,
        OpKind::Ff2,
        OpKind::Head,
    ];

    /// Its name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            OpKind::Embed => "embed",
            OpKind::LayerNorm => "layer_norm",
            OpKind::Qkv => "qkv",
            OpKind::Scores => "scores",
            OpKind::Softmax => "softmax",
            OpKind::Pv => "pv",
            OpKind::Proj => "proj",
            OpKind::Residual => "residual",
            OpKind::Ff1 => "ff1",
            OpKind::Gelu => "gelu",
            OpKind::Ff2 => "ff2",
            OpKind::Head => "head",
        }
    }
}

/// Called at every op boundary of a step: [`Probe::begin`] before the
/// first op, [`Probe::end`] after each (with the op that just ended and its
/// output codes: the query for [`OpKind::Qkv`], one head's row for the
/// per-head ops), so a probe that reads a clock in both attributes each
/// interval to one op, and a host probe can compare activations. The
/// default methods do nothing and compile away.
pub trait Probe {
    /// A step starts.
    #[inline(always)]
    fn begin(&mut self) {}
    /// `op` of block `layer` (`None`: outside the blocks) ended with
    /// output `out`.
    #[inline(always)]
    fn end(&mut self, op: OpKind, layer: Option<u8>, out: &[i8]) {
        let _ = (op, layer, out);
    }
}

/// The probe that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbe;

impl Probe for NoProbe {}

/// A generation in progress: the model, its KV cache and scratch (caller
/// memory, [`LmModel::kv_len`] and [`LmModel::scratch_len`] bytes), the
/// position (tokens seen) and the window of the tokens seen.
pub struct Session<'s, 'a, P: Probe = NoProbe> {
    model: &'s LmModel<'a>,
    kv: &'s mut [i8],
    scratch: &'s mut [i8],
    pos: usize,
    /// The probe, public so its owner can read what it measured.
    pub probe: P,
}

/// The first `n` bytes of `buf`, the rest left in `buf`.
fn take<'x>(buf: &mut &'x mut [i8], n: usize) -> Result<&'x mut [i8], Error> {
    let all = core::mem::take(buf);
    let found = all.len();
    let (head, rest) = all
        .split_at_mut_checked(n)
        .ok_or(Error::ShapeMismatch { expected: n, found })?;
    *buf = rest;
    Ok(head)
}

/// Bytes `range` of `buf`, or a shape error.
fn span(buf: &mut [i8], start: usize, len: usize) -> Result<&mut [i8], Error> {
    let found = buf.len();
    buf.get_mut(start..start.saturating_add(len))
        .ok_or(Error::ShapeMismatch {
            expected: start.saturating_add(len),
            found,
        })
}

impl<'s, 'a> Session<'s, 'a, NoProbe> {
    /// A session at position 0. Errors: `kv` or `scratch` shorter than the
    /// model needs ([`Error::ShapeMismatch`]).
    pub fn new(
        model: &'s LmModel<'a>,
        kv: &'s mut [i8],
        scratch: &'s mut [i8],
    ) -> Result<Self, Error> {
        Self::with_probe(model, kv, scratch, NoProbe)
    }
}

impl<'s, 'a, P: Probe> Session<'s, 'a, P> {
    /// [`Session::new`] with a probe.
    pub fn with_probe(
        model: &'s LmModel<'a>,
        kv: &'s mut [i8],
        scratch: &'s mut [i8],
        probe: P,
    ) -> Result<Self, Error> {
        if kv.len() < model.kv_len() {
            return Err(Error::ShapeMismatch {
                expected: model.kv_len(),
                found: kv.len(),
            });
        }
        if scratch.len() < model.scratch_len() {
            return Err(Error::ShapeMismatch {
                expected: model.scratch_len(),
                found: scratch.len(),
            });
        }
        Ok(Session {
            model,
            kv,
            scratch,
            pos: 0,
            probe,
        })
    }

    /// The model.
    pub fn model(&self) -> &'s LmModel<'a> {
        self.model
    }

    /// Tokens seen since the start (or the last re-encode): the position
    /// of the next token.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Back to position 0 (the cache is overwritten as positions come).
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// The tokens at positions `0..pos`.
    pub fn tokens(&self) -> &[i8] {
        let s = self.model.shape;
        let start = s.scratch_len() - s.ctx;
        self.scratch.get(start..start + self.pos).unwrap_or(&[])
    }

    /// The logits codes of the last step (meaningless before the first).
    pub fn logits(&self) -> &[i8] {
        let s = self.model.shape;
        let start = s.scratch_len() - s.ctx - s.vocab;
        self.scratch.get(start..start + s.vocab).unwrap_or(&[])
    }

    /// Re-encodes the last `keep` tokens at positions `0..keep` (the KV
    /// cache recomputed for that window); the logits are then those after
    /// the last of them. Errors: `keep` 0 or above the position.
    pub fn reencode(&mut self, keep: usize) -> Result<(), Error> {
        if keep == 0 || keep > self.pos {
            return Err(Error::IndexOutOfRange {
                index: keep,
                len: self.pos + 1,
            });
        }
        let s = self.model.shape;
        let start = s.scratch_len() - s.ctx;
        let window = span(self.scratch, start, s.ctx)?;
        // The last `keep` tokens to the front (no panicking range: `get`).
        for i in 0..keep {
            if let Some(&t) = window.get(self.pos - keep + i) {
                if let Some(slot) = window.get_mut(i) {
                    *slot = t;
                }
            }
        }
        self.pos = 0;
        for i in 0..keep {
            let t = *self.scratch.get(start + i).ok_or(Error::IndexOutOfRange {
                index: i,
                len: s.ctx,
            })?;
            self.step(t as u8)?;
        }
        Ok(())
    }

    /// Runs token `token` at the current position and returns the logits
    /// codes of the next token; the position advances. Errors: a token
    /// outside the vocabulary, or the position at the context
    /// ([`Error::IndexOutOfRange`]: the caller re-encodes first, as
    /// [`super::Generator`] does).
    pub fn step(&mut self, token: u8) -> Result<&[i8], Error> {
        let m = self.model;
        let s = m.shape;
        let (d, f, t, dh) = (s.d_model, s.d_ff, s.ctx, s.head_dim());
        let p = self.pos;
        if token as usize >= s.vocab {
            return Err(Error::IndexOutOfRange {
                index: token as usize,
                len: s.vocab,
            });
        }
        if p >= t {
            return Err(Error::IndexOutOfRange { index: p, len: t });
        }
        let r = m.rounding;
        self.probe.begin();
        let mut buf: &mut [i8] = &mut *self.scratch;
        let x = take(&mut buf, d)?; // (D,) the residual stream
        let h = take(&mut buf, d)?; // (D,) a layer norm's output
        let q = take(&mut buf, d)?; // (D,) the query
        let att = take(&mut buf, d)?; // (D,) the heads' outputs side by side
        let tmp = take(&mut buf, d)?; // (D,) a projection before its residual add
        let ff = take(&mut buf, f)?; // (F,)
        let ffg = take(&mut buf, f)?; // (F,) after GELU
        let scores = take(&mut buf, t)?; // (T,) one head's scores over 0..=p
        let probs = take(&mut buf, t)?; // (T,)
        let logits = take(&mut buf, s.vocab)?; // (V,)
        let window = take(&mut buf, t)?; // (T,) the tokens at 0..p
        *span(window, p, 1)?
            .first_mut()
            .ok_or(Error::IndexOutOfRange { index: p, len: t })? = token as i8;

        gather_i8(m.tok_emb, d, token as usize, tmp)?;
        gather_i8(m.pos_emb, d, p, h)?;
        for ((xi, &a), &b) in x.iter_mut().zip(tmp.iter()).zip(h.iter()) {
            *xi = m.embed.add(a, b);
        }
        self.probe.end(super::OpKind::Embed, None, x);

        let plane = t * d;
        for (l, blk) in m.blocks().iter().enumerate() {
            let layer = Some(l as u8);
            let kv = span(self.kv, 2 * l * plane, 2 * plane)?;
            let (kc, vc) = kv.split_at_mut_checked(plane).ok_or(Error::ShapeMismatch {
                expected: 2 * plane,
                found: 0,
            })?;

            layer_norm_i8(&blk.ln1, x, h)?;
            self.probe.end(super::OpKind::LayerNorm, layer, h);
            blk.q.run(r, h, q)?;
            blk.k.run(r, h, span(kc, p * d, d)?)?;
            blk.v.run(r, h, span(vc, p * d, d)?)?;
            self.probe.end(super::OpKind::Qkv, layer, q);

            let n = p + 1;
            let sc = span(scores, 0, n)?;
            let pr = span(probs, 0, n)?;
            for j in 0..s.n_head {
                let c0 = j * dh;
                let qj = Strided::contiguous(q.get(c0..c0 + dh).unwrap_or(&[]), dh);
                let kj = Strided {
                    data: kc.get(c0..).unwrap_or(&[]),
                    stride: d,
                };
                matmul_i8_strided(&blk.scores, qj, kj, true, (1, dh, n), sc, n)?;
                self.probe.end(super::OpKind::Scores, layer, sc);
                softmax_i8(&blk.softmax, sc, pr);
                self.probe.end(super::OpKind::Softmax, layer, pr);
                let vj = Strided {
                    data: vc.get(c0..).unwrap_or(&[]),
                    stride: d,
                };
                matmul_i8_strided(
                    &blk.pv,
                    Strided::contiguous(pr, n),
                    vj,
                    false,
                    (1, n, dh),
                    span(att, c0, dh)?,
                    dh,
                )?;
                self.probe.end(
                    super::OpKind::Pv,
                    layer,
                    att.get(c0..c0 + dh).unwrap_or(&[]),
                );
            }

            blk.proj.run(r, att, tmp)?;
            self.probe.end(super::OpKind::Proj, layer, tmp);
            for (xi, &a) in x.iter_mut().zip(tmp.iter()) {
                *xi = blk.add1.add(*xi, a);
            }
            self.probe.end(super::OpKind::Residual, layer, x);

            layer_norm_i8(&blk.ln2, x, h)?;
            self.probe.end(super::OpKind::LayerNorm, layer, h);
            blk.ff1.run(r, h, ff)?;
            self.probe.end(super::OpKind::Ff1, layer, ff);
            crate::ops::lut::apply(blk.gelu, ff, ffg);
            self.probe.end(super::OpKind::Gelu, layer, ffg);
            blk.ff2.run(r, ffg, tmp)?;
            self.probe.end(super::OpKind::Ff2, layer, tmp);
            for (xi, &a) in x.iter_mut().zip(tmp.iter()) {
                *xi = blk.add2.add(*xi, a);
            }
            self.probe.end(super::OpKind::Residual, layer, x);
        }

        layer_norm_i8(&m.ln_f, x, h)?;
        self.probe.end(super::OpKind::LayerNorm, None, h);
        m.head.run(r, h, logits)?;
        self.probe.end(super::OpKind::Head, None, logits);
        self.pos = p + 1;
        Ok(logits)
    }
}
