//! The article's hand calculations ("Understanding neural networks",
//! DESIGN.md § parity contract 4), computed through the core's public layer
//! API. Where the article's value is exact, the f32 result must be the f32
//! nearest to it, bit for bit; where it is rounded, the f32 result must print
//! as the article prints it and sit within 1 ulp of an f64 reference.

use axon::core::activations::{relu, sigmoid, tanh};
use axon::core::{Activation, Dense, Layer};

/// The article's neuron: x = (2, 3), w = (0.5, −1.0), b = 0.2.
fn neuron(act: Activation) -> f32 {
    Dense::<2, 1>::new([[0.5, -1.0]], [0.2], act).infer(&[2.0, 3.0])[0]
}

/// The article's layer: x = (1, 2), W = [[1.0, 0.5], [−0.5, 2.0]], b = (0.1, −0.2).
fn layer(act: Activation) -> [f32; 2] {
    Dense::<2, 2>::new([[1.0, 0.5], [-0.5, 2.0]], [0.1, -0.2], act).infer(&[1.0, 2.0])
}

/// One unit in the last place of the f32 nearest to `v`.
fn ulp_f32(v: f64) -> f64 {
    let f = v as f32;
    let next = f32::from_bits(f.abs().to_bits() + 1);
    (next as f64 - f.abs() as f64).abs()
}

#[track_caller]
fn assert_within_1ulp(got: f32, reference: f64) {
    let err = (got as f64 - reference).abs();
    assert!(
        err <= ulp_f32(reference),
        "got {got} ({:#010x}), f64 reference {reference}, error {err:e} > 1 ulp",
        got.to_bits()
    );
}

#[test]
fn neuron_z_is_the_f32_nearest_to_minus_1_8() {
    let z = neuron(Activation::Identity);
    assert_eq!(z.to_bits(), (-1.8f32).to_bits(), "z = {z}");
}

#[test]
fn layer_z_is_the_f32_nearest_to_2_1_and_3_3() {
    let z = layer(Activation::Identity);
    assert_eq!(z[0].to_bits(), 2.1f32.to_bits(), "z0 = {}", z[0]);
    assert_eq!(z[1].to_bits(), 3.3f32.to_bits(), "z1 = {}", z[1]);
}

#[test]
fn relu_of_the_article_values_is_exact() {
    assert_eq!(neuron(Activation::Relu).to_bits(), 0.0f32.to_bits());
    assert_eq!(layer(Activation::Relu)[0].to_bits(), 2.1f32.to_bits());
    // And the free functions agree with the layer.
    assert_eq!(relu(-1.8).to_bits(), 0.0f32.to_bits());
    assert_eq!(relu(2.1).to_bits(), 2.1f32.to_bits());
}

#[test]
fn sigmoid_matches_the_articles_digits_and_f64() {
    let s_neg = neuron(Activation::Sigmoid);
    let s_pos = layer(Activation::Sigmoid)[0];
    assert_eq!(format!("{s_neg:.3}"), "0.142");
    assert_eq!(format!("{s_pos:.3}"), "0.891");
    let reference = |z: f32| 1.0 / (1.0 + (-(z as f64)).exp());
    assert_within_1ulp(s_neg, reference(-1.8f32));
    assert_within_1ulp(s_pos, reference(2.1f32));
    assert_eq!(s_neg.to_bits(), sigmoid(-1.8).to_bits());
}

#[test]
fn tanh_matches_the_articles_digits_and_f64() {
    let t_pos = layer(Activation::Tanh)[0];
    let t_neg = neuron(Activation::Tanh);
    assert_eq!(format!("{t_pos:.2}"), "0.97");
    assert_eq!(format!("{t_neg:.2}"), "-0.95");
    assert_within_1ulp(t_pos, (2.1f32 as f64).tanh());
    assert_within_1ulp(t_neg, (-1.8f32 as f64).tanh());
    assert_eq!(t_neg.to_bits(), tanh(-1.8).to_bits());
}

#[test]
fn the_articles_intermediate_exponentials_hold() {
    // σ(−1.8) ≈ 1/(1 + 6.05), σ(2.1) ≈ 1/(1 + 0.122): the article's e^1.8 and e^−2.1.
    assert_eq!(format!("{:.2}", libm::expf(1.8)), "6.05");
    assert_eq!(format!("{:.3}", libm::expf(-2.1)), "0.122");
}
