//! Generates text from an exported int8 language model (`axon lm export`)
//! on the microcontroller: `axon_core::lm` — the model borrowed from its
//! blob in flash, a KV cache in RAM, the same `Generator` (sampler and
//! re-encode past the context) as `axon generate` on the host. `cargo
//! xtask lm` builds it around a blob and compares its tokens and logits
//! codes with the host's, token by token.
//!
//! The blob and the buffer sizes come from `$AXON_LM_DIR/model.axlm` and
//! `$AXON_LM_DIR/sizes.rs` at build time (written by `cargo xtask lm`), so
//! the linker proves the model and its RAM fit the board's memory map
//! (`--features board`: STM32F411CE). In QEMU the generation jobs (prompt
//! tokens, count, temperature, top-k, seed) are read from `jobs.bin`
//! through semihosting; on a board one built-in job runs.
//!
//! Prints, through defmt:
//! - `G model V D L H T F kv K scratch S blob B`
//! - per job `G job J` and, per generated token, `G tok J I TOKEN INSTR
//!   [logits…]`: the logits codes it was sampled from, and the instructions
//!   of sampling it and running it through the model;
//! - for the steps at positions 1, 64 and T (tokens attended), `G prof POS
//!   TOTAL [per op…]` in `axon_core::lm::OpKind` order.
#![no_std]
#![no_main]

use axon_core::lm::{self, Generator, OpKind, Probe, Sampler, Session};
use axon_firmware::mcu::{self, Ticks};
use axon_firmware::models::Aligned;
use cortex_m_rt::entry;

mod sizes {
    include!(concat!(env!("AXON_LM_DIR"), "/sizes.rs"));
}

/// The model, on a 4-byte boundary for the parser.
static BLOB: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("AXON_LM_DIR"), "/model.axlm")));

/// Counts instructions per op of one step from SysTick.
struct OpClock<'t> {
    ticks: &'t Ticks,
    last: u64,
    per_op: [u64; OpKind::ALL.len()],
}

impl Probe for OpClock<'_> {
    #[inline(always)]
    fn begin(&mut self) {
        self.last = self.ticks.now();
    }

    #[inline(always)]
    fn end(&mut self, op: OpKind, _layer: Option<u8>) {
        let now = self.ticks.now();
        let instr = self.ticks.instructions(now.wrapping_sub(self.last));
        if let Some(slot) = self.per_op.get_mut(op as usize) {
            *slot += instr;
        }
        self.last = self.ticks.now();
    }
}

/// One generation: prompt tokens, how many to generate, the sampler's
/// parameters.
struct Job<'j> {
    prompt: &'j [u8],
    tokens: u32,
    temperature: f32,
    top_k: u32,
    seed: u64,
}

/// The jobs file: `AXLJ`, u32 count, then per job u64 seed, f32
/// temperature, u32 top-k, u32 tokens, u32 prompt length, the prompt's
/// tokens, zero padding to 4 bytes (all little-endian).
struct Jobs<'j> {
    bytes: &'j [u8],
    at: usize,
    left: u32,
}

impl<'j> Jobs<'j> {
    fn new(bytes: &'j [u8]) -> Option<Self> {
        if bytes.get(..4)? != b"AXLJ" {
            return None;
        }
        let left = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
        Some(Jobs { bytes, at: 8, left })
    }

    fn u32(&mut self) -> Option<u32> {
        let v = u32::from_le_bytes(self.bytes.get(self.at..self.at + 4)?.try_into().ok()?);
        self.at += 4;
        Some(v)
    }
}

impl<'j> Iterator for Jobs<'j> {
    type Item = Option<Job<'j>>;

    /// The next job, `Some(None)` for a malformed one.
    fn next(&mut self) -> Option<Option<Job<'j>>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut job = || {
            let seed = self.u32()? as u64 | (self.u32()? as u64) << 32;
            let temperature = f32::from_bits(self.u32()?);
            let top_k = self.u32()?;
            let tokens = self.u32()?;
            let len = self.u32()? as usize;
            let prompt = self.bytes.get(self.at..self.at + len)?;
            self.at += len.div_ceil(4) * 4;
            Some(Job {
                prompt,
                tokens,
                temperature,
                top_k,
                seed,
            })
        };
        Some(job())
    }
}

/// The positions (tokens attended) whose steps are profiled per op.
fn profiled(pos: usize, ctx: usize) -> bool {
    pos == 1 || pos == 64 || pos == ctx
}

fn run_job(
    model: &lm::LmModel<'_>,
    ticks: &Ticks,
    j: usize,
    job: &Job<'_>,
    kv: &mut [i8],
    scratch: &mut [i8],
) -> bool {
    let sampler = match Sampler::new(
        model.logits.scale,
        job.temperature,
        job.top_k as usize,
        job.seed,
    ) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("generate: job {=usize}: {}", j, defmt::Display2Format(&e));
            return false;
        }
    };
    let probe = OpClock {
        ticks,
        last: 0,
        per_op: [0; OpKind::ALL.len()],
    };
    let session = match Session::with_probe(model, kv, scratch, probe) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("generate: {}", defmt::Display2Format(&e));
            return false;
        }
    };
    let ctx = model.shape.ctx;
    let mut g = Generator::new(session, sampler);
    defmt::println!("G job {=usize}", j);
    // Each fed token runs at the position before it (unless the window is
    // re-encoded first, at the context's end): profile the steps attending
    // to 1, 64 and T tokens.
    let report = |g: &Generator<'_, '_, OpClock<'_>>, attended: usize, total: u64| {
        if profiled(attended, ctx) {
            defmt::println!(
                "G prof {=usize} {=u64} {=[?]}",
                attended,
                total,
                &g.session.probe.per_op[..]
            );
        }
    };
    for &t in job.prompt {
        let before = g.session.pos();
        g.session.probe.per_op = [0; OpKind::ALL.len()];
        let (r, instr) = ticks.measure(|| g.feed(t));
        if let Err(e) = r {
            defmt::error!("generate: prompt: {}", defmt::Display2Format(&e));
            return false;
        }
        if before < ctx {
            report(&g, before + 1, instr);
        }
    }
    for i in 0..job.tokens as usize {
        let mut logits = [0i8; 256];
        let v = model.shape.vocab;
        logits[..v].copy_from_slice(g.session.logits());
        let before = g.session.pos();
        g.session.probe.per_op = [0; OpKind::ALL.len()];
        let (r, instr) = ticks.measure(|| g.next_token());
        let token = match r {
            Ok(t) => t,
            Err(e) => {
                defmt::error!("generate: token {=usize}: {}", i, defmt::Display2Format(&e));
                return false;
            }
        };
        defmt::println!(
            "G tok {=usize} {=usize} {=u8} {=u64} {=[?]}",
            j,
            i,
            token,
            instr,
            &logits[..v]
        );
        if before < ctx {
            report(&g, before + 1, instr);
        }
    }
    true
}

#[entry]
fn main() -> ! {
    let (Some(kv), Some(scratch)) = (
        cortex_m::singleton!(: [i8; sizes::KV_LEN] = [0; sizes::KV_LEN]),
        cortex_m::singleton!(: [i8; sizes::SCRATCH_LEN] = [0; sizes::SCRATCH_LEN]),
    ) else {
        mcu::exit(false)
    };
    let Some(cp) = cortex_m::Peripherals::take() else {
        mcu::exit(false)
    };
    let ticks = Ticks::start(cp.SYST);
    let model = match lm::parse(&BLOB.0) {
        Ok(m) => m,
        Err(e) => {
            defmt::error!(
                "generate: the blob is rejected: {}",
                defmt::Display2Format(&e)
            );
            mcu::exit(false)
        }
    };
    let s = model.shape;
    defmt::println!(
        "G model {=usize} {=usize} {=usize} {=usize} {=usize} {=usize} kv {=usize} scratch {=usize} blob {=usize}",
        s.vocab,
        s.d_model,
        s.n_layer,
        s.n_head,
        s.ctx,
        s.d_ff,
        model.kv_len(),
        model.scratch_len(),
        BLOB.0.len()
    );
    #[cfg(feature = "qemu")]
    let ok = {
        let Some(buf) = cortex_m::singleton!(: [u8; 16384] = [0; 16384]) else {
            mcu::exit(false)
        };
        let Some(n) = mcu::read_host_file(b"jobs.bin\0", buf) else {
            defmt::error!("generate: cannot read jobs.bin (at most 16384 bytes)");
            mcu::exit(false)
        };
        let Some(jobs) = Jobs::new(&buf[..n]) else {
            defmt::error!("generate: jobs.bin is not a jobs file");
            mcu::exit(false)
        };
        let mut ok = true;
        for (j, job) in jobs.enumerate() {
            let Some(job) = job else {
                defmt::error!("generate: job {=usize} is malformed", j);
                mcu::exit(false)
            };
            ok &= run_job(&model, &ticks, j, &job, kv, scratch);
        }
        ok
    };
    #[cfg(not(feature = "qemu"))]
    let ok = {
        // One built-in job on a board: token 0 (the vocabulary's first
        // character, a newline for the bundled corpus), 200 tokens.
        let job = Job {
            prompt: &[0],
            tokens: 200,
            temperature: 0.8,
            top_k: 20,
            seed: 1,
        };
        let _ = Jobs::new(&[]);
        run_job(&model, &ticks, 0, &job, kv, scratch)
    };
    defmt::println!("G done");
    mcu::exit(ok)
}
