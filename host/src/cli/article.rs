//! `axon article`: the article's hand calculations ("Understanding neural
//! networks"), computed by the core and printed step by step, with each f32
//! bit pattern beside its value so a reader can check them exactly.

use axon_core::activations::{relu, sigmoid, tanh};
use axon_core::{Activation, Dense, Layer};
use std::fmt::Write as _;

/// Arguments of `axon article`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// `value [0xbits]`, the value printed so it reads back bit-identical.
fn show(v: f32) -> String {
    format!("{v} [{:#010x}]", v.to_bits())
}

/// The whole walkthrough as text (also used by the tests).
pub fn render() -> String {
    let mut s = String::new();
    let o = &mut s;
    // The text is built with `writeln!` into a String, which cannot fail.
    macro_rules! line {
        ($($t:tt)*) => { let _ = writeln!(o, $($t)*); };
    }

    line!("Axon follows \"Understanding neural networks\": every number below is computed");
    line!("by axon-core in f32 (the MCU computes the same bits); [0x...] is the f32 bit pattern.");
    line!();

    // 1. One neuron.
    let (x, w, b) = ([2.0f32, 3.0], [0.5f32, -1.0], 0.2f32);
    let neuron = Dense::<2, 1>::new([w], [b], Activation::Identity);
    let z = neuron.infer(&x)[0];
    line!("1. One neuron: z = w1*x1 + w2*x2 + b");
    line!(
        "   x = ({}, {})   w = ({}, {})   b = {}",
        x[0],
        x[1],
        w[0],
        w[1],
        show(b)
    );
    line!("   w1*x1 = {} * {} = {}", w[0], x[0], show(w[0] * x[0]));
    line!("   w2*x2 = {} * {} = {}", w[1], x[1], show(w[1] * x[1]));
    line!("   z = {}   (article: -1.8)", show(z));
    line!();

    // 2. A layer.
    let wm = [[1.0f32, 0.5], [-0.5, 2.0]];
    let bv = [0.1f32, -0.2];
    let xv = [1.0f32, 2.0];
    let layer = Dense::<2, 2>::new(wm, bv, Activation::Identity);
    let zl = layer.infer(&xv);
    line!("2. A layer of two neurons: z = W x + b, W output-major (one row per neuron)");
    line!("   x = ({}, {})", xv[0], xv[1]);
    for (r, (row, (&bias, &zr))) in wm.iter().zip(bv.iter().zip(&zl)).enumerate() {
        line!(
            "   z{} = {}*{} + {}*{} + {} = {} + {} + {} = {}",
            r + 1,
            row[0],
            xv[0],
            row[1],
            xv[1],
            bias,
            row[0] * xv[0],
            row[1] * xv[1],
            bias,
            show(zr)
        );
    }
    line!("   (article: z = [2.1, 3.3])");
    line!();

    // 3. Activations of z = -1.8 and z = 2.1.
    line!("3. Activations of the neuron's z = -1.8 and the layer's z1 = 2.1");
    let zs = [(z, "-1.8"), (zl[0], "2.1")];
    for (v, name) in zs {
        line!("   {:<14}= {}", format!("ReLU({name})"), show(relu(v)));
    }
    line!("   (article: ReLU(-1.8) = 0, ReLU(2.1) = 2.1)");
    for (v, name) in zs {
        line!(
            "   {:<14}= 1 / (1 + e^{}) = 1 / (1 + {}) = {} ~ {:.3}",
            format!("sigmoid({name})"),
            -v,
            libm::expf(-v),
            show(sigmoid(v)),
            sigmoid(v)
        );
    }
    line!("   (article: sigmoid(-1.8) ~ 0.142, sigmoid(2.1) ~ 0.891)");
    for (v, name) in [zs[1], zs[0]] {
        line!(
            "   {:<14}= {} ~ {:.2}",
            format!("tanh({name})"),
            show(tanh(v)),
            tanh(v)
        );
    }
    line!("   (article: tanh(2.1) ~ 0.97, tanh(-1.8) ~ -0.95)");
    s
}

/// Prints the calculations.
pub fn run(_args: Args) -> anyhow::Result<()> {
    print!("{}", render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn prints_the_articles_numbers_with_bits() {
        let text = render();
        for needle in [
            "z = -1.8 [0xbfe66666]",
            "= 2.1 [0x40066666]",
            "= 3.3 [0x40533333]",
            "~ 0.142",
            "~ 0.891",
            "~ 0.97",
            "~ -0.95",
            "ReLU(-1.8)    = 0 [0x00000000]",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    }
}
