"""A tiny GPT that learns to sort digits: decoder-only Transformer trained with AdamW.

    python examples/tiny_gpt.py [--steps 200] [--seed 0]

Each training sequence is ``d_1 ... d_n SEP s_1 ... s_n`` with s the digits d sorted;
the model reads left to right (causal self-attention) and is trained to predict
every next token of the sorted half. ``generate()`` then completes a prompt
``d_1 ... d_n SEP`` by sampling (``multinomial``, temperature, top-k).

The model is written exactly as PyTorch code (``build_gpt(deepdive)`` and
``build_gpt(torch)`` make the same network); benchmarks/bench_transformer.py
times one against the other.
"""
import argparse
import math
import time

import numpy as np

import deepdive
import deepdive.optim  # noqa: F401  (torch.optim comes with import torch; explicit here for clarity)

SEP = 10            # digits are tokens 0-9, the separator is 10
VOCAB = 11


def build_gpt(lib, vocab_size=VOCAB, block_size=16, d_model=64, n_layer=2, n_head=4, d_ff=256, dropout=0.0,
              activation="gelu"):
    """A GPT for library ``lib`` (``deepdive`` or ``torch``): token + position embeddings, ``n_layer`` causal
    pre-norm Transformer blocks (nn.TransformerEncoderLayer with a causal mask), a final LayerNorm, and
    an output head tied to the token embedding (Press & Wolf, 2017)."""
    nn = lib.nn

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.tok_emb = nn.Embedding(vocab_size, d_model)
            self.pos_emb = nn.Embedding(block_size, d_model)
            layer = nn.TransformerEncoderLayer(d_model, n_head, d_ff, dropout, activation=activation,
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
            self.ln_f = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab_size, bias=False)
            self.head.weight = self.tok_emb.weight          # weight tying
            # GPT-2's initialisation: N(0, 0.02) embeddings keep the tied logits small at the start
            nn.init.normal_(self.tok_emb.weight, std=0.02)
            nn.init.normal_(self.pos_emb.weight, std=0.02)

        def forward(self, idx):
            """idx (B, T) token ids -> logits (B, T, vocab_size)."""
            t = idx.shape[1]
            pos = lib.arange(t)
            x = self.tok_emb(idx) + self.pos_emb(pos)
            mask = nn.Transformer.generate_square_subsequent_mask(t)
            x = self.blocks(x, mask=mask, is_causal=True)
            return self.head(self.ln_f(x))

        @lib.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            """Extend idx (B, T) by ``max_new_tokens`` tokens sampled from the softmax of the last logits,
            divided by ``temperature`` and restricted to the ``top_k`` most likely tokens."""
            for _ in range(max_new_tokens):
                logits = self(idx[:, -self.block_size:])[:, -1, :] / temperature
                if top_k is not None:
                    values, _ = lib.topk(logits, min(top_k, logits.shape[-1]))
                    logits = logits.masked_fill(logits < values[:, -1:], float("-inf"))
                probs = nn.functional.softmax(logits, dim=-1)
                next_token = lib.multinomial(probs, num_samples=1)
                idx = lib.cat([idx, next_token], dim=1)
            return idx

    return TinyGPT()


def make_batch(rng, batch_size, n_digits):
    """(inputs, targets) for the sorting task; targets are -100 (ignored) on the unsorted half."""
    digits = rng.integers(0, 10, (batch_size, n_digits))
    seq = np.concatenate([digits, np.full((batch_size, 1), SEP), np.sort(digits, axis=1)], axis=1)
    inputs, targets = seq[:, :-1], seq[:, 1:].copy()
    targets[:, :n_digits - 1] = -100          # predicting the random digits is impossible; do not train on it
    return deepdive.tensor(inputs), deepdive.tensor(targets)


def evaluate(model, rng, n_digits, n=200, temperature=1.0, top_k=1):
    """Fraction of prompts whose generated completion is exactly the sorted digits."""
    model.eval()
    digits = rng.integers(0, 10, (n, n_digits))
    prompt = deepdive.tensor(np.concatenate([digits, np.full((n, 1), SEP)], axis=1))
    out = model.generate(prompt, n_digits, temperature=temperature, top_k=top_k).numpy()[:, n_digits + 1:]
    model.train()
    return float(np.mean(np.all(out == np.sort(digits, axis=1), axis=1))), digits[:3], out[:3]


def main(steps=200, n_digits=6, batch_size=64, d_model=64, n_layer=2, n_head=4, d_ff=128, lr=3e-3, seed=0,
         log_every=50, verbose=True):
    """Train and return a dict with the loss history and the accuracy of greedy and sampled completions."""
    deepdive.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_gpt(deepdive, block_size=2 * n_digits, d_model=d_model, n_layer=n_layer, n_head=n_head,
                      d_ff=d_ff)
    optimizer = deepdive.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        # cosine decay after a short warm-up
        scale = min(1.0, step / 20) * 0.5 * (1 + math.cos(math.pi * step / (steps + 1)))
        for group in optimizer.param_groups:
            group["lr"] = lr * scale
        x, y = make_batch(rng, batch_size, n_digits)
        logits = model(x)
        loss = deepdive.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if verbose and (step % log_every == 0 or step == 1):
            print(f"step {step:4d}  loss {losses[-1]:.4f}  ({time.perf_counter() - start:.1f}s)")
    greedy, digits, out = evaluate(model, rng, n_digits, top_k=1)
    sampled, _, _ = evaluate(model, rng, n_digits, temperature=0.8, top_k=3)
    if verbose:
        for d, o in zip(digits, out):
            print(f"  {''.join(map(str, d))} -> {''.join(map(str, o))}")
        print(f"exact-match accuracy: greedy {greedy:.1%}, sampled (T=0.8, top-3) {sampled:.1%}")
    return {"losses": losses, "greedy_accuracy": greedy, "sampled_accuracy": sampled, "model": model}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--digits", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(steps=args.steps, n_digits=args.digits, seed=args.seed)
