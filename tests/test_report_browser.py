"""Every demo's report.html in a real headless browser (Debian's chromium): no errors, plots visible, and each
model's own section ("what it learned") rendered and visible in a screenshot at a narrow window.

Skipped when chromium is not installed, unless DEEPDIVE_REQUIRE_BROWSER=1 (as CI sets, after installing it).
Set DEEPDIVE_SCREENSHOTS=DIR to keep the screenshots (whole page and each model's own sections) to look at.
"""
import html
import os
import re
import shutil
import struct
import subprocess

import numpy as np
import pytest

from deepdive.cli import main

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
WIDTH = 900                  # a narrow window: the plots must stay readable in it

# Each model's own sections: the report must show what that model learned.
OWN_SECTIONS = {
    "mlp": ["What the network learned: its decision boundary", "One neuron, with its numbers",
            "Backpropagation, step by step"],
    "cnn": ["What the CNN learned: held-out digits and its predictions", "What the CNN learned: the first layer's filters"],
    "rnn": ["What the LSTM learned: forecast against the truth"],
    "transformer": ["What the Transformer learned: held-out inputs and its sorted outputs"],
}
DEMO_ARGS = {"mlp": ["--epochs", "4"], "cnn": ["--epochs", "2"], "rnn": ["--epochs", "1"],
             "transformer": ["--epochs", "1"]}


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if path is None:
        if os.environ.get("DEEPDIVE_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (DEEPDIVE_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    import importlib.util
    out = tmp_path_factory.mktemp("runs")
    found = {}
    for model, args in DEMO_ARGS.items():
        if model == "cnn" and importlib.util.find_spec("sklearn") is None:
            continue
        assert main(["demo", "--model", model, *args, "--out", str(out / model), "--quiet"]) == 0
        (folder,) = [p for p in (out / model).iterdir() if p.is_dir()]
        found[model] = folder / "report.html"
    return found


def _dom(chromium, report, profile, width=WIDTH):
    result = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                             f"--window-size={width},1200", "--virtual-time-budget=3000", "--dump-dom",
                             report.as_uri()], capture_output=True, text=True, timeout=120)
    return result.stdout, result.stderr


def _sections(dom):
    """{heading text: (rendered, top)} from the marks the report's script leaves on each <h2>."""
    out = {}
    for rendered, top, text in re.findall(r'<h2 id="[^"]*" data-rendered="(\w+)" data-top="(\d+)">(.*?)</h2>', dom):
        out[html.unescape(text)] = (rendered == "true", int(top))
    return out


@pytest.mark.parametrize("model", list(DEMO_ARGS))
def test_report_loads_without_errors_and_images_decode(reports, model, tmp_path):
    if model not in reports:
        pytest.skip("the cnn demo needs scikit-learn")
    dom, stderr = _dom(_chromium(), reports[model], tmp_path / "profile")
    assert "<h1>deepdive demo" in dom, stderr[-2000:]
    images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    assert images >= 3                               # curves, gradient flow, weights (and more)
    assert 'data-images-ok="true"' in dom            # every embedded plot decoded
    assert 'data-errors="0"' in dom                   # no script or resource errors on the page
    console_errors = [l for l in stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "Error" in l)]
    assert console_errors == []
    sections = _sections(dom)
    for heading in OWN_SECTIONS[model]:               # the model's own part of the report is there and rendered
        matches = [s for s in sections if s.startswith(heading)]
        assert matches and all(sections[s][0] for s in matches), (heading, sorted(sections))


@pytest.mark.parametrize("model", list(DEMO_ARGS))
def test_screenshots_show_each_models_own_section(reports, model, tmp_path):
    if model not in reports:
        pytest.skip("the cnn demo needs scikit-learn")
    import matplotlib.image
    chromium = _chromium()
    dom, _ = _dom(chromium, reports[model], tmp_path / "profile")
    height = min(int(re.search(r'data-height="(\d+)"', dom).group(1)), 16000)
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WIDTH},{height}",
                    "--hide-scrollbars", "--virtual-time-budget=3000", f"--screenshot={shot}",
                    reports[model].as_uri()], capture_output=True, text=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, height)
    page = matplotlib.image.imread(shot)[..., :3]
    keep = os.environ.get("DEEPDIVE_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(shot, os.path.join(keep, f"{model}-report.png"))
    sections = sorted(_sections(dom).items(), key=lambda kv: kv[1][1])
    tops = [top for _, (_, top) in sections] + [height]
    for i, (heading, (rendered, top)) in enumerate(sections):
        if not any(heading.startswith(h) for h in OWN_SECTIONS[model]):
            continue
        crop = page[max(0, top - 30):min(tops[i + 1], height)]          # from above the heading's margin
        assert crop.shape[0] > 60, heading
        # drawn, not blank: a rendered plot or table has many non-white pixels of varied tone
        ink = np.mean(np.any(crop < 0.85, axis=-1))
        assert ink > 0.02 and crop.std() > 0.05, (heading, ink, crop.std())
        if keep:
            matplotlib.image.imsave(os.path.join(keep, f"{model}-{i:02d}.png"), crop)
