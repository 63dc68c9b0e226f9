//! Const-generic layers and their composition.
//!
//! A [`Layer<IN, OUT>`] maps `[f32; IN]` to `[f32; OUT]`. [`Seq`] chains two
//! layers whose sizes must meet — `Seq<A, B, M>` needs `A: Layer<I, M>` and
//! `B: Layer<M, O>`, so a mismatch is a type error, not a run-time check.
//! [`Residual`] wraps a sub-network `L: Layer<N, N>` as `y = x + L(x)`: the
//! abstraction is open to blocks that are not a plain chain.
//!
//! Every buffer is a fixed-size array on the stack, so the RAM a network
//! needs is a compile-time constant: [`Layer::RAM_BYTES`].

mod dense;

pub use crate::activations::Activation;
pub use dense::Dense;

/// A forward-only layer with compile-time sizes.
pub trait Layer<const IN: usize, const OUT: usize> {
    /// Stack bytes the forward pass needs beyond its input and output.
    const SCRATCH_BYTES: usize;
    /// Input + output + scratch, in bytes: the RAM one inference needs.
    const RAM_BYTES: usize = (IN + OUT) * core::mem::size_of::<f32>() + Self::SCRATCH_BYTES;

    /// Computes `y` from `x`. Infallible: the sizes are checked by the types.
    fn forward(&self, x: &[f32; IN], y: &mut [f32; OUT]);

    /// Convenience: runs [`forward`](Self::forward) into a fresh array.
    fn infer(&self, x: &[f32; IN]) -> [f32; OUT] {
        let mut y = [0.0; OUT];
        self.forward(x, &mut y);
        y
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Two layers in sequence, `B ∘ A`, with the intermediate width `M`.
#[derive(Debug, Clone)]
pub struct Seq<A, B, const M: usize> {
    /// The first layer.
    pub first: A,
    /// The second layer.
    pub second: B,
}

impl<A, B, const M: usize> Seq<A, B, M> {
    /// Chains `first` then `second`; does not compile unless `first`'s output
    /// size is `second`'s input size.
    pub const fn new<const I: usize, const O: usize>(first: A, second: B) -> Self
    where
        A: Layer<I, M>,
        B: Layer<M, O>,
    {
        Seq { first, second }
    }
}

impl<A, B, const I: usize, const M: usize, const O: usize> Layer<I, O> for Seq<A, B, M>
where
    A: Layer<I, M>,
    B: Layer<M, O>,
{
    const SCRATCH_BYTES: usize =
        M * core::mem::size_of::<f32>() + max(A::SCRATCH_BYTES, B::SCRATCH_BYTES);

    fn forward(&self, x: &[f32; I], y: &mut [f32; O]) {
        let mut mid = [0.0f32; M];
        self.first.forward(x, &mut mid);
        self.second.forward(&mid, y);
    }
}

/// A residual block: `y = x + L(x)`, where `L` is any sub-network of equal
/// input and output width.
#[derive(Debug, Clone)]
pub struct Residual<L> {
    /// The block's inside.
    pub inner: L,
}

impl<L, const N: usize> Layer<N, N> for Residual<L>
where
    L: Layer<N, N>,
{
    const SCRATCH_BYTES: usize = L::SCRATCH_BYTES;

    fn forward(&self, x: &[f32; N], y: &mut [f32; N]) {
        self.inner.forward(x, y);
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi += xi;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_is_a_compile_time_constant() {
        type Net = Seq<Dense<4, 3>, Seq<Dense<3, 2>, Dense<2, 5>, 2>, 3>;
        const RAM: usize = <Net as Layer<4, 5>>::RAM_BYTES;
        // input 4 + output 5 + mid 3 + inner mid 2 floats.
        assert_eq!(RAM, (4 + 5 + 3 + 2) * 4);
    }

    #[test]
    fn residual_adds_its_input() {
        let inner = Dense::<2, 2>::new([[1.0, 0.0], [0.0, 1.0]], [0.5, -0.5], Activation::Identity);
        let r = Residual { inner };
        assert_eq!(r.infer(&[1.0, 2.0]), [2.5, 3.5]);
    }

    #[test]
    fn seq_composes_in_order() {
        let a = Dense::<2, 2>::new([[1.0, 0.5], [-0.5, 2.0]], [0.1, -0.2], Activation::Relu);
        let b = Dense::<2, 1>::new([[1.0, 1.0]], [0.0], Activation::Identity);
        let net = Seq::new(a, b);
        assert_eq!(net.infer(&[1.0, 2.0]), [2.1f32 + 3.3]);
    }
}
