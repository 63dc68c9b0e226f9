//! Training throughput (tokens/s) of the default language model (D 64,
//! L 4, H 4, T 128, F 256, batch 32, AdamW) on the bundled tiny
//! Shakespeare, all cores: a few optimizer steps per iteration (forward,
//! backward, clipping, AdamW; no evaluation). Run: `cargo bench --bench lm_train`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use axon::host::lm::corpus::{Corpus, TINYSHAKESPEARE};
use axon::host::lm::train::{available_threads, Options, Trainer};
use axon::host::lm::LmConfig;

const STEPS: u64 = 3;

fn lm_training(c: &mut Criterion) {
    let corpus = Corpus::new(TINYSHAKESPEARE, None).expect("bundled corpus");
    let cfg = LmConfig::default_for(corpus.vocab.len());
    let opts = Options {
        steps: 1_000_000,
        ..Options::default()
    };
    let mut g = c.benchmark_group("lm_train_default_b32");
    g.throughput(Throughput::Elements(STEPS * (opts.batch * cfg.ctx) as u64));
    g.sample_size(10);
    let mut threads = vec![1];
    if available_threads() > 1 {
        threads.push(available_threads());
    }
    for n in threads {
        let mut t = Trainer::new(cfg, opts.clone(), n).expect("trainer");
        g.bench_function(format!("threads_{n}"), |b| {
            b.iter(|| {
                for _ in 0..STEPS {
                    t.step(&corpus.train).expect("training step");
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, lm_training);
criterion_main!(benches);
