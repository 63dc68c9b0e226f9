#!/usr/bin/env python3
"""Replay axon's LM training steps in PyTorch and compare, step by step.

Inputs, all written by ``axon lm train`` (docs/lm.md, tools/pytorch/README.md):

* ``--init``: the f32 model file of the initial weights (``--steps 0 --out``);
* ``--trace``: the JSON lines of a run from the same seed (``--trace``), one
  per step: ``step`` (from 1), ``starts`` (window starts into the training
  split), ``loss``, ``grad_norm`` (before clipping), ``lr``;
* ``--final`` (optional): that run's final model file. Its
  ``training.options`` also give the hyper-parameters (steps, batch, lr,
  weight decay, betas, eps, warmup, min_lr, clip); without it they come from
  the flags, whose defaults are axon's.

PyTorch (float32, CPU, the model of lm_model.py with the initial weights)
takes the same batches and the same AdamW steps (two parameter groups,
``foreach=False``), with the hyper-parameters rounded to float32 as axon
holds them, and the script prints per step the loss, the gradient norm and
the learning rate of both and their differences, then per tensor the largest
absolute and relative differences of the final weights. ``--json FILE``
writes all of it; ``--out-torch FILE`` PyTorch's final weights as an axon
model file. Exit status 0 unless the inputs are inconsistent (a
different vocabulary, a missing tensor, a step out of order): differences
are reported, not judged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lm_model import GPT, Config, Corpus, Hyper, lr_at, param_groups  # noqa: E402


def f32(x: float) -> float:
    """x as the float32 axon holds, widened back to a Python float."""
    return float(np.float32(x))


def read_model(path: Path) -> dict:
    doc = json.loads(path.read_text())
    if doc.get("format") != "axon-lm" or doc.get("precision") != "f32":
        raise SystemExit(f"{path}: not an axon f32 LM model file (format {doc.get('format')!r}, "
                         f"precision {doc.get('precision')!r})")
    return doc


def load_weights(model: GPT, doc: dict, path: Path) -> None:
    """Copies the file's tensors into the model by axon name, checking shapes."""
    tensors = {t["name"]: t for t in doc["tensors"]}
    ours = model.axon_names()
    missing = [n for n, _ in ours if n not in tensors]
    extra = sorted(set(tensors) - {n for n, _ in ours})
    if missing or extra:
        raise SystemExit(f"{path}: tensors missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for name, p in ours:
            t = tensors[name]
            if list(t["shape"]) != list(p.shape):
                raise SystemExit(f"{path}: tensor {name} has shape {t['shape']}, the model "
                                 f"needs {list(p.shape)}")
            p.copy_(torch.tensor(t["data"], dtype=torch.float32).view(p.shape))


def hyper_from(final: dict | None, args: argparse.Namespace) -> tuple[Hyper, int, float, int]:
    """(Hyper, total steps, min_lr, batch) from the final file's options or the flags."""
    o = ((final or {}).get("training") or {}).get("options") or {}
    get = lambda k, d: o.get(k, d)  # noqa: E731
    lr = f32(get("lr", args.lr))
    h = Hyper(
        batch=int(get("batch", args.batch)),
        lr=lr,
        weight_decay=f32(get("weight_decay", args.weight_decay)),
        betas=(f32(get("beta1", args.beta1)), f32(get("beta2", args.beta2))),
        eps=f32(get("eps", args.eps)),
        warmup=int(get("warmup", args.warmup)),
        clip=f32(get("clip", args.clip)),
    )
    min_lr = f32(get("min_lr", args.min_lr if args.min_lr is not None else f32(lr / 10)))
    return h, int(get("steps", args.steps or 0)), min_lr, h.batch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--init", type=Path, required=True, help="axon's initial model file")
    ap.add_argument("--trace", type=Path, required=True, help="axon's --trace JSON lines")
    ap.add_argument("--final", type=Path, help="axon's final model file, to compare weights")
    ap.add_argument("--text", type=Path, help="the training text (default: the bundled corpus)")
    ap.add_argument("--steps", type=int, help="the run's total steps (the cosine horizon)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr", type=float)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.99)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", type=Path, help="write the comparison here")
    ap.add_argument("--out-torch", type=Path,
                    help="write PyTorch's final weights here, as an axon f32 model file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    init = read_model(args.init)
    final = read_model(args.final) if args.final else None
    trace = [json.loads(line) for line in args.trace.read_text().splitlines() if line.strip()]
    if not trace:
        raise SystemExit(f"{args.trace}: no steps")
    h, total, min_lr, batch = hyper_from(final, args)
    if total == 0:
        total = len(trace)
    corpus = Corpus(args.text.read_text(encoding="utf-8")) if args.text else Corpus.bundled()
    vocab = "".join(corpus.chars)
    if init["vocab"] != vocab:
        raise SystemExit(f"{args.init}: vocabulary {init['vocab']!r} is not the text's {vocab!r}")
    c = init["config"]
    cfg = Config(vocab=c["vocab"], d_model=c["d_model"], n_layer=c["n_layer"],
                 n_head=c["n_head"], ctx=c["ctx"], d_ff=c["d_ff"], tied=c["tied"])
    model = GPT(cfg)
    load_weights(model, init, args.init)
    opt = torch.optim.AdamW(param_groups(model, h.weight_decay), lr=h.lr, betas=h.betas,
                            eps=h.eps, foreach=False)
    h = Hyper(**{**h.__dict__, "min_lr": min_lr})

    print(f"torch {torch.__version__}; {sum(p.numel() for p in model.parameters())} parameters; "
          f"{len(trace)} steps of {total}; batch {batch}, lr {h.lr:.6g}, warmup {h.warmup}, "
          f"min_lr {min_lr:.6g}, wd {h.weight_decay:.6g}, betas {h.betas}, clip {h.clip:.6g}")
    print(f"{'step':>5} {'loss axon':>12} {'loss torch':>12} {'|Δ|':>9} {'norm axon':>11} "
          f"{'norm torch':>11} {'rel Δ':>9} {'lr axon':>11} {'lr torch':>11}")
    steps = []
    for i, rec in enumerate(trace):
        if rec["step"] != i + 1:
            raise SystemExit(f"{args.trace}: line {i + 1} is step {rec['step']}, expected {i + 1}")
        starts = torch.tensor(rec["starts"], dtype=torch.long)
        if len(starts) != batch or int(starts.max()) + cfg.ctx + 1 > len(corpus.train):
            raise SystemExit(f"{args.trace}: step {i + 1}: {len(starts)} starts (batch {batch}) "
                             f"or a window past the training split")
        lr = lr_at(h, i, total)
        for g in opt.param_groups:
            g["lr"] = f32(rec["lr"])  # the update uses axon's lr; ours is compared
        x, y = corpus.batch(starts, cfg.ctx)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip = h.clip if h.clip > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        opt.step()
        s = {
            "step": i + 1,
            "loss_axon": rec["loss"], "loss_torch": loss.item(),
            "grad_norm_axon": rec["grad_norm"], "grad_norm_torch": norm,
            "lr_axon": rec["lr"], "lr_torch": lr,
        }
        s["loss_abs_diff"] = abs(s["loss_axon"] - s["loss_torch"])
        s["grad_norm_rel_diff"] = abs(s["grad_norm_axon"] - norm) / max(abs(norm), 1e-30)
        s["lr_rel_diff"] = abs(s["lr_axon"] - lr) / max(abs(lr), 1e-30)
        steps.append(s)
        print(f"{s['step']:5d} {s['loss_axon']:12.7f} {s['loss_torch']:12.7f} "
              f"{s['loss_abs_diff']:9.2e} {s['grad_norm_axon']:11.6f} {norm:11.6f} "
              f"{s['grad_norm_rel_diff']:9.2e} {s['lr_axon']:11.4e} {lr:11.4e}")

    tensors = []
    if final is not None:
        if final.get("step") not in (None, len(trace)):
            print(f"note: {args.final} is at step {final.get('step')}, the trace has {len(trace)}")
        theirs = {t["name"]: t for t in final["tensors"]}
        print(f"\n{'tensor':>16} {'max |Δ|':>10} {'max |w|':>9} {'Δ/max|w|':>9} {'max rel':>9}")
        for name, p in model.axon_names():
            if name not in theirs:
                raise SystemExit(f"{args.final}: no tensor {name}")
            a = np.asarray(theirs[name]["data"], dtype=np.float64)
            b = p.detach().double().numpy().ravel()
            if a.shape != b.shape:
                raise SystemExit(f"{args.final}: tensor {name} has {a.size} values, not {b.size}")
            d = np.abs(a - b)
            big = np.abs(a).max()
            # Elementwise relative difference where |w| is not tiny against the tensor.
            mask = np.abs(a) >= 1e-3 * big if big > 0 else np.zeros_like(a, dtype=bool)
            rel = float((d[mask] / np.abs(a[mask])).max()) if mask.any() else 0.0
            t = {"name": name, "max_abs_diff": float(d.max()), "max_abs": float(big),
                 "diff_over_max": float(d.max() / big) if big > 0 else 0.0, "max_rel": rel}
            tensors.append(t)
            print(f"{name:>16} {t['max_abs_diff']:10.3e} {big:9.4f} {t['diff_over_max']:9.2e} "
                  f"{rel:9.2e}")
    if args.out_torch is not None:
        doc = {k: init[k] for k in ("format", "version", "precision", "config", "vocab")}
        doc["tensors"] = [{"name": n, "shape": list(p.shape),
                           "data": p.detach().reshape(-1).tolist()} for n, p in model.axon_names()]
        doc["training"] = {"replayed_by": "tools/pytorch/lm_compare.py", "steps": len(trace)}
        args.out_torch.write_text(json.dumps(doc) + "\n")
    summary = {
        "steps": len(trace),
        "max_loss_abs_diff": max(s["loss_abs_diff"] for s in steps),
        "max_grad_norm_rel_diff": max(s["grad_norm_rel_diff"] for s in steps),
        "max_lr_rel_diff": max(s["lr_rel_diff"] for s in steps),
    }
    if tensors:
        summary["max_weight_abs_diff"] = max(t["max_abs_diff"] for t in tensors)
        summary["max_weight_rel_diff"] = max(t["max_rel"] for t in tensors)
    print("\nsummary: " + json.dumps(summary))
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": summary, "steps": steps, "tensors": tensors},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
