"""The demo's report.html in a real headless browser (Debian's chromium): no errors, plots visible.

Skipped when chromium is not installed, unless DEEPDIVE_REQUIRE_BROWSER=1 (as CI sets, after installing it).
"""
import os
import re
import shutil
import struct
import subprocess

import pytest

from deepdive.cli import main

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if path is None:
        if os.environ.get("DEEPDIVE_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (DEEPDIVE_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["demo", "--epochs", "4", "--out", str(out), "--quiet"]) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder / "report.html"


def test_report_loads_without_errors_and_images_decode(report, tmp_path):
    chromium = _chromium()
    result = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                             "--v=0", "--virtual-time-budget=3000", "--dump-dom", report.as_uri()],
                            capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert "<h1>deepdive demo" in dom, result.stderr[-2000:]
    images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    assert images >= 4
    assert 'data-images-ok="true"' in dom            # every embedded plot decoded
    assert 'data-errors="0"' in dom                   # no script or resource errors on the page
    console_errors = [l for l in result.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "Error" in l)]
    assert console_errors == []


def test_report_screenshot_shows_the_plots(report, tmp_path):
    chromium = _chromium()
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400",
                    "--hide-scrollbars", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, text=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 2400)
    assert len(data) > 50_000          # a blank page compresses to a few KB; plots and text do not
