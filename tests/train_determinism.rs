//! Same seed, same model, bit for bit; another seed, another model; and
//! `--init` starts exactly from the given weights.

use axon::host::data::{Header, Table};
use axon::host::model::{LayerSpec, Model};
use axon::host::train::{
    prepare, train, Diverged, Length, Loss, OptimizerKind, ScheduleKind, TrainConfig,
};

fn cfg(seed: u64) -> TrainConfig {
    TrainConfig {
        hidden: vec![8, 6],
        optimizer: OptimizerKind::Adamw,
        lr: 5e-3,
        schedule: ScheduleKind::Cosine,
        warmup: 5,
        clip: Some(1.0),
        batch: 10,
        length: Length::Epochs(5),
        seed,
        ..TrainConfig::default()
    }
}

fn train_json(seed: u64) -> String {
    let table = Table::read("bundled:iris", Header::Auto).unwrap();
    let data = prepare(&table, None, Loss::Ce, 0.2, seed).unwrap();
    let t = train(&data, &cfg(seed), None, &mut |_| {}).unwrap();
    t.model.to_json_string()
}

#[test]
fn same_seed_gives_identical_json_and_another_seed_does_not() {
    let a = train_json(7);
    let b = train_json(7);
    assert_eq!(a, b);
    assert_ne!(a, train_json(8));
}

#[test]
fn init_model_is_used_exactly_and_zero_lr_keeps_it() {
    let table = Table::read("bundled:iris", Header::Auto).unwrap();
    let data = prepare(&table, None, Loss::Ce, 0.2, 7).unwrap();
    let first = train(&data, &cfg(7), None, &mut |_| {}).unwrap().model;
    // SGD with a learning rate so small that no f32 weight can move shows the
    // start is the given model, bit for bit (also its preprocessing).
    let sgd = TrainConfig {
        optimizer: OptimizerKind::Sgd,
        lr: 1e-30,
        clip: None,
        length: Length::Steps(3),
        ..cfg(99)
    };
    let again = train(&data, &sgd, Some(first.clone()), &mut |_| {})
        .unwrap()
        .model;
    assert_eq!(again.to_json_string(), first.to_json_string());
    // A real learning rate does move it.
    let moved = train(
        &data,
        &TrainConfig { lr: 1e-2, ..sgd },
        Some(first.clone()),
        &mut |_| {},
    )
    .unwrap()
    .model;
    assert_ne!(moved.layers, first.layers);
    assert_eq!(moved.preprocess, first.preprocess);
}

#[test]
fn init_model_must_fit_the_data_and_loss() {
    let table = Table::read("bundled:iris", Header::Auto).unwrap();
    let data = prepare(&table, None, Loss::Ce, 0.2, 7).unwrap();
    let mut m = train(&data, &cfg(7), None, &mut |_| {}).unwrap().model;
    m.layers.pop(); // drop the softmax head
    let err = train(&data, &cfg(7), Some(m), &mut |_| {}).unwrap_err();
    assert!(
        format!("{err:#}").contains("must end in softmax"),
        "{err:#}"
    );
}

#[test]
fn divergence_stops_with_step_last_loss_and_a_suggestion() {
    let table = Table::read("bundled:sine", Header::Auto).unwrap();
    let data = prepare(&table, None, Loss::Mse, 0.2, 7).unwrap();
    let c = TrainConfig {
        hidden: vec![16],
        loss: Loss::Mse,
        optimizer: OptimizerKind::Sgd,
        lr: 1e6,
        length: Length::Epochs(5),
        ..TrainConfig::default()
    };
    let err = train(&data, &c, None, &mut |_| {}).unwrap_err();
    let d = err.downcast_ref::<Diverged>().expect("a Diverged error");
    assert!(d.step >= 1);
    assert!(d.last_finite_loss.is_some_and(f32::is_finite));
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("at step {}", d.step)) && msg.contains("lower --lr"),
        "{msg}"
    );
}

#[test]
fn trained_model_round_trips_through_json_bit_for_bit() {
    let json = train_json(3);
    let m = Model::from_json_str(&json).unwrap();
    assert_eq!(m.to_json_string(), json);
    assert!(matches!(
        m.layers.last(),
        Some(LayerSpec::Activation(axon::core::Activation::Softmax))
    ));
}
