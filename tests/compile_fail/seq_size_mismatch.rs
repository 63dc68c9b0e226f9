// A layer with 3 outputs cannot feed a layer with 4 inputs: a type error.
use axon_core::{Activation, Dense, Seq};

fn main() {
    let a = Dense::<2, 3>::new([[0.0; 2]; 3], [0.0; 3], Activation::Relu);
    let b = Dense::<4, 1>::new([[0.0; 4]; 1], [0.0; 1], Activation::Identity);
    let _net = Seq::new(a, b);
}
