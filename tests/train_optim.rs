//! Optimizers, schedules and clipping against values computed by hand from
//! PyTorch's published update rules (torch.optim.SGD / Adam / AdamW docs,
//! `clip_grad_norm_`, `StepLR`, `CosineAnnealingLR`, `LinearLR`).

use axon::host::train::{clip_grad_norm, Adam, Optimizer, Schedule, ScheduleKind, Sgd};

fn steps(opt: &mut dyn Optimizer, grads: &[f32], lr: f32) -> Vec<f32> {
    let mut p = vec![vec![1.0f32]];
    grads
        .iter()
        .map(|&g| {
            opt.step(&mut p, &[vec![g]], lr);
            p[0][0]
        })
        .collect()
}

fn close(got: &[f32], want: &[f64]) {
    for (g, w) in got.iter().zip(want) {
        assert!(
            (f64::from(*g) - w).abs() <= 2e-7 * w.abs().max(1.0),
            "got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn sgd_momentum_dampening_weight_decay_match_pytorch() {
    // p=1, g=0.5, lr=0.1, μ=0.9, τ=0.1, λ=0.01.
    // step 1: d = 0.5 + 0.01·1 = 0.51, b = d = 0.51 (first step: no dampening), p = 1 − 0.051 = 0.949
    // step 2: d = 0.5 + 0.01·0.949 = 0.50949, b = 0.9·0.51 + 0.9·0.50949 = 0.917541,
    //         p = 0.949 − 0.0917541 = 0.8572459
    let mut opt = Sgd::new(0.9, 0.1, false, 0.01).unwrap();
    close(&steps(&mut opt, &[0.5, 0.5], 0.1), &[0.949, 0.857_245_9]);
}

#[test]
fn sgd_nesterov_matches_pytorch() {
    // step 1: d = 0.51, b = 0.51, d ← d + 0.9·b = 0.969, p = 1 − 0.0969 = 0.9031
    // step 2: d = 0.5 + 0.01·0.9031 = 0.509031, b = 0.9·0.51 + 0.509031 = 0.968031,
    //         d ← 0.509031 + 0.9·0.968031 = 1.3802589, p = 0.9031 − 0.13802589 = 0.76507411
    let mut opt = Sgd::new(0.9, 0.0, true, 0.01).unwrap();
    close(&steps(&mut opt, &[0.5, 0.5], 0.1), &[0.9031, 0.765_074_11]);
}

#[test]
fn plain_sgd_is_p_minus_lr_g() {
    let mut opt = Sgd::new(0.0, 0.0, false, 0.0).unwrap();
    close(&steps(&mut opt, &[0.5, -2.0], 0.1), &[0.95, 1.15]);
}

#[test]
fn nesterov_without_momentum_is_rejected_as_in_pytorch() {
    assert!(Sgd::new(0.0, 0.0, true, 0.0).is_err());
    assert!(Sgd::new(0.9, 0.5, true, 0.0).is_err());
}

#[test]
fn adam_bias_correction_and_eps_after_sqrt_match_pytorch() {
    // lr 0.1, β=(0.9, 0.999), ε=1e-8, g = 0.5 then 0.25.
    // step 1: m̂ = g, √v̂ = |g|: p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.900000002
    // step 2: m = 0.07, v = 0.00031225, bc1 = 0.19, bc2 = 0.001999:
    //         p = 0.9 − (0.1/0.19)·0.07/(√0.00031225/√0.001999 + 1e-8) = 0.80678204047...
    let mut opt = Adam::new(0.9, 0.999, 1e-8, 0.0, false).unwrap();
    close(
        &steps(&mut opt, &[0.5, 0.25], 0.1),
        &[0.900_000_002, 0.806_782_040_477_462_4],
    );
}

#[test]
fn adam_weight_decay_is_an_l2_term() {
    // g ← g + 0.1·p before the moments: 0.8050097658613199 after two steps.
    let mut opt = Adam::new(0.9, 0.999, 1e-8, 0.1, false).unwrap();
    close(
        &steps(&mut opt, &[0.5, 0.25], 0.1),
        &[0.900_000_001_666_666_6, 0.805_009_765_861_319_9],
    );
}

#[test]
fn adamw_weight_decay_is_decoupled() {
    // p ← p·(1 − lr·λ) = 0.99 first, then the Adam step: 0.890000002, 0.7878820404574624.
    let mut opt = Adam::new(0.9, 0.999, 1e-8, 0.1, true).unwrap();
    close(
        &steps(&mut opt, &[0.5, 0.25], 0.1),
        &[0.890_000_002, 0.787_882_040_457_462_4],
    );
}

#[test]
fn adam_defaults_are_pytorchs() {
    let a = Adam::pytorch_default(false);
    assert_eq!(
        (a.beta1, a.beta2, a.eps, a.weight_decay),
        (0.9, 0.999, 1e-8, 0.0)
    );
    assert_eq!(Adam::pytorch_default(true).weight_decay, 0.01);
}

#[test]
fn clip_grad_norm_scales_by_max_over_norm_plus_1e6() {
    // Tensors [3, 4] and [12]: norms 5 and 12, global norm 13.
    let mut g = vec![vec![3.0f32, 4.0], vec![12.0]];
    let total = clip_grad_norm(&mut g, 6.5);
    assert_eq!(total, 13.0);
    let coef = (6.5f32 / (13.0 + 1e-6)).min(1.0);
    assert_eq!(g, vec![vec![3.0 * coef, 4.0 * coef], vec![12.0 * coef]]);
    assert!((f64::from(g[1][0]) - 6.0).abs() < 1e-5);
    // Below the limit the coefficient clamps to 1: unchanged.
    let mut g = vec![vec![3.0f32, 4.0], vec![12.0]];
    assert_eq!(clip_grad_norm(&mut g, 100.0), 13.0);
    assert_eq!(g, vec![vec![3.0, 4.0], vec![12.0]]);
}

#[test]
fn clip_grad_norm_propagates_nan_like_pytorch() {
    let mut g = vec![vec![f32::NAN, 1.0]];
    assert!(clip_grad_norm(&mut g, 1.0).is_nan());
    assert!(g[0][1].is_nan());
}

fn sched(kind: ScheduleKind, warmup: u64, total: u64) -> Schedule {
    Schedule {
        kind,
        lr: 0.01,
        warmup,
        total,
        step_size: 4,
        gamma: 0.5,
        min_lr: 0.001,
    }
}

#[test]
fn schedules_match_the_pytorch_closed_forms() {
    // StepLR(step_size=4, gamma=0.5): 0.01 for t<4, 0.005 for t<8, 0.0025 ...
    let s = sched(ScheduleKind::Step, 0, 20);
    assert_eq!(
        [s.lr_at(0), s.lr_at(3), s.lr_at(4), s.lr_at(8)],
        [0.01, 0.01, 0.005, 0.0025]
    );
    // CosineAnnealingLR(T_max=20, eta_min=0.001): η_min + (lr − η_min)·(1 + cos(π t/20))/2,
    // with lr and η_min the f32 values the command line gives, evaluated in f64.
    let (lr, min) = (f64::from(0.01f32), f64::from(0.001f32));
    let c = sched(ScheduleKind::Cosine, 0, 20);
    for t in 0..=20u64 {
        let want = min + (lr - min) * (1.0 + (std::f64::consts::PI * t as f64 / 20.0).cos()) / 2.0;
        assert_eq!(c.lr_at(t), want as f32, "t = {t}");
    }
    // LinearLR warmup over 5 steps, then cosine over the remaining 15.
    let w = sched(ScheduleKind::Cosine, 5, 20);
    let warm: Vec<f32> = (0..5).map(|t| w.lr_at(t)).collect();
    let want: Vec<f32> = (1..=5).map(|k| (lr * f64::from(k) / 5.0) as f32).collect();
    assert_eq!(warm, want);
    assert!((warm[0] - 0.002).abs() < 1e-9 && warm[4] == 0.01);
    assert_eq!(w.lr_at(5), 0.01);
    let mid = min + (lr - min) * (1.0 + (std::f64::consts::PI * 7.0 / 15.0).cos()) / 2.0;
    assert_eq!(w.lr_at(12), mid as f32);
    assert_eq!(w.lr_at(20), 0.001);
    assert_eq!(sched(ScheduleKind::Constant, 0, 20).lr_at(19), 0.01);
}
