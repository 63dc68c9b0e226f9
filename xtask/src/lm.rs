//! `cargo xtask lm`: the int8 language model on the microcontroller.
//!
//! Builds the `generate` firmware around an exported blob (`axon lm
//! quantize --out`), runs generation jobs in QEMU (several prompts, seeds,
//! temperatures, greedy; past the context) and compares every token and
//! every logits code with `axon generate` on the host (the same
//! `axon_core::lm::Generator`). Prints instructions per token at positions
//! 1, 64 and T split by op, and per weight multiply-accumulate. With
//! `--board`, also links it for the STM32F411CE memory map (512 KiB flash,
//! 128 KiB RAM): the link proves the model, engine and buffers fit; prints
//! flash and RAM, model and engine apart.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use axon_core::lm::OpKind;
use axon_host::lm::generate::{generate_int8, GenOptions};
use axon_host::lm::int8::AlignedBlob;

use crate::firmware::{build, cargo_fw, fw_dir, qemu_in, sections};

/// A generation job, as the firmware's `jobs.bin` holds it.
struct Job {
    prompt: Vec<u8>,
    tokens: usize,
    temperature: f32,
    top_k: usize,
    seed: u64,
}

/// The jobs: several prompts, seeds and temperatures, greedy among them,
/// the first one long enough to cross the context twice (≥ 500 tokens in
/// all).
fn jobs(model: &axon_core::lm::LmModel<'_>) -> Vec<Job> {
    let enc = |s: &str| -> Vec<u8> {
        let t: Option<Vec<u8>> = s.chars().map(|c| model.token_of(c)).collect();
        t.unwrap_or_else(|| vec![0])
    };
    let t = model.shape.ctx;
    vec![
        Job {
            prompt: enc("\n"),
            tokens: (2 * t + t / 2).max(300),
            temperature: 0.8,
            top_k: 40,
            seed: 1,
        },
        Job {
            prompt: enc("ROMEO:"),
            tokens: 120,
            temperature: 0.0,
            top_k: 1,
            seed: 0,
        },
        Job {
            prompt: enc("First Citizen:\n"),
            tokens: 100,
            temperature: 1.0,
            top_k: 5,
            seed: 42,
        },
        Job {
            prompt: enc("KING"),
            tokens: 60,
            temperature: 0.5,
            top_k: 256,
            seed: 7,
        },
    ]
}

fn jobs_bin(jobs: &[Job]) -> Vec<u8> {
    let mut b = b"AXLJ".to_vec();
    b.extend((jobs.len() as u32).to_le_bytes());
    for j in jobs {
        b.extend(j.seed.to_le_bytes());
        b.extend(j.temperature.to_bits().to_le_bytes());
        b.extend((j.top_k as u32).to_le_bytes());
        b.extend((j.tokens as u32).to_le_bytes());
        b.extend((j.prompt.len() as u32).to_le_bytes());
        b.extend(&j.prompt);
        b.resize(b.len().div_ceil(4) * 4, 0);
    }
    b
}

/// The numbers inside the last `[…]` of a line.
fn bracket<T: std::str::FromStr>(line: &str) -> Option<Vec<T>> {
    let inner = line.rsplit_once('[')?.1.split_once(']')?.0;
    inner
        .split(',')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

/// One generated token as the firmware printed it.
struct FwToken {
    token: u8,
    instr: u64,
    logits: Vec<i8>,
}

fn parse_tokens(text: &str, njobs: usize) -> Result<Vec<Vec<FwToken>>> {
    let mut out: Vec<Vec<FwToken>> = (0..njobs).map(|_| Vec::new()).collect();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("G tok ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().take(4).collect();
        let [j, i, tok, instr] = f[..] else {
            bail!("malformed firmware line {line:?}")
        };
        let (j, i): (usize, usize) = (j.parse()?, i.parse()?);
        let slot = out
            .get_mut(j)
            .with_context(|| format!("job {j} in {line:?}"))?;
        if i != slot.len() {
            bail!("job {j}: token {i} out of order");
        }
        slot.push(FwToken {
            token: tok.parse()?,
            instr: instr.parse()?,
            logits: bracket(line).with_context(|| format!("no logits in {line:?}"))?,
        });
    }
    Ok(out)
}

/// The per-op profile lines: attended positions → (total, per op).
fn parse_profiles(text: &str) -> Vec<(usize, u64, Vec<u64>)> {
    let mut out: Vec<(usize, u64, Vec<u64>)> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("G prof ") else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let (Some(Ok(pos)), Some(Ok(total))) =
            (it.next().map(str::parse), it.next().map(str::parse))
        else {
            continue;
        };
        if out.iter().any(|p| p.0 == pos) {
            continue;
        }
        if let Some(per) = bracket(line) {
            out.push((pos, total, per));
        }
    }
    out.sort_by_key(|p| p.0);
    out
}

/// Runs the comparison for `blob` on `machine`; with `board`, the
/// STM32F411CE link too. Returns the tokens compared.
pub fn lm(blob: &Path, machine: &str, board: bool) -> Result<usize> {
    let bytes = std::fs::read(blob).with_context(|| format!("reading {}", blob.display()))?;
    let aligned = AlignedBlob::new(&bytes);
    let model = aligned
        .model()
        .with_context(|| format!("{} is not a valid int8 LM", blob.display()))?;
    let s = model.shape;
    let dir: PathBuf = fw_dir().join("target").join("lm");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("model.axlm"), &bytes)?;
    std::fs::write(
        dir.join("sizes.rs"),
        format!(
            "/// KV cache bytes.\npub const KV_LEN: usize = {};\n/// Scratch bytes.\npub const SCRATCH_LEN: usize = {};\n",
            model.kv_len(),
            model.scratch_len()
        ),
    )?;
    let jobs = jobs(&model);
    std::fs::write(dir.join("jobs.bin"), jobs_bin(&jobs))?;
    let lm_dir = dir.to_str().context("a UTF-8 path")?.to_string();
    let envs = [("AXON_LM_DIR", lm_dir.as_str())];

    let elf = build("generate", "release", &["lm"], "target", &envs)?;
    let text = qemu_in(&elf, machine, Some(&dir))?;
    std::fs::write(dir.join("qemu.txt"), &text)?;
    if let Some(line) = text.lines().find(|l| l.contains("G model")) {
        println!("{machine}: {}", line.trim());
    }
    let fw = parse_tokens(&text, jobs.len())?;
    let mut compared = 0usize;
    let mut codes = 0usize;
    for (j, (job, fw)) in jobs.iter().zip(&fw).enumerate() {
        let host = generate_int8(
            &model,
            &GenOptions {
                prompt: job.prompt.clone(),
                tokens: job.tokens,
                temperature: job.temperature,
                top_k: job.top_k,
                seed: job.seed,
            },
        )?;
        if fw.len() != job.tokens {
            bail!(
                "job {j}: the firmware generated {} tokens, {} asked",
                fw.len(),
                job.tokens
            );
        }
        for (i, (f, (&ht, hl))) in fw
            .iter()
            .zip(host.tokens.iter().zip(&host.logits))
            .enumerate()
        {
            if f.logits != *hl {
                let k = f
                    .logits
                    .iter()
                    .zip(hl)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                bail!(
                    "job {j}, token {i}: logits code {k} is {} in QEMU, {} on the host",
                    f.logits.get(k).copied().unwrap_or(0),
                    hl.get(k).copied().unwrap_or(0)
                );
            }
            if f.token != ht {
                bail!(
                    "job {j}, token {i}: QEMU sampled {}, the host {ht}",
                    f.token
                );
            }
            codes += hl.len();
        }
        compared += fw.len();
        let text: String = fw
            .iter()
            .map(|t| model.char_of(t.token).unwrap_or('?'))
            .collect();
        let mean = fw.iter().map(|t| t.instr).sum::<u64>() / fw.len().max(1) as u64;
        println!(
            "job {j}: {} tokens (T {:.1}, top-k {}, seed {}): equal; {mean} instructions per token on average (re-encodes included): {:?}",
            fw.len(),
            job.temperature,
            job.top_k,
            job.seed,
            text.chars().take(60).collect::<String>()
        );
    }
    println!(
        "lm: {compared} generated tokens and {codes} logits codes in QEMU ({machine}) == axon generate on {}, every one",
        blob.display()
    );
    let macs = weight_macs(&s) as f64;
    println!("instructions per token step by position (tokens attended), split by op:");
    let names: Vec<&str> = OpKind::ALL.iter().map(|o| o.name()).collect();
    println!(
        "{:>5} {:>10} {:>8}  {}",
        "pos",
        "total",
        "/w-MAC",
        names.join(" ")
    );
    for (pos, total, per) in parse_profiles(&text) {
        let cells: Vec<String> = per.iter().map(|v| v.to_string()).collect();
        println!(
            "{pos:>5} {total:>10} {:>8.2}  {}",
            total as f64 / macs,
            cells.join(" ")
        );
    }
    println!("weight MACs per token: {}", weight_macs(&s));
    if board {
        board_link(&lm_dir, bytes.len())?;
    }
    Ok(compared)
}

/// Weight multiply-accumulates of one token step (QKV, projection,
/// feed-forward, head).
pub fn weight_macs(s: &axon_core::lm::Shape) -> usize {
    let (d, f) = (s.d_model, s.d_ff);
    s.n_layer * (4 * d * d + 2 * d * f) + s.vocab * d
}

/// Links `generate` for the STM32F411CE and prints its memory.
fn board_link(lm_dir: &str, blob_len: usize) -> Result<()> {
    let sub = "target/board";
    cargo_fw(
        &[
            "build",
            "--quiet",
            "--release",
            "--bin",
            "generate",
            "--no-default-features",
            "--features",
            "board,lm",
        ],
        sub,
        &[("AXON_LM_DIR", lm_dir)],
    )
    .context("linking the generator for the STM32F411CE (512 KiB flash, 128 KiB RAM)")?;
    let elf = fw_dir()
        .join(sub)
        .join("thumbv7em-none-eabihf/release/generate");
    let sec = sections(&elf)?;
    let get = |k: &str| sec.get(k).copied().unwrap_or(0);
    let flash = get(".vector_table") + get(".text") + get(".rodata") + get(".data");
    let ram = get(".data") + get(".bss") + get(".uninit");
    println!(
        "STM32F411CE link: flash {flash} B of 524,288 (model {blob_len} B, engine and firmware {} B), static RAM {ram} B of 131,072",
        flash as usize - blob_len.min(flash as usize)
    );
    Ok(())
}

/// The small configuration CI trains (seconds), as `axon lm train` flags.
pub const CI_TRAIN: &[&str] = &[
    "--d-model",
    "32",
    "--n-layer",
    "2",
    "--n-head",
    "2",
    "--ctx",
    "64",
    "--d-ff",
    "128",
    "--steps",
    "300",
    "--batch",
    "16",
    "--warmup",
    "30",
    "--seed",
    "1",
];

/// `axon` (release build) with `args`, from the repository root.
fn axon_release(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(crate::models::root())
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "axon-host",
            "--bin",
            "axon",
            "--",
        ])
        .args(args)
        .status()
        .context("running axon")?;
    if !status.success() {
        bail!("axon {} failed", args.join(" "));
    }
    Ok(())
}

/// What `cargo xtask ci` runs: a small model trained, quantized and
/// compared in QEMU; the default configuration (untrained: the same size,
/// the same instructions) compared, profiled and linked for the
/// STM32F411CE.
pub fn ci(machine: &str) -> Result<()> {
    let out = crate::models::root().join("out").join("lm-ci");
    std::fs::create_dir_all(&out)?;
    let p = |f: &str| out.join(f).to_string_lossy().into_owned();
    let (small, small_q) = (p("small.json"), p("small.axlm"));
    let mut args = vec![
        "lm",
        "train",
        "--text",
        "bundled:tinyshakespeare",
        "--out",
        small.as_str(),
        "--quiet",
    ];
    args.extend_from_slice(CI_TRAIN);
    axon_release(&args)?;
    axon_release(&[
        "lm",
        "quantize",
        "--model",
        &small,
        "--text",
        "bundled:tinyshakespeare",
        "--out",
        &small_q,
    ])?;
    lm(Path::new(&small_q), machine, false)?;
    let (def, def_q) = (p("default.json"), p("default.axlm"));
    axon_release(&[
        "lm",
        "train",
        "--text",
        "bundled:tinyshakespeare",
        "--steps",
        "0",
        "--out",
        &def,
        "--quiet",
    ])?;
    axon_release(&[
        "lm",
        "quantize",
        "--model",
        &def,
        "--text",
        "bundled:tinyshakespeare",
        "--out",
        &def_q,
    ])?;
    lm(Path::new(&def_q), machine, true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_lines_parse() {
        let text = "G prof 1 57074 [2207, 11563, 8740]\nG tok 0 0 5 100 [1, -2, 3]\nG prof 16 88867 [1, 2, 3]\nG prof 16 9 [4, 5, 6]\n";
        let p = parse_profiles(text);
        assert_eq!(
            p,
            vec![
                (1, 57074, vec![2207, 11563, 8740]),
                (16, 88867, vec![1, 2, 3])
            ]
        );
        let t = parse_tokens(text, 1).unwrap();
        assert_eq!(
            (t[0][0].token, t[0][0].instr, t[0][0].logits.clone()),
            (5, 100, vec![1, -2, 3])
        );
    }
}
