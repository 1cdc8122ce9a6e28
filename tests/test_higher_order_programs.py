"""Programs that need higher-order gradients, written as their papers' / tutorials' code writes them.

Each program is one source text starting with ``import torch``; the deepdive run swaps only that
import. Both runs start from the same weights and data and must agree step by step (losses,
gradients, final parameters); WGAN-GP, the Burgers PINN and MAML also train.
"""
import textwrap

import numpy as np
import pytest

from parity import require_torch, assert_close


def run(code, use_deepdive, **env):
    if use_deepdive:
        code = code.replace("import torch\n", "import deepdive as torch\n", 1)
        code = code.replace("import torch.", "import deepdive.").replace("from torch.", "from deepdive.")
    scope = dict(env)
    exec(compile(textwrap.dedent(code), "<program>", "exec"), scope)
    return scope


def both(code, **env):
    require_torch()
    return run(code, True, **env), run(code, False, **env)


def same_init(model, seed):
    """Load seeded numbers into every parameter (same weights in both frameworks)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    import importlib
    torch = importlib.import_module(type(next(model.parameters())).__module__.split(".")[0])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor((rng.standard_normal(tuple(p.shape)) * 0.5).astype(np.float32)))


WGAN_GP = """
import torch
import torch.nn as nn
import torch.autograd as autograd

class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2, inplace=True),
                                   nn.Linear(16, 16), nn.LeakyReLU(0.2, inplace=True), nn.Linear(16, 1))

    def forward(self, x):
        return self.model(x)

def compute_gradient_penalty(D, real_samples, fake_samples, alpha):
    # Random weight term for interpolation between real and fake samples
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    fake = torch.ones(real_samples.shape[0], 1)
    # Get gradient w.r.t. interpolates
    gradients = autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                              create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    return gradient_penalty

discriminator = Critic()
init(discriminator, 0)
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.9))
lambda_gp = 10
losses, penalties = [], []
for step in range(6):
    real_imgs = torch.tensor(data["real"][step])
    fake_imgs = torch.tensor(data["fake"][step])
    alpha = torch.tensor(data["alpha"][step])
    optimizer_D.zero_grad()
    real_validity = discriminator(real_imgs)
    fake_validity = discriminator(fake_imgs)
    gradient_penalty = compute_gradient_penalty(discriminator, real_imgs.data, fake_imgs.data, alpha)
    d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + lambda_gp * gradient_penalty
    d_loss.backward()
    optimizer_D.step()
    losses.append(d_loss.item())
    penalties.append(gradient_penalty.item())
"""


def test_wgan_gp_critic_update_matches_torch():
    rng = np.random.default_rng(1)
    data = {"real": rng.standard_normal((6, 32, 2)).astype(np.float32) + 2,
            "fake": rng.standard_normal((6, 32, 2)).astype(np.float32),
            "alpha": rng.uniform(0, 1, (6, 32, 1)).astype(np.float32)}
    dd, pt = both(WGAN_GP, init=same_init, data=data)
    np.testing.assert_allclose(dd["losses"], pt["losses"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dd["penalties"], pt["penalties"], rtol=1e-4, atol=1e-6)
    for a, b in zip(dd["discriminator"].parameters(), pt["discriminator"].parameters()):
        assert_close(a, b, rtol=1e-4, atol=1e-5, what="critic parameter after 6 steps")
    assert dd["penalties"][-1] < dd["penalties"][0]          # the penalty pulls ||grad D|| towards 1


BURGERS_PINN = """
import torch
import torch.nn as nn

nu = 0.01 / 3.141592653589793
net = nn.Sequential(nn.Linear(2, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 1))
init(net, 2)

def net_u(x, t):
    return net(torch.cat([x, t], dim=1))

def net_f(x, t):
    u = net_u(x, t)
    u_t = torch.autograd.grad(u, t, grad_outputs=torch.ones_like(u), retain_graph=True, create_graph=True)[0]
    u_x = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), retain_graph=True, create_graph=True)[0]
    u_xx = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), retain_graph=True, create_graph=True)[0]
    return u_t + u * u_x - nu * u_xx

x_f = torch.tensor(data["x_f"], requires_grad=True)
t_f = torch.tensor(data["t_f"], requires_grad=True)
x_u, t_u, u_true = torch.tensor(data["x_u"]), torch.tensor(data["t_u"]), torch.tensor(data["u"])
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
losses = []
for it in range(8):
    optimizer.zero_grad()
    u_pred = net_u(x_u, t_u)
    f_pred = net_f(x_f, t_f)
    loss = torch.mean((u_true - u_pred) ** 2) + torch.mean(f_pred ** 2)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
"""


def test_burgers_pinn_matches_torch():
    rng = np.random.default_rng(2)
    x_u = rng.uniform(-1, 1, (16, 1)).astype(np.float32)
    data = {"x_f": rng.uniform(-1, 1, (32, 1)).astype(np.float32), "t_f": rng.uniform(0, 1, (32, 1)).astype(np.float32),
            "x_u": x_u, "t_u": np.zeros((16, 1), np.float32), "u": -np.sin(np.pi * x_u).astype(np.float32)}
    dd, pt = both(BURGERS_PINN, init=same_init, data=data)
    np.testing.assert_allclose(dd["losses"], pt["losses"], rtol=2e-4, atol=1e-6)
    for a, b in zip(dd["net"].parameters(), pt["net"].parameters()):
        assert_close(a, b, rtol=1e-3, atol=1e-5, what="PINN parameter after 8 Adam steps")
    assert dd["losses"][-1] < dd["losses"][0]


MAML = """
import torch
import torch.nn.functional as F

def forward(x, params):
    h = F.relu(F.linear(x, params[0], params[1]))
    return F.linear(h, params[2], params[3])

params = [torch.tensor(a, requires_grad=True) for a in data["params"]]
meta_optimizer = torch.optim.Adam(params, lr=1e-2)
inner_lr = 0.1
meta_losses = []
for step in range(4):
    meta_optimizer.zero_grad()
    total = 0.0
    for task in data["tasks"][step]:
        x_s, y_s, x_q, y_q = (torch.tensor(a) for a in task)
        support_loss = F.mse_loss(forward(x_s, params), y_s)
        grads = torch.autograd.grad(support_loss, params, create_graph=True)   # one differentiable inner step
        fast_weights = [p - inner_lr * g for p, g in zip(params, grads)]
        query_loss = F.mse_loss(forward(x_q, fast_weights), y_q)
        query_loss.backward()
        total += query_loss.item()
    meta_optimizer.step()
    meta_losses.append(total)
"""


def test_maml_one_differentiable_inner_step_matches_torch():
    rng = np.random.default_rng(3)
    shapes = [(16, 1), (16,), (1, 16), (1,)]
    params = [(rng.standard_normal(s) * 0.5).astype(np.float32) for s in shapes]
    tasks = []
    for _ in range(4):
        step = []
        for _ in range(3):
            amplitude, phase = rng.uniform(0.5, 2), rng.uniform(0, np.pi)
            xs, xq = rng.uniform(-3, 3, (10, 1)), rng.uniform(-3, 3, (10, 1))
            step.append(tuple(a.astype(np.float32) for a in
                              (xs, amplitude * np.sin(xs + phase), xq, amplitude * np.sin(xq + phase))))
        tasks.append(step)
    dd, pt = both(MAML, data={"params": params, "tasks": tasks})
    np.testing.assert_allclose(dd["meta_losses"], pt["meta_losses"], rtol=1e-4, atol=1e-6)
    for a, b in zip(dd["params"], pt["params"]):
        assert_close(a, b, rtol=1e-4, atol=1e-5, what="meta-parameter after 4 steps")


HESSIAN_MLP = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, hessian

class SimpleNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(SimpleNN, self).__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.layer2(self.relu(self.layer1(x)))

model = SimpleNN(input_size=10, hidden_size=20, output_size=2)
init(model, 4)
criterion = nn.CrossEntropyLoss()
x, target = torch.tensor(data["x"]), torch.tensor(data["y"])

# a Hessian-vector product by double backward
params = list(model.parameters())
loss = criterion(model(x), target)
grads = torch.autograd.grad(loss, params, create_graph=True)
dot = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, data["v"]))
hvp = torch.autograd.grad(dot, params)

# the same through torch.autograd.functional
def loss_of_layer2(w):
    return criterion(functional_call(model, {"layer2.weight": w}, (x,)), target)
_, hvp_functional = torch.autograd.functional.hvp(loss_of_layer2, model.layer2.weight.detach(),
                                                  torch.tensor(data["v"][2]))

# the Hessian of the loss w.r.t. layer2's weight, two ways
H = hessian(lambda w: criterion(functional_call(model, {"layer2.weight": w}, (x,)), target))(model.layer2.weight)
H_functional = torch.autograd.functional.hessian(loss_of_layer2, model.layer2.weight.detach())
"""


def test_hessian_vector_product_and_hessian_of_an_mlp_loss():
    rng = np.random.default_rng(4)
    v = [rng.standard_normal(s).astype(np.float32) for s in [(20, 10), (20,), (2, 20), (2,)]]
    data = {"x": rng.standard_normal((8, 10)).astype(np.float32), "y": rng.integers(0, 2, 8), "v": v}
    dd, pt = both(HESSIAN_MLP, init=same_init, data=data)
    for a, b in zip(dd["hvp"], pt["hvp"]):
        assert_close(a, b, rtol=1e-4, atol=1e-5, what="Hessian-vector product")
    assert_close(dd["hvp_functional"], pt["hvp_functional"], rtol=1e-4, atol=1e-5, what="functional hvp")
    assert tuple(dd["H"].shape) == (2, 20, 2, 20)
    assert_close(dd["H"], pt["H"], rtol=1e-4, atol=1e-6, what="Hessian (torch.func.hessian)")
    assert_close(dd["H_functional"], pt["H_functional"], rtol=1e-4, atol=1e-6, what="Hessian (functional)")
    h = dd["H"]._data.reshape(40, 40)
    np.testing.assert_allclose(h, h.T, atol=1e-6)             # a Hessian is symmetric


PER_SAMPLE_GRADS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, vmap, grad

model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
init(model, 5)
data, targets = torch.tensor(inputs["x"]), torch.tensor(inputs["y"])
params = {k: v.detach() for k, v in model.named_parameters()}

def compute_loss(params, sample, target):
    batch = sample.unsqueeze(0)
    targets = target.unsqueeze(0)
    predictions = functional_call(model, params, (batch,))
    return F.cross_entropy(predictions, targets)

ft_compute_grad = grad(compute_loss)
ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, 0, 0))
ft_per_sample_grads = ft_compute_sample_grad(params, data, targets)

loop_grads = []
for i in range(data.shape[0]):
    model.zero_grad()
    F.cross_entropy(model(data[i].unsqueeze(0)), targets[i].unsqueeze(0)).backward()
    loop_grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
"""


def test_vmap_grad_per_sample_gradients_equal_a_loop():
    rng = np.random.default_rng(5)
    inputs = {"x": rng.standard_normal((6, 5)).astype(np.float32), "y": rng.integers(0, 3, 6)}
    dd, pt = both(PER_SAMPLE_GRADS, init=same_init, inputs=inputs)
    for name, g in dd["ft_per_sample_grads"].items():
        assert tuple(g.shape) == (6,) + tuple(dd["params"][name].shape)
        assert_close(g, pt["ft_per_sample_grads"][name], rtol=1e-5, atol=1e-6, what=f"per-sample grad {name}")
        for i, loop in enumerate(dd["loop_grads"]):
            np.testing.assert_array_equal(g._data[i], loop[name]._data, err_msg=f"sample {i}, {name}")


def test_func_transforms_match_torch_func():
    t = require_torch()
    import deepdive
    from deepdive import func as dfunc
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(3), rng.standard_normal(3)

    def f(x, y):
        return (x.sin() * y).sum() + (x ** 3).sum() * y.exp().sum()

    def vec(x):
        return x.tanh() * x.sum()

    for lib, m in ((dfunc, deepdive), (t.func, t)):
        x, y = m.tensor(a), m.tensor(b)
        out = [lib.grad(f)(x, y), *lib.grad(f, argnums=(0, 1))(x, y), lib.grad_and_value(f)(x, y)[1],
               lib.grad(lambda x, y: (f(x, y), x.sum()), has_aux=True)(x, y)[1],
               lib.jacrev(vec)(x), lib.jacfwd(vec)(x), lib.hessian(f)(x, y), lib.hessian(f, argnums=1)(x, y),
               lib.jvp(vec, (x,), (y,))[1], lib.vjp(vec, x)[1](y)[0], lib.vmap(vec)(m.stack([x, y])),
               lib.vmap(lib.vmap(lambda s: s * 2 + 1))(m.stack([x, y])), lib.vmap(vec, out_dims=1)(m.stack([x, y])),
               lib.vmap(lambda u, w: u * w, in_dims=(0, None))(m.stack([x, y]), y),
               lib.grad(lambda s: lib.grad(lambda u: u.sin().sum() * u[0])(s).sum())(x)]
        if lib is dfunc:
            ours = out
        else:
            theirs = out
    for k, (o, r) in enumerate(zip(ours, theirs)):
        assert_close(o, r, rtol=1e-6, atol=1e-8, what=f"transform {k}")


def test_autograd_functional_matches_torch():
    t = require_torch()
    import deepdive
    rng = np.random.default_rng(7)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)

    def f(x):
        return x.sin().sum(1) * x.pow(2).sum()

    def pair(x, y):
        return (x * y).tanh().sum(), (x - y).exp().sum(0)

    def scalar(x, y):
        return (x.sin() * y.cos()).sum() + (x * x * y).sum()

    results = []
    for m in (deepdive, t):
        F = m.autograd.functional
        x, y, v2 = m.tensor(a), m.tensor(b), m.tensor(c)
        results.append([F.jacobian(f, x), *F.jacobian(pair, (x, y))[1], F.hessian(scalar, (x, y))[0][1],
                        F.hessian(lambda z: scalar(z, y), x), F.vjp(f, x, v2)[1], F.jvp(f, x, y)[1],
                        F.hvp(lambda z: scalar(z, y), x, y)[1], F.vhp(lambda z: scalar(z, y), x, y)[1],
                        F.jacobian(f, x, create_graph=True, vectorize=True)])
    for k, (o, r) in enumerate(zip(*results)):
        assert_close(o, r, rtol=1e-6, atol=1e-8, what=f"functional result {k}")
    x = deepdive.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="independent of input"):
        deepdive.autograd.functional.jacobian(lambda z, w: z * 2, (x, deepdive.tensor(b)), strict=True)
