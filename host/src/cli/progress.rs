//! The training progress bar (indicatif), shared by `train` and `demo`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::train::Event;

/// A progress display for a training run; silent when `quiet`.
pub struct Progress {
    bar: Option<ProgressBar>,
    last_epoch: String,
    total: u64,
    printed_decile: u64,
}

impl Progress {
    /// A bar on standard error (hidden when it is not a terminal or `quiet`).
    pub fn new(quiet: bool) -> Progress {
        let bar = (!quiet).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            b.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} steps  {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b
        });
        Progress {
            bar,
            last_epoch: String::new(),
            total: 0,
            printed_decile: 0,
        }
    }

    /// Feeds one trainer event.
    pub fn observe(&mut self, e: Event<'_>) {
        let Some(bar) = &self.bar else { return };
        match e {
            Event::Step {
                step,
                total,
                epoch,
                loss,
            } => {
                self.total = total;
                bar.set_length(total);
                bar.set_position(step);
                if step % 16 == 0 || step == total {
                    bar.set_message(format!(
                        "epoch {epoch}  loss {loss:.4}  {}",
                        self.last_epoch
                    ));
                }
            }
            Event::Epoch(s) => {
                let mut m = String::new();
                if let Some(a) = s.val_accuracy {
                    m.push_str(&format!("val acc {:.2}%  ", a * 100.0));
                } else if let Some(l) = s.val_loss {
                    m.push_str(&format!("val loss {l:.5}  "));
                }
                m.push_str(&format!("{:.0} samples/s", s.samples_per_sec));
                // A log line each time another tenth of the run is done.
                let decile = s.step * 10 / self.total.max(1);
                if decile > self.printed_decile {
                    self.printed_decile = decile;
                    let val = match (s.val_loss, s.val_accuracy) {
                        (Some(l), Some(a)) => {
                            format!("  val loss {l:.5}  val acc {:.2}%", a * 100.0)
                        }
                        (Some(l), None) => format!("  val loss {l:.5}"),
                        _ => String::new(),
                    };
                    bar.println(format!(
                        "epoch {:>4}  step {:>6}  train loss {:.5}{val}",
                        s.epoch, s.step, s.train_loss
                    ));
                }
                self.last_epoch = m;
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
