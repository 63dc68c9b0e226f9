//! The int8 language model on the host: its owned form ([`Int8Lm`], what
//! the quantizer builds), its blob writer (the layout is the core's one
//! definition, `axon_core::lm::blob`; the round-trip tests below hold the
//! two together), the int8 validation loss, and generation through the
//! same [`Generator`] the device runs.

use anyhow::{bail, Context, Result};
use axon_core::crc32::crc32;
use axon_core::lm::blob::{header, MAGIC, VERSION};
use axon_core::lm::{self as core_lm, Generator, LmModel, Parts, Sampler, Session, Shape};
use axon_core::ops::layer_norm::LayerNormQuant;
use axon_core::ops::add::AddInt8;
use axon_core::ops::batch_matmul::MatmulQuant;
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
        v.iter().for_each(|x| self.0.extend_from_slice(&x.to_le_bytes()));
    }

    fn fc(&mut self, f: &core_lm::Fc<'_>) {
        self.i32s(&[f.input_zero_point, f.output_zero_point]);
        self.i8s(f.weights);
        self.i32s(f.bias);
        self.i32s(f.multiplier);
        self.i32s(f.shift);
    }

    fn ln(&mut self, l: &LayerNormQuant<'_>) {
        self.i32s(&[l.shift as i32, l.epsilon as u32 as i32, (l.epsilon >> 32) as u32 as i32]);
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
        self.i32s(&[m.lhs_zero_point, m.rhs_zero_point, m.output_zero_point, m.multiplier, m.shift]);
    }

    fn put<T: Copy>(&mut self, f: axon_core::blob::format::Field, v: T)
    where
        T: bytemuck::Pod,
    {
        self.0[f.offset..f.offset + std::mem::size_of::<T>()].copy_from_slice(bytemuck::bytes_of(&v));
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
        w.i32s(&[b.softmax.input_multiplier, b.softmax.input_left_shift, b.softmax.diff_min]);
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
        LayerNormQuant { gain: &self.gain, bias: &self.bias, shift: self.shift, epsilon: self.epsilon }
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
        AlignedBlob { words, len: bytes.len() }
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
    blob.model().with_context(|| format!("{path} is not a valid int8 LM"))?;
    Ok(blob)
}

/// Evenly spaced starts of `count` windows of `len` tokens in `n` tokens.
pub fn window_starts(n: usize, len: usize, count: usize) -> Result<Vec<usize>> {
    if n < len || count == 0 {
        bail!("{n} tokens hold no window of {len} (asked for {count})");
    }
    let span = n - len;
    Ok((0..count).map(|i| if count == 1 { 0 } else { i * span / (count - 1) }).collect())
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
        let mut session = Session::new(model, &mut kv, &mut scratch).map_err(|e| anyhow::anyhow!("{e}"))?;
        for (i, &t) in w[..s.ctx].iter().enumerate() {
            let logits = session.step(t).map_err(|e| anyhow::anyhow!("window at {start}, position {i}: {e}"))?;
            let real: Vec<f64> = logits.iter().map(|&q| lp.scale as f64 * (q as i32 - lp.zero_point) as f64).collect();
            let max = real.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = real.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
            total += lse - real[w[i + 1] as usize];
            count += 1;
        }
    }
    Ok(total / count.max(1) as f64)
}

/// `n` tokens after `prompt` (non-empty) by the device's [`Generator`].
pub fn generate(model: &LmModel<'_>, prompt: &[u8], n: usize, sampler: Sampler) -> Result<Vec<u8>> {
    if prompt.is_empty() {
        bail!("the prompt is empty: generation needs at least one token");
    }
    let mut kv = vec![0i8; model.kv_len()];
    let mut scratch = vec![0i8; model.scratch_len()];
    let session = Session::new(model, &mut kv, &mut scratch).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut g = Generator::new(session, sampler);
    g.prompt(prompt).map_err(|e| anyhow::anyhow!("prompt: {e}"))?;
    (0..n)
        .map(|i| g.next_token().map_err(|e| anyhow::anyhow!("token {i}: {e}")))
        .collect()
}
