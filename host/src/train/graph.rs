//! Training over the graph: parameters are the graph's named tensors, each
//! node runs its op's forward and backward (`ops/<op>/train.rs`, side by
//! side), and gradients flow back through the graph — a tensor read by
//! several nodes (a residual connection's input) sums what each sends back.
//!
//! Generic over [`Real`], so the gradient check runs the very same code in
//! f64; in f32 the forward passes are the core's kernels.

use anyhow::{anyhow, bail};

use super::real::Real;
use crate::model::{Graph, Model, Node, TensorId};
use crate::ops::{Args, Grads, Op};

/// The most inputs, and the most parameters, a node may have here.
const MAX_ARGS: usize = 8;

/// Where a node's parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A trained parameter: its index in [`Trainable::params`].
    Trained(usize),
    /// A fixed one: its index in `fixed`.
    Fixed(usize),
}

/// A graph being trained.
#[derive(Debug, Clone, PartialEq)]
pub struct Trainable<T> {
    /// The graph (its head, if the loss fuses one, left out).
    pub graph: Graph,
    /// The trained parameters, in order of first use.
    pub params: Vec<Vec<T>>,
    /// Their tensors in the model's graph.
    pub param_ids: Vec<TensorId>,
    fixed: Vec<Vec<T>>,
    /// Per node, per parameter (in role order): its slot.
    slots: Vec<Vec<Slot>>,
    /// The graph's input and output.
    input: TensorId,
    output: TensorId,
    /// Whether [`Trainable::backward`] computes `∂L/∂input` too (the
    /// gradient check wants it; training does not, and the first layer's
    /// `Wᵀ·dy` is then skipped).
    input_grad: bool,
}

/// A node's inputs, their shapes and its parameters as slices on the
/// stack (no allocation per node and sample), for its [`Args`].
struct ArgBufs<'a, T> {
    ins: [&'a [T]; MAX_ARGS],
    shapes: [&'a [u32]; MAX_ARGS],
    params: [&'a [T]; MAX_ARGS],
    inputs: usize,
    roles: usize,
}

impl<'a, T: Real> ArgBufs<'a, T> {
    fn new(tr: &'a Trainable<T>, n: &'a Node, slots: &[Slot], vals: &'a [Vec<T>]) -> Self {
        let mut b = ArgBufs {
            ins: [&[][..]; MAX_ARGS],
            shapes: [&[][..]; MAX_ARGS],
            params: [&[][..]; MAX_ARGS],
            inputs: n.inputs.len().min(MAX_ARGS),
            roles: slots.len().min(MAX_ARGS),
        };
        for ((v, s), &t) in b.ins.iter_mut().zip(b.shapes.iter_mut()).zip(&n.inputs) {
            (*v, *s) = (vals[t].as_slice(), tr.graph.tensors[t].shape.as_slice());
        }
        for (p, &s) in b.params.iter_mut().zip(slots) {
            *p = tr.param(s);
        }
        b
    }

    fn args<'b>(&'b self, output_shape: &'b [u32]) -> Args<'b, T> {
        Args {
            inputs: &self.ins[..self.inputs],
            input_shapes: &self.shapes[..self.inputs],
            params: &self.params[..self.roles],
            output_shape,
        }
    }
}

/// Every tensor's value and gradient for one sample.
#[derive(Debug, Clone)]
pub struct Cache<T> {
    vals: Vec<Vec<T>>,
    grads: Vec<Vec<T>>,
}

impl<T> Cache<T> {
    /// The value of tensor `t` after the last forward pass.
    pub fn value(&self, t: TensorId) -> &[T] {
        &self.vals[t]
    }

    /// The gradient of tensor `t` after the last backward pass.
    pub fn grad(&self, t: TensorId) -> &[T] {
        &self.grads[t]
    }
}

impl<T: Real> Trainable<T> {
    /// The trainable view of `m`'s graph without its last `drop_last`
    /// nodes (the loss's fused head); nodes from `start` on, the ones
    /// before it being computed once per sample by the caller (a fixed
    /// standardisation).
    pub fn new(m: &Model, drop_last: usize, skip_first: bool) -> anyhow::Result<Trainable<T>> {
        let mut g = m.graph.clone();
        if g.inputs.len() != 1 || g.outputs.len() != 1 {
            bail!("training takes a graph with one input and one output");
        }
        for _ in 0..drop_last {
            let last = g
                .nodes
                .pop()
                .ok_or_else(|| anyhow!("the graph has no nodes"))?;
            if last.output != g.outputs[0] || last.inputs.len() != 1 {
                bail!("node {} is not the graph's head", last.name);
            }
            g.outputs[0] = last.inputs[0];
        }
        let mut input = g.inputs[0];
        if skip_first {
            let first = g.nodes.remove(0);
            input = first.output;
        }
        let (mut params, mut param_ids, mut fixed, mut fixed_ids) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut slots = Vec::with_capacity(g.nodes.len());
        for n in &g.nodes {
            if n.inputs.len() > MAX_ARGS || n.params.len() > MAX_ARGS {
                bail!(
                    "node {} has {} inputs and {} parameters: training takes at most {MAX_ARGS} of each",
                    n.name,
                    n.inputs.len(),
                    n.params.len()
                );
            }
            if n.inputs.iter().any(|t| g.tensors[*t].data.is_some()) {
                bail!("node {} reads a parameter as an input", n.name);
            }
            let trainable = n.op.trainable();
            let mut s = Vec::new();
            for (role, t) in &n.params {
                let values = g.tensors[*t].f32_data().ok_or_else(|| {
                    anyhow!("node {}'s {role} is not f32: only f32 graphs train", n.name)
                })?;
                let conv = || {
                    values
                        .iter()
                        .map(|&v| T::from_f64(f64::from(v)))
                        .collect::<Vec<T>>()
                };
                if trainable.contains(&role.as_str()) {
                    let k = match param_ids.iter().position(|&p| p == *t) {
                        Some(k) => k,
                        None => {
                            params.push(conv());
                            param_ids.push(*t);
                            params.len() - 1
                        }
                    };
                    s.push(Slot::Trained(k));
                } else {
                    let k = match fixed_ids.iter().position(|&p| p == *t) {
                        Some(k) => k,
                        None => {
                            fixed.push(conv());
                            fixed_ids.push(*t);
                            fixed.len() - 1
                        }
                    };
                    s.push(Slot::Fixed(k));
                }
            }
            slots.push(s);
            if matches!(n.op, Op::Quantize(_) | Op::Dequantize(_) | Op::Layout(_)) {
                bail!(
                    "node {} ({}) belongs to an int8 graph, which does not train",
                    n.name,
                    n.op.name()
                );
            }
        }
        let output = g.outputs[0];
        Ok(Trainable {
            graph: g,
            params,
            param_ids,
            fixed,
            slots,
            input,
            output,
            input_grad: false,
        })
    }

    /// Makes [`backward`](Self::backward) compute `∂L/∂input` as well,
    /// readable as `cache.grad(self.input())`.
    pub fn with_input_grad(mut self) -> Self {
        self.input_grad = true;
        self
    }

    /// The same network in another number type.
    pub fn convert<U: Real>(&self) -> Trainable<U> {
        let c = |v: &Vec<Vec<T>>| -> Vec<Vec<U>> {
            v.iter()
                .map(|p| p.iter().map(|x| U::from_f64(x.to_f64())).collect())
                .collect()
        };
        Trainable {
            graph: self.graph.clone(),
            params: c(&self.params),
            param_ids: self.param_ids.clone(),
            fixed: c(&self.fixed),
            slots: self.slots.clone(),
            input: self.input,
            output: self.output,
            input_grad: self.input_grad,
        }
    }

    /// The tensor the training forward starts from (the graph input, or
    /// the output of a skipped first node).
    pub fn input(&self) -> TensorId {
        self.input
    }

    /// Width of the output.
    pub fn outputs(&self) -> usize {
        self.graph.tensors[self.output].len()
    }

    /// Buffers for [`forward`](Self::forward) and [`backward`](Self::backward).
    pub fn cache(&self) -> Cache<T> {
        let sized = |g: &Graph| -> Vec<Vec<T>> {
            g.tensors
                .iter()
                .map(|t| {
                    if t.is_param() {
                        Vec::new()
                    } else {
                        vec![T::ZERO; t.len()]
                    }
                })
                .collect()
        };
        Cache {
            vals: sized(&self.graph),
            grads: sized(&self.graph),
        }
    }

    /// Zeroed gradients shaped like the parameters.
    pub fn zero_grads(&self) -> Vec<Vec<T>> {
        self.params.iter().map(|p| vec![T::ZERO; p.len()]).collect()
    }

    fn param(&self, s: Slot) -> &[T] {
        match s {
            Slot::Trained(k) => &self.params[k],
            Slot::Fixed(k) => &self.fixed[k],
        }
    }

    /// Forward pass of one sample from the training input; the output is
    /// `cache.value(output)`.
    pub fn forward<'c>(&self, x: &[T], c: &'c mut Cache<T>) -> anyhow::Result<&'c [T]> {
        c.vals[self.input].copy_from_slice(x);
        let g = &self.graph;
        for (n, slots) in g.nodes.iter().zip(&self.slots) {
            let mut y = std::mem::take(&mut c.vals[n.output]);
            let bufs = ArgBufs::new(self, n, slots, &c.vals);
            let args = bufs.args(&g.tensors[n.output].shape);
            let r = n.op.forward(&args, &mut y);
            c.vals[n.output] = y;
            r?;
        }
        Ok(&c.vals[self.output])
    }

    /// Backward pass of the sample last run through [`forward`]: given
    /// `dout = ∂L/∂output`, adds `∂L/∂params` into `grads`; afterwards
    /// `cache.grad(t)` is `∂L/∂t` for every activation `t` (and for the
    /// input after [`with_input_grad`](Self::with_input_grad); zeros
    /// otherwise).
    ///
    /// [`forward`]: Self::forward
    pub fn backward(&self, c: &mut Cache<T>, dout: &[T], grads: &mut [Vec<T>]) {
        let g = &self.graph;
        for gr in c.grads.iter_mut() {
            gr.iter_mut().for_each(|v| *v = T::ZERO);
        }
        c.grads[self.output].copy_from_slice(dout);
        for (n, slots) in g.nodes.iter().zip(&self.slots).rev() {
            let dy = std::mem::take(&mut c.grads[n.output]);
            let (k, m) = (n.inputs.len(), slots.len());
            // Each input's gradient buffer, taken out while the op adds to
            // it (an input read twice by the node gets a buffer per read).
            let mut dxs: [Vec<T>; MAX_ARGS] = Default::default();
            for (dx, &t) in dxs.iter_mut().zip(&n.inputs) {
                *dx = if t == self.input && !self.input_grad {
                    // Nobody reads it: an empty buffer, so the op skips it.
                    Vec::new()
                } else if n.inputs.iter().filter(|&&u| u == t).count() > 1 {
                    vec![T::ZERO; c.grads[t].len()]
                } else {
                    std::mem::take(&mut c.grads[t])
                };
            }
            let mut pgs: [Vec<T>; MAX_ARGS] = Default::default();
            for (pg, &s) in pgs.iter_mut().zip(slots) {
                if let Slot::Trained(k) = s {
                    *pg = std::mem::take(&mut grads[k]);
                }
            }
            {
                let bufs = ArgBufs::new(self, n, slots, &c.vals);
                let args = bufs.args(&g.tensors[n.output].shape);
                let mut dx_refs: [&mut [T]; MAX_ARGS] = Default::default();
                for (r, d) in dx_refs.iter_mut().zip(dxs.iter_mut()) {
                    *r = d.as_mut_slice();
                }
                let mut pg_refs: [&mut [T]; MAX_ARGS] = Default::default();
                for (r, p) in pg_refs.iter_mut().zip(pgs.iter_mut()) {
                    *r = p.as_mut_slice();
                }
                let mut gr = Grads {
                    inputs: &mut dx_refs[..k],
                    params: &mut pg_refs[..m],
                };
                n.op.backward(&args, &c.vals[n.output], &dy, &mut gr);
            }
            for (&t, dx) in n.inputs.iter().zip(dxs.iter_mut()) {
                if dx.is_empty() && !c.grads[t].is_empty() {
                    // The input's skipped gradient (its buffer stays put).
                } else if c.grads[t].is_empty() {
                    c.grads[t] = std::mem::take(dx);
                } else {
                    for (a, &b) in c.grads[t].iter_mut().zip(dx.iter()) {
                        *a += b;
                    }
                }
            }
            for (&s, pg) in slots.iter().zip(pgs.iter_mut()) {
                if let Slot::Trained(k) = s {
                    grads[k] = std::mem::take(pg);
                }
            }
            c.grads[n.output] = dy;
        }
    }

    /// Are all parameters finite?
    pub fn all_finite(&self) -> bool {
        self.params.iter().all(|p| p.iter().all(|v| v.is_finite()))
    }

    /// Writes the trained parameters (rounded to f32) into `m`'s tensors.
    pub fn write_back(&self, m: &mut Model) {
        for (&t, p) in self.param_ids.iter().zip(&self.params) {
            if let Some(crate::model::Data::F32(d)) = &mut m.graph.tensors[t].data {
                for (o, v) in d.iter_mut().zip(p) {
                    *o = v.to_f64() as f32;
                }
            }
        }
    }
}
