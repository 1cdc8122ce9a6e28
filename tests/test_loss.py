"""Losses: PyTorch parity (values, input/target gradients, dtype) for every reduction and option, gradcheck,
stability at huge logits, and clear errors for bad targets."""
import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)
REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [np.float32, np.float64]


def tF():
    return require_torch().nn.functional


def _pair(fn_name, **kwargs):
    """The same functional call in deepdive and torch."""
    return (lambda *a: getattr(F, fn_name)(*a, **kwargs)), (lambda *a: getattr(tF(), fn_name)(*a, **kwargs))


# ------------------------------------------------------------------ regression
REGRESSION = [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
              ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}), ("huber_loss", {"delta": 0.4}),
              ("huber_loss", {"delta": 2.5})]


@pytest.mark.parametrize("name,options", REGRESSION)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_parity(name, options, reduction, dtype):
    x = (rng.standard_normal((4, 5)) * 2).astype(dtype)
    y = (rng.standard_normal((4, 5)) * 2).astype(dtype)
    dd, tt = _pair(name, reduction=reduction, **options)
    check_parity(dd, tt, [x, y])


@pytest.mark.parametrize("name,options", REGRESSION)
def test_regression_gradcheck(name, options):
    x = rng.standard_normal((3, 4)) * 2
    y = rng.standard_normal((3, 4)) * 2
    gradcheck(lambda a, b: getattr(F, name)(a, b, **options), x, y)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_weight_matches_torch(name, reduction):
    x, y = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3)) * 2
    w = rng.uniform(0.1, 2, (4, 3))
    check_parity(lambda a, b, c: getattr(F, name)(a, b, reduction=reduction, weight=c),
                 lambda a, b, c: getattr(tF(), name)(a, b, reduction=reduction, weight=c), [x, y, w])
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        getattr(F, name)(deepdive.tensor(x), deepdive.tensor(y), weight=deepdive.ones(3))


def test_regression_broadcast_and_legacy_flags():
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((4,)).astype(np.float32)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # torch warns about the broadcast
        check_parity(lambda a, b: F.mse_loss(a, b), lambda a, b: tF().mse_loss(a, b), [x, y])
        check_parity(lambda a, b: F.l1_loss(a, b, size_average=False),
                     lambda a, b: tF().l1_loss(a, b, size_average=False), [x, x[0] * 2])
    check_parity(lambda a, b: F.mse_loss(a, b, reduce=False), lambda a, b: tF().mse_loss(a, b, reduce=False),
                 [x, x * 3])


def test_regression_errors():
    a = deepdive.randn(3, 4)
    with pytest.raises(ValueError, match="meanx is not a valid value for reduction"):
        F.mse_loss(a, a, reduction="meanx")
    with pytest.raises(RuntimeError, match=r"mse_loss: The size of input \[3, 4\] and target \[5\]"), \
            pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(a, deepdive.randn(5))
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(a, a, beta=-1.0)


# ------------------------------------------------------------- cross entropy
def _targets(shape, n_classes, ignore=None):
    y = rng.integers(0, n_classes, shape).astype(np.int64)
    if ignore is not None and y.size > 1:
        y.reshape(-1)[:: 3] = ignore
    return y


CE_SHAPES = [((6, 4), (6,)), ((4,), ()), ((2, 3, 4), (2, 4)), ((2, 3, 2, 3), (2, 2, 3))]


@pytest.mark.parametrize("shapes", CE_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, -100, 1])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(shapes, reduction, weighted, ignore, smoothing):
    in_shape, t_shape = shapes
    n_classes = in_shape[1] if len(in_shape) > 1 else in_shape[0]
    x = (rng.standard_normal(in_shape) * 3).astype(np.float64)
    y = _targets(t_shape, n_classes, ignore)
    w = rng.uniform(0.2, 2.0, n_classes)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    inputs = [x, y] + ([(w, False)] if weighted else [])
    for dtype in DTYPES if reduction == "mean" else [np.float64]:      # float32 once per option set is enough
        inputs[0] = x.astype(dtype)
        if weighted:
            inputs[2] = (w.astype(dtype), False)
        check_parity(lambda a, b, *c: F.cross_entropy(a, b, *c, **kwargs),
                     lambda a, b, *c: tF().cross_entropy(a, b, *c, **kwargs), inputs)


@pytest.mark.parametrize("shape", [(5, 3), (3,), (2, 3, 4)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_class_probabilities(shape, reduction, weighted, smoothing, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    p = rng.uniform(0.1, 1, shape)
    p = (p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)).astype(dtype)
    n_classes = shape[1] if len(shape) > 1 else shape[0]
    extra = [(rng.uniform(0.5, 2, n_classes).astype(dtype), False)] if weighted else []
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    check_parity(lambda a, b, *c: F.cross_entropy(a, b, *c, **kwargs),
                 lambda a, b, *c: tF().cross_entropy(a, b, *c, **kwargs), [x, p] + extra)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_training_shape(dtype):
    # the benchmark's hot path: batch 32 x 2 classes, plain class indices
    x = rng.standard_normal((32, 2)).astype(dtype)
    check_parity(F.cross_entropy, tF().cross_entropy, [x, rng.integers(0, 2, 32)])


def test_cross_entropy_gradcheck():
    x = rng.standard_normal((4, 3))
    y = deepdive.tensor([0, 2, 1, -100])
    w = deepdive.tensor([0.5, 1.0, 2.0], dtype=deepdive.float64)
    gradcheck(lambda a: F.cross_entropy(a, y), x)
    gradcheck(lambda a: F.cross_entropy(a, y, weight=w, label_smoothing=0.1), x)
    gradcheck(lambda a: F.cross_entropy(a, deepdive.tensor([[0, 1], [2, 2]]), reduction="none"),
              rng.standard_normal((2, 3, 2)))
    p = rng.uniform(0.1, 1, (4, 3))
    gradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.2), x, p)


def test_cross_entropy_huge_logits_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e30, 1e30, 1.0]], dtype=np.float32)
    with np.errstate(over="raise"):
        out = check_parity(lambda a, b: F.cross_entropy(a, b, reduction="none"),
                           lambda a, b: tF().cross_entropy(a, b, reduction="none"), [x, np.array([1, 0])])
    assert np.isfinite(out[0]._data).all()


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = F.cross_entropy(deepdive.tensor(x), deepdive.tensor([-100, -100]))
    ref = tF().cross_entropy(require_torch().tensor(x), require_torch().tensor([-100, -100]))
    assert np.isnan(out.item()) and np.isnan(ref.item())


def test_cross_entropy_errors():
    x = deepdive.randn(3, 4)
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(x, deepdive.tensor([0, 5, 1]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds."):
        F.cross_entropy(x, deepdive.tensor([0, -2, 1]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(x, deepdive.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"dtype float32 and shape \[3\] \(input shape \[3, 4\]\)"):
        F.cross_entropy(x, deepdive.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError,
                       match=r"expected target size \[2, 5\] for input of size \[2, 3, 5\], got \[2, 3\]"):
        F.cross_entropy(deepdive.randn(2, 3, 5), deepdive.tensor([[0, 1, 2], [0, 1, 2]]))
    with pytest.raises(RuntimeError, match=r"must be floating point, but got dtype int64"):
        F.cross_entropy(x, deepdive.zeros(3, 4, dtype=deepdive.int64))
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined .* 4 classes .* shape: \[3\]"):
        F.cross_entropy(x, deepdive.tensor([0, 1, 2]), weight=deepdive.ones(3))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, deepdive.tensor([0, 1, 2]), label_smoothing=1.5)


# ------------------------------------------------------------------ nll_loss
@pytest.mark.parametrize("shapes", CE_SHAPES[:4])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_loss_parity(shapes, reduction, weighted, ignore, dtype):
    in_shape, t_shape = shapes
    n_classes = in_shape[1] if len(in_shape) > 1 else in_shape[0]
    x = rng.standard_normal(in_shape).astype(dtype)
    y = _targets(t_shape, n_classes, ignore)
    kwargs = dict(reduction=reduction) if ignore is None else dict(reduction=reduction, ignore_index=ignore)
    extra = [(rng.uniform(0.5, 2, n_classes).astype(dtype), False)] if weighted else []
    check_parity(lambda a, b, *c: F.nll_loss(a, b, *c, **kwargs),
                 lambda a, b, *c: tF().nll_loss(a, b, *c, **kwargs), [x, y] + extra)


def test_nll_loss_gradcheck_and_errors():
    gradcheck(lambda a: F.nll_loss(a, deepdive.tensor([1, 0, 2]), reduction="sum"), rng.standard_normal((3, 3)))
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        F.nll_loss(deepdive.randn(2, 3), deepdive.tensor([3, 0]))
    with pytest.raises(RuntimeError, match="class indices of an integer dtype with shape \\[2\\], but got"):
        F.nll_loss(deepdive.randn(2, 3), deepdive.randn(2, 3))


# ----------------------------------------------------------- binary losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_parity(reduction, weighted, dtype):
    x = rng.uniform(0.02, 0.98, (4, 3)).astype(dtype)
    y = rng.uniform(0, 1, (4, 3)).astype(dtype)
    extra = [(rng.uniform(0.5, 2, (3,)).astype(dtype), False)] if weighted else []
    check_parity(lambda a, b, *c: F.binary_cross_entropy(a, b, *c, reduction=reduction),
                 lambda a, b, *c: tF().binary_cross_entropy(a, b, *c, reduction=reduction), [x, y] + extra)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    x = np.array([0.0, 1.0, 0.5, 1e-30], dtype=np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0], dtype=np.float32)
    out = check_parity(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                       lambda a, b: tF().binary_cross_entropy(a, b, reduction="none"), [(x, False), (y, False)])
    np.testing.assert_allclose(out[0]._data[:2], [100.0, 100.0])


def test_binary_cross_entropy_gradcheck_and_errors():
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b), rng.uniform(0.1, 0.9, (3, 2)), rng.uniform(0, 1, (3, 2)))
    with pytest.raises(ValueError, match=r"Using a target size \(deepdive.Size\(\[3\]\)\)|target size"):
        F.binary_cross_entropy(deepdive.rand(3, 1), deepdive.rand(3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(deepdive.tensor([1.5, 0.2]), deepdive.tensor([1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_parity(reduction, weighted, pos_weighted, dtype):
    x = (rng.standard_normal((4, 3)) * 3).astype(dtype)
    y = rng.uniform(0, 1, (4, 3)).astype(dtype)
    w = (rng.uniform(0.5, 2, (4, 1)).astype(dtype), False) if weighted else None   # torch: no grad for weight
    pw = (rng.uniform(0.5, 3, (3,)).astype(dtype), False) if pos_weighted else None
    check_parity(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, c, reduction=reduction, pos_weight=d),
                 lambda a, b, c, d: tF().binary_cross_entropy_with_logits(a, b, c, reduction=reduction, pos_weight=d),
                 [x, y, w, pw])


def test_bce_with_logits_gradcheck_all_inputs():
    gradcheck(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, c, pos_weight=d),
              rng.standard_normal((3, 2)), rng.uniform(0, 1, (3, 2)), rng.uniform(0.5, 2, (3, 2)),
              rng.uniform(0.5, 2, (2,)))


def test_bce_with_logits_huge_logits_finite():
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4, 3e38], dtype=np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype=np.float32)
    with np.errstate(over="raise"):
        out = check_parity(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
                           lambda a, b: tF().binary_cross_entropy_with_logits(a, b, reduction="none"), [x, y])
    assert np.isfinite(out[0]._data).all()
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(deepdive.randn(3), deepdive.rand(3, 1))


# -------------------------------------------------------------------- kl_div
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_div_parity(reduction, log_target, dtype):
    x = np.log(rng.dirichlet(np.ones(4), 3)).astype(dtype)
    t = rng.dirichlet(np.ones(4), 3)
    t = (np.log(t) if log_target else t).astype(dtype)
    check_parity(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                 lambda a, b: tF().kl_div(a, b, reduction=reduction, log_target=log_target), [x, t])


def test_kl_div_mean_warns_like_torch():
    x = deepdive.tensor(np.log(rng.dirichlet(np.ones(3), 2)).astype(np.float32))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, x.exp())


def test_kl_div_zero_target_and_gradcheck():
    x = np.log(np.array([[0.2, 0.3, 0.5]], dtype=np.float32))
    t = np.array([[0.0, 0.4, 0.6]], dtype=np.float32)
    check_parity(lambda a, b: F.kl_div(a, b, reduction="sum"), lambda a, b: tF().kl_div(a, b, reduction="sum"),
                 [x, (t, False)])
    gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), rng.standard_normal((2, 3)),
              rng.uniform(0.1, 1, (2, 3)))
    gradcheck(lambda a, b: F.kl_div(a, b, log_target=True), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))


# ------------------------------------------------------- one_hot / normalize
def test_one_hot():
    t = require_torch()
    y = np.array([[0, 2], [1, 4]])
    out = F.one_hot(deepdive.tensor(y))
    np.testing.assert_array_equal(out._data, t.nn.functional.one_hot(t.tensor(y)).numpy())
    assert out.dtype == deepdive.int64
    assert F.one_hot(deepdive.tensor([1]), num_classes=4).shape == (1, 4)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(deepdive.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(deepdive.tensor([-1]), 3)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(deepdive.tensor([1.0]))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize_parity(p, dim, dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    x[1] = 0.0                                    # a zero row: the eps floor, no NaN
    check_parity(lambda a: F.normalize(a, p=p, dim=dim), lambda a: tF().normalize(a, p=p, dim=dim), [x])
    gradcheck(lambda a: F.normalize(a, p=p, dim=dim), rng.standard_normal((3, 4)))


# ------------------------------------------------------------------ modules
MODULES = [("L1Loss", {}, "reg"), ("MSELoss", {"reduction": "sum"}, "reg"), ("SmoothL1Loss", {"beta": 0.3}, "reg"),
           ("HuberLoss", {"delta": 0.7, "reduction": "none"}, "reg"),
           ("CrossEntropyLoss", {"ignore_index": 2, "label_smoothing": 0.1}, "class"),
           ("CrossEntropyLoss", {"weight": [0.5, 2.0, 1.0, 1.5]}, "class"),
           ("NLLLoss", {"weight": [0.5, 2.0, 1.0, 1.5], "reduction": "sum"}, "class"),
           ("BCELoss", {"weight": [0.5, 2.0, 1.0, 1.5]}, "prob"),
           ("BCEWithLogitsLoss", {"pos_weight": [0.5, 2.0, 1.0, 1.5]}, "logit"),
           ("KLDivLoss", {"reduction": "batchmean"}, "kl"),
           ("KLDivLoss", {"log_target": True, "reduction": "sum"}, "kl")]


@pytest.mark.parametrize("name,options,kind", MODULES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_modules_match_torch(name, options, kind, dtype):
    t = require_torch()
    dd_opts = {k: deepdive.tensor(np.array(v, dtype=dtype)) if isinstance(v, list) else v for k, v in options.items()}
    t_opts = {k: t.tensor(np.array(v, dtype=dtype)) if isinstance(v, list) else v for k, v in options.items()}
    dd_module, t_module = getattr(deepdive.nn, name)(**dd_opts), getattr(t.nn, name)(**t_opts)
    x = rng.standard_normal((5, 4)).astype(dtype)
    if kind == "reg":
        target = rng.standard_normal((5, 4)).astype(dtype)
    elif kind == "class":
        target = rng.integers(0, 4, 5)
    elif kind == "prob":
        x, target = rng.uniform(0.05, 0.95, (5, 4)).astype(dtype), rng.uniform(0, 1, (5, 4)).astype(dtype)
    elif kind == "logit":
        target = rng.uniform(0, 1, (5, 4)).astype(dtype)
    else:
        x = np.log(rng.dirichlet(np.ones(4), 5)).astype(dtype)
        target = rng.dirichlet(np.ones(4), 5).astype(dtype)
        if options.get("log_target"):
            target = np.log(target).astype(dtype)
    check_parity(dd_module, t_module, [x, (target, False)])
    assert repr(dd_module) == repr(t_module)
    assert sorted(dd_module.state_dict()) == sorted(t_module.state_dict())


def test_loss_module_legacy_flags():
    t = require_torch()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kwargs in [dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True)]:
            assert deepdive.nn.MSELoss(**kwargs).reduction == t.nn.MSELoss(**kwargs).reduction


def test_float64_weights_keep_float32_losses():
    x, y = deepdive.randn(4, 3, requires_grad=True), deepdive.tensor([0, 1, 2, 1])
    w = deepdive.tensor([1.0, 2.0, 0.5], dtype=deepdive.float64)
    assert F.cross_entropy(x, y, weight=w).dtype == deepdive.float32
    assert F.cross_entropy(x, F.one_hot(y).float(), weight=w).dtype == deepdive.float32
    assert F.nll_loss(x, y, weight=w).dtype == deepdive.float32
    assert F.binary_cross_entropy_with_logits(x, deepdive.rand(4, 3), weight=w, pos_weight=w).dtype == deepdive.float32
    assert F.binary_cross_entropy(x.sigmoid(), deepdive.rand(4, 3), weight=w).dtype == deepdive.float32


# --------------------------------------------------------- composed losses
def _signs(shape, dtype):
    return np.asarray(rng.integers(0, 2, shape) * 2 - 1).astype(dtype)


COMPOSED = {
    "poisson_nll_loss": [dict(), dict(log_input=False), dict(full=True), dict(log_input=False, full=True, eps=1e-3)],
    "gaussian_nll_loss": [dict(), dict(full=True, eps=1e-3), dict(var_shape="fewer"), dict(var_shape="last1")],
    "margin_ranking_loss": [dict(), dict(margin=0.5)],
    "hinge_embedding_loss": [dict(), dict(margin=0.3)],
    "soft_margin_loss": [dict()],
    "multilabel_soft_margin_loss": [dict(), dict(weighted=True)],
    "cosine_embedding_loss": [dict(), dict(margin=0.2), dict(unbatched=True)],
    "triplet_margin_loss": [dict(), dict(p=1.0, margin=0.5), dict(swap=True, eps=1e-3)],
}
COMPOSED_CASES = [(name, options) for name, cases in COMPOSED.items() for options in cases]


def _composed_inputs(name, options, dtype):
    options = dict(options)
    x = rng.standard_normal((4, 3)).astype(dtype)
    if name == "poisson_nll_loss":
        if not options.get("log_input", True):
            x = rng.uniform(0.1, 3, (4, 3)).astype(dtype)
        return [x, (rng.poisson(1.5, (4, 3)).astype(dtype), False)], options
    if name == "gaussian_nll_loss":
        shape = {"fewer": (4,), "last1": (4, 1)}.get(options.pop("var_shape", None), (4, 3))
        return [x, rng.standard_normal((4, 3)).astype(dtype), rng.uniform(0.01, 2, shape).astype(dtype)], options
    if name == "margin_ranking_loss":
        return [x[:, 0], x[:, 1], (_signs(4, dtype), False)], options
    if name in ("hinge_embedding_loss", "soft_margin_loss"):
        return [x, (_signs((4, 3), dtype), False)], options
    if name == "multilabel_soft_margin_loss":
        extra = [(rng.uniform(0.5, 2, 3).astype(dtype), False)] if options.pop("weighted", False) else []
        return [x, (rng.integers(0, 2, (4, 3)).astype(dtype), False)] + extra, options
    if name == "cosine_embedding_loss":
        shape, t_shape = ((5,), ()) if options.pop("unbatched", False) else ((4, 5), (4,))
        return [rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype),
                (_signs(t_shape, dtype), False)], options
    return [rng.standard_normal((4, 5)).astype(dtype) for _ in range(3)], options


@pytest.mark.parametrize("name,options", COMPOSED_CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_composed_losses_match_torch(name, options, reduction, dtype):
    inputs, options = _composed_inputs(name, options, dtype)
    dd, tt = _pair(name, reduction=reduction, **options)
    check_parity(dd, tt, inputs)


@pytest.mark.parametrize("name,options", COMPOSED_CASES)
def test_composed_losses_gradcheck(name, options):
    inputs, options = _composed_inputs(name, options, np.float64)
    arrays = [a if isinstance(a, np.ndarray) else deepdive.tensor(a[0]) for a in inputs]
    gradcheck(lambda *a: getattr(F, name)(*a, **options), *arrays)


@pytest.mark.parametrize("name,args", [("PoissonNLLLoss", dict(log_input=False, full=True)),
                                       ("GaussianNLLLoss", dict(full=True)), ("MarginRankingLoss", dict(margin=0.1)),
                                       ("HingeEmbeddingLoss", dict(margin=2.0)), ("SoftMarginLoss", dict()),
                                       ("MultiLabelSoftMarginLoss", dict(reduction="sum")),
                                       ("CosineEmbeddingLoss", dict(margin=0.1)),
                                       ("TripletMarginLoss", dict(p=1.0, swap=True))])
def test_composed_loss_modules_match_torch(name, args):
    t = require_torch()
    functional = {"PoissonNLLLoss": "poisson_nll_loss", "GaussianNLLLoss": "gaussian_nll_loss",
                  "MarginRankingLoss": "margin_ranking_loss", "HingeEmbeddingLoss": "hinge_embedding_loss",
                  "SoftMarginLoss": "soft_margin_loss", "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
                  "CosineEmbeddingLoss": "cosine_embedding_loss", "TripletMarginLoss": "triplet_margin_loss"}[name]
    inputs, _ = _composed_inputs(functional, dict(log_input=False) if name == "PoissonNLLLoss" else {}, np.float32)
    check_parity(getattr(deepdive.nn, name)(**args), getattr(t.nn, name)(**args), inputs)


def test_gaussian_nll_loss_errors():
    x = deepdive.randn(4, 3)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, x, deepdive.ones(2))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, x, -deepdive.ones(4, 3))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_margin_loss_matches_torch(p, reduction, weighted, dtype):
    x = rng.standard_normal((5, 4)).astype(dtype)
    extra = [(rng.uniform(0.5, 2, 4).astype(dtype), False)] if weighted else [None]
    check_parity(lambda a, b, w: F.multi_margin_loss(a, b, p=p, margin=0.7, weight=w, reduction=reduction),
                 lambda a, b, w: tF().multi_margin_loss(a, b, p=p, margin=0.7, weight=w, reduction=reduction),
                 [x, rng.integers(0, 4, 5)] + extra)


def test_multi_margin_loss_unbatched_gradcheck_and_errors():
    check_parity(lambda a, b: F.multi_margin_loss(a, b), lambda a, b: tF().multi_margin_loss(a, b),
                 [rng.standard_normal(4), np.array(2)])
    gradcheck(lambda a: F.multi_margin_loss(a, deepdive.tensor([0, 3, 1]), p=2, margin=2.0),
              rng.standard_normal((3, 4)))
    with pytest.raises(IndexError, match="Target 4 is out of bounds."):
        F.multi_margin_loss(deepdive.randn(2, 4), deepdive.tensor([0, 4]))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(deepdive.randn(2, 4), deepdive.tensor([0, 1]), p=3)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("custom", [False, True])
def test_triplet_margin_with_distance_loss_matches_torch(swap, custom):
    t = require_torch()

    def l1_distance(x1, x2):
        return (x1 - x2).abs().sum(dim=-1)
    distance = l1_distance if custom else None
    inputs = [rng.standard_normal((4, 5)) for _ in range(3)]
    check_parity(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, distance_function=distance, swap=swap),
                 lambda a, p, n: t.nn.functional.triplet_margin_with_distance_loss(a, p, n, distance_function=distance,
                                                                                    swap=swap), inputs)
    check_parity(deepdive.nn.TripletMarginWithDistanceLoss(distance_function=distance, margin=0.5),
                 t.nn.TripletMarginWithDistanceLoss(distance_function=distance, margin=0.5), inputs)
    check_parity(deepdive.nn.MultiMarginLoss(p=2), t.nn.MultiMarginLoss(p=2),
                 [rng.standard_normal((3, 4)), rng.integers(0, 4, 3)])
