//! The generation policy host and device share: feed a prompt, sample a
//! token from the last logits, feed it back; at the context's end,
//! re-encode the last `T/2` tokens at positions `0..T/2` (`docs/lm.md`,
//! "Past the context").

use super::{Probe, Sampler, Session};
use crate::Error;

/// A session and its sampler.
pub struct Generator<'s, 'a, P: Probe> {
    /// The session (its probe and position are the caller's to read).
    pub session: Session<'s, 'a, P>,
    sampler: Sampler,
    fed: bool,
}

impl<'s, 'a, P: Probe> Generator<'s, 'a, P> {
    /// A generator over a fresh session.
    pub fn new(session: Session<'s, 'a, P>, sampler: Sampler) -> Self {
        Generator {
            session,
            sampler,
            fed: false,
        }
    }

    /// Runs `token` at the next position, re-encoding the window first when
    /// the position is at the context.
    pub fn feed(&mut self, token: u8) -> Result<(), Error> {
        let t = self.session.model().shape.ctx;
        if self.session.pos() >= t {
            self.session.reencode(t / 2)?;
        }
        self.session.step(token)?;
        self.fed = true;
        Ok(())
    }

    /// Feeds every token of `prompt`.
    pub fn prompt(&mut self, prompt: &[u8]) -> Result<(), Error> {
        prompt.iter().try_for_each(|&t| self.feed(t))
    }

    /// Samples the next token from the last logits and feeds it. Errors:
    /// nothing fed yet (an empty prompt), or what a step returns.
    pub fn next_token(&mut self) -> Result<u8, Error> {
        if !self.fed {
            return Err(Error::IndexOutOfRange { index: 0, len: 0 });
        }
        let token = self
            .sampler
            .sample(self.session.logits())
            .ok_or(Error::ShapeMismatch {
                expected: 1,
                found: 0,
            })?;
        self.feed(token)?;
        Ok(token)
    }
}
