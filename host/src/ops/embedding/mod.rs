//! `embedding` on the host: the language model's token and position
//! embeddings, `x[r] = tok[t_r] + pos[p_r]`, forward beside backward for
//! the training batch ([`train`]). The device's gather is
//! `axon_core::ops::embedding`.

pub mod train;
