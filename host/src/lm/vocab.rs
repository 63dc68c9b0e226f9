//! The vocabulary of a character-level model: its characters, in order
//! (token `i` is the `i`-th character). Part of every model file.

use anyhow::{bail, Result};

/// The characters of a model, token `i` being `chars[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// The distinct characters of `text`, sorted by code point (as
    /// nanoGPT's `shakespeare_char` builds its vocabulary).
    pub fn from_text(text: &str) -> Result<Vocab> {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab::new(chars)
    }

    /// From the characters in token order: at least 2, at most 256 (a
    /// token is one byte on the device), none repeated.
    pub fn new(chars: Vec<char>) -> Result<Vocab> {
        if chars.len() < 2 {
            bail!(
                "a vocabulary needs at least 2 characters (got {})",
                chars.len()
            );
        }
        if chars.len() > 256 {
            bail!(
                "a vocabulary holds at most 256 characters (got {}): a token is one byte on the device",
                chars.len()
            );
        }
        for (i, c) in chars.iter().enumerate() {
            if let Some(j) = chars[..i].iter().position(|d| d == c) {
                bail!("the vocabulary repeats {c:?} (tokens {j} and {i})");
            }
        }
        Ok(Vocab { chars })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Never: a vocabulary has at least 2 characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters in token order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The characters as one string (the model files' form).
    pub fn as_string(&self) -> String {
        self.chars.iter().collect()
    }

    /// The tokens of `text`; a character outside the vocabulary is an
    /// error naming it and its position (in characters, from 0, and as
    /// line:column).
    pub fn encode(&self, text: &str) -> Result<Vec<u8>> {
        let mut table = std::collections::HashMap::with_capacity(self.chars.len());
        for (i, &c) in self.chars.iter().enumerate() {
            table.insert(c, i as u8);
        }
        let (mut line, mut col) = (1usize, 1usize);
        let mut out = Vec::with_capacity(text.len());
        for (pos, c) in text.chars().enumerate() {
            match table.get(&c) {
                Some(&t) => out.push(t),
                None => bail!(
                    "character {c:?} (U+{:04X}) at position {pos} (line {line}, column {col}) is not in the model's vocabulary of {} characters",
                    c as u32,
                    self.chars.len()
                ),
            }
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        Ok(out)
    }

    /// The text of `tokens` (each below [`Vocab::len`]).
    pub fn decode(&self, tokens: &[u8]) -> String {
        tokens
            .iter()
            .map(|&t| self.chars.get(t as usize).copied().unwrap_or('\u{FFFD}'))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_distinct_characters_round_trip() {
        let v = Vocab::from_text("hello, world\n").unwrap();
        assert_eq!(v.as_string(), "\n ,dehlorw");
        let t = v.encode("hello").unwrap();
        assert_eq!(t, vec![5, 4, 6, 6, 7]);
        assert_eq!(v.decode(&t), "hello");
    }

    #[test]
    fn an_unknown_character_is_named_with_its_position() {
        let v = Vocab::from_text("abc\nabc").unwrap();
        let e = v.encode("ab\ncaZ").unwrap_err().to_string();
        assert!(e.contains("'Z'"), "{e}");
        assert!(e.contains("position 5"), "{e}");
        assert!(e.contains("line 2, column 3"), "{e}");
    }

    #[test]
    fn repeats_and_tiny_vocabularies_are_rejected() {
        assert!(Vocab::new(vec!['a', 'b', 'a']).is_err());
        assert!(Vocab::new(vec!['a']).is_err());
    }
}
