"""The language model of docs/lm.md in PyTorch, and what both scripts share.

nanoGPT's GPT: token and position embeddings, pre-norm blocks (LayerNorm,
causal self-attention with one ``c_attn`` producing q, k, v, residual;
LayerNorm, GELU (erf) MLP, residual), a final LayerNorm and an untied head
without bias. Every ``nn.Linear`` has a bias except the head. Parameters map
one to one onto axon's named tensors (host/src/lm/params.rs) by
``axon_names``, in axon's order, with the same layout (``nn.Linear`` is
``W [out, in]`` there too).

Also: the corpus split and vocabulary (host/src/lm/{vocab,corpus}.rs), the
two AdamW parameter groups, the learning-rate schedule (warmup, then cosine
to lr/10, as ``train::schedule::Schedule``) and the validation loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "data" / "tinyshakespeare.txt"
LN_EPS = 1e-5  # host/src/lm/config.rs LN_EPS, PyTorch's default


@dataclass(frozen=True)
class Config:
    """host/src/lm/config.rs LmConfig."""

    vocab: int
    d_model: int = 64
    n_layer: int = 4
    n_head: int = 4
    ctx: int = 128
    d_ff: int = 256
    tied: bool = False


@dataclass(frozen=True)
class Hyper:
    """docs/lm.md § Training: the defaults."""

    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-8
    warmup: int = 100
    min_lr_ratio: float = 0.1
    clip: float = 1.0
    # The cosine's floor; None: lr·min_lr_ratio.
    min_lr: float | None = None


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.n_head = c.n_head
        self.ln1 = nn.LayerNorm(c.d_model, eps=LN_EPS)
        self.c_attn = nn.Linear(c.d_model, 3 * c.d_model)  # rows q, k, v
        self.c_proj = nn.Linear(c.d_model, c.d_model)
        self.ln2 = nn.LayerNorm(c.d_model, eps=LN_EPS)
        self.fc = nn.Linear(c.d_model, c.d_ff)
        self.proj = nn.Linear(c.d_ff, c.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln1(x)).split(d, dim=2)
        # (B, H, T, Dh): head j is dims j·Dh..(j+1)·Dh of q, k and v.
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # scale 1/√Dh
        x = x + self.c_proj(o.transpose(1, 2).reshape(b, t, d))
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))  # exact erf GELU


class GPT(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.config = c
        self.tok_emb = nn.Embedding(c.vocab, c.d_model)
        self.pos_emb = nn.Embedding(c.ctx, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.d_model, eps=LN_EPS)
        self.head = None if c.tied else nn.Linear(c.d_model, c.vocab, bias=False)
        self.init_nanogpt()

    def init_nanogpt(self) -> None:
        """nanoGPT's init: N(0, 0.02²), residual projections 0.02/√(2L), biases 0."""
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:  # LayerNorm gains
                nn.init.ones_(p)
            elif name.endswith((".c_proj.weight", ".proj.weight")):  # residual projections
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
            else:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        t = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(t, device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        x = self.ln_f(x)
        logits = x @ self.tok_emb.weight.T if self.head is None else self.head(x)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss

    def axon_names(self) -> list[tuple[str, nn.Parameter]]:
        """axon's tensor names (host/src/lm/params.rs), in its order, with ours."""
        out = [("tok_emb", self.tok_emb.weight), ("pos_emb", self.pos_emb.weight)]
        for l, b in enumerate(self.blocks):
            out += [
                (f"h{l}.ln1.g", b.ln1.weight), (f"h{l}.ln1.b", b.ln1.bias),
                (f"h{l}.attn.wqkv", b.c_attn.weight), (f"h{l}.attn.bqkv", b.c_attn.bias),
                (f"h{l}.attn.wo", b.c_proj.weight), (f"h{l}.attn.bo", b.c_proj.bias),
                (f"h{l}.ln2.g", b.ln2.weight), (f"h{l}.ln2.b", b.ln2.bias),
                (f"h{l}.mlp.w1", b.fc.weight), (f"h{l}.mlp.b1", b.fc.bias),
                (f"h{l}.mlp.w2", b.proj.weight), (f"h{l}.mlp.b2", b.proj.bias),
            ]
        out += [("ln_f.g", self.ln_f.weight), ("ln_f.b", self.ln_f.bias)]
        if self.head is not None:
            out.append(("head.w", self.head.weight))
        return out


def param_groups(model: GPT, weight_decay: float) -> list[dict]:
    """nanoGPT's two groups: decay on the 2-D tensors (matrices, embeddings) only."""
    params = [p for _, p in model.axon_names()]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def lr_at(h: Hyper, step: int, total: int) -> float:
    """train::schedule::Schedule (warmup, then cosine to lr·min_lr_ratio), rounded to f32
    as axon rounds it."""
    if step < h.warmup:
        lr = h.lr * (step + 1) / h.warmup
    else:
        horizon = max(total - h.warmup, 1)
        t = min(step - h.warmup, horizon)
        lo = h.lr * h.min_lr_ratio if h.min_lr is None else h.min_lr
        lo = float(torch.tensor(lo, dtype=torch.float32))  # axon's min_lr is an f32
        lr = lo + (h.lr - lo) * (1.0 + math.cos(math.pi * t / horizon)) / 2.0
    return float(torch.tensor(lr, dtype=torch.float32))


class Corpus:
    """host/src/lm/corpus.rs: vocabulary of sorted characters, split 90/10."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        index = {c: i for i, c in enumerate(self.chars)}
        tokens = torch.tensor([index[c] for c in text], dtype=torch.long)
        n = len(tokens) * 9 // 10
        self.train, self.val = tokens[:n], tokens[n:]

    @classmethod
    def bundled(cls) -> "Corpus":
        return cls(CORPUS.read_text(encoding="utf-8"))

    def batch(self, starts: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows of t + 1 tokens at ``starts`` in the training split: input, target."""
        w = torch.stack([self.train[s : s + t + 1] for s in starts.tolist()])
        return w[:, :-1], w[:, 1:]


@torch.no_grad()
def val_loss(model: GPT, val: torch.Tensor, batch: int = 64) -> tuple[float, int]:
    """Mean cross-entropy over the validation split in non-overlapping T-windows
    (inputs val[i·T .. i·T + T], targets one later), and the number of windows."""
    t = model.config.ctx
    n = (len(val) - 1) // t
    x = val[: n * t].view(n, t)
    y = val[1 : n * t + 1].view(n, t)
    was = model.training
    model.eval()
    total = 0.0
    for i in range(0, n, batch):
        _, loss = model(x[i : i + batch], y[i : i + batch])
        total += float(loss) * len(x[i : i + batch])
    model.train(was)
    return total / n, n
