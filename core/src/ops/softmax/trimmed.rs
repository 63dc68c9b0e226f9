//! The trimmed softmax: a prepared variant of the int8 softmax for the
//! last op of a classifier on a microcontroller — the exponential table
//! cut where its entries stop mattering, gemmlowp's helpers reduced to the
//! ranges such a table allows. Same bits as
//! [`crate::quant::softmax_i8_with_table`].

use crate::quant::softmax::{get_reciprocal, saturating_shl};

/// The final softmax's exponentials as the generated `forward()` keeps them:
/// the table `quant::softmax_exp_table` makes, cut where its entries
/// stop mattering to the outputs.
///
/// An exponential `e < 2^22` (Q0.31) gives output code −128 whatever the
/// sum: the output is `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul
/// (s, e), k)` with `s ≤ 2^31 − 1` and `k ≥ 23` (the sum is at least 1.0,
/// the row maximum's own exponential), so below `2^22` it rounds to 0. For
/// those entries only the sum's term `RoundingDivideByPOT(e, 12)` matters,
/// which is at most 1,024. So the table is the entries up to the last one
/// `≥ 2^22` (`head`, Q0.31), then the sum terms of the rest (`tail`, u16,
/// trailing zeros dropped): for the digits model 112 + 68 bytes instead of
/// 396.
#[derive(Debug, Clone, Copy)]
pub struct SoftmaxTable<'a> {
    head: &'a [i32],
    tail: &'a [u16],
}

impl<'a> SoftmaxTable<'a> {
    /// The smallest exponential that can give an output code above −128.
    pub const OUTPUT_MIN: i32 = 1 << 22;

    /// From the two parts ([`head_len`](Self::head_len),
    /// [`sum_term`](Self::sum_term)).
    ///
    /// # Panics
    /// When `head` is empty or does not start at `exp(0) = i32::MAX`, an
    /// entry is negative, a tail term is above 1,024 or there are more
    /// than 256 entries (a compile error in a `static`).
    pub const fn new(head: &'a [i32], tail: &'a [u16]) -> Self {
        assert!(
            !head.is_empty() && head[0] == i32::MAX,
            "softmax table: the first exponential is exp(0) = 1 (i32::MAX)"
        );
        assert!(
            head.len() + tail.len() <= 256,
            "softmax table: at most 256 entries"
        );
        let mut i = 0;
        while i < head.len() {
            assert!(head[i] >= 0, "softmax table: exponentials are non-negative");
            i += 1;
        }
        let mut i = 0;
        while i < tail.len() {
            assert!(
                tail[i] <= 1024,
                "softmax table: tail terms are at most 1,024"
            );
            i += 1;
        }
        SoftmaxTable { head, tail }
    }

    /// The entries kept whole (Q0.31).
    pub fn head(&self) -> &'a [i32] {
        self.head
    }

    /// The sum terms of the rest.
    pub fn tail(&self) -> &'a [u16] {
        self.tail
    }

    /// How many leading entries of a full table (non-increasing, as
    /// `softmax_exp_table` makes them) to keep whole: up to the last that
    /// is at least [`OUTPUT_MIN`](Self::OUTPUT_MIN), and at least one.
    pub fn head_len(table: &[i32]) -> usize {
        table
            .iter()
            .rposition(|&e| e >= Self::OUTPUT_MIN)
            .map_or(1, |i| i + 1)
            .min(table.len())
    }

    /// An entry's term in the sum of exponentials (Q12.19):
    /// `RoundingDivideByPOT(e, 12)` for `0 ≤ e`.
    pub fn sum_term(e: i32) -> u32 {
        (e.max(0) as u32 + (1 << 11)) >> 12
    }

    /// The `tail` of a full table: the [`sum_term`](Self::sum_term)s of the
    /// entries past its [`head_len`](Self::head_len), trailing zeros
    /// dropped.
    pub fn tail_terms(table: &[i32]) -> impl Iterator<Item = u16> + '_ {
        let rest = table.get(Self::head_len(table)..).unwrap_or(&[]);
        let len = rest
            .iter()
            .rposition(|&e| Self::sum_term(e) > 0)
            .map_or(0, |i| i + 1);
        rest[..len].iter().map(|&e| Self::sum_term(e) as u16)
    }
}


/// TFLite's int8 softmax ([`crate::quant::softmax_i8_with_table`]) of `x` into `y`,
/// from a [`SoftmaxTable`]: every exponential `e` is non-negative and the
/// row maximum's is exactly 1 (`i32::MAX`), and there are at most 256
/// elements. Then the sum of exponentials in Q12.19 lies in
/// `[2^19, 2^27]`, the final exponent in `23..=31`, and gemmlowp's
/// rounding helpers reduce to unsigned adds and shifts with the same bits:
/// `RoundingDivideByPOT(e, 12)` is `(e + 2^11) >> 12` for `e ≥ 0`, and the
/// output's `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(s, e),
/// k)` is `(⌊(s·e + 2^30) / 2^31⌋ + 2^(k−1)) >> k` for `s, e ≥ 0`; past
/// the table's head it is 0 (see [`SoftmaxTable`]).
#[inline(always)]
pub fn softmax_trimmed(t: &SoftmaxTable<'_>, x: &[i8], y: &mut [i8]) {
    let Some(max) = x.iter().copied().max() else {
        return;
    };
    // max ≥ c: the difference is in 0..=255.
    let below = |c: i8| (max as i32 - c as i32) as usize;
    let mut sum: u32 = 0; // Q12.19
    for &c in x.iter() {
        let d = below(c);
        sum = sum.wrapping_add(match t.head.get(d) {
            Some(&e) => (e as u32 + (1 << 11)) >> 12,
            None => t.tail.get(d - t.head.len()).copied().unwrap_or(0) as u32,
        });
    }
    let (scale, bits_over_unit) = reciprocal(sum);
    let k = (bits_over_unit + 31 - 8).clamp(1, 31) as u32;
    let half = 1u32 << (k - 1);
    let scale = scale.max(0) as u64;
    for (o, &c) in y.iter_mut().zip(x) {
        let v = match t.head.get(below(c)) {
            Some(&e) => {
                let h = ((scale * e as u64 + (1 << 30)) >> 31) as u32;
                h.wrapping_add(half) >> k
            }
            None => 0,
        };
        *o = (v as i32 - 128).clamp(-128, 127) as i8;
    }
}

/// `quant::softmax::get_reciprocal(sum, 12)` for a sum of exponentials in
/// Q12.19 that is positive (every sum [`softmax`] forms is, at least 2^19),
/// with gemmlowp's fixed point specialised to what this range allows:
/// `RoundingHalfSum(a, i32::MAX)` of `a ≥ 0` is `(a + 2^31) >> 1` in u32,
/// and no `SaturatingRoundingDoublingHighMul` here sees two `i32::MIN`
/// (the Newton iterate stays positive), so each is one 64-bit
/// multiply-add and a shift. Same bits (tested against the reference).
fn reciprocal(sum: u32) -> (i32, i32) {
    const C48_OVER_17: i32 = 1_515_870_810; // Q2.29
    const CNEG32_OVER_17: i32 = -1_010_580_540; // Q2.29
    const ONE_Q2: i32 = 1 << 29;
    if sum == 0 || sum > i32::MAX as u32 {
        return get_reciprocal(sum as i32, 12);
    }
    let srdhm = |a: i32, b: i32| ((a as i64 * b as i64 + (1 << 30)) >> 31) as i32;
    let clz = sum.leading_zeros();
    let a = (sum << clz).wrapping_sub(1 << 31);
    let half = ((a + (1 << 31)) >> 1) as i32;
    let mut x = C48_OVER_17.wrapping_add(srdhm(half, CNEG32_OVER_17));
    for _ in 0..3 {
        let one_minus = ONE_Q2.wrapping_sub(srdhm(half, x));
        x = x.wrapping_add(saturating_shl(srdhm(x, one_minus), 2));
    }
    (saturating_shl(x, 1), 12 - clz as i32)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::softmax::{exp_table_len, softmax_exp_table, SoftmaxParams};
    use crate::test_rng::Rng;
    use std::vec;
    use std::vec::Vec;

    /// A full exponential table in the compiled form.
    fn split_table(table: &[i32]) -> (Vec<i32>, Vec<u16>) {
        let h = SoftmaxTable::head_len(table);
        (
            table[..h].to_vec(),
            SoftmaxTable::tail_terms(table).collect(),
        )
    }

    #[test]
    fn lean_reciprocal_equals_the_reference() {
        let mut rng = Rng(777);
        let check = |sum: u32| {
            assert_eq!(reciprocal(sum), get_reciprocal(sum as i32, 12), "sum {sum}");
        };
        for e in 0..31 {
            for d in [0u32, 1, 2, 3] {
                check((1u32 << e).wrapping_add(d));
                check((1u32 << e).wrapping_sub(d));
            }
        }
        let n = if cfg!(miri) { 200 } else { 2_000_000 };
        for _ in 0..n {
            check((rng.next() as u32) >> (rng.next() % 32));
        }
        for sum in (1 << 19)..(1 << 19) + n / 20 {
            check(sum);
        }
    }

    #[test]
    fn compiled_softmax_equals_the_reference_on_random_rows() {
        let mut rng = Rng(4242);
        let mut distinct = std::collections::BTreeSet::new();
        let (scales, rows) = if cfg!(miri) { (3, 4) } else { (60, 200) };
        for scale_k in 1..=scales {
            let scale = 0.002 * scale_k as f32 * scale_k as f32 / 8.0;
            let p = SoftmaxParams::from_input_scale(scale, 1.0).unwrap();
            let full = softmax_exp_table(&p);
            let table = &full[..exp_table_len(&full)];
            for _ in 0..rows {
                let n = rng.range(1, 40) as usize;
                let spread = rng.range(1, 255);
                let base = rng.range(-128, 127);
                let x: Vec<i8> = (0..n)
                    .map(|_| (base + rng.range(0, spread)).clamp(-128, 127) as i8)
                    .collect();
                let mut want = vec![0i8; n];
                crate::quant::softmax_i8_with_table(table, &x, &mut want);
                let mut got = vec![0i8; n];
                let (head, tail) = split_table(table);
                softmax_trimmed(&SoftmaxTable::new(&head, &tail), &x, &mut got);
                assert_eq!(got, want, "scale {scale} row {x:?}");
                distinct.extend(got);
            }
        }
        if !cfg!(miri) {
            assert!(distinct.len() > 200, "{} distinct codes", distinct.len());
        }
    }
}
