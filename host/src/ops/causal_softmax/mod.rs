//! `causal_softmax` on the host: attention's softmax over the prefix
//! `i ≤ p` of each row `p` of a `(T, T)` score matrix (the causal mask:
//! entries `i > p` are neither read nor written), forward beside backward
//! for the training batch ([`train`]). The device runs the int8 SOFTMAX
//! over the prefix only.

pub mod train;
