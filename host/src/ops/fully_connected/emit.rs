//! What a fully connected layer writes: its blob record (f32, int8 or
//! packed) and its Rust source.

use anyhow::bail;
use axon_core::ops::fully_connected::{record_f32, record_i8, record_packed4, FullyConnected as Core};

use crate::export::{RecordWriter, RustWriter};
use crate::ops::RustOp;

/// The blob record.
pub fn blob(core: &Core<'_>, w: &mut RecordWriter<'_>) -> anyhow::Result<()> {
    match core {
        Core::F32(p) => {
            use record_f32::*;
            w.start(&LAYOUT);
            w.u32(INPUTS, (p.weights.len() / p.bias.len().max(1)) as u32);
            w.u32(OUTPUTS, p.bias.len() as u32);
            w.f32s(WEIGHTS, p.weights);
            w.f32s(BIAS, p.bias);
        }
        Core::Int8(p) => {
            use record_i8::*;
            w.start(&LAYOUT);
            let k = &p.params;
            w.u8(VARIANT, 1);
            w.u8(ACTIVATION, p.activation as u8);
            w.u8(ROUNDING, k.rounding as u8);
            w.u8(ACT_MIN, k.act_min as u8);
            w.u8(ACT_MAX, k.act_max as u8);
            w.u32(INPUTS, (p.weights.len() / p.bias.len().max(1)) as u32);
            w.u32(OUTPUTS, p.bias.len() as u32);
            w.u32(CHANNELS, k.multiplier.len() as u32);
            w.i32(INPUT_OFFSET, k.input_offset);
            w.i32(OUTPUT_OFFSET, k.output_offset);
            w.i8s(WEIGHTS, p.weights);
            w.i32s(BIAS, p.bias);
            w.i32s(MULTIPLIER, k.multiplier);
            w.i32s(SHIFT, k.shift);
            w.f32s(WEIGHT_SCALES, p.weight_scales);
            if let Some(s) = p.row_sums {
                w.i32s(ROW_SUMS, s);
            }
        }
        Core::Packed4(p) => {
            use record_packed4::*;
            w.start(&LAYOUT);
            let l = &p.layer;
            let (lo, hi) = l.clamp();
            w.u8(VARIANT, 2);
            w.u8(ROUNDING, p.rounding as u8);
            w.u8(ACT_MIN, lo as u8);
            w.u8(ACT_MAX, hi as u8);
            w.u32(INPUTS, l.inputs() as u32);
            w.u32(OUTPUTS, l.outputs() as u32);
            w.i32(OUTPUT_OFFSET, l.output_offset());
            w.u32(SCALE_COUNT, l.scales().len() as u32);
            w.bytes(STREAM, bytemuck::cast_slice(l.stream()));
            w.bytes(SCALES, bytemuck::cast_slice(l.scales()));
        }
        Core::Vnni(_) => bail!("the VNNI layout is prepared at load, not stored"),
    }
    Ok(())
}

/// The Rust source.
pub fn rust(core: &Core<'_>, w: &mut RustWriter) -> anyhow::Result<RustOp> {
    let c = w.core();
    let m = format!("{c}::ops::fully_connected");
    Ok(match core {
        Core::F32(p) => {
            let (o, i) = (p.bias.len(), p.weights.len() / p.bias.len().max(1));
            let wt = w.f32s("WEIGHT", p.weights, &format!("Weights, `({o}, {i})` output-major."));
            let b = w.f32s("BIAS", p.bias, &format!("Bias, `({o},)`."));
            RustOp {
                ty: format!("{m}::F32<'static>"),
                value: format!("{m}::F32 {{ weights: &{wt}, bias: &{b} }}"),
                op: format!("{c}::ops::Op::FullyConnected({m}::FullyConnected::F32({{p}}))"),
                call: format!("{m}::run_f32(&{{p}}, {{x0}}, {{y}})"),
                fallible: false,
            }
        }
        Core::Int8(p) => {
            let (o, i) = (p.bias.len(), p.weights.len() / p.bias.len().max(1));
            let k = &p.params;
            let wt = w.i8s_rows("WEIGHT", p.weights, i, &format!("Weights, `({o}, {i})` output-major, symmetric int8."));
            let b = w.i32s("BIAS", p.bias, &format!("Bias, `({o},)`, scale s_in·s_w[c]."));
            let ws = w.f32s("WEIGHT_SCALES", p.weight_scales, "Weight scales (per tensor or per output channel).");
            let mu = w.i32s("MULTIPLIER", k.multiplier, "Q31 requantization multipliers.");
            let sh = w.i32s("SHIFT", k.shift, "Their shifts.");
            RustOp {
                ty: format!("{m}::Int8<'static>"),
                value: format!(
                    "{m}::Int8 {{ weights: &{wt}, bias: &{b}, weight_scales: &{ws}, row_sums: None, activation: {act}, \
                     params: {c}::kernels::gemv_i8::FullyConnectedParams {{ input_offset: {io}, output_offset: {oo}, \
                     multiplier: &{mu}, shift: &{sh}, act_min: {lo}, act_max: {hi}, rounding: {r} }} }}",
                    act = w.fused(p.activation),
                    io = k.input_offset,
                    oo = k.output_offset,
                    lo = k.act_min,
                    hi = k.act_max,
                    r = w.rounding(k.rounding),
                ),
                op: format!("{c}::ops::Op::FullyConnected({m}::FullyConnected::Int8({{p}}))"),
                call: format!("{m}::run_i8(&{{p}}, {{x0}}, {{y}})"),
                fallible: true,
            }
        }
        Core::Packed4(p) => {
            let l = &p.layer;
            let (lo, hi) = l.clamp();
            let stream = w.blocks("STREAM", l.stream(), l.inputs().div_ceil(4));
            let scales = w.scales("SCALE", l.scales());
            let run = match p.rounding {
                axon_core::quant::Rounding::Double => "run_double",
                axon_core::quant::Rounding::Single => "run_single",
            };
            RustOp {
                ty: format!("{m}::packed4::PackedDense<'static>"),
                value: format!(
                    "{m}::packed4::PackedDense::new({}, {}, &{stream}, &{scales}, {}, {lo}, {hi})",
                    l.inputs(),
                    l.outputs(),
                    l.output_offset()
                ),
                op: format!(
                    "{c}::ops::Op::FullyConnected({m}::FullyConnected::Packed4({m}::Packed {{ layer: {{p}}, rounding: {} }}))",
                    w.rounding(p.rounding)
                ),
                call: format!("{{p}}.{run}({{x0}}, {{y}})"),
                fallible: false,
            }
        }
        Core::Vnni(_) => bail!("the VNNI layout is prepared at load, not exported"),
    })
}

/// The host layer (parameters added to `b`) of a core layer from a blob.
pub fn from_core(core: &Core<'_>, b: &mut crate::ops::FromCore<'_>) -> anyhow::Result<super::FullyConnected> {
    use crate::model::{Data, Quant};
    match core {
        Core::F32(p) => {
            let (o, i) = (p.bias.len() as u32, (p.weights.len() / p.bias.len().max(1)) as u32);
            b.param("weight", vec![o, i], Data::F32(p.weights.to_vec()), Quant::None);
            b.param("bias", vec![o], Data::F32(p.bias.to_vec()), Quant::None);
            Ok(super::FullyConnected::default())
        }
        Core::Int8(p) => {
            let (o, i) = (p.bias.len() as u32, (p.weights.len() / p.bias.len().max(1)) as u32);
            let quant = match p.weight_scales {
                [s] => Quant::PerTensor(axon_core::quant::QuantParams::new(*s, 0)),
                s => Quant::PerChannel { scales: s.to_vec(), axis: 0 },
            };
            b.param("weight", vec![o, i], Data::I8(p.weights.to_vec()), quant);
            b.param("bias", vec![o], Data::I32(p.bias.to_vec()), Quant::None);
            Ok(super::FullyConnected {
                int8: Some(super::Int8Attrs {
                    activation: p.activation,
                    rounding: p.params.rounding,
                    multiplier: p.params.multiplier.to_vec(),
                    shift: p.params.shift.to_vec(),
                }),
                row_sums: p.row_sums.map(<[i32]>::to_vec),
                prepared: None,
            })
        }
        Core::Packed4(_) | Core::Vnni(_) => {
            bail!("a packed fully connected layer is a prepared form; it has no model-file form")
        }
    }
}
