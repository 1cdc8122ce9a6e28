"""``deepdive demo --model transformer``: a tiny decoder-only GPT learns to sort digits.

A sequence is 6 random digits, a separator, then the same digits sorted. The
model sees tokens left to right (causal mask) and is trained to predict each
next token; only the sorted half counts in the loss (the first half is random).
"""
import numpy as np

import deepdive
import deepdive.nn as nn
import deepdive.nn.functional as F
from ..tensor import _wrap
from ..utils.data import DataLoader, TensorDataset
from . import run_folder
from ._common import train_and_report

N_DIGITS, SEP, VOCAB = 6, 10, 11


class TinyGPT(nn.Module):
    """Token + position embeddings, causal Transformer blocks (pre-norm), LayerNorm, a linear head."""

    def __init__(self, vocab_size=VOCAB, block_size=2 * N_DIGITS + 1, d_model=64, n_layer=2, n_head=4, d_ff=128):
        super().__init__()
        self.block_size = block_size
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(block_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_head, d_ff, dropout=0.0, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.blocks = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(block_size), persistent=False)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.token(idx) + self.position(deepdive.arange(T))
        x = self.blocks(x, mask=self.mask[:T, :T], is_causal=True)
        return self.head(self.norm(x))

    @deepdive.no_grad()
    def generate(self, idx, new_tokens, temperature=1.0, top_k=None, generator=None):
        """Append ``new_tokens`` sampled tokens (greedy when top_k == 1)."""
        for _ in range(new_tokens):
            logits = self(idx[:, -self.block_size:])[:, -1] / temperature
            if top_k is not None:
                kth = logits.topk(top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = deepdive.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            idx = deepdive.cat([idx, nxt], dim=1)
        return idx


def sorting_data(n, seed):
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 10, (n, N_DIGITS))
    seq = np.concatenate([digits, np.full((n, 1), SEP), np.sort(digits, 1)], 1)
    inputs, targets = seq[:, :-1].copy(), seq[:, 1:].copy()
    targets[:, :N_DIGITS - 1] = -100                  # predicting the random digits is not the task
    return _wrap(inputs.astype(np.int64)), _wrap(targets.astype(np.int64))


def sequence_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def run(epochs=6, batch_size=64, lr=3e-3, seed=0, out="runs", verbose=1, n_train=3000):
    folder = run_folder.prepare(out, "demo-transformer")          # before any training
    deepdive.manual_seed(seed)
    x_train, y_train = sorting_data(n_train, seed)
    x_val, y_val = sorting_data(500, seed + 1)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                       generator=deepdive.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=250)
    model = TinyGPT()

    def sorted_correctly(model):
        model.eval()
        prompt = x_val[:200, :N_DIGITS + 1]
        out = model.generate(prompt, N_DIGITS, top_k=1)[:, N_DIGITS + 1:]
        truth = np.sort(x_val[:200, :N_DIGITS].numpy(), 1)
        return {"sequences sorted exactly (greedy)": float(np.mean(np.all(out.numpy() == truth, 1)))}
    def what_it_learned(folder, files):
        model.eval()
        prompt = x_val[:12, :N_DIGITS + 1]
        outputs = model.generate(prompt, N_DIGITS, top_k=1)[:, N_DIGITS + 1:].numpy()
        rows = []
        for digits, answer in zip(prompt.numpy()[:, :N_DIGITS], outputs):
            right = np.array_equal(answer, np.sort(digits))
            rows.append((" ".join(map(str, digits)), " ".join(map(str, answer)), " ".join(map(str, np.sort(digits))),
                         "yes" if right else "no"))
        return [("What the Transformer learned: held-out inputs and its sorted outputs", "table",
                 (["input digits", "model's output (greedy)", "sorted (truth)", "right"], rows), None)]

    intro = (f"A 2-layer decoder-only Transformer (d_model 64, 4 heads, causal mask) trained with AdamW(lr={lr}) "
             f"for {epochs} epochs on {n_train} generated sequences: 6 digits, a separator, then the digits sorted. "
             "Only the sorted half is scored. Afterwards it sorts held-out sequences by greedy decoding.")
    return train_and_report("transformer", "deepdive demo: a tiny GPT that sorts", "causal self-attention, pre-norm",
                            model, sequence_loss, deepdive.optim.AdamW(model.parameters(), lr=lr), train, val, epochs,
                            None, (x_val[:1], y_val[:1]), intro, out, verbose, extra_metrics=sorted_correctly,
                            model_sections=what_it_learned, folder=folder)
