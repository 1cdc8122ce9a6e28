"""deepdive.distributions vs torch.distributions: the cost of log_prob and rsample (and of the RL hot paths).

    python benchmarks/bench_distributions.py [--number 200] [--rounds 7]

Each case builds the distribution from parameters that require grad and times one call of what RL code
does per step (forward + backward where gradients flow). deepdive and torch are timed in interleaved
rounds (dd, torch, dd, torch, ...) so that machine load hits both alike; each round times ``number`` calls.
Printed: the median time per call of each, and ratio = deepdive time / torch time as median (min..max over
the rounds); > 1 means deepdive is slower. PyTorch runs with 1 thread, as a single-core baseline.
"""
import argparse
import statistics
import timeit

import numpy as np

import deepdive
import deepdive.distributions as D

try:
    import torch
except ImportError:
    raise SystemExit("the benchmark compares against PyTorch: pip install -e '.[test]'")

rng = np.random.default_rng(0)
LOC = rng.standard_normal((256, 8)).astype(np.float32)
SCALE = rng.uniform(0.5, 2.0, (256, 8)).astype(np.float32)
VALUE = rng.standard_normal((256, 8)).astype(np.float32)
LOGITS = rng.standard_normal((256, 6)).astype(np.float32)
ACTIONS = rng.integers(0, 6, 256)
A = rng.standard_normal((8, 8))
COV = (A @ A.T + 8 * np.eye(8)).astype(np.float32)
CONC = rng.uniform(0.5, 3.0, (256, 8)).astype(np.float32)
SIMPLEX = (CONC / CONC.sum(-1, keepdims=True)).astype(np.float32)


def cases(lib, dists):
    """name -> zero-argument callable, built from fresh leaf tensors of ``lib`` (deepdive or torch)."""
    def leaf(a):
        return lib.tensor(a, requires_grad=True)

    loc, scale, logits, conc = leaf(LOC), leaf(SCALE), leaf(LOGITS), leaf(CONC)
    value, actions, simplex = lib.tensor(VALUE), lib.tensor(ACTIONS), lib.tensor(SIMPLEX)
    mvn_loc, cov = leaf(LOC), lib.tensor(COV)
    tanh = dists.transforms.TanhTransform
    probs_1x2 = lib.tensor(np.array([[0.3, 0.7]], np.float32), requires_grad=True)
    return {
        "Categorical(1x2) sample + log_prob (1 step)": lambda: _reinforce_step(dists, probs_1x2),
        "Normal(256x8).log_prob + backward": lambda: dists.Normal(loc, scale).log_prob(value).sum().backward(),
        "Normal(256x8).rsample + backward": lambda: dists.Normal(loc, scale).rsample().sum().backward(),
        "Normal(256x8).sample": lambda: dists.Normal(loc, scale).sample(),
        "Categorical(256x6).log_prob + backward": lambda: dists.Categorical(logits=logits).log_prob(actions)
        .sum().backward(),
        "Categorical(256x6).sample": lambda: dists.Categorical(logits=logits).sample(),
        "Categorical(256x6).entropy + backward": lambda: dists.Categorical(logits=logits).entropy().sum().backward(),
        "tanh-Normal(256x8) rsample+log_prob+bwd": lambda: _sac(dists, tanh, loc, scale),
        "MVN(256 x 8-dim).log_prob + backward": lambda: dists.MultivariateNormal(mvn_loc, covariance_matrix=cov)
        .log_prob(value).sum().backward(),
        "MVN(256 x 8-dim).rsample + backward": lambda: dists.MultivariateNormal(mvn_loc, covariance_matrix=cov)
        .rsample().sum().backward(),
        "Gamma(256x8).rsample + backward": lambda: dists.Gamma(conc, 1.0).rsample().sum().backward(),
        "Dirichlet(256x8).log_prob + backward": lambda: dists.Dirichlet(conc).log_prob(simplex).sum().backward(),
        "kl(Normal, Normal)(256x8) + backward": lambda: dists.kl_divergence(dists.Normal(loc, scale),
                                                                             dists.Normal(value, 1.0)).sum().backward(),
    }


def _reinforce_step(dists, probs):
    m = dists.Categorical(probs)
    action = m.sample()
    return m.log_prob(action), action.item()


def _sac(dists, tanh, loc, scale):
    pi = dists.TransformedDistribution(dists.Normal(loc, scale), [tanh(cache_size=1)])
    action = pi.rsample()
    (pi.log_prob(action).sum(-1).mean() - action.sum()).backward()


def main(number, rounds):
    torch.set_num_threads(1)
    print(f"deepdive {deepdive.__version__} vs torch {torch.__version__} (1 thread), float32, {rounds} interleaved "
          f"rounds of {number} calls")
    print(f"{'case':<42}{'deepdive us':>12}{'torch us':>10}   ratio dd/torch median (min..max)")
    ours, theirs = cases(deepdive, D), cases(torch, torch.distributions)
    for name in ours:
        ours[name](), theirs[name]()                 # warm up both
        t_dd, t_torch = [], []
        for _ in range(rounds):
            t_dd.append(timeit.timeit(ours[name], number=number) / number)
            t_torch.append(timeit.timeit(theirs[name], number=number) / number)
        ratios = [a / b for a, b in zip(t_dd, t_torch)]
        print(f"{name:<42}{statistics.median(t_dd) * 1e6:>12.1f}{statistics.median(t_torch) * 1e6:>10.1f}   "
              f"{statistics.median(ratios):5.2f}x ({min(ratios):.2f}..{max(ratios):.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    main(args.number, args.rounds)
