//! The kernel trait: one type per instruction set, one signature for all.
//!
//! [`Scalar`] wraps the scalar references (which *define* every result);
//! `Avx2`, `Avx512` and `Neon` are their SIMD twins. A SIMD kernel value can
//! only be obtained from its `detect()` constructor (or the `unsafe`
//! `new_unchecked`), so holding one is the proof that the CPU runs its
//! instructions, and every method of the trait is safe to call.
//!
//! Every method is *total*: with inconsistent slice lengths it computes the
//! rows that fit and never panics. The checked entry points
//! ([`crate::kernels::gemv`], [`crate::kernels::fully_connected_i8`]) reject
//! bad shapes before a kernel runs.
//!
//! This file imports only the scalar references; which kernels can run here
//! ([`KernelId::is_available`]) is answered by [`super::dispatch`], which
//! knows them all.

use super::reference::f32::Scalar as F32Scalar;
use super::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};

/// Names a kernel (an instruction set), for dispatch, forcing and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelId {
    /// The portable scalar references.
    Scalar,
    /// x86-64 AVX2 + FMA.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL with VNNI (`vpdpbusd`) for int8.
    Avx512,
    /// aarch64 Advanced SIMD (NEON).
    Neon,
    /// Cortex-M4/M7 DSP extension (`SXTB16`/`SMLAD`), int8 only; its f32
    /// methods are the scalar references.
    CortexMDsp,
}

impl KernelId {
    /// Every kernel, slowest first.
    pub const ALL: [KernelId; 5] = [
        KernelId::Scalar,
        KernelId::Avx2,
        KernelId::Avx512,
        KernelId::Neon,
        KernelId::CortexMDsp,
    ];

    /// The name used by `AXON_KERNEL`, `AXON_REQUIRE_KERNELS` and reports.
    pub const fn name(self) -> &'static str {
        match self {
            KernelId::Scalar => "scalar",
            KernelId::Avx2 => "avx2",
            KernelId::Avx512 => "avx512",
            KernelId::Neon => "neon",
            KernelId::CortexMDsp => "cortex-m-dsp",
        }
    }

    /// Parses a name as [`name`](Self::name) writes it (ASCII case-insensitive,
    /// surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<KernelId> {
        let s = s.trim();
        KernelId::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }
}

impl core::fmt::Display for KernelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One instruction set's implementation of every kernel family. All
/// implementations return exactly the bits of [`Scalar`] (NaN results are
/// NaN, payload and sign unspecified; see [`crate::kernels::gemv_f32`]).
pub trait Kernel: Copy + core::fmt::Debug {
    /// Which kernel this is.
    const ID: KernelId;

    /// f32 dot product over `min(a.len(), b.len())` elements, canonical
    /// order. The default is the scalar reference (as for every method
    /// below: a kernel overrides what its instruction set does faster).
    #[inline]
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
        F32Scalar::dot(a, b)
    }

    /// `y = W·x + b`, `w` output-major `(y.len(), x.len())`, canonical order.
    #[inline]
    fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        F32Scalar::gemv(w, x, b, y)
    }

    /// int8 fully connected, TFLite arithmetic, `w` output-major
    /// `(y.len(), x.len())`. `row_sums` is either empty (the kernel computes
    /// what it needs) or holds `Σ_d w[c, d]` for every row `c`, as
    /// [`weight_row_sums`](crate::kernels::gemv_i8::weight_row_sums) writes
    /// it at load time; kernels that need no sums ignore it.
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
        let _ = row_sums;
        I8Scalar::fully_connected(w, x, bias, p, y)
    }

    /// ReLU in place, as [`crate::activations::relu`] element by element.
    #[inline]
    fn relu_f32(self, xs: &mut [f32]) {
        xs.iter_mut()
            .for_each(|x| *x = crate::activations::relu(*x));
    }

    /// Sigmoid in place, as [`crate::activations::sigmoid`] element by
    /// element. The default is the scalar definition.
    fn sigmoid_f32(self, xs: &mut [f32]) {
        xs.iter_mut()
            .for_each(|x| *x = crate::activations::sigmoid(*x));
    }

    /// SiLU in place, as [`crate::activations::silu`]. Default: scalar.
    fn silu_f32(self, xs: &mut [f32]) {
        xs.iter_mut()
            .for_each(|x| *x = crate::activations::silu(*x));
    }

    /// tanh in place, as [`crate::activations::tanh`]. Default: scalar.
    fn tanh_f32(self, xs: &mut [f32]) {
        xs.iter_mut()
            .for_each(|x| *x = crate::activations::tanh(*x));
    }

    /// GELU (tanh form) in place, as [`crate::activations::gelu_tanh`].
    /// Default: scalar.
    fn gelu_tanh_f32(self, xs: &mut [f32]) {
        xs.iter_mut()
            .for_each(|x| *x = crate::activations::gelu_tanh(*x));
    }

    /// Softmax in place, as [`crate::activations::softmax`]. Default: scalar.
    fn softmax_f32(self, xs: &mut [f32]) {
        crate::activations::softmax(xs)
    }

    /// int8 fully connected on weights packed by
    /// [`pack_vnni`](crate::kernels::gemv_i8::pack_vnni) (`rows = y.len()`,
    /// `cols = x.len()`), `row_sums` as for
    /// [`fully_connected_i8`](Self::fully_connected_i8). The default is the
    /// scalar reference on the packed layout; AVX-512 VNNI overrides it.
    fn fully_connected_i8_packed(
        self,
        packed: &[i8],
        x: &[i8],
        bias: &[i32],
        row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        let _ = row_sums;
        I8Scalar::fully_connected_packed(packed, x, bias, p, y)
    }
}

/// The scalar references as a [`Kernel`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl Kernel for Scalar {
    const ID: KernelId = KernelId::Scalar;
}
