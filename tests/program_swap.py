"""Run a PyTorch program as written and again with only its imports swapped to deepdive.

``swap_imports`` rewrites the import lines a script's header has
(``import torch``, ``import torch.nn as nn``, ``from torch.x import y``,
``import torch.backends.cudnn as cudnn``) and nothing else in the program.
"""
import re


def swap_imports(code):
    code = re.sub(r"^(\s*)import torch$", r"\1import deepdive as torch", code, flags=re.M)
    code = re.sub(r"^(\s*)import torch\.([\w.]+) as (\w+)$", r"\1import deepdive.\2 as \3", code, flags=re.M)
    code = re.sub(r"^(\s*)import torch\.([\w.]+)$", r"\1import deepdive.\2", code, flags=re.M)
    code = re.sub(r"^(\s*)from torch(\.[\w.]+)? import", r"\1from deepdive\2 import", code, flags=re.M)
    return code


def run_both(code):
    """``{"torch": namespace, "deepdive": namespace}`` after exec of the program and its swapped twin."""
    spaces = {}
    for name, text in (("torch", code), ("deepdive", swap_imports(code))):
        ns = {"__name__": "program"}
        exec(compile(text, f"<{name} program>", "exec"), ns)
        spaces[name] = ns
    return spaces
