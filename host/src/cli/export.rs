//! `axon export`: an int8 model as a checksummed binary blob for the MCU
//! and/or as Rust source for `include!`.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::export::{summary, write_blob, write_rust, AlignedBytes, BlobOptions};
use crate::model::write_atomic;
use crate::quantize::Int8Model;

/// Arguments of `axon export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The int8 model file (from `axon quantize`).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the binary blob (docs/blob-format.md).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write the model as Rust `static` items: the generic engine's
    /// `MODEL` and, when the model fits it, the compiled engine's `COMPILED`
    /// (packed weights; same bits, fewer instructions and less flash).
    #[arg(long)]
    pub rust: Option<PathBuf>,
    /// Store weight-row sums in the blob (for the desktop VNNI kernel; costs
    /// 4 bytes per output of flash).
    #[arg(long)]
    pub row_sums: bool,
}

/// Exports and reports sizes.
pub fn run(a: Args) -> anyhow::Result<()> {
    if a.out.is_none() && a.rust.is_none() {
        bail!("nothing to do: give --out FILE (blob), --rust FILE (Rust source), or both");
    }
    let m = Int8Model::load(&a.model)?;
    let layers = m.core_layers();
    let scratch = m.core_model(&layers).scratch_len();
    println!("model     {}", summary(&m));
    if let Some(path) = &a.out {
        let blob = write_blob(
            &m,
            BlobOptions {
                row_sums: a.row_sums,
            },
        )?;
        // Parse what was written with the MCU's own parser before trusting it.
        let aligned = AlignedBytes::new(&blob);
        let parsed = axon_core::blob::parse(aligned.as_bytes())
            .map_err(|e| anyhow::anyhow!("internal error: the written blob does not parse: {e}"))?;
        write_atomic(path, &blob)?;
        let crc = u32::from_le_bytes(
            blob[blob.len() - 4..]
                .try_into()
                .context("blob shorter than its CRC")?,
        );
        println!(
            "blob      {} bytes, CRC-32 {crc:#010x}, {} layers → {}",
            blob.len(),
            parsed.layers.len(),
            path.display()
        );
    }
    if let Some(path) = &a.rust {
        let src = write_rust(&m, &a.model.display().to_string())?;
        write_atomic(path, src.as_bytes())?;
        println!(
            "rust      {} bytes of source → {}",
            src.len(),
            path.display()
        );
        match crate::export::compiled_support(&m) {
            Ok(()) => println!(
                "compiled  COMPILED in the Rust source (axon_core::int8::compiled: packed weights, same bits)"
            ),
            Err(why) => println!("compiled  none in the Rust source: {why}"),
        }
    }
    println!("scratch   {scratch} bytes of RAM per inference (plus the caller's input and output)");
    Ok(())
}

/// `axon demo`'s export step: the quantize step's model as `model.axon`
/// and `model.rs`, checked to run bit-identically to the int8 JSON on the
/// validation rows.
pub fn demo_step(d: &mut super::demo::Demo) -> anyhow::Result<()> {
    let json = d.args.out_dir.join("model.int8.json");
    let m = Int8Model::load(&json).context("the quantize step did not run")?;
    let blob = write_blob(&m, BlobOptions::default())?;
    let blob_path = d.args.out_dir.join("model.axon");
    write_atomic(&blob_path, &blob)?;
    let rust_path = d.args.out_dir.join("model.rs");
    let src = write_rust(&m, &json.display().to_string())?;
    write_atomic(&rust_path, src.as_bytes())?;
    let aligned = AlignedBytes::new(&blob);
    let from_blob = axon_core::blob::parse(aligned.as_bytes())
        .map_err(|e| anyhow::anyhow!("internal error: the written blob does not parse: {e}"))?;
    let layers = m.core_layers();
    let from_json = m.core_model(&layers);
    let mut scratch = vec![0i8; from_json.scratch_len()];
    let k = from_json.output_len;
    let (mut a, mut b) = (vec![0i8; k], vec![0i8; k]);
    let (mut ya, mut yb) = (vec![0f32; k], vec![0f32; k]);
    let rows = d.val_x.len() / m.inputs.max(1);
    for row in d.val_x.chunks_exact(m.inputs.max(1)) {
        from_json
            .run(row, &mut scratch, &mut a, &mut ya)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        from_blob
            .run(row, &mut scratch, &mut b, &mut yb)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if a != b || ya.iter().zip(&yb).any(|(p, q)| p.to_bits() != q.to_bits()) {
            bail!("internal error: the blob and the int8 JSON disagree");
        }
    }
    d.report.push(format!(
        "export    blob {} bytes → {}; Rust source → {}",
        blob.len(),
        blob_path.display(),
        rust_path.display()
    ));
    d.report.push(format!(
        "          blob = int8 JSON bit for bit on {rows} validation rows; {} bytes of scratch RAM per inference",
        from_json.scratch_len()
    ));
    Ok(())
}
