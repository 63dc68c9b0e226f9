//! TFLite's requantization (double rounding) on eight i32 lanes, and the
//! store of one pass's output codes: the AVX2 twin of the scalar
//! [`FullyConnectedParams::requantize`], lane for lane.

use core::arch::x86_64::*;

use crate::kernels::reference::i8::FullyConnectedParams;
use crate::kernels::simd::Channels;

/// TFLite `MultiplyByQuantizedMultiplier` (double rounding), output offset
/// and clamp for eight channels, as the scalar
/// [`multiply_by_quantized_multiplier`](crate::quant::multiply_by_quantized_multiplier)
/// (the same steps as AVX-512's `requantize16`):
///
/// * `left = clamp(shift, 0, 31)`, `right = clamp(−shift, 0, 31)`;
///   `x·2^left` wraps (`vpsllvd`).
/// * SRDHM: `floor((ab + 2^30) / 2^31)` of each 64-bit product (equal to
///   gemmlowp's truncating division with its nudge for both signs), bits
///   31..62 kept; `MIN·MIN` saturates to `MAX`.
/// * RoundingDivideByPOT: remainder, threshold `mask/2 + (x < 0)` and the
///   arithmetic shift (`vpsravd`).
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn requantize8(
    acc: __m256i,
    mult: __m256i,
    shift: __m256i,
    p: &FullyConnectedParams<'_>,
) -> __m256i {
    // SAFETY: register-only AVX2 operations.
    unsafe {
        let zero = _mm256_setzero_si256();
        let c31 = _mm256_set1_epi32(31);
        let one = _mm256_set1_epi32(1);
        let left = _mm256_min_epi32(_mm256_max_epi32(shift, zero), c31);
        let right = _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero), c31);
        let a = _mm256_sllv_epi32(acc, left);
        // SRDHM(a, mult): even lanes' products from `vpmuldq` directly, odd
        // lanes' after moving their high dwords down.
        let round = _mm256_set1_epi64x(1 << 30);
        let even = _mm256_add_epi64(_mm256_mul_epi32(a, mult), round);
        let odd = _mm256_add_epi64(
            _mm256_mul_epi32(_mm256_srli_epi64::<32>(a), _mm256_srli_epi64::<32>(mult)),
            round,
        );
        // Bits 31..62 into the low dword (even lanes) / the high dword (odd).
        let h = _mm256_blend_epi32::<0b1010_1010>(
            _mm256_srli_epi64::<31>(even),
            _mm256_slli_epi64::<1>(odd),
        );
        let min = _mm256_set1_epi32(i32::MIN);
        let sat = _mm256_and_si256(_mm256_cmpeq_epi32(a, min), _mm256_cmpeq_epi32(mult, min));
        let h = _mm256_blendv_epi8(h, _mm256_set1_epi32(i32::MAX), sat);
        // RoundingDivideByPOT(h, right).
        let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
        let remainder = _mm256_and_si256(h, mask);
        let threshold = _mm256_add_epi32(_mm256_srai_epi32::<1>(mask), _mm256_srli_epi32::<31>(h));
        let q = _mm256_srav_epi32(h, right);
        // `up` is −1 where the remainder passes the threshold.
        let up = _mm256_cmpgt_epi32(remainder, threshold);
        let q = _mm256_sub_epi32(q, up);
        // Output offset (wrapping) and clamp: max, then min, as the scalar.
        let v = _mm256_add_epi32(q, _mm256_set1_epi32(p.output_offset));
        let v = _mm256_max_epi32(v, _mm256_set1_epi32(p.act_min as i32));
        _mm256_min_epi32(v, _mm256_set1_epi32(p.act_max as i32))
    }
}

/// Requantizes `live` (1..=8) row totals of one pass, rows `r..r + live`,
/// into `y[r..r + live]`.
///
/// # Safety
/// AVX2 available; `y` holds `r + live` codes; for
/// `Channels::PerChannel`, `p.multiplier` and `p.shift` hold `r + 8`
/// entries or `live` is the rest of a layer whose rows they cover (only
/// the first `live` lanes are loaded from them, through a copy).
#[inline(always)]
pub(super) unsafe fn finish8(
    totals: &[i32; 8],
    live: usize,
    channels: Channels,
    p: &FullyConnectedParams<'_>,
    r: usize,
    y: &mut [i8],
) {
    let live = live.min(8);
    match channels {
        Channels::PerTensor | Channels::PerChannel => {
            let (m, s) = if channels == Channels::PerTensor {
                let (m, s) = p.channel(0);
                // SAFETY: register-only AVX2 operations.
                unsafe { (_mm256_set1_epi32(m), _mm256_set1_epi32(s)) }
            } else {
                let (mut m, mut s) = ([0i32; 8], [0i32; 8]);
                for j in 0..live {
                    (m[j], s[j]) = p.channel(r + j);
                }
                // SAFETY: unaligned loads of two local 8-lane arrays.
                unsafe {
                    (
                        _mm256_loadu_si256(m.as_ptr() as *const __m256i),
                        _mm256_loadu_si256(s.as_ptr() as *const __m256i),
                    )
                }
            };
            let mut out = [0i32; 8];
            // SAFETY: AVX2 is available (the caller's contract); loads and
            // stores of local 8-lane arrays.
            unsafe {
                let acc = _mm256_loadu_si256(totals.as_ptr() as *const __m256i);
                _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, requantize8(acc, m, s, p));
            }
            for (o, &v) in y[r..r + live].iter_mut().zip(&out) {
                *o = v as i8;
            }
        }
        Channels::Other => {
            for (j, &t) in totals[..live].iter().enumerate() {
                y[r + j] = p.requantize(t, r + j);
            }
        }
    }
}

// Not under Miri: like the other SIMD parity tests (`kernels::parity`).
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use crate::quant::Rounding;

    /// Lane for lane against the scalar `requantize`, on the edges (MIN,
    /// MAX, 0, ±1, powers of two, every shift −31..=30 and the clamped
    /// ones outside, multipliers 0, 1, MAX, MIN) and random values; the
    /// test fails where AVX2 is required and missing.
    #[test]
    fn requantize8_equals_the_scalar_reference() {
        if !crate::kernels::parity::runs(crate::kernels::KernelId::Avx2) {
            return;
        }
        let mut rng = crate::test_rng::Rng(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.next();
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30),
            -65_536,
            -1,
            0,
            1,
            2,
            65_535,
            1 << 30,
            i32::MAX - 1,
            i32::MAX,
        ];
        let mults = [0, 1, 1 << 30, 1_364_976_865, i32::MAX, i32::MIN, -1];
        let mut checked = 0usize;
        for shift in -40..=40 {
            for &m0 in &mults {
                for round in 0..24 {
                    let acc: [i32; 8] = core::array::from_fn(|j| {
                        if round < 2 {
                            edges[(j + 8 * round) % edges.len()]
                        } else {
                            next() as i32 >> (next() % 32)
                        }
                    });
                    let ms: [i32; 8] = core::array::from_fn(|j| {
                        if j % 2 == 0 {
                            m0
                        } else {
                            (next() >> 33) as i32
                        }
                    });
                    let sh: [i32; 8] = core::array::from_fn(|j| shift + j as i32 % 3 - 1);
                    let zp = (next() % 256) as i32 - 128;
                    let (lo, hi) = (-((next() % 129) as i32) as i8, (next() % 128) as i8);
                    let p = FullyConnectedParams {
                        input_offset: 0,
                        output_offset: zp,
                        multiplier: &ms,
                        shift: &sh,
                        act_min: lo,
                        act_max: hi,
                        rounding: Rounding::Double,
                    };
                    let mut y = [0i8; 8];
                    // SAFETY: AVX2 detected above; `y` and the parameters
                    // hold 8 entries.
                    unsafe { finish8(&acc, 8, Channels::PerChannel, &p, 0, &mut y) };
                    for j in 0..8 {
                        assert_eq!(
                            y[j],
                            p.requantize(acc[j], j),
                            "acc {} m {} shift {} zp {zp}",
                            acc[j],
                            ms[j],
                            sh[j]
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
    }
}
