//! The int8 language model's commands: `axon lm quantize` (f32 model →
//! `.axlm` blob, with the f32 and int8 validation losses side by side),
//! the int8 variants of `axon lm eval` and `axon generate`. The integrator
//! wires them into `axon lm …`; each takes an already-read f32 model where
//! it needs one (`lm::file`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use axon_core::lm::Sampler;
use axon_core::quant::Rounding;

use crate::lm::corpus::{read_text, Corpus};
use crate::lm::int8::{generate, int8_loss, read_blob, AlignedBlob};
use crate::lm::quantize::{f32_loss, quantize, QuantizeOptions};
use crate::lm::{LmParams, Vocab};
use crate::quantize::Calibration;

/// Arguments of `axon lm quantize`.
#[derive(Debug, clap::Args)]
pub struct QuantizeArgs {
    /// The f32 model file (JSON).
    #[arg(long)]
    pub model: PathBuf,
    /// The text: a path or `bundled:tinyshakespeare`; calibration windows
    /// come from its training split (first 90 %), the loss report from its
    /// validation split.
    #[arg(long, default_value = "bundled:tinyshakespeare")]
    pub text: String,
    /// Calibration windows of `T` tokens, evenly spaced over the training split.
    #[arg(long, default_value_t = 16)]
    pub calib_windows: usize,
    /// Validation windows of `T + 1` tokens for the f32 vs int8 loss report.
    #[arg(long, default_value_t = 32)]
    pub val_windows: usize,
    /// Calibrate ranges at this percentile (e.g. 99.99) instead of min/max.
    #[arg(long)]
    pub percentile: Option<f64>,
    /// Requantization rounding: `double` (TensorFlow Lite Micro) or `single`.
    #[arg(long, default_value = "double", value_parser = crate::ops::parse_rounding)]
    pub rounding: Rounding,
    /// Where to write the int8 model blob (`.axlm`).
    #[arg(long)]
    pub out: PathBuf,
}

/// Quantizes `params` (read from `a.model`), writes the blob, reports the
/// losses.
pub fn run_quantize(a: &QuantizeArgs, params: &LmParams, vocab: &Vocab) -> Result<()> {
    let text = read_text(&a.text)?;
    let corpus = Corpus::new(&text, Some(vocab.clone()))
        .with_context(|| format!("encoding {} with the model's vocabulary", a.text))?;
    let opts = QuantizeOptions {
        calib_windows: a.calib_windows,
        calibration: a
            .percentile
            .map_or(Calibration::MinMax, Calibration::Percentile),
        rounding: a.rounding,
    };
    let t = params.cfg.ctx;
    println!(
        "calibrating on {} windows of {t} tokens of the training split ({})",
        opts.calib_windows,
        opts.calibration.name()
    );
    let int8 = quantize(params, vocab, &corpus.train, &opts)?;
    let bytes = int8.to_blob()?;
    std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    println!("wrote {} ({} bytes)", a.out.display(), bytes.len());
    let blob = AlignedBlob::new(&bytes);
    let model = blob.model()?;
    let started = Instant::now();
    let l32 = f32_loss(params, &corpus.val, a.val_windows)?;
    let l8 = int8_loss(&model, &corpus.val, a.val_windows)?;
    println!(
        "validation loss on {} windows of {} tokens: f32 {l32:.4}, int8 {l8:.4} nats/char (int8 − f32 = {:+.4}) [{:.1} s]",
        a.val_windows,
        t + 1,
        l8 - l32,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Arguments of the int8 `axon lm eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The int8 model blob (`.axlm`).
    #[arg(long)]
    pub model: PathBuf,
    /// The text; the loss is over its validation split.
    #[arg(long, default_value = "bundled:tinyshakespeare")]
    pub text: String,
    /// Validation windows of `T + 1` tokens.
    #[arg(long, default_value_t = 32)]
    pub windows: usize,
}

/// The int8 model's validation loss.
pub fn run_eval(a: &EvalArgs) -> Result<f64> {
    let blob = read_blob(&a.model.to_string_lossy())?;
    let model = blob.model()?;
    let vocab = Vocab::new(model.vocab.chars().collect())?;
    let corpus = Corpus::new(&read_text(&a.text)?, Some(vocab))?;
    let loss = int8_loss(&model, &corpus.val, a.windows)?;
    println!(
        "int8 validation loss on {} windows of {} tokens: {loss:.4} nats/char",
        a.windows,
        model.shape.ctx + 1
    );
    Ok(loss)
}

/// Arguments of the int8 `axon generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The int8 model blob (`.axlm`).
    #[arg(long)]
    pub model: PathBuf,
    /// The prompt (characters of the model's vocabulary; at least one).
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// Tokens to generate.
    #[arg(long, default_value_t = 200)]
    pub tokens: usize,
    /// Temperature (0: greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Sample among the `k` most likely tokens.
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Generates text with the int8 model; returns it (prompt excluded).
pub fn run_generate(a: &GenerateArgs) -> Result<String> {
    let blob = read_blob(&a.model.to_string_lossy())?;
    let model = blob.model()?;
    let vocab = Vocab::new(model.vocab.chars().collect())?;
    let prompt = vocab.encode(&a.prompt).context("the prompt")?;
    if prompt.is_empty() {
        bail!("the prompt is empty: generation needs at least one character");
    }
    let sampler = Sampler::new(model.logits.scale, a.temperature, a.top_k, a.seed)
        .map_err(|e| anyhow::anyhow!("--temperature/--top-k: {e}"))?;
    let started = Instant::now();
    let tokens = generate(&model, &prompt, a.tokens, sampler)?;
    let text = vocab.decode(&tokens);
    println!("{}{text}", a.prompt);
    eprintln!(
        "{} tokens in {:.2} s ({:.0} tokens/s)",
        tokens.len(),
        started.elapsed().as_secs_f64(),
        tokens.len() as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    Ok(text)
}
