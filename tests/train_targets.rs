//! The acceptance targets of the trainer on the bundled sets, each with the
//! recipe a user would type (see docs in README / `axon train --help`):
//! digits (the `axon demo` recipe) ≥ 96% validation accuracy, iris ≥ 93%,
//! sine validation MSE ≤ 0.005; and the residual architecture of
//! `examples/digits_residual.toml` on digits with the same recipe ≥ 96%.

use axon::host::cli::demo;
use axon::host::data::{Header, Table};
use axon::host::train::{evaluate, prepare, train, Arch, Length, Loss, ScheduleKind, TrainConfig};

fn run(set: &str, loss: Loss, val_split: f64, cfg: &TrainConfig) -> (f64, Option<f64>) {
    let table = Table::read(set, Header::Auto).unwrap();
    let data = prepare(&table, None, loss, val_split, cfg.seed).unwrap();
    let t = train(&data, cfg, None, &mut |_| {}).unwrap();
    let (vx, vy) = data.rows(&data.val);
    let m = evaluate(&t.model, &vx, &vy).unwrap();
    // The trainer's own last validation agrees with a fresh evaluation.
    let last = t.history.last().unwrap();
    assert_eq!(last.val_loss, m.loss);
    assert_eq!(last.val_accuracy, m.accuracy);
    (m.loss.unwrap(), m.accuracy)
}

#[test]
fn demo_recipe_reaches_96_percent_on_digits() {
    let (_, acc) = run(
        "bundled:digits",
        Loss::Ce,
        demo::VAL_SPLIT,
        &demo::recipe(7),
    );
    let acc = acc.unwrap();
    eprintln!("digits validation accuracy: {:.2}%", acc * 100.0);
    assert!(acc >= 0.96, "digits validation accuracy {acc}");
}

#[test]
fn iris_reaches_93_percent() {
    // axon train --data bundled:iris --layers 4,16,3 --lr 1e-2 --epochs 30 --batch 16
    let cfg = TrainConfig {
        hidden: vec![16],
        lr: 1e-2,
        batch: 16,
        length: Length::Epochs(30),
        ..TrainConfig::default()
    };
    let (_, acc) = run("bundled:iris", Loss::Ce, 0.2, &cfg);
    let acc = acc.unwrap();
    eprintln!("iris validation accuracy: {:.2}%", acc * 100.0);
    assert!(acc >= 0.93, "iris validation accuracy {acc}");
}

#[test]
fn sine_reaches_mse_0_005() {
    // axon train --data bundled:sine --loss mse --layers 1,16,16,1 --activation tanh
    //            --lr 1e-2 --epochs 200 --schedule cosine
    let cfg = TrainConfig {
        hidden: vec![16, 16],
        activation: Some(axon::host::ops::Op::Tanh(Default::default())),
        loss: Loss::Mse,
        lr: 1e-2,
        schedule: ScheduleKind::Cosine,
        length: Length::Epochs(200),
        ..TrainConfig::default()
    };
    let (mse, _) = run("bundled:sine", Loss::Mse, 0.2, &cfg);
    eprintln!("sine validation MSE: {mse:.6}");
    assert!(mse <= 0.005, "sine validation MSE {mse}");
}

#[test]
fn demo_recipe_with_the_residual_example_reaches_96_percent_on_digits() {
    // axon train --data bundled:digits --arch examples/digits_residual.toml
    //     --optimizer adamw --lr 3e-3 --weight-decay 1e-4 --schedule cosine --warmup 100 --epochs 60
    let arch = Arch::load(std::path::Path::new("examples/digits_residual.toml")).unwrap();
    let cfg = TrainConfig {
        arch: Some(arch),
        ..demo::recipe(7)
    };
    let (_, acc) = run("bundled:digits", Loss::Ce, demo::VAL_SPLIT, &cfg);
    let acc = acc.unwrap();
    eprintln!("digits (residual) validation accuracy: {:.2}%", acc * 100.0);
    assert!(acc >= 0.96, "digits (residual) validation accuracy {acc}");
}
