//! The Cortex-M kernels against the scalar references, inside QEMU:
//! thousands of random int8 layers (SXTB16/SMLAD) and f32 GEMVs (VFMA.F32);
//! exits non-zero on the first output that differs by a bit.
//!
//! `cargo run --release --bin kernel_test` (from `firmware/`).
#![no_std]
#![no_main]

use axon_core::kernels::cortex_m::{CortexMDsp, X_CHUNK};
use axon_core::kernels::gemv_f32::Scalar as F32Scalar;
use axon_core::kernels::gemv_i8::Scalar;
use axon_core::kernels::FullyConnectedParams;
use axon_core::kernels::Kernel;
use axon_core::quant::Rounding;
use axon_firmware::mcu;
use cortex_m_rt::entry;

/// Random layers to try.
const CASES: u32 = 4000;
/// Largest shapes (rows × cols ≤ MAX_ROWS × MAX_COLS); columns span more than
/// two staging chunks.
const MAX_ROWS: usize = 40;
const MAX_COLS: usize = 2 * X_CHUNK + 40;

/// xorshift64: deterministic, so a failure names a reproducible case.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

static mut W: [i8; MAX_ROWS * MAX_COLS] = [0; MAX_ROWS * MAX_COLS];

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to W, taken once, before anything else runs.
    let w_all = unsafe { &mut *core::ptr::addr_of_mut!(W) };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut macs: u64 = 0;
    for case in 0..CASES {
        // Mostly small and odd shapes (tails), sometimes past one chunk.
        let rows = rng.below(MAX_ROWS as u64 + 1) as usize;
        let cols = match rng.below(4) {
            0 => rng.below(9) as usize,
            1 | 2 => rng.below(X_CHUNK as u64 + 9) as usize,
            _ => rng.below(MAX_COLS as u64 + 1) as usize,
        };
        let w = &mut w_all[..rows * cols];
        // Extreme codes often: -128, 127 and 0 stress the products.
        let code = |r: &mut Rng| match r.below(8) {
            0 => -128i8,
            1 => 127,
            2 => 0,
            _ => r.next() as i8,
        };
        w.iter_mut().for_each(|v| *v = code(&mut rng));
        // The input starts at any byte alignment (LDR of four codes may be
        // unaligned, as in a model's scratch buffer).
        let mut x_buf = [0i8; MAX_COLS + 3];
        let x_at = rng.below(4) as usize;
        let x = &mut x_buf[x_at..x_at + MAX_COLS];
        x[..cols].iter_mut().for_each(|v| *v = code(&mut rng));
        let mut bias = [0i32; MAX_ROWS];
        bias.iter_mut()
            .for_each(|b| *b = (rng.next() as i32) >> rng.below(32));
        let mut mult = [0i32; MAX_ROWS];
        mult.iter_mut()
            .for_each(|m| *m = (1 << 30) | (rng.next() as i32 & 0x3fff_ffff));
        let mut shift = [0i32; MAX_ROWS];
        shift
            .iter_mut()
            .for_each(|s| *s = rng.below(24) as i32 - 20);
        let channels = if rng.below(4) == 0 { 1 } else { rows.max(1) };
        let input_offset = match rng.below(6) {
            0 => 128,
            1 => -127,
            2 => 40_000, // past i16: must fall back, still equal
            _ => rng.below(511) as i32 - 255,
        };
        let (lo, hi) = (rng.next() as i8, rng.next() as i8);
        let p = FullyConnectedParams {
            input_offset,
            output_offset: rng.below(256) as i32 - 128,
            multiplier: &mult[..channels],
            shift: &shift[..channels],
            act_min: lo.min(hi),
            act_max: lo.max(hi),
            rounding: if rng.below(2) == 0 {
                Rounding::Double
            } else {
                Rounding::Single
            },
        };
        let mut want = [0i8; MAX_ROWS];
        let mut got = [0x55i8; MAX_ROWS];
        Scalar::fully_connected(w, &x[..cols], &bias[..rows], &p, &mut want[..rows]);
        CortexMDsp::fully_connected(w, &x[..cols], &bias[..rows], &p, &mut got[..rows]);
        if want[..rows] != got[..rows] {
            let c = (0..rows).find(|&c| want[c] != got[c]).unwrap_or(0);
            defmt::error!(
                "MISMATCH case {} rows {} cols {} offset {}: row {} scalar {} dsp {}",
                case,
                rows,
                cols,
                input_offset,
                c,
                want[c],
                got[c]
            );
            mcu::exit(false);
        }
        macs += (rows * cols) as u64;
    }
    defmt::println!(
        "kernel_test: {} random layers, {} MACs: cortex-m-dsp == scalar, bit for bit",
        CASES,
        macs
    );
    f32_cases(&mut rng);
    mcu::exit(true)
}

/// f32 GEMV on the FPU (`VFMA.F32`) against the reference (`libm::fmaf`):
/// random shapes and values, with subnormals, zeros of both signs, huge
/// values (overflow to infinity) and infinities mixed in. NaN results only
/// need to be NaN on both (payloads are not part of the contract).
fn f32_cases(rng: &mut Rng) {
    const ROWS: usize = 12;
    const COLS: usize = 80;
    let mut w = [0f32; ROWS * COLS];
    let mut x = [0f32; COLS];
    let mut b = [0f32; ROWS];
    let value = |r: &mut Rng| match r.below(16) {
        0 => f32::from_bits(r.next() as u32 & 0x807f_ffff), // subnormal or ±0
        1 => f32::from_bits(
            (r.next() as u32 & 0x8000_0000) | 0x7e80_0000 | (r.next() as u32 & 0x7f_ffff),
        ), // huge
        2 if r.below(8) == 0 => f32::INFINITY,
        _ => ((r.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 16.0,
    };
    let cases = 2000;
    for case in 0..cases {
        let rows = rng.below(ROWS as u64 + 1) as usize;
        let cols = rng.below(COLS as u64 + 1) as usize;
        w[..rows * cols].iter_mut().for_each(|v| *v = value(rng));
        x[..cols].iter_mut().for_each(|v| *v = value(rng));
        b[..rows].iter_mut().for_each(|v| *v = value(rng));
        let (mut want, mut got) = ([0f32; ROWS], [1f32; ROWS]);
        F32Scalar::gemv(&w[..rows * cols], &x[..cols], &b[..rows], &mut want[..rows]);
        CortexMDsp.gemv_f32(&w[..rows * cols], &x[..cols], &b[..rows], &mut got[..rows]);
        for r in 0..rows {
            let same =
                want[r].to_bits() == got[r].to_bits() || (want[r].is_nan() && got[r].is_nan());
            if !same {
                defmt::error!(
                    "f32 MISMATCH case {} rows {} cols {}: row {} scalar {=u32:x} fpu {=u32:x}",
                    case,
                    rows,
                    cols,
                    r,
                    want[r].to_bits(),
                    got[r].to_bits()
                );
                mcu::exit(false);
            }
        }
    }
    defmt::println!(
        "kernel_test: {} random f32 GEMVs: VFMA.F32 == libm::fmaf order, bit for bit",
        cases
    );
}
