#!/usr/bin/env python3
"""Train docs/lm.md's model in PyTorch (CPU) for a fixed time: tokens/s and val loss.

The baseline for ``axon lm train``: the same model (216,576 parameters for
the default shape, asserted), the same data (random windows from the first
90 % of data/tinyshakespeare.txt), the same optimizer and schedule (AdamW,
lr 3e-3, weight decay 0.1 on 2-D tensors only, β (0.9, 0.99), warmup 100
then cosine to lr/10, clip 1.0, batch 32), ``torch.set_num_threads`` = all
cores. ``--seconds S`` trains for S seconds of wall time; the cosine horizon
is the number of steps the run is expected to reach, re-estimated every 10
steps from the mean step time so far (or ``--steps N``, then the run also
stops at N).

Reports tokens/s over the steps after the first ``--warmup-steps`` (5 by
default; those include the allocator's and oneDNN's first-call costs), the
median and minimum step time, and the validation loss over the whole last
10 % in non-overlapping T-windows (871 windows for T 128).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lm_model import GPT, Config, Corpus, Hyper, lr_at, param_groups, val_loss  # noqa: E402

DEFAULT_PARAMS = 216_576  # docs/lm.md: PyTorch's count for D 64, L 4, H 4, T 128, V 65


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, required=True, help="wall-clock training time")
    ap.add_argument("--steps", type=int, help="cosine horizon (and a step limit); "
                    "default: estimated from the warm-up steps' speed")
    ap.add_argument("--warmup-steps", type=int, default=5,
                    help="first steps left out of the tokens/s figure")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    corpus = Corpus.bundled()
    cfg = Config(vocab=len(corpus.chars))
    h = Hyper()
    model = GPT(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == DEFAULT_PARAMS, n_params
    opt = torch.optim.AdamW(param_groups(model, h.weight_decay), lr=h.lr, betas=h.betas,
                            eps=h.eps)
    gen = torch.Generator().manual_seed(args.seed)
    hi = len(corpus.train) - cfg.ctx - 1  # last start whose window fits

    def step(i: int, total: int) -> tuple[float, float]:
        lr = lr_at(h, i, total)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = corpus.batch(torch.randint(0, hi + 1, (h.batch,), generator=gen), cfg.ctx)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), h.clip)
        opt.step()
        return loss.item(), float(norm)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n_params} "
          f"parameters, {len(corpus.train)} training tokens", flush=True)
    total = args.steps  # None: estimated once steps have been timed
    times: list[float] = []
    losses: list[float] = []
    start = time.perf_counter()
    i = 0
    while True:
        t0 = time.perf_counter()
        if t0 - start >= args.seconds or (args.steps is not None and i >= args.steps):
            break
        # Until the horizon is known, the warm-up part of the schedule does not need it.
        loss, norm = step(i, total if total is not None else 10**9)
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        i += 1
        if args.steps is None and i >= 2 * args.warmup_steps and i % 10 == 0:
            # The cosine horizon: the steps done plus those the remaining time
            # allows at the mean speed so far (warm-up steps left out),
            # re-estimated as the machine's load changes.
            per_step = sum(times[args.warmup_steps:]) / (i - args.warmup_steps)
            total = i + int((args.seconds - (time.perf_counter() - start)) / per_step)
        if i % 50 == 0:
            print(f"step {i:5d}  loss {loss:.4f}  norm {norm:.3f}  horizon {total}  "
                  f"{time.perf_counter() - start:7.1f} s", flush=True)
    elapsed = time.perf_counter() - start
    timed = times[args.warmup_steps:]
    tokens = h.batch * cfg.ctx
    tps = tokens * len(timed) / sum(timed) if timed else float("nan")
    vl, windows = val_loss(model, corpus.val)
    doc = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "seconds": round(elapsed, 1),
        "steps": i,
        "horizon": total,
        "tokens_per_step": tokens,
        "tokens_per_s": round(tps, 1),
        "timed_steps": len(timed),
        "median_step_ms": round(sorted(timed)[len(timed) // 2] * 1e3, 2) if timed else None,
        "min_step_ms": round(min(timed) * 1e3, 2) if timed else None,
        "last_train_loss": round(losses[-1], 4) if losses else None,
        "val_loss": round(vl, 4),
        "val_windows": windows,
    }
    print(json.dumps(doc))
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
