//! The Cortex-M kernels against the scalar references, inside QEMU:
//! thousands of random int8 layers (SXTB16/SMLAD) through the generic DSP
//! kernel (the interpreter's fully connected layer) and through the packed
//! layer routine (`forward()`'s), the packed input routine, and f32 GEMVs
//! (VFMA.F32); exits non-zero on the first output that differs by a bit.
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
    packed_cases(&mut rng);
    stage_cases(&mut rng);
    mcu::exit(true)
}

/// `forward()`'s input routine (`ops::quantize::staged::stage_groups`: divide,
/// `VCVT #1`, the integer rounding, staging) against TFLite's `Quantize` in
/// Rust (`QuantParams::quantize`), with and without a standardisation, on
/// random values, exact ties, zeros of both signs, infinities, NaN and
/// values far out of range.
fn stage_cases(rng: &mut Rng) {
    use axon_core::graph::{staged_index, Quad};
    use axon_core::ops::quantize::staged::stage_groups;
    use axon_core::quant::QuantParams;
    const N: usize = 64;
    let mut checked = 0u32;
    for case in 0..2000u32 {
        let scale = match rng.below(4) {
            0 => 1.0 / (1 + rng.below(255)) as f32,
            1 => f32::from_bits(0x3c00_0000 | (rng.next() as u32 & 0x00ff_ffff)),
            _ => (1 + rng.below(1000)) as f32 * 0.0007,
        };
        let zp = rng.below(256) as i32 - 128;
        let off = rng.below(257) as i32 - 128;
        let p = QuantParams::new(scale, zp);
        let x: [f32; N] = core::array::from_fn(|_| match rng.below(10) {
            0 => f32::from_bits(rng.next() as u32),
            1 => [0.0, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.below(5) as usize],
            2 | 3 => ((rng.below(600) as f32) - 300.0 + 0.5) * scale,
            _ => (rng.below(2_000_000) as f32 - 1_000_000.0) * 1e-4,
        });
        let mean: [f32; N] = core::array::from_fn(|_| (rng.below(2000) as f32 - 1000.0) * 0.01);
        let std: [f32; N] = core::array::from_fn(|_| (1 + rng.below(1000)) as f32 * 0.01);
        let standardize = rng.below(2) == 0;
        let mut out = [Quad([0x5555; 4]); N / 4];
        let done = stage_groups(
            &x,
            standardize.then_some((&mean[..], &std[..])),
            scale,
            zp,
            off,
            &mut out,
        );
        if done != N {
            defmt::error!("stage_groups staged {} of {} inputs", done, N);
            mcu::exit(false);
        }
        for i in 0..N {
            let v = if standardize {
                (x[i] - mean[i]) / std[i]
            } else {
                x[i]
            };
            let want = 2 * (p.quantize(v) as i32 + off);
            let j = staged_index(i);
            let got = out[j / 4].0[j % 4] as i32;
            if got != want {
                defmt::error!(
                    "MISMATCH stage case {} input {} (x bits {=u32:x}): quantize {} asm {}",
                    case,
                    i,
                    x[i].to_bits(),
                    want,
                    got
                );
                mcu::exit(false);
            }
            checked += 1;
        }
    }
    defmt::println!(
        "kernel_test: {} inputs: packed4 input staging (VCVT #1) == QuantParams::quantize, bit for bit",
        checked
    );
}

/// `forward()`'s layer routine (`packed4::PackedDense::run_double`, one
/// assembly routine: multiply-accumulate, requantization, clamp, staging)
/// against the scalar reference (`gemv_i8::Scalar`, TFLite's arithmetic) on
/// random layers: shapes with partial row and column groups, per-tensor and
/// per-channel multipliers (0 and `i32::MAX` among them), every right shift
/// 1..=31, the largest biases a packed layer takes, random clamps and
/// offsets.
fn packed_cases(rng: &mut Rng) {
    use axon_core::graph::{staged_index, Quad};
    use axon_core::ops::fully_connected::packed4::{
        pack_layer, requant_double, stream_len, Block, PackedDense, Scale, MAX_BIAS,
    };
    const R: usize = 40;
    const C: usize = 100;
    const CASES: u32 = 3000;
    static mut BLOCKS: [Block; (R / 4) * (C / 4 + 1)] = [Block([0; 16]); (R / 4) * (C / 4 + 1)];
    // SAFETY: the only reference to BLOCKS, taken once.
    let blocks = unsafe { &mut *core::ptr::addr_of_mut!(BLOCKS) };
    let mut w = [0i8; R * C];
    let mut macs = 0u64;
    for case in 0..CASES {
        let rows = 1 + rng.below(R as u64) as usize;
        let cols = 1 + rng.below(C as u64) as usize;
        for v in w[..rows * cols].iter_mut() {
            *v = (rng.below(255) as i32 - 127) as i8;
        }
        let x: [i8; C] = core::array::from_fn(|_| rng.next() as i8);
        let in_off = rng.below(257) as i32 - 128;
        // The extremes leave room for any C weights of magnitude 127.
        let extreme = MAX_BIAS - 255 * 127 * C as i32;
        let bias: [i32; R] = core::array::from_fn(|_| match rng.below(16) {
            0 => extreme,
            1 => -extreme,
            2 => (rng.next() as i32) >> 2,
            _ => (rng.next() as i32) >> 14,
        });
        let per_channel = rng.below(2) == 0;
        let mult = |r: &mut Rng| match r.below(10) {
            0 => 0,
            1 => i32::MAX,
            _ => (1 << 30) | (r.next() as i32 & 0x3fff_ffff),
        };
        let m_all: [i32; R] = core::array::from_fn(|_| mult(rng));
        let pre_all: [u8; R] = core::array::from_fn(|_| match rng.below(4) {
            0 => rng.below(31) as u8,
            _ => 4 + rng.below(10) as u8,
        });
        let zp = rng.below(256) as i32 - 128;
        let (act_min, act_max) = match rng.below(3) {
            0 => (-128i8, 127i8),
            1 => (zp as i8, 127),
            _ => {
                let lo = rng.below(256) as i32 - 128;
                (lo as i8, (lo + rng.below((128 - lo) as u64) as i32) as i8)
            }
        };
        // Reference: TFLite's arithmetic in natural order.
        let shift_all: [i32; R] = core::array::from_fn(|i| -(pre_all[i] as i32) - 1);
        let channels = if per_channel { rows } else { 1 };
        let p = FullyConnectedParams {
            input_offset: in_off,
            output_offset: zp,
            multiplier: &m_all[..channels],
            shift: &shift_all[..channels],
            act_min,
            act_max,
            rounding: Rounding::Double,
        };
        let mut want = [0i8; R];
        Scalar::fully_connected(
            &w[..rows * cols],
            &x[..cols],
            &bias[..rows],
            &p,
            &mut want[..rows],
        );
        // The packed layout.
        let (g, rg) = (cols.div_ceil(4), rows.div_ceil(4));
        let nb = stream_len(rows, cols);
        pack_layer(
            &w[..rows * cols],
            &bias[..rows],
            rows,
            cols,
            &mut blocks[..nb],
        );
        let mut quads = [Quad::default(); C / 4];
        for (i, &v) in x[..cols].iter().enumerate() {
            let j = staged_index(i);
            quads[j / 4].0[j % 4] = (2 * (v as i32 + in_off)) as i16;
        }
        let scales: [Scale; R / 4] = core::array::from_fn(|r| {
            let k = if per_channel { 4 * r } else { 0 };
            let step = per_channel as usize;
            Scale::new(
                core::array::from_fn(|i| m_all[k + step * i]),
                core::array::from_fn(|i| pre_all[k + step * i] + 1),
            )
        });
        let nsc = if per_channel { rg } else { 1 };
        let layer = PackedDense::new(
            cols,
            rows,
            &blocks[..nb],
            &scales[..nsc],
            zp,
            act_min,
            act_max,
        );
        let mut out = [Quad([0x5555; 4]); R / 4];
        layer.run_double(&quads[..g], &mut out[..rg]);
        let mut portable = [Quad([0x5555; 4]); R / 4];
        layer.run_with(&quads[..g], &mut portable[..rg], requant_double);
        for (r, &want) in want.iter().enumerate().take(rows) {
            let j = staged_index(r);
            // Staged as 2·(code − zero point).
            let got = (out[j / 4].0[j % 4] >> 1) as i32 + zp;
            let port = (portable[j / 4].0[j % 4] >> 1) as i32 + zp;
            if got != want as i32 || port != got {
                defmt::error!(
                    "MISMATCH packed case {} rows {} cols {} row {}: scalar {} asm {} portable {}",
                    case,
                    rows,
                    cols,
                    r,
                    want,
                    got,
                    port
                );
                mcu::exit(false);
            }
        }
        macs += (rows * cols) as u64;
    }
    defmt::println!(
        "kernel_test: {} random layers, {} MACs: packed4 assembly == portable == scalar reference, bit for bit",
        CASES,
        macs
    );
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
