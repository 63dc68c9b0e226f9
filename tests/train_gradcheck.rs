//! Gradient check: every layer's, activation's and loss's analytic gradient
//! (the trainer's own backward code, run in f64) against central finite
//! differences in f64; and the f32 derivatives the trainer really uses (the
//! core's) against the f64 ones.

use axon::core::Activation;
use axon::host::model::LayerSpec;
use axon::host::train::rng::Rng;
use axon::host::train::{Loss, Net};

const ACTIVATIONS: [Activation; 9] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.1 },
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::GeluTanh,
    Activation::GeluErf,
    Activation::Silu,
    Activation::Softmax,
];

fn random_net(rng: &mut Rng, widths: &[usize], act: Activation) -> Net<f64> {
    let mut specs = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        specs.push(LayerSpec::Dense {
            inputs: w[0],
            outputs: w[1],
            weights: (0..w[0] * w[1])
                .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
                .collect(),
            bias: (0..w[1]).map(|_| (rng.next_f64() - 0.5) as f32).collect(),
        });
        if i + 2 < widths.len() {
            specs.push(LayerSpec::Activation(act));
        }
    }
    Net::<f32>::from_specs(widths[0], &specs)
        .unwrap()
        .convert::<f64>()
}

/// Mean loss over the batch.
fn batch_loss(net: &Net<f64>, xs: &[Vec<f64>], ts: &[f32], loss: Loss) -> f64 {
    let mut cache = net.cache();
    let mut total = 0.0;
    for (x, &t) in xs.iter().zip(ts) {
        let out = net.forward(x, &mut cache);
        total += loss.forward(out, t);
    }
    total / xs.len() as f64
}

/// Analytic gradients (params, and input of sample 0) through the trainer's code.
fn analytic(net: &Net<f64>, xs: &[Vec<f64>], ts: &[f32], loss: Loss) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut cache = net.cache();
    let mut grads = net.zero_grads();
    let mut dz = vec![0.0; net.outputs()];
    let scale = 1.0 / xs.len() as f64;
    let mut dx0 = Vec::new();
    for (i, (x, &t)) in xs.iter().zip(ts).enumerate() {
        let out = net.forward(x, &mut cache).to_vec();
        loss.backward(&out, t, scale, &mut dz);
        let dx = net.backward(&mut cache, &dz, &mut grads);
        if i == 0 {
            dx0 = dx.to_vec();
        }
    }
    (grads, dx0)
}

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let err = (analytic - numeric).abs() / (1.0f64).max(analytic.abs()).max(numeric.abs());
    assert!(
        err < 1e-6,
        "{what}: analytic {analytic:e} vs central difference {numeric:e} (relative error {err:e})"
    );
}

fn check(act: Activation, loss: Loss, widths: &[usize], seed: u64) {
    let mut rng = Rng::new(seed, 99);
    let net = random_net(&mut rng, widths, act);
    let n_out = *widths.last().unwrap();
    let xs: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..widths[0]).map(|_| rng.next_f64() * 4.0 - 2.0).collect())
        .collect();
    let ts: Vec<f32> = (0..3)
        .map(|_| match loss {
            Loss::Ce => rng.below(n_out) as f32,
            Loss::Bce => rng.below(2) as f32,
            Loss::Mse => (rng.next_f64() * 2.0 - 1.0) as f32,
        })
        .collect();
    let (grads, dx0) = analytic(&net, &xs, &ts, loss);
    let h = 1e-6;
    for (p, g) in grads.iter().enumerate() {
        for (i, &gi) in g.iter().enumerate() {
            let mut plus = net.clone();
            plus.params[p][i] += h;
            let mut minus = net.clone();
            minus.params[p][i] -= h;
            let numeric = (batch_loss(&plus, &xs, &ts, loss) - batch_loss(&minus, &xs, &ts, loss))
                / (2.0 * h);
            assert_close(
                &format!(
                    "{} + {}: d/d param tensor {p} [{i}]",
                    act.name(),
                    loss.name()
                ),
                gi,
                numeric,
            );
        }
    }
    // Input gradient of sample 0: the loss of that sample alone, scaled by 1/batch.
    for i in 0..widths[0] {
        let f = |d: f64| {
            let mut x = xs[0].clone();
            x[i] += d;
            let mut c = net.cache();
            loss.forward(net.forward(&x, &mut c), ts[0]) / xs.len() as f64
        };
        assert_close(
            &format!("{} + {}: d/d input [{i}]", act.name(), loss.name()),
            dx0[i],
            (f(h) - f(-h)) / (2.0 * h),
        );
    }
}

#[test]
fn every_activation_and_dense_layer_matches_central_differences() {
    for (k, act) in ACTIVATIONS.iter().enumerate() {
        check(*act, Loss::Mse, &[3, 5, 4, 1], 10 + k as u64);
    }
}

#[test]
fn softmax_cross_entropy_matches_central_differences() {
    for (k, act) in ACTIVATIONS.iter().enumerate() {
        check(*act, Loss::Ce, &[4, 6, 5], 30 + k as u64);
    }
}

#[test]
fn binary_cross_entropy_matches_central_differences() {
    for (k, act) in [Activation::Tanh, Activation::Relu, Activation::Silu]
        .iter()
        .enumerate()
    {
        check(*act, Loss::Bce, &[2, 5, 1], 50 + k as u64);
    }
}

#[test]
fn losses_are_stable_for_huge_logits() {
    // Fused forms: no overflow, no NaN, the exact limits.
    let ce = Loss::Ce.forward::<f32>(&[1e4, -1e4, 0.0], 0.0);
    assert_eq!(ce, 0.0);
    let ce = Loss::Ce.forward::<f32>(&[1e4, -1e4, 0.0], 1.0);
    assert_eq!(ce, 2e4);
    // ln(1 + e^-100) ≈ 3.7e-44: positive, tiny, finite.
    let tiny = Loss::Bce.forward::<f32>(&[100.0], 1.0);
    assert!(tiny > 0.0 && tiny < 1e-40);
    assert_eq!(Loss::Bce.forward::<f32>(&[-100.0], 1.0), 100.0);
    let mut dz = [0.0f32; 1];
    Loss::Bce.backward::<f32>(&[-1e4], 1.0, 1.0, &mut dz);
    assert_eq!(dz[0], -1.0);
}

#[test]
fn core_f32_derivatives_match_the_f64_ones() {
    // The trainer's f32 backward is the core's `Activation::backward`.
    let mut rng = Rng::new(5, 0);
    for act in ACTIVATIONS {
        let x32: Vec<f32> = (0..33)
            .map(|_| (rng.next_f64() * 8.0 - 4.0) as f32)
            .collect();
        let dy32: Vec<f32> = (0..33)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect();
        let mut y32 = x32.clone();
        act.apply(&mut y32);
        let mut dx32 = vec![0.0f32; 33];
        act.backward(&x32, &y32, &dy32, &mut dx32);

        let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
        let dy64: Vec<f64> = dy32.iter().map(|&v| f64::from(v)).collect();
        let mut y64 = x64.clone();
        axon::host::train::activation::forward_f64(&act, &mut y64);
        let mut dx64 = vec![0.0f64; 33];
        axon::host::train::activation::backward_f64(&act, &x64, &y64, &dy64, &mut dx64);
        for i in 0..33 {
            assert!(
                (f64::from(y32[i]) - y64[i]).abs() <= 1e-5 * (1.0 + y64[i].abs()),
                "{} forward at {}: f32 {} vs f64 {}",
                act.name(),
                x32[i],
                y32[i],
                y64[i]
            );
            assert!(
                (f64::from(dx32[i]) - dx64[i]).abs() <= 1e-5 * (1.0 + dx64[i].abs()),
                "{} backward at {}: f32 {} vs f64 {}",
                act.name(),
                x32[i],
                dx32[i],
                dx64[i]
            );
        }
    }
}
