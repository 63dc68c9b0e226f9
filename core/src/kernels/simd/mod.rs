//! What the desktop SIMD twins (AVX2, AVX-512, NEON) share: a small trait
//! of lane operations, and the f32 algorithms written once over it.
//!
//! The algorithms ([`act`]: `libm`'s `expf`, `expm1f`, `tanhf` and the
//! activations built on them; [`gemv_f32`]: the canonical-order dot product
//! and GEMV loops) are `#[inline(always)]` generic functions over
//! [`F32Lanes`]. Each kernel implements the trait for its register type
//! (`avx2::F32x8`, `avx512::F32x16`, `neon::F32x4`), one intrinsic per
//! method, and calls the algorithms from thin `#[target_feature]` wrappers
//! ([`lane_kernel_f32_methods`]), into which everything inlines. The three
//! widths therefore run the same sequence of lane operations, and a lane's
//! result depends only on that lane's input: bit parity between the widths
//! holds by construction (matrixmultiply's `sgemm_kernel.rs` model).
//!
//! Every trait method is one IEEE 754 operation per lane (no fused
//! multiply-add except [`F32Lanes::mul_add`], which is fused by definition),
//! and LLVM does not contract separate multiply and add intrinsics, so the
//! ports keep `libm`'s rounding step for step.

pub(crate) mod act;
pub(crate) mod gemv_f32;

/// f32 lanes of one SIMD register and the operations the ports need.
///
/// # Safety
/// Every method is `unsafe`: it may only run where the CPU has the
/// implementing type's instruction set (inside its kernel's
/// `#[target_feature]` wrappers). Pointer arguments carry their own bounds,
/// stated per method.
pub(crate) trait F32Lanes: Copy {
    /// Lanes per register.
    const N: usize;
    /// The i32 lanes of the same register width.
    type I: I32Lanes<M = Self::M>;
    /// A per-lane truth value, as the compares produce it.
    type M: Mask;

    /// Every lane `v`.
    unsafe fn splat(v: f32) -> Self;
    /// Lanes `p[0 .. N]`; `p` readable for `N` floats (any alignment).
    unsafe fn load(p: *const f32) -> Self;
    /// Lanes `p[0 .. n]` for `n ≤ N`, the rest `+0.0`; reads only
    /// `p[0 .. n]` (nothing when `n = 0`, where `p` may be dangling).
    unsafe fn load_partial(p: *const f32, n: usize) -> Self;
    /// Stores all lanes to `p[0 .. N]`.
    unsafe fn store(self, p: *mut f32);
    /// Stores lanes `0 .. n` (`n ≤ N`) to `p[0 .. n]`, touching nothing else.
    unsafe fn store_partial(self, p: *mut f32, n: usize);

    /// `self + b`.
    unsafe fn add(self, b: Self) -> Self;
    /// `self − b`.
    unsafe fn sub(self, b: Self) -> Self;
    /// `self · b`.
    unsafe fn mul(self, b: Self) -> Self;
    /// `self / b`, correctly rounded.
    unsafe fn div(self, b: Self) -> Self;
    /// `self · b + c` with one rounding (IEEE 754 fusedMultiplyAdd).
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// `−self`: the sign bit flipped (as Rust's `-x`).
    unsafe fn neg(self) -> Self;

    /// `self < b` (ordered: false where either is NaN).
    unsafe fn lt(self, b: Self) -> Self::M;
    /// `!(self ≤ b)`: `self > b`, or either is NaN.
    unsafe fn not_le(self, b: Self) -> Self::M;
    /// `a` where `m` holds, else `b`.
    unsafe fn select(m: Self::M, a: Self, b: Self) -> Self;
    /// `self` where `m` holds, else `+0.0`.
    unsafe fn keep(self, m: Self::M) -> Self;

    /// The lanes' bits.
    unsafe fn to_bits(self) -> Self::I;
    /// Lanes from their bits.
    unsafe fn from_bits(i: Self::I) -> Self;
    /// Conversion to i32, truncating toward zero (out-of-range lanes are
    /// unspecified: every port masks them away).
    unsafe fn to_i32(self) -> Self::I;
    /// Conversion from i32, rounding to nearest.
    unsafe fn from_i32(i: Self::I) -> Self;
}

/// i32 lanes (two's complement, wrapping arithmetic), see [`F32Lanes`].
///
/// # Safety
/// As [`F32Lanes`].
pub(crate) trait I32Lanes: Copy {
    /// The mask type of the compares.
    type M: Mask;

    /// Every lane `v`.
    unsafe fn splat(v: i32) -> Self;
    /// `self & b`.
    unsafe fn and(self, b: Self) -> Self;
    /// `self ^ b`.
    unsafe fn xor(self, b: Self) -> Self;
    /// `self + b`, wrapping.
    unsafe fn add(self, b: Self) -> Self;
    /// `self − b`, wrapping.
    unsafe fn sub(self, b: Self) -> Self;
    /// `self << 23`: an exponent into the f32 exponent field.
    unsafe fn shl23(self) -> Self;
    /// `self > b` (signed).
    unsafe fn gt(self, b: Self) -> Self::M;
    /// `self < b` (signed).
    unsafe fn lt(self, b: Self) -> Self::M;
    /// `self == b`.
    unsafe fn eq(self, b: Self) -> Self::M;
    /// `a` where `m` holds, else `b`.
    unsafe fn select(m: Self::M, a: Self, b: Self) -> Self;
    /// `self` where `m` holds, else `0`.
    unsafe fn keep(self, m: Self::M) -> Self;
}

/// Per-lane truth values, see [`F32Lanes`].
///
/// # Safety
/// As [`F32Lanes`].
pub(crate) trait Mask: Copy {
    /// Both.
    unsafe fn and(self, b: Self) -> Self;
    /// Either.
    unsafe fn or(self, b: Self) -> Self;
    /// `self` and not `b`.
    unsafe fn and_not(self, b: Self) -> Self;
}

/// Rows a total kernel may compute: those with a full weight row, a bias
/// and an output slot.
#[inline(always)]
pub(crate) fn fitting_rows(w_len: usize, cols: usize, b_len: usize, y_len: usize) -> usize {
    let by_w = w_len.checked_div(cols).unwrap_or(usize::MAX);
    by_w.min(b_len).min(y_len)
}

/// The input offsets for which `x + input_offset` fits i16 for every int8
/// `x`: the widening kernels (AVX2, NEON) add the offset in i16 and fall back
/// to the scalar reference outside this range.
pub(crate) const I16_OFFSET_RANGE: core::ops::RangeInclusive<i32> = -32640..=32640;

/// Lane methods that are one intrinsic on the registers inside the lane
/// newtypes: `fn name(self, b: B, …) -> Out = intrinsic;` is
/// `Out(intrinsic(self.0, b.0, …))`, inlined. For the `impl`s of
/// [`F32Lanes`], [`I32Lanes`] and [`Mask`]; the irregular methods are
/// written out beside it.
macro_rules! lane_methods {
    ($(fn $name:ident(self $(, $arg:ident: $ty:ty)*) -> $out:ident = $intrinsic:expr;)*) => {
        $(
            #[inline(always)]
            unsafe fn $name(self $(, $arg: $ty)*) -> $out {
                // SAFETY: one intrinsic of the implementing type's
                // instruction set, which the caller runs (the contract).
                unsafe { $out($intrinsic(self.0 $(, $arg.0)*)) }
            }
        )*
    };
}
pub(crate) use lane_methods;

/// The f32 methods of a [`Kernel`](super::Kernel) impl for a SIMD kernel
/// whose registers are `$lanes` (an [`F32Lanes`] with
/// [`gemv_f32::Canonical`]): dot, GEMV and the activations, each a thin
/// `#[target_feature(enable = $features)]` wrapper around the shared code.
///
/// Used inside `impl Kernel for K`, where holding `self` proves that the CPU
/// runs `$features` (the kernel type's `detect`/`new_unchecked` contract).
macro_rules! lane_kernel_f32_methods {
    ($features:literal, $lanes:ty) => {
        #[inline]
        fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
            #[target_feature(enable = $features)]
            unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
                // SAFETY: the features are enabled by this wrapper.
                unsafe { $crate::kernels::simd::gemv_f32::dot::<$lanes>(a, b) }
            }
            // SAFETY: `self` exists only where the CPU runs these features.
            unsafe { dot(a, b) }
        }

        #[inline]
        fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
            #[target_feature(enable = $features)]
            unsafe fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
                // SAFETY: the features are enabled by this wrapper.
                unsafe { $crate::kernels::simd::gemv_f32::gemv::<$lanes>(w, x, b, y) }
            }
            // SAFETY: `self` exists only where the CPU runs these features.
            unsafe { gemv(w, x, b, y) }
        }

        $crate::kernels::simd::lane_kernel_f32_methods!(@map $features, $lanes,
            relu_f32 relu, sigmoid_f32 sigmoid, silu_f32 silu, tanh_f32 tanh,
            gelu_tanh_f32 gelu_tanh, softmax_f32 softmax);
    };
    (@map $features:literal, $lanes:ty, $($method:ident $f:ident),*) => {
        $(
            #[inline]
            fn $method(self, xs: &mut [f32]) {
                #[target_feature(enable = $features)]
                unsafe fn $f(xs: &mut [f32]) {
                    // SAFETY: the features are enabled by this wrapper.
                    unsafe { $crate::kernels::simd::act::$f::<$lanes>(xs) }
                }
                // SAFETY: `self` exists only where the CPU runs these features.
                unsafe { $f(xs) }
            }
        )*
    };
}
pub(crate) use lane_kernel_f32_methods;

/// How the multipliers and shifts are laid out, checked once per call
/// (the x86 int8 kernels' vector requantization).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Channels {
    /// One (multiplier, shift) for every channel.
    PerTensor,
    /// One per channel, at least `rows` of each.
    PerChannel,
    /// Anything else: the scalar `requantize` handles it row by row.
    Other,
}

#[cfg(target_arch = "x86_64")]
impl Channels {
    /// The layout of `p`'s pairs for `rows` rows. The vector requantizations
    /// (`requantize8`, `requantize16`) do double rounding only; single rounding goes through the scalar
    /// `requantize`, row by row.
    #[inline(always)]
    pub(crate) fn of(
        p: &crate::kernels::reference::i8::FullyConnectedParams<'_>,
        rows: usize,
    ) -> Self {
        if p.rounding != crate::quant::Rounding::Double {
            Channels::Other
        } else if p.multiplier.len() == 1 && !p.shift.is_empty() {
            Channels::PerTensor
        } else if p.multiplier.len() >= rows && p.shift.len() >= rows {
            Channels::PerChannel
        } else {
            Channels::Other
        }
    }
}
