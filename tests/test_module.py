"""Module, Parameter and containers: registration, traversal, state_dict (PyTorch's keys, loading torch's
weights), train/eval, hooks (forward and full backward), dtype conversion, the printed tree."""
import copy
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from parity import require_torch, assert_close

rng = np.random.default_rng(0)


def build(lib):
    """The same model in deepdive or torch (``lib`` is the module namespace)."""
    class SimpleNN(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = lib.nn.Linear(10, 20)
            self.relu = lib.nn.ReLU()
            self.layer2 = lib.nn.Linear(20, 2)
            self.block = lib.nn.Sequential(lib.nn.Linear(2, 4), lib.nn.BatchNorm1d(4), lib.nn.Dropout(0.1),
                                           lib.nn.ModuleList([lib.nn.Linear(4, 4), lib.nn.Linear(4, 4)]))
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(4, 1), "b": lib.nn.LayerNorm(4)})
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, x):
            h = self.block[:2](self.layer2(self.relu(self.layer1(x))))
            for layer in self.block[3]:
                h = layer(h)
            return self.heads["a"](self.heads["b"](h)) * self.scale

    return SimpleNN()


def torch_text(text):
    return text.replace("torch.", "deepdive.").replace("torch", "deepdive")


def test_state_dict_keys_match_torch():
    torch = require_torch()
    dd, tt = build(deepdive), build(torch)
    assert list(dd.state_dict().keys()) == list(tt.state_dict().keys())
    assert [n for n, _ in dd.named_parameters()] == [n for n, _ in tt.named_parameters()]
    assert [n for n, _ in dd.named_buffers()] == [n for n, _ in tt.named_buffers()]
    assert [n for n, _ in dd.named_modules()] == [n for n, _ in tt.named_modules()]
    assert [n for n, _ in dd.named_children()] == [n for n, _ in tt.named_children()]
    assert [tuple(p.shape) for p in dd.parameters()] == [tuple(p.shape) for p in tt.parameters()]


def test_load_torch_state_dict_gives_identical_outputs():
    torch = require_torch()
    dd, tt = build(deepdive), build(torch)
    for _ in range(2):                   # move the BatchNorm running statistics away from their initial values
        tt(torch.randn(8, 10))
    result = dd.load_state_dict({k: v.numpy() for k, v in tt.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    dd.eval()
    tt.eval()
    x = rng.standard_normal((5, 10)).astype(np.float32)
    assert_close(dd(deepdive.tensor(x)), tt(torch.tensor(x)))
    assert dd.block[1].num_batches_tracked.item() == 2


def test_load_state_dict_keeps_parameter_identity_and_reports_keys():
    model = nn.Linear(2, 3)
    weight = model.weight
    state = {"weight": np.ones((3, 2), dtype=np.float32), "foo": np.zeros(1)}
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    assert str(info.value) == ('Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
                               '\n\tUnexpected key(s) in state_dict: "foo". ')
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["foo"]
    assert model.weight is weight and np.all(weight._data == 1)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape "
                                           r"deepdive.Size\(\[3, 3\]\) from checkpoint, the shape in current model "
                                           r"is deepdive.Size\(\[3, 2\]\)"):
        model.load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(3)})


def test_state_dict_shares_memory_and_is_detached():
    model = nn.Linear(2, 3)
    state = model.state_dict()
    assert not state["weight"].requires_grad and state["weight"]._data is model.weight._data
    assert model.state_dict(keep_vars=True)["weight"] is model.weight
    assert "cache" not in build(deepdive).state_dict()


def test_printed_tree_equals_torch():
    torch = require_torch()
    dd, tt = build(deepdive), build(torch)
    assert repr(dd) == torch_text(repr(tt))
    assert repr(dd).startswith("SimpleNN(\n  (layer1): Linear(in_features=10, out_features=20, bias=True)\n")
    for make in [lambda l: l.nn.ModuleList([l.nn.Linear(2, 2), l.nn.Linear(2, 2), l.nn.ReLU(), l.nn.ReLU()]),
                 lambda l: l.nn.ModuleList(), lambda l: l.nn.Sequential(),
                 lambda l: l.nn.ParameterList([l.nn.Parameter(l.zeros(3, 4)), l.nn.Parameter(l.zeros(3))]),
                 lambda l: l.nn.ParameterDict({"a": l.nn.Parameter(l.zeros(3, 4))}),
                 lambda l: l.nn.Sequential(OrderedDict([("conv", l.nn.Linear(1, 1)), ("act", l.nn.Tanh())]))]:
        assert repr(make(deepdive)) == torch_text(repr(make(torch)))


def test_parameter_repr_and_properties():
    torch = require_torch()
    p = nn.Parameter(deepdive.tensor([1.0, 2.0]))
    assert repr(p) == torch_text(repr(torch.nn.Parameter(torch.tensor([1.0, 2.0]))))
    assert p.requires_grad and p.is_leaf and isinstance(p, deepdive.Tensor)
    assert not nn.Parameter(deepdive.zeros(2), requires_grad=False).requires_grad
    data = deepdive.zeros(3)
    assert nn.Parameter(data)._data is data._data          # shares memory, like torch
    assert type(p * 2) is deepdive.Tensor                  # ops on a Parameter give plain tensors
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is nn.Parameter and q.requires_grad and q._data.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(deepdive.tensor([1, 2]))


def test_registration_rules():
    model = nn.Module()
    model.w = nn.Parameter(deepdive.zeros(2))
    model.sub = nn.Linear(1, 1)
    model.register_buffer("buf", deepdive.ones(1))
    assert set(model._parameters) == {"w"} and set(model._modules) == {"sub"} and set(model._buffers) == {"buf"}
    with pytest.raises(TypeError, match="cannot assign 'deepdive.FloatTensor' as parameter 'w'"):
        model.w = deepdive.zeros(2)
    with pytest.raises(TypeError, match="cannot assign"):
        model.buf = 3
    model.buf = deepdive.zeros(5)        # a tensor replaces a buffer
    assert model.buf.shape == (5,)
    model.w = None
    assert model.w is None and list(model.parameters()) == list(model.sub.parameters())
    del model.sub
    assert "sub" not in model._modules
    with pytest.raises(KeyError, match="contain"):
        model.register_parameter("a.b", None)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        model.nothing
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        model(1)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(deepdive.zeros(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_shared_parameters_counted_once():
    a = nn.Linear(3, 3)
    model = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(model.parameters())) == 2
    assert len(list(model.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]


def test_train_eval_zero_grad_requires_grad_apply():
    model = build(deepdive)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")
    model(deepdive.randn(4, 10)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "SimpleNN" and seen[0] == "Linear"


def test_to_double_float_half_keep_parameter_objects():
    model = build(deepdive)
    params = list(model.parameters())
    model.double()
    assert all(p.dtype == deepdive.float64 for p in model.parameters())
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert model.block[1].num_batches_tracked.dtype == deepdive.int64       # integer buffers untouched
    out = model(deepdive.randn(3, 10, dtype=deepdive.float64))
    assert out.dtype == deepdive.float64
    model.to(deepdive.float32)
    assert model.layer1.weight.dtype == deepdive.float32
    assert model.half().layer1.weight.dtype == deepdive.float16
    assert model.cpu() is model and model.to("cpu") is model
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")


def test_forward_hooks_and_pre_hooks():
    model = nn.Linear(3, 2)
    calls = []
    h1 = model.register_forward_pre_hook(lambda m, args: calls.append(("pre", args[0].shape)))
    h2 = model.register_forward_hook(lambda m, args, out: out * 0)         # replaces the output
    h3 = model.register_forward_pre_hook(lambda m, args: (args[0] * 2,))   # replaces the input
    x = deepdive.ones(4, 3)
    assert not model(x)._data.any() and calls == [("pre", (4, 3))]
    h2.remove()
    np.testing.assert_allclose(model(x)._data, model.forward(x * 2)._data)
    h1.remove()
    h3.remove()
    np.testing.assert_allclose(model(x)._data, model.forward(x)._data)
    assert len(calls) == 2


@pytest.mark.filterwarnings("ignore:Full backward hook")
def test_full_backward_hook_matches_torch():
    torch = require_torch()
    dd, tt = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    tt.load_state_dict({k: torch.tensor(v._data) for k, v in dd.state_dict().items()})
    records = {"dd": [], "tt": []}

    def hook(key):
        def fn(module, grad_input, grad_output):
            records[key].append(([None if g is None else np.array(g.detach().numpy() if hasattr(g, "detach")
                                                                   else g._data) for g in grad_input],
                                 [np.array(g.detach().numpy() if hasattr(g, "detach") else g._data)
                                  for g in grad_output]))
        return fn
    dd.register_full_backward_hook(hook("dd"))
    tt.register_full_backward_hook(hook("tt"))
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for requires_grad in (True, False):
        a = deepdive.tensor(x, requires_grad=requires_grad)
        b = torch.tensor(x, requires_grad=requires_grad)
        (dd(a) ** 2).sum().backward()
        (tt(b) ** 2).sum().backward()
    assert len(records["dd"]) == len(records["tt"]) == 2
    for (gi_d, go_d), (gi_t, go_t) in zip(records["dd"], records["tt"]):
        assert len(gi_d) == len(gi_t) and len(go_d) == len(go_t)
        for a, b in zip(gi_d + go_d, gi_t + go_t):
            assert (a is None) == (b is None)
            if a is not None:
                assert_close(a, b)


def test_backward_hook_can_replace_grad_input():
    model = nn.Linear(3, 2)
    model.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    seen = []
    model.register_full_backward_pre_hook(lambda m, go: seen.append(go[0].shape))
    x = deepdive.randn(4, 3, requires_grad=True)
    model(x).sum().backward()
    assert not x.grad._data.any() and seen == [(4, 2)]
    assert model.weight.grad is not None and model.weight.grad._data.any()


def test_sequential_api():
    torch = require_torch()
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == layers[1:]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and isinstance(seq[1], nn.Linear)
    seq.insert(1, nn.Tanh())
    assert isinstance(seq[1], nn.Tanh) and len(seq) == 4
    with pytest.raises(IndexError, match="index 9 is out of range"):
        seq[9]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    x = rng.standard_normal((5, 2)).astype(np.float32)
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    ref = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    ref.load_state_dict({k: torch.tensor(v._data) for k, v in seq.state_dict().items()})
    assert_close(seq(deepdive.tensor(x)), ref(torch.tensor(x)))


def test_module_list_dict_parameter_list_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Sigmoid())
    assert len(ml) == 6 and isinstance(ml[0], nn.Sigmoid) and isinstance(ml[-1], nn.Tanh)
    assert isinstance(ml[1:3], nn.ModuleList) and len(list(ml.parameters())) == 6
    del ml[0]
    assert isinstance(ml[0], nn.Linear) and list(ml._modules) == [str(i) for i in range(5)]
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.ReLU()
    md.update({"c": nn.Tanh()})
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert md.pop("b").__class__ is nn.ReLU and list(md) == ["a", "c"]
    pl = nn.ParameterList([deepdive.zeros(2), nn.Parameter(deepdive.ones(3))])
    pl.append(deepdive.ones(1))
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(list(pl.parameters())) == 3
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"x": deepdive.zeros(2)})
    pd["y"] = nn.Parameter(deepdive.ones(1))
    assert list(pd.keys()) == ["x", "y"] and isinstance(pd["x"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["x", "y"]


def test_deepcopy_and_pickle_module():
    model = build(deepdive)
    clone = copy.deepcopy(model)
    assert clone.layer1.weight is not model.layer1.weight
    np.testing.assert_array_equal(clone.layer1.weight._data, model.layer1.weight._data)
    model = nn.Sequential(nn.Linear(10, 4), nn.BatchNorm1d(4), nn.ReLU())
    restored = pickle.loads(pickle.dumps(model))
    assert isinstance(restored[0].weight, nn.Parameter)
    x = deepdive.randn(3, 10)
    model.eval()
    restored.eval()
    np.testing.assert_allclose(restored(x)._data, model(x)._data)


def test_get_submodule_parameter_buffer():
    model = build(deepdive)
    assert model.get_submodule("block.3.1") is model.block[3][1]
    assert model.get_parameter("block.0.weight") is model.block[0].weight
    assert model.get_buffer("block.1.running_mean") is model.block[1].running_mean
    with pytest.raises(AttributeError):
        model.get_submodule("block.nothing")


def test_dir_and_extra_repr_multiline():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self):
            return "line1\nline2"
    text = repr(Custom())
    assert text == "Custom(\n  line1\n  line2\n  (fc): Linear(in_features=1, out_features=1, bias=True)\n)"
    assert "fc" in dir(Custom())
    assert re.match(r"Custom\(", text)


class _Tagged(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.tag = "a"

    def get_extra_state(self):
        return {"tag": self.tag}

    def set_extra_state(self, state):
        self.tag = state["tag"]


def test_extra_state_saved_and_loaded():
    torch = require_torch()
    model = _Tagged()
    state = model.state_dict()
    assert list(state) == ["_extra_state", "fc.weight", "fc.bias"]

    class TorchTagged(torch.nn.Module):          # the same keys in torch
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def get_extra_state(self):
            return {}

        def set_extra_state(self, state):
            pass
    assert list(TorchTagged().state_dict()) == list(state)
    other = _Tagged()
    state["_extra_state"] = {"tag": "b"}
    other.load_state_dict(state)
    assert other.tag == "b"
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        _Tagged().load_state_dict({k: v for k, v in state.items() if k != "_extra_state"})


def test_load_state_dict_assign():
    layer = nn.Linear(2, 3)
    weight = deepdive.ones(3, 2)
    layer.load_state_dict({"weight": weight, "bias": deepdive.zeros(3)}, assign=True)
    assert type(layer.weight) is nn.Parameter and layer.weight.requires_grad
    assert layer.weight._data is weight._data          # assigned, not copied
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        layer.load_state_dict({"weight": weight, "bias": deepdive.zeros(4)}, assign=True)


def test_compile_is_a_noop():
    model = nn.Linear(2, 2)
    x = deepdive.randn(3, 2)
    before = model(x)._data.copy()
    assert model.compile() is None
    np.testing.assert_array_equal(model(x)._data, before)
