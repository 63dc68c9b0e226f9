//! The trainer's own seeded PRNG (SplitMix64), so results never change with
//! a dependency's version: same seed, same model, bit for bit.

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", 2014): a 64-bit state advanced by the golden-ratio increment
/// and finalised by two xor-shift-multiply rounds.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed`; `stream` separates independent uses of one
    /// seed (initialisation, shuffling, splitting) so they do not overlap.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng {
            state: seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        r.next_u64();
        r
    }

    /// The state (a checkpoint keeps it; [`Rng::from_state`] resumes).
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The generator whose [`state`](Rng::state) is `state`.
    pub fn from_state(state: u64) -> Rng {
        Rng { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, n)` (Lemire's multiply-shift; the bias for
    /// the small `n` used here is below 2⁻³²).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

/// Stream ids: one per independent use of the seed.
pub mod stream {
    /// Weight initialisation.
    pub const INIT: u64 = 1;
    /// Mini-batch shuffling.
    pub const SHUFFLE: u64 = 2;
    /// Train/validation split.
    pub const SPLIT: u64 = 3;
    /// Generated data sets.
    pub const DATA: u64 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference: SplitMix64 with state 0 (Vigna's splitmix64.c) yields
        // 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, ...
        let mut r = Rng { state: 0 };
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn shuffle_is_a_permutation_and_seeded() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        Rng::new(7, 2).shuffle(&mut a);
        Rng::new(7, 2).shuffle(&mut b);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }
}
