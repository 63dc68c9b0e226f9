//! The trainer's tests: the whole model's gradient against f64 central
//! differences, the batched forward against a naive per-position one,
//! determinism across thread counts, and resuming from a checkpoint.

use super::model::{forward_backward, Workspace};
use super::*;
use crate::lm::params::{head_index, layer_index, ln_f_index, LayerParam as P};
use crate::ops::matmul::gradcheck::check;

fn tiny(tied: bool) -> LmConfig {
    LmConfig {
        vocab: 7,
        d_model: 8,
        n_layer: 2,
        n_head: 2,
        ctx: 5,
        d_ff: 16,
        tied,
    }
}

/// Random tokens for `n` sequences of `len`, and their next tokens.
fn batch(n: usize, len: usize, v: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng::new(seed, 77);
    let all: Vec<u8> = (0..n * (len + 1)).map(|_| rng.below(v) as u8).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for s in 0..n {
        let w = &all[s * (len + 1)..][..len + 1];
        x.extend_from_slice(&w[..len]);
        y.extend_from_slice(&w[1..]);
    }
    (x, y)
}

/// f64 parameters: the f32 initialisation with larger LN and bias values,
/// so that every term of the backward matters.
fn params_f64(cfg: LmConfig) -> Vec<Vec<f64>> {
    let p = LmParams::init(cfg, 11).unwrap();
    let mut rng = Rng::new(12, 1);
    p.data
        .iter()
        .zip(&p.shapes)
        .map(|(t, s)| {
            t.iter()
                .map(|&v| {
                    let noise = rng.next_f64() - 0.5;
                    if s.len() == 1 {
                        f64::from(v) + 0.3 * noise
                    } else {
                        f64::from(v) * 20.0
                    }
                })
                .collect()
        })
        .collect()
}

fn whole_model_gradient_check(tied: bool) {
    let cfg = tiny(tied);
    let (n, len) = (2, cfg.ctx);
    let (x, y) = batch(n, len, cfg.vocab, 3);
    let params = params_f64(cfg);
    let scale = 1.0 / (n * len) as f64;
    let mut ws = Workspace::<f64>::new(&cfg, n, len);
    let mut grads: Vec<Vec<f64>> = params.iter().map(|t| vec![0.0; t.len()]).collect();
    let loss = forward_backward(&cfg, &params, &x, &y, &mut ws, Some((&mut grads, scale)));
    assert!(
        loss * scale > 1.0 && loss * scale < 4.0,
        "mean loss {}",
        loss * scale
    );
    let names: Vec<String> = crate::lm::params::shapes(&cfg)
        .into_iter()
        .map(|s| s.0)
        .collect();
    for k in 0..params.len() {
        let f = |v: &[f64]| {
            let mut p = params.clone();
            p[k] = v.to_vec();
            let mut ws = Workspace::<f64>::new(&cfg, n, len);
            forward_backward(&cfg, &p, &x, &y, &mut ws, None) * scale
        };
        check(&names[k], &params[k], &grads[k], &f, 1e-5);
    }
}

#[test]
fn the_whole_models_gradient_matches_central_differences() {
    whole_model_gradient_check(false);
}

#[test]
fn the_tied_models_gradient_matches_central_differences() {
    whole_model_gradient_check(true);
}

/// The model of docs/lm.md one position at a time, in f64, with nothing
/// shared with the batched code.
fn naive_logits(cfg: &LmConfig, p: &[Vec<f32>], tokens: &[u8]) -> Vec<Vec<f64>> {
    let (d, h, f, v) = (cfg.d_model, cfg.n_head, cfg.d_ff, cfg.vocab);
    let dh = d / h;
    let w = |k: usize| p[k].iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let ln = |x: &[f64], g: &[f64], b: &[f64]| {
        let m = x.iter().sum::<f64>() / d as f64;
        let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / d as f64;
        let r = 1.0 / (var + 1e-5).sqrt();
        (0..d)
            .map(|j| (x[j] - m) * r * g[j] + b[j])
            .collect::<Vec<f64>>()
    };
    let lin = |x: &[f64], wt: &[f64], b: Option<&[f64]>, out: usize| {
        (0..out)
            .map(|o| {
                let s: f64 = (0..x.len()).map(|i| wt[o * x.len() + i] * x[i]).sum();
                s + b.map_or(0.0, |b| b[o])
            })
            .collect::<Vec<f64>>()
    };
    let (tok, pos) = (w(0), w(1));
    let mut xs: Vec<Vec<f64>> = tokens
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            (0..d)
                .map(|j| tok[t as usize * d + j] + pos[i * d + j])
                .collect()
        })
        .collect();
    for l in 0..cfg.n_layer {
        let g = |q: P| w(layer_index(l, q));
        let hs: Vec<Vec<f64>> = xs.iter().map(|x| ln(x, &g(P::Ln1G), &g(P::Ln1B))).collect();
        let qkv: Vec<Vec<f64>> = hs
            .iter()
            .map(|x| lin(x, &g(P::Wqkv), Some(&g(P::Bqkv)), 3 * d))
            .collect();
        for pp in 0..xs.len() {
            let mut o = vec![0.0; d];
            for hh in 0..h {
                let s: Vec<f64> = (0..=pp)
                    .map(|i| {
                        (0..dh)
                            .map(|j| qkv[pp][hh * dh + j] * qkv[i][d + hh * dh + j])
                            .sum::<f64>()
                            / (dh as f64).sqrt()
                    })
                    .collect();
                let mx = s.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = s.iter().map(|v| (v - mx).exp()).collect();
                let z: f64 = e.iter().sum();
                for (i, ei) in e.iter().enumerate() {
                    for j in 0..dh {
                        o[hh * dh + j] += ei / z * qkv[i][2 * d + hh * dh + j];
                    }
                }
            }
            let proj = lin(&o, &g(P::Wo), Some(&g(P::Bo)), d);
            // Written back after all positions: keep the outputs aside.
            xs[pp].iter_mut().zip(&proj).for_each(|(a, b)| *a += b);
            // The later positions read qkv (already computed), not xs.
        }
        for x in xs.iter_mut() {
            let h2 = ln(x, &g(P::Ln2G), &g(P::Ln2B));
            let a: Vec<f64> = lin(&h2, &g(P::W1), Some(&g(P::B1)), f)
                .iter()
                .map(|&u| 0.5 * u * (1.0 + libm::erf(u / std::f64::consts::SQRT_2)))
                .collect();
            let out = lin(&a, &g(P::W2), Some(&g(P::B2)), d);
            x.iter_mut().zip(&out).for_each(|(a, b)| *a += b);
        }
    }
    let lf = ln_f_index(cfg);
    let head = w(head_index(cfg));
    xs.iter()
        .map(|x| lin(&ln(x, &w(lf), &w(lf + 1)), &head, None, v))
        .collect()
}

#[test]
fn batched_logits_equal_a_naive_per_position_forward() {
    for tied in [false, true] {
        let cfg = LmConfig {
            vocab: 11,
            d_model: 16,
            n_layer: 2,
            n_head: 4,
            ctx: 9,
            d_ff: 40,
            tied,
        };
        let mut p = LmParams::init(cfg, 5).unwrap();
        for t in p.data.iter_mut() {
            t.iter_mut().for_each(|v| *v *= 4.0);
        }
        let (n, len) = (3, 7);
        let (x, y) = batch(n, len, cfg.vocab, 9);
        let mut ws = Workspace::<f32>::new(&cfg, n, len);
        forward_backward(&cfg, &p.data, &x, &y, &mut ws, None);
        let (mut worst, mut largest) = (0.0f64, 0.0f64);
        for s in 0..n {
            let want = naive_logits(&cfg, &p.data, &x[s * len..][..len]);
            for (i, row) in want.iter().enumerate() {
                for (j, &wv) in row.iter().enumerate() {
                    let got = f64::from(ws.logits()[(s * len + i) * cfg.vocab + j]);
                    worst = worst.max((got - wv).abs());
                    largest = largest.max(wv.abs());
                }
            }
        }
        assert!(largest > 1.0, "logits too small to test: {largest}");
        assert!(
            worst < 1e-4,
            "tied {tied}: worst logit difference {worst:e} (largest logit {largest})"
        );
    }
}

fn corpus_tokens(v: usize, n: usize) -> Vec<u8> {
    let mut rng = Rng::new(21, 3);
    // A learnable stream: mostly counting up, sometimes a random token.
    let mut t = 0usize;
    (0..n)
        .map(|_| {
            t = if rng.below(4) == 0 {
                rng.below(v)
            } else {
                (t + 1) % v
            };
            t as u8
        })
        .collect()
}

fn small_opts(steps: u64) -> Options {
    Options {
        steps,
        batch: 6,
        warmup: 2,
        eval_every: 0,
        chunk: 2,
        lr: 1e-2,
        min_lr: 1e-3,
        ..Options::default()
    }
}

fn bits(p: &LmParams) -> Vec<Vec<u32>> {
    p.data
        .iter()
        .map(|t| t.iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn one_and_two_threads_train_the_same_weights_bit_for_bit() {
    let cfg = tiny(false);
    let train = corpus_tokens(cfg.vocab, 400);
    let mut runs = Vec::new();
    for threads in [1, 2, 3] {
        let mut t = Trainer::new(cfg, small_opts(5), threads).unwrap();
        let mut losses = Vec::new();
        for _ in 0..5 {
            losses.push(t.step(&train).unwrap().loss);
        }
        runs.push((bits(&t.params), losses));
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
    // And it learns: the loss falls.
    let l = &runs[0].1;
    assert!(l[4] < l[0], "losses {l:?}");
}

#[test]
fn resuming_from_a_checkpoint_reaches_the_same_weights() {
    let cfg = tiny(true);
    let train = corpus_tokens(cfg.vocab, 400);
    let vocab = Vocab::from_text("abcdefg").unwrap();
    let k = 3;
    let mut straight = Trainer::new(cfg, small_opts(2 * k), 2).unwrap();
    for _ in 0..2 * k {
        straight.step(&train).unwrap();
    }
    let mut first = Trainer::new(cfg, small_opts(2 * k), 1).unwrap();
    for _ in 0..k {
        first.step(&train).unwrap();
    }
    let training = Training {
        options: first.opts.clone(),
        steps_done: first.step,
        history: first.history.clone(),
        val_loss: None,
        seconds: 0.0,
        tokens_per_sec: 0.0,
        threads: 1,
        stopped_early: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.json");
    first.checkpoint(&vocab, &training).write(&path).unwrap();
    let (mut resumed, v) = Trainer::resume(&LmFile::read(&path).unwrap(), 2).unwrap();
    assert_eq!(v, vocab);
    assert_eq!(resumed.step, k);
    for _ in 0..k {
        resumed.step(&train).unwrap();
    }
    assert_eq!(bits(&straight.params), bits(&resumed.params));
}

#[test]
fn a_non_finite_loss_stops_with_the_step_and_advice() {
    let cfg = tiny(false);
    let train = corpus_tokens(cfg.vocab, 400);
    let mut t = Trainer::new(cfg, small_opts(5), 1).unwrap();
    t.step(&train).unwrap();
    t.params.data[0][0] = f32::NAN;
    let e = t.step(&train).unwrap_err();
    let d = e.downcast_ref::<Diverged>().expect("a Diverged error");
    assert_eq!(d.step, 2);
    assert!(e.to_string().contains("--lr"), "{e}");
}

#[test]
fn the_split_evaluation_counts_every_position() {
    let cfg = tiny(false);
    let val = corpus_tokens(cfg.vocab, 23);
    let mut t = Trainer::new(cfg, small_opts(1), 2).unwrap();
    let got = t.evaluate_split(&val);
    // The same sum, one position at a time.
    let mut want = 0.0;
    for s in (0..22).step_by(cfg.ctx) {
        let len = cfg.ctx.min(22 - s);
        let mut ws = Workspace::<f32>::new(&cfg, 1, len);
        want += forward_backward(
            &cfg,
            &t.params.data,
            &val[s..s + len],
            &val[s + 1..s + 1 + len],
            &mut ws,
            None,
        );
    }
    want /= 22.0;
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}
