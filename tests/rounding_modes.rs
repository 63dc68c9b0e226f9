//! The requantization rounding mode through every kernel: in
//! [`Rounding::Single`] (the TensorFlow Lite interpreter's) as in
//! [`Rounding::Double`] (TensorFlow Lite Micro's), each SIMD kernel this
//! machine runs (AVX2, AVX-512 VNNI, NEON) equals the scalar reference bit
//! for bit, on plain, row-sum and VNNI-packed weights, per tensor and per
//! channel. The AVX-512 kernel vectorizes double rounding only, so single
//! rounding exercises its scalar fallback; `AXON_REQUIRE_KERNELS` (CI:
//! `avx2,avx512`) fails the test where a required kernel is missing.
//!
//! The same through the `fully_connected` op's forms, which carry the mode
//! in their parameters: `run_i8` (with and without row sums), the VNNI
//! layout (`run_vnni`) and, where the shifts are right shifts, the packed
//! 4×4 layout with staged activations (`run_packed`, whose
//! `Packed::rounding` picks `run_double` or `run_single`).

use axon::core::graph::Quad;
use axon::core::kernels::dispatch;
use axon::core::kernels::gemv_i8::Scalar as I8Scalar;
use axon::core::kernels::kernel::{Kernel, KernelId, Scalar};
use axon::core::kernels::{self, FullyConnectedParams};
use axon::core::ops::fully_connected::packed4::{
    pack_layer, stream_len, Block, PackedDense, Scale,
};
use axon::core::ops::fully_connected::{run_i8, run_packed, run_vnni, Int8, Packed, Vnni};
use axon::core::ops::layout::{stage, unstage};
use axon::core::ops::Fused;
use axon::core::quant::{quantize_multiplier, Rounding};
use proptest::prelude::*;

/// Every kernel that runs here: its id and its three i8 entry points
/// (plain, with row sums, packed) applied to one case.
fn run_each_kernel(case: &Case, p: &FullyConnectedParams<'_>) -> Vec<(KernelId, [Vec<i8>; 3])> {
    fn with<K: Kernel>(k: K, c: &Case, p: &FullyConnectedParams<'_>) -> (KernelId, [Vec<i8>; 3]) {
        let mut out = [vec![0i8; c.rows], vec![0i8; c.rows], vec![0i8; c.rows]];
        k.fully_connected_i8(&c.w, &c.x, &c.bias, &[], p, &mut out[0]);
        k.fully_connected_i8(&c.w, &c.x, &c.bias, &c.sums, p, &mut out[1]);
        k.fully_connected_i8_packed(&c.packed, &c.x, &c.bias, &c.sums, p, &mut out[2]);
        (K::ID, out)
    }
    let mut ran = vec![with(Scalar, case, p)];
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(k) = kernels::avx2::Avx2::detect() {
            ran.push(with(k, case, p));
        }
        if let Some(k) = kernels::avx512::Avx512::detect() {
            ran.push(with(k, case, p));
        }
    }
    #[cfg(target_arch = "aarch64")]
    if let Some(k) = kernels::neon::Neon::detect() {
        ran.push(with(k, case, p));
    }
    for want in dispatch::require_from_env() {
        assert!(
            ran.iter().any(|(id, _)| *id == want),
            "required kernel `{want}` did not run"
        );
    }
    ran
}

/// One layer: weights, input, bias and the load-time derived arrays.
struct Case {
    rows: usize,
    w: Vec<i8>,
    x: Vec<i8>,
    bias: Vec<i32>,
    sums: Vec<i32>,
    packed: Vec<i8>,
}

impl Case {
    fn new(rows: usize, cols: usize, seed: u64) -> Case {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        // Weights symmetric (never −128), inputs with plenty of −128 and 127.
        let w: Vec<i8> = (0..rows * cols)
            .map(|_| ((next() % 255) as i32 - 127) as i8)
            .collect();
        let x: Vec<i8> = (0..cols)
            .map(|_| match next() % 6 {
                0 => -128,
                1 => 127,
                _ => next() as i8,
            })
            .collect();
        let bias: Vec<i32> = (0..rows).map(|_| (next() as i32) >> 12).collect();
        let mut sums = vec![0i32; rows];
        kernels::weight_row_sums(&w, cols, &mut sums).unwrap();
        let mut packed = vec![0i8; kernels::packed_vnni_len(rows, cols).unwrap()];
        kernels::pack_vnni(&w, cols, &mut packed).unwrap();
        Case {
            rows,
            w,
            x,
            bias,
            sums,
            packed,
        }
    }
}

/// Asserts that every kernel equals the scalar reference in both modes, and
/// returns how many codes the two modes gave differently (per the scalar
/// reference).
fn check(case: &Case, m: &[i32], s: &[i32], input_offset: i32, output_offset: i32) -> usize {
    let mut by_mode = Vec::new();
    for rounding in [Rounding::Double, Rounding::Single] {
        let p = FullyConnectedParams {
            input_offset,
            output_offset,
            multiplier: m,
            shift: s,
            act_min: -128,
            act_max: 127,
            rounding,
        };
        let mut want = vec![0i8; case.rows];
        I8Scalar::fully_connected(&case.w, &case.x, &case.bias, &p, &mut want);
        for (id, outs) in run_each_kernel(case, &p) {
            for (entry, got) in ["plain", "row sums", "packed"].iter().zip(&outs) {
                assert_eq!(
                    got,
                    &want,
                    "{id} ({entry}), {rounding:?}: {}x{}, {} channels",
                    case.rows,
                    case.x.len(),
                    m.len()
                );
            }
        }
        let mut y = vec![0i8; case.rows];
        kernels::fully_connected_i8(&case.w, &case.x, &case.bias, &p, &mut y).unwrap();
        assert_eq!(y, want, "dispatched, {rounding:?}");
        let forms = op_forms(case, &p);
        let packable =
            s.iter().all(|s| (-31..=-1).contains(s)) && (-127..=128).contains(&input_offset);
        assert_eq!(forms.len(), if packable { 4 } else { 3 });
        for (form, got) in forms {
            assert_eq!(
                got,
                want,
                "op form {form}, {rounding:?}: {}x{}",
                case.rows,
                case.x.len()
            );
        }
        by_mode.push(want);
    }
    by_mode[0]
        .iter()
        .zip(&by_mode[1])
        .filter(|(a, b)| a != b)
        .count()
}

/// The `fully_connected` op's forms on one case: their names and outputs.
/// The packed layout runs when its limits allow: right shifts of 1..=31
/// and an input zero point in the int8 range (the staged input is `2·(x −
/// zero point)`); every case here but those meets them.
fn op_forms(c: &Case, p: &FullyConnectedParams<'_>) -> Vec<(&'static str, Vec<i8>)> {
    let cols = c.x.len();
    let scales = vec![1.0f32; p.multiplier.len()];
    let mut out = Vec::new();
    for (name, row_sums) in [
        ("run_i8", None),
        ("run_i8 (row sums)", Some(c.sums.as_slice())),
    ] {
        let op = Int8 {
            weights: &c.w,
            bias: &c.bias,
            weight_scales: &scales,
            row_sums,
            activation: Fused::None,
            params: *p,
        };
        let mut y = vec![0i8; c.rows];
        run_i8(&op, &c.x, &mut y).unwrap();
        out.push((name, y));
    }
    let v = Vnni {
        packed: &c.packed,
        row_sums: &c.sums,
        bias: &c.bias,
        activation: Fused::None,
        params: *p,
    };
    let mut y = vec![0i8; c.rows];
    run_vnni(&v, cols, &c.x, &mut y).unwrap();
    out.push(("run_vnni", y));
    if p.shift.iter().all(|s| (-31..=-1).contains(s)) {
        let mut stream = vec![Block([0; 16]); stream_len(c.rows, cols)];
        pack_layer(&c.w, &c.bias, c.rows, cols, &mut stream);
        let e = |k: usize| (-p.shift[k.min(p.shift.len() - 1)]) as u8;
        let sc: Vec<Scale> = if p.multiplier.len() == 1 {
            vec![Scale::tensor(p.multiplier[0], e(0))]
        } else {
            (0..c.rows.div_ceil(4))
                .map(|r| {
                    let at = |k: usize| (4 * r + k).min(c.rows - 1);
                    Scale::new(
                        std::array::from_fn(|k| p.multiplier[at(k)]),
                        std::array::from_fn(|k| e(at(k))),
                    )
                })
                .collect()
        };
        // The staged input holds x − zero point = x + input_offset.
        let zp_in = -p.input_offset;
        if (-128..=127).contains(&zp_in) {
            // Biases below 2^19 and at most 256 columns: the doubled
            // accumulator always fits, so the layer must pack.
            let layer = PackedDense::try_new(
                cols,
                c.rows,
                &stream,
                &sc,
                p.output_offset,
                p.act_min,
                p.act_max,
            )
            .expect("the packed layer's limits");
            let mut xs = vec![Quad([0; 4]); cols.div_ceil(4)];
            stage(&c.x, zp_in, &mut xs);
            let mut ys = vec![Quad([0; 4]); c.rows.div_ceil(4)];
            run_packed(
                &Packed {
                    layer,
                    rounding: p.rounding,
                },
                &xs,
                &mut ys,
            );
            let mut y = vec![0i8; c.rows];
            unstage(&ys, p.output_offset, &mut y);
            out.push(("run_packed", y));
        }
    }
    out
}

/// Multipliers near exact halves: `m = 2^30 + small`, shift so that the
/// product lands on ties, which is where the two modes part.
fn tie_prone_multipliers(channels: usize, seed: u64) -> (Vec<i32>, Vec<i32>) {
    (0..channels)
        .map(|c| {
            let r = (seed.wrapping_mul(0x9E37_79B9).wrapping_add(c as u64 * 7919)) % 4096;
            quantize_multiplier(1.0 / 4096.0 * (1.0 + r as f64 / 4096.0))
        })
        .unzip()
}

#[test]
fn every_kernel_equals_scalar_in_both_modes() {
    for &(rows, cols) in &[(1, 1), (16, 64), (10, 32), (33, 65), (17, 100), (64, 256)] {
        let case = Case::new(rows, cols, (rows * 131 + cols) as u64);
        for per_channel in [false, true] {
            let (m, s) = tie_prone_multipliers(if per_channel { rows } else { 1 }, cols as u64);
            for &(io, oo) in &[(128, -128), (0, 0), (-127, 5), (17, -9)] {
                check(&case, &m, &s, io, oo);
            }
        }
    }
}

/// Small accumulators (every weight once, times a few inputs) and
/// per-channel multipliers with right shifts of 2 to 4: many results land
/// near ties, where the two modes part. Both modes still agree across
/// kernels, and they do tell apart.
#[test]
fn the_modes_differ_and_every_kernel_follows_each() {
    let w: Vec<i8> = (-127..=127).collect();
    let rows = w.len();
    let mut differ = 0;
    for x in [1i8, 2, 3, -5] {
        let mut case = Case::new(rows, 1, 7);
        case.w = w.clone();
        case.x = vec![x];
        case.bias = (0..rows as i32).map(|r| r % 7 - 3).collect();
        kernels::weight_row_sums(&case.w, 1, &mut case.sums).unwrap();
        kernels::pack_vnni(&case.w, 1, &mut case.packed).unwrap();
        let (m, s): (Vec<i32>, Vec<i32>) = (0..rows)
            .map(|c| quantize_multiplier(0.07 + c as f64 * 0.0017))
            .unzip();
        differ += check(&case, &m, &s, 0, 0);
    }
    assert!(
        differ > 0,
        "no case where single and double rounding differ"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn simd_kernels_equal_scalar_in_single_rounding_mode(
        rows in 1usize..48,
        cols in 1usize..140,
        per_channel in any::<bool>(),
        input_offset in -128i32..=128,
        output_offset in -128i32..=127,
        mseed in any::<u64>(),
        seed in any::<u64>(),
        shift_base in -14i32..=1,
    ) {
        let case = Case::new(rows, cols, seed);
        let channels = if per_channel { rows } else { 1 };
        let mut st = mseed | 1;
        let (m, s): (Vec<i32>, Vec<i32>) = (0..channels)
            .map(|_| {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                ((1 << 30) + (st as i32 & 0x3fff_ffff), shift_base - (st >> 40) as i32 % 4)
            })
            .unzip();
        check(&case, &m, &s, input_offset, output_offset);
    }
}
