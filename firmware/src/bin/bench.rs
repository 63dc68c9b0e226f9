//! Instructions per int8 fully connected layer, scalar reference against the
//! Cortex-M DSP kernel, for the layer shapes of the bundled networks
//! (digits 64→32→10, sine 1→16→16→1), counted by SysTick under QEMU
//! `-icount` (see `axon_firmware::mcu::Ticks`).
//!
//! `cargo run --release --bin bench` (from `firmware/`), or
//! `scripts/firmware.sh bench`, which also runs it on the Cortex-M7.
#![no_std]
#![no_main]

use axon_core::int8::Model;
#[cfg(dsp_kernel)]
use axon_core::kernels::cortex_m::CortexMDsp;
use axon_core::kernels::gemv_i8::Scalar;
use axon_core::kernels::FullyConnectedParams;
use axon_core::quant::Rounding;
use axon_firmware::f32_model::F32Model;
use axon_firmware::mcu::{self, Ticks};
use axon_firmware::models::input_row;
use core::hint::black_box;
use cortex_m_rt::entry;

const MAX: usize = 64 * 32;

type Fc = fn(&[i8], &[i8], &[i32], &FullyConnectedParams<'_>, &mut [i8]);

/// One layer: instructions of the whole call, and of the requantization
/// alone (the same rows with no columns), for one kernel.
fn layer(
    t: &Ticks,
    fc: Fc,
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) -> (u64, u64) {
    // Warm-up call (identical under QEMU; on a board it fills caches).
    fc(w, x, bias, p, y);
    let ((), total) = t.measure(|| fc(black_box(w), black_box(x), bias, p, black_box(&mut *y)));
    let ((), requant) = t.measure(|| {
        Scalar::fully_connected(black_box(&[]), black_box(&[]), bias, p, black_box(&mut *y))
    });
    (total, requant)
}

#[entry]
fn main() -> ! {
    let cp = cortex_m::Peripherals::take().unwrap_or_else(|| mcu::exit(false));
    let t = Ticks::start(cp.SYST);
    defmt::println!(
        "calibration: {} ticks per 1000 instructions",
        t.ticks_per_kilo_instr()
    );

    let mut s: u32 = 0x1234_5678;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    };
    let w: [i8; MAX] = core::array::from_fn(|_| (rnd() % 255) as i8);
    let x: [i8; 64] = core::array::from_fn(|_| rnd() as i8);
    let bias: [i32; 32] = core::array::from_fn(|_| (rnd() as i32) >> 16);
    let mult: [i32; 32] = core::array::from_fn(|_| (1 << 30) | (rnd() as i32 & 0x3fff_ffff));
    let shift: [i32; 32] = core::array::from_fn(|_| -((rnd() % 10) as i32) - 3);
    let mut y = [0i8; 32];

    // (network, rows, cols)
    let shapes: [(&str, usize, usize); 5] = [
        ("digits", 32, 64),
        ("digits", 10, 32),
        ("sine", 16, 1),
        ("sine", 16, 16),
        ("sine", 1, 16),
    ];
    for &(net, rows, cols) in &shapes {
        let p = FullyConnectedParams {
            input_offset: 128,
            output_offset: -3,
            multiplier: &mult[..rows],
            shift: &shift[..rows],
            act_min: -128,
            act_max: 127,
            rounding: Rounding::Double,
        };
        let (w, x, b) = (&w[..rows * cols], &x[..cols], &bias[..rows]);
        let mut ys = [0i8; 32];
        let (scalar, requant) = layer(&t, Scalar::fully_connected, w, x, b, &p, &mut ys[..rows]);
        // Without the DSP kernel (AXON_NO_DSP=1) both columns are the scalar.
        #[cfg(dsp_kernel)]
        let dsp_kernel: Fc = CortexMDsp::fully_connected;
        #[cfg(not(dsp_kernel))]
        let dsp_kernel: Fc = Scalar::fully_connected;
        let (dsp, _) = layer(&t, dsp_kernel, w, x, b, &p, &mut y[..rows]);
        if ys[..rows] != y[..rows] {
            defmt::error!("{} {}x{}: kernels disagree", net, rows, cols);
            mcu::exit(false);
        }
        let macs = (rows * cols) as u64;
        // Instructions per MAC, in hundredths, whole call and without the
        // requantization.
        let per = |v: u64| (v * 100 + macs / 2) / macs;
        let acc = |v: u64| v.saturating_sub(requant);
        defmt::println!(
            "layer {} {}x{} ({} MACs): scalar {} instr ({=u64}.{=u64:02}/MAC, {=u64}.{=u64:02} without requant) | dsp {} instr ({=u64}.{=u64:02}/MAC, {=u64}.{=u64:02} without requant) | requant {}",
            net, cols, rows, macs,
            scalar, per(scalar) / 100, per(scalar) % 100, per(acc(scalar)) / 100, per(acc(scalar)) % 100,
            dsp, per(dsp) / 100, per(dsp) % 100, per(acc(dsp)) / 100, per(acc(dsp)) % 100,
            requant
        );
    }
    marginal(&t, &w, &x, &bias, &mult, &shift);
    inference(
        &t,
        "digits",
        &axon_firmware::models::digits_int8::MODEL,
        axon_firmware::models::DIGITS_INPUTS,
    );
    inference(
        &t,
        "sine",
        &axon_firmware::models::sine_int8::MODEL,
        axon_firmware::models::SINE_INPUTS,
    );
    // The compiled engine (`COMPILED` in the same exported files).
    {
        use axon_firmware::models::{digits_int8 as d, sine_int8 as s};
        compiled(
            &t,
            "digits",
            &d::COMPILED,
            &d::MODEL,
            &mut axon_core::int8::compiled::Buffers::<{ d::QUADS }>::new(),
            axon_firmware::models::DIGITS_INPUTS,
        );
        compiled_layers(&t, "digits", &d::COMPILED_LAYERS);
        compiled_input(
            &t,
            "digits",
            &d::MODEL,
            axon_firmware::models::DIGITS_INPUTS,
        );
        compiled(
            &t,
            "sine",
            &s::COMPILED,
            &s::MODEL,
            &mut axon_core::int8::compiled::Buffers::<{ s::QUADS }>::new(),
            axon_firmware::models::SINE_INPUTS,
        );
        compiled_layers(&t, "sine", &s::COMPILED_LAYERS);
    }
    packed_marginal(&t, &w, &x);
    inference_f32(
        &t,
        "digits",
        &axon_firmware::models::digits_f32::MODEL,
        axon_firmware::models::DIGITS_INPUTS,
    );
    inference_f32(
        &t,
        "sine",
        &axon_firmware::models::sine_f32::MODEL,
        axon_firmware::models::SINE_INPUTS,
    );
    mcu::exit(true)
}

/// Instructions per MAC inside the kernel: the cost of 32 more columns on
/// 30 rows (64 − 32), so per-call and per-row work (requantization, loop
/// set-up) cancels; what is left is the multiply-accumulate loop and the
/// input staging.
fn marginal(t: &Ticks, w: &[i8], x: &[i8], bias: &[i32], mult: &[i32], shift: &[i32]) {
    let rows = 30;
    let p = FullyConnectedParams {
        input_offset: 128,
        output_offset: -3,
        multiplier: &mult[..rows],
        shift: &shift[..rows],
        act_min: -128,
        act_max: 127,
        rounding: Rounding::Double,
    };
    let mut y = [0i8; 32];
    #[cfg(dsp_kernel)]
    let kernels: [(&str, Fc); 2] = [
        ("scalar", Scalar::fully_connected),
        ("cortex-m-dsp", CortexMDsp::fully_connected),
    ];
    #[cfg(not(dsp_kernel))]
    let kernels: [(&str, Fc); 1] = [("scalar", Scalar::fully_connected)];
    for (name, fc) in kernels {
        let mut cost = [0u64; 2];
        for (c, cols) in [32usize, 64].into_iter().enumerate() {
            let (ww, xx) = (&w[..rows * cols], &x[..cols]);
            cost[c] = t
                .measure(|| {
                    fc(
                        black_box(ww),
                        black_box(xx),
                        &bias[..rows],
                        &p,
                        black_box(&mut y[..rows]),
                    )
                })
                .1;
        }
        let macs = (rows * 32) as u64;
        let per = ((cost[1] - cost[0]) * 100 + macs / 2) / macs;
        defmt::println!(
            "kernel {} inner loop: {=u64}.{=u64:02} instr/MAC (30x64 {} instr − 30x32 {} instr over 960 MACs)",
            name, per / 100, per % 100, cost[1], cost[0]
        );
    }
}

/// Whole int8 inference, float in and float out (`Model::run`), on the
/// first input row, then the same pipeline stage by stage.
fn inference(t: &Ticks, name: &str, m: &Model<'_>, inputs: &[u8]) {
    let (n, k) = (m.input_len, m.output_len);
    let mut x = [0f32; 64];
    let mut scratch = [0i8; 128];
    let mut codes = [0i8; 64];
    let mut y = [0f32; 64];
    if !input_row(inputs, n, 0, &mut x[..n]) {
        mcu::exit(false);
    }
    let run = |x: &[f32], s: &mut [i8], c: &mut [i8], y: &mut [f32]| {
        m.run(black_box(x), s, c, black_box(y)).is_ok()
    };
    run(&x[..n], &mut scratch, &mut codes[..k], &mut y[..k]);
    let (ok, total) = t.measure(|| run(&x[..n], &mut scratch, &mut codes[..k], &mut y[..k]));
    if !ok {
        mcu::exit(false);
    }
    defmt::println!(
        "inference {} int8 (float in/out, {}): {} instr",
        name,
        selected_kernel(),
        total
    );

    // Stage by stage: standardise + quantize (`Model::quantize_input`, the
    // code `Model::run` runs), each layer, dequantize.
    let (ok, q) = t.measure(|| m.quantize_input(black_box(&x[..n]), &mut scratch).is_ok());
    if !ok {
        mcu::exit(false);
    }
    let (a, b) = scratch.split_at_mut(64);
    defmt::println!("  {} quantize input ({}): {} instr", name, n, q);
    let (mut cur, mut next) = (a, b);
    let mut width = n;
    for i in 0..m.layers.len() {
        let Some(l) = m.layers.get(i) else {
            mcu::exit(false)
        };
        let out = l.output_len();
        let (r, instr) = t.measure(|| l.run(black_box(&cur[..width]), black_box(&mut next[..out])));
        if r.is_err() {
            mcu::exit(false);
        }
        match &l {
            axon_core::int8::Layer::FullyConnected(fc) => {
                let macs = (fc.input_len * fc.output_len) as u64;
                let per = (instr * 100 + macs / 2) / macs;
                defmt::println!(
                    "  {} layer {} fully_connected {}x{}: {} instr, {=u64}.{=u64:02}/MAC",
                    name,
                    i,
                    fc.input_len,
                    fc.output_len,
                    instr,
                    per / 100,
                    per % 100
                );
            }
            _ => defmt::println!(
                "  {} layer {} {} -> {}: {} instr",
                name,
                i,
                width,
                out,
                instr
            ),
        }
        core::mem::swap(&mut cur, &mut next);
        width = out;
    }
    let ((), d) = t.measure(|| {
        m.output
            .dequantize_slice(black_box(&cur[..width]), black_box(&mut y[..width]))
    });
    defmt::println!("  {} dequantize output ({}): {} instr", name, width, d);
}

/// Whole int8 inference with the compiled engine (float in and out) on the
/// first input row, checked against the generic model's codes.
fn compiled<const N: usize>(
    t: &Ticks,
    name: &str,
    c: &axon_core::int8::compiled::Model<'_, axon_core::int8::compiled::DoubleRounding>,
    m: &Model<'_>,
    buf: &mut axon_core::int8::compiled::Buffers<N>,
    inputs: &[u8],
) {
    let (n, k) = (c.input_len(), c.output_len());
    let mut x = [0f32; 64];
    let (mut codes, mut want) = ([0i8; 16], [0i8; 16]);
    let mut y = [0f32; 16];
    let mut scratch = [0i8; 128];
    if !input_row(inputs, n, 0, &mut x[..n]) {
        mcu::exit(false);
    }
    let ok = c.run(&x[..n], buf, &mut codes[..k], &mut y[..k]).is_ok();
    let same = m
        .run(&x[..n], &mut scratch, &mut want[..k], &mut y[..k])
        .is_ok()
        && want[..k] == codes[..k];
    if !(ok && same) {
        defmt::error!("compiled {}: not the generic model's codes", name);
        mcu::exit(false);
    }
    // Every row: the count depends on the data through the branches of the
    // softmax (which part of its table an element falls in) and of the
    // input rounding; the first row's, the mean and the largest.
    let (mut row, mut first, mut max, mut sum) = (0usize, 0u64, 0u64, 0u64);
    while input_row(inputs, n, row, &mut x[..n]) {
        let (ok, instr) = t.measure(|| {
            c.run(
                black_box(&x[..n]),
                buf,
                &mut codes[..k],
                black_box(&mut y[..k]),
            )
            .is_ok()
        });
        if !ok {
            mcu::exit(false);
        }
        if row == 0 {
            first = instr;
        }
        max = max.max(instr);
        sum += instr;
        row += 1;
    }
    defmt::println!(
        "inference {} int8 compiled (float in/out, packed 4-row kernel): {} instr (all {} rows: mean {}, max {})",
        name,
        first,
        row,
        sum / row.max(1) as u64,
        max
    );
}

/// The compiled engine's input quantization alone (`packed4::stage_groups`,
/// the assembly routine with the model's input parameters) on the first
/// data row.
fn compiled_input(t: &Ticks, name: &str, m: &axon_core::int8::Model<'_>, inputs: &[u8]) {
    use axon_core::kernels::packed4::{stage_groups, Quad};
    let n = m.input_len;
    let mut x = [0f32; 64];
    let mut quads = [Quad::default(); 16];
    if !n.is_multiple_of(4) || !input_row(inputs, n, 0, &mut x[..n]) {
        return;
    }
    let (scale, zp) = (m.input.scale, m.input.zero_point);
    let (done, instr) =
        t.measure(|| stage_groups(black_box(&x[..n]), None, scale, zp, -zp, &mut quads));
    defmt::println!(
        "  {} compiled input quantization ({} of {}): {} instr",
        name,
        done,
        n,
        instr
    );
}

/// Each compiled layer alone (`packed4::PackedDense::run_double`: the assembly
/// routine with its requantization and staging), on staged zeros.
fn compiled_layers(t: &Ticks, name: &str, layers: &[axon_core::int8::compiled::DenseLayer<'_>]) {
    use axon_core::kernels::packed4::Quad;
    let x = [Quad::default(); 16];
    let mut out = [Quad::default(); 16];
    for (i, l) in layers.iter().enumerate() {
        let ((), instr) = t.measure(|| l.run_double(black_box(&x), black_box(&mut out)));
        let macs = (l.inputs() * l.outputs()) as u64;
        let per = (instr * 100 + macs / 2) / macs;
        defmt::println!(
            "  {} compiled layer {} dense {}x{}: {} instr, {=u64}.{=u64:02}/MAC",
            name,
            i,
            l.inputs(),
            l.outputs(),
            instr,
            per / 100,
            per % 100
        );
    }
}

/// Instructions per MAC inside the compiled engine's layer routine
/// (`packed4::PackedDense::run_double`): 32 rows of 64 columns minus 32 rows of
/// 32, over the 1,024 MACs between them; the requantization and the per-row
/// work cancel.
fn packed_marginal(t: &Ticks, w: &[i8], x: &[i8]) {
    use axon_core::kernels::packed4::{
        pack_layer, staged_index, stream_len, Block, PackedDense, Quad, Scale,
    };
    let rows = 32;
    let mut quads = [Quad::default(); 16];
    for (i, &v) in x.iter().take(64).enumerate() {
        let j = staged_index(i);
        quads[j / 4].0[j % 4] = 2 * (v as i16 + 128);
    }
    let bias = [0i32; 32];
    let scale = [Scale::tensor(1 << 30, 9)];
    let mut cost = [0u64; 2];
    let mut out = [Quad::default(); 8];
    for (c, cols) in [32usize, 64].into_iter().enumerate() {
        let mut blocks = [Block([0; 16]); 8 * 17];
        let nb = stream_len(rows, cols);
        pack_layer(&w[..rows * cols], &bias, rows, cols, &mut blocks[..nb]);
        let layer = PackedDense::new(cols, rows, &blocks[..nb], &scale, 0, -128, 127);
        let q = &quads[..cols / 4];
        cost[c] = t
            .measure(|| layer.run_double(black_box(q), black_box(&mut out)))
            .1;
    }
    let macs = (rows * 32) as u64;
    let per = ((cost[1] - cost[0]) * 100 + macs / 2) / macs;
    defmt::println!(
        "kernel packed4 (compiled engine) inner loop: {=u64}.{=u64:02} instr/MAC (32x64 {} instr − 32x32 {} instr over 1024 MACs)",
        per / 100,
        per % 100,
        cost[1],
        cost[0]
    );
}

/// Whole f32 inference (soft `fmaf` and `expf` from libm).
fn inference_f32(t: &Ticks, name: &str, m: &F32Model, inputs: &[u8]) {
    let (mut x, mut a, mut b, mut y) = ([0f32; 64], [0f32; 64], [0f32; 64], [0f32; 64]);
    if !input_row(inputs, m.inputs, 0, &mut x[..m.inputs]) {
        mcu::exit(false);
    }
    let (ok, total) = t.measure(|| {
        m.run(
            black_box(&x[..m.inputs]),
            &mut a,
            &mut b,
            black_box(&mut y[..m.outputs]),
        )
        .is_ok()
    });
    if !ok {
        mcu::exit(false);
    }
    defmt::println!("inference {} f32: {} instr", name, total);
}

fn selected_kernel() -> &'static str {
    axon_core::kernels::dispatch::selected().name()
}
