//! A text corpus as tokens, split for training and validation as nanoGPT's
//! `shakespeare_char`: the first 90 % of the characters train, the last
//! 10 % validate.

use super::Vocab;
use anyhow::{bail, Context, Result};

/// The bundled corpus (`bundled:tinyshakespeare`).
pub const TINYSHAKESPEARE: &str = include_str!("../../../data/tinyshakespeare.txt");

/// Reads `spec`: a path, or `bundled:tinyshakespeare`.
pub fn read_text(spec: &str) -> Result<String> {
    if let Some(name) = spec.strip_prefix("bundled:") {
        return match name {
            "tinyshakespeare" => Ok(TINYSHAKESPEARE.to_string()),
            _ => bail!("no bundled text named {name:?} (there is bundled:tinyshakespeare)"),
        };
    }
    let bytes = std::fs::read(spec).with_context(|| format!("reading the text file {spec}"))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{spec} is not UTF-8 text: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        )
    })
}

/// A corpus: its vocabulary and its two token streams.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The vocabulary (of the whole text, or a model's).
    pub vocab: Vocab,
    /// The first 90 % of the tokens.
    pub train: Vec<u8>,
    /// The last 10 %.
    pub val: Vec<u8>,
}

impl Corpus {
    /// `text` split 90/10, with its own vocabulary or `vocab` (a model's,
    /// when resuming or evaluating: a character outside it is an error).
    pub fn new(text: &str, vocab: Option<Vocab>) -> Result<Corpus> {
        let vocab = match vocab {
            Some(v) => v,
            None => Vocab::from_text(text)?,
        };
        let tokens = vocab.encode(text)?;
        let n = tokens.len() * 9 / 10;
        let (train, val) = tokens.split_at(n);
        Ok(Corpus {
            vocab,
            train: train.to_vec(),
            val: val.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_corpus_splits_as_nanogpt() {
        let c = Corpus::new(TINYSHAKESPEARE, None).unwrap();
        assert_eq!(c.vocab.len(), 65);
        // nanoGPT's prepare.py: 1,003,854 training and 111,540 validation tokens.
        assert_eq!(c.train.len(), 1_003_854);
        assert_eq!(c.val.len(), 111_540);
    }
}
