//! The compiled form in the Rust-source export: the same int8 model as
//! `axon_core::int8::compiled` items (packed weights, padded constants,
//! right shifts, the rounding mode as a type), appended after the generic
//! `MODEL` when the model fits that engine.

use std::fmt::Write as _;

use axon_core::int8::compiled::{DenseLayer, SoftmaxTable};
use axon_core::kernels::packed4::{pack_layer, stream_len, Block, Scale, MAX_BIAS};
use axon_core::quant::Rounding;

use super::rust::{list, qp, CORE};
use crate::quantize::{Int8Layer, Int8Model};

/// Whether the compiled engine can run `m`, and if not, why.
pub fn compiled_support(m: &Int8Model) -> Result<(), String> {
    compile(m).map(|_| ())
}

/// A dense layer in the compiled layout: its stream and its scales.
type Packed = (Vec<Block>, Vec<Scale>);

/// The packed stream and scales of each dense layer of `m`, in order, or
/// why the compiled engine cannot run it.
fn compile(m: &Int8Model) -> Result<Vec<Packed>, String> {
    let max_shift = 31;
    let n = m.layers.len();
    let mut dense = Vec::new();
    // Each layer's input zero point is the previous output's (the model
    // input's first): the compiled form stages activations with it.
    let mut zp = m.input.zero_point;
    for (i, l) in m.layers.iter().enumerate() {
        match l {
            Int8Layer::FullyConnected {
                shift,
                multiplier,
                input,
                output,
                ..
            } => {
                if input.zero_point != zp {
                    return Err(format!(
                        "layer {i}'s input zero point {} is not the previous output's {zp}",
                        input.zero_point
                    ));
                }
                zp = output.zero_point;
                if let Some(s) = shift.iter().find(|&&s| !(1..=max_shift).contains(&-s)) {
                    return Err(format!(
                        "layer {i} has a requantization shift of {s}; the compiled engine takes right \
                         shifts of 1..={max_shift} (layer scales below 1/2)"
                    ));
                }
                if multiplier.iter().any(|&v| v < 0) {
                    return Err(format!("layer {i} has a negative multiplier"));
                }
                dense.push(compiled_layer(l).map_err(|why| format!("layer {i}: {why}"))?);
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
    if dense.is_empty() {
        return Err("the model has no dense layer".into());
    }
    Ok(dense)
}

/// A dense layer's stream and scales, checked as the compiled model's
/// `const` initializer will check them (so a model that would not compile
/// gets a reason instead of a compile error).
fn compiled_layer(l: &Int8Layer) -> Result<Packed, String> {
    let Int8Layer::FullyConnected {
        inputs,
        outputs,
        weights,
        bias,
        multiplier,
        shift,
        output,
        act_min,
        act_max,
        ..
    } = l
    else {
        return Err("not a dense layer".into());
    };
    if let Some(b) = bias.iter().find(|b| b.unsigned_abs() > MAX_BIAS as u32) {
        return Err(format!(
            "a bias of {b} is beyond the compiled engine's ±{MAX_BIAS} (doubled, it must fit an i32)"
        ));
    }
    let mut stream = vec![Block([0; 16]); stream_len(*outputs, *inputs)];
    pack_layer(weights, bias, *outputs, *inputs, &mut stream);
    let right = |k: usize| (-shift[k.min(shift.len() - 1)]) as u8;
    let scales: Vec<Scale> = if multiplier.len() == 1 {
        vec![Scale::tensor(multiplier[0], right(0))]
    } else {
        // Per channel, padded with the last row's to whole row groups.
        (0..outputs.div_ceil(4))
            .map(|r| {
                let at = |k: usize| (4 * r + k).min(outputs - 1);
                Scale::new(
                    std::array::from_fn(|k| multiplier[at(k)]),
                    std::array::from_fn(|k| right(at(k))),
                )
            })
            .collect()
    };
    DenseLayer::try_new(
        *inputs,
        *outputs,
        &stream,
        &scales,
        output.zero_point,
        *act_min,
        *act_max,
    )?;
    Ok((stream, scales))
}

/// Whether the standardisation is the identity (mean 0 and std 1 for every
/// input): `(x − 0) / 1 = x` for every f32, so the compiled model skips it.
fn identity_preprocess(m: &Int8Model) -> bool {
    m.preprocess.mean.iter().all(|v| v.to_bits() == 0) && m.preprocess.std.iter().all(|&v| v == 1.0)
}

/// The compiled items (after the generic model's), or a comment saying
/// why there are none.
pub fn write_compiled(m: &Int8Model, s: &mut String) {
    s.push('\n');
    let packed_layers = match compile(m) {
        Ok(p) => p,
        Err(why) => {
            let _ = writeln!(
                s,
                "// No compiled form (`axon_core::int8::compiled`): {why}."
            );
            return;
        }
    };
    let mut packed_layers = packed_layers.into_iter();
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
                multiplier,
                output,
                act_min,
                act_max,
                ..
            } => {
                quads = quads.max(outputs.div_ceil(4));
                // `compile` packed every dense layer, in this order.
                let Some((packed, scales)) = packed_layers.next() else {
                    break;
                };
                let blocks = packed.len();
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
                let scale_lines: Vec<String> = scales
                    .iter()
                    .map(|sc| {
                        let (m, e) = (sc.multipliers(), sc.right_shifts());
                        if m.iter().all(|&v| v == m[0]) && e.iter().all(|&v| v == e[0]) {
                            format!(
                                "{CORE}::kernels::packed4::Scale::tensor({}, {})",
                                m[0], e[0]
                            )
                        } else {
                            format!("{CORE}::kernels::packed4::Scale::new({m:?}, {e:?})")
                        }
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "/// Compiled layer {i} multipliers and right shifts ({}).",
                    if multiplier.len() == 1 {
                        "per tensor"
                    } else {
                        "per row group"
                    }
                );
                let _ = writeln!(
                    s,
                    "static C{i}_SCALE: [{CORE}::kernels::packed4::Scale; {}] = {};",
                    scales.len(),
                    list(&scale_lines, 1, |l| l.clone())
                );
                dense.push(format!(
                    "    {CORE}::int8::compiled::DenseLayer::new(\n        {inputs},\n        {outputs},\n        \
                     &C{i}_STREAM,\n        &C{i}_SCALE,\n        \
                     {},\n        {act_min},\n        {act_max},\n    ),",
                    output.zero_point
                ));
            }
            Int8Layer::Softmax { exp_table, .. } => {
                let h = SoftmaxTable::head_len(exp_table);
                let tail: Vec<u16> = SoftmaxTable::tail_terms(exp_table).collect();
                let _ = writeln!(
                    s,
                    "/// Compiled softmax: the exponentials that can still move an output code (≥ 2^22, Q0.31)."
                );
                let _ = writeln!(
                    s,
                    "static C{i}_EXP: [i32; {h}] = {};",
                    list(&exp_table[..h], 8, |v| v.to_string())
                );
                let _ = writeln!(
                    s,
                    "/// Compiled softmax: the rest's terms in the sum (`RoundingDivideByPOT(e, 12)`)."
                );
                let _ = writeln!(
                    s,
                    "static C{i}_EXP_SUM: [u16; {}] = {};",
                    tail.len(),
                    list(&tail, 16, |v| v.to_string())
                );
                softmax = Some(format!(
                    "Some({CORE}::int8::compiled::SoftmaxTable::new(&C{i}_EXP, &C{i}_EXP_SUM))"
                ));
            }
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
