"""The README's Python examples run as printed, each on its own (a reader copies one block, not the page),
and its two opening commands are what a fresh machine needs and what CI runs."""
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
README = os.path.join(ROOT, "README.md")


def _readme():
    return open(README, encoding="utf-8").read()


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", _readme(), flags=re.S)


def test_readme_has_examples():
    assert len(_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_block_runs_on_its_own(index, capsys):
    block = _python_blocks()[index]
    exec(compile(block, f"README.md block {index + 1}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.strip(), "a README example should print what it shows"


def test_readme_examples_print_what_the_readme_promises(capsys):
    for index, block in enumerate(_python_blocks()):
        exec(compile(block, f"README.md block {index + 1}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "graph TD" in out and "Backward pass" in out and "Epoch 5/5" in out


def _opening_commands():
    first_block = re.search(r"```bash\n(.*?)```", _readme(), flags=re.S).group(1)
    return [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]


def test_readme_opens_with_two_self_contained_commands():
    commands = _opening_commands()
    assert len(commands) == 2
    for command in commands:
        # a fresh Debian/Ubuntu machine refuses a system-wide pip install: each command makes its venv first
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e ")
    assert commands[0].endswith("deepdive demo")
    assert commands[1].endswith("python3 -m pytest -q")


def test_ci_runs_the_readmes_test_command_in_a_fresh_venv():
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    test_command = _opening_commands()[1].split("&& . .venv/bin/activate && ")[1]
    install, run = [part.strip() for part in test_command.split("&&")]
    assert "python3 -m venv" in ci and "/bin/activate" in ci
    assert re.search(r"pip install [^\n]*-e \"\.\[test\]\" && " + re.escape(run), ci), \
        "CI must run the README's test command"
    assert install.startswith("pip install") and '-e ".[test]"' in install


def test_readme_seeded_simplenn_prints_what_the_readme_says_and_what_pytorch_prints(capsys):
    from parity import require_torch
    require_torch()
    section = _readme().split("## Same seed, same numbers as PyTorch", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    printed = re.search(r"Both libraries print:\n\n```\n(.*?)```", section, flags=re.S).group(1)
    exec(compile(code, "README.md (same seed)", "exec"), {})
    ours = capsys.readouterr().out
    as_torch = code.replace("import deepdive as torch ", "import torch ").replace("import deepdive.nn as nn",
                                                                                    "import torch.nn as nn")
    assert "import deepdive" not in as_torch
    exec(compile(as_torch, "README.md (same seed, PyTorch)", "exec"), {})
    theirs = capsys.readouterr().out
    assert ours == theirs == printed
