//! Text generation on the host, from the int8 model (the core's
//! [`Generator`]: the same code, sampler and re-encode policy the firmware
//! runs, so the same tokens and logits codes) or from the f32 model (the
//! f32 reference step of [`super::infer`] and the same policy, sampled in
//! f64 with libm's `exp`: the same text on every machine, though not the
//! int8 model's).

use super::infer::F32Step;
use super::{LmParams, Vocab};
use anyhow::{anyhow, bail, Result};
use axon_core::lm::{Generator, LmModel, Sampler, Session};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// The prompt's tokens (at least one).
    pub prompt: Vec<u8>,
    /// Tokens to generate after it.
    pub tokens: usize,
    /// Temperature; 0 is greedy (argmax, lowest token on ties).
    pub temperature: f32,
    /// Sample among the `top_k` most likely tokens (ties by token order).
    pub top_k: usize,
    /// The sampler's seed.
    pub seed: u64,
}

/// What came out.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The generated tokens (without the prompt).
    pub tokens: Vec<u8>,
    /// For the int8 model, the logits codes each token was sampled from.
    pub logits: Vec<Vec<i8>>,
}

impl Generated {
    /// The generated text.
    pub fn text(&self, vocab: &Vocab) -> String {
        vocab.decode(&self.tokens)
    }
}

fn check(opts: &GenOptions, vocab: usize) -> Result<()> {
    if opts.prompt.is_empty() {
        bail!("the prompt is empty: generation needs at least one character to start from");
    }
    if let Some(&t) = opts.prompt.iter().find(|&&t| t as usize >= vocab) {
        bail!("prompt token {t} is outside the vocabulary of {vocab}");
    }
    if !(opts.temperature >= 0.0 && opts.temperature.is_finite()) {
        bail!(
            "the temperature must be 0 (greedy) or positive, got {}",
            opts.temperature
        );
    }
    if opts.temperature > 0.0 && opts.top_k == 0 {
        bail!("top-k must be at least 1");
    }
    Ok(())
}

/// Generates from the int8 model through the core's [`Generator`], as the
/// firmware does.
pub fn generate_int8(model: &LmModel<'_>, opts: &GenOptions) -> Result<Generated> {
    let s = model.shape;
    check(opts, s.vocab)?;
    let sampler = Sampler::new(model.logits.scale, opts.temperature, opts.top_k, opts.seed)
        .map_err(|e| anyhow!("{e}"))?;
    let (mut kv, mut scratch) = (vec![0i8; model.kv_len()], vec![0i8; model.scratch_len()]);
    let session = Session::new(model, &mut kv, &mut scratch).map_err(|e| anyhow!("{e}"))?;
    let mut g = Generator::new(session, sampler);
    g.prompt(&opts.prompt)
        .map_err(|e| anyhow!("the prompt: {e}"))?;
    let mut out = Generated {
        tokens: Vec::with_capacity(opts.tokens),
        logits: Vec::with_capacity(opts.tokens),
    };
    for i in 0..opts.tokens {
        out.logits.push(g.session.logits().to_vec());
        let t = g.next_token().map_err(|e| anyhow!("token {i}: {e}"))?;
        out.tokens.push(t);
    }
    Ok(out)
}

/// f32 sampling: greedy, or the `top_k` largest logits (ties by token
/// order) weighted by `exp((l − l_max)/τ)` in f64, one SplitMix64 draw per
/// token.
struct F32Sampler {
    temperature: f64,
    top_k: usize,
    rng: axon_core::lm::sampler::SplitMix64,
}

impl F32Sampler {
    fn sample(&mut self, logits: &[f32]) -> u8 {
        let mut order: Vec<usize> = (0..logits.len()).collect();
        // Largest first, the lower token first on ties.
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        if self.temperature == 0.0 || self.top_k == 1 {
            return order[0] as u8;
        }
        order.truncate(self.top_k.min(order.len()));
        order.sort_unstable();
        let max = order
            .iter()
            .map(|&i| logits[i])
            .fold(f32::NEG_INFINITY, f32::max);
        let w: Vec<f64> = order
            .iter()
            .map(|&i| libm::exp((f64::from(logits[i]) - f64::from(max)) / self.temperature))
            .collect();
        let total: f64 = w.iter().sum();
        let r = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut run = 0.0;
        for (&i, &wi) in order.iter().zip(&w) {
            run += wi;
            if run > r {
                return i as u8;
            }
        }
        *order.last().unwrap_or(&0) as u8
    }
}

/// Generates from the f32 model with the same policy past the context
/// (the last `T/2` tokens re-encoded at positions `0..T/2`).
pub fn generate_f32(params: &LmParams, opts: &GenOptions) -> Result<Generated> {
    let c = params.cfg;
    check(opts, c.vocab)?;
    let mut sampler = F32Sampler {
        temperature: f64::from(opts.temperature),
        top_k: opts.top_k.max(1),
        rng: axon_core::lm::sampler::SplitMix64::new(opts.seed),
    };
    let mut step = F32Step::new(params);
    let mut window: Vec<u8> = Vec::with_capacity(c.ctx);
    let mut logits = Vec::new();
    let feed = |step: &mut F32Step<'_>, window: &mut Vec<u8>, t: u8| -> Result<Vec<f32>> {
        if step.pos() >= c.ctx {
            let keep = window.split_off(window.len() - c.ctx / 2);
            *window = keep;
            step.reset();
            for &w in window.iter() {
                step.step(w, &mut |_, _| {})?;
            }
        }
        window.push(t);
        Ok(step.step(t, &mut |_, _| {})?.to_vec())
    };
    for &t in &opts.prompt {
        logits = feed(&mut step, &mut window, t)?;
    }
    let mut out = Generated {
        tokens: Vec::with_capacity(opts.tokens),
        logits: Vec::new(),
    };
    for _ in 0..opts.tokens {
        let t = sampler.sample(&logits);
        out.tokens.push(t);
        logits = feed(&mut step, &mut window, t)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::corpus::{Corpus, TINYSHAKESPEARE};
    use crate::lm::quantize::{quantize, QuantizeOptions};
    use crate::lm::LmConfig;

    fn small() -> (LmParams, Vocab, Vec<u8>) {
        let corpus = Corpus::new(TINYSHAKESPEARE, None).unwrap();
        let cfg = LmConfig {
            d_model: 16,
            n_layer: 2,
            n_head: 2,
            ctx: 16,
            d_ff: 32,
            ..LmConfig::default_for(corpus.vocab.len())
        };
        let p = LmParams::init(cfg, 5).unwrap();
        (p, corpus.vocab, corpus.train[..4096].to_vec())
    }

    fn opts(prompt: &[u8], temperature: f32, seed: u64) -> GenOptions {
        GenOptions {
            prompt: prompt.to_vec(),
            tokens: 40,
            temperature,
            top_k: 10,
            seed,
        }
    }

    #[test]
    fn int8_generation_is_the_device_generator_and_crosses_the_context() {
        let (p, vocab, calib) = small();
        let q = quantize(&p, &vocab, &calib, &QuantizeOptions::default()).unwrap();
        let blob = crate::lm::int8::AlignedBlob::new(&q.to_blob().unwrap());
        let m = blob.model().unwrap();
        for (t, seed) in [(0.0, 0), (0.8, 1), (1.5, 2)] {
            let o = opts(&[1, 2, 3], t, seed);
            let g = generate_int8(&m, &o).unwrap();
            assert_eq!(g.tokens.len(), 40);
            assert_eq!(g.logits.len(), 40);
            assert!(g.logits.iter().all(|l| l.len() == vocab.len()));
            // The logits each token was drawn from are the session's.
            let (mut kv, mut sc) = (vec![0i8; m.kv_len()], vec![0i8; m.scratch_len()]);
            let mut s = Session::new(&m, &mut kv, &mut sc).unwrap();
            for &p in &o.prompt {
                s.step(p).unwrap();
            }
            for (i, (&tok, l)) in g.tokens.iter().zip(&g.logits).enumerate().take(10) {
                assert_eq!(s.logits(), &l[..], "temperature {t}, token {i}");
                s.step(tok).unwrap();
            }
            if t == 0.0 {
                // Greedy: each token is its logits' argmax (lowest on ties).
                for (tok, l) in g.tokens.iter().zip(&g.logits) {
                    let max = *l.iter().max().unwrap();
                    assert_eq!(l.iter().position(|&v| v == max).unwrap(), *tok as usize);
                }
            }
        }
        if let Ok(dir) = std::env::var("AXON_WRITE_LM_BLOB") {
            std::fs::write(std::path::Path::new(&dir).join("model.axlm"), blob.bytes()).unwrap();
        }
    }

    #[test]
    fn f32_generation_is_seeded_and_goes_past_the_context() {
        let (p, _, _) = small();
        let a = generate_f32(&p, &opts(&[5], 0.9, 3)).unwrap();
        assert_eq!(a, generate_f32(&p, &opts(&[5], 0.9, 3)).unwrap());
        assert_eq!(
            a.tokens.len(),
            40,
            "40 tokens after a 1-token prompt cross a 16-token context"
        );
        assert_ne!(
            a.tokens,
            generate_f32(&p, &opts(&[5], 0.9, 4)).unwrap().tokens
        );
        let greedy = generate_f32(&p, &opts(&[5], 0.0, 0)).unwrap();
        // Greedy: the argmax of the f32 step's logits, re-encoded as the
        // int8 Generator does.
        let mut step = F32Step::new(&p);
        let mut window = vec![5u8];
        let mut logits = step.step(5, &mut |_, _| {}).unwrap().to_vec();
        for &t in &greedy.tokens {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(logits.iter().position(|&v| v == max).unwrap(), t as usize);
            if step.pos() == p.cfg.ctx {
                window = window.split_off(window.len() - p.cfg.ctx / 2);
                step.reset();
                for &w in &window {
                    step.step(w, &mut |_, _| {}).unwrap();
                }
            }
            window.push(t);
            logits = step.step(t, &mut |_, _| {}).unwrap().to_vec();
        }
    }

    #[test]
    fn bad_options_are_clear_errors() {
        let (p, _, _) = small();
        let e = generate_f32(&p, &opts(&[], 0.5, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("prompt is empty"), "{e}");
        let e = generate_f32(&p, &opts(&[200], 0.5, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the vocabulary"), "{e}");
        let e = generate_f32(
            &p,
            &GenOptions {
                top_k: 0,
                ..opts(&[1], 0.5, 1)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("top-k"), "{e}");
    }
}
