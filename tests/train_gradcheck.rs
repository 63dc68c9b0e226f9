//! Gradient check over the graph: every op with a backward (fully
//! connected, relu, leaky_relu, sigmoid, tanh, gelu in both forms, silu,
//! softmax, add, standardize's input gradient) and whole graphs with
//! fan-out and residual adds (built by `train::arch::build`, nested blocks
//! among them, and sequence-shaped tensors), under every loss (ce, bce,
//! mse). The analytic gradients of every parameter and of the input come
//! from the trainer's own code, `Trainable::backward`, run in f64
//! (`Trainable::<f32>::convert`); the reference is central differences of
//! the f64 loss. Then the f32 derivatives the trainer really uses (the
//! core's kernels) against the f64 ones, op by op and through whole graphs.

use axon::core::graph::DType;
use axon::core::Activation;
use axon::host::model::{Data, Graph, Meta, Model, Quant, Tensor, TensorId};
use axon::host::ops::{self, Op};
use axon::host::train::arch::{build, parse_activation, Arch, Layer};
use axon::host::train::rng::Rng;
use axon::host::train::{Loss, Trainable};

const LOSSES: [Loss; 3] = [Loss::Mse, Loss::Ce, Loss::Bce];

/// Every element-wise op the trainer has a backward for: none, each
/// activation the registry has (`Op::activation_names`; gelu in both
/// forms; an op added there is checked here without a line of its own),
/// and softmax.
fn activations() -> Vec<(String, Option<Op>)> {
    let mut v = vec![("none".to_string(), None)];
    for name in Op::activation_names().into_iter().chain(["gelu_erf"]) {
        let alpha = (name == "leaky_relu").then_some(0.1);
        v.push((name.to_string(), parse_activation(name, alpha).unwrap()));
    }
    v.push(("softmax".into(), Some(Op::Softmax(Default::default()))));
    v
}

/// The core's f32 activations (the trainer's f32 forward and backward of
/// the ops that have one there).
const CORE_ACTIVATIONS: [Activation; 9] = [
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

/// The host op of an activation (`Identity` has none).
fn op(a: Activation) -> Option<Op> {
    Some(match a {
        Activation::Identity => return None,
        Activation::Relu => Op::Relu(Default::default()),
        Activation::LeakyRelu { alpha } => Op::LeakyRelu(ops::leaky_relu::LeakyRelu::f32(alpha)),
        Activation::Sigmoid => Op::Sigmoid(ops::sigmoid::Sigmoid),
        Activation::Tanh => Op::Tanh(ops::tanh::Tanh),
        Activation::GeluTanh => Op::Gelu(ops::gelu::Gelu::f32(true)),
        Activation::GeluErf => Op::Gelu(ops::gelu::Gelu::f32(false)),
        Activation::Silu => Op::Silu(ops::silu::Silu),
        Activation::Softmax => Op::Softmax(Default::default()),
    })
}

/// A hand-built f32 graph with random parameters.
struct G<'r> {
    g: Graph,
    rng: &'r mut Rng,
    n: usize,
}

impl<'r> G<'r> {
    fn new(rng: &'r mut Rng, shape: &[u32]) -> Self {
        let mut g = Graph::default();
        let x = g.add_tensor(act("x", shape.to_vec()));
        g.inputs.push(x);
        G { g, rng, n: 0 }
    }

    fn x(&self) -> TensorId {
        self.g.inputs[0]
    }

    fn uniform(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (lo + (hi - lo) * self.rng.next_f64()) as f32)
            .collect()
    }

    fn out(&mut self, like: TensorId, last: u32) -> TensorId {
        self.n += 1;
        let mut shape = self.g.tensors[like].shape.clone();
        *shape.last_mut().unwrap() = last;
        self.g.add_tensor(act(&format!("t{}", self.n), shape))
    }

    fn fc(&mut self, x: TensorId, units: u32) -> TensorId {
        let i = self.g.tensors[x].last() as u32;
        let name = format!("fc{}", self.n + 1);
        let w = self.uniform((units * i) as usize, -1.0, 1.0);
        let b = self.uniform(units as usize, -0.5, 0.5);
        let wt = self
            .g
            .add_tensor(Tensor::f32(format!("{name}.weight"), vec![units, i], w));
        let bt = self
            .g
            .add_tensor(Tensor::f32(format!("{name}.bias"), vec![units], b));
        let y = self.out(x, units);
        self.g.add_node(
            name,
            Op::FullyConnected(Default::default()),
            vec![x],
            y,
            vec![("weight", wt), ("bias", bt)],
        );
        y
    }

    fn unary(&mut self, op: Op, x: TensorId) -> TensorId {
        let y = self.out(x, self.g.tensors[x].last() as u32);
        self.g
            .add_node(format!("n{}", self.n), op, vec![x], y, vec![]);
        y
    }

    fn add(&mut self, a: TensorId, b: TensorId) -> TensorId {
        let y = self.out(a, self.g.tensors[a].last() as u32);
        self.g.add_node(
            format!("add{}", self.n),
            Op::Add(Default::default()),
            vec![a, b],
            y,
            vec![],
        );
        y
    }

    fn standardize(&mut self, x: TensorId) -> TensorId {
        let d = self.g.tensors[x].last();
        let mean = self.uniform(d, -1.0, 1.0);
        let std = self.uniform(d, 0.5, 2.0);
        let m = self
            .g
            .add_tensor(Tensor::f32("input.mean", vec![d as u32], mean));
        let s = self
            .g
            .add_tensor(Tensor::f32("input.std", vec![d as u32], std));
        let y = self.out(x, d as u32);
        self.g.add_node(
            "input",
            Op::Standardize(ops::standardize::Standardize),
            vec![x],
            y,
            vec![("mean", m), ("std", s)],
        );
        y
    }

    /// The last layer for `loss` (`outputs` units, 1 for bce) and its head.
    fn finish(mut self, h: TensorId, loss: Loss, outputs: u32) -> Graph {
        let units = if loss == Loss::Bce { 1 } else { outputs };
        let mut y = self.fc(h, units);
        if let Some(head) = loss.head() {
            y = self.unary(op(head).unwrap(), y);
        }
        self.g.outputs.push(y);
        self.g
    }
}

fn act(name: &str, shape: Vec<u32>) -> Tensor {
    Tensor::activation(name, shape, DType::F32, Quant::None)
}

fn model(graph: Graph) -> Model {
    let m = Model {
        meta: Meta::default(),
        graph,
    };
    m.validate().unwrap();
    m
}

/// The trainer's view of `m` (its loss's head left out, every node
/// trained, the first one included) in f32.
fn trainable(m: &Model, loss: Loss) -> Trainable<f32> {
    Trainable::<f32>::new(m, usize::from(loss.head().is_some()), false)
        .unwrap()
        .with_input_grad()
}

/// Mean loss over the batch.
fn batch_loss(net: &Trainable<f64>, xs: &[Vec<f64>], ts: &[f32], loss: Loss) -> f64 {
    let mut cache = net.cache();
    let mut total = 0.0;
    for (x, &t) in xs.iter().zip(ts) {
        let out = net.forward(x, &mut cache).unwrap();
        total += loss.forward(out, t);
    }
    total / xs.len() as f64
}

/// Analytic gradients (params, and the input of sample 0) through the
/// trainer's code.
fn analytic<T: axon::host::train::Real>(
    net: &Trainable<T>,
    xs: &[Vec<T>],
    ts: &[f32],
    loss: Loss,
) -> (Vec<Vec<T>>, Vec<T>) {
    let mut cache = net.cache();
    let mut grads = net.zero_grads();
    let mut dz = vec![T::ZERO; net.outputs()];
    let scale = T::from_f64(1.0 / xs.len() as f64);
    let mut dx0 = Vec::new();
    for (i, (x, &t)) in xs.iter().zip(ts).enumerate() {
        let out = net.forward(x, &mut cache).unwrap().to_vec();
        loss.backward(&out, t, scale, &mut dz);
        net.backward(&mut cache, &dz, &mut grads);
        if i == 0 {
            dx0 = cache.grad(net.input()).to_vec();
        }
    }
    (grads, dx0)
}

#[track_caller]
fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let err = (analytic - numeric).abs() / (1.0f64).max(analytic.abs()).max(numeric.abs());
    assert!(
        err < 1e-6,
        "{what}: analytic {analytic:e} vs central difference {numeric:e} (relative error {err:e})"
    );
}

/// Samples and targets for `loss` on a net with `inputs` inputs and
/// `outputs` outputs.
fn batch(rng: &mut Rng, inputs: usize, outputs: usize, loss: Loss) -> (Vec<Vec<f64>>, Vec<f32>) {
    let xs: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..inputs).map(|_| rng.next_f64() * 4.0 - 2.0).collect())
        .collect();
    let ts: Vec<f32> = (0..3)
        .map(|_| match loss {
            Loss::Ce => rng.below(outputs) as f32,
            Loss::Bce => rng.below(2) as f32,
            Loss::Mse => (rng.next_f64() * 2.0 - 1.0) as f32,
        })
        .collect();
    (xs, ts)
}

/// Checks every parameter's and the input's gradient of `m` under `loss`
/// against central differences; returns how many values were checked.
fn check(what: &str, m: &Model, loss: Loss, seed: u64) -> usize {
    let net = trainable(m, loss).convert::<f64>();
    let mut rng = Rng::new(seed, 99);
    let inputs = m.graph.tensors[net.input()].len();
    let (xs, ts) = batch(&mut rng, inputs, net.outputs(), loss);
    let (grads, dx0) = analytic(&net, &xs, &ts, loss);
    let h = 1e-6;
    let mut checked = 0;
    for (p, g) in grads.iter().enumerate() {
        assert_eq!(g.len(), net.params[p].len());
        let name = &m.graph.tensors[net.param_ids[p]].name;
        for (i, &gi) in g.iter().enumerate() {
            let mut plus = net.clone();
            plus.params[p][i] += h;
            let mut minus = net.clone();
            minus.params[p][i] -= h;
            let numeric = (batch_loss(&plus, &xs, &ts, loss) - batch_loss(&minus, &xs, &ts, loss))
                / (2.0 * h);
            assert_close(
                &format!("{what} + {}: d/d {name}[{i}]", loss.name()),
                gi,
                numeric,
            );
            checked += 1;
        }
    }
    // Input gradient of sample 0: the loss of that sample alone, scaled by 1/batch.
    assert_eq!(dx0.len(), inputs);
    for i in 0..inputs {
        let f = |d: f64| {
            let mut x = xs[0].clone();
            x[i] += d;
            let mut c = net.cache();
            loss.forward(net.forward(&x, &mut c).unwrap(), ts[0]) / xs.len() as f64
        };
        assert_close(
            &format!("{what} + {}: d/d input[{i}]", loss.name()),
            dx0[i],
            (f(h) - f(-h)) / (2.0 * h),
        );
        checked += 1;
    }
    checked
}

/// x[3] → fc → `op` → fc → y (with the loss's head).
fn around(op: Option<Op>, loss: Loss, seed: u64) -> Model {
    let mut rng = Rng::new(seed, 7);
    let mut b = G::new(&mut rng, &[3]);
    let mut h = b.fc(b.x(), 5);
    if let Some(o) = op {
        h = b.unary(o, h);
    }
    model(b.finish(h, loss, 4))
}

#[test]
fn every_activation_and_fully_connected_layer_match_central_differences() {
    for loss in LOSSES {
        for (k, (name, a)) in activations().into_iter().enumerate() {
            let m = around(a, loss, 10 + k as u64);
            let n = check(&name, &m, loss, 20 + k as u64);
            // Two layers' weights and biases and the input.
            let outs = if loss == Loss::Bce { 1 } else { 4 };
            assert_eq!(n, 3 * 5 + 5 + 5 * outs + outs + 3, "{name}");
        }
    }
}

#[test]
fn an_activation_on_the_input_gets_its_input_gradient() {
    // No layer in front: the activation's backward alone gives ∂L/∂x.
    for loss in LOSSES {
        for (k, (name, a)) in activations().into_iter().enumerate() {
            let mut rng = Rng::new(40 + k as u64, 7);
            let mut b = G::new(&mut rng, &[4]);
            let h = match a {
                Some(o) => b.unary(o, b.x()),
                None => b.x(),
            };
            let m = model(b.finish(h, loss, 3));
            check(&format!("{name} on the input"), &m, loss, 60 + k as u64);
        }
    }
}

#[test]
fn add_sums_the_gradients_of_both_paths() {
    for loss in LOSSES {
        // A residual add: fc1's output is read by fc2 and by the add.
        let mut rng = Rng::new(70, 7);
        let mut b = G::new(&mut rng, &[3]);
        let h = b.fc(b.x(), 5);
        let r = b.unary(op(Activation::Tanh).unwrap(), h);
        let r = b.fc(r, 5);
        let y = b.add(h, r);
        let m = model(b.finish(y, loss, 4));
        check("x + body(x)", &m, loss, 71);
        // The same tensor as both inputs of one add: `h + h`.
        let mut rng = Rng::new(72, 7);
        let mut b = G::new(&mut rng, &[3]);
        let h = b.fc(b.x(), 5);
        let y = b.add(h, h);
        let m = model(b.finish(y, loss, 4));
        check("h + h", &m, loss, 73);
        // The graph input itself read by a layer and an add.
        let mut rng = Rng::new(74, 7);
        let mut b = G::new(&mut rng, &[4]);
        let r = b.fc(b.x(), 4);
        let y = b.add(b.x(), r);
        let m = model(b.finish(y, loss, 3));
        check("x + fc(x) on the input", &m, loss, 75);
    }
}

#[test]
fn standardize_passes_the_input_gradient_and_its_parameters_stay_fixed() {
    for loss in LOSSES {
        let mut rng = Rng::new(80, 7);
        let mut b = G::new(&mut rng, &[3]);
        let s = b.standardize(b.x());
        let h = b.fc(s, 5);
        let h = b.unary(op(Activation::Tanh).unwrap(), h);
        let m = model(b.finish(h, loss, 4));
        let net = trainable(&m, loss);
        // mean and std are computed from the training split, not trained.
        let trained: Vec<&str> = net
            .param_ids
            .iter()
            .map(|&t| m.graph.tensors[t].name.as_str())
            .collect();
        assert_eq!(
            trained,
            ["fc2.weight", "fc2.bias", "fc4.weight", "fc4.bias"],
            "the trained parameters"
        );
        check("standardize", &m, loss, 81);
    }
}

/// Every parameter of `g` random: weights and biases in [−1, 1], a
/// standardisation's means in [−1, 1] and deviations in [0.5, 2].
fn randomize(g: &mut Graph, rng: &mut Rng) {
    for t in &mut g.tensors {
        let std = t.name.ends_with(".std");
        if let Some(Data::F32(v)) = &mut t.data {
            for x in v.iter_mut() {
                let r = rng.next_f64();
                *x = if std { 0.5 + 1.5 * r } else { 2.0 * r - 1.0 } as f32;
            }
        }
    }
}

/// A residual architecture: fan-out at every block's input, nested blocks,
/// a different activation per layer.
fn residual_arch() -> Arch {
    let dense = |units, activation| Layer::Dense { units, activation };
    Arch {
        layers: vec![
            dense(6, op(Activation::Tanh)),
            Layer::Residual {
                body: vec![dense(5, op(Activation::Relu)), dense(6, None)],
                repeat: 2,
                activation: op(Activation::Silu),
            },
            Layer::Residual {
                body: vec![
                    dense(6, op(Activation::GeluErf)),
                    Layer::Residual {
                        body: vec![dense(6, op(Activation::LeakyRelu { alpha: 0.1 }))],
                        repeat: 1,
                        activation: op(Activation::GeluTanh),
                    },
                ],
                repeat: 1,
                activation: None,
            },
            dense(4, op(Activation::Sigmoid)),
        ],
    }
}

fn residual_model(loss: Loss, seed: u64) -> Model {
    let mut rng = Rng::new(seed, 5);
    let standardize = Some((vec![0.5, -0.25, 1.0], vec![2.0, 0.5, 1.5]));
    let outputs = if loss == Loss::Bce { 1 } else { 3 };
    let mut g = build(&residual_arch(), 3, outputs, standardize, loss.head(), seed).unwrap();
    randomize(&mut g, &mut rng);
    model(g)
}

#[test]
fn residual_graph_with_fan_out_matches_central_differences_under_every_loss() {
    for (k, loss) in LOSSES.into_iter().enumerate() {
        let m = residual_model(loss, 90 + k as u64);
        let adds = m
            .graph
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Add(_)))
            .count();
        assert_eq!(adds, 4, "two blocks, one block, one nested block");
        // Some tensors are read by two nodes: the gradients meet there.
        let fan_out = (0..m.graph.tensors.len())
            .filter(|&t| m.graph.consumers(t).len() > 1)
            .count();
        assert_eq!(fan_out, 4);
        let n = check("residual graph", &m, loss, 95 + k as u64);
        let params: usize = m
            .graph
            .tensors
            .iter()
            .filter(|t| t.is_param() && !t.name.starts_with("input."))
            .map(Tensor::len)
            .sum();
        assert_eq!(n, params + 3, "every trained value and the input");
    }
}

#[test]
fn sequence_shaped_graph_matches_central_differences() {
    // x [2, 3] → fc (row by row) → gelu → softmax (per row) → + → fc → y [2, 4].
    let mut rng = Rng::new(100, 7);
    let mut b = G::new(&mut rng, &[2, 3]);
    let h = b.fc(b.x(), 5);
    let g = b.unary(op(Activation::GeluErf).unwrap(), h);
    let s = b.unary(op(Activation::Softmax).unwrap(), g);
    let y = b.add(h, s);
    let m = model(b.finish(y, Loss::Mse, 4));
    assert_eq!(m.graph.tensors[m.graph.outputs[0]].shape, [2, 4]);
    check("[2, 3] sequence", &m, Loss::Mse, 101);
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
    for act in CORE_ACTIVATIONS {
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

#[test]
fn f32_graph_gradients_match_the_f64_ones() {
    // The whole f32 training step (core kernels forward, the core's
    // derivatives backward, f32 sums at the fan-outs) against the same
    // graph in f64.
    for (k, loss) in LOSSES.into_iter().enumerate() {
        let m = residual_model(loss, 110 + k as u64);
        let net32 = trainable(&m, loss);
        let net64 = net32.convert::<f64>();
        let mut rng = Rng::new(120 + k as u64, 3);
        let (xs, ts) = batch(&mut rng, 3, net32.outputs(), loss);
        let xs32: Vec<Vec<f32>> = xs
            .iter()
            .map(|x| x.iter().map(|&v| v as f32).collect())
            .collect();
        let xs64: Vec<Vec<f64>> = xs32
            .iter()
            .map(|x| x.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let (g32, dx32) = analytic(&net32, &xs32, &ts, loss);
        let (g64, dx64) = analytic(&net64, &xs64, &ts, loss);
        let close = |what: String, a: f32, b: f64| {
            assert!(
                (f64::from(a) - b).abs() <= 1e-4 * (1e-2 + b.abs()),
                "{} {what}: f32 {a} vs f64 {b}",
                loss.name()
            );
        };
        for (p, (a, b)) in g32.iter().zip(&g64).enumerate() {
            let name = &m.graph.tensors[net32.param_ids[p]].name;
            for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
                close(format!("d/d {name}[{i}]"), x, y);
            }
        }
        for (i, (&x, &y)) in dx32.iter().zip(&dx64).enumerate() {
            close(format!("d/d input[{i}]"), x, y);
        }
    }
}
