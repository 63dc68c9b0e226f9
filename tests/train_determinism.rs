//! Same seed, same model file, bit for bit, for a chain and for a residual
//! graph; another seed, another model; `--init` starts exactly from the
//! given graph (weights and standardisation) and reproduces; a trained
//! model reads back equal to itself; divergence is reported, not written.

use std::path::Path;

use axon::host::data::{Header, Table};
use axon::host::model::Model;
use axon::host::ops::Op;
use axon::host::train::{
    prepare, train, Arch, Diverged, Length, Loss, OptimizerKind, Prepared, ScheduleKind,
    TrainConfig,
};

/// A small residual architecture for iris's four inputs.
const RESIDUAL: &str = r#"
[[layer]]
dense = 8
activation = "tanh"

[[layer]]
residual = [
    { dense = 6, activation = "relu" },
    { dense = 8 },
]
repeat = 2
activation = "silu"
"#;

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

fn residual_cfg(seed: u64) -> TrainConfig {
    TrainConfig {
        arch: Some(Arch::from_toml(RESIDUAL).unwrap()),
        ..cfg(seed)
    }
}

fn iris(seed: u64) -> Prepared {
    let table = Table::read("bundled:iris", Header::Auto).unwrap();
    prepare(&table, None, Loss::Ce, 0.2, seed).unwrap()
}

fn trained(c: &TrainConfig) -> Model {
    train(&iris(c.seed), c, None, &mut |_| {}).unwrap().model
}

fn json(c: &TrainConfig) -> String {
    trained(c).to_json_string().unwrap()
}

/// Every parameter's values (tensor name, bits).
fn params(m: &Model) -> Vec<(String, Vec<u32>)> {
    m.graph
        .tensors
        .iter()
        .filter_map(|t| {
            let d = t.f32_data()?;
            Some((t.name.clone(), d.iter().map(|v| v.to_bits()).collect()))
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_json_and_another_seed_does_not() {
    let a = json(&cfg(7));
    assert_eq!(a, json(&cfg(7)));
    assert_ne!(a, json(&cfg(8)));
}

#[test]
fn same_seed_gives_an_identical_residual_model_and_another_seed_does_not() {
    let a = json(&residual_cfg(7));
    assert_eq!(a, json(&residual_cfg(7)));
    assert_ne!(a, json(&residual_cfg(8)));
    let m = Model::from_json_str(&a).unwrap();
    let adds = m
        .graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Add(_)))
        .count();
    assert_eq!(adds, 2, "{}", m.summary());
    // The chain and the residual net are different models.
    assert_ne!(a, json(&cfg(7)));
}

#[test]
fn same_seed_gives_an_identical_model_file_on_disk() {
    let dir = std::env::temp_dir().join(format!("axon-determinism-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (k, c) in [cfg(5), residual_cfg(5)].iter().enumerate() {
        let (a, b) = (
            dir.join(format!("{k}a.json")),
            dir.join(format!("{k}b.json")),
        );
        trained(c).save(&a).unwrap();
        trained(c).save(&b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn init_model_is_used_exactly_and_zero_lr_keeps_it() {
    for start in [cfg(7), residual_cfg(7)] {
        let data = iris(7);
        let first = train(&data, &start, None, &mut |_| {}).unwrap().model;
        // SGD with a learning rate so small that no f32 weight can move shows
        // the start is the given model, bit for bit (its standardisation too).
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
        assert_eq!(
            again.to_json_string().unwrap(),
            first.to_json_string().unwrap()
        );
        assert_eq!(again, first);
        // A real learning rate moves the trained weights, and nothing else.
        let moved = train(
            &data,
            &TrainConfig { lr: 1e-2, ..sgd },
            Some(first.clone()),
            &mut |_| {},
        )
        .unwrap()
        .model;
        let (p, q) = (params(&first), params(&moved));
        assert_eq!(p.len(), q.len());
        for ((name, a), (name2, b)) in p.iter().zip(&q) {
            assert_eq!(name, name2);
            if name.starts_with("input.") {
                assert_eq!(a, b, "{name}: the standardisation is not trained");
            }
        }
        assert_ne!(p, q, "a real learning rate moves some weight");
        assert_eq!(moved.graph.nodes.len(), first.graph.nodes.len());
    }
}

#[test]
fn training_from_init_reproduces() {
    let data = iris(7);
    let first = train(&data, &residual_cfg(7), None, &mut |_| {})
        .unwrap()
        .model;
    let more = TrainConfig {
        length: Length::Steps(20),
        ..residual_cfg(3)
    };
    let a = train(&data, &more, Some(first.clone()), &mut |_| {})
        .unwrap()
        .model;
    let b = train(&data, &more, Some(first.clone()), &mut |_| {})
        .unwrap()
        .model;
    assert_eq!(a.to_json_string().unwrap(), b.to_json_string().unwrap());
    assert_ne!(a, first);
    // And from the model read back from its file, the same again.
    let from_file = Model::from_json_str(&first.to_json_string().unwrap()).unwrap();
    let c = train(&data, &more, Some(from_file), &mut |_| {})
        .unwrap()
        .model;
    assert_eq!(c, a);
}

#[test]
fn init_model_must_fit_the_data_and_loss() {
    let data = iris(7);
    let mut m = trained(&cfg(7));
    // Drop the softmax head: the last tensor written becomes the output.
    let head = m.graph.nodes.pop().unwrap();
    assert!(matches!(head.op, Op::Softmax(_)));
    m.graph.outputs = head.inputs.clone();
    let err = train(&data, &cfg(7), Some(m.clone()), &mut |_| {}).unwrap_err();
    assert!(
        format!("{err:#}").contains("must end in softmax"),
        "{err:#}"
    );
    // An int8 model does not train.
    let q = Model::load(Path::new("tests/data/int8/digits.int8.json")).unwrap();
    let table = Table::read("bundled:digits", Header::Auto).unwrap();
    let digits = prepare(&table, None, Loss::Ce, 0.2, 7).unwrap();
    let err = train(&digits, &cfg(7), Some(q), &mut |_| {}).unwrap_err();
    assert!(format!("{err:#}").contains("is int8"), "{err:#}");
    // Nor a model of another width.
    let full = trained(&cfg(7));
    let err = train(&digits, &cfg(7), Some(full), &mut |_| {}).unwrap_err();
    assert!(
        format!("{err:#}").contains("takes 4 inputs, but the data has 64"),
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
    for c in [cfg(3), residual_cfg(3)] {
        let m = trained(&c);
        let text = m.to_json_string().unwrap();
        let back = Model::from_json_str(&text).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_json_string().unwrap(), text);
        assert!(matches!(
            m.graph.nodes.last().map(|n| &n.op),
            Some(Op::Softmax(_))
        ));
        assert_eq!(params(&back), params(&m), "every weight bit for bit");
    }
}
