//! The core's f32 activations: derivatives against central differences in
//! f64, softmax stability at ±1e4, and the forms' defining identities.

use axon::core::activations::*;
use axon::core::Activation;

const POINTS: [f32; 13] = [
    -6.0, -3.1, -1.8, -1.0, -0.3, -0.01, 0.0, 0.01, 0.4, 1.0, 2.1, 3.7, 6.0,
];

/// Central difference in f64 of an f32 function evaluated through f64 inputs.
fn central_difference(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = 1e-5;
    (f(x + h) - f(x - h)) / (2.0 * h)
}

fn sigmoid64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn erf64(x: f64) -> f64 {
    libm::erf(x)
}

#[track_caller]
fn check(name: &str, analytic: impl Fn(f32) -> f32, f64_fn: impl Fn(f64) -> f64) {
    for &x in &POINTS {
        if x == 0.0 && (name == "relu" || name == "leaky_relu") {
            continue; // kink: the subgradient is a convention
        }
        let a = analytic(x) as f64;
        let n = central_difference(&f64_fn, x as f64);
        assert!(
            (a - n).abs() <= 1e-5 * (1.0 + n.abs()),
            "{name}'({x}) = {a}, numeric {n}"
        );
    }
}

#[test]
fn derivatives_match_central_differences() {
    check("relu", relu_derivative, |x| x.max(0.0));
    check(
        "leaky_relu",
        |x| leaky_relu_derivative(x, 0.1),
        |x| if x > 0.0 { x } else { 0.1 * x },
    );
    check("sigmoid", sigmoid_derivative, sigmoid64);
    check("tanh", tanh_derivative, f64::tanh);
    check("silu", silu_derivative, |x| x * sigmoid64(x));
    check("gelu_tanh", gelu_tanh_derivative, |x| {
        0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
    });
    check("gelu_erf", gelu_erf_derivative, |x| {
        0.5 * x * (1.0 + erf64(x / 2f64.sqrt()))
    });
}

#[test]
fn forward_values_match_f64_references() {
    for &x in &POINTS {
        let xd = x as f64;
        let close = |got: f32, want: f64| (got as f64 - want).abs() <= 2e-7 * (1.0 + want.abs());
        assert!(close(sigmoid(x), sigmoid64(xd)), "sigmoid({x})");
        assert!(close(tanh(x), xd.tanh()), "tanh({x})");
        assert!(close(silu(x), xd * sigmoid64(xd)), "silu({x})");
        assert!(
            close(gelu_erf(x), 0.5 * xd * (1.0 + erf64(xd / 2f64.sqrt()))),
            "gelu_erf({x})"
        );
        let gt = 0.5
            * xd
            * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (xd + 0.044715 * xd.powi(3))).tanh());
        assert!(close(gelu_tanh(x), gt), "gelu_tanh({x})");
    }
}

#[test]
fn swiglu_gates_with_silu() {
    for &g in &POINTS {
        for &u in &[-2.0f32, 0.5, 3.0] {
            assert_eq!(swiglu(g, u).to_bits(), (silu(g) * u).to_bits());
            let (dg, du) = swiglu_derivative(g, u);
            let n = central_difference(|v| v * sigmoid64(v) * u as f64, g as f64);
            assert!((dg as f64 - n).abs() <= 1e-5 * (1.0 + n.abs()));
            assert_eq!(du.to_bits(), silu(g).to_bits());
        }
    }
}

#[test]
fn softmax_is_stable_for_inputs_of_plus_minus_1e4() {
    let mut v = [1.0e4f32, -1.0e4, 0.0, 1.0e4 - 1.0];
    softmax(&mut v);
    assert!(v.iter().all(|p| p.is_finite() && *p >= 0.0), "{v:?}");
    let sum: f32 = v.iter().sum();
    assert!((sum - 1.0).abs() < 1e-6, "sum {sum}");
    let e = (-1.0f64).exp();
    assert!((v[0] as f64 - 1.0 / (1.0 + e)).abs() < 1e-6);
    assert_eq!(v[1], 0.0);
    let mut all_low = [-1.0e4f32; 5];
    softmax(&mut all_low);
    assert!(all_low.iter().all(|&p| p == 0.2));
}

#[test]
fn softmax_backward_matches_central_differences() {
    let x = [0.3f32, -1.2, 2.0, 0.0];
    let dy = [0.5f32, -1.0, 0.25, 2.0];
    let mut y = x;
    softmax(&mut y);
    let mut dx = [0.0f32; 4];
    softmax_backward(&y, &dy, &mut dx);
    let loss = |xs: &[f64]| {
        let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = xs.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter()
            .zip(&dy)
            .map(|(ei, &g)| ei / s * g as f64)
            .sum::<f64>()
    };
    for i in 0..4 {
        let n = central_difference(
            |v| {
                let mut xs: Vec<f64> = x.iter().map(|&a| a as f64).collect();
                xs[i] = v;
                loss(&xs)
            },
            x[i] as f64,
        );
        assert!(
            (dx[i] as f64 - n).abs() < 1e-5,
            "dx[{i}] = {}, numeric {n}",
            dx[i]
        );
    }
}

#[test]
fn activation_enum_applies_and_differentiates_like_the_functions() {
    let acts = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.01 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::GeluTanh,
        Activation::GeluErf,
        Activation::Silu,
    ];
    for act in acts {
        let x: Vec<f32> = POINTS.to_vec();
        let mut y = x.clone();
        act.apply(&mut y);
        let dy = vec![1.0f32; x.len()];
        let mut dx = vec![0.0f32; x.len()];
        act.backward(&x, &y, &dy, &mut dx);
        for i in 0..x.len() {
            if x[i] == 0.0 {
                continue;
            }
            let h = 1e-3f32;
            let mut lo = [x[i] - h];
            let mut hi = [x[i] + h];
            act.apply(&mut lo);
            act.apply(&mut hi);
            let n = (hi[0] - lo[0]) / (2.0 * h);
            assert!(
                (dx[i] - n).abs() < 2e-2,
                "{}'({}) = {}, numeric {n}",
                act.name(),
                x[i],
                dx[i]
            );
        }
    }
}
