//! The tests' random numbers: xorshift64 (shifts 13, 7, 17), deterministic,
//! so a failure names a reproducible case.

/// The generator; its state is the seed (non-zero).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next state.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}
