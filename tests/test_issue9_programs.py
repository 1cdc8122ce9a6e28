"""Issue 9's program headers, run as published with only the import swapped, against PyTorch.

A DCGAN (``import torch.nn.parallel``, ``import torch.backends.cudnn as cudnn``,
``cudnn.benchmark = True``, ``nn.parallel.data_parallel`` behind ``ngpu``) and
the master-parameter code of a diffusion model's fp16 utilities (``from
torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors``).
"""
import numpy as np

from parity import require_torch
from program_swap import run_both, swap_imports

DCGAN = '''
import torch
import torch.nn as nn
import torch.nn.parallel
import torch.backends.cudnn as cudnn
import torch.optim as optim
import torch.utils.data

cudnn.benchmark = True
nz, ngf, ndf, nc, ngpu = 4, 4, 4, 3, 1
device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


class Generator(nn.Module):
    def __init__(self, ngpu):
        super(Generator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh()
        )

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output


class Discriminator(nn.Module):
    def __init__(self, ngpu):
        super(Discriminator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output.view(-1, 1).squeeze(1)


def load(net, arrays):
    with torch.no_grad():
        for p, a in zip(net.parameters(), arrays):
            p.data.copy_(torch.from_numpy(a))


def train(g_weights, d_weights, images, noises):
    netG, netD = Generator(ngpu).to(device), Discriminator(ngpu).to(device)
    load(netG, g_weights)
    load(netD, d_weights)
    netG, netD = nn.DataParallel(netG), nn.DataParallel(netD)
    criterion = nn.BCELoss()
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    real_label, fake_label = 1, 0
    history = []
    for real, noise in zip(images, noises):
        real_cpu = torch.from_numpy(real).to(device)
        batch_size = real_cpu.size(0)
        netD.zero_grad()
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = netG(torch.from_numpy(noise))
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        history.append((errD.item(), errG.item(), D_x))
    return history, list(netG.state_dict())[:2]
'''


def test_dcgan_header_and_training_steps_match_pytorch():
    torch = require_torch()
    swapped = swap_imports(DCGAN)
    assert "import deepdive.nn.parallel" in swapped and "import deepdive.backends.cudnn as cudnn" in swapped
    rng = np.random.default_rng(0)
    probe = run_both(DCGAN)["torch"]
    g_weights = [rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.02 + (p.dim() == 1)
                 for p in probe["Generator"](1).parameters()]
    d_weights = [rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.02 + (p.dim() == 1)
                 for p in probe["Discriminator"](1).parameters()]
    images = [np.tanh(rng.standard_normal((4, 3, 16, 16))).astype(np.float32) for _ in range(3)]
    noises = [rng.standard_normal((4, 4, 1, 1)).astype(np.float32) for _ in range(3)]
    runs = {name: ns["train"](g_weights, d_weights, images, noises) for name, ns in run_both(DCGAN).items()}
    np.testing.assert_allclose(np.array(runs["deepdive"][0]), np.array(runs["torch"][0]), rtol=1e-4, atol=1e-5)
    assert runs["deepdive"][1] == runs["torch"][1] == ["module.main.0.weight", "module.main.1.weight"]
    assert torch is not None


FP16_UTIL = '''
import torch
import torch.nn as nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def make_master_params(param_groups_and_shapes):
    master_params = []
    for param_group, shape in param_groups_and_shapes:
        master_param = nn.Parameter(
            _flatten_dense_tensors([param.detach().float() for (_, param) in param_group]).view(shape))
        master_param.requires_grad = True
        master_params.append(master_param)
    return master_params


def model_grads_to_master_grads(param_groups_and_shapes, master_params):
    for master_param, (param_group, shape) in zip(master_params, param_groups_and_shapes):
        master_param.grad = _flatten_dense_tensors(
            [param.grad.data.detach().float() for (_, param) in param_group]).view(shape)


def master_params_to_model_params(param_groups_and_shapes, master_params):
    for master_param, (param_group, _) in zip(master_params, param_groups_and_shapes):
        for (_, param), unflat_master_param in zip(param_group, unflatten_master_params(param_group,
                                                                                           master_param.view(-1))):
            param.detach().copy_(unflat_master_param)


def unflatten_master_params(param_group, master_param):
    return _unflatten_dense_tensors(master_param, [param for (_, param) in param_group])


def train(weights, x, y, steps=3):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    groups = [(list(model.named_parameters()), (-1,))]
    master = make_master_params(groups)
    opt = torch.optim.AdamW(master, lr=0.01)
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = ((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
        loss.backward()
        model_grads_to_master_grads(groups, master)
        opt.step()
        master_params_to_model_params(groups, master)
        losses.append(loss.item())
    return losses, master[0].detach().numpy().copy()
'''


def test_diffusion_fp16_util_master_params_match_pytorch():
    require_torch()
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (4,), (2, 4), (2,))]
    x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    runs = {name: ns["train"](weights, x, y) for name, ns in run_both(FP16_UTIL).items()}
    np.testing.assert_allclose(runs["deepdive"][0], runs["torch"][0], rtol=1e-5)
    np.testing.assert_allclose(runs["deepdive"][1], runs["torch"][1], rtol=1e-5, atol=1e-6)
    assert runs["deepdive"][1].shape == (4 * 3 + 4 + 2 * 4 + 2,)
