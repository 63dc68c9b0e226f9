//! The Cortex-M kernels against the scalar references, on the host (the
//! plain-Rust model of the assembly) and under Miri.

use super::gemv_f32::{dot_f32, gemv_f32};
use super::requantize::{requantize, RowRequant};
use super::{CortexMDsp, MAX_INPUT_OFFSET, X_CHUNK};
use crate::kernels::reference::i8::{FullyConnectedParams, Scalar};
use crate::quant::Rounding;
use proptest::prelude::*;

type Fc = fn(&[i8], &[i8], &[i32], &FullyConnectedParams<'_>, &mut [i8]);

fn run(
    kernel: Fc,
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    rows: usize,
) -> [i8; 40] {
    let mut y = [0x55u8 as i8; 40];
    kernel(w, x, bias, p, &mut y[..rows]);
    y
}

fn sweep(rows: usize, cols: usize, seed: u64, off: i32) {
    sweep_mode(rows, cols, seed, off, Rounding::Double);
    sweep_mode(rows, cols, seed, off, Rounding::Single);
}

fn sweep_mode(rows: usize, cols: usize, seed: u64, off: i32, rounding: Rounding) {
    let mut rng = crate::test_rng::Rng(seed | 1);
    let mut next = || rng.next();
    // Only the codes used are drawn (Miri runs these tests too).
    let mut w = [0i8; 40 * 150];
    w[..rows * cols].iter_mut().for_each(|v| *v = next() as i8);
    let mut x = [0i8; 150];
    x[..cols].iter_mut().for_each(|v| *v = next() as i8);
    let bias: [i32; 40] = core::array::from_fn(|_| next() as i32 >> (next() % 32));
    let m: [i32; 40] = core::array::from_fn(|_| (1 << 30) + (next() as i32 & 0x3fff_ffff));
    let sh: [i32; 40] = core::array::from_fn(|_| -((next() % 20) as i32));
    let p = FullyConnectedParams {
        input_offset: off,
        output_offset: (next() % 256) as i32 - 128,
        multiplier: &m[..rows.max(1)],
        shift: &sh[..rows.max(1)],
        act_min: -128,
        act_max: 127,
        rounding,
    };
    let (w, x, b) = (&w[..rows * cols], &x[..cols], &bias[..rows]);
    let want = run(Scalar::fully_connected, w, x, b, &p, rows);
    let got = run(CortexMDsp::fully_connected, w, x, b, &p, rows);
    assert_eq!(
        want, got,
        "rows {rows} cols {cols} offset {off} seed {seed} {rounding:?}"
    );
}

#[test]
fn cortex_m_gemv_i8_equals_scalar_for_all_small_shapes() {
    // Miri is slow: there, every fifth shape.
    let step = if cfg!(miri) { 5 } else { 1 };
    for rows in (0..=13).step_by(step) {
        for cols in (0..=X_CHUNK + 9).step_by(step) {
            sweep(rows, cols, (rows * 1000 + cols) as u64, 128);
        }
    }
}

#[test]
fn cortex_m_gemv_i8_equals_scalar_past_one_chunk_and_at_extreme_offsets() {
    for &cols in &[X_CHUNK + 1, 2 * X_CHUNK, 2 * X_CHUNK + 3, 150] {
        for &off in &[-MAX_INPUT_OFFSET, -128, 0, 127, 128, 255, MAX_INPUT_OFFSET] {
            sweep(7, cols, cols as u64 ^ off as u64, off);
        }
    }
}

#[test]
fn offsets_past_i16_fall_back_to_scalar() {
    for &off in &[
        MAX_INPUT_OFFSET + 1,
        -MAX_INPUT_OFFSET - 1,
        i32::MAX,
        i32::MIN,
    ] {
        sweep(5, 37, 9, off);
    }
}

#[test]
fn inconsistent_lengths_compute_the_rows_that_fit() {
    // Per tensor; per channel with too few pairs (the missing ones are
    // (0, 0) in the reference); per channel with shifts missing.
    let pairs: [(&[i32], &[i32]); 4] = [
        (&[1 << 30], &[-3]),
        (&[1 << 30, 3 << 29, 1 << 30], &[-3, -4, -2]),
        (&[1 << 30; 9], &[-3; 4]),
        (&[1 << 30], &[]),
    ];
    let w: [i8; 64] = core::array::from_fn(|i| (i as i8).wrapping_mul(37));
    for (m, s) in pairs {
        let p = FullyConnectedParams {
            input_offset: 3,
            output_offset: 1,
            multiplier: m,
            shift: s,
            act_min: -100,
            act_max: 100,
            rounding: Rounding::Double,
        };
        // 7 inputs (chunked tail path), 4 (all staged), 2 (no staging).
        for x in [
            &[5i8, -7, 9, 100, -128, 127, 0][..],
            &[5, -7, 9, 100],
            &[5, -7],
        ] {
            let n = x.len();
            for (wl, bl, yl) in [
                (7 * n, 9, 9),
                (9 * n, 3, 9),
                (3 * n - 1, 9, 9),
                (9 * n, 9, 2),
                (n, 9, 9),
            ] {
                let bias = [11i32, -40, 7, 0, 99, -3, 5, 8, 1];
                let mut want = [0i8; 9];
                let mut got = [0i8; 9];
                Scalar::fully_connected(&w[..wl], x, &bias[..bl], &p, &mut want[..yl]);
                CortexMDsp::fully_connected(&w[..wl], x, &bias[..bl], &p, &mut got[..yl]);
                assert_eq!(want, got, "m {m:?} s {s:?} x {n} w {wl} bias {bl} y {yl}");
            }
        }
    }
}

#[test]
fn fast_requantize_equals_the_reference() {
    let edges = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30),
        -3,
        -1,
        0,
        1,
        3,
        1 << 30,
        i32::MAX,
    ];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as i32
    };
    let n = if cfg!(miri) { 500 } else { 200_000 };
    for i in 0..n {
        // Every third draw is an edge value.
        let pick = |v: i32, k: usize| match k % 3 {
            0 => edges[(v as u32 % 10) as usize],
            _ => v,
        };
        let acc = pick(next(), i);
        let m = pick(next(), i / 3);
        let shift = match i % 4 {
            0 => next() % 40,
            // (Not i32::MIN: the reference negates the shift.)
            1 => [-40, -32, -31, 0, 30, 31, 32, i32::MAX][(next() as u32 % 8) as usize],
            _ => next() % 12 - 8,
        };
        let (mm, ss) = ([m], [shift]);
        let output_offset = next() % 300;
        for rounding in [Rounding::Double, Rounding::Single] {
            let p = FullyConnectedParams {
                input_offset: 0,
                output_offset,
                multiplier: &mm,
                shift: &ss,
                act_min: -128,
                act_max: 127,
                rounding,
            };
            assert_eq!(
                requantize(&p, acc, 0),
                p.requantize(acc, 0),
                "acc {acc} m {m} shift {shift} {rounding:?}"
            );
            assert_eq!(
                RowRequant::new(&p, 1).row(acc, 0),
                p.requantize(acc, 0),
                "row: acc {acc} m {m} shift {shift} {rounding:?}"
            );
        }
    }
}

#[test]
// libm's fmaf detects x86 FMA with `cpuid`, which Miri cannot run.
#[cfg_attr(miri, ignore)]
fn cortex_m_gemv_f32_equals_scalar_for_all_small_shapes() {
    use crate::kernels::reference::f32::Scalar as F32Scalar;
    let mut s = 0x9E37_79B9u32;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        (s >> 8) as f32 / (1 << 24) as f32 * 8.0 - 4.0
    };
    let w: [f32; 7 * 40] = core::array::from_fn(|_| next());
    let x: [f32; 40] = core::array::from_fn(|_| next());
    let b: [f32; 7] = core::array::from_fn(|_| next());
    let step = if cfg!(miri) { 7 } else { 1 };
    for cols in (0..=40).step_by(step) {
        for rows in 0..=7 {
            let (mut want, mut got) = ([0f32; 7], [0f32; 7]);
            F32Scalar::gemv(&w[..rows * cols], &x[..cols], &b[..rows], &mut want[..rows]);
            gemv_f32(&w[..rows * cols], &x[..cols], &b[..rows], &mut got[..rows]);
            assert_eq!(
                want.map(f32::to_bits),
                got.map(f32::to_bits),
                "{rows}x{cols}"
            );
        }
        let d = dot_f32(&w[..cols], &x[..cols]).to_bits();
        assert_eq!(
            d,
            F32Scalar::dot(&w[..cols], &x[..cols]).to_bits(),
            "dot {cols}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 64 }))]
    #[test]
    // Proptest's failure persistence needs the working directory, which
    // Miri's isolation hides; the deterministic sweeps above run there.
    #[cfg_attr(miri, ignore)]
    fn cortex_m_gemv_i8_equals_scalar_on_random_layers(
        rows in 0usize..40,
        cols in 0usize..150,
        off in -300i32..300,
        seed in any::<u64>(),
    ) {
        sweep(rows, cols, seed, off);
    }
}
