//! Training throughput (samples/s) of the digits network 64 → 32 → 10
//! (ReLU, softmax cross-entropy) with Adam, batch 32: whole epochs over all
//! 1797 bundled digits, forward through the core's kernels, backward and
//! optimizer steps on the host. Run: `cargo bench --bench train`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use axon::host::data::{Header, Table};
use axon::host::train::{prepare, train, Length, Loss, OptimizerKind, TrainConfig};

const EPOCHS: u64 = 2;

fn digits_training(c: &mut Criterion) {
    let table = Table::read("bundled:digits", Header::Auto).expect("bundled digits");
    // No validation split: every row trains, and no evaluation is timed.
    let data = prepare(&table, None, Loss::Ce, 0.0, 7).expect("digits prepare");
    let cfg = TrainConfig {
        hidden: vec![32],
        loss: Loss::Ce,
        optimizer: OptimizerKind::Adam,
        lr: 1e-3,
        batch: 32,
        length: Length::Epochs(EPOCHS),
        ..TrainConfig::default()
    };
    let mut g = c.benchmark_group("train_digits_64_32_10_adam_b32");
    g.throughput(Throughput::Elements(EPOCHS * data.train.len() as u64));
    g.sample_size(20);
    g.bench_function("epochs", |b| {
        b.iter(|| train(&data, &cfg, None, &mut |_| {}).expect("training"))
    });
    g.finish();
}

criterion_group!(benches, digits_training);
criterion_main!(benches);
