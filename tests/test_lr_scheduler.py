"""Learning-rate schedulers: the sequence of learning rates over 30 steps equals torch's for each
scheduler and option, with two parameter groups; state_dict round trips; chaining; errors."""
import math
import pickle

import pytest

import deepdive
import deepdive.optim as optim
from deepdive.optim import lr_scheduler
from parity import require_torch

STEPS = 30


def _optimizers(name="SGD", **options):
    t = require_torch()
    options = options or dict(lr=0.1, momentum=0.9)
    ours = getattr(optim, name)([{"params": [deepdive.zeros(2, requires_grad=True)]},
                                 {"params": [deepdive.zeros(1, requires_grad=True)], "lr": 0.03}], **options)
    theirs = getattr(t.optim, name)([{"params": [t.zeros(2, requires_grad=True)]},
                                     {"params": [t.zeros(1, requires_grad=True)], "lr": 0.03}], **options)
    return ours, theirs


def _run(scheduler, opt, steps=STEPS, metrics=None):
    """(lrs, momenta) seen by the optimizer at each step, then one scheduler step."""
    history = []
    for i in range(steps):
        history.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
        assert scheduler.get_last_lr() == [g["lr"] for g in opt.param_groups]
        opt.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[i])
    return history


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for (lr_a, m_a, beta_a), (lr_b, m_b, beta_b) in zip(a, b):
            assert lr_a == pytest.approx(lr_b, rel=1e-12, abs=1e-15), f"step {step}: lr {lr_a} != torch's {lr_b}"
            _close_or_both_none(m_a, m_b, f"step {step}: momentum")
            _close_or_both_none(beta_a, beta_b, f"step {step}: betas")


def _close_or_both_none(ours, theirs, what):
    """A group without momentum/betas holds None in both libraries; pytest.approx cannot compare None
    (pytest >= 8.4 raises), so None is compared by identity and numbers by value."""
    if ours is None or theirs is None:
        assert ours is None and theirs is None, f"{what}: {ours!r} != torch's {theirs!r}"
    else:
        assert ours == pytest.approx(theirs, rel=1e-12), f"{what}: {ours} != torch's {theirs}"


SCHEDULERS = [
    ("StepLR", dict(step_size=7)), ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)), ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LinearLR", dict()), ("LinearLR", dict(start_factor=0.1, end_factor=0.8, total_iters=12)),
    ("ConstantLR", dict()), ("ConstantLR", dict(factor=0.5, total_iters=8)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95 ** epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.5 * (1 + math.cos(e))])),
    ("MultiplicativeLR", dict(lr_lambda=lambda epoch: 0.97)),
    ("PolynomialLR", dict()), ("PolynomialLR", dict(total_iters=20, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)), ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.01)),
]


@pytest.mark.parametrize("name,options", SCHEDULERS)
def test_matches_torch(name, options):
    t = require_torch()
    ours_opt, theirs_opt = _optimizers()
    ours = _run(getattr(lr_scheduler, name)(ours_opt, **options), ours_opt)
    theirs = _run(getattr(t.optim.lr_scheduler, name)(theirs_opt, **options), theirs_opt)
    _same(ours, theirs)


@pytest.mark.parametrize("options", [dict(max_lr=0.5, total_steps=STEPS),
                                     dict(max_lr=[0.5, 0.2], epochs=3, steps_per_epoch=10, anneal_strategy="linear"),
                                     dict(max_lr=1.0, total_steps=STEPS, three_phase=True, pct_start=0.25),
                                     dict(max_lr=0.3, total_steps=STEPS, cycle_momentum=False, div_factor=10.0)])
@pytest.mark.parametrize("optimizer", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1))])
def test_one_cycle_matches_torch(options, optimizer):
    t = require_torch()
    ours_opt, theirs_opt = _optimizers(optimizer[0], **optimizer[1])
    ours = _run(lr_scheduler.OneCycleLR(ours_opt, **options), ours_opt, steps=STEPS - 1)
    theirs = _run(t.optim.lr_scheduler.OneCycleLR(theirs_opt, **options), theirs_opt, steps=STEPS - 1)
    _same(ours, theirs)


@pytest.mark.parametrize("options", [dict(base_lr=0.01, max_lr=0.1, step_size_up=4),
                                     dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5,
                                          mode="triangular2"),
                                     dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.97),
                                     dict(base_lr=0.01, max_lr=0.1, step_size_up=2, scale_fn=lambda x: 0.9 ** x,
                                          scale_mode="iterations", cycle_momentum=False)])
@pytest.mark.parametrize("optimizer", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1))])
def test_cyclic_matches_torch(options, optimizer):
    t = require_torch()
    ours_opt, theirs_opt = _optimizers(optimizer[0], **optimizer[1])
    _same(_run(lr_scheduler.CyclicLR(ours_opt, **options), ours_opt),
          _run(t.optim.lr_scheduler.CyclicLR(theirs_opt, **options), theirs_opt))


def test_one_cycle_too_many_steps():
    opt, _ = _optimizers()
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    scheduler.step()
    scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        scheduler.step()


def test_sequential_matches_torch():
    t = require_torch()
    results = []
    for opt, module in zip(_optimizers(), (lr_scheduler, t.optim.lr_scheduler)):
        warmup = module.LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = module.CosineAnnealingLR(opt, T_max=10)
        step = module.StepLR(opt, step_size=3)
        results.append(_run(module.SequentialLR(opt, [warmup, decay, step], milestones=[5, 15]), opt))
    _same(*results)


def test_chained_schedulers_on_one_optimizer_match_torch():
    t = require_torch()
    results = []
    for opt, module in zip(_optimizers(), (lr_scheduler, t.optim.lr_scheduler)):
        first, second = module.ExponentialLR(opt, gamma=0.9), module.MultiStepLR(opt, milestones=[4, 9], gamma=0.1)
        history = []
        for _ in range(STEPS):
            history.append([(g["lr"], None, None) for g in opt.param_groups])
            opt.step()
            first.step()
            second.step()
        results.append(history)
    _same(*results)


def test_chained_scheduler_matches_torch():
    t = require_torch()
    results = []
    for opt, module in zip(_optimizers(), (lr_scheduler, t.optim.lr_scheduler)):
        chained = module.ChainedScheduler([module.ConstantLR(opt, factor=0.5, total_iters=4),
                                           module.ExponentialLR(opt, gamma=0.9)])
        results.append(_run(chained, opt))
    _same(*results)


def test_warm_restarts_fractional_epochs_match_torch():
    t = require_torch()
    results = []
    for opt, module in zip(_optimizers(), (lr_scheduler, t.optim.lr_scheduler)):
        scheduler = module.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        history = []
        for epoch in range(8):
            for i in range(4):
                scheduler.step(epoch + i / 4)
                history.append([(g["lr"], None, None) for g in opt.param_groups])
        results.append(history)
    _same(*results)


@pytest.mark.parametrize("options", [dict(), dict(mode="max", factor=0.5, patience=2, threshold_mode="abs",
                                                   threshold=0.05, cooldown=2),
                                     dict(patience=1, cooldown=1, min_lr=[0.02, 0.01], factor=0.5),
                                     dict(patience=0, min_lr=0.005, factor=0.3, threshold=0.2)])
def test_reduce_on_plateau_matches_torch(options):
    t = require_torch()
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.89, 0.9, 0.9, 0.91, 0.92, 0.93, 0.8, 0.85, 0.86] * 3
    metrics = [m + 0.002 * i * (-1) ** i for i, m in enumerate(metrics)][:STEPS]
    ours_opt, theirs_opt = _optimizers()
    ours_sched = lr_scheduler.ReduceLROnPlateau(ours_opt, **options)
    theirs_sched = t.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **options)
    _same(_run(ours_sched, ours_opt, metrics=metrics), _run(theirs_sched, theirs_opt, metrics=metrics))
    assert ours_sched.best == theirs_sched.best and ours_sched.num_bad_epochs == theirs_sched.num_bad_epochs


def test_reduce_on_plateau_accepts_tensor_metric_and_state_dict():
    opt, _ = _optimizers()
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(deepdive.tensor(1.0))
    scheduler.step(deepdive.tensor(2.0))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    state = scheduler.state_dict()
    assert "optimizer" not in state and state["best"] == 1.0
    fresh = lr_scheduler.ReduceLROnPlateau(opt)
    fresh.load_state_dict(state)
    assert fresh.patience == 0 and fresh.best == 1.0


@pytest.mark.parametrize("name,options", [s for s in SCHEDULERS if s[0] != "LambdaLR"] +
                         [("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e))])
def test_state_dict_round_trip(name, options):
    opt, _ = _optimizers()
    full = _run(getattr(lr_scheduler, name)(opt, **options), opt)
    opt, _ = _optimizers()
    scheduler = getattr(lr_scheduler, name)(opt, **options)
    first = _run(scheduler, opt, steps=12)
    saved = pickle.loads(pickle.dumps({"opt": opt.state_dict(), "sched": scheduler.state_dict()}))
    opt2, _ = _optimizers()                       # the usual resume: build everything, then load the states
    resumed = getattr(lr_scheduler, name)(opt2, **options)
    opt2.load_state_dict(saved["opt"])
    resumed.load_state_dict(saved["sched"])
    _same(first + _run(resumed, opt2, steps=STEPS - 12), full)


def test_last_epoch_resume_needs_initial_lr_and_epoch_argument():
    t = require_torch()
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=5)
    ours_opt, theirs_opt = _optimizers()
    ours = lr_scheduler.CosineAnnealingLR(ours_opt, T_max=10)
    theirs = t.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=10)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.step(4)
        theirs.step(4)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    assert ours.last_epoch == 4


def test_errors():
    opt, _ = _optimizers()
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=2)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1] * 3)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="number of milestones"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 3)], milestones=[])
    adagrad = optim.Adagrad([deepdive.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(adagrad, max_lr=0.1, total_steps=10)


def test_user_subclass_written_the_pytorch_way():
    t = require_torch()
    results = []
    for opt, module in zip(_optimizers(), (lr_scheduler, t.optim.lr_scheduler)):
        class Warmup(module._LRScheduler):
            def __init__(self, optimizer, warmup, last_epoch=-1):
                self.warmup = warmup
                super().__init__(optimizer, last_epoch)

            def get_lr(self):
                return [base_lr * min(1.0, (self.last_epoch + 1) / self.warmup) for base_lr in self.base_lrs]
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results.append(_run(Warmup(opt, warmup=7), opt))
    _same(*results)


def test_warns_when_scheduler_steps_before_optimizer():
    opt, _ = _optimizers()
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    opt, _ = _optimizers()
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()
