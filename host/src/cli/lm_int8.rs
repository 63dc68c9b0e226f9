//! The int8 language model's commands: `axon lm quantize` (f32 model →
//! `.axlm` blob, with the f32 and int8 validation losses side by side) and
//! the int8 variant of `axon lm eval`. (`axon generate` reads both kinds:
//! `cli::generate`.)

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use axon_core::quant::Rounding;

use crate::lm::corpus::{read_text, Corpus};
use crate::lm::file::read_model;
use crate::lm::int8::{int8_loss, read_blob, AlignedBlob};
use crate::lm::quantize::{activation_errors, f32_loss, quantize, QuantizeOptions};
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

/// `axon lm quantize`: reads the f32 model, quantizes, writes, reports.
pub fn run(a: QuantizeArgs) -> Result<()> {
    let (params, vocab, _) = read_model(&a.model)?;
    run_quantize(&a, &params, &vocab)
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
    let mut errors = activation_errors(params, &int8, &corpus.val, 2)?;
    errors.sort_by(|a, b| b.relative_rms.total_cmp(&a.relative_rms));
    let worst: Vec<String> = errors
        .iter()
        .take(5)
        .map(|e| format!("{} {:.1} %", e.name, 100.0 * e.relative_rms))
        .collect();
    println!(
        "largest int8 activation errors (relative RMS vs f32, 2 validation windows): {}",
        worst.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::file::LmFile;
    use crate::lm::LmConfig;

    #[test]
    fn quantize_writes_a_blob_that_eval_reads_and_bad_input_is_named() {
        let dir = std::env::temp_dir().join(format!("axon-lm-int8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = "the cat sat on the mat. ".repeat(40);
        let vocab = Vocab::from_text(&text).unwrap();
        let cfg = LmConfig {
            vocab: vocab.len(),
            d_model: 8,
            n_layer: 1,
            n_head: 2,
            ctx: 8,
            d_ff: 16,
            tied: false,
        };
        let params = LmParams::init(cfg, 3).unwrap();
        let (model, text_path, out) = (dir.join("m.json"), dir.join("t.txt"), dir.join("m.axlm"));
        LmFile::model(&params, &vocab, None).write(&model).unwrap();
        std::fs::write(&text_path, &text).unwrap();
        let a = QuantizeArgs {
            model: model.clone(),
            text: text_path.to_string_lossy().into(),
            calib_windows: 4,
            val_windows: 4,
            percentile: None,
            rounding: Rounding::Double,
            out: out.clone(),
        };
        run(a).unwrap();
        let e = EvalArgs {
            model: out.clone(),
            text: text_path.to_string_lossy().into(),
            windows: 4,
        };
        let loss = run_eval(&e).unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{loss}");
        std::fs::write(&out, b"AXLM not really").unwrap();
        let err = run_eval(&e).unwrap_err();
        assert!(
            format!("{err:#}").contains("m.axlm is not a valid int8 LM"),
            "{err:#}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
