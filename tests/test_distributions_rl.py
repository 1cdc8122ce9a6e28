"""Reinforcement-learning programs written the way their tutorials write them, run twice: once as PyTorch
code and once with only the imports swapped to deepdive, side by side from the same weights.

The harness records what deepdive drew (the actions of Categorical.sample, the N(0, 1) noise of
Normal.rsample) and replays it to PyTorch, so the comparison does not rest on the two generators staying in
step (test_distributions_sampling checks that separately); everything else
(log_prob, entropy, the tanh log-Jacobian, the losses, backward and the optimizer steps) runs natively in
each and is compared step by step.
"""
import numpy as np

import deepdive
import deepdive.distributions as D
from parity import require_torch
from program_swap import swap_imports


def load(source, framework):
    namespace = {}
    code = swap_imports(source) if framework == "deepdive" else source
    exec(compile(code, f"<program:{framework}>", "exec"), namespace)
    return namespace


def copy_weights(dd_module, torch_module, torch):
    torch_module.load_state_dict({k: torch.tensor(v.numpy()) for k, v in dd_module.state_dict().items()})


def assert_same_parameters(dd_module, torch_module, atol=1e-4):
    for (name, a), (_, b) in zip(dd_module.state_dict().items(), torch_module.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-3, atol=atol, err_msg=name)


class Recorder:
    """Record deepdive's draws, then replay them to PyTorch in the same order."""

    def __init__(self):
        self.draws = []
        self.position = 0

    def record(self, array):
        self.draws.append(np.array(array))

    def replay(self):
        array = self.draws[self.position]
        self.position += 1
        return array


CARTPOLE = '''
import math
import numpy as np


class CartPole:
    """The classic cart-pole (Barto, Sutton & Anderson 1983), Euler steps as in Gym's CartPole-v1."""

    def reset(self, seed):
        self.state = np.random.RandomState(seed).uniform(-0.05, 0.05, 4)
        return self.state.astype(np.float32)

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = 10.0 if action == 1 else -10.0
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + 0.05 * theta_dot ** 2 * sin) / 1.1
        theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos ** 2 / 1.1))
        x_acc = temp - 0.05 * theta_acc * cos / 1.1
        self.state = np.array([x + 0.02 * x_dot, x_dot + 0.02 * x_acc, theta + 0.02 * theta_dot,
                               theta_dot + 0.02 * theta_acc])
        done = abs(self.state[0]) > 2.4 or abs(self.state[2]) > 12 * 2 * math.pi / 360
        return self.state.astype(np.float32), 1.0, done
'''

# pytorch/examples reinforcement_learning/reinforce.py, with the dropout layer left out (its mask is random).
REINFORCE = '''
from collections import deque
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.affine2 = nn.Linear(128, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


def select_action(policy, state):
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode(policy, optimizer, gamma=0.99):
    eps = np.finfo(np.float32).eps.item()
    R = 0
    policy_loss = []
    returns = deque()
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.appendleft(R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


def train(policy, env, episodes):
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    losses = []
    for i_episode in range(episodes):
        state, ep_reward = env.reset(seed=i_episode), 0
        for t in range(1, 10000):
            action = select_action(policy, state)
            state, reward, done = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if done:
                break
        losses.append(finish_episode(policy, optimizer))
    return losses
'''


def _replay_categorical(monkeypatch, torch, recorder):
    original = D.Categorical.sample

    def recording_sample(self, sample_shape=()):
        out = original(self, sample_shape)
        recorder.record(out.numpy())
        return out

    monkeypatch.setattr(D.Categorical, "sample", recording_sample)
    monkeypatch.setattr(torch.distributions.Categorical, "sample",
                        lambda self, sample_shape=(): torch.tensor(recorder.replay()))


def test_reinforce_with_categorical_matches_torch(monkeypatch):
    torch = require_torch()
    recorder = Recorder()
    _replay_categorical(monkeypatch, torch, recorder)
    env = load(CARTPOLE, "numpy")["CartPole"]
    dd, tt = load(REINFORCE, "deepdive"), load(REINFORCE, "torch")
    deepdive.manual_seed(543)
    dd_policy, torch_policy = dd["Policy"](), tt["Policy"]()
    copy_weights(dd_policy, torch_policy, torch)
    dd_losses = dd["train"](dd_policy, env(), episodes=6)
    torch_losses = tt["train"](torch_policy, env(), episodes=6)
    assert recorder.position == len(recorder.draws) > 6        # every action replayed, episodes had several steps
    np.testing.assert_allclose(dd_losses, torch_losses, rtol=1e-4, atol=1e-4)
    assert_same_parameters(dd_policy, torch_policy)


# nikhilbarhate99/PPO-PyTorch's discrete ActorCritic and PPO.update (clipped surrogate + value loss + entropy).
PPO = '''
import torch
import torch.nn as nn
from torch.distributions import Categorical


class ActorCritic(nn.Module):
    def __init__(self, state_dim, action_dim, hidden=64):
        super(ActorCritic, self).__init__()
        self.actor = nn.Sequential(nn.Linear(state_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                   nn.Linear(hidden, action_dim), nn.Softmax(dim=-1))
        self.critic = nn.Sequential(nn.Linear(state_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                    nn.Linear(hidden, 1))

    def act(self, state):
        action_probs = self.actor(state)
        dist = Categorical(action_probs)
        action = dist.sample()
        action_logprob = dist.log_prob(action)
        return action.detach(), action_logprob.detach(), self.critic(state).detach()

    def evaluate(self, state, action):
        action_probs = self.actor(state)
        dist = Categorical(action_probs)
        action_logprobs = dist.log_prob(action)
        dist_entropy = dist.entropy()
        state_values = self.critic(state)
        return action_logprobs, state_values, dist_entropy


def update(policy, optimizer, buffer, K_epochs=4, eps_clip=0.2, gamma=0.99):
    rewards = []
    discounted_reward = 0
    for reward, is_terminal in zip(reversed(buffer["rewards"]), reversed(buffer["is_terminals"])):
        if is_terminal:
            discounted_reward = 0
        discounted_reward = reward + (gamma * discounted_reward)
        rewards.insert(0, discounted_reward)
    rewards = torch.tensor(rewards, dtype=torch.float32)
    rewards = (rewards - rewards.mean()) / (rewards.std() + 1e-7)
    old_states = torch.squeeze(torch.stack(buffer["states"], dim=0)).detach()
    old_actions = torch.squeeze(torch.stack(buffer["actions"], dim=0)).detach()
    old_logprobs = torch.squeeze(torch.stack(buffer["logprobs"], dim=0)).detach()
    old_state_values = torch.squeeze(torch.stack(buffer["state_values"], dim=0)).detach()
    advantages = rewards.detach() - old_state_values.detach()
    mse = nn.MSELoss()
    losses = []
    for _ in range(K_epochs):
        logprobs, state_values, dist_entropy = policy.evaluate(old_states, old_actions)
        state_values = torch.squeeze(state_values)
        ratios = torch.exp(logprobs - old_logprobs.detach())
        surr1 = ratios * advantages
        surr2 = torch.clamp(ratios, 1 - eps_clip, 1 + eps_clip) * advantages
        loss = -torch.min(surr1, surr2) + 0.5 * mse(state_values, rewards) - 0.01 * dist_entropy
        optimizer.zero_grad()
        loss.mean().backward()
        optimizer.step()
        losses.append(loss.mean().item())
    return losses


def train(policy, env, steps, update_every=40):
    optimizer = torch.optim.Adam([{"params": policy.actor.parameters(), "lr": 3e-4},
                                  {"params": policy.critic.parameters(), "lr": 1e-3}])
    buffer = {k: [] for k in ("states", "actions", "logprobs", "state_values", "rewards", "is_terminals")}
    losses, episode = [], 0
    state = env.reset(seed=episode)
    for t in range(1, steps + 1):
        with torch.no_grad():
            state_t = torch.FloatTensor(state)
            action, action_logprob, state_val = policy.act(state_t)
        buffer["states"].append(state_t)
        buffer["actions"].append(action)
        buffer["logprobs"].append(action_logprob)
        buffer["state_values"].append(state_val)
        state, reward, done = env.step(action.item())
        buffer["rewards"].append(reward)
        buffer["is_terminals"].append(done)
        if t % update_every == 0:
            losses += update(policy, optimizer, buffer)
            for v in buffer.values():
                v.clear()
        if done:
            episode += 1
            state = env.reset(seed=episode)
    return losses
'''


def test_ppo_actor_critic_with_entropy_matches_torch(monkeypatch):
    torch = require_torch()
    recorder = Recorder()
    _replay_categorical(monkeypatch, torch, recorder)
    env = load(CARTPOLE, "numpy")["CartPole"]
    dd, tt = load(PPO, "deepdive"), load(PPO, "torch")
    deepdive.manual_seed(0)
    dd_policy, torch_policy = dd["ActorCritic"](4, 2), tt["ActorCritic"](4, 2)
    copy_weights(dd_policy, torch_policy, torch)
    dd_losses = dd["train"](dd_policy, env(), steps=120)
    torch_losses = tt["train"](torch_policy, env(), steps=120)
    assert len(dd_losses) == 12
    np.testing.assert_allclose(dd_losses, torch_losses, rtol=1e-4, atol=1e-5)
    assert_same_parameters(dd_policy, torch_policy)


# Spinning Up's SAC core: a tanh-squashed Gaussian actor (here through TransformedDistribution + TanhTransform,
# as CleanRL and many SAC ports write it) and clipped double-Q learning with Polyak-averaged targets.
SAC = '''
import torch
import torch.nn as nn
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

LOG_STD_MAX = 2
LOG_STD_MIN = -20


def mlp(sizes, activation, output_activation=nn.Identity):
    layers = []
    for j in range(len(sizes) - 1):
        act = activation if j < len(sizes) - 2 else output_activation
        layers += [nn.Linear(sizes[j], sizes[j + 1]), act()]
    return nn.Sequential(*layers)


class SquashedGaussianMLPActor(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden_sizes, activation, act_limit):
        super().__init__()
        self.net = mlp([obs_dim] + list(hidden_sizes), activation, activation)
        self.mu_layer = nn.Linear(hidden_sizes[-1], act_dim)
        self.log_std_layer = nn.Linear(hidden_sizes[-1], act_dim)
        self.act_limit = act_limit

    def forward(self, obs, deterministic=False, with_logprob=True):
        net_out = self.net(obs)
        mu = self.mu_layer(net_out)
        log_std = self.log_std_layer(net_out)
        log_std = torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)
        std = torch.exp(log_std)
        pi_distribution = TransformedDistribution(Normal(mu, std), [TanhTransform(cache_size=1)])
        if deterministic:
            pi_action = torch.tanh(mu)
        else:
            pi_action = pi_distribution.rsample()
        if with_logprob:
            logp_pi = pi_distribution.log_prob(pi_action).sum(axis=-1)
        else:
            logp_pi = None
        return self.act_limit * pi_action, logp_pi


class MLPQFunction(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden_sizes, activation):
        super().__init__()
        self.q = mlp([obs_dim + act_dim] + list(hidden_sizes) + [1], activation)

    def forward(self, obs, act):
        q = self.q(torch.cat([obs, act], dim=-1))
        return torch.squeeze(q, -1)


class MLPActorCritic(nn.Module):
    def __init__(self, obs_dim, act_dim, act_limit=1.0, hidden_sizes=(32, 32), activation=nn.ReLU):
        super().__init__()
        self.pi = SquashedGaussianMLPActor(obs_dim, act_dim, hidden_sizes, activation, act_limit)
        self.q1 = MLPQFunction(obs_dim, act_dim, hidden_sizes, activation)
        self.q2 = MLPQFunction(obs_dim, act_dim, hidden_sizes, activation)


def train(ac, ac_targ, batches, gamma=0.99, alpha=0.2, polyak=0.995, lr=1e-3):
    q_params = list(ac.q1.parameters()) + list(ac.q2.parameters())
    pi_optimizer = torch.optim.Adam(ac.pi.parameters(), lr=lr)
    q_optimizer = torch.optim.Adam(q_params, lr=lr)
    for p in ac_targ.parameters():
        p.requires_grad = False
    history = []
    for data in batches:
        o, a, r, o2, d = (torch.as_tensor(data[k], dtype=torch.float32) for k in ("obs", "act", "rew", "obs2", "done"))
        q1 = ac.q1(o, a)
        q2 = ac.q2(o, a)
        with torch.no_grad():
            a2, logp_a2 = ac.pi(o2)
            q1_pi_targ = ac_targ.q1(o2, a2)
            q2_pi_targ = ac_targ.q2(o2, a2)
            q_pi_targ = torch.min(q1_pi_targ, q2_pi_targ)
            backup = r + gamma * (1 - d) * (q_pi_targ - alpha * logp_a2)
        loss_q = ((q1 - backup) ** 2).mean() + ((q2 - backup) ** 2).mean()
        q_optimizer.zero_grad()
        loss_q.backward()
        q_optimizer.step()
        for p in q_params:
            p.requires_grad = False
        pi, logp_pi = ac.pi(o)
        q_pi = torch.min(ac.q1(o, pi), ac.q2(o, pi))
        loss_pi = (alpha * logp_pi - q_pi).mean()
        pi_optimizer.zero_grad()
        loss_pi.backward()
        pi_optimizer.step()
        for p in q_params:
            p.requires_grad = True
        with torch.no_grad():
            for p, p_targ in zip(ac.parameters(), ac_targ.parameters()):
                p_targ.data.mul_(polyak)
                p_targ.data.add_((1 - polyak) * p.data)
        history.append((loss_q.item(), loss_pi.item(), logp_pi.mean().item()))
    return history
'''


def test_sac_tanh_squashed_normal_matches_torch(monkeypatch):
    torch = require_torch()
    recorder = Recorder()
    original_randn = deepdive.randn

    def recording_randn(*size, **kwargs):
        out = original_randn(*size, **kwargs)
        recorder.record(out.numpy())
        return out

    monkeypatch.setattr(deepdive, "randn", recording_randn)
    monkeypatch.setattr(torch.distributions.normal, "_standard_normal",
                        lambda shape, dtype, device: torch.tensor(recorder.replay(), dtype=dtype))
    rng = np.random.default_rng(0)
    batches = [{"obs": rng.standard_normal((16, 3)), "act": rng.uniform(-1, 1, (16, 2)), "rew": rng.standard_normal(16),
                "obs2": rng.standard_normal((16, 3)), "done": (rng.random(16) < 0.1).astype(float)} for _ in range(8)]
    dd, tt = load(SAC, "deepdive"), load(SAC, "torch")
    deepdive.manual_seed(0)
    dd_ac, dd_targ = dd["MLPActorCritic"](3, 2), dd["MLPActorCritic"](3, 2)
    dd_targ.load_state_dict(dd_ac.state_dict())
    torch_ac, torch_targ = tt["MLPActorCritic"](3, 2), tt["MLPActorCritic"](3, 2)
    copy_weights(dd_ac, torch_ac, torch)
    copy_weights(dd_ac, torch_targ, torch)
    dd_history = dd["train"](dd_ac, dd_targ, batches)
    torch_history = tt["train"](torch_ac, torch_targ, batches)
    assert recorder.position == len(recorder.draws) == 16      # two rsamples per update, all replayed
    np.testing.assert_allclose(dd_history, torch_history, rtol=1e-4, atol=1e-4)
    assert_same_parameters(dd_ac, torch_ac)
    assert_same_parameters(dd_targ, torch_targ)
