//! Seeded weight initialisation.

use crate::ops::Init;

use super::rng::Rng;

/// He (Kaiming) uniform before the ReLU family, GELU, SiLU and ELU
/// ([`Init::He`], as each activation op declares) —
/// `U(−√(6/fan_in), √(6/fan_in))`, PyTorch's `kaiming_uniform_(a=0)` — and
/// Xavier (Glorot) uniform otherwise — `U(−√(6/(fan_in+fan_out)), …)`,
/// `xavier_uniform_`. Biases start at 0. Draws row by row, output-major.
pub fn init_dense(
    rng: &mut Rng,
    inputs: usize,
    outputs: usize,
    init: Option<Init>,
) -> (Vec<f32>, Vec<f32>) {
    let he = init == Some(Init::He);
    let bound = if he {
        (6.0 / inputs as f64).sqrt()
    } else {
        (6.0 / (inputs + outputs) as f64).sqrt()
    };
    let weights = (0..inputs * outputs)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
        .collect();
    (weights, vec![0.0; outputs])
}
