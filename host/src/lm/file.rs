//! The f32 model file and the checkpoint (`docs/lm.md`, "The f32 model
//! file"): one JSON definition that the reader, the writer and the doc
//! follow. A checkpoint is a model file plus `optimizer`, `rng` and
//! `step`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{LmConfig, LmParams, Vocab};

/// The `format` field.
pub const FORMAT: &str = "axon-lm";
/// The `version` this code reads and writes.
pub const VERSION: u32 = 1;

/// One named tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorJson {
    /// Its name (`tok_emb`, `h0.attn.wqkv`, …; `lm::params`).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// AdamW's state: steps taken and the two moments of every tensor (named
/// as the model's tensors, in their order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerJson {
    /// Optimizer steps taken.
    pub step: u32,
    /// First moments.
    pub m: Vec<TensorJson>,
    /// Second moments.
    pub v: Vec<TensorJson>,
}

/// The file, field for field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmFile {
    /// `"axon-lm"`.
    pub format: String,
    /// 1.
    pub version: u32,
    /// `"f32"`.
    pub precision: String,
    /// The shape.
    pub config: LmConfig,
    /// The characters in token order.
    pub vocab: String,
    /// The parameters in `lm::params` order.
    pub tensors: Vec<TensorJson>,
    /// What produced it (`lm::train::Training`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
    /// Checkpoints: AdamW's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<OptimizerJson>,
    /// Checkpoints: the batch sampler's SplitMix64 state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<u64>,
    /// Checkpoints: optimizer steps done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
}

/// Names, shapes and values of `params` as the file's tensors.
pub fn tensors_json(params: &LmParams, data: &[Vec<f32>]) -> Vec<TensorJson> {
    params
        .names
        .iter()
        .zip(&params.shapes)
        .zip(data)
        .map(|((name, shape), data)| TensorJson {
            name: name.clone(),
            shape: shape.clone(),
            data: data.clone(),
        })
        .collect()
}

impl LmFile {
    /// A model file (no checkpoint fields).
    pub fn model(params: &LmParams, vocab: &Vocab, training: Option<serde_json::Value>) -> LmFile {
        LmFile {
            format: FORMAT.into(),
            version: VERSION,
            precision: "f32".into(),
            config: params.cfg,
            vocab: vocab.as_string(),
            tensors: tensors_json(params, &params.data),
            training,
            optimizer: None,
            rng: None,
            step: None,
        }
    }

    /// Reads and checks `path`: format, version, precision, the
    /// vocabulary against the configuration, every tensor (`LmParams::from_named`).
    pub fn read(path: &Path) -> Result<LmFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the model file {}", path.display()))?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let f: LmFile = serde_path_to_error::deserialize(de)
            .with_context(|| format!("{} is not an axon-lm model file", path.display()))?;
        if f.format != FORMAT {
            bail!(
                "{}: format is {:?}, expected {FORMAT:?}",
                path.display(),
                f.format
            );
        }
        if f.version != VERSION {
            bail!(
                "{}: version {} (this axon reads version {VERSION})",
                path.display(),
                f.version
            );
        }
        if f.precision != "f32" {
            bail!(
                "{}: precision {:?}, expected \"f32\" (an f32 model file)",
                path.display(),
                f.precision
            );
        }
        Ok(f)
    }

    /// The vocabulary and the parameters, checked against the configuration.
    pub fn params(&self) -> Result<(LmParams, Vocab)> {
        let vocab = Vocab::new(self.vocab.chars().collect())?;
        if vocab.len() != self.config.vocab {
            bail!(
                "the vocabulary has {} characters, the configuration says {}",
                vocab.len(),
                self.config.vocab
            );
        }
        let named = self
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone(), t.data.clone()))
            .collect();
        Ok((LmParams::from_named(self.config, named)?, vocab))
    }

    /// Writes the file (through a temporary beside it, then renamed, so
    /// an interrupted write leaves the old file).
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string(self)?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}

/// Reads an f32 model: its parameters, vocabulary and training record.
pub fn read_model(path: &Path) -> Result<(LmParams, Vocab, Option<serde_json::Value>)> {
    let f = LmFile::read(path)?;
    let (p, v) = f
        .params()
        .with_context(|| format!("in {}", path.display()))?;
    Ok((p, v, f.training))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_file_round_trips_bit_for_bit() {
        let vocab = Vocab::from_text("abcdefg").unwrap();
        let cfg = LmConfig {
            vocab: 7,
            d_model: 8,
            n_layer: 1,
            n_head: 2,
            ctx: 5,
            d_ff: 16,
            tied: false,
        };
        let mut p = LmParams::init(cfg, 3).unwrap();
        // Values whose shortest decimal forms are long or extreme.
        p.data[0][0] = f32::MIN_POSITIVE;
        p.data[0][1] = f32::MAX;
        p.data[0][2] = 1.0 + f32::EPSILON;
        p.data[0][3] = -1.234_567_9e-30;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        LmFile::model(&p, &vocab, Some(serde_json::json!({"steps": 0})))
            .write(&path)
            .unwrap();
        let (q, v, t) = read_model(&path).unwrap();
        assert_eq!(v, vocab);
        assert_eq!(t.unwrap()["steps"], 0);
        for (a, b) in p.data.iter().zip(&q.data) {
            let (a, b): (Vec<u32>, Vec<u32>) = (
                a.iter().map(|x| x.to_bits()).collect(),
                b.iter().map(|x| x.to_bits()).collect(),
            );
            assert_eq!(a, b);
        }
    }

    #[test]
    fn a_wrong_tensor_is_named() {
        let vocab = Vocab::from_text("ab").unwrap();
        let cfg = LmConfig {
            vocab: 2,
            d_model: 4,
            n_layer: 1,
            n_head: 1,
            ctx: 3,
            d_ff: 4,
            tied: true,
        };
        let p = LmParams::init(cfg, 1).unwrap();
        let mut f = LmFile::model(&p, &vocab, None);
        f.tensors[3].shape = vec![5];
        let e = f.params().unwrap_err().to_string();
        assert!(e.contains("h0.ln1.b"), "{e}");
        f.format = "other".into();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        f.write(&path).unwrap();
        let e = LmFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("format"), "{e}");
    }
}
