//! Preparing an int8 model for a microcontroller: the same graph, with
//! each op in the variant that runs fastest there — fully connected layers
//! packed in 4×4 blocks with their activations staged between them, the
//! input quantized straight into the staged form, a final softmax's table
//! trimmed — and `layout` nodes where a staged tensor meets an op that
//! reads or writes plain codes. Same bits as the model itself (each
//! prepared variant is tested equal to its reference), so the prepared
//! graph is what the Rust export's `forward()` runs.

use anyhow::Context;
use axon_core::graph::DType;
use axon_core::ops::fully_connected::packed4::{pack_layer, stream_len, Block, PackedDense, Scale};

use crate::model::{Graph, Model, Node, TensorId};
use crate::ops::fully_connected::{FullyConnected, Prepared as FcPrepared};
use crate::ops::{layout::Layout, Op};

/// A prepared model and what was prepared.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The prepared model.
    pub model: Model,
    /// One line per node that kept its reference form, with the reason.
    pub notes: Vec<String>,
}

/// The packed stream and scales of an int8 fully connected node, or why
/// it cannot be packed.
fn pack(g: &Graph, n: &Node, f: &FullyConnected) -> Result<(Vec<Block>, Vec<Scale>), String> {
    let q = f.int8.as_ref().ok_or("an f32 layer")?;
    let x = &g.tensors[n.inputs[0]];
    let y = &g.tensors[n.output];
    if x.shape.len() != 1 {
        return Err("its input is not a single vector".into());
    }
    let w = n
        .param("weight")
        .map(|t| &g.tensors[t])
        .ok_or("no weight")?;
    let b = n.param("bias").map(|t| &g.tensors[t]).ok_or("no bias")?;
    let (wq, bq) = (
        w.i8_data().ok_or("weight not int8")?,
        b.i32_data().ok_or("bias not int32")?,
    );
    let (rows, cols) = (y.last(), x.last());
    if let Some(s) = q.shift.iter().find(|&&s| !(1..=31).contains(&-s)) {
        return Err(format!(
            "a requantization shift of {s}; the packed layer takes right shifts of 1..=31 (layer scales below 1/2)"
        ));
    }
    if q.multiplier.iter().any(|&m| m < 0) {
        return Err("a negative multiplier".into());
    }
    if bq
        .iter()
        .any(|v| v.unsigned_abs() > axon_core::ops::fully_connected::packed4::MAX_BIAS as u32)
    {
        return Err("a bias too large to double".into());
    }
    let mut stream = vec![Block([0; 16]); stream_len(rows, cols)];
    pack_layer(wq, bq, rows, cols, &mut stream);
    let e: Vec<u8> = q.shift.iter().map(|s| (-s) as u8).collect();
    let scales = if q.multiplier.len() == 1 {
        vec![Scale::tensor(q.multiplier[0], e[0])]
    } else {
        (0..rows.div_ceil(4))
            .map(|r| {
                let at = |k: usize| (4 * r + k).min(rows - 1);
                Scale::new(
                    core::array::from_fn(|k| q.multiplier[at(k)]),
                    core::array::from_fn(|k| e[at(k)]),
                )
            })
            .collect()
    };
    let zp = y.quant.params().map_or(0, |p| p.zero_point);
    let (lo, hi) = q.activation.clamp(
        y.quant
            .params()
            .unwrap_or(axon_core::quant::QuantParams::new(1.0, 0)),
    );
    PackedDense::try_new(cols, rows, &stream, &scales, zp, lo, hi)?;
    Ok((stream, scales))
}

/// The prepared form of an int8 model (see the module documentation).
pub fn prepare_for_mcu(m: &Model) -> anyhow::Result<Prepared> {
    m.validate()?;
    let mut g = m.graph.clone();
    let mut notes = Vec::new();
    // Which layers pack.
    let mut packed = vec![false; g.nodes.len()];
    for (i, packs) in packed.iter_mut().enumerate() {
        let n = &g.nodes[i];
        let Op::FullyConnected(f) = &n.op else {
            continue;
        };
        if f.int8.is_none() {
            continue;
        }
        match pack(&g, n, f) {
            Ok((stream, scales)) => {
                *packs = true;
                if let Op::FullyConnected(f) = &mut g.nodes[i].op {
                    f.prepared = Some(FcPrepared::Packed4 { stream, scales });
                    f.row_sums = None;
                }
            }
            Err(why) => notes.push(format!(
                "{}: keeps the reference layout ({why})",
                g.nodes[i].name
            )),
        }
    }
    // Tensor by tensor: staged where a packed layer (or a quantize whose
    // every reader is one) writes it and every reader is packed; a layout
    // node where the two sides disagree.
    let tcount = g.tensors.len();
    let mut new_nodes: Vec<Node> = Vec::new();
    let consumers: Vec<Vec<usize>> = (0..tcount).map(|t| g.consumers(t)).collect();
    let producer: Vec<Option<usize>> = (0..tcount).map(|t| g.producer(t)).collect();
    let is_packed = |i: usize| packed[i];
    let mut staged_twin: Vec<Option<TensorId>> = vec![None; tcount];
    let mut plain_twin: Vec<Option<TensorId>> = vec![None; tcount];
    for t in 0..tcount {
        let tt = &g.tensors[t];
        if tt.is_param() || tt.dtype != DType::I8 || tt.shape.len() != 1 {
            continue;
        }
        let readers = &consumers[t];
        let all_packed = !readers.is_empty() && readers.iter().all(|&r| is_packed(r));
        // A dequantize reads a staged vector as well (no unstaging).
        let all_read_staged = !readers.is_empty()
            && readers
                .iter()
                .all(|&r| is_packed(r) || matches!(g.nodes[r].op, Op::Dequantize(_)));
        let some_packed = readers.iter().any(|&r| is_packed(r));
        let writer_packed = producer[t].is_some_and(is_packed);
        let writer_quantize = producer[t].is_some_and(|p| matches!(g.nodes[p].op, Op::Quantize(_)));
        let writes_staged = writer_packed || (writer_quantize && all_packed);
        let staged_tensor = |g: &mut Graph, name: String| {
            let mut s = g.tensors[t].clone();
            s.name = name;
            s.dtype = DType::Staged;
            g.add_tensor(s)
        };
        if writes_staged {
            if all_read_staged && !g.outputs.contains(&t) {
                g.tensors[t].dtype = DType::Staged;
            } else {
                // The writer writes a staged twin; plain readers read it unstaged.
                let name = format!("{}.staged", g.tensors[t].name);
                let s = staged_tensor(&mut g, name);
                staged_twin[t] = Some(s);
                new_nodes.push(Node {
                    name: format!("{}.unstage", g.tensors[t].name),
                    op: Op::Layout(Layout { stage: false }),
                    inputs: vec![s],
                    output: t,
                    params: vec![],
                });
            }
        } else if some_packed {
            let name = format!("{}.staged", g.tensors[t].name);
            let s = staged_tensor(&mut g, name);
            plain_twin[t] = Some(s);
            new_nodes.push(Node {
                name: format!("{}.stage", g.tensors[t].name),
                op: Op::Layout(Layout { stage: true }),
                inputs: vec![t],
                output: s,
                params: vec![],
            });
        }
    }
    // Rewire: writers of a tensor with a staged twin write the twin;
    // packed readers of a tensor with a staged copy read the copy.
    for (n, &packs) in g.nodes.iter_mut().zip(&packed) {
        if let Some(s) = staged_twin[n.output] {
            n.output = s;
        }
        if packs {
            let x = n.inputs[0];
            if let Some(s) = plain_twin[x].or(staged_twin[x]) {
                n.inputs[0] = s;
            }
        }
    }
    g.nodes.extend(new_nodes);
    g.sort().context("the prepared graph")?;
    // A final softmax on a microcontroller: the trimmed table.
    for n in &mut g.nodes {
        if let Op::Softmax(s) = &mut n.op {
            if s.int8.is_some()
                && g.tensors[n.output].shape.len() == 1
                && g.tensors[n.output].len() <= 256
            {
                s.trim();
            }
        }
    }
    let model = Model {
        meta: m.meta.clone(),
        graph: g,
    };
    model
        .validate()
        .context("internal error: the prepared graph does not validate")?;
    Ok(Prepared { model, notes })
}
