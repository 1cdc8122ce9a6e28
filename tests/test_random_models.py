"""Everything built on the generator matches PyTorch by construction, with no weights copied.

``manual_seed(s)`` then building a layer gives PyTorch's initial parameters;
dropout drops the same units; shuffled DataLoaders, samplers and random_split
give the same orders; and the post's SimpleNN trains to PyTorch's losses.
"""
import numpy as np
import pytest

import deepdive
from parity import require_torch


def build_both(seed, make):
    """``make(module)`` with ``module`` = deepdive, then torch, each right after manual_seed(seed)."""
    torch = require_torch()
    deepdive.manual_seed(seed)
    ours = make(deepdive)
    torch.manual_seed(seed)
    theirs = make(torch)
    return ours, theirs


def assert_same_parameters(ours, theirs, exact=True):
    names_dd = [n for n, _ in ours.named_parameters()]
    names_t = [n for n, _ in theirs.named_parameters()]
    assert names_dd == names_t
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        a, b = p._data, q.detach().numpy()
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if exact:
            assert np.array_equal(a, b), f"{name}: {np.sum(a != b)} of {a.size} differ"
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


LAYERS = {
    "Linear": lambda m: m.nn.Linear(10, 20),
    "Linear-nobias": lambda m: m.nn.Linear(7, 3, bias=False),
    "Bilinear": lambda m: m.nn.Bilinear(4, 5, 6),
    "Conv1d": lambda m: m.nn.Conv1d(3, 8, 5),
    "Conv2d": lambda m: m.nn.Conv2d(3, 16, 3, padding=1),
    "Conv2d-groups": lambda m: m.nn.Conv2d(4, 8, (3, 2), groups=2),
    "ConvTranspose1d": lambda m: m.nn.ConvTranspose1d(4, 6, 3),
    "ConvTranspose2d": lambda m: m.nn.ConvTranspose2d(4, 6, 3, stride=2),
    "Embedding": lambda m: m.nn.Embedding(50, 8),
    "Embedding-padding": lambda m: m.nn.Embedding(20, 4, padding_idx=0),
    "RNN": lambda m: m.nn.RNN(5, 7, num_layers=2),
    "LSTM": lambda m: m.nn.LSTM(6, 9, batch_first=True),
    "LSTM-bidirectional": lambda m: m.nn.LSTM(4, 5, num_layers=2, bidirectional=True),
    "GRU": lambda m: m.nn.GRU(5, 6),
    "LSTMCell": lambda m: m.nn.LSTMCell(4, 8),
    "GRUCell": lambda m: m.nn.GRUCell(4, 8),
    "RNNCell": lambda m: m.nn.RNNCell(4, 8),
    "BatchNorm2d": lambda m: m.nn.BatchNorm2d(6),
    "LayerNorm": lambda m: m.nn.LayerNorm(12),
    "GroupNorm": lambda m: m.nn.GroupNorm(2, 8),
    "PReLU": lambda m: m.nn.PReLU(3),
    "MultiheadAttention": lambda m: m.nn.MultiheadAttention(16, 4),
    "MultiheadAttention-kdim": lambda m: m.nn.MultiheadAttention(16, 2, kdim=8, vdim=6, add_bias_kv=True),
    "TransformerEncoderLayer": lambda m: m.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32),
    "TransformerDecoderLayer": lambda m: m.nn.TransformerDecoderLayer(16, 2, dim_feedforward=24),
    "Transformer": lambda m: m.nn.Transformer(16, 2, num_encoder_layers=2, num_decoder_layers=1,
                                                dim_feedforward=24),
    "Sequential-MLP": lambda m: m.nn.Sequential(m.nn.Linear(10, 32), m.nn.ReLU(), m.nn.Linear(32, 32),
                                                  m.nn.ReLU(), m.nn.Linear(32, 2)),
}


@pytest.mark.parametrize("seed", [0, 1234])
@pytest.mark.parametrize("name", list(LAYERS))
def test_seeded_layers_start_from_torchs_parameters(seed, name):
    ours, theirs = build_both(seed, LAYERS[name])
    assert_same_parameters(ours, theirs)
    torch = require_torch()
    assert np.array_equal(deepdive.rand(4)._data, torch.rand(4).numpy()), "streams in step after construction"


def test_orthogonal_init_agrees_to_rounding():
    # The draws are PyTorch's; its LAPACK QR and NumPy's agree to float32 rounding, not to the bit.
    torch = require_torch()
    deepdive.manual_seed(0)
    a = deepdive.nn.init.orthogonal_(deepdive.empty(6, 9))
    torch.manual_seed(0)
    b = torch.nn.init.orthogonal_(torch.empty(6, 9))
    np.testing.assert_allclose(a._data, b.numpy(), atol=1e-6)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(1,), (15,), (4, 17), (8, 3, 5, 5)])
def test_dropout_masks_are_torchs(p, shape):
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for layer in ("Dropout", "AlphaDropout"):
        deepdive.manual_seed(5)
        torch.manual_seed(5)
        a = getattr(deepdive.nn, layer)(p)(deepdive.tensor(x))
        b = getattr(torch.nn, layer)(p)(torch.tensor(x))
        assert np.array_equal(a._data, b.numpy()), layer
    if len(shape) == 4:
        deepdive.manual_seed(5)
        torch.manual_seed(5)
        a = deepdive.nn.Dropout2d(p)(deepdive.tensor(x))
        b = torch.nn.Dropout2d(p)(torch.tensor(x))
        assert np.array_equal(a._data, b.numpy()), "Dropout2d"


def test_functional_dropout_and_rrelu():
    torch = require_torch()
    x = np.random.default_rng(1).standard_normal((6, 40)).astype(np.float32)
    deepdive.manual_seed(2)
    torch.manual_seed(2)
    F, TF = deepdive.nn.functional, torch.nn.functional
    assert np.array_equal(F.dropout(deepdive.tensor(x), 0.3)._data, TF.dropout(torch.tensor(x), 0.3).numpy())
    assert np.array_equal(F.rrelu(deepdive.tensor(x), training=True)._data,
                          TF.rrelu(torch.tensor(x), training=True).numpy())
    assert np.array_equal(deepdive.rand(3)._data, torch.rand(3).numpy())


# ----------------------------------------------------------------- data pipeline
def test_shuffled_dataloader_orders_over_epochs():
    torch = require_torch()
    from torch.utils.data import DataLoader as TorchLoader, TensorDataset as TorchDataset
    from deepdive.utils.data import DataLoader, TensorDataset
    X = np.arange(103, dtype=np.float32).reshape(-1, 1)
    ours = DataLoader(TensorDataset(deepdive.tensor(X)), batch_size=10, shuffle=True)
    theirs = TorchLoader(TorchDataset(torch.tensor(X)), batch_size=10, shuffle=True)
    deepdive.manual_seed(0)
    torch.manual_seed(0)
    for epoch in range(3):
        a = np.concatenate([b[0]._data for b in ours])
        b = np.concatenate([b[0].numpy() for b in theirs])
        assert np.array_equal(a, b), f"epoch {epoch}"
        assert np.array_equal(deepdive.randn(2)._data, torch.randn(2).numpy()), "default stream in step"


def test_dataloader_with_its_own_generator():
    torch = require_torch()
    from deepdive.utils.data import DataLoader
    ours = DataLoader(list(range(40)), batch_size=8, shuffle=True, generator=deepdive.Generator().manual_seed(3))
    theirs = torch.utils.data.DataLoader(list(range(40)), batch_size=8, shuffle=True,
                                         generator=torch.Generator().manual_seed(3))
    for _ in range(2):
        assert [b._data.tolist() for b in ours] == [b.tolist() for b in theirs]


def test_samplers_and_random_split():
    torch = require_torch()
    from deepdive.utils import data as dd_data
    from torch.utils import data as t_data
    deepdive.manual_seed(8)
    torch.manual_seed(8)
    assert list(dd_data.RandomSampler(range(30), replacement=True, num_samples=70)) == \
        list(t_data.RandomSampler(range(30), replacement=True, num_samples=70))
    assert list(dd_data.RandomSampler(range(12), num_samples=30)) == list(t_data.RandomSampler(range(12),
                                                                                               num_samples=30))
    assert list(dd_data.SubsetRandomSampler([5, 9, 11, 2, 40])) == list(t_data.SubsetRandomSampler([5, 9, 11, 2, 40]))
    weights = [0.1, 2.0, 0.5, 3.0, 1.0]
    assert list(dd_data.WeightedRandomSampler(weights, 12)) == list(t_data.WeightedRandomSampler(weights, 12))
    assert list(dd_data.WeightedRandomSampler(weights, 4, replacement=False)) == \
        list(t_data.WeightedRandomSampler(weights, 4, replacement=False))
    ours = dd_data.random_split(range(20), [0.25, 0.75], generator=deepdive.Generator().manual_seed(42))
    theirs = t_data.random_split(range(20), [0.25, 0.75], generator=torch.Generator().manual_seed(42))
    assert [list(s) for s in ours] == [list(s) for s in theirs]
    assert [list(s) for s in dd_data.random_split(range(10), [3, 7])] == \
        [list(s) for s in t_data.random_split(range(10), [3, 7])]


def test_worker_numpy_seed_is_torchs():
    torch = require_torch()
    from torch.utils.data._utils.worker import _generate_state
    for base_seed, worker_id in [(0, 0), (123456789123, 3), (2 ** 63 - 1, 1)]:
        ours = np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]).generate_state(4)
        assert ours.tolist() == _generate_state(base_seed, worker_id)


# ----------------------------------------------------------------- the "done when"
SIMPLE_NN = """import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

class SimpleNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, p=0.0):
        super(SimpleNN, self).__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p)
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        x = self.layer1(x)
        x = self.relu(x)
        x = self.dropout(x)
        x = self.layer2(x)
        return x

torch.manual_seed(0)
X = torch.randn(64, 10)
y = (X[:, 0] + X[:, 1] > 0).long()
data_loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
model = SimpleNN(input_size=10, hidden_size=20, output_size=2, p=DROPOUT)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
losses = []
for epoch in range(3):
    for batch, target in data_loader:
        optimizer.zero_grad()
        output = model(batch)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
"""


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_seeded_simplenn_trains_to_torchs_losses_without_copying_weights(dropout):
    require_torch()
    code = SIMPLE_NN.replace("DROPOUT", str(dropout))
    ns_t, ns_dd = {}, {}
    exec(code, ns_t)
    exec(code.replace("import torch\nimport torch.nn as nn\nfrom torch.utils.data",
                      "import deepdive as torch\nimport deepdive.nn as nn\nfrom deepdive.utils.data"), ns_dd)
    assert ns_dd["torch"] is deepdive
    np.testing.assert_allclose(ns_dd["losses"], ns_t["losses"], rtol=2e-6, atol=1e-7)
    assert ns_dd["losses"][-1] < ns_dd["losses"][0]
    for (name, p), (_, q) in zip(ns_dd["model"].named_parameters(), ns_t["model"].named_parameters()):
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("seed", [0, 3])
def test_training_mode_dropout_inside_layers(seed):
    """Attention/transformer/LSTM dropout draw the same masks: outputs agree to float rounding."""
    torch = require_torch()
    src = np.random.default_rng(1).standard_normal((5, 3, 16)).astype(np.float32)
    cases = [
        lambda m: m.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.2),
        lambda m: m.nn.MultiheadAttention(16, 4, dropout=0.3),
        lambda m: m.nn.LSTM(16, 5, num_layers=2, dropout=0.5),
    ]
    for make in cases:
        ours, theirs = build_both(seed, make)
        deepdive.manual_seed(seed + 1)
        torch.manual_seed(seed + 1)
        a = ours(*[deepdive.tensor(src)] * (3 if isinstance(ours, deepdive.nn.MultiheadAttention) else 1))
        b = theirs(*[torch.tensor(src)] * (3 if isinstance(theirs, torch.nn.MultiheadAttention) else 1))
        a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
        np.testing.assert_allclose(a._data, b.detach().numpy(), rtol=1e-5, atol=2e-6)
        assert np.array_equal(deepdive.rand(3)._data, torch.rand(3).numpy()), "same number of draws"


def test_sdpa_dropout_and_spectral_norm_vectors():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 8)).astype(np.float32)
    deepdive.manual_seed(1)
    torch.manual_seed(1)
    a = deepdive.nn.functional.scaled_dot_product_attention(*[deepdive.tensor(x)] * 3, dropout_p=0.3)
    b = torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(x)] * 3, dropout_p=0.3)
    np.testing.assert_allclose(a._data, b.numpy(), rtol=1e-5, atol=2e-6)
    ours, theirs = build_both(0, lambda m: m.nn.utils.spectral_norm(m.nn.Linear(20, 10)))
    assert np.array_equal(ours.weight_u._data, theirs.weight_u.numpy())
    assert np.array_equal(ours.weight_v._data, theirs.weight_v.numpy())


# The README's example, verbatim: the printed lines must be PyTorch's, character for character.
README_SNIPPET = """import torch
import torch.nn as nn

class SimpleNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(SimpleNN, self).__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.layer2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        x = self.layer1(x)
        x = self.relu(x)
        x = self.layer2(x)
        return x

torch.manual_seed(0)
model = SimpleNN(input_size=10, hidden_size=20, output_size=2)
print(model.layer1.weight.data[0, :4])
X, y = torch.randn(64, 10), torch.randint(0, 2, (64,))
data_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for batch, target in data_loader:
    optimizer.zero_grad()
    loss = criterion(model(batch), target)
    loss.backward()
    optimizer.step()
    print(f"{loss.item():.6f}")
"""


def test_readme_seeded_simplenn_prints_torchs_numbers(capsys):
    require_torch()
    exec(README_SNIPPET, {})
    theirs = capsys.readouterr().out
    exec(README_SNIPPET.replace("import torch\nimport torch.nn as nn",
                                "import deepdive as torch\nimport deepdive.nn as nn"), {})
    ours = capsys.readouterr().out
    assert ours == theirs
    assert len(ours.splitlines()) == 5


class _SeedOfWorker:
    """A dataset whose items report the seed of the worker that loaded them."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        from deepdive.utils.data import get_worker_info
        info = get_worker_info()
        return deepdive.tensor([info.id, info.seed % 2 ** 62, int(deepdive.initial_seed() % 2 ** 62)])


def test_worker_seeds_are_base_seed_plus_id_with_torchs_base_seed():
    torch = require_torch()
    from deepdive.utils.data import DataLoader
    deepdive.manual_seed(21)
    torch.manual_seed(21)
    rows = np.concatenate([b._data for b in DataLoader(_SeedOfWorker(), batch_size=1, num_workers=2)])
    base_seed = torch.empty((), dtype=torch.int64).random_().item()      # what torch's iterator draws first
    for worker_id, seed, initial in rows.tolist():
        assert seed == (base_seed + worker_id) % 2 ** 62 and initial == seed
    assert np.array_equal(deepdive.rand(2)._data, torch.rand(2).numpy())


def test_random_sampler_draws_lazily_like_torchs():
    """With a shared generator, the sampler's chunks of 32 interleave with other draws as in PyTorch."""
    torch = require_torch()
    from deepdive.utils.data import RandomSampler
    g, tg = deepdive.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    ours = iter(RandomSampler(range(50), replacement=True, num_samples=80, generator=g))
    theirs = iter(torch.utils.data.RandomSampler(range(50), replacement=True, num_samples=80, generator=tg))
    for step in range(80):
        assert next(ours) == next(theirs), step
        if step % 20 == 0:
            assert np.array_equal(deepdive.rand(2, generator=g)._data, torch.rand(2, generator=tg).numpy())
