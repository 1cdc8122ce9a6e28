"""The playground's settings: their defaults, their limits, and the one check every request goes through.

A request names only what it changes; anything unknown, of the wrong type or outside its limits is refused
with a message that names the parameter, what was given and what is allowed (the server answers 400 with it).
The limits keep one local page responsive on a laptop: a network of at most 6 hidden layers of 32 units
trains a step in about a millisecond on 2-D data.
"""

DATASETS = ("moons", "circles", "spirals", "xor", "blobs")
ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU", "elu": "ELU",
               "gelu": "GELU", "silu": "SiLU"}
OPTIMIZERS = ("sgd", "momentum", "adam")
NORMS = ("none", "batch", "layer")

MAX_LAYERS, MAX_WIDTH = 6, 32
MAX_STEPS_PER_REQUEST = 1000          # one "step" request may ask for this many optimisation steps
MAX_TOTAL_STEPS = 200_000             # training pauses itself here, so a forgotten tab does not train forever

DEFAULTS = {
    "dataset": "moons", "n_samples": 400, "noise": 0.2, "val_fraction": 0.3,
    "hidden": [8, 8], "activation": "tanh", "optimizer": "sgd", "lr": 0.1, "batch_size": 16,
    "dropout": 0.0, "l1": 0.0, "l2": 0.0, "norm": "none", "seed": 0,
}

# name: (kind, low, high) for numbers; (tuple of choices,) for names
_LIMITS = {
    "dataset": (DATASETS,), "activation": (tuple(ACTIVATIONS),), "optimizer": (OPTIMIZERS,), "norm": (NORMS,),
    "n_samples": (int, 50, 2000), "noise": (float, 0.0, 1.0), "val_fraction": (float, 0.1, 0.9),
    "lr": (float, 1e-6, 10.0), "batch_size": (int, 1, 2000), "dropout": (float, 0.0, 0.9),
    "l1": (float, 0.0, 1.0), "l2": (float, 0.0, 1.0), "seed": (int, 0, 2 ** 31 - 1),
}


class SettingsError(ValueError):
    """A request the playground refuses; its message says why and what is allowed."""


def _number(name, value, kind, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"playground: {name} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise SettingsError(f"playground: {name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SettingsError(f"playground: {name}={value!r} is outside its limits [{low:g}, {high:g}]")
    return kind(value)


def _hidden(value):
    if not isinstance(value, list):
        raise SettingsError(f"playground: hidden must be a list of layer widths such as [8, 8], got {value!r}")
    if len(value) > MAX_LAYERS:
        raise SettingsError(f"playground: hidden has {len(value)} layers; at most {MAX_LAYERS} are allowed")
    return [_number(f"hidden[{i}]", w, int, 1, MAX_WIDTH) for i, w in enumerate(value)]


def validate(changes, current=None):
    """The settings ``current`` (default: DEFAULTS) updated by ``changes`` (a dict), checked; a new dict."""
    if not isinstance(changes, dict):
        raise SettingsError(f"playground: settings must be a JSON object, got {type(changes).__name__}")
    settings = dict(DEFAULTS if current is None else current)
    for name, value in changes.items():
        if name not in DEFAULTS:
            raise SettingsError(f"playground: unknown parameter {name!r}; the parameters are "
                                f"{', '.join(sorted(DEFAULTS))}")
        if name == "hidden":
            settings[name] = _hidden(value)
            continue
        limit = _LIMITS[name]
        if len(limit) == 1:
            if value not in limit[0]:
                raise SettingsError(f"playground: {name}={value!r} is not one of {', '.join(limit[0])}")
            settings[name] = value
        else:
            settings[name] = _number(name, value, *limit)
    n_train = settings["n_samples"] - int(settings["n_samples"] * settings["val_fraction"])
    if settings["batch_size"] > n_train:
        raise SettingsError(f"playground: batch_size={settings['batch_size']} is larger than the "
                            f"{n_train} training points ({settings['n_samples']} samples, "
                            f"val_fraction {settings['val_fraction']:g})")
    if settings["norm"] == "batch" and settings["batch_size"] < 2:
        raise SettingsError("playground: batch norm needs batch_size >= 2 (the variance of one sample is 0)")
    return settings
