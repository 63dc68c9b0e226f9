//! The compiled form in the Rust-source export: the same int8 model as
//! `axon_core::int8::compiled` items (packed weights, padded constants,
//! right shifts, the rounding mode as a type), appended after the generic
//! `MODEL` when the model fits that engine.

use std::fmt::Write as _;

use axon_core::kernels::packed4::{pack_layer, stream_len, Block};
use axon_core::quant::Rounding;

use super::rust::{list, qp, CORE};
use crate::quantize::{Int8Layer, Int8Model};

/// Whether the compiled engine can run `m`, and if not, why.
pub fn compiled_support(m: &Int8Model) -> Result<(), String> {
    let max_shift = 31;
    let n = m.layers.len();
    let mut dense = 0;
    for (i, l) in m.layers.iter().enumerate() {
        match l {
            Int8Layer::FullyConnected {
                shift, multiplier, ..
            } => {
                dense += 1;
                if let Some(s) = shift.iter().find(|&&s| !(1..=max_shift).contains(&-s)) {
                    return Err(format!(
                        "layer {i} has a requantization shift of {s}; the compiled engine takes right \
                         shifts of 1..={max_shift} (layer scales below 1/2)"
                    ));
                }
                if multiplier.iter().any(|&v| v < 0) {
                    return Err(format!("layer {i} has a negative multiplier"));
                }
            }
            Int8Layer::Softmax { .. } if i + 1 == n && i > 0 => {}
            Int8Layer::Softmax { .. } => {
                return Err(format!(
                    "layer {i} is a softmax that is not the last layer after a dense one"
                ))
            }
            Int8Layer::Lut { kind, .. } => {
                return Err(format!(
                    "layer {i} is a {} table, which the compiled engine does not run",
                    kind.name()
                ))
            }
        }
    }
    if dense == 0 {
        return Err("the model has no dense layer".into());
    }
    Ok(())
}

/// Per-channel constants (`v.len() > 1`) padded with their first entry to
/// whole row groups of `outputs`; a per-tensor one repeated four times (the
/// layer routine reads four per row group).
fn per_row_group<T: Copy>(v: &[T], outputs: usize) -> Vec<T> {
    let n = if v.len() > 1 {
        outputs.div_ceil(4) * 4
    } else {
        4
    };
    let mut v = v.to_vec();
    v.resize(n, v[0]);
    v
}

/// Whether the standardisation is the identity (mean 0 and std 1 for every
/// input): `(x − 0) / 1 = x` for every f32, so the compiled model skips it.
fn identity_preprocess(m: &Int8Model) -> bool {
    m.preprocess.mean.iter().all(|v| v.to_bits() == 0) && m.preprocess.std.iter().all(|&v| v == 1.0)
}

/// The compiled items (after the generic model's, whose statics they may
/// share), or a comment saying why there are none.
pub fn write_compiled(m: &Int8Model, s: &mut String) {
    s.push('\n');
    if let Err(why) = compiled_support(m) {
        let _ = writeln!(
            s,
            "// No compiled form (`axon_core::int8::compiled`): {why}."
        );
        return;
    }
    let _ = writeln!(
        s,
        "// The compiled form (`axon_core::int8::compiled`): the same model, weights in 4×4 blocks,"
    );
    let _ = writeln!(
        s,
        "// constants padded to whole row groups. Same bits as `MODEL`; smaller and faster."
    );
    let _ = writeln!(
        s,
        "// Use: `COMPILED.run(&x, &mut Buffers::<QUADS>::new(), &mut codes, &mut y)`."
    );
    let mut quads = m.inputs.div_ceil(4);
    let mut dense = Vec::new();
    let mut softmax = None;
    for (i, l) in m.layers.iter().enumerate() {
        match l {
            Int8Layer::FullyConnected {
                inputs,
                outputs,
                weights,
                bias,
                multiplier,
                shift,
                input,
                output,
                act_min,
                act_max,
                ..
            } => {
                quads = quads.max(outputs.div_ceil(4));
                let blocks = stream_len(*outputs, *inputs);
                let mut packed = vec![Block([0; 16]); blocks];
                pack_layer(weights, bias, *outputs, *inputs, &mut packed);
                let groups = inputs.div_ceil(4);
                let _ = writeln!(
                    s,
                    "/// Compiled layer {i}: per group of 4 outputs, its 4 biases, then {groups} blocks of \
                     4 rows × 4 columns ({blocks} blocks)."
                );
                let mut lines = Vec::new();
                for (k, b) in packed.iter().enumerate() {
                    if k % (groups + 1) == 0 {
                        lines.push(format!(
                            "{CORE}::kernels::packed4::Block::bias({:?})",
                            b.biases()
                        ));
                    } else {
                        lines.push(format!("{CORE}::kernels::packed4::Block({:?})", b.0));
                    }
                }
                let _ = writeln!(
                    s,
                    "static C{i}_STREAM: [{CORE}::kernels::packed4::Block; {blocks}] = {};",
                    list(&lines, 1, |l| l.clone())
                );
                let aligned = outputs % 4 == 0;
                let per_channel = multiplier.len() > 1;
                let mult_name = if per_channel && aligned {
                    format!("L{i}_MULTIPLIER")
                } else {
                    let name = format!("C{i}_MULTIPLIER");
                    let v = per_row_group(multiplier, *outputs);
                    let _ = writeln!(
                        s,
                        "/// Compiled layer {i} multipliers (per channel, padded; or the one, four times)."
                    );
                    let _ = writeln!(
                        s,
                        "static {name}: [i32; {}] = {};",
                        v.len(),
                        list(&v, 8, |v| v.to_string())
                    );
                    name
                };
                let e: Vec<u8> = shift.iter().map(|&v| (-v - 1) as u8).collect();
                let e = per_row_group(&e, *outputs);
                let _ = writeln!(
                    s,
                    "/// Compiled layer {i} right shifts minus one (−shift − 1)."
                );
                let _ = writeln!(
                    s,
                    "static C{i}_PRE_SHIFT: [u8; {}] = {};",
                    e.len(),
                    list(&e, 16, |v| v.to_string())
                );
                dense.push(format!(
                    "    {CORE}::int8::compiled::DenseLayer::new(\n        {inputs},\n        {outputs},\n        \
                     &C{i}_STREAM,\n        &{mult_name},\n        &C{i}_PRE_SHIFT,\n        \
                     {},\n        {},\n        {act_min},\n        {act_max},\n    ),",
                    -input.zero_point,
                    output.zero_point
                ));
            }
            Int8Layer::Softmax { .. } => softmax = Some(format!("Some(&L{i}_EXP)")),
            Int8Layer::Lut { .. } => {}
        }
    }
    let rounding = match m.rounding {
        Rounding::Double => "DoubleRounding",
        Rounding::Single => "SingleRounding",
    };
    let _ = writeln!(
        s,
        "/// Activation buffer size of the compiled model, in quads (`Buffers<QUADS>`: {} bytes).",
        2 * quads * 8
    );
    let _ = writeln!(s, "pub const QUADS: usize = {quads};");
    let _ = writeln!(s, "/// The compiled layers, first to last.");
    let _ = writeln!(
        s,
        "pub static COMPILED_LAYERS: [{CORE}::int8::compiled::DenseLayer<'static>; {}] = [",
        dense.len()
    );
    for d in &dense {
        let _ = writeln!(s, "{d}");
    }
    s.push_str("];\n");
    let pre = if identity_preprocess(m) {
        "None".to_string()
    } else {
        format!(
            "Some({CORE}::int8::Standardize {{ mean: &PREPROCESS_MEAN, std: &PREPROCESS_STD }})"
        )
    };
    let _ = writeln!(
        s,
        "/// The compiled model{}.",
        if identity_preprocess(m) {
            " (identity standardisation: skipped)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "pub static COMPILED: {CORE}::int8::compiled::Model<'static, {CORE}::int8::compiled::{rounding}> =\n    \
         {CORE}::int8::compiled::Model::new(\n        {pre},\n        {},\n        &COMPILED_LAYERS,\n        {},\n        {},\n    );",
        qp(m.input),
        softmax.unwrap_or_else(|| "None".into()),
        qp(m.output())
    );
}
