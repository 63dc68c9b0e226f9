//! The one dispatch point per kernel family.
//!
//! * Without `std`, the kernel is chosen at compile time from
//!   `cfg(target_feature)` ([`compile_time_choice`]): build with
//!   `-C target-feature=+avx2,+fma` (or `target-cpu=native`) to get a SIMD
//!   kernel in a no_std binary.
//! * With `std`, it is chosen once at run time from CPU detection (the
//!   fastest available: AVX-512 > AVX2 > NEON > scalar), cached in an atomic.
//!
//! Every kernel returns the same bits, so the choice only changes speed. To
//! make tests and benches measure a particular kernel, it can be forced:
//!
//! * `force` (std): from code; `Err` if the kernel cannot run here.
//! * `AXON_KERNEL=scalar|avx2|avx512|neon` (std): read by the automatic
//!   choice. `force_from_env` applies it and returns `Err` for an unknown
//!   or unavailable name; the automatic choice itself never fails (it is on
//!   the inference path) and ignores such a value, so a program that must
//!   not silently run another kernel calls `force_from_env` first.
//! * `require` / `require_from_env` (std): the test and bench helpers
//!   that *panic* when a kernel they ask for cannot run (the only panics
//!   here), so CI cannot pass on a machine that silently fell back. The list
//!   comes from `AXON_REQUIRE_KERNELS=avx2,avx512`.

#[cfg(target_arch = "x86_64")]
use super::avx2::Avx2;
#[cfg(target_arch = "x86_64")]
use super::avx512::Avx512;
use super::kernel::{Kernel, KernelId, Scalar};
#[cfg(target_arch = "aarch64")]
use super::neon::Neon;
use super::reference::i8::FullyConnectedParams;
// Cortex-M DSP (firmware): `cfg(axon_arm_dsp)` comes from core/build.rs.
#[cfg(axon_arm_dsp)]
use super::cortex_m::CortexMDsp;

/// The environment variable that forces a kernel by name.
pub const ENV_KERNEL: &str = "AXON_KERNEL";
/// The environment variable listing kernels that must be available
/// (comma separated), for tests and CI.
pub const ENV_REQUIRE: &str = "AXON_REQUIRE_KERNELS";

/// Why a requested kernel cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelError {
    /// The kernel exists but this CPU (or this build) cannot run it.
    Unavailable(KernelId),
    /// The name is not one of `scalar`, `avx2`, `avx512`, `neon`.
    UnknownName,
}

impl core::fmt::Display for KernelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KernelError::Unavailable(k) => write!(
                f,
                "kernel `{k}` cannot run on this machine (its instruction set is not available)"
            ),
            KernelError::UnknownName => {
                f.write_str("unknown kernel name (expected scalar, avx2, avx512 or neon)")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KernelError {}

impl KernelId {
    /// Whether this kernel can run here: its instruction set is compiled in
    /// (`cfg(target_feature)`) or, with the `std` feature, detected at run
    /// time.
    pub fn is_available(self) -> bool {
        match self {
            KernelId::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            KernelId::Avx2 => Avx2::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            KernelId::Avx512 => Avx512::detect().is_some(),
            #[cfg(target_arch = "aarch64")]
            KernelId::Neon => Neon::detect().is_some(),
            #[cfg(axon_arm_dsp)]
            KernelId::CortexMDsp => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// The kernel a no_std build uses: the fastest whose instruction set is
/// enabled at compile time.
pub const fn compile_time_choice() -> KernelId {
    if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vl",
        target_feature = "avx512vnni",
        target_feature = "avx2",
        target_feature = "fma"
    )) {
        KernelId::Avx512
    } else if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )) {
        KernelId::Avx2
    } else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
        KernelId::Neon
    } else if cfg!(axon_arm_dsp) {
        KernelId::CortexMDsp
    } else {
        KernelId::Scalar
    }
}

/// The fastest kernel that can run here.
pub fn best() -> KernelId {
    [KernelId::Avx512, KernelId::Avx2, KernelId::Neon]
        .into_iter()
        .find(|k| k.is_available())
        .unwrap_or(KernelId::Scalar)
}

#[cfg(feature = "std")]
mod runtime {
    use super::{KernelError, KernelId, ENV_KERNEL};
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not chosen yet; otherwise the index in `KernelId::ALL` plus one.
    static SELECTED: AtomicU8 = AtomicU8::new(0);

    fn encode(k: KernelId) -> u8 {
        KernelId::ALL
            .iter()
            .position(|&a| a == k)
            .map_or(1, |i| i as u8 + 1)
    }

    #[inline]
    pub(super) fn selected() -> KernelId {
        match SELECTED.load(Ordering::Relaxed) {
            0 => choose(),
            v => KernelId::ALL
                .get(v as usize - 1)
                .copied()
                .unwrap_or(KernelId::Scalar),
        }
    }

    #[cold]
    fn choose() -> KernelId {
        let k = match from_env() {
            Ok(Some(k)) => k,
            _ => super::best(),
        };
        SELECTED.store(encode(k), Ordering::Relaxed);
        k
    }

    /// Stores an available kernel as the choice.
    pub(super) fn set(k: KernelId) -> Result<(), KernelError> {
        if !k.is_available() {
            return Err(KernelError::Unavailable(k));
        }
        SELECTED.store(encode(k), Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn reset() {
        SELECTED.store(0, Ordering::Relaxed);
    }

    pub(super) fn from_env() -> Result<Option<KernelId>, KernelError> {
        match std::env::var(ENV_KERNEL) {
            Ok(s) if !s.trim().is_empty() => {
                let k = KernelId::parse(&s).ok_or(KernelError::UnknownName)?;
                if k.is_available() {
                    Ok(Some(k))
                } else {
                    Err(KernelError::Unavailable(k))
                }
            }
            _ => Ok(None),
        }
    }
}

/// The kernel every dispatched call uses now. Only ever an available one.
#[inline]
pub fn selected() -> KernelId {
    #[cfg(feature = "std")]
    {
        runtime::selected()
    }
    #[cfg(not(feature = "std"))]
    {
        compile_time_choice()
    }
}

/// Makes every dispatched call use `kernel` (process-wide). `Err` if it
/// cannot run here; the previous choice then stays.
#[cfg(feature = "std")]
pub fn force(kernel: KernelId) -> Result<(), KernelError> {
    runtime::set(kernel)
}

/// Forgets any forced kernel: the next call chooses again (from
/// `AXON_KERNEL`, else detection).
#[cfg(feature = "std")]
pub fn reset() {
    runtime::reset()
}

/// The kernel `AXON_KERNEL` names, if it is set: `Err` for an unknown name or
/// one that cannot run here.
#[cfg(feature = "std")]
pub fn kernel_from_env() -> Result<Option<KernelId>, KernelError> {
    runtime::from_env()
}

/// Applies `AXON_KERNEL` (if set) and returns the kernel now in use; `Err`
/// for an unknown or unavailable name.
#[cfg(feature = "std")]
pub fn force_from_env() -> Result<KernelId, KernelError> {
    if let Some(k) = runtime::from_env()? {
        runtime::set(k)?;
    }
    Ok(selected())
}

/// Test/bench helper: panics unless `kernel` can run here. The message names
/// the kernel, so a CI log says which fast path was missing.
#[cfg(feature = "std")]
pub fn require(kernel: KernelId) {
    if !kernel.is_available() {
        panic!("{}", KernelError::Unavailable(kernel));
    }
}

/// Test/bench helper: the kernels listed in `AXON_REQUIRE_KERNELS`, each
/// checked with [`require`]; panics on an unknown name or a kernel that cannot
/// run here. Empty when the variable is unset.
#[cfg(feature = "std")]
pub fn require_from_env() -> std::vec::Vec<KernelId> {
    let list = std::env::var(ENV_REQUIRE).unwrap_or_default();
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let k = KernelId::parse(s)
                .unwrap_or_else(|| panic!("{ENV_REQUIRE}: unknown kernel name `{}`", s.trim()));
            require(k);
            k
        })
        .collect()
}

/// Runs `$body` with `$k` bound to the kernel value of `$id`.
///
/// Every use passes an id that is available: [`selected`] only returns such
/// ids, and that is what makes the `new_unchecked` calls sound.
macro_rules! with_kernel {
    ($id:expr, |$k:ident| $body:expr) => {
        match $id {
            #[cfg(target_arch = "x86_64")]
            KernelId::Avx512 => {
                // SAFETY: `selected()` returns Avx512 only when detected.
                let $k = unsafe { Avx512::new_unchecked() };
                $body
            }
            #[cfg(target_arch = "x86_64")]
            KernelId::Avx2 => {
                // SAFETY: `selected()` returns Avx2 only when detected.
                let $k = unsafe { Avx2::new_unchecked() };
                $body
            }
            #[cfg(target_arch = "aarch64")]
            KernelId::Neon => {
                // SAFETY: `selected()` returns Neon only when detected.
                let $k = unsafe { Neon::new_unchecked() };
                $body
            }
            #[cfg(axon_arm_dsp)]
            KernelId::CortexMDsp => {
                let $k = CortexMDsp;
                $body
            }
            _ => {
                let $k = Scalar;
                $body
            }
        }
    };
}

/// f32 dot product in the canonical order.
#[inline]
pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    with_kernel!(selected(), |k| k.dot_f32(a, b))
}

/// f32 GEMV in the canonical order (shapes already checked or total).
#[inline]
pub(crate) fn gemv_f32(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    with_kernel!(selected(), |k| k.gemv_f32(w, x, b, y))
}

/// int8 fully connected, TFLite reference arithmetic (shapes already checked).
#[inline]
pub(crate) fn fully_connected_i8(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    with_kernel!(selected(), |k| k.fully_connected_i8(w, x, bias, &[], p, y))
}

/// int8 fully connected with precomputed per-row weight sums.
#[inline]
pub(crate) fn fully_connected_i8_with_row_sums(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    with_kernel!(selected(), |k| k
        .fully_connected_i8(w, x, bias, row_sums, p, y))
}

/// int8 fully connected on VNNI-packed weights.
#[inline]
pub(crate) fn fully_connected_i8_packed(
    packed: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    with_kernel!(selected(), |k| k
        .fully_connected_i8_packed(packed, x, bias, row_sums, p, y))
}

/// ReLU in place.
#[inline]
pub(crate) fn relu_f32(xs: &mut [f32]) {
    with_kernel!(selected(), |k| k.relu_f32(xs))
}

/// Sigmoid in place.
#[inline]
pub(crate) fn sigmoid_f32(xs: &mut [f32]) {
    with_kernel!(selected(), |k| k.sigmoid_f32(xs))
}

/// SiLU in place.
#[inline]
pub(crate) fn silu_f32(xs: &mut [f32]) {
    with_kernel!(selected(), |k| k.silu_f32(xs))
}

/// tanh in place.
#[inline]
pub(crate) fn tanh_f32(xs: &mut [f32]) {
    with_kernel!(selected(), |k| k.tanh_f32(xs))
}

/// GELU (tanh form) in place.
#[inline]
pub(crate) fn gelu_tanh_f32(xs: &mut [f32]) {
    with_kernel!(selected(), |k| k.gelu_tanh_f32(xs))
}

/// Softmax in place.
#[inline]
pub(crate) fn softmax_f32(xs: &mut [f32]) {
    with_kernel!(selected(), |k| k.softmax_f32(xs))
}
