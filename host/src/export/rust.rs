//! The Rust-source export: a model as `static` items of `axon_core` types
//! for `include!` into firmware —
//!
//! * `GRAPH`: the model's graph (tensors, nodes, planned arena), which
//!   `axon_core::Interpreter` runs like a blob;
//! * `forward()` and `classify()`: the model prepared for a
//!   microcontroller ([`super::prepare_for_mcu`]), generated as
//!   straight-line calls of the same op functions, the arena offsets
//!   constants, so that only the ops the model uses are linked and nothing
//!   is decided per inference.
//!
//! Both give the bits `axon predict` gives. Nothing in the output depends
//! on the machine or the time: regenerating gives the same bytes.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use axon_core::graph::{DType, Storage, Tensor as CoreTensor};

use super::rust_writer::{f32_lit, CORE};
use super::{prepare_for_mcu, RustWriter};
use crate::model::{Model, Runner};
use crate::ops::{emit_rust, RustOp};

/// The generated source and what it holds.
#[derive(Debug, Clone)]
pub struct RustExport {
    /// The file's text.
    pub source: String,
    /// Bytes of arena `forward()` needs (`ARENA_LEN`).
    pub arena_len: usize,
    /// Bytes of arena the interpreter needs for `GRAPH` (`GRAPH_ARENA_LEN`).
    pub graph_arena_len: usize,
    /// What kept its reference form in `forward()`, and why.
    pub notes: Vec<String>,
}

fn tensor_lit(t: &CoreTensor<'_>) -> String {
    let dims: Vec<String> = t.shape.dims().iter().map(u32::to_string).collect();
    let dtype = match t.dtype {
        DType::F32 => "F32",
        DType::I8 => "I8",
        DType::I32 => "I32",
        DType::Staged => "Staged",
    };
    let quant = match t.params() {
        Some(p) => format!(
            "{CORE}::graph::Quant::PerTensor({CORE}::quant::QuantParams::new({}, {}))",
            f32_lit(p.scale),
            p.zero_point
        ),
        None => format!("{CORE}::graph::Quant::None"),
    };
    let storage = match t.storage {
        Storage::Arena(o) => format!("{CORE}::graph::Storage::Arena({o})"),
        Storage::Input(k) => format!("{CORE}::graph::Storage::Input({k})"),
        Storage::Output(k) => format!("{CORE}::graph::Storage::Output({k})"),
    };
    format!(
        "{CORE}::graph::Tensor {{ shape: {CORE}::graph::Shape::new(&[{}]), dtype: {CORE}::graph::DType::{dtype}, quant: {quant}, storage: {storage} }}",
        dims.join(", ")
    )
}

/// The Rust element type of a tensor's values, and how many there are.
fn elem(t: &CoreTensor<'_>) -> (String, usize) {
    match t.dtype {
        DType::F32 => ("f32".into(), t.len()),
        DType::I8 => ("i8".into(), t.len()),
        DType::I32 => ("i32".into(), t.len()),
        DType::Staged => (format!("{CORE}::graph::Quad"), t.len().div_ceil(4)),
    }
}

/// The ops' statics, prefix `prefix` (`for_calls`: only those the
/// straight-line calls name; the graph's are all named by `NODES`).
fn statics(
    run: &Runner<'_>,
    prefix: &str,
    for_calls: bool,
    w: &mut RustWriter,
    s: &mut String,
) -> anyhow::Result<Vec<RustOp>> {
    let g = run.graph();
    let mut ops = Vec::new();
    for (i, n) in run.nodes.iter().enumerate() {
        let host = &run.model().graph.nodes[i];
        let sig = g.signature(n).map_err(anyhow::Error::msg)?;
        let p = format!("{prefix}{i}");
        w.set_prefix(&p);
        let op = emit_rust(&n.op, &sig, w).with_context(|| format!("node {}", host.name))?;
        let _ = writeln!(s, "// Node {i}: {} ({}).", host.name, n.op.name());
        s.push_str(&w.take());
        if !for_calls || op.call.contains("{p}") {
            let _ = writeln!(s, "static {p}: {} = {};", op.ty, op.value);
        }
        ops.push(op);
    }
    Ok(ops)
}

/// The statements that run node `i` of `run` in `forward()`.
fn step(run: &Runner<'_>, i: usize, op: &RustOp, prefix: &str) -> anyhow::Result<String> {
    let n = &run.nodes[i];
    let host = &run.model().graph.nodes[i];
    let out = &run.tensors[n.output as usize];
    let mut s = String::new();
    let name = |id: u16| {
        let h = run.host_ids[id as usize];
        run.model().graph.tensors[h].name.clone()
    };
    let ins: Vec<String> = n.inputs().iter().map(|&t| name(t)).collect();
    let _ = writeln!(
        s,
        "    // {}: {} ({} → {})",
        host.name,
        n.op.name(),
        ins.join(", "),
        name(n.output)
    );
    s.push_str("    {\n");
    let (oty, ocount) = elem(out);
    match out.storage {
        Storage::Arena(off) => {
            let _ = writeln!(
                s,
                "        let (r, out) = {CORE}::graph::arena::split(&mut arena.0, {off}, {})?;",
                out.bytes()
            );
            let _ = writeln!(
                s,
                "        let y: &mut [{oty}] = {CORE}::graph::arena::output(out, {ocount})?;"
            );
        }
        Storage::Output(0) => {
            let _ = writeln!(
                s,
                "        let r = {CORE}::graph::arena::Reader::all(&arena.0);"
            );
            s.push_str("        let y: &mut [f32] = &mut y[..];\n");
        }
        _ => bail!(
            "node {}: the generated forward() takes one f32 output",
            host.name
        ),
    }
    for (k, &t) in n.inputs().iter().enumerate() {
        let ti = &run.tensors[t as usize];
        let (ty, count) = elem(ti);
        match ti.storage {
            Storage::Arena(off) => {
                let _ = writeln!(s, "        let x{k}: &[{ty}] = r.read({off}, {count})?;");
            }
            Storage::Input(0) => {
                let _ = writeln!(s, "        let x{k}: &[f32] = &x[..];");
            }
            _ => bail!(
                "node {}: the generated forward() takes one f32 input",
                host.name
            ),
        }
    }
    s.push_str("        let _ = &r;\n");
    let call = op
        .call
        .replace("{p}", &format!("{prefix}{i}"))
        .replace("{x0}", "x0")
        .replace("{x1}", "x1")
        .replace("{y}", "y");
    if op.fallible {
        let _ = writeln!(s, "        {call}?;");
    } else {
        let _ = writeln!(s, "        {call};");
    }
    s.push_str("    }\n");
    Ok(s)
}

/// The straight-line `forward_NAME()` and `classify_NAME()` of `run`
/// (statics with prefix `prefix`, already written).
fn straight_line(
    run: &Runner<'_>,
    ops: &[RustOp],
    prefix: &str,
    name: &str,
    s: &mut String,
) -> anyhow::Result<()> {
    // Where `classify()` reads its answer: the node that writes the codes
    // entering a final int8 softmax, as `Interpreter::classify` reads them.
    let point = run
        .interpreter()?
        .pre_softmax_codes()
        .map(|(codes, at)| (at, codes));
    let split = point.map_or(run.nodes.len(), |(at, _)| at + 1);
    let n_out = run.tensors[run.outputs[0] as usize].len();
    let sig = |f: &str, out: &str| {
        format!(
            "fn {f}_{name}<const N: usize>(x: &[f32; INPUT_LEN], arena: &mut {CORE}::graph::arena::Arena<N>{out}"
        )
    };
    let _ = writeln!(
        s,
        "/// Nodes 0..={} of `forward_{name}()`.",
        split.saturating_sub(1)
    );
    let _ = writeln!(s, "#[inline(always)]");
    let _ = writeln!(
        s,
        "{}, y: &mut [f32; OUTPUT_LEN]) -> Result<(), {CORE}::Error> {{",
        sig("head", "")
    );
    s.push_str("    let _ = &y;\n");
    for (i, op) in ops.iter().enumerate().take(split) {
        s.push_str(&step(run, i, op, prefix)?);
    }
    s.push_str("    Ok(())\n}\n\n");
    let _ = writeln!(
        s,
        "/// One inference, straight-line: `x` in, `y` out, intermediate values in"
    );
    let _ = writeln!(s, "/// `arena` (at least {} bytes).", run.arena_len);
    let _ = writeln!(
        s,
        "pub {}, y: &mut [f32; OUTPUT_LEN]) -> Result<(), {CORE}::Error> {{",
        sig("forward", "")
    );
    s.push_str(&format!("    head_{name}(x, arena, y)?;\n"));
    for (i, op) in ops.iter().enumerate().take(run.nodes.len()).skip(split) {
        s.push_str(&step(run, i, op, prefix)?);
    }
    s.push_str("    Ok(())\n}\n\n");
    let _ = writeln!(s, "/// The predicted class of `x` (see `classify`).");
    let _ = writeln!(
        s,
        "pub {}) -> Result<usize, {CORE}::Error> {{",
        sig("classify", "")
    );
    let _ = writeln!(s, "    let mut y = [0f32; OUTPUT_LEN];");
    match point {
        Some((_, codes)) if n_out > 1 => {
            let t = &run.tensors[codes as usize];
            let Storage::Arena(off) = t.storage else {
                bail!("the pre-softmax codes are not in the arena");
            };
            s.push_str(&format!("    head_{name}(x, arena, &mut y)?;\n"));
            let _ = writeln!(
                s,
                "    let r = {CORE}::graph::arena::Reader::all(&arena.0);"
            );
            let found = match t.dtype {
                DType::Staged => format!(
                    "{CORE}::ops::layout::argmax_staged(r.read({off}, {})?, {})",
                    t.len().div_ceil(4),
                    t.len()
                ),
                _ => format!("{CORE}::quant::argmax_i8(r.read({off}, {})?)", t.len()),
            };
            let _ = writeln!(
                s,
                "    {found}.ok_or({CORE}::Error::ShapeMismatch {{ expected: 1, found: 0 }})"
            );
        }
        _ => {
            s.push_str(&format!("    forward_{name}(x, arena, &mut y)?;\n"));
            if n_out == 1 {
                s.push_str("    Ok(usize::from(y[0] >= 0.5))\n");
            } else {
                s.push_str("    let mut best = 0;\n    for (i, &v) in y.iter().enumerate() {\n        if v > y[best] {\n            best = i;\n        }\n    }\n    Ok(best)\n");
            }
        }
    }
    s.push_str("}\n\n");
    Ok(())
}

/// The generated source for `m` (an int8 or f32 model); `origin` names
/// where it came from in the header comment.
pub fn write_rust(m: &Model, origin: &str) -> anyhow::Result<RustExport> {
    m.validate()?;
    let graph_run = Runner::new(m)?;
    let prepared = if m.is_int8() {
        prepare_for_mcu(m)?
    } else {
        super::Prepared {
            model: m.clone(),
            notes: Vec::new(),
        }
    };
    let run = Runner::new(&prepared.model)?;
    if run.inputs.len() != 1 || run.outputs.len() != 1 {
        bail!("the Rust export takes a model with one input and one output");
    }
    let (n_in, n_out) = (m.inputs(), m.outputs());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// @generated by `axon export --rust` from {origin}. Do not edit."
    );
    let _ = writeln!(s, "//");
    let _ = writeln!(
        s,
        "// Model: {} ({}, {} parameters)",
        m.summary(),
        m.kind(),
        m.parameter_count()
    );
    let _ = writeln!(
        s,
        "// Use: `include!(\"this_file.rs\");` in a crate that depends on axon-core, then"
    );
    let _ = writeln!(
        s,
        "//   `forward(&x, &mut Arena::new(), &mut y)` and `classify(&x, &mut Arena::new())`:"
    );
    let _ = writeln!(
        s,
        "//   straight-line code, prepared for microcontrollers (`forward_packed`: packed layers,"
    );
    let _ = writeln!(
        s,
        "//   staged activations) on Arm, the reference ops through the fastest kernels"
    );
    let _ = writeln!(
        s,
        "//   (`forward_reference`) elsewhere; or the graph through the interpreter:"
    );
    let _ = writeln!(s, "//   `Interpreter::new(GRAPH)?.run_f32(&x, &mut y, &mut arena::Arena::<GRAPH_ARENA_LEN>::new().0)`.");
    let _ = writeln!(s, "// Every path gives the bits of `axon predict`.");
    for note in &prepared.notes {
        let _ = writeln!(s, "// Note: {note}");
    }
    s.push('\n');
    let _ = writeln!(s, "/// Raw input features.");
    let _ = writeln!(s, "pub const INPUT_LEN: usize = {n_in};");
    let _ = writeln!(s, "/// Outputs.");
    let _ = writeln!(s, "pub const OUTPUT_LEN: usize = {n_out};");
    let _ = writeln!(
        s,
        "/// Bytes of arena `forward_packed()` needs: its plan's peak."
    );
    let _ = writeln!(s, "pub const PACKED_ARENA_LEN: usize = {};", run.arena_len);
    let _ = writeln!(
        s,
        "/// Bytes of arena `GRAPH` (through the interpreter) and `forward_reference()` need."
    );
    let _ = writeln!(
        s,
        "pub const GRAPH_ARENA_LEN: usize = {};",
        graph_run.arena_len
    );
    let _ = writeln!(s, "/// Bytes of arena `forward()` needs on this target.");
    let _ = writeln!(s, "#[cfg(target_arch = \"arm\")]");
    let _ = writeln!(s, "pub const ARENA_LEN: usize = PACKED_ARENA_LEN;");
    let _ = writeln!(s, "/// Bytes of arena `forward()` needs on this target.");
    let _ = writeln!(s, "#[cfg(not(target_arch = \"arm\"))]");
    let _ = writeln!(s, "pub const ARENA_LEN: usize = GRAPH_ARENA_LEN;");
    let _ = writeln!(
        s,
        "/// The arena of `forward()`: `Arena::new()` in a `static` or on the stack."
    );
    let _ = writeln!(
        s,
        "pub type Arena = {CORE}::graph::arena::Arena<ARENA_LEN>;"
    );
    s.push('\n');

    // The graph for the interpreter (and the reference straight line).
    let _ = writeln!(
        s,
        "// ---- GRAPH: the model's graph, for the interpreter ----\n"
    );
    let mut w = RustWriter::new();
    let gops = statics(&graph_run, "N", false, &mut w, &mut s)?;
    let _ = writeln!(
        s,
        "/// The tensors (activations; parameters are in the nodes' ops)."
    );
    let _ = writeln!(
        s,
        "static TENSORS: [{CORE}::graph::Tensor<'static>; {}] = [",
        graph_run.tensors.len()
    );
    for t in &graph_run.tensors {
        let _ = writeln!(s, "    {},", tensor_lit(t));
    }
    s.push_str("];\n");
    let _ = writeln!(s, "/// The nodes, in execution order.");
    let _ = writeln!(
        s,
        "static NODES: [{CORE}::graph::Node<'static>; {}] = [",
        graph_run.nodes.len()
    );
    for (i, (n, op)) in graph_run.nodes.iter().zip(&gops).enumerate() {
        let ins: Vec<String> = n.inputs().iter().map(u16::to_string).collect();
        let _ = writeln!(
            s,
            "    {CORE}::graph::Node::new({}, &[{}], {}),",
            op.op.replace("{p}", &format!("N{i}")),
            ins.join(", "),
            n.output
        );
    }
    s.push_str("];\n");
    let _ = writeln!(s, "/// The model's graph.");
    let _ = writeln!(
        s,
        "pub static GRAPH: {CORE}::graph::Graph<'static> = {CORE}::graph::Graph::new(&TENSORS, &NODES, &[{}], &[{}], GRAPH_ARENA_LEN);\n",
        graph_run.inputs.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
        graph_run.outputs.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        s,
        "// ---- forward_reference(): the graph, straight-line ----\n"
    );
    straight_line(&graph_run, &gops, "N", "reference", &mut s)?;

    // The prepared graph, straight-line.
    let _ = writeln!(
        s,
        "// ---- forward_packed(): the model prepared for microcontrollers ----\n"
    );
    let pops = statics(&run, "P", true, &mut w, &mut s)?;
    s.push('\n');
    straight_line(&run, &pops, "P", "packed", &mut s)?;

    let _ = writeln!(
        s,
        "// ---- forward(), classify(): the straight line for this target ----\n"
    );
    let _ = writeln!(
        s,
        "/// One inference: `x` in, `y` out, intermediate values in `arena`."
    );
    let _ = writeln!(
        s,
        "pub fn forward(x: &[f32; INPUT_LEN], arena: &mut Arena, y: &mut [f32; OUTPUT_LEN]) -> Result<(), {CORE}::Error> {{"
    );
    let _ = writeln!(
        s,
        "    #[cfg(target_arch = \"arm\")]\n    return forward_packed(x, arena, y);"
    );
    let _ = writeln!(
        s,
        "    #[cfg(not(target_arch = \"arm\"))]\n    return forward_reference(x, arena, y);"
    );
    s.push_str("}\n\n");
    let _ = writeln!(
        s,
        "/// The predicted class of `x`: the first largest output; for a final"
    );
    let _ = writeln!(
        s,
        "/// int8 softmax, the first largest code entering it (not run); for a single"
    );
    let _ = writeln!(
        s,
        "/// output, whether it is at least 0.5. The same as `Interpreter::classify`."
    );
    let _ = writeln!(
        s,
        "pub fn classify(x: &[f32; INPUT_LEN], arena: &mut Arena) -> Result<usize, {CORE}::Error> {{"
    );
    let _ = writeln!(
        s,
        "    #[cfg(target_arch = \"arm\")]\n    return classify_packed(x, arena);"
    );
    let _ = writeln!(
        s,
        "    #[cfg(not(target_arch = \"arm\"))]\n    return classify_reference(x, arena);"
    );
    s.push_str("}\n");
    Ok(RustExport {
        source: s,
        arena_len: run.arena_len,
        graph_arena_len: graph_run.arena_len,
        notes: prepared.notes,
    })
}
