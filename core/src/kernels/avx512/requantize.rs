//! TFLite's requantization (double rounding) on sixteen i32 lanes, and the
//! store of one pass's sixteen output codes.

use core::arch::x86_64::*;

use super::gemv_i8::ROWS;
use super::mask16;
use crate::kernels::reference::i8::FullyConnectedParams;
pub(super) use crate::kernels::simd::Channels;

/// TFLite `MultiplyByQuantizedMultiplier` (double rounding), output offset
/// and clamp for sixteen channels, lane for lane the scalar
/// [`multiply_by_quantized_multiplier`](crate::quant::multiply_by_quantized_multiplier):
///
/// * `left = clamp(shift, 0, 31)`, `right = clamp(−shift, 0, 31)`;
///   `x·2^left` wraps (`vpsllvd`).
/// * SRDHM: the reference's `(ab + nudge) / 2^31` with C truncation equals
///   `floor((ab + 2^30) / 2^31)` for both signs of `ab` (for `ab < 0`,
///   `trunc((ab + 1 − 2^30)/2^31) = floor((ab + 1 − 2^30 + 2^31 − 1)/2^31)`),
///   so each 64-bit product gets `+2^30` and keeps bits 31..62; the only
///   overflow, `MIN·MIN`, saturates to `MAX` as in gemmlowp.
/// * RoundingDivideByPOT: remainder, threshold `mask/2 + (x < 0)` and the
///   arithmetic shift, as the reference.
///
/// # Safety
/// AVX-512 F/BW/VL must be available.
#[inline(always)]
unsafe fn requantize16(
    acc: __m512i,
    mult: __m512i,
    shift: __m512i,
    p: &FullyConnectedParams<'_>,
) -> __m128i {
    // SAFETY: register-only AVX-512 F/VL operations.
    unsafe {
        let zero = _mm512_setzero_si512();
        let c31 = _mm512_set1_epi32(31);
        let one = _mm512_set1_epi32(1);
        let left = _mm512_min_epi32(_mm512_max_epi32(shift, zero), c31);
        let right = _mm512_min_epi32(_mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero), c31);
        let a = _mm512_sllv_epi32(acc, left);
        // SRDHM(a, mult).
        let round = _mm512_set1_epi64(1 << 30);
        let even = _mm512_add_epi64(_mm512_mul_epi32(a, mult), round);
        let odd = _mm512_add_epi64(
            _mm512_mul_epi32(_mm512_srli_epi64::<32>(a), _mm512_srli_epi64::<32>(mult)),
            round,
        );
        // Bits 31..62 into the low dword (even lanes) / high dword (odd).
        let h = _mm512_mask_blend_epi32(
            0xAAAA,
            _mm512_srli_epi64::<31>(even),
            _mm512_slli_epi64::<1>(odd),
        );
        let min = _mm512_set1_epi32(i32::MIN);
        let sat = _mm512_cmpeq_epi32_mask(a, min) & _mm512_cmpeq_epi32_mask(mult, min);
        let h = _mm512_mask_mov_epi32(h, sat, _mm512_set1_epi32(i32::MAX));
        // RoundingDivideByPOT(h, right).
        let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
        let remainder = _mm512_and_si512(h, mask);
        let threshold = _mm512_add_epi32(_mm512_srai_epi32::<1>(mask), _mm512_srli_epi32::<31>(h));
        let q = _mm512_srav_epi32(h, right);
        let up = _mm512_cmpgt_epi32_mask(remainder, threshold);
        let q = _mm512_mask_add_epi32(q, up, q, one);
        // Output offset and clamp, then narrow (values fit i8 after the clamp).
        let v = _mm512_add_epi32(q, _mm512_set1_epi32(p.output_offset));
        let v = _mm512_max_epi32(v, _mm512_set1_epi32(p.act_min as i32));
        let v = _mm512_min_epi32(v, _mm512_set1_epi32(p.act_max as i32));
        _mm512_cvtepi32_epi8(v)
    }
}

/// Requantizes the sixteen row totals of one pass and stores the live ones.
///
/// # Safety
/// AVX-512 F/BW/VL available; `y[r .. r + live]` writable; for
/// `Channels::PerChannel`, `multiplier`/`shift` hold `r + live` entries.
#[inline(always)]
pub(super) unsafe fn finish16(
    acc: __m512i,
    channels: Channels,
    p: &FullyConnectedParams<'_>,
    r: usize,
    live: usize,
    y: &mut [i8],
) {
    let lm = mask16(live);
    // SAFETY: masked loads/stores touch indices `r .. r + live` only, which
    // the caller guarantees exist; per tensor reads index 0, checked by
    // `Channels::PerTensor`.
    unsafe {
        let yp = y.as_mut_ptr().add(r);
        match channels {
            Channels::PerTensor | Channels::PerChannel => {
                let (m, s) = if channels == Channels::PerTensor {
                    (
                        _mm512_set1_epi32(*p.multiplier.get_unchecked(0)),
                        _mm512_set1_epi32(*p.shift.get_unchecked(0)),
                    )
                } else {
                    (
                        _mm512_maskz_loadu_epi32(lm, p.multiplier.as_ptr().add(r)),
                        _mm512_maskz_loadu_epi32(lm, p.shift.as_ptr().add(r)),
                    )
                };
                _mm_mask_storeu_epi8(yp, lm, requantize16(acc, m, s, p));
            }
            Channels::Other => {
                let mut lanes = [0i32; ROWS];
                _mm512_storeu_si512(lanes.as_mut_ptr() as *mut _, acc);
                for (j, &a) in lanes[..live].iter().enumerate() {
                    *yp.add(j) = p.requantize(a, r + j);
                }
            }
        }
    }
}
