//! `axon generate`: text from a language model, f32 (`axon lm train`'s
//! JSON) or int8 (`axon lm quantize`'s `.axlm` blob), told apart by their
//! first bytes.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::lm::generate::{generate_f32, generate_int8, GenOptions, Generated};
use crate::lm::int8::AlignedBlob;
use crate::lm::{LmParams, Vocab};

/// `axon generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The model: f32 JSON (`axon lm train --out`) or int8 blob (`axon lm quantize --out`).
    #[arg(long)]
    pub model: PathBuf,
    /// The text to start from (every character must be in the model's vocabulary).
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    pub tokens: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Sample among the k most likely characters.
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Greedy decoding (the most likely character each time), as `--temperature 0`.
    #[arg(long)]
    pub greedy: bool,
    /// The sampler's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write each generated token with the logits codes it was drawn
    /// from (int8 models), one JSON object per line.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print only the generated text (no header, no timing).
    #[arg(long)]
    pub quiet: bool,
}

/// A model file of either kind.
pub enum LmFileKind {
    /// f32 parameters and vocabulary.
    F32(Box<LmParams>, Vocab),
    /// An int8 blob.
    Int8(AlignedBlob),
}

/// Reads a language model file, f32 JSON or int8 blob, by its first bytes.
pub fn read_lm(path: &std::path::Path) -> Result<LmFileKind> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(&axon_core::lm::blob::MAGIC) {
        let blob = AlignedBlob::new(&bytes);
        blob.model()
            .with_context(|| format!("{} is not a valid int8 language model", path.display()))?;
        return Ok(LmFileKind::Int8(blob));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let (params, vocab, _) = crate::lm::file::read_model(path)?;
        return Ok(LmFileKind::F32(Box::new(params), vocab));
    }
    bail!(
        "{} is neither an f32 language model (JSON from `axon lm train`) nor an int8 one (`AXLM` blob from `axon lm quantize`)",
        path.display()
    )
}

/// Runs `axon generate`.
pub fn run(a: GenerateArgs) -> Result<()> {
    let kind = read_lm(&a.model)?;
    let temperature = if a.greedy { 0.0 } else { a.temperature };
    let vocab = match &kind {
        LmFileKind::F32(_, v) => v.clone(),
        LmFileKind::Int8(b) => Vocab::new(b.model()?.vocab.chars().collect())?,
    };
    let prompt = vocab.encode(&a.prompt).context("the prompt")?;
    let opts = GenOptions {
        prompt,
        tokens: a.tokens,
        temperature,
        top_k: a.top_k,
        seed: a.seed,
    };
    let t0 = Instant::now();
    let (out, precision): (Generated, &str) = match &kind {
        LmFileKind::F32(p, _) => (generate_f32(p, &opts)?, "f32"),
        LmFileKind::Int8(b) => (generate_int8(&b.model()?, &opts)?, "int8"),
    };
    let secs = t0.elapsed().as_secs_f64();
    let mut stdout = std::io::stdout().lock();
    if !a.quiet {
        writeln!(
            stdout,
            "# {} ({precision}), prompt {:?}, {} tokens, {}, seed {}",
            a.model.display(),
            a.prompt,
            a.tokens,
            if temperature == 0.0 {
                "greedy".to_string()
            } else {
                format!("temperature {temperature}, top-k {}", a.top_k)
            },
            a.seed
        )?;
    }
    writeln!(stdout, "{}{}", a.prompt, out.text(&vocab))?;
    if !a.quiet {
        let steps = opts.prompt.len() + opts.tokens;
        writeln!(
            stdout,
            "# {steps} steps in {secs:.3} s: {:.0} tokens/s ({precision}, one thread)",
            steps as f64 / secs.max(1e-9)
        )?;
    }
    if let Some(path) = &a.trace {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for (i, t) in out.tokens.iter().enumerate() {
            let logits = out.logits.get(i).map(|l| l.as_slice()).unwrap_or(&[]);
            writeln!(
                f,
                "{}",
                serde_json::json!({ "i": i, "token": t, "logits": logits })
            )?;
        }
    }
    Ok(())
}
