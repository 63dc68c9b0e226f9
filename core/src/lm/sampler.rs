//! Integer-only, seeded sampling from logits codes (`docs/lm.md`,
//! "Sampling"): the same prompt, seed, temperature and top-k give the same
//! tokens on every machine.
//!
//! Greedy: the argmax, lowest index on ties. Otherwise the `k` largest
//! codes (ties by index), weights `w_i = exp((l_i − l_max)·s/τ)` in Q0.31
//! by gemmlowp's fixed-point exponential (the one TFLite's int8 softmax
//! uses, [`crate::quant::softmax`]), its multiplier computed once by
//! [`Sampler::new`] (in f64, before the first step), a draw
//! `r = ⌊u·Σw / 2^64⌋` from a SplitMix64 word `u` (so `r < Σw`; the draw's
//! bias is below `Σw/2^64 < 2^−24`), and the first `i` (by index among the
//! kept) whose running sum of weights exceeds `r`.

use crate::quant::softmax::exp_of_diff;
use crate::quant::SoftmaxParams;

/// SplitMix64 (Steele, Lea, Flood 2014): the sampler's random words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitMix64 {
    /// The state.
    pub state: u64,
}

impl SplitMix64 {
    /// The generator seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next word.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Greedy,
    TopK { k: usize, exp: SoftmaxParams },
}

/// A token sampler: its mode, parameters and random state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampler {
    mode: Mode,
    rng: SplitMix64,
}

/// Why a sampler cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplerError {
    /// `s/τ` is not a positive finite number the fixed-point exponential
    /// can scale (τ too large or the logits' scale not positive).
    BadTemperature,
    /// `top_k` is 0.
    ZeroTopK,
}

impl core::fmt::Display for SamplerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SamplerError::BadTemperature => write!(
                f,
                "the temperature is not positive and finite, or too large for the logits' scale"
            ),
            SamplerError::ZeroTopK => write!(f, "top-k must be at least 1"),
        }
    }
}

impl Sampler {
    /// The greedy sampler (argmax).
    pub const fn greedy() -> Self {
        Sampler {
            mode: Mode::Greedy,
            rng: SplitMix64::new(0),
        }
    }

    /// Temperature `temperature` over the `top_k` largest logits of scale
    /// `logit_scale`, seeded with `seed`. A temperature of 0 is greedy.
    pub fn new(
        logit_scale: f32,
        temperature: f32,
        top_k: usize,
        seed: u64,
    ) -> Result<Self, SamplerError> {
        if temperature == 0.0 {
            return Ok(Sampler::greedy());
        }
        if top_k == 0 {
            return Err(SamplerError::ZeroTopK);
        }
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(SamplerError::BadTemperature);
        }
        let beta = 1.0 / temperature as f64;
        let exp = SoftmaxParams::from_input_scale(logit_scale, beta)
            .ok_or(SamplerError::BadTemperature)?;
        Ok(Sampler {
            mode: Mode::TopK { k: top_k, exp },
            rng: SplitMix64::new(seed),
        })
    }

    /// Whether it is greedy.
    pub fn is_greedy(&self) -> bool {
        self.mode == Mode::Greedy
    }

    /// The weight (Q0.31) of a code `diff` below the maximum (`diff ≤ 0`);
    /// greedy samplers weigh only the maximum.
    pub fn weight(&self, diff: i32) -> u32 {
        match self.mode {
            Mode::Greedy => (diff == 0) as u32,
            Mode::TopK { exp, .. } => exp_of_diff(&exp, diff).max(0) as u32,
        }
    }

    /// The next token from `logits` (`None` for an empty slice or one
    /// longer than 256).
    pub fn sample(&mut self, logits: &[i8]) -> Option<u8> {
        if logits.is_empty() || logits.len() > 256 {
            return None;
        }
        let (max_i, &max) = logits.iter().enumerate().rev().max_by_key(|&(_, &v)| v)?;
        let (k, exp) = match self.mode {
            Mode::Greedy => return Some(max_i as u8),
            Mode::TopK { k, exp } => (k, exp),
        };
        if k == 1 {
            return Some(max_i as u8);
        }
        // The k-th largest code `cut` and how many codes equal to it are
        // kept (the lowest indices): a histogram over the 256 codes.
        let mut count = [0u16; 256];
        for &v in logits {
            if let Some(c) = count.get_mut((v as i32 + 128) as usize) {
                *c += 1;
            }
        }
        let (mut above, mut cut, mut at_cut) = (0usize, -128i32, 0usize);
        for code in (-128i32..=127).rev() {
            let c = count.get((code + 128) as usize).copied().unwrap_or(0) as usize;
            if above + c >= k {
                cut = code;
                at_cut = k - above;
                break;
            }
            above += c;
            cut = code;
            at_cut = c;
        }
        let kept = |i: usize, v: i8, seen_at_cut: &mut usize| -> bool {
            let _ = i;
            if (v as i32) > cut {
                true
            } else if v as i32 == cut && *seen_at_cut < at_cut {
                *seen_at_cut += 1;
                true
            } else {
                false
            }
        };
        let weight = |v: i8| exp_of_diff(&exp, v as i32 - max as i32).max(0) as u64;
        let mut seen = 0;
        let total: u64 = logits
            .iter()
            .enumerate()
            .filter(|&(i, &v)| kept(i, v, &mut seen))
            .map(|(_, &v)| weight(v))
            .sum();
        let r = ((self.rng.next_u64() as u128 * total as u128) >> 64) as u64;
        let mut run = 0u64;
        let mut seen = 0;
        let mut last = max_i;
        for (i, &v) in logits.iter().enumerate() {
            if kept(i, v, &mut seen) {
                run += weight(v);
                last = i;
                if run > r {
                    return Some(i as u8);
                }
            }
        }
        Some(last as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use std::vec::Vec;

    fn logits(rng: &mut Rng, n: usize) -> Vec<i8> {
        (0..n).map(|_| rng.range(-128, 127) as i8).collect()
    }

    #[test]
    fn greedy_is_the_argmax_lowest_index_on_ties_and_top_k_1_is_greedy() {
        let mut rng = Rng(0xabc);
        let mut g = Sampler::greedy();
        let mut k1 = Sampler::new(0.1, 0.8, 1, 7).unwrap();
        for _ in 0..1000 {
            let n = 1 + rng.range(0, 80) as usize;
            let l = logits(&mut rng, n);
            let max = *l.iter().max().unwrap();
            let want = l.iter().position(|&v| v == max).unwrap() as u8;
            assert_eq!(g.sample(&l), Some(want));
            assert_eq!(k1.sample(&l), Some(want));
        }
        assert_eq!(g.sample(&[3, 9, 9, -1]), Some(1));
        assert_eq!(g.sample(&[]), None);
        assert!(Sampler::new(0.1, 0.0, 5, 1).unwrap().is_greedy());
    }

    #[test]
    fn sampling_is_deterministic_per_seed_and_differs_across_seeds() {
        let mut rng = Rng(5);
        let l = logits(&mut rng, 65);
        let run = |seed| {
            let mut s = Sampler::new(0.08, 1.0, 40, seed).unwrap();
            (0..200).map(|_| s.sample(&l).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn top_k_keeps_only_the_k_largest_codes_ties_by_index() {
        // Codes 10, 10, 10, 5, 0: top-2 keeps indices 0 and 1, never 2.
        let l = [10i8, 10, 10, 5, 0];
        let mut s = Sampler::new(1.0, 1000.0, 2, 3).unwrap();
        let mut seen = [0usize; 5];
        for _ in 0..2000 {
            seen[s.sample(&l).unwrap() as usize] += 1;
        }
        assert_eq!(seen[2] + seen[3] + seen[4], 0, "{seen:?}");
        assert!(seen[0] > 800 && seen[1] > 800, "{seen:?}");
    }

    #[test]
    // Statistics over many draws, no unsafe code: not for Miri's interpreter.
    #[cfg_attr(miri, ignore)]
    fn empirical_frequencies_follow_the_softmax_of_the_scaled_logits() {
        // Chi-square over the kept tokens against softmax(l·s/τ): with 7
        // degrees of freedom, 30 is beyond the 99.99th percentile (≈ 29.9).
        let l = [20i8, 10, 0, -5, 15, 30, 25, -20];
        let (scale, tau) = (0.1f32, 1.3f32);
        let mut s = Sampler::new(scale, tau, 8, 2024).unwrap();
        let draws = 200_000usize;
        let mut seen = [0usize; 8];
        for _ in 0..draws {
            seen[s.sample(&l).unwrap() as usize] += 1;
        }
        let z: Vec<f64> = l
            .iter()
            .map(|&v| (v as f64 * scale as f64 / tau as f64).exp())
            .collect();
        let sum: f64 = z.iter().sum();
        let chi2: f64 = seen
            .iter()
            .zip(&z)
            .map(|(&o, &e)| {
                let e = e / sum * draws as f64;
                (o as f64 - e).powi(2) / e
            })
            .sum();
        assert!(chi2 < 30.0, "chi2 {chi2}, counts {seen:?}");
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(
            Sampler::new(0.1, -1.0, 5, 0),
            Err(SamplerError::BadTemperature)
        );
        assert_eq!(
            Sampler::new(0.1, f32::NAN, 5, 0),
            Err(SamplerError::BadTemperature)
        );
        assert_eq!(Sampler::new(0.1, 1.0, 0, 0), Err(SamplerError::ZeroTopK));
        assert_eq!(
            Sampler::new(0.0, 1.0, 3, 0),
            Err(SamplerError::BadTemperature)
        );
    }
}
