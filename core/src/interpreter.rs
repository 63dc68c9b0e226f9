//! The interpreter: runs a validated [`Graph`] node by node, f32 and int8
//! alike, in a caller-provided arena. The host (`axon predict`, `eval`,
//! the quantizer's checks), the tests and the firmware's blob path all run
//! models through it; the Rust export's generated `forward()` calls the
//! same op functions without it.

use crate::graph::{
    arena, DType, Graph, GraphError, Node, Nodes, Storage, Tensor, TensorId, Tensors,
};
use crate::ops::{Io, Op, View, ViewMut, MAX_INPUTS};
use crate::quant::argmax_i8;
use crate::Error;

/// A validated graph, ready to run.
#[derive(Debug, Clone, Copy)]
pub struct Interpreter<'a> {
    graph: Graph<'a>,
    /// [`Interpreter::pre_softmax_codes`], found once at load.
    pre_softmax: Option<(TensorId, usize)>,
}

impl<'a> Interpreter<'a> {
    /// Validates `graph` ([`Graph::validate`]); the interpreter then runs
    /// it without further checks than the caller's buffers.
    pub fn new(graph: Graph<'a>) -> Result<Self, GraphError> {
        graph.validate()?;
        let pre_softmax = pre_softmax_codes(&graph);
        Ok(Interpreter { graph, pre_softmax })
    }

    /// The graph.
    pub fn graph(&self) -> &Graph<'a> {
        &self.graph
    }

    /// Bytes of arena a run needs.
    pub fn arena_len(&self) -> usize {
        self.graph.arena_len
    }

    /// Runs every node: `inputs[k]` holds graph input `k`'s values, the
    /// results go to `outputs[k]` (each of its tensor's type and length);
    /// `arena` holds at least [`arena_len`](Self::arena_len) bytes and
    /// starts 8-byte aligned.
    pub fn run(
        &self,
        inputs: &[View<'_>],
        outputs: &mut [ViewMut<'_>],
        arena: &mut [u8],
    ) -> Result<(), Error> {
        self.run_until(self.graph.nodes.len(), inputs, outputs, arena)
    }

    /// A graph with one f32 input and one f32 output: `x` in, `y` out.
    pub fn run_f32(&self, x: &[f32], y: &mut [f32], arena: &mut [u8]) -> Result<(), Error> {
        self.run(&[View::F32(x)], &mut [ViewMut::F32(y)], arena)
    }

    /// Runs nodes `0..end` only (the rest of the graph's outputs are left
    /// as they were).
    pub fn run_until(
        &self,
        end: usize,
        inputs: &[View<'_>],
        outputs: &mut [ViewMut<'_>],
        arena: &mut [u8],
    ) -> Result<(), Error> {
        let g = &self.graph;
        if arena.len() < g.arena_len {
            return Err(Error::ArenaTooSmall {
                needed: g.arena_len,
                found: arena.len(),
            });
        }
        if !(arena.as_ptr() as usize).is_multiple_of(crate::graph::ARENA_ALIGN) {
            return Err(Error::ArenaMisaligned);
        }
        check_io(g, g.inputs, inputs.iter().map(|v| (v.dtype(), v.len())))?;
        check_io(g, g.outputs, outputs.iter().map(|v| (v.dtype(), v.len())))?;
        let end = end.min(g.nodes.len());
        match (g.nodes, g.tensors) {
            // Static or host tables by reference.
            (Nodes::Slice(nodes), Tensors::Slice(ts)) => {
                for (index, node) in nodes.iter().take(end).enumerate() {
                    step(index, node, &ts, inputs, outputs, arena)?;
                }
            }
            // Blob tables decoded entry by entry (and mixtures, which no
            // source makes).
            (nodes, tensors) => {
                for index in 0..end {
                    let node = nodes.get(index).ok_or(Error::InvalidNode { index })?;
                    step(index, &node, &tensors, inputs, outputs, arena)?;
                }
            }
        }
        Ok(())
    }

    /// The predicted class of a classifier with one f32 input and output:
    /// the first largest output; for an int8 graph that ends in a softmax
    /// (then a dequantize), the first largest code *entering* the softmax
    /// (which is monotone, and whose 1/256 output steps can tie two close
    /// classes; the softmax is not run). A single output is a binary
    /// classifier: class 1 when it is ≥ 0.5.
    pub fn classify(&self, x: &[f32], arena: &mut [u8]) -> Result<usize, Error> {
        let g = &self.graph;
        let out_t = g.output(0).ok_or(Error::InvalidNode { index: 0 })?;
        let mut single = [0f32; 1];
        if out_t.len() == 1 {
            self.run_f32(x, &mut single, arena)?;
            return Ok(usize::from(single[0] >= 0.5));
        }
        if let Some((logits, upto)) = self.pre_softmax {
            // Up to the node that writes the codes (no output is written).
            self.run_prefix(upto + 1, &[View::F32(x)], arena)?;
            let t = g
                .tensors
                .get(logits)
                .ok_or(Error::InvalidNode { index: upto })?;
            let (off, _) = t.arena_range().ok_or(Error::InvalidNode { index: upto })?;
            let reader = arena::Reader::all(arena);
            return match t.dtype {
                DType::I8 => argmax_i8(reader.read::<i8>(off, t.len())?),
                DType::Staged => crate::ops::layout::argmax_staged(
                    reader.read(off, t.len().div_ceil(4))?,
                    t.len(),
                ),
                other => return Err(Error::TypeMismatch { found: other }),
            }
            .ok_or(Error::ShapeMismatch {
                expected: 1,
                found: 0,
            });
        }
        match out_t.dtype {
            DType::F32 => {
                // Large outputs would need a buffer; classifiers are small.
                let mut y = [0f32; 256];
                let y = y.get_mut(..out_t.len()).ok_or(Error::ShapeMismatch {
                    expected: 256,
                    found: out_t.len(),
                })?;
                self.run_f32(x, y, arena)?;
                Ok(first_max(y))
            }
            other => Err(Error::TypeMismatch { found: other }),
        }
    }

    /// Runs the first `end` nodes, which must not write a graph output
    /// (none is given).
    fn run_prefix(&self, end: usize, inputs: &[View<'_>], arena: &mut [u8]) -> Result<(), Error> {
        let prefix = Interpreter {
            graph: Graph {
                outputs: &[],
                ..self.graph
            },
            ..*self
        };
        prefix.run_until(end, inputs, &mut [], arena)
    }

    /// The int8 (or staged) codes entering a final int8 softmax that feeds
    /// the graph's only output through a dequantize, and the index of the
    /// node that writes them: where [`classify`](Self::classify) reads its
    /// answer (and the Rust export's generated `classify()`).
    pub fn pre_softmax_codes(&self) -> Option<(TensorId, usize)> {
        self.pre_softmax
    }
}

/// [`Interpreter::pre_softmax_codes`] of a validated graph.
fn pre_softmax_codes(g: &Graph<'_>) -> Option<(TensorId, usize)> {
    let out = *g.outputs.first()?;
    let deq = g.nodes.get(g.producer(out)?)?;
    if !matches!(deq.op, Op::Dequantize(_)) {
        return None;
    }
    let sm_out = *deq.inputs().first()?;
    let sm = g.nodes.get(g.producer(sm_out)?)?;
    if !matches!(sm.op, Op::Softmax(_)) {
        return None;
    }
    let codes = *sm.inputs().first()?;
    let t = g.tensors.get(codes)?;
    if !matches!(t.dtype, DType::I8 | DType::Staged) {
        return None;
    }
    // After its unstaging, a staged pre-softmax tensor is read too.
    let p = g.producer(codes)?;
    let node = g.nodes.get(p)?;
    if let (Op::Layout(_), Some(&src)) = (node.op, node.inputs().first()) {
        if g.tensors.get(src).is_some_and(|s| s.dtype == DType::Staged) {
            return Some((src, g.producer(src)?));
        }
    }
    Some((codes, p))
}

/// Where a run finds tensors: a table by reference, or decoded on demand.
trait TensorAt<'a> {
    /// A tensor, or a reference to one.
    type T: core::ops::Deref<Target = Tensor<'a>>;
    /// Tensor `id`.
    fn at(&self, id: TensorId) -> Option<Self::T>;
}

impl<'a, 's> TensorAt<'a> for &'s [Tensor<'a>] {
    type T = &'s Tensor<'a>;
    #[inline(always)]
    fn at(&self, id: TensorId) -> Option<&'s Tensor<'a>> {
        self.get(id as usize)
    }
}

/// A tensor decoded by value.
struct Owned<'a>(Tensor<'a>);

impl<'a> core::ops::Deref for Owned<'a> {
    type Target = Tensor<'a>;
    #[inline(always)]
    fn deref(&self) -> &Tensor<'a> {
        &self.0
    }
}

impl<'a> TensorAt<'a> for Tensors<'a> {
    type T = Owned<'a>;
    #[inline(always)]
    fn at(&self, id: TensorId) -> Option<Owned<'a>> {
        self.get(id).map(Owned)
    }
}

/// Runs one node of a validated graph.
#[inline(always)]
fn step<'a, S: TensorAt<'a>>(
    index: usize,
    node: &Node<'a>,
    tensors: &S,
    inputs: &[View<'_>],
    outputs: &mut [ViewMut<'_>],
    arena: &mut [u8],
) -> Result<(), Error> {
    let bad = Error::InvalidNode { index };
    let out_t = tensors.at(node.output).ok_or(bad)?;
    let (reader, out): (arena::Reader<'_>, ViewMut<'_>) = match out_t.storage {
        Storage::Arena(off) => {
            let (r, bytes) = arena::split(arena, off as usize, out_t.bytes())?;
            (r, arena::view_mut(bytes, &out_t)?)
        }
        Storage::Output(k) => {
            let v = outputs.get_mut(k as usize).ok_or(bad)?;
            (arena::Reader::all(arena), reborrow(v))
        }
        Storage::Input(_) => return Err(bad),
    };
    let ids = node.inputs();
    let mut views = [View::I8(&[]); MAX_INPUTS];
    let (mut in_params, mut in_last) = (None, 0);
    for (k, (slot, &id)) in views.iter_mut().zip(ids).enumerate() {
        let t = tensors.at(id).ok_or(bad)?;
        *slot = match t.storage {
            Storage::Input(k) => *inputs.get(k as usize).ok_or(bad)?,
            Storage::Arena(_) => reader.view(&t)?,
            Storage::Output(_) => return Err(bad),
        };
        if k == 0 {
            (in_params, in_last) = (t.params(), t.shape.last());
        }
    }
    let io = Io {
        ins: views,
        out,
        in_params,
        out_params: out_t.params(),
        in_last,
        out_last: out_t.shape.last(),
    };
    node.op.run(io)
}

/// The first index of the largest value (NaN never wins).
fn first_max(y: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in y.iter().enumerate() {
        if v > y[best] {
            best = i;
        }
    }
    best
}

fn reborrow<'s>(v: &'s mut ViewMut<'_>) -> ViewMut<'s> {
    match v {
        ViewMut::F32(s) => ViewMut::F32(s),
        ViewMut::I8(s) => ViewMut::I8(s),
        ViewMut::I32(s) => ViewMut::I32(s),
        ViewMut::Staged(s) => ViewMut::Staged(s),
    }
}

/// Checks the caller's buffers against the graph's input or output tensors.
fn check_io(
    g: &Graph<'_>,
    ids: &[TensorId],
    given: impl ExactSizeIterator<Item = (DType, usize)>,
) -> Result<(), Error> {
    if given.len() != ids.len() {
        return Err(Error::ShapeMismatch {
            expected: ids.len(),
            found: given.len(),
        });
    }
    for (&id, (dtype, len)) in ids.iter().zip(given) {
        let t: Tensor<'_> = g.tensors.get(id).ok_or(Error::InvalidNode { index: 0 })?;
        if t.dtype != dtype {
            return Err(Error::TypeMismatch { found: dtype });
        }
        let want = if t.dtype == DType::Staged {
            4 * t.len().div_ceil(4)
        } else {
            t.len()
        };
        if len != want {
            return Err(Error::ShapeMismatch {
                expected: want,
                found: len,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Node, Quant, Shape, Tensor};
    use crate::kernels::gemv_i8::FullyConnectedParams;
    use crate::ops::{dequantize::Dequantize, fully_connected as fc, quantize::Quantize, Fused};
    use crate::ops::{sigmoid::Sigmoid, standardize::Standardize};
    use crate::quant::lut::{sigmoid_table, SIGMOID_OUTPUT};
    use crate::quant::{QuantParams, Rounding};

    // 3 → 2 (fused ReLU) → sigmoid table, standardised input.
    static W: [i8; 6] = [127, -64, 0, -127, 32, 5];
    static B: [i32; 2] = [100, -3000];
    static M: [i32; 1] = [1 << 30];
    static S: [i32; 1] = [-6];
    static WS: [f32; 1] = [0.01];
    static MEAN: [f32; 3] = [0.5, 0.0, -1.0];
    static STD: [f32; 3] = [2.0, 1.0, 0.5];
    const INPUT: QuantParams = QuantParams::new(0.02, -10);
    const HIDDEN: QuantParams = QuantParams::new(0.05, -128);

    fn tensors() -> [Tensor<'static>; 5] {
        let v3 = Shape::vector(3);
        let v2 = Shape::vector(2);
        [
            Tensor {
                shape: v3,
                dtype: DType::F32,
                quant: Quant::None,
                storage: Storage::Input(0),
            },
            Tensor::arena(v3, DType::I8, Quant::PerTensor(INPUT), 0),
            Tensor::arena(v2, DType::I8, Quant::PerTensor(HIDDEN), 8),
            Tensor::arena(v2, DType::I8, Quant::PerTensor(SIGMOID_OUTPUT), 0),
            Tensor {
                shape: v2,
                dtype: DType::F32,
                quant: Quant::None,
                storage: Storage::Output(0),
            },
        ]
    }

    fn fc_op() -> fc::FullyConnected<'static> {
        fc::FullyConnected::Int8(fc::Int8 {
            weights: &W,
            bias: &B,
            weight_scales: &WS,
            row_sums: None,
            activation: Fused::Relu,
            params: FullyConnectedParams {
                input_offset: 10,
                output_offset: -128,
                multiplier: &M,
                shift: &S,
                act_min: -128,
                act_max: 127,
                rounding: Rounding::Double,
            },
        })
    }

    #[test]
    fn runs_an_int8_graph_step_by_step() {
        let table = sigmoid_table(HIDDEN);
        let ts = tensors();
        let nodes = [
            Node::new(
                Op::Quantize(Quantize {
                    standardize: Some(Standardize {
                        mean: &MEAN,
                        std: &STD,
                    }),
                }),
                &[0],
                1,
            ),
            Node::new(Op::FullyConnected(fc_op()), &[1], 2),
            Node::new(Op::Sigmoid(Sigmoid::Int8(&table)), &[2], 3),
            Node::new(Op::Dequantize(Dequantize), &[3], 4),
        ];
        let g = Graph::new(&ts, &nodes, &[0], &[4], 16);
        let it = Interpreter::new(g).unwrap();
        let x = [1.3f32, -0.4, -0.9];
        let xq: [i8; 3] = core::array::from_fn(|i| INPUT.quantize((x[i] - MEAN[i]) / STD[i]));
        let mut h = [0i8; 2];
        let fc::FullyConnected::Int8(p) = fc_op() else {
            unreachable!()
        };
        fc::run_i8(&p, &xq, &mut h).unwrap();
        let want = h.map(|c| SIGMOID_OUTPUT.dequantize(table[c as u8 as usize]));
        let mut arena = crate::graph::arena::Arena::<16>::new();
        let mut y = [0f32; 2];
        it.run_f32(&x, &mut y, &mut arena.0).unwrap();
        assert_eq!(y, want);
        let class = it.classify(&x, &mut arena.0).unwrap();
        assert_eq!(class, if want[1] > want[0] { 1 } else { 0 });
        // Wrong buffers are errors, not panics.
        assert!(it.run_f32(&x[..2], &mut y, &mut arena.0).is_err());
        assert!(it.run_f32(&x, &mut y[..1], &mut arena.0).is_err());
        assert!(it.run_f32(&x, &mut y, &mut arena.0[..8]).is_err());
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let table = sigmoid_table(HIDDEN);
        let ts = tensors();
        let q = Op::Quantize(Quantize { standardize: None });
        // Overlapping live tensors: put the hidden tensor on the input codes.
        let mut bad = ts;
        bad[2] = Tensor::arena(Shape::vector(2), DType::I8, Quant::PerTensor(HIDDEN), 0);
        let nodes = [
            Node::new(q, &[0], 1),
            Node::new(Op::FullyConnected(fc_op()), &[1], 2),
            Node::new(Op::Sigmoid(Sigmoid::Int8(&table)), &[2], 3),
            Node::new(Op::Dequantize(Dequantize), &[3], 4),
        ];
        let e = Interpreter::new(Graph::new(&bad, &nodes, &[0], &[4], 16)).unwrap_err();
        assert_eq!(e.why, "share arena bytes while both are alive");
        // Out of order.
        let swapped = [nodes[1], nodes[0], nodes[2], nodes[3]];
        let e = Interpreter::new(Graph::new(&ts, &swapped, &[0], &[4], 16)).unwrap_err();
        assert!(e.why.contains("not topological"), "{e}");
        // An input offset that is not minus the input zero point.
        let mut wrong = fc_op();
        if let fc::FullyConnected::Int8(p) = &mut wrong {
            p.params.input_offset = 11;
        }
        let nodes2 = [
            nodes[0],
            Node::new(Op::FullyConnected(wrong), &[1], 2),
            nodes[2],
            nodes[3],
        ];
        let e = Interpreter::new(Graph::new(&ts, &nodes2, &[0], &[4], 16)).unwrap_err();
        assert_eq!(e.at, crate::graph::At::Node(1, "fully_connected"));
        // An arena too short for the plan.
        let e = Interpreter::new(Graph::new(&ts, &nodes, &[0], &[4], 9)).unwrap_err();
        assert!(e.why.contains("past the end of the arena"), "{e}");
    }
}
