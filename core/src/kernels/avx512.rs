//! x86-64 AVX-512 twins of the scalar references (F, BW, VL, VNNI).
//!
//! * f32: the 16 canonical lanes are exactly one `zmm` per row; eight rows
//!   per pass (eight independent `vfmadd231ps` chains), masked loads for the
//!   tail (masked-off lanes are `+0.0`, which changes no bit). The tree is
//!   h = 8 by adding the two 256-bit halves, then
//!   `avx2::tree_rows8` for eight rows at once (four
//!   rows per pass for rows of 512 floats or more, to spare the L1 sets).
//! * int8: `vpdpbusd` multiplies u8 × s8. The input codes are made unsigned
//!   with `x ^ 0x80 = x + 128`, so the dot product gains `128·Σw`; with the
//!   row sums `Σ_d w[c,d]` (precomputed at load time, or computed here with
//!   a second `vpdpbusd` against ones) the exact accumulator is
//!   `dpbusd(x + 128, w) + (input_offset − 128)·Σw + bias`, all wrapping mod
//!   2^32 like the reference. Sixteen rows per pass; their sixteen `zmm`
//!   partial sums are transposed and added into one vector of row totals,
//!   which is requantized sixteen channels at a time by `requantize16`,
//!   a lane-for-lane copy of gemmlowp's SRDHM and rounding shift.
//!   With weights packed at load time ([`pack_vnni`](super::pack_vnni)),
//!   one `vpdpbusd` multiplies sixteen rows of unsigned `w + 128` by a
//!   broadcast word of four signed inputs, so the lanes already are the row
//!   totals (`−128·Σx` per call restores them exactly).
//! * ReLU: a mask compare keeping `x > 0` and NaN.
//! * Sigmoid, SiLU, softmax, tanh, GELU (tanh form): `libm::expf`,
//!   `expm1f` and `tanhf` ported lane for lane (`kernels::act_exp`).

use core::arch::x86_64::*;

use super::avx2::{tree_rows4, tree_rows8};
use super::kernel::{Kernel, KernelId};
use super::reference::f32::{reduce_lanes, F32_LANES};
use super::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use super::simd::fitting_rows;
use crate::quant::Rounding;

/// The AVX-512 kernel. Holding a value proves the CPU has AVX-512 F, BW, VL
/// and VNNI (and AVX2 + FMA, which they imply).
#[derive(Debug, Clone, Copy)]
pub struct Avx512 {
    _proof: (),
}

impl Avx512 {
    /// The kernel, if this CPU runs AVX-512 F/BW/VL/VNNI (detected at run
    /// time with the `std` feature, from `cfg(target_feature)` without it).
    #[inline]
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx512vnni",
            target_feature = "avx2",
            target_feature = "fma"
        ));
        if ok {
            Some(Avx512 { _proof: () })
        } else {
            None
        }
    }

    /// The kernel without checking.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW, VL and VNNI, AVX2 and FMA.
    #[inline(always)]
    pub const unsafe fn new_unchecked() -> Self {
        Avx512 { _proof: () }
    }
}

impl Kernel for Avx512 {
    const ID: KernelId = KernelId::Avx512;

    #[inline]
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { dot_f32_avx512(a, b) }
    }

    #[inline]
    fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { gemv_f32_avx512(w, x, b, y) }
    }

    #[inline]
    fn fully_connected_i8(
        self,
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { fc_i8_avx512(w, x, bias, row_sums, p, y) }
    }

    #[inline]
    fn relu_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { relu_f32_avx512(xs) }
    }

    #[inline]
    fn sigmoid_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { sigmoid_avx512(xs) }
    }

    #[inline]
    fn silu_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { silu_avx512(xs) }
    }

    #[inline]
    fn tanh_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { tanh_avx512(xs) }
    }

    #[inline]
    fn gelu_tanh_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { gelu_tanh_avx512(xs) }
    }

    #[inline]
    fn softmax_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { softmax_avx512(xs) }
    }

    #[inline]
    fn fully_connected_i8_packed(
        self,
        packed: &[i8],
        x: &[i8],
        bias: &[i32],
        row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { fc_i8_packed_avx512(packed, x, bias, row_sums, p, y) }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn sigmoid_avx512(xs: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { super::act_exp::sigmoid(xs) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn silu_avx512(xs: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { super::act_exp::silu(xs) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn tanh_avx512(xs: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { super::act_exp::tanh(xs) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn gelu_tanh_avx512(xs: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { super::act_exp::gelu_tanh(xs) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn softmax_avx512(xs: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { super::act_exp::softmax(xs) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn fc_i8_packed_avx512(
    packed: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { fc_i8_packed_body(packed, x, bias, row_sums, p, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn dot_f32_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: both pointers have `n` readable elements; features enabled.
    unsafe { row_canonical(a.as_ptr(), b.as_ptr(), n) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn gemv_f32_avx512(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { gemv_f32_body(w, x, b, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn fc_i8_avx512(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { fc_i8_body(w, x, bias, row_sums, p, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
unsafe fn relu_f32_avx512(xs: &mut [f32]) {
    // SAFETY: the features are enabled by this wrapper.
    unsafe { relu_body(xs) }
}

// ---------------------------------------------------------------- f32 ----

/// Mask of the first `t` (< 16) lanes.
#[inline(always)]
fn mask16(t: usize) -> __mmask16 {
    ((1u32 << t.min(16)) - 1) as __mmask16
}

/// Step h = 8 of the canonical tree: lanes `l` and `l + 8` added.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn fold_h8(z: __m512) -> __m256 {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(z)));
        _mm256_add_ps(_mm512_castps512_ps256(z), hi)
    }
}

/// One row's 16 canonical lanes.
///
/// # Safety
/// AVX-512 F + FMA available; `w` and `x` readable for `n` elements.
#[inline(always)]
unsafe fn row_lanes(w: *const f32, x: *const f32, n: usize) -> __m512 {
    // SAFETY: full chunks stay below `n`; the tail load is masked to `n`.
    unsafe {
        let mut acc = _mm512_setzero_ps();
        let full = n / F32_LANES;
        for k in 0..full {
            let o = k * F32_LANES;
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(w.add(o)), _mm512_loadu_ps(x.add(o)), acc);
        }
        let t = n % F32_LANES;
        if t != 0 {
            let o = full * F32_LANES;
            let m = mask16(t);
            acc = _mm512_fmadd_ps(
                _mm512_maskz_loadu_ps(m, w.add(o)),
                _mm512_maskz_loadu_ps(m, x.add(o)),
                acc,
            );
        }
        acc
    }
}

/// One row's canonical dot product (tree through [`reduce_lanes`]).
///
/// # Safety
/// As [`row_lanes`].
#[inline(always)]
unsafe fn row_canonical(w: *const f32, x: *const f32, n: usize) -> f32 {
    let mut acc = [0.0f32; F32_LANES];
    // SAFETY: `acc` has 16 writable floats; the rest as `row_lanes`.
    unsafe { _mm512_storeu_ps(acc.as_mut_ptr(), row_lanes(w, x, n)) };
    reduce_lanes(&mut acc)
}

/// The canonical GEMV, eight rows per pass.
///
/// # Safety
/// AVX-512 F, AVX2 and FMA must be available.
#[inline(always)]
unsafe fn gemv_f32_body(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        super::reference::f32::Scalar::gemv(w, x, b, y);
        return;
    }
    let rows = fitting_rows(w.len(), n, b.len(), y.len());
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let full = n / F32_LANES;
    let t = n % F32_LANES;
    let m = mask16(t);
    let mut r = 0;
    // SAFETY: rows r..r+8 <= rows have full weight rows, bias entries and
    // output slots; chunk loads stay below `n` in each row and the tail is
    // masked to `n`.
    unsafe {
        // Eight rows per pass while rows are short; four when they are long,
        // where nine streams 4 KiB apart (1024 floats) would overflow the
        // 8-way L1 sets. Both follow the canonical order exactly.
        let eight = n < 512;
        while eight && r + 8 <= rows {
            let w0 = wp.add(r * n);
            let mut acc = [_mm512_setzero_ps(); 8];
            for k in 0..full {
                let o = k * F32_LANES;
                let xv = _mm512_loadu_ps(xp.add(o));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_loadu_ps(w0.add(j * n + o)), xv, *a);
                }
            }
            if t != 0 {
                let o = full * F32_LANES;
                let xv = _mm512_maskz_loadu_ps(m, xp.add(o));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0.add(j * n + o)), xv, *a);
                }
            }
            let s = tree_rows8([
                fold_h8(acc[0]),
                fold_h8(acc[1]),
                fold_h8(acc[2]),
                fold_h8(acc[3]),
                fold_h8(acc[4]),
                fold_h8(acc[5]),
                fold_h8(acc[6]),
                fold_h8(acc[7]),
            ]);
            let out = _mm256_add_ps(s, _mm256_loadu_ps(b.as_ptr().add(r)));
            _mm256_storeu_ps(y.as_mut_ptr().add(r), out);
            r += 8;
        }
        while r + 4 <= rows {
            let w0 = wp.add(r * n);
            let mut acc = [_mm512_setzero_ps(); 4];
            for k in 0..full {
                let o = k * F32_LANES;
                let xv = _mm512_loadu_ps(xp.add(o));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_loadu_ps(w0.add(j * n + o)), xv, *a);
                }
            }
            if t != 0 {
                let o = full * F32_LANES;
                let xv = _mm512_maskz_loadu_ps(m, xp.add(o));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0.add(j * n + o)), xv, *a);
                }
            }
            let s = tree_rows4(
                fold_h8(acc[0]),
                fold_h8(acc[1]),
                fold_h8(acc[2]),
                fold_h8(acc[3]),
            );
            let out = _mm_add_ps(s, _mm_loadu_ps(b.as_ptr().add(r)));
            _mm_storeu_ps(y.as_mut_ptr().add(r), out);
            r += 4;
        }
        while r < rows {
            y[r] = row_canonical(wp.add(r * n), xp, n) + b[r];
            r += 1;
        }
    }
}

// --------------------------------------------------------------- int8 ----

/// Rows per int8 pass: one vector of sixteen i32 row totals.
const ROWS: usize = 16;
/// Bytes per `vpdpbusd` step.
const STEP: usize = 64;

/// Lane `r` of the result is the (wrapping) sum of the sixteen i32 lanes of
/// `v[r]`: a transpose-and-add in four levels (45 register operations for
/// sixteen rows instead of sixteen separate horizontal sums).
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn row_totals(v: &[__m512i; ROWS]) -> __m512i {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3].
        let p = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b))
        };
        // Per 128-bit lane: [a, b, c, d] partial sums of four rows.
        let q = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
        };
        // 128-bit lanes: [a.0 + a.1, a.2 + a.3, b.0 + b.1, b.2 + b.3].
        let s = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(
                _mm512_shuffle_i32x4::<0b10_00_10_00>(a, b),
                _mm512_shuffle_i32x4::<0b11_01_11_01>(a, b),
            )
        };
        let u0 = q(p(v[0], v[1]), p(v[2], v[3]));
        let u1 = q(p(v[4], v[5]), p(v[6], v[7]));
        let u2 = q(p(v[8], v[9]), p(v[10], v[11]));
        let u3 = q(p(v[12], v[13]), p(v[14], v[15]));
        s(s(u0, u1), s(u2, u3))
    }
}

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

/// How the multipliers and shifts are laid out, checked once per call.
#[derive(Clone, Copy, PartialEq)]
enum Channels {
    /// One (multiplier, shift) for every channel.
    PerTensor,
    /// One per channel, at least `rows` of each.
    PerChannel,
    /// Anything else: the scalar `requantize` handles it row by row.
    Other,
}

/// `Σ_d mult(w[r + j, d])` for the sixteen rows of one pass, where the
/// caller's `dp` step does the multiply-accumulate.
///
/// # Safety
/// AVX-512 F/BW/VNNI available; `rowp[j]` readable for `n` bytes.
#[inline(always)]
unsafe fn pass_dots(
    rowp: &[*const i8; ROWS],
    lhs: impl Fn(usize, Option<__mmask64>) -> __m512i,
    n: usize,
) -> __m512i {
    // SAFETY: full 64-byte chunks stay below `n`; the tail is masked to
    // `n` (masked-off weights are 0, so they add nothing whatever `lhs`).
    unsafe {
        let mut acc = [_mm512_setzero_si512(); ROWS];
        let full = n / STEP;
        for k in 0..full {
            let o = k * STEP;
            let u = lhs(o, None);
            for (a, &wr) in acc.iter_mut().zip(rowp) {
                *a = _mm512_dpbusd_epi32(*a, u, _mm512_loadu_si512(wr.add(o) as *const _));
            }
        }
        let t = n % STEP;
        if t != 0 {
            let o = full * STEP;
            let m: __mmask64 = (1u64 << t) - 1;
            let u = lhs(o, Some(m));
            for (a, &wr) in acc.iter_mut().zip(rowp) {
                *a = _mm512_dpbusd_epi32(*a, u, _mm512_maskz_loadu_epi8(m, wr.add(o)));
            }
        }
        row_totals(&acc)
    }
}

/// The int8 layer with VNNI, sixteen rows per pass.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI must be available.
#[inline(always)]
unsafe fn fc_i8_body(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    let n = x.len();
    let rows = fitting_rows(w.len(), n, bias.len(), y.len());
    if n == 0 || rows == 0 {
        I8Scalar::fully_connected(w, x, bias, p, y);
        return;
    }
    // `requantize16` vectorizes double rounding only; single rounding goes
    // through the scalar `requantize`, row by row.
    let channels = if p.rounding != Rounding::Double {
        Channels::Other
    } else if p.multiplier.len() == 1 && !p.shift.is_empty() {
        Channels::PerTensor
    } else if p.multiplier.len() >= rows && p.shift.len() >= rows {
        Channels::PerChannel
    } else {
        Channels::Other
    };
    let have_sums = row_sums.len() >= rows;
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let mut r = 0;
    // SAFETY: every row pointer is clamped to a row below `rows`, each of
    // which has `n` readable bytes (`rows·n <= w.len()`); bias, row sums,
    // multipliers, shifts and outputs are read/written with masks covering
    // only indices below `rows` (or, per tensor, index 0).
    unsafe {
        let flip = _mm512_set1_epi8(i8::MIN); // x ^ 0x80 = x + 128 as u8
        let ones = _mm512_set1_epi8(1);
        let correction = _mm512_set1_epi32(p.input_offset.wrapping_sub(128));
        let xu = |o: usize, m: Option<__mmask64>| match m {
            None => _mm512_xor_si512(_mm512_loadu_si512(xp.add(o) as *const _), flip),
            Some(m) => _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, xp.add(o)), flip),
        };
        let one_bytes = |_: usize, _: Option<__mmask64>| ones;
        while r < rows {
            let live = (rows - r).min(ROWS);
            let lm = mask16(live);
            // Rows past the end repeat the last row; their lanes are not stored.
            let mut rowp = [wp; ROWS];
            for (j, rp) in rowp.iter_mut().enumerate() {
                *rp = wp.add((r + j.min(live - 1)) * n);
            }
            let dots = pass_dots(&rowp, xu, n);
            let sums = if have_sums {
                _mm512_maskz_loadu_epi32(lm, row_sums.as_ptr().add(r))
            } else {
                pass_dots(&rowp, one_bytes, n)
            };
            let b = _mm512_maskz_loadu_epi32(lm, bias.as_ptr().add(r));
            let acc = _mm512_add_epi32(
                _mm512_add_epi32(dots, _mm512_mullo_epi32(sums, correction)),
                b,
            );
            finish16(acc, channels, p, r, live, y);
            r += live;
        }
    }
}

/// Requantizes the sixteen row totals of one pass and stores the live ones.
///
/// # Safety
/// AVX-512 F/BW/VL available; `y[r .. r + live]` writable; for
/// `Channels::PerChannel`, `multiplier`/`shift` hold `r + live` entries.
#[inline(always)]
unsafe fn finish16(
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

/// The int8 layer on VNNI-packed weights: per block of sixteen rows and
/// group of four columns, one `vpbroadcastd` of four input codes from memory
/// and one `vpdpbusd` of the 64 packed (unsigned, `w + 128`) weight bytes
/// against them; the sixteen i32 lanes are the sixteen row totals. Four
/// accumulators (groups mod 4) give independent chains. Exact:
/// `Σ (w + 128)·x − 128·Σx + input_offset·Σw + bias = Σ w·(x + input_offset)
/// + bias`, all mod 2^32.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI must be available.
#[inline(always)]
unsafe fn fc_i8_packed_body(
    packed: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    use super::reference::vnni::{packed_vnni_len, VNNI_COLS};
    let cols = x.len();
    let rows = y.len().min(bias.len());
    let fits = packed_vnni_len(rows, cols).is_some_and(|need| packed.len() >= need);
    if cols == 0 || !fits || row_sums.len() < rows {
        I8Scalar::fully_connected_packed(packed, x, bias, p, y);
        return;
    }
    // `requantize16` vectorizes double rounding only; single rounding goes
    // through the scalar `requantize`, row by row.
    let channels = if p.rounding != Rounding::Double {
        Channels::Other
    } else if p.multiplier.len() == 1 && !p.shift.is_empty() {
        Channels::PerTensor
    } else if p.multiplier.len() >= rows && p.shift.len() >= rows {
        Channels::PerChannel
    } else {
        Channels::Other
    };
    let groups = cols.div_ceil(VNNI_COLS);
    let full = cols / VNNI_COLS;
    // The last, partial group of inputs, zero-padded (its padded weights are
    // stored as 0x80 = 128, times an input of 0).
    let mut last = [0i8; VNNI_COLS];
    last[..cols - full * VNNI_COLS].copy_from_slice(&x[full * VNNI_COLS..]);
    let last = i32::from_le_bytes(last.map(|v| v as u8));
    let x_sum = x.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
    let mut r = 0;
    // SAFETY: block `r / 16` of the packed weights spans `groups · 64` bytes
    // inside `packed` (checked against `packed_vnni_len` above); input words
    // of full groups lie inside `x`; bias, row sums and outputs are accessed
    // with masks covering `r .. r + live` below `rows`.
    unsafe {
        let xp = x.as_ptr();
        let correction = _mm512_set1_epi32(p.input_offset);
        let x_term = _mm512_set1_epi32(x_sum.wrapping_mul(128));
        let stride = groups * STEP;
        // Two blocks (32 rows) per pass share each input broadcast; the last
        // one or two blocks go one at a time.
        while rows - r > ROWS {
            let base = packed.as_ptr().add((r / ROWS) * stride);
            let dots = packed_dots::<2>(base, stride, xp, full, groups, last);
            for (h, &d) in dots.iter().enumerate() {
                let rr = r + h * ROWS;
                if rr >= rows {
                    break;
                }
                let live = (rows - rr).min(ROWS);
                let lm = mask16(live);
                let sums = _mm512_maskz_loadu_epi32(lm, row_sums.as_ptr().add(rr));
                let b = _mm512_maskz_loadu_epi32(lm, bias.as_ptr().add(rr));
                let total = _mm512_add_epi32(
                    _mm512_sub_epi32(d, x_term),
                    _mm512_add_epi32(_mm512_mullo_epi32(sums, correction), b),
                );
                finish16(total, channels, p, rr, live, y);
            }
            r = (r + 2 * ROWS).min(rows);
        }
        while r < rows {
            let live = (rows - r).min(ROWS);
            let lm = mask16(live);
            let base = packed.as_ptr().add((r / ROWS) * stride);
            let [dots] = packed_dots::<1>(base, stride, xp, full, groups, last);
            let sums = _mm512_maskz_loadu_epi32(lm, row_sums.as_ptr().add(r));
            let b = _mm512_maskz_loadu_epi32(lm, bias.as_ptr().add(r));
            let total = _mm512_add_epi32(
                _mm512_sub_epi32(dots, x_term),
                _mm512_add_epi32(_mm512_mullo_epi32(sums, correction), b),
            );
            finish16(total, channels, p, r, live, y);
            r += live;
        }
    }
}

/// The row totals (before offsets) of `NB` consecutive 16-row blocks of
/// packed weights starting at `base`, `stride` bytes apart: per group of four
/// columns one broadcast of the input word, shared by the blocks, and one
/// `vpdpbusd` per block; four accumulators per block (groups mod 4).
///
/// # Safety
/// AVX-512 F/VNNI available; `NB` blocks of `stride = groups · 64` bytes
/// readable from `base`; `xp` readable for `4 · full` bytes.
#[inline(always)]
unsafe fn packed_dots<const NB: usize>(
    base: *const i8,
    stride: usize,
    xp: *const i8,
    full: usize,
    groups: usize,
    last: i32,
) -> [__m512i; NB] {
    use super::reference::vnni::VNNI_COLS;
    // SAFETY: the loads stay inside the `NB` blocks and the `full` input
    // words, as the caller guarantees.
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); 4]; NB];
        let mut g = 0;
        while g + 4 <= full {
            for u in 0..4 {
                let xw =
                    _mm512_set1_epi32(xp.add((g + u) * VNNI_COLS).cast::<i32>().read_unaligned());
                for (blk, a) in acc.iter_mut().enumerate() {
                    let wv =
                        _mm512_loadu_si512(base.add(blk * stride + (g + u) * STEP) as *const _);
                    a[u] = _mm512_dpbusd_epi32(a[u], wv, xw);
                }
            }
            g += 4;
        }
        while g < groups {
            let word = if g < full {
                xp.add(g * VNNI_COLS).cast::<i32>().read_unaligned()
            } else {
                last
            };
            let xw = _mm512_set1_epi32(word);
            for (blk, a) in acc.iter_mut().enumerate() {
                let wv = _mm512_loadu_si512(base.add(blk * stride + g * STEP) as *const _);
                a[0] = _mm512_dpbusd_epi32(a[0], wv, xw);
            }
            g += 1;
        }
        let mut out = [_mm512_setzero_si512(); NB];
        for (o, a) in out.iter_mut().zip(&acc) {
            *o = _mm512_add_epi32(_mm512_add_epi32(a[0], a[1]), _mm512_add_epi32(a[2], a[3]));
        }
        out
    }
}

// --------------------------------------------------------------- ReLU ----

/// ReLU: keeps `x` where `!(x <= 0)` (`x > 0` or NaN), `+0.0` elsewhere.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn relu_body(xs: &mut [f32]) {
    let n = xs.len();
    let p = xs.as_mut_ptr();
    let mut i = 0;
    // SAFETY: full chunks stay below `n`; the tail is masked to `n`.
    unsafe {
        let zero = _mm512_setzero_ps();
        while i + F32_LANES <= n {
            let v = _mm512_loadu_ps(p.add(i));
            let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, zero);
            _mm512_storeu_ps(p.add(i), _mm512_maskz_mov_ps(keep, v));
            i += F32_LANES;
        }
        if i < n {
            let m = mask16(n - i);
            let v = _mm512_maskz_loadu_ps(m, p.add(i));
            let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(v, zero);
            _mm512_mask_storeu_ps(p.add(i), m, _mm512_maskz_mov_ps(keep, v));
        }
    }
}
