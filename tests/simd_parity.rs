//! The desktop SIMD kernels through the public API: every kernel this machine
//! runs equals the scalar reference bit for bit on the big and odd shapes,
//! the dispatcher picks the fastest, and the kernels listed in
//! `AXON_REQUIRE_KERNELS` (CI: `avx2,avx512`) really ran.
//!
//! NaN results compare as "both NaN": payload and sign are outside the
//! parity contract (see `axon_core::kernels::gemv_f32`).

use axon::core::kernels::dispatch;
use axon::core::kernels::gemv_i8::Scalar as I8Scalar;
use axon::core::kernels::kernel::{Kernel, KernelId, Scalar};
use axon::core::kernels::{self, FullyConnectedParams};
use axon::core::quant::quantize_multiplier;

/// Runs `f` with every kernel that can run here (scalar included) and
/// returns the ids it ran; panics if a required kernel is not among them.
fn each_kernel(mut f: impl FnMut(&dyn Fn(Op<'_>))) -> Vec<KernelId> {
    let mut ran = vec![KernelId::Scalar];
    f(&|op| op.run(Scalar));
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(k) = kernels::avx2::Avx2::detect() {
            f(&|op| op.run(k));
            ran.push(KernelId::Avx2);
        }
        if let Some(k) = kernels::avx512::Avx512::detect() {
            f(&|op| op.run(k));
            ran.push(KernelId::Avx512);
        }
    }
    #[cfg(target_arch = "aarch64")]
    if let Some(k) = kernels::neon::Neon::detect() {
        f(&|op| op.run(k));
        ran.push(KernelId::Neon);
    }
    for want in dispatch::require_from_env() {
        assert!(ran.contains(&want), "required kernel `{want}` did not run");
    }
    ran
}

/// One kernel call, so a single closure can drive every kernel type.
enum Op<'a> {
    Gemv(
        &'a [f32],
        &'a [f32],
        &'a [f32],
        &'a std::cell::RefCell<Vec<f32>>,
    ),
    Fc(
        &'a [i8],
        &'a [i8],
        &'a [i32],
        &'a [i32],
        &'a FullyConnectedParams<'a>,
        &'a std::cell::RefCell<Vec<i8>>,
    ),
    Packed(
        &'a [i8],
        &'a [i8],
        &'a [i32],
        &'a [i32],
        &'a FullyConnectedParams<'a>,
        &'a std::cell::RefCell<Vec<i8>>,
    ),
}

impl Op<'_> {
    fn run<K: Kernel>(self, k: K) {
        match self {
            Op::Gemv(w, x, b, y) => k.gemv_f32(w, x, b, &mut y.borrow_mut()),
            Op::Fc(w, x, b, s, p, y) => k.fully_connected_i8(w, x, b, s, p, &mut y.borrow_mut()),
            Op::Packed(w, x, b, s, p, y) => {
                k.fully_connected_i8_packed(w, x, b, s, p, &mut y.borrow_mut())
            }
        }
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Deterministic pseudo-random values (SplitMix64).
fn values(n: usize, seed: u64) -> impl Iterator<Item = u64> {
    let mut s = seed;
    (0..n).map(move |_| {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

fn f32s(n: usize, seed: u64) -> Vec<f32> {
    values(n, seed)
        .map(|v| match v % 97 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => -0.0,
            3 => 1.0e-41,
            _ => ((v >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0,
        })
        .collect()
}

#[test]
fn every_kernel_gemv_f32_equals_scalar_on_big_and_odd_shapes() {
    for &(rows, cols) in &[
        (1, 1),
        (9, 10),
        (42, 1),
        (1023, 1024),
        (64, 64),
        (10, 32),
        (1, 16),
    ] {
        let w = f32s(rows * cols, 1);
        let x = f32s(cols, 2);
        let b = f32s(rows, 3);
        let mut want = vec![0.0; rows];
        Scalar.gemv_f32(&w, &x, &b, &mut want);
        let got = std::cell::RefCell::new(vec![0.0f32; rows]);
        let mut checked = 0;
        let ran = each_kernel(|run| {
            run(Op::Gemv(&w, &x, &b, &got));
            for (o, (g, e)) in got.borrow().iter().zip(&want).enumerate() {
                assert!(same(*g, *e), "{rows}x{cols} row {o}: {g:e} vs {e:e}");
            }
            checked += 1;
        });
        assert_eq!(checked, ran.len());
        // The public, dispatched entry point gives the same bits.
        let mut y = vec![0.0; rows];
        kernels::gemv(&w, &x, &b, &mut y).unwrap();
        assert!(y.iter().zip(&want).all(|(g, e)| same(*g, *e)));
    }
}

#[test]
fn every_kernel_fully_connected_i8_equals_scalar_on_big_and_odd_shapes() {
    for &(rows, cols) in &[
        (1, 1),
        (9, 10),
        (42, 1),
        (1023, 1024),
        (64, 64),
        (10, 32),
        (33, 65),
    ] {
        let w: Vec<i8> = values(rows * cols, 4).map(|v| v as i8).collect();
        let x: Vec<i8> = values(cols, 5)
            .map(|v| if v % 5 == 0 { -128 } else { v as i8 })
            .collect();
        let bias: Vec<i32> = values(rows, 6).map(|v| (v as i32) >> 12).collect();
        let (m, s): (Vec<i32>, Vec<i32>) = values(rows, 7)
            .map(|v| quantize_multiplier(1.0e-5 + (v % 1000) as f64 * 1.0e-6))
            .unzip();
        let p = FullyConnectedParams {
            input_offset: 17,
            output_offset: -9,
            multiplier: &m,
            shift: &s,
            act_min: -128,
            act_max: 127,
            rounding: axon::core::quant::Rounding::Double,
        };
        let mut want = vec![0i8; rows];
        I8Scalar::fully_connected(&w, &x, &bias, &p, &mut want);
        let mut sums = vec![0i32; rows];
        kernels::weight_row_sums(&w, cols, &mut sums).unwrap();
        let got = std::cell::RefCell::new(vec![0i8; rows]);
        each_kernel(|run| {
            for s in [&[][..], &sums[..]] {
                run(Op::Fc(&w, &x, &bias, s, &p, &got));
                assert_eq!(*got.borrow(), want, "{rows}x{cols}");
            }
        });
        // The VNNI-packed layout, through every kernel and the public entry.
        let mut packed = vec![0i8; kernels::packed_vnni_len(rows, cols).unwrap()];
        kernels::pack_vnni(&w, cols, &mut packed).unwrap();
        each_kernel(|run| {
            run(Op::Packed(&packed, &x, &bias, &sums, &p, &got));
            assert_eq!(*got.borrow(), want, "packed {rows}x{cols}");
        });
        let mut y = vec![0i8; rows];
        kernels::fully_connected_i8_packed(&packed, &x, &bias, &sums, &p, &mut y).unwrap();
        assert_eq!(y, want);
        assert!(
            kernels::fully_connected_i8_packed(&packed[1..], &x, &bias, &sums, &p, &mut y).is_err()
        );
        kernels::fully_connected_i8(&w, &x, &bias, &p, &mut y).unwrap();
        assert_eq!(y, want);
        kernels::fully_connected_i8_with_row_sums(&w, &x, &bias, &sums, &p, &mut y).unwrap();
        assert_eq!(y, want);
        assert!(
            kernels::fully_connected_i8_with_row_sums(&w, &x, &bias, &sums[1..], &p, &mut y)
                .is_err()
        );
    }
}

#[test]
fn dispatcher_uses_the_fastest_required_kernel() {
    let required = dispatch::require_from_env();
    let best = dispatch::best();
    assert!(best.is_available());
    if required.contains(&KernelId::Avx512) {
        assert_eq!(
            best,
            KernelId::Avx512,
            "AVX-512 is required, so it must be the fastest here"
        );
    } else if required.contains(&KernelId::Avx2) {
        assert!(matches!(best, KernelId::Avx2 | KernelId::Avx512));
    }
    // Without AXON_KERNEL, the automatic choice is the fastest one.
    if std::env::var_os(dispatch::ENV_KERNEL).is_none() {
        assert_eq!(dispatch::selected(), best);
    }
}
