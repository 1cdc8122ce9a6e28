"""``deepdive.hub`` (``torch.hub``): the names exist, but nothing can be downloaded.

deepdive works offline and cannot run PyTorch hub repositories (they import
torch itself), so every function that would fetch something raises a
RuntimeError that says so. Weights you already have on disk load with
``deepdive.load`` (safetensors) instead.
"""
import os

_dir = [os.path.join(os.path.expanduser(os.getenv("TORCH_HOME", "~/.cache/torch")), "hub")]


def _no_download(what):
    raise RuntimeError(f"deepdive.hub.{what}: deepdive cannot download models or weights (it works offline and "
                       "does not run torch.hub repositories). Load a local file with deepdive.load(path) instead.")


def load(repo_or_dir, model, *args, **kwargs):
    _no_download("load")


def list(github, force_reload=False, skip_validation=False, trust_repo=None, verbose=True):  # noqa: A001
    _no_download("list")


def help(github, model, force_reload=False, skip_validation=False, trust_repo=None):  # noqa: A001
    _no_download("help")


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                             file_name=None, weights_only=False):
    _no_download("load_state_dict_from_url")


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    _no_download("download_url_to_file")


def get_dir():
    """The hub cache folder PyTorch would use (``$TORCH_HOME/hub``); nothing is ever stored there."""
    return _dir[0]


def set_dir(d):
    _dir[0] = os.path.expanduser(os.fspath(d))
