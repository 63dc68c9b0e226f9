//! `gemv` follows the documented canonical order, bit for bit, over random
//! shapes up to 300 × 300 — checked against a plainly written loop that
//! uses `std`'s `f32::mul_add` (the platform's correctly rounded fma), an
//! oracle independent of the core's `libm::fmaf`.

use axon::core::kernels::{dot, gemv};
use proptest::prelude::*;

/// The canonical order of `kernels::gemv_f32`, written out as plainly as
/// possible: 16 lanes, element i into lane i % 16 with one fma each, then
/// the pairwise tree 8, 4, 2, 1, then + bias.
fn oracle_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lane = [0.0f32; 16];
    for i in 0..a.len() {
        lane[i % 16] = a[i].mul_add(b[i], lane[i % 16]);
    }
    for h in [8, 4, 2, 1] {
        for l in 0..h {
            lane[l] += lane[l + h];
        }
    }
    lane[0]
}

fn oracle_gemv(w: &[f32], x: &[f32], b: &[f32]) -> Vec<f32> {
    (0..b.len())
        .map(|o| oracle_dot(&w[o * x.len()..(o + 1) * x.len()], x) + b[o])
        .collect()
}

/// Bit equality, with every NaN equal to every NaN (payloads are outside
/// the contract).
fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Mostly ordinary magnitudes, some large ones that make rounding and lane
/// order matter, and the odd special value.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -4.0f32..4.0,
        2 => -1.0e6f32..1.0e6,
        1 => prop::sample::select(vec![0.0, -0.0, 1.0e-40, -1.0e-45, f32::MAX, f32::MIN_POSITIVE]),
    ]
}

fn shape_and_data() -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>, Vec<f32>)> {
    (1usize..=300, 1usize..=300).prop_flat_map(|(rows, cols)| {
        (
            Just(rows),
            Just(cols),
            prop::collection::vec(value(), rows * cols),
            prop::collection::vec(value(), cols),
            prop::collection::vec(value(), rows),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(96)
    ))]

    #[test]
    fn gemv_equals_the_documented_order_for_random_shapes((rows, cols, w, x, b) in shape_and_data()) {
        let mut y = vec![0.0f32; rows];
        gemv(&w, &x, &b, &mut y).unwrap();
        let expected = oracle_gemv(&w, &x, &b);
        for (o, (&got, &want)) in y.iter().zip(&expected).enumerate() {
            prop_assert!(same_bits(got, want),
                "{rows}x{cols}, row {o}: got {got} ({:#010x}), want {want} ({:#010x})",
                got.to_bits(), want.to_bits());
        }
    }

    #[test]
    fn dot_equals_the_documented_order(a in prop::collection::vec(value(), 0..=1100)) {
        let b: Vec<f32> = a.iter().rev().copied().collect();
        let got = dot(&a, &b).unwrap();
        prop_assert!(same_bits(got, oracle_dot(&a, &b)));
    }
}

#[test]
fn gemv_reports_mismatched_shapes_instead_of_panicking() {
    let mut y = [0.0f32; 3];
    assert!(gemv(&[0.0; 8], &[0.0; 3], &[0.0; 3], &mut y).is_err());
    assert!(gemv(&[0.0; 9], &[0.0; 3], &[0.0; 2], &mut y).is_err());
    assert!(dot(&[0.0; 2], &[0.0; 3]).is_err());
}
