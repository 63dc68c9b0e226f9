//! The int8 language model on the host: its owned form ([`Int8Lm`], what
//! the quantizer builds), its blob writer (the layout is the core's one
//! definition, `axon_core::lm::blob`; the round-trip tests below hold the
//! two together), the int8 validation loss, and generation through the
//! same [`Generator`] the device runs.

use anyhow::{bail, Context, Result};
use axon_core::crc32::crc32;
use axon_core::lm::blob::{header, MAGIC, VERSION};
use axon_core::lm::{self as core_lm, LmModel, Parts, Session, Shape};
use axon_core::ops::add::AddInt8;
use axon_core::ops::batch_matmul::MatmulQuant;
use axon_core::ops::layer_norm::LayerNormQuant;
use axon_core::quant::{QuantParams, Rounding, SoftmaxParams};

/// An int8 fully connected layer, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Fc {
    /// `(out, in)` output-major symmetric codes.
    pub weights: Vec<i8>,
    /// `(out,)` at `s_in·s_w[c]`.
    pub bias: Vec<i32>,
    /// `(out,)` Q31 multipliers.
    pub multiplier: Vec<i32>,
    /// `(out,)` shifts.
    pub shift: Vec<i32>,
    /// The input's parameters.
    pub input: QuantParams,
    /// The output's parameters.
    pub output: QuantParams,
}

/// An integer layer norm, owned (`axon_core::ops::layer_norm`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ln {
    /// `(n,)` folded gains.
    pub gain: Vec<i32>,
    /// `(n,)` folded biases.
    pub bias: Vec<i32>,
    /// Their fraction bits `k`.
    pub shift: u32,
    /// `ε'`.
    pub epsilon: u64,
    /// The output's parameters.
    pub output: QuantParams,
}

/// One block, owned; fields as `axon_core::lm::Block`.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct Block {
    pub ln1: Ln,
    pub q: Fc,
    pub k: Fc,
    pub v: Fc,
    pub scores: MatmulQuant,
    /// The scores' parameters.
    pub scores_params: QuantParams,
    pub softmax: SoftmaxParams,
    pub pv: MatmulQuant,
    pub proj: Fc,
    pub add1: AddInt8,
    /// The residual stream's parameters after attention.
    pub res1: QuantParams,
    pub ln2: Ln,
    pub ff1: Fc,
    pub gelu: [i8; 256],
    pub ff2: Fc,
    pub add2: AddInt8,
    /// The residual stream's parameters after the block.
    pub res2: QuantParams,
}

/// The int8 model, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Lm {
    /// The shape.
    pub shape: Shape,
    /// How every requantization rounds.
    pub rounding: Rounding,
    /// The vocabulary's characters.
    pub vocab: String,
    /// `(V, D)` codes.
    pub tok_emb: Vec<i8>,
    /// Their parameters.
    pub tok_params: QuantParams,
    /// `(T, D)` codes.
    pub pos_emb: Vec<i8>,
    /// Their parameters.
    pub pos_params: QuantParams,
    /// Their sum.
    pub embed: AddInt8,
    /// The sum's parameters.
    pub embed_params: QuantParams,
    /// The blocks.
    pub blocks: Vec<Block>,
    /// The final layer norm.
    pub ln_f: Ln,
    /// The head.
    pub head: Fc,
}

/// Appends sections (`u32` count, elements, zero padding to 4 bytes).
struct Writer(Vec<u8>);

impl Writer {
    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
        self.pad();
    }

    fn i8s(&mut self, v: &[i8]) {
        self.bytes(bytemuck::cast_slice(v));
    }

    fn i32s(&mut self, v: &[i32]) {
        self.0.extend_from_slice(&(v.len() as u32).to_le_bytes());
        v.iter()
            .for_each(|x| self.0.extend_from_slice(&x.to_le_bytes()));
    }

    fn fc(&mut self, f: &core_lm::Fc<'_>) {
        self.i32s(&[f.input_zero_point, f.output_zero_point]);
        self.i8s(f.weights);
        self.i32s(f.bias);
        self.i32s(f.multiplier);
        self.i32s(f.shift);
    }

    fn ln(&mut self, l: &LayerNormQuant<'_>) {
        self.i32s(&[
            l.shift as i32,
            l.epsilon as u32 as i32,
            (l.epsilon >> 32) as u32 as i32,
        ]);
        self.i32s(l.gain);
        self.i32s(l.bias);
    }

    fn add(&mut self, a: &AddInt8) {
        self.i32s(&[
            a.input1_offset,
            a.input2_offset,
            a.output_offset,
            a.input1.0,
            a.input1.1,
            a.input2.0,
            a.input2.1,
            a.output.0,
            a.output.1,
        ]);
    }

    fn matmul(&mut self, m: &MatmulQuant) {
        self.i32s(&[
            m.lhs_zero_point,
            m.rhs_zero_point,
            m.output_zero_point,
            m.multiplier,
            m.shift,
        ]);
    }

    fn put<T: bytemuck::Pod>(&mut self, f: axon_core::blob::format::Field, v: T) {
        self.0[f.offset..f.offset + std::mem::size_of::<T>()]
            .copy_from_slice(bytemuck::bytes_of(&v));
    }
}

/// The blob of `m` (`axon_core::lm::blob`'s layout, version 1).
pub fn write_blob(m: &LmModel<'_>) -> Vec<u8> {
    let s = m.shape;
    let mut w = Writer(vec![0; header::LAYOUT.len]);
    w.0[..4].copy_from_slice(&MAGIC);
    w.put(header::VERSION, VERSION);
    w.put(header::VOCAB, s.vocab as u16);
    w.put(header::D_MODEL, s.d_model as u16);
    w.put(header::N_LAYER, s.n_layer as u16);
    w.put(header::N_HEAD, s.n_head as u16);
    w.put(header::CTX, s.ctx as u16);
    w.put(header::D_FF_MINUS_ONE, (s.d_ff - 1) as u16);
    w.put(header::ROUNDING, m.rounding as u8);
    w.put(header::TIED, s.tied as u8);
    w.put(header::LOGITS_SCALE, m.logits.scale);
    w.put(header::LOGITS_ZERO_POINT, m.logits.zero_point);
    w.bytes(m.vocab.as_bytes());
    w.i8s(m.tok_emb);
    w.i8s(m.pos_emb);
    w.add(&m.embed);
    for b in m.blocks() {
        w.ln(&b.ln1);
        w.fc(&b.q);
        w.fc(&b.k);
        w.fc(&b.v);
        w.matmul(&b.scores);
        w.i32s(&[
            b.softmax.input_multiplier,
            b.softmax.input_left_shift,
            b.softmax.diff_min,
        ]);
        w.matmul(&b.pv);
        w.fc(&b.proj);
        w.add(&b.add1);
        w.ln(&b.ln2);
        w.fc(&b.ff1);
        w.i8s(b.gelu);
        w.fc(&b.ff2);
        w.add(&b.add2);
    }
    w.ln(&m.ln_f);
    w.fc(&m.head);
    let total = w.0.len() + 4;
    w.put(header::TOTAL_LEN, total as u32);
    let crc = crc32(&w.0);
    w.0.extend_from_slice(&crc.to_le_bytes());
    w.0
}

impl Fc {
    /// The core's view.
    pub fn view(&self) -> core_lm::Fc<'_> {
        core_lm::Fc {
            weights: &self.weights,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            input_zero_point: self.input.zero_point,
            output_zero_point: self.output.zero_point,
        }
    }
}

impl Ln {
    /// The core's view.
    pub fn view(&self) -> LayerNormQuant<'_> {
        LayerNormQuant {
            gain: &self.gain,
            bias: &self.bias,
            shift: self.shift,
            epsilon: self.epsilon,
        }
    }
}

impl Block {
    /// The core's view.
    pub fn view(&self) -> core_lm::Block<'_> {
        core_lm::Block {
            ln1: self.ln1.view(),
            q: self.q.view(),
            k: self.k.view(),
            v: self.v.view(),
            scores: self.scores,
            softmax: self.softmax,
            pv: self.pv,
            proj: self.proj.view(),
            add1: self.add1,
            ln2: self.ln2.view(),
            ff1: self.ff1.view(),
            gelu: &self.gelu,
            ff2: self.ff2.view(),
            add2: self.add2,
        }
    }
}

impl Int8Lm {
    /// The core's view of this model, in place.
    pub fn view(&self) -> Result<LmModel<'_>> {
        let blocks: Vec<core_lm::Block<'_>> = self.blocks.iter().map(Block::view).collect();
        LmModel::new(Parts {
            shape: self.shape,
            rounding: self.rounding,
            vocab: &self.vocab,
            tok_emb: &self.tok_emb,
            pos_emb: &self.pos_emb,
            embed: self.embed,
            blocks: &blocks,
            ln_f: self.ln_f.view(),
            head: self.head.view(),
            logits: self.head.output,
        })
        .map_err(|why| anyhow::anyhow!("the int8 model is malformed: {why}"))
    }

    /// Its blob.
    pub fn to_blob(&self) -> Result<Vec<u8>> {
        Ok(write_blob(&self.view()?))
    }
}

/// Bytes at a 4-aligned address, as [`axon_core::lm::parse`] needs.
#[derive(Debug, Clone)]
pub struct AlignedBlob {
    words: Vec<u32>,
    len: usize,
}

impl AlignedBlob {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> AlignedBlob {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBlob {
            words,
            len: bytes.len(),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    /// The parsed model.
    pub fn model(&self) -> Result<LmModel<'_>> {
        axon_core::lm::parse(self.bytes()).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Reads an int8 model file (`.axlm`) and checks it.
pub fn read_blob(path: &str) -> Result<AlignedBlob> {
    let bytes = std::fs::read(path).with_context(|| format!("reading the int8 model {path}"))?;
    let blob = AlignedBlob::new(&bytes);
    blob.model()
        .with_context(|| format!("{path} is not a valid int8 LM"))?;
    Ok(blob)
}

/// Evenly spaced starts of `count` windows of `len` tokens in `n` tokens.
pub fn window_starts(n: usize, len: usize, count: usize) -> Result<Vec<usize>> {
    if n < len || count == 0 {
        bail!("{n} tokens hold no window of {len} (asked for {count})");
    }
    let span = n - len;
    Ok((0..count)
        .map(|i| {
            if count == 1 {
                0
            } else {
                i * span / (count - 1)
            }
        })
        .collect())
}

/// Mean cross-entropy (nats per character) of the int8 model on `windows`
/// evenly spaced windows of `T + 1` tokens of `tokens`: each window's
/// first `T` tokens are stepped from position 0 and each step's logits
/// codes, dequantized, predict the next token (f64 log-softmax).
pub fn int8_loss(model: &LmModel<'_>, tokens: &[u8], windows: usize) -> Result<f64> {
    let s = model.shape;
    let mut kv = vec![0i8; model.kv_len()];
    let mut scratch = vec![0i8; model.scratch_len()];
    let (mut total, mut count) = (0.0f64, 0usize);
    let lp = model.logits;
    for start in window_starts(tokens.len(), s.ctx + 1, windows)? {
        let w = &tokens[start..start + s.ctx + 1];
        let mut session =
            Session::new(model, &mut kv, &mut scratch).map_err(|e| anyhow::anyhow!("{e}"))?;
        for (i, &t) in w[..s.ctx].iter().enumerate() {
            let logits = session
                .step(t)
                .map_err(|e| anyhow::anyhow!("window at {start}, position {i}: {e}"))?;
            let real: Vec<f64> = logits
                .iter()
                .map(|&q| lp.scale as f64 * (q as i32 - lp.zero_point) as f64)
                .collect();
            let max = real.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = real.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
            total += lse - real[w[i + 1] as usize];
            count += 1;
        }
    }
    Ok(total / count.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::quantize::{quantize, QuantizeOptions};
    use crate::lm::{LmConfig, LmParams, Vocab};
    use crate::train::rng::Rng;
    use axon_core::lm::LmBlobError;
    use axon_core::lm::{Generator, Sampler};

    fn tiny_cfg() -> LmConfig {
        LmConfig {
            vocab: 7,
            d_model: 8,
            n_layer: 2,
            n_head: 2,
            ctx: 8,
            d_ff: 16,
            tied: false,
        }
    }

    /// A random model whose gains and biases are not the init's 1 and 0,
    /// and random calibration tokens.
    fn tiny() -> (LmParams, Vocab, Vec<u8>) {
        let cfg = tiny_cfg();
        let mut p = LmParams::init(cfg, 11).unwrap();
        let mut rng = Rng::new(5, 9);
        for (name, data) in p.names.iter().zip(p.data.iter_mut()) {
            for v in data.iter_mut() {
                if name.ends_with(".g") {
                    *v = 0.5 + rng.next_f64() as f32;
                } else if name.ends_with(".b") || name.contains(".b") {
                    *v = (rng.next_f64() as f32 - 0.5) * 0.2;
                } else {
                    *v *= 10.0;
                }
            }
        }
        let vocab = Vocab::new("abcdefg".chars().collect()).unwrap();
        let toks = (0..400).map(|_| (rng.next_u64() % 7) as u8).collect();
        (p, vocab, toks)
    }

    fn int8() -> Int8Lm {
        let (p, v, toks) = tiny();
        let opts = QuantizeOptions {
            calib_windows: 8,
            ..QuantizeOptions::default()
        };
        quantize(&p, &v, &toks, &opts).unwrap()
    }

    #[test]
    fn the_blob_round_trips_to_the_same_model() {
        let m = int8();
        let blob = AlignedBlob::new(&m.to_blob().unwrap());
        let parsed = blob.model().unwrap();
        assert_eq!(parsed, m.view().unwrap());
        assert_eq!(write_blob(&parsed), blob.bytes());
    }

    fn parse_err(bytes: &[u8]) -> LmBlobError {
        axon_core::lm::parse(AlignedBlob::new(bytes).bytes()).unwrap_err()
    }

    /// `bytes` with the CRC recomputed.
    fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
        let n = bytes.len() - 4;
        let crc = crc32(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn every_truncation_and_corruption_is_a_clear_error() {
        let blob = int8().to_blob().unwrap();
        for n in 0..blob.len() {
            let e = parse_err(&blob[..n]);
            assert!(
                matches!(e, LmBlobError::Truncated { .. }),
                "length {n}: {e}"
            );
        }
        // Any flipped byte after the header's length field: the CRC.
        for at in (12..blob.len() - 4).step_by(7) {
            let mut b = blob.clone();
            b[at] ^= 0x40;
            let e = parse_err(&b);
            assert!(
                matches!(e, LmBlobError::ChecksumMismatch { .. }),
                "byte {at}: {e}"
            );
        }
        let mut b = blob.clone();
        b[0] = b'X';
        assert_eq!(parse_err(&b), LmBlobError::BadMagic);
        let mut b = blob.clone();
        b[4] = 9;
        assert_eq!(parse_err(&b), LmBlobError::UnsupportedVersion(9));
        // A shape the sections do not fit: named.
        let mut b = blob.clone();
        b[header::D_MODEL.offset] = 10;
        let e = parse_err(&resealed(b));
        assert!(e.to_string().contains("tok_emb.data"), "{e}");
        let mut b = blob.clone();
        b[header::N_HEAD.offset] = 3;
        let e = parse_err(&resealed(b));
        assert_eq!(
            e,
            LmBlobError::BadHeader {
                field: "shape",
                why: "n_head must divide d_model"
            }
        );
        // A zero point out of range in block 1's ff1.
        let m = int8();
        let mut bad = m.clone();
        bad.blocks[1].ff1.output.zero_point = 300;
        let e = parse_err(&bad.to_blob().unwrap());
        assert_eq!(
            e.to_string(),
            "LM blob section h1.ff1.params: a zero point is outside -128..=127"
        );
        let mut bad = m.clone();
        bad.blocks[0].ln2.epsilon = 0;
        let e = parse_err(&bad.to_blob().unwrap());
        assert!(e.to_string().contains("h0.ln2.params"), "{e}");
        // Extra bytes before the CRC.
        let mut b = blob[..blob.len() - 4].to_vec();
        b.extend_from_slice(&[0; 8]);
        let total = b.len() as u32 + 4;
        b[8..12].copy_from_slice(&total.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse_err(&resealed(b)),
            LmBlobError::TrailingBytes { len: 8 }
        );
        // Misaligned in memory.
        let a = AlignedBlob::new(&[&[0u8][..], &blob].concat());
        assert_eq!(
            axon_core::lm::parse(&a.bytes()[1..]),
            Err(LmBlobError::UnalignedBuffer)
        );
    }

    /// TFLite's FC written out: `Σ w·(x − zp_in) + b`, requantized.
    fn fc(f: &Fc, r: Rounding, x: &[i8]) -> Vec<i8> {
        let d_in = x.len();
        f.weights
            .chunks(d_in)
            .enumerate()
            .map(|(c, row)| {
                let acc: i64 = row
                    .iter()
                    .zip(x)
                    .map(|(&w, &v)| w as i64 * (v as i64 - f.input.zero_point as i64))
                    .sum();
                let acc = (acc + f.bias[c] as i64) as i32;
                (r.multiply(acc, f.multiplier[c], f.shift[c]) + f.output.zero_point)
                    .clamp(-128, 127) as i8
            })
            .collect()
    }

    fn mm(q: &MatmulQuant, a: &[i8], b: &[i8]) -> i8 {
        let acc: i64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| {
                (x as i64 - q.lhs_zero_point as i64) * (y as i64 - q.rhs_zero_point as i64)
            })
            .sum();
        (q.rounding.multiply(acc as i32, q.multiplier, q.shift) + q.output_zero_point)
            .clamp(-128, 127) as i8
    }

    fn ln(l: &Ln, x: &[i8]) -> Vec<i8> {
        let mut y = vec![0; x.len()];
        axon_core::ops::layer_norm::layer_norm_i8(&l.view(), x, &mut y).unwrap();
        y
    }

    /// The whole sequence at once, position by position, without a cache:
    /// every position's keys and values recomputed from the sequence.
    fn reference_logits(m: &Int8Lm, tokens: &[u8]) -> Vec<Vec<i8>> {
        let s = m.shape;
        let (d, dh, n) = (s.d_model, s.head_dim(), tokens.len());
        let r = m.rounding;
        let mut xs: Vec<Vec<i8>> = tokens
            .iter()
            .enumerate()
            .map(|(p, &t)| {
                let te = &m.tok_emb[t as usize * d..][..d];
                let pe = &m.pos_emb[p * d..][..d];
                te.iter()
                    .zip(pe)
                    .map(|(&a, &b)| m.embed.add(a, b))
                    .collect()
            })
            .collect();
        for b in &m.blocks {
            let h: Vec<Vec<i8>> = xs.iter().map(|x| ln(&b.ln1, x)).collect();
            let q: Vec<Vec<i8>> = h.iter().map(|h| fc(&b.q, r, h)).collect();
            let k: Vec<Vec<i8>> = h.iter().map(|h| fc(&b.k, r, h)).collect();
            let v: Vec<Vec<i8>> = h.iter().map(|h| fc(&b.v, r, h)).collect();
            for p in 0..n {
                let mut att = vec![0i8; d];
                for j in 0..s.n_head {
                    let cols = j * dh..(j + 1) * dh;
                    let sc: Vec<i8> = (0..=p)
                        .map(|i| mm(&b.scores, &q[p][cols.clone()], &k[i][cols.clone()]))
                        .collect();
                    let mut pr = vec![0i8; p + 1];
                    axon_core::quant::softmax_i8(&b.softmax, &sc, &mut pr);
                    for (c, col) in cols.clone().enumerate() {
                        let vcol: Vec<i8> = (0..=p).map(|i| v[i][col]).collect();
                        att[j * dh + c] = mm(&b.pv, &pr, &vcol);
                    }
                }
                let proj = fc(&b.proj, r, &att);
                let x1: Vec<i8> = xs[p]
                    .iter()
                    .zip(&proj)
                    .map(|(&a, &c)| b.add1.add(a, c))
                    .collect();
                let ff: Vec<i8> = fc(&b.ff1, r, &ln(&b.ln2, &x1))
                    .iter()
                    .map(|&c| b.gelu[c as u8 as usize])
                    .collect();
                let ff2 = fc(&b.ff2, r, &ff);
                xs[p] = x1
                    .iter()
                    .zip(&ff2)
                    .map(|(&a, &c)| b.add2.add(a, c))
                    .collect();
            }
        }
        xs.iter().map(|x| fc(&m.head, r, &ln(&m.ln_f, x))).collect()
    }

    #[test]
    fn the_token_step_equals_the_whole_sequence_reference() {
        let m = int8();
        let blob = AlignedBlob::new(&m.to_blob().unwrap());
        let model = blob.model().unwrap();
        let (mut kv, mut scratch) = (vec![0i8; model.kv_len()], vec![0i8; model.scratch_len()]);
        let mut rng = Rng::new(77, 1);
        for _ in 0..5 {
            let tokens: Vec<u8> = (0..m.shape.ctx)
                .map(|_| (rng.next_u64() % 7) as u8)
                .collect();
            let want = reference_logits(&m, &tokens);
            let mut s = Session::new(&model, &mut kv, &mut scratch).unwrap();
            for (p, &t) in tokens.iter().enumerate() {
                assert_eq!(s.step(t).unwrap(), &want[p][..], "position {p}");
            }
            assert_eq!(
                s.step(0),
                Err(axon_core::Error::IndexOutOfRange { index: 8, len: 8 })
            );
        }
        let mut s = Session::new(&model, &mut kv, &mut scratch).unwrap();
        assert_eq!(
            s.step(7),
            Err(axon_core::Error::IndexOutOfRange { index: 7, len: 7 })
        );
    }

    #[test]
    fn generation_is_deterministic_and_re_encodes_past_the_context() {
        let m = int8();
        let blob = AlignedBlob::new(&m.to_blob().unwrap());
        let model = blob.model().unwrap();
        let o = |prompt: &[u8], temperature: f32| crate::lm::generate::GenOptions {
            prompt: prompt.to_vec(),
            tokens: 30,
            temperature,
            top_k: 5,
            seed: 1234,
        };
        let gen = |o| crate::lm::generate::generate_int8(&model, &o).map(|g| g.tokens);
        let a = gen(o(&[1, 2], 0.9)).unwrap();
        assert_eq!(a, gen(o(&[1, 2], 0.9)).unwrap());
        assert!(a.iter().all(|&t| t < 7));
        // Greedy past the context: after the re-encode at T, the logits are
        // those of a fresh session fed the last T/2 tokens.
        let t = model.shape.ctx;
        let (mut kv, mut scratch) = (vec![0i8; model.kv_len()], vec![0i8; model.scratch_len()]);
        let mut g = Generator::new(
            Session::new(&model, &mut kv, &mut scratch).unwrap(),
            Sampler::greedy(),
        );
        g.prompt(&[3]).unwrap();
        let mut all = vec![3u8];
        for _ in 0..t {
            all.push(g.next_token().unwrap());
        }
        assert_eq!(g.session.pos(), t / 2 + 1);
        let tail = &all[all.len() - (t / 2 + 1)..];
        let (mut kv2, mut scratch2) = (vec![0i8; model.kv_len()], vec![0i8; model.scratch_len()]);
        let mut fresh = Session::new(&model, &mut kv2, &mut scratch2).unwrap();
        for &tok in tail {
            fresh.step(tok).unwrap();
        }
        assert_eq!(fresh.logits(), g.session.logits());
        assert_eq!(
            g.session.tokens(),
            &tail.iter().map(|&v| v as i8).collect::<Vec<_>>()[..]
        );
        assert!(gen(o(&[], 0.0)).is_err());
    }

    #[test]
    fn activation_errors_cover_every_point_and_are_small() {
        let (p, v, toks) = tiny();
        let opts = QuantizeOptions {
            calib_windows: 8,
            ..QuantizeOptions::default()
        };
        let m = quantize(&p, &v, &toks, &opts).unwrap();
        let errs = crate::lm::quantize::activation_errors(&p, &m, &toks, 3).unwrap();
        let names: Vec<&str> = errs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), 3 + 2 * 12, "{names:?}");
        assert_eq!(
            (names[0], names[1], names[names.len() - 1]),
            ("embed", "h0.ln1", "logits")
        );
        for e in &errs {
            assert!(e.relative_rms < 0.25, "{e:?}");
        }
    }

    #[test]
    fn int8_loss_is_close_to_f32_loss_on_a_random_model() {
        let (p, v, toks) = tiny();
        let opts = QuantizeOptions {
            calib_windows: 8,
            ..QuantizeOptions::default()
        };
        let m = quantize(&p, &v, &toks, &opts).unwrap();
        let blob = AlignedBlob::new(&m.to_blob().unwrap());
        let l8 = int8_loss(&blob.model().unwrap(), &toks, 10).unwrap();
        let l32 = crate::lm::quantize::f32_loss(&p, &toks, 10).unwrap();
        assert!((l8 - l32).abs() < 0.1, "int8 {l8}, f32 {l32}");
        assert!(l32 > 1.0 && l32 < 4.0, "f32 {l32}");
    }
}
