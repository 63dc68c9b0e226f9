//! Instructions, counted by SysTick under QEMU `-icount` (see
//! `axon_firmware::mcu::Ticks`), of the exported models and their parts:
//!
//! * whole inferences, float in and float out, of every model (digits,
//!   sine, digits_residual; int8 and f32): the generated `forward()` and
//!   the model's `GRAPH` through `axon_core::Interpreter`, on the first
//!   data row and on every row (mean and largest);
//! * `forward()`'s packed layers alone (`PackedDense::run_double`), its
//!   input quantization alone (`stage_groups`), and `GRAPH` node by node
//!   (through the interpreter: the difference of running one more node);
//! * the packed layer routine's instructions per MAC (a 32 × 64 layer minus
//!   a 32 × 32 one), and the generic int8 kernel's (`CortexMDsp`, scalar),
//!   per layer shape of the bundled models and per MAC.
//!
//! `cargo xtask bench` runs it twice: as built, and with `AXON_NO_DSP=1`
//! (the plain-Rust kernels, f32 through `libm::fmaf`).
#![no_std]
#![no_main]

use axon_core::graph::arena::Arena;
use axon_core::graph::{staged_index, Graph, Quad};
#[cfg(dsp_kernel)]
use axon_core::kernels::cortex_m::CortexMDsp;
use axon_core::kernels::gemv_i8::Scalar;
use axon_core::kernels::FullyConnectedParams;
use axon_core::ops::fully_connected::packed4::{pack_layer, stream_len, Block, PackedDense, Scale};
use axon_core::quant::Rounding;
use axon_core::Interpreter;
use axon_firmware::mcu::{self, Ticks};
use axon_firmware::models::{self, input_row};
use core::hint::black_box;
use cortex_m_rt::entry;

const MAX: usize = 64 * 32;
/// Widest input or output of a bundled model.
const MAXW: usize = 64;
/// Largest interpreter arena of a bundled model's `GRAPH`.
const GRAPH_ARENA: usize = 1024;

type Fc = fn(&[i8], &[i8], &[i32], &FullyConnectedParams<'_>, &mut [i8]);
/// A generated `forward()`.
type Forward<const N: usize, const K: usize, const A: usize> =
    fn(&[f32; N], &mut Arena<A>, &mut [f32; K]) -> Result<(), axon_core::Error>;
/// `Interpreter::run_f32`.
type RunF32 =
    fn(&Interpreter<'static>, &[f32], &mut [f32], &mut [u8]) -> Result<(), axon_core::Error>;

/// Instructions per MAC in hundredths, rounded.
fn per_mac(instr: u64, macs: u64) -> u64 {
    (instr * 100 + macs / 2) / macs.max(1)
}

/// First, mean and largest of a count over all rows.
#[derive(Default)]
struct Stats {
    rows: u64,
    first: u64,
    sum: u64,
    max: u64,
}

impl Stats {
    fn add(&mut self, instr: u64) {
        if self.rows == 0 {
            self.first = instr;
        }
        self.rows += 1;
        self.sum += instr;
        self.max = self.max.max(instr);
    }
    fn mean(&self) -> u64 {
        self.sum / self.rows.max(1)
    }
}

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

/// `forward()` of a generated module on every row of `$inputs` (checked
/// against `GRAPH` through the interpreter on the first), then `GRAPH`
/// through the interpreter on every row and node by node.
macro_rules! bench_model {
    ($t:expr, $m:ident, $name:literal, $kind:literal, $inputs:expr) => {{
        use models::$m as m;
        let t: &Ticks = $t;
        let mut arena = m::Arena::new();
        let mut x = [0f32; m::INPUT_LEN];
        let mut y = [0f32; m::OUTPUT_LEN];
        // Called through a pointer the optimiser cannot see through: the
        // cost of `forward()` as compiled on its own (as an application's
        // call of it), not of a copy inlined into this large function.
        let forward: Forward<{ m::INPUT_LEN }, { m::OUTPUT_LEN }, { m::ARENA_LEN }> =
            black_box(m::forward);
        let mut fwd = Stats::default();
        let mut row = 0;
        while input_row($inputs, m::INPUT_LEN, row, &mut x) {
            let (ok, instr) =
                t.measure(|| forward(black_box(&x), &mut arena, black_box(&mut y)).is_ok());
            if !ok {
                defmt::error!("{=str} {=str} forward() failed", $name, $kind);
                mcu::exit(false);
            }
            if row == 0 {
                check_graph($name, m::GRAPH, &x, &y);
            }
            fwd.add(instr);
            row += 1;
        }
        defmt::println!(
            "inference {=str} {=str} forward() (float in/out): {=u64} instr (all {=u64} rows: mean {=u64}, max {=u64})",
            $name, $kind, fwd.first, fwd.rows, fwd.mean(), fwd.max
        );
        graph($t, $name, $kind, m::GRAPH, $inputs);
    }};
}

/// The first row's `forward()` outputs must be `GRAPH`'s, bit for bit.
fn check_graph(name: &str, g: Graph<'static>, x: &[f32], y: &[f32]) {
    let mut arena = Arena::<GRAPH_ARENA>::new();
    let mut want = [0f32; MAXW];
    let ok = Interpreter::new(g).is_ok_and(|it| {
        let want = &mut want[..y.len()];
        it.run_f32(x, want, &mut arena.0).is_ok()
            && want.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits())
    });
    if !ok {
        defmt::error!("{=str}: forward() is not GRAPH's bits", name);
        mcu::exit(false);
    }
}

/// `GRAPH` through the interpreter: every row (first, mean, largest), then
/// node by node on the first row (running nodes `0..=k` minus `0..k`).
fn graph(t: &Ticks, name: &str, kind: &str, g: Graph<'static>, inputs: &[u8]) {
    let Ok(it) = Interpreter::new(g) else {
        defmt::error!("{=str}: GRAPH does not validate", name);
        mcu::exit(false)
    };
    let (Some(i), Some(o)) = (g.input(0), g.output(0)) else {
        mcu::exit(false)
    };
    let (n, k) = (i.len(), o.len());
    let mut arena = Arena::<GRAPH_ARENA>::new();
    let (mut x, mut y) = ([0f32; MAXW], [0f32; MAXW]);
    // Through a pointer, as `forward()` (see `bench_model!`).
    let run_f32: RunF32 = black_box(Interpreter::run_f32);
    let mut all = Stats::default();
    let mut row = 0;
    while input_row(inputs, n, row, &mut x[..n]) {
        let (ok, instr) = t.measure(|| {
            run_f32(
                &it,
                black_box(&x[..n]),
                black_box(&mut y[..k]),
                &mut arena.0,
            )
            .is_ok()
        });
        if !ok {
            mcu::exit(false);
        }
        all.add(instr);
        row += 1;
    }
    defmt::println!(
        "inference {=str} {=str} GRAPH (interpreter, {=str} kernel, float in/out): {=u64} instr (all {=u64} rows: mean {=u64}, max {=u64})",
        name, kind, selected_kernel(), all.first, all.rows, all.mean(), all.max
    );
    if !input_row(inputs, n, 0, &mut x[..n]) {
        mcu::exit(false);
    }
    let mut before = 0;
    for end in 0..=g.nodes.len() {
        let (ok, instr) = t.measure(|| {
            let mut out = [axon_core::ops::ViewMut::F32(&mut y[..k])];
            it.run_until(
                end,
                &[axon_core::ops::View::F32(black_box(&x[..n]))],
                &mut out,
                &mut arena.0,
            )
            .is_ok()
        });
        if !ok {
            mcu::exit(false);
        }
        if let Some(node) = end.checked_sub(1).and_then(|i| g.nodes.get(i)) {
            let macs = g.signature(&node).map_or(0, |s| node.op.macs(&s));
            let cost = instr.saturating_sub(before);
            if macs > 0 {
                let per = per_mac(cost, macs);
                defmt::println!(
                    "  {=str} {=str} GRAPH node {=usize} {=str}: {=u64} instr, {=u64} MACs, {=u64}.{=u64:02}/MAC",
                    name, kind, end - 1, node.op.name(), cost, macs, per / 100, per % 100
                );
            } else {
                defmt::println!(
                    "  {=str} {=str} GRAPH node {=usize} {=str}: {=u64} instr",
                    name,
                    kind,
                    end - 1,
                    node.op.name(),
                    cost
                );
            }
        }
        before = instr;
    }
}

/// Each of `forward()`'s packed layers alone
/// (`PackedDense::run_double`: the assembly routine with its
/// requantization and staging), on staged zeros.
fn packed_layers(t: &Ticks, name: &str, layers: &[&PackedDense<'_>]) {
    let x = [Quad::default(); 16];
    let mut out = [Quad::default(); 16];
    for (i, l) in layers.iter().enumerate() {
        let ((), instr) = t.measure(|| l.run_double(black_box(&x), black_box(&mut out)));
        let macs = (l.inputs() * l.outputs()) as u64;
        let per = per_mac(instr, macs);
        defmt::println!(
            "  {=str} forward() packed layer {=usize} dense {=usize}x{=usize}: {=u64} instr, {=u64}.{=u64:02}/MAC",
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

/// `forward()`'s input quantization alone (`stage_groups`, the assembly
/// routine where there is one, with the parameters of `GRAPH`'s quantize
/// node) on the first data row.
fn staged_input(t: &Ticks, name: &str, g: Graph<'static>, inputs: &[u8]) {
    use axon_core::ops::quantize::staged::stage_groups;
    let params = g
        .nodes
        .get(0)
        .and_then(|n| g.tensor(n.output))
        .and_then(|t| t.params());
    let (Some(p), Some(i)) = (params, g.input(0)) else {
        return;
    };
    let n = i.len().min(MAXW);
    let mut x = [0f32; MAXW];
    let mut quads = [Quad::default(); MAXW / 4];
    if !input_row(inputs, n, 0, &mut x[..n]) {
        return;
    }
    let (scale, zp) = (p.scale, p.zero_point);
    let (done, instr) =
        t.measure(|| stage_groups(black_box(&x[..n]), None, scale, zp, -zp, &mut quads));
    defmt::println!(
        "  {=str} forward() input quantization (stage_groups, {=usize} of {=usize}): {=u64} instr",
        name,
        done,
        n,
        instr
    );
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

    // The generic int8 kernel (the interpreter's fully connected layer):
    // (network, rows, cols).
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
        let acc = |v: u64| v.saturating_sub(requant);
        let (ps, pss, pd, pdd) = (
            per_mac(scalar, macs),
            per_mac(acc(scalar), macs),
            per_mac(dsp, macs),
            per_mac(acc(dsp), macs),
        );
        defmt::println!(
            "layer {} {}x{} ({} MACs): scalar {} instr ({=u64}.{=u64:02}/MAC, {=u64}.{=u64:02} without requant) | dsp {} instr ({=u64}.{=u64:02}/MAC, {=u64}.{=u64:02} without requant) | requant {}",
            net, cols, rows, macs,
            scalar, ps / 100, ps % 100, pss / 100, pss % 100,
            dsp, pd / 100, pd % 100, pdd / 100, pdd % 100,
            requant
        );
    }
    marginal(&t, &w, &x, &bias, &mult, &shift);
    packed_marginal(&t, &w, &x);

    let (digits, sine) = (models::DIGITS_INPUTS, models::SINE_INPUTS);
    bench_model!(&t, digits_int8, "digits", "int8", digits);
    packed_layers(&t, "digits", &models::digits_int8::PACKED);
    staged_input(&t, "digits", models::digits_int8::GRAPH, digits);
    bench_model!(&t, sine_int8, "sine", "int8", sine);
    packed_layers(&t, "sine", &models::sine_int8::PACKED);
    bench_model!(&t, digits_residual_int8, "digits_residual", "int8", digits);
    packed_layers(&t, "digits_residual", &models::digits_residual_int8::PACKED);
    staged_input(
        &t,
        "digits_residual",
        models::digits_residual_int8::GRAPH,
        digits,
    );
    bench_model!(&t, digits_f32, "digits", "f32", digits);
    bench_model!(&t, sine_f32, "sine", "f32", sine);
    bench_model!(&t, digits_residual_f32, "digits_residual", "f32", digits);
    mcu::exit(true)
}

/// Instructions per MAC inside the generic kernel: the cost of 32 more
/// columns on 30 rows (64 − 32), so per-call and per-row work
/// (requantization, loop set-up) cancels; what is left is the
/// multiply-accumulate loop and the input staging.
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
        let per = per_mac(cost[1] - cost[0], (rows * 32) as u64);
        defmt::println!(
            "kernel {} inner loop: {=u64}.{=u64:02} instr/MAC (30x64 {} instr − 30x32 {} instr over 960 MACs)",
            name, per / 100, per % 100, cost[1], cost[0]
        );
    }
}

/// Instructions per MAC inside the packed layer routine
/// (`PackedDense::run_double`): 32 rows of 64 columns minus 32 rows of
/// 32, over the 1,024 MACs between them; the requantization and the
/// per-row work cancel.
fn packed_marginal(t: &Ticks, w: &[i8], x: &[i8]) {
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
    let per = per_mac(cost[1] - cost[0], (rows * 32) as u64);
    defmt::println!(
        "kernel packed4 (forward()'s layer routine) inner loop: {=u64}.{=u64:02} instr/MAC (32x64 {} instr − 32x32 {} instr over 1024 MACs)",
        per / 100,
        per % 100,
        cost[1],
        cost[0]
    );
}

fn selected_kernel() -> &'static str {
    axon_core::kernels::dispatch::selected().name()
}
