"""The playground's server, sessions and generated program, without a browser (test_playground_browser.py
drives the page itself): settings checked with clear messages, the code reproduces the page exactly, bad
requests, two tabs and a closed tab, watch() on a user's model, and `deepdive playground` leaving nothing behind.
"""
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest

import deepdive
from deepdive import nn, optim, playground
from deepdive.playground import PlaygroundSession, SettingsError
from deepdive.playground.settings import MAX_WIDTH, validate

SRC = os.path.dirname(os.path.dirname(os.path.abspath(deepdive.__file__)))


# ----------------------------------------------------------------------------- settings
@pytest.mark.parametrize("changes, message", [
    ({"hiden": [8]}, "unknown parameter 'hiden'"),
    ({"hidden": [10_000]}, "hidden[0]=10000 is outside its limits [1, 32]"),
    ({"hidden": [8] * 7}, "hidden has 7 layers; at most 6"),
    ({"hidden": "8,8"}, "hidden must be a list"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"lr": 1e9}, "lr=1000000000.0 is outside its limits"),
    ({"n_samples": 10 ** 9}, "n_samples=1000000000 is outside its limits [50, 2000]"),
    ({"batch_size": 2.5}, "batch_size must be a whole number"),
    ({"batch_size": 1000}, "batch_size=1000 is larger than the 280 training points"),
    ({"activation": "swish!"}, "activation='swish!' is not one of relu, tanh"),
    ({"norm": "batch", "batch_size": 1}, "batch norm needs batch_size >= 2"),
    ({"dropout": True}, "dropout must be a number"),
])
def test_bad_settings_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(SettingsError) as e:
        validate(changes)
    assert message in str(e.value)


def test_settings_fill_in_the_defaults():
    s = validate({"hidden": [MAX_WIDTH, 3], "activation": "relu"})
    assert s["hidden"] == [32, 3] and s["activation"] == "relu" and s["dataset"] == "moons"


# ----------------------------------------------------------------------------- the code reproduces the page
def _run_program(code):
    out = io.StringIO()
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "playground_model.py", "exec"), namespace)
    return out.getvalue(), namespace


@pytest.mark.parametrize("settings", [
    {},
    {"dataset": "spirals", "hidden": [12, 12, 6], "activation": "relu", "optimizer": "adam", "lr": 0.01,
     "dropout": 0.2, "l1": 0.001, "l2": 0.0005, "norm": "batch", "batch_size": 20, "seed": 3},
    {"dataset": "xor", "hidden": [6], "activation": "gelu", "optimizer": "momentum", "lr": 0.05,
     "norm": "layer", "noise": 0.05, "val_fraction": 0.5, "batch_size": 7},
    {"dataset": "blobs", "hidden": [], "activation": "sigmoid", "n_samples": 150, "seed": 9},
    {"dataset": "circles", "hidden": [4, 4], "activation": "elu", "batch_size": 1, "lr": 0.01},
])
def test_the_program_reproduces_the_page_exactly(settings):
    session = PlaygroundSession(settings)
    session.control("step", 57)                       # not a whole number of epochs: the loop resumes mid-epoch
    snap = session.snapshot()
    printed, namespace = _run_program(session.code())
    assert f"after 57 steps: train loss {snap['loss']:.6f}, val loss {snap['val_loss']:.6f}" in printed, printed
    page = session.model.state_dict()
    for name, value in namespace["model"].state_dict().items():       # the same weights, bit for bit
        np.testing.assert_array_equal(value.numpy(), page[name].numpy(), err_msg=name)
    assert str(namespace["model"].fc_out.weight.dtype) == "deepdive.float32"


def test_the_download_holds_the_program_and_the_trained_weights(tmp_path):
    session = PlaygroundSession({"hidden": [5], "dropout": 0.1})
    session.control("step", 30)
    with zipfile.ZipFile(io.BytesIO(session.download())) as z:
        assert sorted(z.namelist()) == ["model.safetensors", "playground_model.py"]
        z.extractall(tmp_path)
    weights = deepdive.load(str(tmp_path / "model.safetensors"))
    _, namespace = _run_program((tmp_path / "playground_model.py").read_text())
    fresh = namespace["SimpleNN"]()
    fresh.load_state_dict(weights)                       # the program's model takes the page's weights
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), session.model.state_dict()[name].numpy())


def test_training_on_the_page_learns_and_watching_changes_nothing():
    a, b = PlaygroundSession({"seed": 1}), PlaygroundSession({"seed": 1})
    first = a.snapshot()["loss"]
    for _ in range(20):                                  # a snapshot between every 10 steps ...
        a.control("step", 10)
        a.snapshot()
        a.explain(0.0, 0.0)
        a.neuron(1, 0, 0.5, 0.5)
    b.control("step", 200)                               # ... or none: the same training
    assert a.snapshot()["loss"] == b.snapshot()["loss"] < 0.6 * first
    assert len(a.snapshot()["history"]["loss"]) > 5


def test_snapshot_shows_the_views():
    session = PlaygroundSession({"hidden": [3, 4], "activation": "relu"})
    session.control("step", 5)
    snap = session.snapshot()
    assert snap["boundary"]["n"] == 40 and len(snap["neuron_maps"]) == 2
    assert [len(l["weight"]) for l in snap["layers"]] == [3, 4, 2]
    assert set(snap["grad_flow"]) == {"fc1.weight", "fc2.weight", "fc_out.weight"}
    assert {s["name"] for s in snap["activations"]} >= {"act1", "act2"}
    neuron = session.neuron(2, 3, 0.1, 0.2)["text"]
    assert "y = σ(Σ wᵢxᵢ + b)" in neuron and "ReLU" in neuron
    walk = session.explain(0.1, 0.2)
    assert walk["backward"].startswith("Backward pass of the loss") and "fc1.weight" in walk["backward"]
    with pytest.raises(SettingsError, match="layer=3 is not a hidden layer"):
        session.neuron(3, 0, 0, 0)
    with pytest.raises(SettingsError, match="unit=4 is out of range: layer 1 has 3 units"):
        session.neuron(1, 4, 0, 0)
    with pytest.raises(SettingsError, match="step count must be a whole number from 1 to 1000"):
        session.control("step", 10 ** 6)
    with pytest.raises(SettingsError, match="unknown action 'fly'"):
        session.control("fly")


def test_a_diverging_model_pauses_with_a_message():
    session = PlaygroundSession({"lr": 10.0, "optimizer": "momentum", "activation": "elu", "hidden": [32, 32, 32]})
    session.control("step", 300)
    assert "FloatingPointError: the loss is not finite: the learning rate is too large" in session.error
    assert session.steps < 300 and not session.running and session.snapshot()["error"] == session.error
    from deepdive.playground.server import _dumps
    assert "NaN" not in _dumps(session.snapshot())                # the page's JSON.parse accepts the frame


# ----------------------------------------------------------------------------- the server over HTTP
@pytest.fixture
def server():
    srv = playground.serve(open_browser=False, block=False, settings={"hidden": [4]})
    yield srv
    srv.stop()


def _request(url, body=None, raw=None, method=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_server_answers_bad_requests_clearly_and_keeps_serving(server):
    url = server.url
    assert url.startswith("http://127.0.0.1:")
    status, body = _request(url + "api/settings", {"hidden": [100000]})
    assert status == 400 and "hidden[0]=100000 is outside its limits" in json.loads(body)["error"]
    status, body = _request(url + "api/settings", {"colour": "red"})
    assert status == 400 and "unknown parameter 'colour'" in json.loads(body)["error"]
    status, body = _request(url + "api/settings", raw=b"{not json")
    assert status == 400 and "not JSON" in json.loads(body)["error"]
    status, body = _request(url + "api/settings", raw=b"[1, 2]")
    assert status == 400 and "must be a JSON object" in json.loads(body)["error"]
    status, body = _request(url + "api/control", raw=json.dumps({"action": "step", "pad": "x" * 20000}).encode())
    assert status == 413 and "at most 16384" in json.loads(body)["error"]
    status, body = _request(url + "api/control", {"action": "step", "count": 10 ** 9})
    assert status == 400 and "from 1 to 1000" in json.loads(body)["error"]
    status, body = _request(url + "api/explain", {"x": "left", "y": 0})
    assert status == 400 and "x must be a number" in json.loads(body)["error"]
    status, body = _request(url + "static/../../etc/passwd")
    assert status == 404
    status, body = _request(url + "api/nothing", {})
    assert status == 404 and "no endpoint" in json.loads(body)["error"]
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as s:   # not HTTP at all
        s.sendall(b"\x16\x03\x01 garbage\r\n\r\n")
        s.recv(1024)
    status, body = _request(url + "api/control", {"action": "step", "count": 3})     # still serving
    assert status == 200 and json.loads(body)["steps"] == 3
    status, body = _request(url + "api/settings", {"activation": "relu"})
    assert status == 200 and json.loads(body)["settings"]["activation"] == "relu"
    snap = json.loads(_request(url + "api/state")[1])
    assert snap["steps"] == 0 and "ReLU" in snap["architecture"]        # rebuilt from the seed
    status, code = _request(url + "api/code")
    assert status == 200 and b"nn.ReLU()" in code and b"steps, step = 0, 0" in code
    for name in ("", "static/app.js", "static/style.css"):
        assert _request(url + name)[0] == 200


def _read_events(url, n_frames, hold=None):
    """Open /events like a tab; return the first n_frames frames (a tab closed abruptly when hold is None)."""
    with urllib.request.urlopen(url + "events", timeout=10) as r:
        frames, event = [], None
        while len(frames) < n_frames:
            line = r.readline().decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: ") and event == "frame":
                frames.append(json.loads(line[6:]))
        if hold is not None:
            hold.wait(10)
    return frames


def test_two_tabs_see_training_live_and_a_closed_tab_is_dropped(server):
    url = server.url
    before = threading.active_count()
    hold, results = threading.Event(), {}
    second = threading.Thread(target=lambda: results.update(b=_read_events(url, 3, hold)))
    second.start()
    _request(url + "api/control", {"action": "play"})
    results["a"] = _read_events(url, 3)                  # the first tab, closed as soon as it has read 3 frames
    steps = [f["steps"] for f in results["a"]]
    assert steps == sorted(steps) and steps[-1] > steps[0]      # frames arrive while training runs
    hold.set()
    second.join(10)
    assert len(results["b"]) == 3
    _request(url + "api/control", {"action": "pause"})
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:    # both connections' threads end
        time.sleep(0.05)
    assert threading.active_count() <= before
    assert _request(url + "api/state")[0] == 200


def test_watch_your_own_model_on_higher_dimensional_data():
    deepdive.manual_seed(0)
    X = deepdive.randn(200, 5)
    y = (X[:, 0] * X[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    page = playground.watch(model, (X[:150], y[:150]), (X[150:], y[150:]),
                            optimizer=optim.Adam(model.parameters(), lr=0.01), open_browser=False, block=False,
                            play=False)
    try:
        page.session.control("step", 60)
        snap = json.loads(_request(page.url + "api/state")[1])
        assert snap["mode"] == "watch" and "boundary" not in snap       # 5 inputs: no plane to draw
        assert snap["history"]["loss"][-1] < snap["history"]["loss"][0]
        assert set(snap["grad_flow"]) == {"0.weight", "2.weight"}
        assert [s["type"] for s in snap["activations"]] == ["Linear", "ReLU", "Linear"]
        status, body = _request(page.url + "api/settings", {"lr": 0.1})
        assert status == 400 and "watch() trains your own model" in json.loads(body)["error"]
        assert _request(page.url + "api/code")[0] == 400
        status, body = _request(page.url + "api/explain", {"x": 0, "y": 0})
        assert status == 400 and "this model's input has shape [5]" in json.loads(body)["error"]
    finally:
        page.stop()
    two_d = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    moons = deepdive.datasets.make_moons(100)
    page = playground.watch(two_d, moons, open_browser=False, block=False)
    try:
        time.sleep(0.3)
        snap = page.session.snapshot()
        assert snap["running"] and snap["boundary"]["classes"] == 2 and "val_loss" not in snap
    finally:
        page.stop()
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        playground.watch(lambda x: x, moons, open_browser=False, block=False)


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_command_serves_and_stopping_it_leaves_nothing_behind(stop):
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-m", "deepdive", "playground", "--no-browser", "--seed", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("deepdive playground: http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[2]
        assert json.loads(_request(url + "api/settings")[1])["settings"]["seed"] == 2
        _request(url + "api/control", {"action": "play"})
        with urllib.request.urlopen(url + "events", timeout=10) as r:    # a tab still open when it stops
            r.readline()
            proc.send_signal(stop)
            assert proc.wait(10) == 0
        assert _children(proc.pid) == []
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_command_refuses_a_bad_port_and_seed():
    env = {**os.environ, "PYTHONPATH": SRC}
    for args, message in ((["--port", "70000"], "port must be 0"), (["--seed", "-1"], "seed=-1 is outside")):
        r = subprocess.run([sys.executable, "-m", "deepdive", "playground", "--no-browser", *args],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 1 and message in r.stderr, r.stderr
