//! The canonical f32 order (see [`crate::kernels::gemv_f32`]) on SIMD
//! lanes, written once over [`F32Lanes`]: the dot product and the
//! multi-row GEMV loops.
//!
//! The 16 canonical lanes are `16 / N` registers of `N` lanes, element `i`
//! of each 16-element chunk in lane `i % N` of register `i / N`: one AVX-512
//! register, two AVX2 registers, four NEON registers. Every step is one
//! fused multiply-add per lane ([`F32Lanes::mul_add`]), chunk after chunk in
//! increasing `i`; a tail shorter than 16 is loaded zero-filled, which
//! changes no bit (a lane that starts at `+0.0` never becomes `−0.0`, and
//! `fma(0, 0, acc) = acc`). Rows are accumulated several at a time for
//! independent FMA chains; that changes nothing per row. The tree 8, 4, 2,
//! 1 and the bias are [`Canonical`]'s, one implementation per register type
//! (shuffles only move values; every add is a canonical pair).

use super::{fitting_rows, F32Lanes};
use crate::kernels::reference::f32::{reduce_lanes, Scalar, F32_LANES};

/// A register type that holds the canonical lanes, with its trees.
///
/// # Safety
/// As [`F32Lanes`].
pub(crate) trait Canonical: F32Lanes {
    /// The 16 canonical lanes: `[Self; 16 / N]`, lanes `0 ..` in order.
    type Group: Copy + AsRef<[Self]> + AsMut<[Self]>;

    /// Whether the GEMV takes eight rows per pass (else four) while rows
    /// are shorter than 512 floats; longer rows take four, where nine
    /// streams 4 KiB apart (1024 floats) would overflow the 8-way L1 sets.
    const EIGHT_ROWS: bool;

    /// All sixteen lanes `+0.0`.
    unsafe fn zero_group() -> Self::Group;

    /// The canonical tree of one row: [`reduce_lanes`] on its 16 lanes.
    #[inline(always)]
    unsafe fn tree(acc: &Self::Group) -> f32 {
        let mut lanes = [0.0f32; F32_LANES];
        for (g, v) in acc.as_ref().iter().enumerate() {
            // SAFETY: register `g` holds lanes `g·N .. (g + 1)·N ≤ 16`.
            unsafe { v.store(lanes.as_mut_ptr().add(g * Self::N)) };
        }
        reduce_lanes(&mut lanes)
    }

    /// `y[j] = tree(acc[j]) + b[j]` for four rows.
    ///
    /// # Safety
    /// Also: `b` readable and `y` writable for four floats.
    #[inline(always)]
    unsafe fn finish4(acc: &[Self::Group; 4], b: *const f32, y: *mut f32) {
        for (j, a) in acc.iter().enumerate() {
            // SAFETY: j < 4, inside the caller's bounds.
            unsafe { *y.add(j) = Self::tree(a) + *b.add(j) };
        }
    }

    /// `y[j] = tree(acc[j]) + b[j]` for eight rows.
    ///
    /// # Safety
    /// Also: `b` readable and `y` writable for eight floats.
    #[inline(always)]
    unsafe fn finish8(acc: &[Self::Group; 8], b: *const f32, y: *mut f32) {
        let [a0, a1, a2, a3, a4, a5, a6, a7] = *acc;
        // SAFETY: rows 0..4 and 4..8, inside the caller's bounds.
        unsafe {
            Self::finish4(&[a0, a1, a2, a3], b, y);
            Self::finish4(&[a4, a5, a6, a7], b.add(4), y.add(4));
        }
    }
}

/// The 16 lanes `p[0 .. 16]`.
///
/// # Safety
/// `L`'s instruction set; `p` readable for 16 floats.
#[inline(always)]
unsafe fn load_group<L: Canonical>(p: *const f32) -> L::Group {
    // SAFETY: the caller's bounds and instruction set.
    unsafe {
        let mut v = L::zero_group();
        for (g, r) in v.as_mut().iter_mut().enumerate() {
            *r = L::load(p.add(g * L::N));
        }
        v
    }
}

/// The 16 lanes `p[0 .. t]` (`t < 16`), zero-filled.
///
/// # Safety
/// `L`'s instruction set; `p` readable for `t` floats.
#[inline(always)]
unsafe fn load_group_partial<L: Canonical>(p: *const f32, t: usize) -> L::Group {
    // SAFETY: register `g` reads `p[g·N .. min(t, (g + 1)·N)]` only (none
    // when `t ≤ g·N`, where its pointer is not dereferenced).
    unsafe {
        let mut v = L::zero_group();
        for (g, r) in v.as_mut().iter_mut().enumerate() {
            let lo = g * L::N;
            *r = L::load_partial(p.wrapping_add(lo), t.saturating_sub(lo).min(L::N));
        }
        v
    }
}

/// `acc[l] = fma(w[l], x[l], acc[l])` on the 16 lanes.
///
/// # Safety
/// `L`'s instruction set.
#[inline(always)]
unsafe fn group_fma<L: Canonical>(acc: &mut L::Group, w: &L::Group, x: &L::Group) {
    let lanes = acc.as_mut().iter_mut().zip(w.as_ref()).zip(x.as_ref());
    for ((a, &wv), &xv) in lanes {
        // SAFETY: the caller's instruction set.
        *a = unsafe { wv.mul_add(xv, *a) };
    }
}

/// The canonical lanes of `R` rows `w`, `w + n`, …, `w + (R − 1)·n` against
/// `x`, `n` columns each.
///
/// # Safety
/// `L`'s instruction set; `w` readable for `R·n` floats, `x` for `n`.
#[inline(always)]
unsafe fn rows_lanes<L: Canonical, const R: usize>(
    w: *const f32,
    n: usize,
    x: *const f32,
) -> [L::Group; R] {
    const {
        assert!(core::mem::size_of::<L::Group>() == F32_LANES * core::mem::size_of::<f32>());
    }
    // SAFETY: full chunks read `16k .. 16k + 16 ≤ n` of each row and of
    // `x`; the tail reads `16·full .. n` (partial loads).
    unsafe {
        let mut acc = [L::zero_group(); R];
        let full = n / F32_LANES;
        for k in 0..full {
            let o = k * F32_LANES;
            let xv = load_group::<L>(x.add(o));
            for (j, a) in acc.iter_mut().enumerate() {
                group_fma::<L>(a, &load_group::<L>(w.add(j * n + o)), &xv);
            }
        }
        let t = n % F32_LANES;
        if t != 0 {
            let o = full * F32_LANES;
            let xv = load_group_partial::<L>(x.add(o), t);
            for (j, a) in acc.iter_mut().enumerate() {
                group_fma::<L>(a, &load_group_partial::<L>(w.add(j * n + o), t), &xv);
            }
        }
        acc
    }
}

/// Canonical dot product over `min(a.len(), b.len())` elements.
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn dot<L: Canonical>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: both slices hold `n` elements; the caller's instruction set.
    unsafe {
        let [acc] = rows_lanes::<L, 1>(a.as_ptr(), n, b.as_ptr());
        L::tree(&acc)
    }
}

/// The canonical GEMV, with the semantics (and totality) of
/// [`Scalar::gemv`]: four or eight rows per pass, the rest one by one.
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn gemv<L: Canonical>(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        Scalar::gemv(w, x, b, y);
        return;
    }
    let rows = fitting_rows(w.len(), n, b.len(), y.len());
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let (bp, yp) = (b.as_ptr(), y.as_mut_ptr());
    let mut r = 0;
    // SAFETY: rows below `rows` have full weight rows (`rows·n ≤ w.len()`),
    // bias entries and output slots, so every pass of `R` rows starting at
    // `r` with `r + R ≤ rows` stays inside all four slices; the
    // instruction set is the caller's.
    unsafe {
        if L::EIGHT_ROWS && n < 512 {
            while r + 8 <= rows {
                let acc = rows_lanes::<L, 8>(wp.add(r * n), n, xp);
                L::finish8(&acc, bp.add(r), yp.add(r));
                r += 8;
            }
        }
        while r + 4 <= rows {
            let acc = rows_lanes::<L, 4>(wp.add(r * n), n, xp);
            L::finish4(&acc, bp.add(r), yp.add(r));
            r += 4;
        }
        while r < rows {
            let [acc] = rows_lanes::<L, 1>(wp.add(r * n), n, xp);
            *yp.add(r) = L::tree(&acc) + *bp.add(r);
            r += 1;
        }
    }
}
